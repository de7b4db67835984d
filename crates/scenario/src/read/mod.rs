//! Reading a scenario: YAML nodes to the typed [`Scenario`], every problem reported at its
//! `file:line:col`. The top level is here; span nodes, metrics and variants, and attribute
//! values are read in files of their own.

mod attrs;
mod metrics;
mod span;

use crate::budget;
use crate::diag::Reporter;
use crate::spec::*;
use crate::yaml::{Node, Value};
use tsim_model::metrics::Price;

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
    "spans",
    "weight",
    "resource",
    "pricing",
    "metrics",
    "variants",
    "trace_attributes",
    "max_spans_per_trace",
    "incidents",
];

/// Top-level keys of the Python telemetry-simulator 2.x workload format (not supported).
const WORKLOAD_KEYS: &[&str] =
    &["workload_weight", "latency_profiles", "endusers", "mcp_server", "control_plane", "data_plane"];

const NODE_KEYS: &[&str] = &[
    "type",
    "span_type",
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

/// Reads one scenario file, reporting into `rep`.
pub(crate) struct Reader<'r, 'a> {
    pub rep: &'r mut Reporter<'a>,
    pub prefix: &'r str,
    /// Keys of the scenario's trace attributes (templates anywhere may use them).
    pub trace_keys: Vec<String>,
}

impl Reader<'_, '_> {
    pub fn scenario(&mut self, node: &Node, source: &str) -> Option<Scenario> {
        if node.get("root").is_none()
            && node.get("spans").is_none()
            && let Some((k, _)) = node
                .as_map()
                .and_then(|m| m.iter().find(|(k, _)| k.as_str().is_some_and(|k| WORKLOAD_KEYS.contains(&k))))
        {
            let msg = format!(
                "this is the Python telemetry-simulator 2.x workload format (`{}:`), which is not supported; \
                 see docs/python-1x.md, \"Coming from the Python telemetry-simulator\"",
                k.as_str().unwrap_or_default()
            );
            self.rep.error(k.line, k.col, msg, None);
            return None;
        }
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
        // `spans: [ … ]` (the Python tool's other spelling): its first entry is the root.
        let spans_root = f.get("spans").map(|n| match &n.value {
            Value::Seq(items) => items.first().unwrap_or(n),
            _ => n,
        });
        let root = match f.get("root").or(spans_root) {
            Some(n) => self.span(n, true),
            None => {
                self.rep.error(node.line, node.col, "scenario needs a `root` span", None);
                None
            }
        };
        let incidents = match f.get("incidents") {
            Some(n) => crate::incident::read_list(self.rep, n),
            None => Vec::new(),
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
            warnings: Vec::new(),
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
            incidents,
            root: root?,
            source: source.to_string(),
        })
    }

    /// The tree's worst case against the span budget: an error at the node that multiplies
    /// most, naming every node that does.
    pub(crate) fn check_budget(&mut self, root: &SpanSpec, max_spans: u64) {
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

    pub(crate) fn pricing(&mut self, node: &Node) -> Vec<Price> {
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
                out.push(Price { model, input_per_million: i, output_per_million: o });
            }
        }
        out
    }

    pub(crate) fn literal_map(&mut self, node: &Node, what: &str) -> Vec<(String, Literal)> {
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

    pub(crate) fn literal(&mut self, node: &Node, key: &str) -> Option<Literal> {
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
