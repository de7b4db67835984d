//! Scenario YAML for telemetry-simulator: parse, validate (with file:line:col), normalize, built-ins.
//!
//! A scenario describes one kind of trace: a tree of span nodes with latency distributions,
//! error behaviour, retries and attributes. [`Catalog::load`] gives the built-ins plus any
//! folders; [`parse_scenario`] reads one text; errors are [`Diagnostics`].

pub mod budget;
mod catalog;
mod convert;
mod diag;
mod dist;
mod incident;
mod logging;
mod read;
pub mod semconv;
mod spec;
pub mod units;
mod yaml;

pub use catalog::{BUILTINS, Catalog, HIDDEN, Scan, load_file, load_path, not_scenario_warning, parse_scenario, scan};
pub use diag::{Diagnostic, Diagnostics, did_you_mean};
pub use dist::{DISTRIBUTIONS, Dist, NumDist};
pub use incident::{
    BUILTIN_INCIDENTS, Effects, GaugeEffect, INCIDENT_ERROR_TYPES, IncidentSpec, LatencyEffect, Target, When,
    is_incident_file, load_incidents, parse_incidents,
};
pub use logging::{LoggerSpec, LoggingConfig, load_logging_config, parse_logging_config};
pub use spec::{
    ArtifactSpec, AttrSpec, Binding, CountSpec, DECISION_RESULTS, DECISION_TYPES, DEFAULT_RETRYABLE, DecisionSpec,
    ErrorSpec, EventSpec, LEVELS, LOG_BUILTINS, Literal, LogOn, LogSpec, MetricKind, MetricSpec, MetricValue, Mode,
    NumType, OverrideSpec, PROCESS_KINDS, Process, REVIEW_STATUSES, RetrySpec, Scenario, SpanKind, SpanSpec, Stat,
    TEMPLATE_BUILTINS, TemplatePart, VariantSpec, normalize_prefix, parse_template,
};
pub use yaml::{MAX_ALIASES, MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES};
