//! `validate --show-schema / --show-spans / --show-metrics`: what the semantic-convention
//! schema and the scenarios define (the Python telemetry-simulator 1.x's inspection flags).

use std::fmt::Write as _;

use tsim_model::metrics::{Shape, derived_defs};
use tsim_scenario::semconv::{AttrType, Schema};
use tsim_scenario::{CountSpec, MetricKind, Scenario, SpanSpec};

/// What `validate` prints besides its verdicts.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(skip)]
pub struct Show {
    /// Print the schema's summary: attributes by type, span groups and what they require.
    #[arg(long)]
    pub show_schema: bool,
    /// Print each scenario's span tree (types, probabilities, counts, retries).
    #[arg(long)]
    pub show_spans: bool,
    /// Print the metrics a run exports: those derived from spans and those scenarios declare.
    #[arg(long)]
    pub show_metrics: bool,
}

/// The schema's summary.
pub fn schema(s: &Schema) -> String {
    let mut o = String::new();
    let count = |f: fn(&AttrType) -> bool| s.attributes.iter().filter(|a| f(&a.ty)).count();
    let _ = writeln!(
        o,
        "schema {}: {} attributes ({} string, {} int, {} double, {} boolean, {} enum, {} other), {} span groups",
        s.file,
        s.attributes.len(),
        count(|t| matches!(t, AttrType::Str)),
        count(|t| matches!(t, AttrType::Int)),
        count(|t| matches!(t, AttrType::Double)),
        count(|t| matches!(t, AttrType::Bool)),
        count(|t| matches!(t, AttrType::Enum { .. })),
        count(|t| matches!(t, AttrType::Other(_))),
        s.spans.len()
    );
    for g in &s.spans {
        let req = if g.required.is_empty() { "-".to_string() } else { g.required.join(", ") };
        let _ = writeln!(o, "  {}  required: {req}", g.id);
    }
    o
}

/// Each scenario's span tree.
pub fn spans(scenarios: &[&Scenario]) -> String {
    let mut o = String::new();
    for s in scenarios {
        let _ = writeln!(o, "{} ({}):", s.name, s.source);
        tree(&mut o, &s.root, 1);
    }
    o
}

fn tree(o: &mut String, n: &SpanSpec, depth: usize) {
    let mut marks = Vec::new();
    if n.probability < 1.0 {
        marks.push(format!("probability {}", n.probability));
    }
    match &n.count {
        CountSpec::Fixed(1) => {}
        CountSpec::Fixed(k) => marks.push(format!("×{k}")),
        CountSpec::Uniform { min, max } => marks.push(format!("×{min}..{max}")),
        CountSpec::Poisson { lambda, min, max } => marks.push(format!("×poisson({lambda}) in {min}..{max}")),
    }
    if n.error.rate > 0.0 {
        marks.push(format!("error {}", n.error.rate));
    }
    if let Some(r) = n.retry.as_ref().filter(|r| r.enabled) {
        marks.push(format!("retry up to {}", r.max_attempts));
    }
    let marks = if marks.is_empty() { String::new() } else { format!("  [{}]", marks.join(", ")) };
    let _ = writeln!(o, "{}{}{marks}", "  ".repeat(depth), n.span_type);
    for c in &n.children {
        tree(o, c, depth + 1);
    }
}

/// The metrics of a run: derived from spans, then each scenario's own.
pub fn metrics(scenarios: &[&Scenario]) -> String {
    let mut o = String::from("derived from spans:\n");
    for d in derived_defs() {
        let shape = match d.shape {
            Shape::Counter => "counter",
            Shape::Gauge => "gauge",
            Shape::Histogram(_) => "histogram",
        };
        let _ =
            writeln!(o, "  {}  {shape}  {}  {}", d.name, if d.unit.is_empty() { "-" } else { &d.unit }, d.description);
    }
    for s in scenarios.iter().filter(|s| !s.metrics.is_empty()) {
        let _ = writeln!(o, "{} declares:", s.name);
        for m in &s.metrics {
            let kind = match m.kind {
                MetricKind::Counter => "counter",
                MetricKind::Gauge => "gauge",
                MetricKind::Histogram => "histogram",
            };
            let unit = if m.unit.is_empty() { "-" } else { &m.unit };
            let labels = if m.labels.is_empty() { String::new() } else { format!("  {{{}}}", m.labels.join(", ")) };
            let _ = writeln!(o, "  {}  {kind}  {unit}{labels}  {}", m.name, m.description);
        }
    }
    o
}
