//! Reading declared metrics (counters, gauges, histograms with their bindings and
//! processes) and exact-count variants.

use super::*;
use crate::convert::describe;
use crate::dist::{self, Use};
use crate::spec::*;
use crate::yaml::{Node, Value};

/// Most variants, and most metrics of each kind, a scenario declares.
const MAX_DECLARED: usize = 10_000;

impl Reader<'_, '_> {
    pub(crate) fn variants(&mut self, node: &Node) -> Vec<VariantSpec> {
        let Some(list) = self.rep.list(node, "variants") else { return Vec::new() };
        if list.len() > MAX_DECLARED {
            self.rep.error(node.line, node.col, format!("{} variants; at most {MAX_DECLARED}", list.len()), None);
            return Vec::new();
        }
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

    pub(crate) fn metrics(&mut self, node: &Node) -> Vec<MetricSpec> {
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
            if entries.len() > MAX_DECLARED {
                let msg = format!("{} {key}; at most {MAX_DECLARED}", entries.len());
                self.rep.error(group.line, group.col, msg, None);
                continue;
            }
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

    pub(crate) fn metric(&mut self, node: &Node, name: String, kind: MetricKind) -> Option<MetricSpec> {
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
                if !self.known_label(k, &label, &labels) {
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
    pub(crate) fn series(&mut self, node: &Node, labels: &[String]) -> Option<Vec<Vec<(String, String)>>> {
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
                if !self.known_label(k, &label, labels) {
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

    /// Whether `label` is one of the metric's `labels`; an error at `k` when not.
    fn known_label(&mut self, k: &Node, label: &str, labels: &[String]) -> bool {
        let known = labels.iter().any(|l| l == label);
        if !known {
            self.rep.error(
                k.line,
                k.col,
                format!("`{label}` is not among this metric's labels"),
                Some(format!("labels: {}", labels.join(", "))),
            );
        }
        known
    }

    pub(crate) fn binding(&mut self, node: &Node) -> Option<Binding> {
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

    pub(crate) fn process(&mut self, node: &Node) -> Option<Process> {
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
}
