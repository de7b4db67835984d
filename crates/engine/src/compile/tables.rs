//! The compiled tables the builder walks: nodes, their attributes, logs, events, decisions,
//! artifacts, counts and retries, and the parts of templates.

use tsim_model::SpanKind;
use tsim_scenario::{LogOn, NumType};

use crate::sample::Sampler;

#[derive(Debug)]
pub(crate) struct CNode {
    pub name: Box<str>,
    pub attempt_name: Box<str>,
    pub kind: SpanKind,
    pub latency: Option<Sampler>,
    pub error_rate: f64,
    pub error_types: Vec<Box<str>>,
    pub error_cum: Vec<f64>,
    pub from_parent: f64,
    pub cascade: f64,
    pub from_child: f64,
    /// Attributes added when the span fails.
    pub error_attrs: Vec<CAttr>,
    /// Error type → (exception type, message).
    pub exceptions: Vec<Exception>,
    pub attrs: Vec<CAttr>,
    pub events: Vec<CEvent>,
    pub children: Vec<u32>,
    pub parallel: bool,
    pub probability: f64,
    pub count: CCount,
    pub retry: Option<CRetry>,
    pub logs: Vec<CLog>,
    pub decision: Option<CDecision>,
    /// A span name made from the span's attributes (`chat {gen_ai.request.model}`).
    pub name_parts: Option<Vec<NPart>>,
    pub artifact: Option<CArtifact>,
    /// Root only: attributes sampled once per trace, put on every span and record.
    pub trace_attrs: Vec<CAttr>,
}

/// An error type's exception: (error type, exception type, message).
pub(crate) type Exception = (Box<str>, Box<str>, Option<Box<str>>);

/// A piece of a span-name template.
#[derive(Debug)]
pub(crate) enum NPart {
    Text(Box<str>),
    Builtin(Builtin),
    SpanAttr(Box<str>),
}

#[derive(Debug)]
pub(crate) struct CArtifact {
    pub artifact_type: Box<str>,
    pub path: Vec<NPart>,
    pub added: Sampler,
    pub removed: Sampler,
    pub sections: Vec<Box<str>>,
    pub review: Vec<Box<str>>,
    pub review_cum: Vec<f64>,
    pub probability: f64,
}

#[derive(Debug)]
pub(crate) struct CDecision {
    pub decision_type: Box<str>,
    /// Results and their reasons.
    pub results: Vec<(Box<str>, Box<str>)>,
    pub cum: Vec<f64>,
    pub policy_name: Option<Box<str>>,
    pub tool_name: Option<Box<str>>,
    pub agent_id: Option<Box<str>>,
    pub context_json: Option<Box<str>>,
    pub deny_fails_span: bool,
    pub deny_error: Box<str>,
}

#[derive(Debug)]
pub(crate) struct CLog {
    pub on: LogOn,
    pub severity: u8,
    pub severity_text: &'static str,
    pub message: Vec<LPart>,
    pub logger: Option<Box<str>>,
    pub probability: f64,
    pub attrs: Vec<CAttr>,
}

/// A piece of a log message, resolved against the span when the record is made.
#[derive(Debug)]
pub(crate) enum LPart {
    Text(Box<str>),
    Builtin(Builtin),
    SpanAttr(Box<str>),
    DurationMs,
    SpanName,
    Status,
    ErrorType,
    Success,
}

#[derive(Debug)]
pub(crate) struct CEvent {
    pub name: Box<str>,
    pub probability: f64,
    pub at: Option<f64>,
    pub attrs: Vec<CAttr>,
}

#[derive(Debug)]
pub(crate) enum CCount {
    Fixed(u64),
    Uniform { min: u64, span: u64 },
    Poisson { sampler: Sampler, min: u64, max: u64 },
}

#[derive(Debug)]
pub(crate) struct CRetry {
    pub max_attempts: u32,
    pub force_initial_failure: bool,
    pub backoff_base_ms: f64,
    pub backoff_multiplier: f64,
    pub backoff_jitter: f64,
    /// Success chance per attempt (the last repeats).
    pub success: Vec<f64>,
    /// Per error type of the node (as in `CNode::error_types`): a failed attempt of it is retried.
    pub retryable: Vec<bool>,
}

#[derive(Debug)]
pub(crate) struct CAttr {
    pub key: Box<str>,
    pub value: Gen,
}

#[derive(Debug)]
pub(crate) enum Lit {
    Str(Box<str>),
    Int(i64),
    Double(f64),
    Bool(bool),
}

#[derive(Debug)]
pub(crate) enum Gen {
    Lit(Lit),
    Num { sampler: Sampler, as_type: NumType },
    Cat { values: Vec<Lit>, cum: Vec<f64> },
    Uuid,
    Seq { start: i64, step: i64 },
    Template(Vec<Part>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Builtin {
    TraceId,
    SpanId,
    ParentSpanId,
    TraceIndex,
    CopyIndex,
    Attempt,
    Scenario,
    Tenant,
    Uuid,
    TraceUuid,
    DurationMs,
    Success,
    ErrorType,
}

#[derive(Debug)]
pub(crate) enum Part {
    Text(Box<str>),
    Attr(usize),
    /// The i-th trace attribute.
    Trace(usize),
    Builtin(Builtin),
}
