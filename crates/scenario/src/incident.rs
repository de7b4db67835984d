//! Incidents: bad days on a schedule (a latency spike, an error burst, an outage, a traffic or
//! token surge) that act on the matching spans of the traces starting in their window. Read
//! from a scenario's top-level `incidents:` list or from an incident file (`--incidents`).

use crate::diag::{Diagnostics, Reporter};
use crate::dist::{self, NumDist, Use};
use crate::yaml::{self, Node, Value};

/// When an incident starts.
#[derive(Debug, Clone, PartialEq)]
pub enum When {
    /// At this time (Unix nanoseconds).
    At(u64),
    /// This many seconds after the run's start.
    After(f64),
}

/// The spans an incident acts on: all of the given conditions hold.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Target {
    /// A glob (`*` any run of characters) on the span name as sent.
    pub spans: Option<String>,
    /// The resource's `service.name`.
    pub service: Option<String>,
    /// Span attributes that must have these values (compared as text).
    pub attributes: Vec<(String, String)>,
    /// Scenarios whose traces it acts on; empty: every scenario (an incident written in a
    /// scenario file: that scenario).
    pub scenarios: Vec<String>,
}

/// How the matching spans' latency changes.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyEffect {
    /// Each duration is multiplied by this.
    pub multiply: f64,
    /// Then this many milliseconds are added.
    pub add_ms: f64,
    /// Drawn from this distribution instead of the span's own (then multiplied and added to).
    pub distribution: Option<NumDist>,
}

/// A gauge an outage drives: a health gauge reads a value, a backlog grows.
#[derive(Debug, Clone, PartialEq)]
pub struct GaugeEffect {
    /// Metric name (a glob).
    pub metric: String,
    /// Label values the series must have.
    pub labels: Vec<(String, String)>,
    /// The value it reads during the window (default for an `up` gauge: 0).
    pub value: Option<f64>,
    /// It grows by this much per minute during the window, and drains ten times as fast
    /// after it (the consumer is back).
    pub grow_per_minute: Option<f64>,
    /// Where it was written (line, column).
    pub at: (u32, u32),
}

/// What an incident does to what it hits. Effects compose.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Effects {
    /// Slower (or faster) spans.
    pub latency: Option<LatencyEffect>,
    /// Spans fail with this chance and error type (propagation as the scenario defines it).
    pub error: Option<(f64, String)>,
    /// Every matching span fails fast with this error type; its gauges follow.
    pub outage: Option<(String, Vec<GaugeEffect>)>,
    /// Arrivals of the matching scenarios are multiplied by this.
    pub traffic: Option<f64>,
    /// Token usage (and so cost) is multiplied by this.
    pub tokens: Option<f64>,
}

/// One incident.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentSpec {
    /// Its name (`incident.name` with `--mark-incidents`, the summary's row).
    pub name: String,
    /// When its first window starts.
    pub when: When,
    /// A periodic incident starts again every this many seconds.
    pub every_s: Option<f64>,
    /// Length of each window, seconds.
    pub duration_s: f64,
    /// Linear ramp in and out, seconds (within the window).
    pub ramp_s: f64,
    /// What it hits.
    pub target: Target,
    /// What it does.
    pub effects: Effects,
    /// Where it was written: file, line, column.
    pub file: String,
    /// Line and column of the entry.
    pub at: (u32, u32),
    /// Line and column of `spans:`, for warnings about a glob that matches nothing.
    pub spans_at: (u32, u32),
}

/// Error types an outage or an error burst may name without a warning (any other is
/// accepted too).
pub const INCIDENT_ERROR_TYPES: &[&str] =
    &["connection_refused", "timeout", "upstream_5xx", "rate_limited", "unavailable", "internal_error"];

const KEYS: &[&str] = &[
    "name",
    "at",
    "after",
    "every",
    "duration",
    "ramp",
    "spans",
    "service",
    "attributes",
    "scenarios",
    "latency",
    "error",
    "outage",
    "traffic",
    "tokens",
];

fn secs(rep: &mut Reporter<'_>, node: &Node, what: &str) -> Option<f64> {
    let v = match &node.value {
        Value::Str(s) => crate::units::parse_duration_secs(s),
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    };
    match v {
        Some(v) if v.is_finite() && v >= 0.0 => Some(v),
        _ => {
            rep.error(node.line, node.col, format!("{what} must be a duration (90s, 5m, 2h, 1d)"), None);
            None
        }
    }
}

fn text_of(node: &Node) -> Option<String> {
    match &node.value {
        Value::Str(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn string_map(rep: &mut Reporter<'_>, node: &Node, what: &str) -> Vec<(String, String)> {
    let Some(entries) = node.as_map() else {
        rep.error(node.line, node.col, format!("{what} must be a mapping of key: value"), None);
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in entries {
        match (k.as_str(), text_of(v)) {
            (Some(k), Some(v)) => out.push((k.to_string(), v)),
            _ => rep.error(v.line, v.col, format!("{what}: each value must be a string, number or boolean"), None),
        }
    }
    out
}

fn positive(rep: &mut Reporter<'_>, node: &Node, what: &str) -> Option<f64> {
    rep.number_where(node, what, ">= 0", |v| v >= 0.0)
}

fn latency(rep: &mut Reporter<'_>, node: &Node) -> Option<LatencyEffect> {
    let f = rep.fields(node, "latency", &["multiply", "add_ms", "distribution"])?;
    let multiply = match f.get("multiply") {
        Some(n) => positive(rep, n, "multiply")?,
        None => 1.0,
    };
    let add_ms = match f.get("add_ms") {
        Some(n) => positive(rep, n, "add_ms")?,
        None => 0.0,
    };
    let distribution = match f.get("distribution") {
        Some(n) => Some(dist::parse(rep, n, "latency distribution", Use::Latency)?),
        None => None,
    };
    if f.get("multiply").is_none() && f.get("add_ms").is_none() && distribution.is_none() {
        rep.error(node.line, node.col, "latency needs `multiply`, `add_ms` or `distribution`", None);
        return None;
    }
    Some(LatencyEffect { multiply, add_ms, distribution })
}

fn error_type(rep: &mut Reporter<'_>, f: &crate::convert::Fields<'_>, default: &str) -> Option<String> {
    match f.get("type") {
        Some(n) => {
            let t = rep.string(n, "type")?;
            if t.is_empty() {
                rep.error(n.line, n.col, "type must not be empty", None);
                return None;
            }
            Some(t)
        }
        None => Some(default.to_string()),
    }
}

fn gauges(rep: &mut Reporter<'_>, node: &Node) -> Vec<GaugeEffect> {
    let Some(items) = rep.list(node, "gauges") else { return Vec::new() };
    let mut out = Vec::new();
    for item in items {
        let Some(f) = rep.fields(item, "gauge", &["metric", "labels", "value", "grow_per_minute"]) else { continue };
        let Some(metric) = f.get("metric").and_then(|n| rep.string(n, "metric")) else {
            if f.get("metric").is_none() {
                rep.error(item.line, item.col, "a gauge needs `metric` (its name, a glob)", None);
            }
            continue;
        };
        let labels = f.get("labels").map(|n| string_map(rep, n, "labels")).unwrap_or_default();
        let value = f.get("value").and_then(|n| rep.number(n, "value"));
        let grow_per_minute = f.get("grow_per_minute").and_then(|n| positive(rep, n, "grow_per_minute"));
        out.push(GaugeEffect { metric, labels, value, grow_per_minute, at: (item.line, item.col) });
    }
    out
}

fn multiplier(rep: &mut Reporter<'_>, node: &Node, what: &str) -> Option<f64> {
    let f = rep.fields(node, what, &["multiply"])?;
    match f.get("multiply") {
        Some(n) => rep.number_where(n, "multiply", "> 0", |v| v > 0.0),
        None => {
            rep.error(node.line, node.col, format!("{what} needs `multiply`"), None);
            None
        }
    }
}

/// Reads one incident entry.
fn incident(rep: &mut Reporter<'_>, node: &Node) -> Option<IncidentSpec> {
    let f = rep.fields(node, "incident", KEYS)?;
    let name = match f.get("name") {
        Some(n) => {
            let s = rep.string(n, "name")?;
            if s.is_empty() {
                rep.error(n.line, n.col, "name must not be empty", None);
                return None;
            }
            s
        }
        None => {
            rep.error(node.line, node.col, "an incident needs a `name`", None);
            return None;
        }
    };
    let when = match (f.get("at"), f.get("after")) {
        (Some(n), None) => {
            let s = rep.string(n, "at")?;
            match s.parse::<jiff::Timestamp>().ok().and_then(|t| u64::try_from(t.as_nanosecond()).ok()) {
                Some(ns) => When::At(ns),
                None => {
                    rep.error(
                        n.line,
                        n.col,
                        format!("at `{s}` is not an RFC 3339 time such as 2026-11-14T10:00:00Z"),
                        None,
                    );
                    return None;
                }
            }
        }
        (None, Some(n)) => When::After(secs(rep, n, "after")?),
        (Some(n), Some(_)) => {
            rep.error(n.line, n.col, "give `at` (a time) or `after` (an offset from the run's start), not both", None);
            return None;
        }
        (None, None) => {
            rep.error(
                node.line,
                node.col,
                "an incident needs `at` (a time) or `after` (an offset from the run's start)",
                None,
            );
            return None;
        }
    };
    let duration_s = match f.get("duration") {
        Some(n) => secs(rep, n, "duration")?,
        None => {
            rep.error(node.line, node.col, "an incident needs a `duration`", None);
            return None;
        }
    };
    if duration_s <= 0.0 {
        let n = f.get("duration").unwrap_or(node);
        rep.error(n.line, n.col, "duration must be above 0", None);
        return None;
    }
    let every_s = match f.get("every") {
        Some(n) => {
            let e = secs(rep, n, "every")?;
            if e < duration_s {
                rep.error(
                    n.line,
                    n.col,
                    "every must be at least the duration (windows of one incident do not overlap)",
                    None,
                );
                return None;
            }
            Some(e)
        }
        None => None,
    };
    let ramp_s = match f.get("ramp") {
        Some(n) => {
            let r = secs(rep, n, "ramp")?;
            if 2.0 * r > duration_s {
                rep.error(n.line, n.col, "ramp must be at most half the duration (it ramps in and out)", None);
                return None;
            }
            r
        }
        None => 0.0,
    };
    let spans = f.get("spans").and_then(|n| rep.string(n, "spans"));
    let spans_at = f.get("spans").map_or((node.line, node.col), |n| (n.line, n.col));
    let service = f.get("service").and_then(|n| rep.string(n, "service"));
    let attributes = f.get("attributes").map(|n| string_map(rep, n, "attributes")).unwrap_or_default();
    let scenarios = match f.get("scenarios") {
        Some(n) => match &n.value {
            Value::Str(s) => vec![s.clone()],
            _ => rep
                .list(n, "scenarios")
                .map(|l| l.iter().filter_map(|x| rep.string(x, "scenario")).collect())
                .unwrap_or_default(),
        },
        None => Vec::new(),
    };
    let mut effects = Effects::default();
    if let Some(n) = f.get("latency") {
        effects.latency = Some(latency(rep, n)?);
    }
    if let Some(n) = f.get("error") {
        let ef = rep.fields(n, "error", &["rate", "type"])?;
        let rate = match ef.get("rate") {
            Some(r) => rep.number_where(r, "rate", "between 0 and 1", |v| (0.0..=1.0).contains(&v))?,
            None => {
                rep.error(n.line, n.col, "error needs a `rate` (0 to 1)", None);
                return None;
            }
        };
        effects.error = Some((rate, error_type(rep, &ef, "upstream_5xx")?));
    }
    if let Some(n) = f.get("outage") {
        let of = rep.fields(n, "outage", &["type", "gauges"])?;
        let ty = error_type(rep, &of, "connection_refused")?;
        let g = of.get("gauges").map(|g| gauges(rep, g)).unwrap_or_default();
        effects.outage = Some((ty, g));
    }
    if let Some(n) = f.get("traffic") {
        effects.traffic = Some(multiplier(rep, n, "traffic")?);
    }
    if let Some(n) = f.get("tokens") {
        effects.tokens = Some(multiplier(rep, n, "tokens")?);
    }
    if effects == Effects::default() {
        rep.error(node.line, node.col, "an incident needs an effect: latency, error, outage, traffic or tokens", None);
        return None;
    }
    Some(IncidentSpec {
        name,
        when,
        every_s,
        duration_s,
        ramp_s,
        target: Target { spans, service, attributes, scenarios },
        effects,
        file: rep.file.to_string(),
        at: (node.line, node.col),
        spans_at,
    })
}

/// Reads an `incidents:` list (of a scenario or of an incident file).
pub(crate) fn read_list(rep: &mut Reporter<'_>, node: &Node) -> Vec<IncidentSpec> {
    let Some(items) = rep.list(node, "incidents") else { return Vec::new() };
    let mut out: Vec<IncidentSpec> = Vec::new();
    for item in items {
        if let Some(i) = incident(rep, item) {
            out.push(i);
        }
    }
    out
}

/// Parses an incident file: a top-level `incidents:` list.
pub fn parse_incidents(src: &str, file: &str) -> Result<Vec<IncidentSpec>, Diagnostics> {
    let mut rep = Reporter::new(file, src);
    let out = yaml::parse(src, &mut rep).and_then(|root| {
        let f = rep.fields(&root, "incident file", &["incidents"])?;
        match f.get("incidents") {
            Some(n) => Some(read_list(&mut rep, n)),
            None => {
                rep.error(root.line, root.col, "an incident file needs an `incidents:` list", None);
                None
            }
        }
    });
    match out {
        Some(list) if rep.diags.is_empty() => Ok(list),
        _ => {
            if rep.diags.is_empty() {
                rep.error(1, 1, "incident file could not be read", None);
            }
            Err(Diagnostics(rep.diags))
        }
    }
}

/// Whether `src` is an incident file (a top-level `incidents:` and no scenario's `name:`
/// or `root:`), judged without reporting anything.
pub fn is_incident_file(src: &str) -> bool {
    let mut rep = Reporter::new("", src);
    let Some(root) = yaml::parse(src, &mut rep) else { return false };
    let has = |k: &str| root.get(k).is_some();
    has("incidents") && !has("name") && !has("root") && !has("spans")
}

/// The incident files shipped with the tool (for the built-in scenarios), by name.
pub const BUILTIN_INCIDENTS: &[(&str, &str)] = &[
    ("tool_outage", include_str!("builtin/incidents/tool_outage.yaml")),
    ("llm_latency_spike", include_str!("builtin/incidents/llm_latency_spike.yaml")),
    ("error_burst", include_str!("builtin/incidents/error_burst.yaml")),
    ("cost_surge", include_str!("builtin/incidents/cost_surge.yaml")),
];

/// Reads `--incidents ARG`: a file, else a shipped incident file's name.
pub fn load_incidents(arg: &str) -> Result<Vec<IncidentSpec>, Diagnostics> {
    let path = std::path::Path::new(arg);
    if !path.exists()
        && let Some((name, src)) = BUILTIN_INCIDENTS.iter().find(|(n, _)| *n == arg)
    {
        return parse_incidents(src, &format!("builtin:incidents/{name}"));
    }
    let (name, src) = crate::diag::read_source(path).map_err(|mut d| {
        if let Some(first) = d.0.first_mut() {
            let names: Vec<&str> = BUILTIN_INCIDENTS.iter().map(|(n, _)| *n).collect();
            first.help = Some(format!("give a file, or a shipped incident file: {}", names.join(", ")));
        }
        d
    })?;
    parse_incidents(&src, &name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_effect_and_locates_errors() {
        let src = "incidents:\n  - name: spike\n    after: 10m\n    duration: 5m\n    ramp: 1m\n    every: 1d\n    spans: \"chat *\"\n    attributes: {gen_ai.request.model: gpt-4o}\n    latency: {multiply: 5, add_ms: 20}\n    tokens: {multiply: 2}\n  - name: down\n    at: 2026-11-14T10:00:00Z\n    duration: 90s\n    outage: {type: timeout, gauges: [{metric: health_status, labels: {service: db}}]}\n";
        let list = parse_incidents(src, "i.yaml").unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].when, When::After(600.0));
        assert_eq!((list[0].every_s, list[0].duration_s, list[0].ramp_s), (Some(86_400.0), 300.0, 60.0));
        assert_eq!(list[0].effects.latency.as_ref().map(|l| (l.multiply, l.add_ms)), Some((5.0, 20.0)));
        assert_eq!(list[0].effects.tokens, Some(2.0));
        assert_eq!(list[1].when, When::At(1_794_650_400_000_000_000));
        let (ty, g) = list[1].effects.outage.as_ref().unwrap();
        assert_eq!((ty.as_str(), g[0].metric.as_str()), ("timeout", "health_status"));

        let bad = "incidents:\n  - name: x\n    after: 1m\n    duration: 1m\n    eror: {rate: 2}\n";
        let e = parse_incidents(bad, "b.yaml").unwrap_err().to_string();
        assert!(e.starts_with("b.yaml:5:5: unknown key `eror`"), "{e}");
        let bad = "incidents:\n  - name: x\n    after: 1m\n    duration: 1m\n    error: {rate: 2}\n";
        let e = parse_incidents(bad, "b.yaml").unwrap_err().to_string();
        assert!(e.starts_with("b.yaml:5:19:"), "{e}");
        let bad = "incidents:\n  - name: x\n    after: 1m\n    duration: 1m\n";
        assert!(parse_incidents(bad, "b.yaml").unwrap_err().to_string().contains("needs an effect"));
        let bad =
            "incidents:\n  - name: x\n    after: 1m\n    duration: 10m\n    every: 5m\n    traffic: {multiply: 2}\n";
        assert!(parse_incidents(bad, "b.yaml").unwrap_err().to_string().contains("b.yaml:5:12: every must be"));
    }

    #[test]
    fn the_shipped_files_read() {
        for (name, src) in BUILTIN_INCIDENTS {
            let list = parse_incidents(src, name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!list.is_empty(), "{name}");
        }
    }
}
