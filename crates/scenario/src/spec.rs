//! The typed scenario: what a YAML file means once read and checked (the reading is in
//! `read/`).

use crate::diag::Reporter;
use crate::dist::NumDist;
use crate::yaml::Node;
use tsim_model::metrics::Price;

/// One scenario: a named, weighted generator of traces of one shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Unique name, used by `--name`.
    pub name: String,
    /// What was accepted but is worth saying, located (a duplicate key); `--strict` refuses
    /// a scenario with any.
    pub warnings: Vec<crate::Diagnostic>,
    /// Free text.
    pub description: String,
    /// Labels shown by `list`.
    pub tags: Vec<String>,
    /// The system the scenario simulates (`list` groups by it).
    pub system: String,
    /// Default number of traces for `scenario` when `--count` is not given.
    pub repeat_count: Option<u64>,
    /// Default milliseconds between trace starts when neither `--interval` nor `--rate` is given.
    pub interval_ms: Option<f64>,
    /// Whether metrics are derived from this scenario's spans.
    pub emit_metrics: bool,
    /// Whether logs are emitted for this scenario's spans.
    pub emit_logs: bool,
    /// Relative share of this scenario in a mixed `run`.
    pub weight: f64,
    /// Resource attributes added to every trace of this scenario.
    pub resource: Vec<(String, Literal)>,
    /// Token prices by model (USD per million input / output tokens) for the cost metrics.
    pub pricing: Vec<Price>,
    /// Metrics declared by the scenario.
    pub metrics: Vec<MetricSpec>,
    /// Exact-count (or weighted) variants of the trace shape.
    pub variants: Vec<VariantSpec>,
    /// Attributes sampled once per trace and put on every span and log record of it
    /// (run, session, workflow and correlation ids).
    pub trace_attributes: Vec<(String, AttrSpec)>,
    /// The most spans one trace may have (`max_spans_per_trace`); the tree's worst case
    /// is checked against it when the file is read.
    pub max_spans: u64,
    /// Incidents written in the scenario (they act on its own traces unless they name
    /// `scenarios`).
    pub incidents: Vec<crate::IncidentSpec>,
    /// The root span.
    pub root: SpanSpec,
    /// Where it came from: a path, or `builtin:<name>`.
    pub source: String,
}

/// A span node of the trace tree.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanSpec {
    /// The span type (e.g. `vendor.llm.call`, after prefix normalization).
    pub span_type: String,
    /// Span name; defaults to the type.
    pub name: Option<String>,
    /// Span kind; the root defaults to server, others to internal.
    pub kind: Option<SpanKind>,
    /// Own duration in milliseconds. Absent: as long as the children need.
    pub latency: Option<NumDist>,
    /// How it fails.
    pub error: ErrorSpec,
    /// Attributes, in declaration order.
    pub attributes: Vec<(String, AttrSpec)>,
    /// Child nodes.
    pub children: Vec<SpanSpec>,
    /// Children run one after another or all at once.
    pub mode: Mode,
    /// Chance this node is present at all.
    pub probability: f64,
    /// How many copies of this node.
    pub count: CountSpec,
    /// Retry behaviour: each attempt becomes a `<type>.attempt` child span.
    pub retry: Option<RetrySpec>,
    /// Span events.
    pub events: Vec<EventSpec>,
    /// Log records emitted for this span.
    pub logs: Vec<LogSpec>,
    /// A policy decision this span makes.
    pub decision: Option<DecisionSpec>,
    /// An artifact (a file the span wrote) reported to the artifact-diff log.
    pub artifact: Option<ArtifactSpec>,
    /// The semantic-convention group (e.g. `span.gen_ai.inference.client`) this span follows.
    pub semconv: Option<String>,
    /// (line, column) of each attribute's key, in the order of `attributes`.
    pub attr_pos: Vec<(u32, u32)>,
    /// Line of this node in its file.
    pub line: u32,
}

/// An artifact a span produced (the paper-writing workflow's spec artifact diff tracking).
#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactSpec {
    /// Artifact type (`section_draft`, `outline`, …).
    pub artifact_type: String,
    /// Path, a template over the span's attributes and built-ins.
    pub path: Vec<TemplatePart>,
    /// Lines added.
    pub added_lines: NumDist,
    /// Lines removed.
    pub removed_lines: NumDist,
    /// Sections one of which (or two) a diff changes.
    pub changed_sections: Vec<String>,
    /// Weighted review statuses among `pending`, `approved`, `rejected`.
    pub review: Vec<(String, f64)>,
    /// Chance the span produces the artifact.
    pub probability: f64,
}

/// Review statuses of an artifact diff.
pub const REVIEW_STATUSES: &[&str] = &["pending", "approved", "rejected"];

/// OpenTelemetry span kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// Internal operation.
    Internal,
    /// Handles a remote request.
    Server,
    /// Makes a remote request.
    Client,
    /// Sends a message.
    Producer,
    /// Receives a message.
    Consumer,
}

/// How children are laid out in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// One after another.
    #[default]
    Sequential,
    /// All start together.
    Parallel,
}

/// How many copies of a node a trace has.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // each variant's doc names its fields
pub enum CountSpec {
    /// Exactly n.
    Fixed(u64),
    /// Uniform in `[min, max]`.
    Uniform { min: u64, max: u64 },
    /// Poisson with mean `lambda`, clamped to `[min, max]`.
    Poisson { lambda: f64, min: u64, max: u64 },
}

/// Failure behaviour of a node.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ErrorSpec {
    /// Chance the node fails on its own.
    pub rate: f64,
    /// Weighted error types (`error.type`); empty means `_OTHER`.
    pub types: Vec<(String, f64)>,
    /// Chance the node fails when its parent failed.
    pub from_parent: f64,
    /// Chance the node fails when an earlier sibling failed.
    pub cascade_to_siblings: f64,
    /// Chance the node fails when one of its children failed (taking the child's error
    /// type and exception, as an exception bubbling up).
    pub from_child: f64,
    /// Attributes added only when the span fails (templates may use `{error_type}`).
    pub attributes: Vec<(String, AttrSpec)>,
    /// Per error type: the exception type and message of the `exception` event.
    pub exceptions: Vec<(String, String, Option<String>)>,
    /// The error types a `retry:` block retries; a failed attempt of another type ends the
    /// retries (the span fails at once). `None`: [`DEFAULT_RETRYABLE`].
    pub retryable_types: Option<Vec<String>>,
}

/// The error types retried when `retryable_types` is not given: those the Python
/// telemetry-simulator 1.x retries by default, and `_OTHER` (an error of no declared type).
pub const DEFAULT_RETRYABLE: &[&str] = &["timeout", "upstream_5xx", "rate_limit", "_OTHER"];

/// Retry behaviour of a node.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrySpec {
    /// Off means a single attempt span.
    pub enabled: bool,
    /// Most attempts made.
    pub max_attempts: u32,
    /// The first attempt always fails.
    pub force_initial_failure: bool,
    /// Wait before the first retry, ms.
    pub backoff_base_ms: f64,
    /// Growth factor of the wait per retry.
    pub backoff_multiplier: f64,
    /// Relative jitter of each wait (0.2 = ±20 %).
    pub backoff_jitter: f64,
    /// Chance attempt k succeeds (the last value repeats); empty: `1 - error.rate`.
    pub success_rate_per_attempt: Vec<f64>,
}

/// A span event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSpec {
    /// Event name.
    pub name: String,
    /// Chance the event is present.
    pub probability: f64,
    /// Position in the span, 0 (start) to 1 (end); absent: random.
    pub at: Option<f64>,
    /// Attributes.
    pub attributes: Vec<(String, AttrSpec)>,
}

/// When a log record is emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOn {
    /// At the span's start.
    Start,
    /// At the span's end.
    End,
    /// At the span's end, only when it failed.
    Error,
}

/// A log record declared on a span node.
#[derive(Debug, Clone, PartialEq)]
pub struct LogSpec {
    /// When.
    pub on: LogOn,
    /// OTLP severity number and text (e.g. 9, `INFO`).
    pub severity: (u8, &'static str),
    /// Message with `{placeholders}`: the span's attributes, `error.type`, and the built-ins
    /// of [`TEMPLATE_BUILTINS`] and [`LOG_BUILTINS`].
    pub message: Vec<TemplatePart>,
    /// Logger name.
    pub logger: Option<String>,
    /// Chance the record is emitted.
    pub probability: f64,
    /// Attributes of the record.
    pub attributes: Vec<(String, AttrSpec)>,
}

/// A policy decision made by a span (the TaskPilot guide's decision log).
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionSpec {
    /// `tool_call`, `opa`, `guardrails` or `human_review`.
    pub decision_type: String,
    /// Weighted results among `allow`, `deny`, `requires_approval`.
    pub results: Vec<(String, f64)>,
    /// Policy name (OPA).
    pub policy_name: Option<String>,
    /// Reason per result (a result without one gets a generic reason).
    pub reasons: Vec<(String, String)>,
    /// Tool name; default: the span's `gen_ai.tool.name` / `tool_name`.
    pub tool_name: Option<String>,
    /// Agent id; default: the span's (or an ancestor's) `gen_ai.agent.name` / `agent_name`.
    pub agent_id: Option<String>,
    /// Extra context, as a JSON object text.
    pub context_json: Option<String>,
    /// A `deny` fails the span with error type `deny_error`.
    pub deny_fails_span: bool,
    /// Error type of a span failed by a deny (default `policy_violation`).
    pub deny_error: String,
}

/// Decision types of the seed.
pub const DECISION_TYPES: &[&str] = &["tool_call", "opa", "guardrails", "human_review"];
/// Decision results of the seed.
pub const DECISION_RESULTS: &[&str] = &["allow", "deny", "requires_approval"];

/// A variant of a scenario: an exact count (or weight) of its traces, with values for
/// `{var.*}` template references and overrides of matching span nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantSpec {
    /// Name.
    pub name: String,
    /// Traces of this variant at the scenario's `repeat_count` (scaled for other counts).
    pub count: Option<u64>,
    /// Relative share when no count is given (and in mixed runs).
    pub weight: f64,
    /// Values for `{var.NAME}` in templates.
    pub vars: Vec<(String, Literal)>,
    /// Changes to the span nodes whose type matches.
    pub overrides: Vec<OverrideSpec>,
}

/// A change a variant makes to matching span nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct OverrideSpec {
    /// Span-type glob.
    pub span: String,
    /// Replaces the node's error behaviour.
    pub error: Option<ErrorSpec>,
    /// Replaces the node's latency.
    pub latency: Option<NumDist>,
    /// Replaces the node's probability.
    pub probability: Option<f64>,
    /// Attributes added to the node (replacing ones with the same key).
    pub attributes: Vec<(String, AttrSpec)>,
}

/// The kind of a declared metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Monotonic sum.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A distribution of observed values.
    Histogram,
}

/// Which spans drive a counter or histogram.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Binding {
    /// Span-name glob (`*` matches any run of characters); absent: every span.
    pub span: Option<String>,
    /// Only failing (true) or succeeding (false) spans.
    pub error: Option<bool>,
    /// Only spans with these attribute values.
    pub attributes: Vec<(String, String)>,
    /// Only spans whose policy decision had this result.
    pub decision: Option<String>,
}

/// What a counter adds or a histogram observes per matching span.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricValue {
    /// A constant (counters: 1 by default).
    Constant(f64),
    /// The span's duration in seconds (histograms by default).
    DurationSeconds,
    /// The span's duration in milliseconds.
    DurationMs,
    /// A numeric attribute of the span (spans without it are skipped).
    Attribute(String),
    /// The span's model cost in USD: its tokens × the price of its model.
    Cost,
    /// The span's tokens (`gen_ai.usage.input_tokens` + `output_tokens`).
    Tokens,
}

/// How a gauge moves, in simulated time.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // each variant's doc names its fields
pub enum Process {
    /// Always this value.
    Constant(f64),
    /// A seeded random walk: `start`, then ± up to `step` per export, kept in `[min, max]`.
    RandomWalk { start: f64, step: f64, min: f64, max: f64 },
    /// `min`..`max` along a sine of `period_s` seconds (a diurnal curve with 86400).
    Sine { min: f64, max: f64, period_s: f64 },
    /// The number of spans matching the glob in flight at the export time.
    InFlight { span: String },
    /// 1 (up) with chance `availability` at each export, else 0: a health check.
    Up { availability: f64 },
    /// A statistic of the values the metric's `on:`/`value:` observed so far.
    Stat(Stat),
}

/// A statistic over observed values (a gauge's `process: {kind: quantile | max | …}`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stat {
    /// The q-quantile (0..1), interpolated between the closest ranks.
    Quantile(f64),
    /// Largest value.
    Max,
    /// Smallest value.
    Min,
    /// Arithmetic mean.
    Mean,
    /// The latest value.
    Last,
}

/// A metric declared by a scenario (the paper-writing workflow's spec analytics schema, bound to spans).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSpec {
    /// Metric name (used as written: `agent_runs_total` stays `agent_runs_total`).
    pub name: String,
    /// Kind.
    pub kind: MetricKind,
    /// Description.
    pub description: String,
    /// Unit (UCUM), optional.
    pub unit: String,
    /// Label names, in order.
    pub labels: Vec<String>,
    /// Explicit label values (templates over the span's attributes and built-ins).
    pub label_values: Vec<(String, Vec<TemplatePart>)>,
    /// Histogram bucket bounds.
    pub buckets: Vec<f64>,
    /// What drives a counter or histogram.
    pub on: Binding,
    /// Value per matching span.
    pub value: MetricValue,
    /// Gauge process.
    pub process: Option<Process>,
    /// A gauge's series: one label-value set each, each following its own copy of the
    /// process (empty: one series with `label_values`).
    pub series: Vec<Vec<(String, String)>>,
}

/// Attributes in declaration order.
pub(crate) type Attributes = Vec<(String, AttrSpec)>;

/// Gauge process kinds.
pub const PROCESS_KINDS: &[&str] =
    &["constant", "random_walk", "sine", "in_flight", "up", "quantile", "max", "min", "mean", "last"];

/// Extra names a log message can reference.
pub const LOG_BUILTINS: &[&str] = &["duration_ms", "span_name", "status", "error_type"];

/// Names known only when a span ends (a log `on: start` cannot use them).
pub const END_ONLY: &[&str] = &["duration_ms", "status", "success", "error_type", "error.type"];

/// Severity levels accepted in `level:`: (name, number, text).
pub const LEVELS: &[(&str, u8, &str)] = &[
    ("trace", 1, "TRACE"),
    ("debug", 5, "DEBUG"),
    ("info", 9, "INFO"),
    ("warn", 13, "WARN"),
    ("warning", 13, "WARN"),
    ("error", 17, "ERROR"),
    ("fatal", 21, "FATAL"),
    ("critical", 21, "FATAL"),
];

/// Reads a severity `level:` as (OTLP severity number, text).
pub(crate) fn level(rep: &mut Reporter<'_>, n: &Node) -> Option<(u8, &'static str)> {
    let names: Vec<&str> = LEVELS.iter().map(|(n, _, _)| *n).collect();
    let c = rep.choice(n, "level", &names)?;
    LEVELS.iter().find(|(k, _, _)| *k == c).map(|(_, number, text)| (*number, *text))
}

/// A literal attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// String.
    Str(String),
    /// 64-bit integer.
    Int(i64),
    /// Double.
    Double(f64),
    /// Boolean.
    Bool(bool),
}

/// The text of a literal, as a template inserts it (`gpt-4o`, `3`, `0.1`, `true`).
impl std::fmt::Display for Literal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Literal::Str(s) => f.write_str(s),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Double(d) => write!(f, "{d}"),
            Literal::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// The type a numeric attribute is emitted as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumType {
    /// Rounded to the nearest integer.
    Int,
    /// As sampled.
    Double,
    /// Formatted as a string.
    Str,
}

/// How an attribute value is produced.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // each variant's doc names its fields
pub enum AttrSpec {
    /// Always this value.
    Literal(Literal),
    /// Sampled from a numeric distribution.
    Number { dist: NumDist, as_type: NumType },
    /// Weighted choice among values.
    Categorical(Vec<(Literal, f64)>),
    /// A random UUID (v4 layout) from the seeded generator.
    Uuid,
    /// `start + step × trace index`.
    Sequence { start: i64, step: i64 },
    /// Text with `{placeholders}` for earlier attributes of the span and built-ins.
    Template(Vec<TemplatePart>),
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq)]
pub enum TemplatePart {
    /// Literal text.
    Text(String),
    /// A reference to an attribute declared earlier on the same span, or a built-in.
    Ref(String),
}

/// Names a template can reference besides earlier attributes of the same span.
pub const TEMPLATE_BUILTINS: &[&str] = &[
    "trace_id",
    "trace_uuid",
    "span_id",
    "parent_span_id",
    "trace_index",
    "copy_index",
    "attempt",
    "scenario",
    "tenant",
    "uuid",
    "duration_ms",
    "success",
    "error_type",
];

/// Rewrites a leading `vendor.` to `<prefix>.`.
pub fn normalize_prefix(s: &str, prefix: &str) -> String {
    match s.strip_prefix("vendor.") {
        Some(rest) if prefix != "vendor" => format!("{prefix}.{rest}"),
        _ => s.to_string(),
    }
}

/// Splits a template already checked by the loader into text and `{references}`
/// (`{{` and `}}` are literal braces; an unclosed `{` is kept as text).
pub fn parse_template(text: &str) -> Vec<TemplatePart> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(['{', '}']) {
        lit.push_str(&rest[..i]);
        let (c, after) = (rest.as_bytes()[i], &rest[i + 1..]);
        if after.as_bytes().first() == Some(&c) {
            lit.push(c as char);
            rest = &after[1..];
        } else if c == b'{'
            && let Some(j) = after.find('}')
        {
            if !lit.is_empty() {
                parts.push(TemplatePart::Text(std::mem::take(&mut lit)));
            }
            parts.push(TemplatePart::Ref(after[..j].trim().to_string()));
            rest = &after[j + 1..];
        } else {
            lit.push(c as char);
            rest = after;
        }
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        parts.push(TemplatePart::Text(lit));
    }
    parts
}
