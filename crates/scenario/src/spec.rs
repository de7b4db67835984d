//! The typed scenario: what a YAML file means once read and checked.

use crate::budget;
use crate::convert::{Fields, describe};
use crate::diag::Reporter;
use crate::dist::{self, NumDist, Use};
use crate::yaml::{Node, Value};

/// One scenario: a named, weighted generator of traces of one shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Unique name, used by `--name`.
    pub name: String,
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
    pub pricing: Vec<(String, f64, f64)>,
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
}

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
type Attributes = Vec<(String, AttrSpec)>;

/// Gauge process kinds.
pub const PROCESS_KINDS: &[&str] =
    &["constant", "random_walk", "sine", "in_flight", "up", "quantile", "max", "min", "mean", "last"];

/// Extra names a log message can reference.
pub const LOG_BUILTINS: &[&str] = &["duration_ms", "span_name", "status", "error_type"];

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

const TOP_KEYS: &[&str] = &[
    "name",
    "system",
    "description",
    "tags",
    "repeat_count",
    "interval_ms",
    "emit_metrics",
    "emit_logs",
    "root",
    "weight",
    "resource",
    "pricing",
    "metrics",
    "variants",
    "trace_attributes",
    "max_spans_per_trace",
];

const NODE_KEYS: &[&str] = &[
    "type",
    "name",
    "kind",
    "latency",
    "error",
    "attributes",
    "children",
    "mode",
    "probability",
    "count",
    "retry",
    "events",
    "logs",
    "decision",
    "artifact",
    "semconv",
];

/// Rewrites a leading `vendor.` to `<prefix>.`.
pub fn normalize_prefix(s: &str, prefix: &str) -> String {
    match s.strip_prefix("vendor.") {
        Some(rest) if prefix != "vendor" => format!("{prefix}.{rest}"),
        _ => s.to_string(),
    }
}

pub(crate) struct Reader<'r, 'a> {
    pub rep: &'r mut Reporter<'a>,
    pub prefix: &'r str,
    /// Keys of the scenario's trace attributes (templates anywhere may use them).
    pub trace_keys: Vec<String>,
}

impl Reader<'_, '_> {
    pub fn scenario(&mut self, node: &Node, source: &str) -> Option<Scenario> {
        let f = self.rep.fields(node, "scenario", TOP_KEYS)?;
        let name = match f.get("name") {
            Some(n) => self.rep.string(n, "name"),
            None => {
                self.rep.error(node.line, node.col, "scenario needs a `name`", None);
                None
            }
        };
        if let (Some(n), Some(name)) = (f.get("name"), &name)
            && (name.is_empty() || name.chars().any(char::is_whitespace))
        {
            self.rep.error(n.line, n.col, "name must be non-empty and without spaces", None);
        }
        let system = f.get("system").and_then(|n| self.rep.string(n, "system")).unwrap_or_else(|| "custom".into());
        let description = f.get("description").and_then(|n| self.rep.string(n, "description")).unwrap_or_default();
        let tags = match f.get("tags") {
            Some(n) => self
                .rep
                .list(n, "tags")
                .map(|l| l.iter().filter_map(|t| self.rep.string(t, "tag")).collect())
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let repeat_count = f.get("repeat_count").and_then(|n| self.rep.count(n, "repeat_count"));
        let interval_ms =
            f.get("interval_ms").and_then(|n| self.rep.number_where(n, "interval_ms", ">= 0", |v| v >= 0.0));
        let emit_metrics = f.get("emit_metrics").and_then(|n| self.rep.boolean(n, "emit_metrics")).unwrap_or(true);
        let emit_logs = f.get("emit_logs").and_then(|n| self.rep.boolean(n, "emit_logs")).unwrap_or(true);
        let weight =
            f.get("weight").and_then(|n| self.rep.number_where(n, "weight", ">= 0", |v| v >= 0.0)).unwrap_or(1.0);
        let resource = match f.get("resource") {
            Some(n) => self.literal_map(n, "resource"),
            None => Vec::new(),
        };
        let pricing = match f.get("pricing") {
            Some(n) => self.pricing(n),
            None => Vec::new(),
        };
        let variants = match f.get("variants") {
            Some(n) => self.variants(n),
            None => Vec::new(),
        };
        let metrics = match f.get("metrics") {
            Some(n) => self.metrics(n),
            None => Vec::new(),
        };
        let trace_attributes = match f.get("trace_attributes") {
            Some(n) => self.attributes(n),
            None => Vec::new(),
        };
        self.trace_keys = trace_attributes.iter().map(|(k, _)| k.clone()).collect();
        let root = match f.get("root") {
            Some(n) => self.span(n, true),
            None => {
                self.rep.error(node.line, node.col, "scenario needs a `root` span", None);
                None
            }
        };
        let max_spans = match f.get("max_spans_per_trace") {
            Some(n) => match self.rep.count(n, "max_spans_per_trace") {
                Some(v) if (1..=budget::MAX_SPANS_LIMIT).contains(&v) => v,
                Some(v) => {
                    self.rep.error(
                        n.line,
                        n.col,
                        format!("max_spans_per_trace must be between 1 and {}, found {v}", budget::MAX_SPANS_LIMIT),
                        None,
                    );
                    budget::DEFAULT_MAX_SPANS
                }
                None => budget::DEFAULT_MAX_SPANS,
            },
            None => budget::DEFAULT_MAX_SPANS,
        };
        if let Some(root) = &root {
            self.check_budget(root, max_spans);
        }
        Some(Scenario {
            name: name?,
            description,
            tags,
            system,
            repeat_count,
            interval_ms,
            emit_metrics,
            emit_logs,
            weight,
            resource,
            pricing,
            metrics,
            variants,
            trace_attributes,
            max_spans,
            root: root?,
            source: source.to_string(),
        })
    }

    /// The tree's worst case against the span budget: an error at the node that multiplies
    /// most, naming every node that does.
    fn check_budget(&mut self, root: &SpanSpec, max_spans: u64) {
        let worst = budget::worst_case(root);
        if worst <= u128::from(max_spans) {
            return;
        }
        let top = budget::multipliers(root, 5);
        let line = top.first().map_or(root.line, |m| m.line);
        let col = self.rep.src.lines().nth(line.saturating_sub(1) as usize).map_or(1, |l| {
            let indent = l.len() - l.trim_start().len();
            let dash = if l.trim_start().starts_with("- ") { 2 } else { 0 };
            (indent + dash + 1) as u32
        });
        let worst = if worst >= u128::from(u64::MAX) { "over 10^19".to_string() } else { worst.to_string() };
        let nodes: Vec<String> =
            top.iter().map(|m| format!("`{}` (line {}): {}", m.span_type, m.line, m.what)).collect();
        self.rep.error(
            line,
            col,
            format!(
                "a trace may have up to {worst} spans, over the budget of {max_spans} (max_spans_per_trace); \
                 the spans multiply at {}",
                nodes.join(", ")
            ),
            Some(format!(
                "lower these counts or attempts, or raise max_spans_per_trace (at most {})",
                budget::MAX_SPANS_LIMIT
            )),
        );
    }

    fn variants(&mut self, node: &Node) -> Vec<VariantSpec> {
        let Some(list) = self.rep.list(node, "variants") else { return Vec::new() };
        let mut out: Vec<VariantSpec> = Vec::new();
        for v in list {
            let Some(f) = self.rep.fields(v, "variant", &["name", "count", "weight", "vars", "overrides"]) else {
                continue;
            };
            let Some(name) = f.get("name").and_then(|n| self.rep.string(n, "name")) else {
                self.rep.error(v.line, v.col, "variant needs a `name`", None);
                continue;
            };
            if out.iter().any(|o| o.name == name) {
                self.rep.error(v.line, v.col, format!("variant `{name}` is declared twice"), None);
                continue;
            }
            let count = f.get("count").and_then(|n| self.rep.count(n, "count"));
            let weight = match (f.get("weight"), count) {
                (Some(n), _) => self.rep.number_where(n, "weight", ">= 0", |w| w >= 0.0).unwrap_or(0.0),
                (None, Some(c)) => c as f64,
                (None, None) => 1.0,
            };
            let vars = match f.get("vars") {
                Some(n) => self.literal_map(n, "vars"),
                None => Vec::new(),
            };
            let mut overrides = Vec::new();
            if let Some(n) = f.get("overrides")
                && let Some(items) = self.rep.list(n, "overrides")
            {
                for o in items {
                    let Some(of) =
                        self.rep.fields(o, "override", &["span", "error", "latency", "probability", "attributes"])
                    else {
                        continue;
                    };
                    let Some(span) = of.get("span").and_then(|n| self.rep.string(n, "span")) else {
                        self.rep.error(o.line, o.col, "override needs `span` (a span-type glob)", None);
                        continue;
                    };
                    overrides.push(OverrideSpec {
                        span: normalize_prefix(&span, self.prefix),
                        error: of.get("error").map(|n| self.error_spec(n)),
                        latency: of.get("latency").and_then(|n| dist::parse(self.rep, n, "latency", Use::Latency)),
                        probability: of.get("probability").and_then(|n| self.rep.probability(n, "probability")),
                        attributes: of.get("attributes").map(|n| self.attributes(n)).unwrap_or_default(),
                    });
                }
            }
            out.push(VariantSpec { name, count, weight, vars, overrides });
        }
        if !out.is_empty() && out.iter().map(|v| v.weight).sum::<f64>() <= 0.0 {
            self.rep.error(node.line, node.col, "variants need a positive total count or weight", None);
        }
        out
    }

    fn metrics(&mut self, node: &Node) -> Vec<MetricSpec> {
        let Some(f) = self.rep.fields(node, "metrics", &["counters", "gauges", "histograms", "collection"]) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, kind) in
            [("counters", MetricKind::Counter), ("gauges", MetricKind::Gauge), ("histograms", MetricKind::Histogram)]
        {
            let Some(group) = f.get(key) else { continue };
            let Some(entries) = group.as_map() else {
                self.rep.error(group.line, group.col, format!("{key} must be a mapping of name: definition"), None);
                continue;
            };
            for (k, v) in entries {
                let Some(name) = self.rep.string(k, "metric name") else { continue };
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "_.:".contains(c)) {
                    self.rep.error(
                        k.line,
                        k.col,
                        format!("metric name `{name}` may hold only letters, digits, `_`, `.` and `:`"),
                        None,
                    );
                    continue;
                }
                if let Some(m) = self.metric(v, name, kind) {
                    out.push(m);
                }
            }
        }
        out
    }

    fn metric(&mut self, node: &Node, name: String, kind: MetricKind) -> Option<MetricSpec> {
        let mut allowed = vec!["description", "unit", "labels", "label_values"];
        match kind {
            MetricKind::Gauge => allowed.extend(["process", "series", "on", "value"]),
            MetricKind::Counter => allowed.extend(["on", "value"]),
            MetricKind::Histogram => allowed.extend(["on", "value", "buckets"]),
        }
        let f = self.rep.fields(node, "metric", &allowed)?;
        let text = |r: &mut Self, k: &str| f.get(k).and_then(|n| r.rep.string(n, k)).unwrap_or_default();
        let mut description = text(self, "description");
        if description.is_empty() {
            // Prometheus tooling wants help text.
            description = format!("{name}, declared by the scenario.");
        }
        let unit = text(self, "unit");
        let labels: Vec<String> = match f.get("labels") {
            Some(n) => self
                .rep
                .list(n, "labels")
                .map(|l| l.iter().filter_map(|x| self.rep.string(x, "label")).collect())
                .unwrap_or_default(),
            None => Vec::new(),
        };
        for l in &labels {
            if l.is_empty() || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || l.starts_with("__") {
                self.rep.error(
                    node.line,
                    node.col,
                    format!("label `{l}` must be letters, digits and `_` (not starting with `__`)"),
                    None,
                );
                return None;
            }
        }
        let mut label_values = Vec::new();
        if let Some(lv) = f.get("label_values")
            && let Some(entries) = lv.as_map()
        {
            for (k, v) in entries {
                let Some(label) = self.rep.string(k, "label") else { continue };
                if !labels.contains(&label) {
                    self.rep.error(
                        k.line,
                        k.col,
                        format!("`{label}` is not among this metric's labels"),
                        Some(format!("labels: {}", labels.join(", "))),
                    );
                    continue;
                }
                let t = match &v.value {
                    Value::Str(s) => s.clone(),
                    _ => crate::convert::describe(v).trim_matches('"').to_string(),
                };
                // Any span attribute may be referenced: they are only known per span.
                if let Some(parts) = self.template_open(v, &t) {
                    label_values.push((label, parts));
                }
            }
        }
        let buckets = match f.get("buckets") {
            Some(n) => {
                let b: Vec<f64> = self
                    .rep
                    .list(n, "buckets")
                    .map(|l| l.iter().filter_map(|x| self.rep.number(x, "bucket")).collect())
                    .unwrap_or_default();
                if b.is_empty() || b.windows(2).any(|w| w[0] >= w[1]) {
                    self.rep.error(n.line, n.col, "buckets must be a non-empty list of increasing numbers", None);
                    return None;
                }
                b
            }
            None if kind == MetricKind::Histogram => {
                vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]
            }
            None => Vec::new(),
        };
        let on = match f.get("on") {
            Some(n) => self.binding(n)?,
            None => Binding::default(),
        };
        let value = match f.get("value") {
            Some(n) => match &n.value {
                Value::Int(_) | Value::Float(_) => MetricValue::Constant(self.rep.number(n, "value")?),
                Value::Str(s) if s == "duration" || s == "duration_seconds" => MetricValue::DurationSeconds,
                Value::Str(s) if s == "duration_ms" => MetricValue::DurationMs,
                Value::Str(s) if s == "cost" => MetricValue::Cost,
                Value::Str(s) if s == "tokens" => MetricValue::Tokens,
                Value::Map(_) => {
                    let vf = self.rep.fields(n, "value", &["attribute"])?;
                    let a = vf.get("attribute").and_then(|a| self.rep.string(a, "attribute"))?;
                    MetricValue::Attribute(normalize_prefix(&a, self.prefix))
                }
                _ => {
                    self.rep.error(
                        n.line,
                        n.col,
                        "value is a number, `duration`, `duration_ms`, `cost`, `tokens` or {attribute: key}",
                        None,
                    );
                    return None;
                }
            },
            None if kind == MetricKind::Counter => MetricValue::Constant(1.0),
            None => MetricValue::DurationSeconds,
        };
        let process = match (kind, f.get("process")) {
            (MetricKind::Gauge, Some(n)) => Some(self.process(n)?),
            (MetricKind::Gauge, None) => {
                self.rep.error(
                    node.line,
                    node.col,
                    format!("gauge `{name}` needs a `process` ({})", PROCESS_KINDS.join(", ")),
                    None,
                );
                return None;
            }
            _ => None,
        };
        if kind == MetricKind::Gauge
            && !matches!(process, Some(Process::Stat(_)))
            && let Some(n) = f.get("on").or(f.get("value"))
        {
            self.rep.error(
                n.line,
                n.col,
                "`on` and `value` go with a statistic process (quantile, max, min, mean, last)",
                None,
            );
            return None;
        }
        let series = match f.get("series") {
            Some(n) => self.series(n, &labels)?,
            None => Vec::new(),
        };
        Some(MetricSpec { name, kind, description, unit, labels, label_values, buckets, on, value, process, series })
    }

    /// A gauge's `series:`: a list of label → value mappings over the metric's labels.
    fn series(&mut self, node: &Node, labels: &[String]) -> Option<Vec<Vec<(String, String)>>> {
        let list = self.rep.list(node, "series")?;
        let mut out = Vec::new();
        for item in list {
            let Some(entries) = item.as_map() else {
                self.rep.error(item.line, item.col, "each series is a mapping of label: value", None);
                return None;
            };
            let mut set = Vec::new();
            for (k, v) in entries {
                let label = self.rep.string(k, "label")?;
                if !labels.contains(&label) {
                    self.rep.error(
                        k.line,
                        k.col,
                        format!("`{label}` is not among this metric's labels"),
                        Some(format!("labels: {}", labels.join(", "))),
                    );
                    return None;
                }
                let value = match &v.value {
                    Value::Str(s) => s.clone(),
                    _ => describe(v).trim_matches('"').to_string(),
                };
                set.push((label, value));
            }
            out.push(set);
        }
        Some(out)
    }

    fn binding(&mut self, node: &Node) -> Option<Binding> {
        let f = self.rep.fields(node, "on", &["span", "error", "attributes", "decision"])?;
        let span = f.get("span").and_then(|n| self.rep.string(n, "span")).map(|s| normalize_prefix(&s, self.prefix));
        let error = f.get("error").and_then(|n| self.rep.boolean(n, "error"));
        let decision = match f.get("decision") {
            Some(n) => Some(self.rep.choice(n, "decision result", DECISION_RESULTS)?.to_string()),
            None => None,
        };
        let attributes = match f.get("attributes").and_then(|n| n.as_map()) {
            Some(entries) => entries
                .iter()
                .filter_map(|(k, v)| {
                    let key = self.rep.string(k, "attribute")?;
                    let val = match &v.value {
                        Value::Str(s) => s.clone(),
                        _ => crate::convert::describe(v),
                    };
                    Some((normalize_prefix(&key, self.prefix), val))
                })
                .collect(),
            None => Vec::new(),
        };
        Some(Binding { span, error, attributes, decision })
    }

    fn process(&mut self, node: &Node) -> Option<Process> {
        let kind_node = node.get("kind");
        let Some(kn) = kind_node else {
            self.rep.error(node.line, node.col, format!("process needs a `kind` ({})", PROCESS_KINDS.join(", ")), None);
            return None;
        };
        let kind = self.rep.choice(kn, "process kind", PROCESS_KINDS)?;
        let f = self.rep.fields(
            node,
            "process",
            &["kind", "value", "start", "step", "min", "max", "period", "span", "q", "availability"],
        )?;
        let num = |r: &mut Self, k: &str, d: Option<f64>| -> Option<f64> {
            match f.get(k) {
                Some(n) => r.rep.number(n, k),
                None => {
                    if d.is_none() {
                        r.rep.error(node.line, node.col, format!("{kind} process needs `{k}`"), None);
                    }
                    d
                }
            }
        };
        Some(match kind {
            "constant" => Process::Constant(num(self, "value", None)?),
            "random_walk" => {
                let (min, max) = (num(self, "min", Some(0.0))?, num(self, "max", None)?);
                let start = num(self, "start", Some(min))?;
                let step = num(self, "step", Some(1.0))?;
                if min > max || !(min..=max).contains(&start) {
                    self.rep.error(node.line, node.col, "random_walk needs min <= start <= max", None);
                    return None;
                }
                Process::RandomWalk { start, step, min, max }
            }
            "sine" => {
                let (min, max) = (num(self, "min", Some(0.0))?, num(self, "max", None)?);
                let period_s = match f.get("period") {
                    Some(n) => match &n.value {
                        Value::Str(s) => match crate::units::parse_duration_secs(s) {
                            Some(p) if p > 0.0 => p,
                            _ => {
                                self.rep.error(
                                    n.line,
                                    n.col,
                                    format!("period `{s}` is not a duration (30s, 1h, 1d)"),
                                    None,
                                );
                                return None;
                            }
                        },
                        _ => self.rep.number_where(n, "period", "> 0 (seconds)", |p| p > 0.0)?,
                    },
                    None => 86_400.0,
                };
                Process::Sine { min, max, period_s }
            }
            "up" => Process::Up {
                availability: match f.get("availability") {
                    Some(n) => self.rep.probability(n, "availability")?,
                    None => 1.0,
                },
            },
            "quantile" => match f.get("q") {
                Some(n) => Process::Stat(Stat::Quantile(self.rep.probability(n, "q")?)),
                None => {
                    self.rep.error(node.line, node.col, "quantile process needs `q` (0.95 for p95)", None);
                    return None;
                }
            },
            "max" => Process::Stat(Stat::Max),
            "min" => Process::Stat(Stat::Min),
            "mean" => Process::Stat(Stat::Mean),
            "last" => Process::Stat(Stat::Last),
            _ => Process::InFlight {
                span: match f.get("span").and_then(|n| self.rep.string(n, "span")) {
                    Some(s) => normalize_prefix(&s, self.prefix),
                    None => {
                        self.rep.error(node.line, node.col, "in_flight needs `span` (a span-name glob)", None);
                        return None;
                    }
                },
            },
        })
    }

    /// A template whose references are checked later (span attributes are known per span).
    fn template_open(&mut self, node: &Node, text: &str) -> Option<Vec<TemplatePart>> {
        let refs: Vec<String> = {
            let mut v = Vec::new();
            let mut rest = text;
            while let Some(i) = rest.find('{') {
                let after = &rest[i + 1..];
                if let Some(stripped) = after.strip_prefix('{') {
                    rest = stripped;
                    continue;
                }
                match after.find('}') {
                    Some(j) => {
                        v.push(normalize_prefix(after[..j].trim(), self.prefix));
                        rest = &after[j + 1..];
                    }
                    None => break,
                }
            }
            v
        };
        let known: Vec<&str> = refs.iter().map(String::as_str).collect();
        self.template(node, text, &known)
    }

    fn pricing(&mut self, node: &Node) -> Vec<(String, f64, f64)> {
        let Some(entries) = node.as_map() else {
            self.rep.error(
                node.line,
                node.col,
                "pricing must be a mapping of model: {input_per_million, output_per_million}",
                None,
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in entries {
            let Some(model) = self.rep.string(k, "model") else { continue };
            let Some(f) = self.rep.fields(v, "price", &["input_per_million", "output_per_million"]) else { continue };
            let get = |r: &mut Self, key: &str| match f.get(key) {
                Some(n) => r.rep.number_where(n, key, ">= 0", |x| x >= 0.0),
                None => Some(0.0),
            };
            if let (Some(i), Some(o)) = (get(self, "input_per_million"), get(self, "output_per_million")) {
                out.push((model, i, o));
            }
        }
        out
    }

    fn literal_map(&mut self, node: &Node, what: &str) -> Vec<(String, Literal)> {
        let Some(entries) = node.as_map() else {
            self.rep.error(node.line, node.col, format!("{what} must be a mapping"), None);
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in entries {
            let Some(key) = self.rep.string(k, "attribute key") else { continue };
            if let Some(lit) = self.literal(v, &key) {
                out.push((normalize_prefix(&key, self.prefix), lit));
            }
        }
        out
    }

    fn literal(&mut self, node: &Node, key: &str) -> Option<Literal> {
        Some(match &node.value {
            Value::Str(s) => Literal::Str(s.clone()),
            Value::Int(i) => Literal::Int(*i),
            Value::Float(f) => Literal::Double(*f),
            Value::Bool(b) => Literal::Bool(*b),
            other => {
                self.rep.error(
                    node.line,
                    node.col,
                    format!("attribute `{key}` must be a string, number or boolean, found {}", other.type_name()),
                    None,
                );
                return None;
            }
        })
    }

    fn span(&mut self, node: &Node, is_root: bool) -> Option<SpanSpec> {
        let f = self.rep.fields(node, "span", NODE_KEYS)?;
        let span_type = match f.get("type") {
            Some(n) => self.rep.string(n, "type"),
            None => {
                self.rep.error(node.line, node.col, "span needs a `type`", None);
                None
            }
        };
        let name = f.get("name").and_then(|n| self.rep.string(n, "name"));
        if let (Some(n), Some(text)) = (f.get("name"), &name) {
            // Checked for syntax here; references resolve against the span's attributes.
            self.template_open(n, text);
        }
        let kind = f.get("kind").and_then(|n| self.kind(n));
        let latency = f.get("latency").and_then(|n| dist::parse(self.rep, n, "latency", Use::Latency));
        let error = f.get("error").map(|n| self.error_spec(n)).unwrap_or_default();
        let (attributes, attr_pos) = match f.get("attributes") {
            Some(n) => self.attributes_at(n),
            None => (Vec::new(), Vec::new()),
        };
        let mode = match f.get("mode") {
            Some(n) => match self.rep.choice(n, "mode", &["sequential", "parallel"]) {
                Some("parallel") => Mode::Parallel,
                _ => Mode::Sequential,
            },
            None => Mode::Sequential,
        };
        let probability = f.get("probability").and_then(|n| self.rep.probability(n, "probability")).unwrap_or(1.0);
        if is_root && probability < 1.0 {
            self.rep.error(node.line, node.col, "the root span cannot have a probability below 1", None);
        }
        let count = f.get("count").and_then(|n| self.count(n)).unwrap_or(CountSpec::Fixed(1));
        let retry = f.get("retry").and_then(|n| self.retry(n));
        let events = match f.get("events") {
            Some(n) => self.events(n),
            None => Vec::new(),
        };
        let logs = match f.get("logs") {
            Some(n) => self.logs(n, &attributes),
            None => Vec::new(),
        };
        let decision = f.get("decision").and_then(|n| self.decision(n));
        let artifact = f.get("artifact").and_then(|n| self.artifact(n));
        let semconv = f.get("semconv").and_then(|n| self.rep.string(n, "semconv"));
        let children = match f.get("children") {
            Some(n) => match self.rep.list(n, "children") {
                Some(list) => list.iter().filter_map(|c| self.span(c, false)).collect(),
                None => Vec::new(),
            },
            None => Vec::new(),
        };
        let span_type = normalize_prefix(&span_type?, self.prefix);
        Some(SpanSpec {
            span_type,
            name: name.map(|n| normalize_prefix(&n, self.prefix)),
            kind,
            latency,
            error,
            attributes,
            children,
            mode,
            probability,
            count,
            retry,
            events,
            logs,
            decision,
            artifact,
            semconv,
            attr_pos,
            line: node.line,
        })
    }

    fn kind(&mut self, n: &Node) -> Option<SpanKind> {
        let s = n.as_str().unwrap_or_default().to_ascii_lowercase();
        let s = s.strip_prefix("span_kind_").unwrap_or(&s).to_string();
        let fake = Node { line: n.line, col: n.col, value: Value::Str(s) };
        let node = if n.as_str().is_some() { &fake } else { n };
        Some(match self.rep.choice(node, "kind", &["internal", "server", "client", "producer", "consumer"])? {
            "server" => SpanKind::Server,
            "client" => SpanKind::Client,
            "producer" => SpanKind::Producer,
            "consumer" => SpanKind::Consumer,
            _ => SpanKind::Internal,
        })
    }

    fn count(&mut self, node: &Node) -> Option<CountSpec> {
        if let Value::Int(_) = node.value {
            return self.rep.count(node, "count").map(CountSpec::Fixed);
        }
        let f = self.rep.fields(node, "count", &["distribution", "lambda", "min", "max"])?;
        let min = f.get("min").and_then(|n| self.rep.count(n, "min"));
        let max = f.get("max").and_then(|n| self.rep.count(n, "max"));
        let dist = match f.get("distribution") {
            Some(d) => self.rep.choice(d, "count distribution", &["uniform", "poisson"])?,
            None => "uniform",
        };
        match dist {
            "poisson" => {
                let lambda = match f.get("lambda") {
                    Some(l) => {
                        self.rep.number_where(l, "lambda", "in (0, 1e18]", |v| v > 0.0 && v <= dist::MAX_LAMBDA)?
                    }
                    None => {
                        self.rep.error(node.line, node.col, "poisson count needs `lambda`", None);
                        return None;
                    }
                };
                let (min, max) = (min.unwrap_or(0), max.unwrap_or(u64::from(u16::MAX)));
                if min > max {
                    self.rep.error(
                        node.line,
                        node.col,
                        format!("count: min ({min}) is greater than max ({max})"),
                        None,
                    );
                    return None;
                }
                Some(CountSpec::Poisson { lambda, min, max })
            }
            _ => {
                let (Some(min), Some(max)) = (min, max) else {
                    self.rep.error(
                        node.line,
                        node.col,
                        "count needs `min` and `max` (or `distribution: poisson`)",
                        None,
                    );
                    return None;
                };
                if min > max {
                    self.rep.error(
                        node.line,
                        node.col,
                        format!("count: min ({min}) is greater than max ({max})"),
                        None,
                    );
                    return None;
                }
                Some(CountSpec::Uniform { min, max })
            }
        }
    }

    fn error_spec(&mut self, node: &Node) -> ErrorSpec {
        let Some(f) = self.rep.fields(node, "error", &["rate", "types", "propagation", "attributes", "exceptions"])
        else {
            return ErrorSpec::default();
        };
        let rate = f.get("rate").and_then(|n| self.rep.probability(n, "error.rate")).unwrap_or(0.0);
        let types = match f.get("types") {
            Some(n) => self.weighted_strings(n, "error.types"),
            None => Vec::new(),
        };
        let (mut from_parent, mut cascade, mut from_child) = (0.0, 0.0, 0.0);
        if let Some(p) = f.get("propagation")
            && let Some(pf) = self.rep.fields(p, "propagation", &["from_parent", "cascade_to_siblings", "from_child"])
        {
            from_parent = pf.get("from_parent").and_then(|n| self.rep.probability(n, "from_parent")).unwrap_or(0.0);
            cascade = pf
                .get("cascade_to_siblings")
                .and_then(|n| self.rep.probability(n, "cascade_to_siblings"))
                .unwrap_or(0.0);
            from_child = pf.get("from_child").and_then(|n| self.rep.probability(n, "from_child")).unwrap_or(0.0);
        }
        let attributes = match f.get("attributes") {
            Some(n) => self.attributes(n),
            None => Vec::new(),
        };
        let mut exceptions = Vec::new();
        if let Some(n) = f.get("exceptions") {
            match n.as_map() {
                Some(entries) => {
                    for (k, v) in entries {
                        let Some(ty) = self.rep.string(k, "error type") else { continue };
                        let Some(ef) = self.rep.fields(v, "exception", &["type", "message"]) else { continue };
                        let ex = ef.get("type").and_then(|n| self.rep.string(n, "type")).unwrap_or_else(|| ty.clone());
                        let msg = ef.get("message").and_then(|n| self.rep.string(n, "message"));
                        exceptions.push((ty, ex, msg));
                    }
                }
                None => {
                    self.rep.error(n.line, n.col, "exceptions must be a mapping of error type: {type, message}", None)
                }
            }
        }
        ErrorSpec { rate, types, from_parent, cascade_to_siblings: cascade, from_child, attributes, exceptions }
    }

    /// One of `allowed`, or a list / weighted mapping of them with a positive total weight.
    fn weighted_choice(&mut self, n: &Node, what: &str, allowed: &[&str]) -> Option<Vec<(String, f64)>> {
        if n.as_str().is_some() {
            return Some(vec![(self.rep.choice(n, what, allowed)?.to_string(), 1.0)]);
        }
        let list = self.weighted_strings(n, what);
        if let Some((bad, _)) = list.iter().find(|(r, _)| !allowed.contains(&r.as_str())) {
            let help = crate::diag::did_you_mean(bad, allowed.iter().copied()).map(|s| format!("did you mean `{s}`?"));
            self.rep.error(n.line, n.col, format!("unknown {what} `{bad}`"), help);
            return None;
        }
        if list.iter().map(|(_, w)| w).sum::<f64>() <= 0.0 {
            self.rep.error(n.line, n.col, format!("{what}s need a positive total weight"), None);
            return None;
        }
        Some(list)
    }

    /// A list of strings (equal weights) or a mapping of string → weight.
    fn weighted_strings(&mut self, node: &Node, what: &str) -> Vec<(String, f64)> {
        match &node.value {
            Value::Seq(items) => items.iter().filter_map(|i| self.rep.string(i, what)).map(|s| (s, 1.0)).collect(),
            Value::Map(entries) => entries
                .iter()
                .filter_map(|(k, v)| {
                    let key = self.rep.string(k, what)?;
                    let w = self.rep.number_where(v, "weight", ">= 0", |w| w >= 0.0)?;
                    Some((key, w))
                })
                .collect(),
            other => {
                self.rep.error(
                    node.line,
                    node.col,
                    format!("{what} must be a list or a mapping of value: weight, found {}", other.type_name()),
                    None,
                );
                Vec::new()
            }
        }
    }

    fn retry(&mut self, node: &Node) -> Option<RetrySpec> {
        let f = self.rep.fields(
            node,
            "retry",
            &[
                "enabled",
                "max_attempts",
                "force_initial_failure",
                "backoff_base_ms",
                "backoff_multiplier",
                "backoff_jitter",
                "success_rate_per_attempt",
            ],
        )?;
        let enabled = f.get("enabled").and_then(|n| self.rep.boolean(n, "enabled")).unwrap_or(true);
        let max_attempts = match f.get("max_attempts") {
            Some(n) => match self.rep.count(n, "max_attempts") {
                Some(v) if (1..=100).contains(&v) => v as u32,
                Some(v) => {
                    self.rep.error(n.line, n.col, format!("max_attempts must be between 1 and 100, found {v}"), None);
                    return None;
                }
                None => return None,
            },
            None => 3,
        };
        let num = |r: &mut Self, f: &Fields<'_>, k: &str, default: f64| -> f64 {
            f.get(k).and_then(|n| r.rep.number_where(n, k, ">= 0", |v| v >= 0.0)).unwrap_or(default)
        };
        let backoff_base_ms = num(self, &f, "backoff_base_ms", 100.0);
        let backoff_multiplier = num(self, &f, "backoff_multiplier", 2.0);
        let backoff_jitter =
            f.get("backoff_jitter").and_then(|n| self.rep.probability(n, "backoff_jitter")).unwrap_or(0.2);
        let success_rate_per_attempt = match f.get("success_rate_per_attempt") {
            Some(n) => self
                .rep
                .list(n, "success_rate_per_attempt")
                .map(|l| l.iter().filter_map(|p| self.rep.probability(p, "success rate")).collect())
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let force_initial_failure =
            f.get("force_initial_failure").and_then(|n| self.rep.boolean(n, "force_initial_failure")).unwrap_or(false);
        Some(RetrySpec {
            enabled,
            max_attempts,
            force_initial_failure,
            backoff_base_ms,
            backoff_multiplier,
            backoff_jitter,
            success_rate_per_attempt,
        })
    }

    fn events(&mut self, node: &Node) -> Vec<EventSpec> {
        let Some(list) = self.rep.list(node, "events") else { return Vec::new() };
        let mut out = Vec::new();
        for e in list {
            let Some(f) = self.rep.fields(e, "event", &["name", "probability", "at", "attributes"]) else { continue };
            let Some(name) = (match f.get("name") {
                Some(n) => self.rep.string(n, "event name"),
                None => {
                    self.rep.error(e.line, e.col, "event needs a `name`", None);
                    None
                }
            }) else {
                continue;
            };
            let probability = f.get("probability").and_then(|n| self.rep.probability(n, "probability")).unwrap_or(1.0);
            let at = f.get("at").and_then(|n| self.rep.probability(n, "at"));
            let attributes = match f.get("attributes") {
                Some(n) => self.attributes(n),
                None => Vec::new(),
            };
            out.push(EventSpec { name, probability, at, attributes });
        }
        out
    }

    fn decision(&mut self, node: &Node) -> Option<DecisionSpec> {
        let f = self.rep.fields(
            node,
            "decision",
            &[
                "type",
                "result",
                "policy_name",
                "reason",
                "tool_name",
                "agent_id",
                "context",
                "deny_fails_span",
                "deny_error",
            ],
        )?;
        let decision_type = match f.get("type") {
            Some(n) => self.rep.choice(n, "decision type", DECISION_TYPES)?.to_string(),
            None => {
                self.rep.error(
                    node.line,
                    node.col,
                    "decision needs a `type` (tool_call, opa, guardrails, human_review)",
                    None,
                );
                return None;
            }
        };
        let results = match f.get("result") {
            Some(n) => self.weighted_choice(n, "decision result", DECISION_RESULTS)?,
            None => vec![("allow".into(), 1.0)],
        };
        let reasons = match f.get("reason") {
            Some(n) if n.as_str().is_some() => {
                let r = n.as_str().unwrap_or_default().to_string();
                DECISION_RESULTS.iter().map(|k| (k.to_string(), r.clone())).collect()
            }
            Some(n) => match n.as_map() {
                Some(entries) => entries
                    .iter()
                    .filter_map(|(k, v)| {
                        Some((
                            self.rep.choice(k, "decision result", DECISION_RESULTS)?.to_string(),
                            self.rep.string(v, "reason")?,
                        ))
                    })
                    .collect(),
                None => {
                    self.rep.error(n.line, n.col, "reason must be a string or a mapping of result: reason", None);
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        let context_json = f.get("context").map(node_to_json);
        let text = |r: &mut Self, k: &str| f.get(k).and_then(|n| r.rep.string(n, k));
        Some(DecisionSpec {
            decision_type,
            results,
            policy_name: text(self, "policy_name"),
            reasons,
            tool_name: text(self, "tool_name"),
            agent_id: text(self, "agent_id"),
            context_json,
            deny_fails_span: f
                .get("deny_fails_span")
                .and_then(|n| self.rep.boolean(n, "deny_fails_span"))
                .unwrap_or(false),
            deny_error: text(self, "deny_error").unwrap_or_else(|| "policy_violation".into()),
        })
    }

    fn logs(&mut self, node: &Node, span_attrs: &[(String, AttrSpec)]) -> Vec<LogSpec> {
        let Some(list) = self.rep.list(node, "logs") else { return Vec::new() };
        let mut known: Vec<&str> = span_attrs.iter().map(|(k, _)| k.as_str()).collect();
        known.extend_from_slice(LOG_BUILTINS);
        known.push("error.type");
        let mut out = Vec::new();
        for l in list {
            let Some(f) = self.rep.fields(l, "log", &["on", "level", "message", "logger", "probability", "attributes"])
            else {
                continue;
            };
            let on = match f.get("on") {
                Some(n) => match self.rep.choice(n, "`on`", &["start", "end", "error"]) {
                    Some("start") => LogOn::Start,
                    Some("error") => LogOn::Error,
                    Some(_) => LogOn::End,
                    None => continue,
                },
                None => LogOn::End,
            };
            let severity = match f.get("level") {
                Some(n) => match level(self.rep, n) {
                    Some(l) => l,
                    None => continue,
                },
                None if on == LogOn::Error => (17, "ERROR"),
                None => (9, "INFO"),
            };
            let Some(m) = f.get("message") else {
                self.rep.error(l.line, l.col, "log needs a `message`", None);
                continue;
            };
            let Some(text) = self.rep.string(m, "message") else { continue };
            let Some(message) = self.template(m, &text, &known) else { continue };
            let logger = f.get("logger").and_then(|n| self.rep.string(n, "logger"));
            let probability = f.get("probability").and_then(|n| self.rep.probability(n, "probability")).unwrap_or(1.0);
            let attributes = match f.get("attributes") {
                Some(n) => self.attributes(n),
                None => Vec::new(),
            };
            out.push(LogSpec { on, severity, message, logger, probability, attributes });
        }
        out
    }

    fn attributes(&mut self, node: &Node) -> Vec<(String, AttrSpec)> {
        self.attributes_at(node).0
    }

    /// Attributes with the (line, column) of each key.
    fn attributes_at(&mut self, node: &Node) -> (Attributes, Vec<(u32, u32)>) {
        let mut pos = Vec::new();
        let Some(entries) = node.as_map() else {
            self.rep.error(
                node.line,
                node.col,
                format!("attributes must be a mapping, found {}", node.value.type_name()),
                None,
            );
            return (Vec::new(), pos);
        };
        let mut out: Vec<(String, AttrSpec)> = Vec::new();
        for (k, v) in entries {
            let Some(key) = self.rep.string(k, "attribute key") else { continue };
            let key = normalize_prefix(&key, self.prefix);
            let earlier: Vec<&str> = out.iter().map(|(k, _)| k.as_str()).collect();
            if let Some(spec) = self.attr(v, &key, &earlier) {
                out.push((key, spec));
                pos.push((k.line, k.col));
            }
        }
        (out, pos)
    }

    fn artifact(&mut self, node: &Node) -> Option<ArtifactSpec> {
        let f = self.rep.fields(
            node,
            "artifact",
            &["type", "path", "added_lines", "removed_lines", "changed_sections", "review", "probability"],
        )?;
        let artifact_type = f.get("type").and_then(|n| self.rep.string(n, "type")).unwrap_or_else(|| "file".into());
        let Some(pn) = f.get("path") else {
            self.rep.error(
                node.line,
                node.col,
                "artifact needs a `path` (a template, e.g. \"sections/{copy_index}.tex\")",
                None,
            );
            return None;
        };
        let text = self.rep.string(pn, "path")?;
        let path = self.template_open(pn, &text)?;
        let lines = |r: &mut Self, k: &str, default: f64| match f.get(k) {
            Some(n) => dist::parse(r.rep, n, k, Use::Value),
            None => Some(NumDist::new(crate::Dist::Constant(default))),
        };
        let added_lines = lines(self, "added_lines", 100.0)?;
        let removed_lines = lines(self, "removed_lines", 10.0)?;
        let changed_sections = match f.get("changed_sections") {
            Some(n) => self
                .rep
                .list(n, "changed_sections")
                .map(|l| l.iter().filter_map(|x| self.rep.string(x, "section")).collect())
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let review = match f.get("review") {
            Some(n) => self.weighted_choice(n, "review status", REVIEW_STATUSES)?,
            None => vec![("pending".into(), 1.0)],
        };
        let probability = f.get("probability").and_then(|n| self.rep.probability(n, "probability")).unwrap_or(1.0);
        Some(ArtifactSpec { artifact_type, path, added_lines, removed_lines, changed_sections, review, probability })
    }

    fn attr(&mut self, node: &Node, key: &str, earlier: &[&str]) -> Option<AttrSpec> {
        let Value::Map(_) = node.value else {
            return self.literal(node, key).map(AttrSpec::Literal);
        };
        if let Some(t) = node.get("template") {
            self.rep.fields(node, "template attribute", &["template"])?;
            let text = self.rep.string(t, "template")?;
            return self.template(t, &text, earlier).map(AttrSpec::Template);
        }
        let Some(d) = node.get("distribution") else {
            self.rep.error(
                node.line,
                node.col,
                format!("attribute `{key}` is a mapping without `distribution:` or `template:`"),
                Some("a value is a literal, {distribution: …} or {template: \"…{other_key}…\"}".into()),
            );
            return None;
        };
        let mut names: Vec<&str> = dist::DISTRIBUTIONS.to_vec();
        names.extend(["categorical", "uuid", "sequence"]);
        match self.rep.choice(d, "distribution", &names)? {
            "categorical" => {
                let f = self.rep.fields(node, "categorical attribute", &["distribution", "values"])?;
                let Some(vals) = f.get("values") else {
                    self.rep.error(node.line, node.col, "categorical needs `values`", None);
                    return None;
                };
                let choices: Vec<(Literal, f64)> = match &vals.value {
                    Value::Map(entries) => entries
                        .iter()
                        .filter_map(|(k, w)| {
                            let lit = self.literal(k, key)?;
                            let w = self.rep.number_where(w, "weight", ">= 0", |v| v >= 0.0)?;
                            Some((lit, w))
                        })
                        .collect(),
                    Value::Seq(items) => items.iter().filter_map(|i| self.literal(i, key)).map(|l| (l, 1.0)).collect(),
                    _ => {
                        self.rep.error(
                            vals.line,
                            vals.col,
                            "values must be a mapping of value: weight, or a list",
                            None,
                        );
                        return None;
                    }
                };
                if choices.is_empty() || choices.iter().map(|(_, w)| w).sum::<f64>() <= 0.0 {
                    self.rep.error(vals.line, vals.col, "categorical needs values with a positive total weight", None);
                    return None;
                }
                Some(AttrSpec::Categorical(choices))
            }
            "uuid" => {
                self.rep.fields(node, "uuid attribute", &["distribution"])?;
                Some(AttrSpec::Uuid)
            }
            "sequence" => {
                let f = self.rep.fields(node, "sequence attribute", &["distribution", "start", "step"])?;
                let int = |r: &mut Self, k: &str, default: i64| match f.get(k) {
                    Some(n) => match n.value {
                        Value::Int(i) => Some(i),
                        _ => {
                            r.rep.error(n.line, n.col, format!("{k} must be an integer, found {}", describe(n)), None);
                            None
                        }
                    },
                    None => Some(default),
                };
                let start = int(self, "start", 1)?;
                let step = int(self, "step", 1)?;
                Some(AttrSpec::Sequence { start, step })
            }
            _ => {
                let as_type = match node.get("as") {
                    Some(a) => match self.rep.choice(a, "`as` type", &["int", "double", "string"])? {
                        "int" => NumType::Int,
                        "string" => NumType::Str,
                        _ => NumType::Double,
                    },
                    None => default_num_type(key, node),
                };
                let stripped = strip_key(node, "as");
                let dist = dist::parse(self.rep, &stripped, &format!("attribute `{key}`"), Use::Value)?;
                Some(AttrSpec::Number { dist, as_type })
            }
        }
    }

    fn template(&mut self, node: &Node, text: &str, earlier: &[&str]) -> Option<Vec<TemplatePart>> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    lit.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    lit.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    let mut closed = false;
                    for c in chars.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        name.push(c);
                    }
                    if !closed {
                        self.rep.error(node.line, node.col, format!("template `{text}` has an unclosed `{{`"), None);
                        return None;
                    }
                    let name = normalize_prefix(name.trim(), self.prefix);
                    let is_var = name.strip_prefix("var.").is_some_and(|v| !v.is_empty());
                    if !is_var
                        && !earlier.contains(&name.as_str())
                        && !TEMPLATE_BUILTINS.contains(&name.as_str())
                        && !self.trace_keys.contains(&name)
                    {
                        let mut known: Vec<&str> = earlier.to_vec();
                        known.extend(self.trace_keys.iter().map(String::as_str));
                        known.extend_from_slice(TEMPLATE_BUILTINS);
                        let help = crate::diag::did_you_mean(&name, known.iter().copied())
                            .map(|s| format!("did you mean `{{{s}}}`?"))
                            .or_else(|| Some(format!("known here: {}", known.join(", "))));
                        self.rep.error(
                            node.line,
                            node.col,
                            format!("template refers to `{name}`, which is neither an earlier attribute of this span, a trace attribute nor a built-in"),
                            help,
                        );
                        return None;
                    }
                    if !lit.is_empty() {
                        parts.push(TemplatePart::Text(std::mem::take(&mut lit)));
                    }
                    parts.push(TemplatePart::Ref(name));
                }
                '}' => {
                    self.rep.error(
                        node.line,
                        node.col,
                        format!("template `{text}` has a lone `}}` (write `}}}}`)"),
                        None,
                    );
                    return None;
                }
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            parts.push(TemplatePart::Text(lit));
        }
        Some(parts)
    }
}

/// Counts (Poisson, geometric) are integers; so are attributes whose name says they count
/// something (`…tokens`, `…count`), as in the GenAI conventions. Everything else is a double.
fn default_num_type(key: &str, node: &Node) -> NumType {
    let discrete = matches!(node.get("distribution").and_then(Node::as_str), Some("poisson" | "geometric"));
    let last = key.rsplit(['.', '_']).next().unwrap_or(key);
    if discrete || matches!(last, "tokens" | "count" | "size" | "length") { NumType::Int } else { NumType::Double }
}

fn strip_key(node: &Node, key: &str) -> Node {
    let mut n = node.clone();
    if let Value::Map(entries) = &mut n.value {
        entries.retain(|(k, _)| k.as_str() != Some(key));
    }
    n
}

/// A YAML node as compact JSON text (for free-form decision context).
pub(crate) fn node_to_json(node: &Node) -> String {
    fn esc(s: &str, out: &mut String) {
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    fn go(n: &Node, out: &mut String) {
        match &n.value {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => out.push_str(&i.to_string()),
            Value::Float(f) if f.is_finite() => out.push_str(&f.to_string()),
            Value::Float(_) => out.push_str("null"),
            Value::Str(s) => esc(s, out),
            Value::Seq(items) => {
                out.push('[');
                for (i, it) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    go(it, out);
                }
                out.push(']');
            }
            Value::Map(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    match &k.value {
                        Value::Str(s) => esc(s, out),
                        _ => {
                            let mut t = String::new();
                            go(k, &mut t);
                            esc(&t, out);
                        }
                    }
                    out.push(':');
                    go(v, out);
                }
                out.push('}');
            }
        }
    }
    let mut out = String::new();
    go(node, &mut out);
    out
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
