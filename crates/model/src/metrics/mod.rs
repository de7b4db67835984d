//! Metrics derived from generated spans, in simulated time, with cumulative temporality:
//! span-metrics (`calls`, `duration` per span name, kind and status, as the collector's
//! `spanmetrics` connector names them) and the OpenTelemetry GenAI client histograms
//! (`gen_ai.client.operation.duration`, `gen_ai.client.token.usage`, with the buckets the
//! semantic conventions advise), model cost and tokens (`llm.cost`, `llm.tokens`) and
//! policy decisions (`policy.decisions`). Histogram points carry the latest exemplar (trace and span
//! that produced a value). The aggregation is here; each encoding has a file of its own:
//! [`otlp`] (protobuf and OTLP/JSON), [`prometheus`] (text exposition), [`openmetrics`] (OpenMetrics
//! text: the file and the scrape), [`remote_write`].
//! An output with an encoding of its own implements [`MetricsEncoder`].

use crate::num::{f64_of, f64_of_i64};
use std::collections::HashMap;

use crate::proto::*;
use crate::trace::{AnyValue, OwnedValue, Resources, SpanKind, StatusCode, TraceBuf};

mod openmetrics;
mod otlp;
mod prometheus;
mod remote_write;

pub use openmetrics::{EXEMPLAR_LABEL_CHARS, OPENMETRICS_EOF, OpenMetricsOptions};
pub use prometheus::{prometheus_name, sanitize};

/// The shape of a metric.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// Monotonic cumulative sum.
    Counter,
    /// The last value set.
    Gauge,
    /// Cumulative explicit-bucket histogram with these bounds.
    Histogram(Vec<f64>),
}

/// A metric definition.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricDef {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// UCUM unit.
    pub unit: String,
    /// Shape.
    pub shape: Shape,
    /// Values are whole numbers (sums are sent as integers).
    pub integer: bool,
    /// Keep the name as written in Prometheus formats (scenario-declared metrics): only
    /// invalid characters change, no unit or `_total` is added.
    pub verbatim: bool,
}

impl MetricDef {
    /// A definition.
    pub fn new(name: &str, description: &str, unit: &str, shape: Shape, integer: bool) -> Self {
        Self { name: name.into(), description: description.into(), unit: unit.into(), shape, integer, verbatim: false }
    }

    /// The same, named as written in Prometheus formats.
    pub fn verbatim(mut self) -> Self {
        self.verbatim = true;
        self
    }

    /// The Prometheus metric family name.
    pub fn prometheus_name(&self) -> String {
        if self.verbatim {
            sanitize(&self.name, true)
        } else {
            prometheus_name(&self.name, &self.unit, self.shape == Shape::Counter)
        }
    }

    /// The Prometheus type: a counter named without `_total` as written is `untyped`
    /// (Prometheus tooling wants counters to end in `_total`).
    pub fn prometheus_type(&self) -> &'static str {
        match self.shape {
            Shape::Counter if self.prometheus_name().ends_with("_total") => "counter",
            Shape::Counter => "untyped",
            Shape::Gauge => "gauge",
            Shape::Histogram(_) => "histogram",
        }
    }
}

/// Price of a model's tokens, in USD per million: the one type of the metrics' cost, a
/// scenario's `pricing:` and `report cost`.
#[derive(Debug, Clone, PartialEq)]
pub struct Price {
    /// Model name as in `gen_ai.request.model`.
    pub model: String,
    /// USD per million input tokens.
    pub input_per_million: f64,
    /// USD per million output tokens.
    pub output_per_million: f64,
}

/// Example prices (USD per million tokens) for a few common models. They are examples to
/// make cost dashboards move, not a price list: set your own with `pricing:`.
pub fn default_prices() -> Vec<Price> {
    [
        ("gpt-4o", 2.5, 10.0),
        ("gpt-4o-mini", 0.15, 0.6),
        ("gpt-4.1", 2.0, 8.0),
        ("gpt-4.1-mini", 0.4, 1.6),
        ("claude-sonnet-4", 3.0, 15.0),
        ("claude-3-5-haiku", 0.8, 4.0),
        ("gemini-2.5-flash", 0.3, 2.5),
    ]
    .into_iter()
    .map(|(m, i, o)| Price { model: m.into(), input_per_million: i, output_per_million: o })
    .collect()
}

/// Bucket bounds of the spanmetrics connector's default histogram, in seconds (its
/// `histogram.unit: s` form; Prometheus wants base units).
pub const SPAN_DURATION_BOUNDS_S: &[f64] =
    &[0.002, 0.004, 0.006, 0.008, 0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.4, 2.0, 5.0, 10.0, 15.0];
/// Advised buckets of `gen_ai.client.operation.duration` (s).
pub const GENAI_DURATION_BOUNDS_S: &[f64] =
    &[0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
/// Advised buckets of `gen_ai.client.token.usage` (tokens).
pub const GENAI_TOKEN_BOUNDS: &[f64] = &[
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0,
    67108864.0,
];

/// The metrics derived from spans, in this order.
pub fn derived_defs() -> Vec<MetricDef> {
    vec![
        MetricDef::new("calls", "Spans, by name, kind and status.", "1", Shape::Counter, true),
        MetricDef::new(
            "duration",
            "Span durations, by name, kind and status.",
            "s",
            Shape::Histogram(SPAN_DURATION_BOUNDS_S.to_vec()),
            false,
        ),
        MetricDef::new(
            "gen_ai.client.operation.duration",
            "GenAI operation duration.",
            "s",
            Shape::Histogram(GENAI_DURATION_BOUNDS_S.to_vec()),
            false,
        ),
        MetricDef::new(
            "gen_ai.client.token.usage",
            "Number of input and output tokens used.",
            "{token}",
            Shape::Histogram(GENAI_TOKEN_BOUNDS.to_vec()),
            true,
        ),
        MetricDef::new(
            "llm.cost",
            "Cost of model calls in USD, by model (tokens × price).",
            "{USD}",
            Shape::Counter,
            false,
        ),
        MetricDef::new("llm.tokens", "Tokens used, by model and token type.", "{token}", Shape::Counter, true),
        MetricDef::new(
            "policy.decisions",
            "Policy decisions, by type, result and policy.",
            "{decision}",
            Shape::Counter,
            true,
        ),
    ]
}
const CALLS: u16 = 0;
const DURATION: u16 = 1;
const GENAI_DURATION: u16 = 2;
const GENAI_TOKENS: u16 = 3;
const LLM_COST: u16 = 4;
const LLM_TOKENS: u16 = 5;
const POLICY_DECISIONS: u16 = 6;

/// Operations that are model calls (the GenAI client metrics are about those).
const MODEL_OPERATIONS: &[&str] = &["chat", "text_completion", "generate_content", "embeddings"];

#[derive(Debug, Clone)]
struct Exemplar {
    time_ns: u64,
    value: f64,
    trace_id: [u8; 16],
    span_id: [u8; 8],
}

#[derive(Debug, Clone)]
struct Series {
    metric: u16,
    resource: u32,
    attrs: Vec<(String, String)>,
    count: u64,
    /// The sum (a gauge: the value), compensated: `raw + comp`.
    sum: f64,
    /// Plain running sum and its Neumaier compensation, so that 50 × $0.10 reads 5, not
    /// 4.999999999999998.
    raw: f64,
    comp: f64,
    min: f64,
    max: f64,
    buckets: Vec<u64>,
    exemplar: Option<Exemplar>,
}

/// Resource id → metrics (definition index → series indexes).
type Layout = Vec<(u32, Vec<(u16, Vec<usize>)>)>;

/// Cumulative aggregation of metrics over the traces of a run.
#[derive(Debug)]
pub struct MetricsAgg {
    defs: Vec<MetricDef>,
    prices: Vec<Price>,
    series: Vec<Series>,
    index: HashMap<String, usize>,
    key: String,
    /// Resource id → the id its series are recorded under (see [`MetricsAgg::merge_alike_resources`]).
    alias: Vec<u32>,
}

impl Default for MetricsAgg {
    fn default() -> Self {
        Self::new()
    }
}

fn kind_name(k: SpanKind) -> &'static str {
    match k {
        SpanKind::Unspecified => "SPAN_KIND_UNSPECIFIED",
        SpanKind::Internal => "SPAN_KIND_INTERNAL",
        SpanKind::Server => "SPAN_KIND_SERVER",
        SpanKind::Client => "SPAN_KIND_CLIENT",
        SpanKind::Producer => "SPAN_KIND_PRODUCER",
        SpanKind::Consumer => "SPAN_KIND_CONSUMER",
    }
}

fn status_name(s: StatusCode) -> &'static str {
    match s {
        StatusCode::Unset => "STATUS_CODE_UNSET",
        StatusCode::Ok => "STATUS_CODE_OK",
        StatusCode::Error => "STATUS_CODE_ERROR",
    }
}

/// Encodes the cumulative metrics of a run as of one time: the trait an output implements
/// when it has an encoding of its own (the built-in encodings are methods of [`MetricsAgg`]).
pub trait MetricsEncoder {
    /// Writes `agg` as of `time_ns` (cumulative since `start_ns`) into `out` (cleared first);
    /// returns how many items (data points, samples, lines) the payload holds.
    fn encode(
        &mut self,
        agg: &MetricsAgg,
        resources: &Resources,
        start_ns: u64,
        time_ns: u64,
        out: &mut Vec<u8>,
    ) -> u64;
}

impl MetricsAgg {
    /// An empty aggregation with the derived metrics and the example prices.
    pub fn new() -> Self {
        Self {
            defs: derived_defs(),
            prices: default_prices(),
            series: Vec::new(),
            index: HashMap::new(),
            key: String::new(),
            alias: Vec::new(),
        }
    }

    /// Records the series of alike resources (the same attributes, see
    /// [`Resources::first_alike`]) under the first of them, so that each cumulative series has
    /// one identity: two scenarios of one service count into one series (as the Prometheus
    /// exposition adds them), not two series of the same name, resource and attributes that a
    /// backend would read as one counter resetting. Runs whose resources all differ record
    /// as before.
    pub fn merge_alike_resources(&mut self, resources: &Resources) {
        self.alias = resources.first_alike();
    }

    /// Sets the price of models (replacing the example price of the same model).
    pub fn set_price(&mut self, p: Price) {
        self.prices.retain(|q| q.model != p.model);
        self.prices.push(p);
    }

    /// The price of `model`'s tokens: (USD per million input, per million output).
    pub fn price_of(&self, model: &str) -> Option<(f64, f64)> {
        self.prices.iter().find(|p| p.model == model).map(|p| (p.input_per_million, p.output_per_million))
    }

    /// Why `def` cannot join the defined metrics: another metric of its name has another
    /// shape, or another name gives the same Prometheus name.
    pub fn clash(&self, def: &MetricDef) -> Option<String> {
        let prom = def.prometheus_name();
        for d in &self.defs {
            if d.name == def.name && d.shape != def.shape {
                return Some(format!("metric `{}` is declared twice with different kinds or buckets", def.name));
            }
            if d.name != def.name && d.prometheus_name() == prom {
                return Some(format!(
                    "metric `{}` would be exposed as `{prom}`, the Prometheus name of metric `{}`{}; choose another name",
                    def.name,
                    d.name,
                    if d.verbatim { "" } else { " (derived from spans)" }
                ));
            }
        }
        None
    }

    /// Adds a metric definition (or finds the one of that name); returns its index. Scenarios
    /// declare at most 10,000 metrics of a kind, so the index fits (it saturates otherwise).
    pub fn define(&mut self, def: MetricDef) -> u16 {
        let i = match self.defs.iter().position(|d| d.name == def.name) {
            Some(i) => i,
            None => {
                self.defs.push(def);
                self.defs.len() - 1
            }
        };
        u16::try_from(i).unwrap_or(u16::MAX)
    }

    /// Records `value` for metric `metric` with `labels` (a counter adds it, a gauge sets
    /// it, a histogram observes it), optionally with the span that produced it.
    pub fn record_labeled(
        &mut self,
        metric: u16,
        resource: u32,
        labels: &[(String, String)],
        value: f64,
        exemplar: Option<([u8; 16], [u8; 8], u64)>,
    ) {
        let ex = exemplar.map(|(trace_id, span_id, time_ns)| Exemplar { time_ns, value, trace_id, span_id });
        let borrowed: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.record(metric, resource, &borrowed, value, ex);
    }

    /// Forgets the histograms' exemplars, so that the next export carries only spans observed
    /// after this one.
    pub fn clear_exemplars(&mut self) {
        for s in &mut self.series {
            s.exemplar = None;
        }
    }

    /// Data points an export would hold now.
    pub fn points(&self) -> usize {
        self.series.len()
    }

    /// Adds `value` to the series of (`metric`, `resource`, `labels`). Labels are borrowed:
    /// they are copied only when the series is new, so a known series costs no allocation.
    fn record(&mut self, metric: u16, resource: u32, labels: &[(&str, &str)], value: f64, ex: Option<Exemplar>) {
        let resource = self.alias.get(resource as usize).copied().unwrap_or(resource);
        self.key.clear();
        let _ = std::fmt::Write::write_fmt(&mut self.key, format_args!("{metric}\u{1f}{resource}"));
        for (k, v) in labels {
            self.key.push('\u{1f}');
            self.key.push_str(k);
            self.key.push('=');
            self.key.push_str(v);
        }
        let idx = match self.index.get(self.key.as_str()) {
            Some(i) => *i,
            None => {
                let buckets = match &self.defs[metric as usize].shape {
                    Shape::Histogram(b) => vec![0; b.len() + 1],
                    Shape::Counter | Shape::Gauge => Vec::new(),
                };
                self.series.push(Series {
                    metric,
                    resource,
                    attrs: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                    count: 0,
                    sum: 0.0,
                    raw: 0.0,
                    comp: 0.0,
                    min: f64::INFINITY,
                    max: f64::NEG_INFINITY,
                    buckets,
                    exemplar: None,
                });
                self.index.insert(self.key.clone(), self.series.len() - 1);
                self.series.len() - 1
            }
        };
        let s = &mut self.series[idx];
        s.count += 1;
        match &self.defs[metric as usize].shape {
            Shape::Gauge => s.sum = value,
            _ => {
                let t = s.raw + value;
                s.comp += if s.raw.abs() >= value.abs() { (s.raw - t) + value } else { (value - t) + s.raw };
                s.raw = t;
                s.sum = t + s.comp;
            }
        }
        s.min = s.min.min(value);
        s.max = s.max.max(value);
        if let Shape::Histogram(bounds) = &self.defs[metric as usize].shape {
            // Buckets are (previous bound, bound]; the last one is everything above.
            let b = bounds.iter().position(|b| value <= *b).unwrap_or(bounds.len());
            s.buckets[b] += 1;
            s.exemplar = ex;
        }
    }

    /// Adds the spans of `t`, whose resource is `resource`.
    pub fn add(&mut self, resource: u32, t: &TraceBuf<'_>) {
        for i in 0..t.spans.len() {
            self.add_span(resource, t, i);
        }
    }

    /// Adds span `i` of `t` (when it ends), whose resource is `resource`.
    pub fn add_span(&mut self, resource: u32, t: &TraceBuf<'_>, i: usize) {
        {
            let span = &t.spans[i];
            let dur_ns = span.end_ns - span.start_ns;
            let ex = |value: f64| Exemplar { time_ns: span.end_ns, value, trace_id: t.trace_id, span_id: span.span_id };
            let labels = [
                ("span.name", t.str(&span.name)),
                ("span.kind", kind_name(span.kind)),
                ("status.code", status_name(span.status)),
            ];
            self.record(CALLS, resource, &labels, 1.0, None);
            let secs = f64_of(dur_ns) / 1e9;
            self.record(DURATION, resource, &labels, secs, Some(ex(secs)));

            let attrs = t.attrs_of(span.attrs);
            let text = |k: &str| {
                attrs.iter().find(|kv| kv.key == k).and_then(|kv| match kv.value {
                    AnyValue::Str(s) => Some(t.str(&s)),
                    _ => None,
                })
            };
            // A policy decision shows on its span (`policy.decision.*` attributes).
            if let Some(result) = text("policy.decision.result") {
                let mut labels = [("policy.decision.result", result), ("", ""), ("", "")];
                let mut n = 1;
                for k in ["policy.decision.type", "policy.name"] {
                    if let Some(v) = text(k) {
                        labels[n] = (k, v);
                        n += 1;
                    }
                }
                self.record(POLICY_DECISIONS, resource, &labels[..n], 1.0, None);
            }
            let Some(op) = text("gen_ai.operation.name") else { return };
            if !MODEL_OPERATIONS.contains(&op) {
                return;
            }
            // operation, provider?, model?, then error.type or gen_ai.token.type
            let mut base = [("", ""); 4];
            let mut n = 0;
            for (k, v) in [
                ("gen_ai.operation.name", Some(op)),
                ("gen_ai.provider.name", text("gen_ai.provider.name").or_else(|| text("gen_ai.system"))),
                ("gen_ai.request.model", text("gen_ai.request.model")),
            ] {
                if let Some(v) = v {
                    base[n] = (k, v);
                    n += 1;
                }
            }
            let model = text("gen_ai.request.model");
            if span.status == StatusCode::Error {
                base[n] = ("error.type", text("error.type").unwrap_or("_OTHER"));
                self.record(GENAI_DURATION, resource, &base[..n + 1], secs, Some(ex(secs)));
            } else {
                self.record(GENAI_DURATION, resource, &base[..n], secs, Some(ex(secs)));
            }
            let price = model
                .and_then(|m| self.prices.iter().find(|p| p.model == m))
                .map(|p| (p.input_per_million, p.output_per_million));
            let mut cost = 0.0;
            for (key, ty) in [("gen_ai.usage.input_tokens", "input"), ("gen_ai.usage.output_tokens", "output")] {
                let tokens = attrs.iter().find(|kv| kv.key == key).and_then(|kv| match kv.value {
                    AnyValue::Int(i) => Some(f64_of_i64(i)),
                    AnyValue::Double(d) => Some(d),
                    _ => None,
                });
                if let Some(v) = tokens {
                    base[n] = ("gen_ai.token.type", ty);
                    self.record(GENAI_TOKENS, resource, &base[..n + 1], v, Some(ex(v)));
                    if let Some(m) = model {
                        self.record(
                            LLM_TOKENS,
                            resource,
                            &[("gen_ai.request.model", m), ("gen_ai.token.type", ty)],
                            v,
                            None,
                        );
                    }
                    if let Some((input, output)) = price {
                        cost += v * if ty == "input" { input } else { output } / 1e6;
                    }
                }
            }
            if let (Some(m), Some(_)) = (model, price) {
                self.record(LLM_COST, resource, &[("gen_ai.request.model", m)], cost, None);
            }
        }
    }

    /// Resources in order of first appearance, each with its metrics in definition order.
    fn layout(&self) -> Layout {
        let mut out: Layout = Vec::new();
        for (i, s) in self.series.iter().enumerate() {
            let r = match out.iter().position(|(r, _)| *r == s.resource) {
                Some(p) => p,
                None => {
                    out.push((s.resource, Vec::new()));
                    out.len() - 1
                }
            };
            let ms = &mut out[r].1;
            match ms.iter().position(|(m, _)| *m == s.metric) {
                Some(p) => ms[p].1.push(i),
                None => ms.push((s.metric, vec![i])),
            }
        }
        for (_, ms) in &mut out {
            ms.sort_by_key(|(m, _)| *m);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Resource;

    #[test]
    fn alike_resources_count_into_one_series_and_others_stay_apart() {
        let res = |name: &str, extra: Option<&str>| {
            let mut attrs = vec![("service.name".to_string(), OwnedValue::Str(name.into()))];
            if let Some(x) = extra {
                attrs.insert(0, ("deployment.environment".into(), OwnedValue::Str(x.into())));
            }
            Resource { attrs }
        };
        // 0 and 2 are alike (attributes in another order are the same resource); 1 is another
        // service, 3 the same service elsewhere.
        let mut r3 = res("a", Some("prod"));
        r3.attrs.reverse();
        let resources = Resources {
            list: vec![res("a", Some("prod")), res("b", None), r3, res("a", Some("dev"))],
            ..Resources::default()
        };
        assert_eq!(resources.first_alike(), vec![0, 1, 0, 3]);
        let mut agg = MetricsAgg::new();
        agg.merge_alike_resources(&resources);
        let labels = [("span.name".to_string(), "x".to_string())];
        for r in 0..4 {
            agg.record_labeled(CALLS, r, &labels, 1.0, None);
        }
        assert_eq!(agg.points(), 3);
        let merged: Vec<(u32, f64)> = agg.series.iter().map(|s| (s.resource, s.sum)).collect();
        assert_eq!(merged, vec![(0, 2.0), (1, 1.0), (3, 1.0)]);
    }

    #[test]
    fn names_follow_the_collector_exporter() {
        assert_eq!(prometheus_name("calls", "1", true), "calls_total");
        assert_eq!(prometheus_name("duration", "ms", false), "duration_milliseconds");
        assert_eq!(
            prometheus_name("gen_ai.client.operation.duration", "s", false),
            "gen_ai_client_operation_duration_seconds"
        );
        assert_eq!(prometheus_name("gen_ai.client.token.usage", "{token}", false), "gen_ai_client_token_usage");
        assert_eq!(prometheus_name("llm_cost_total", "", true), "llm_cost_total");
        assert_eq!(sanitize("2xx.rate", true), "_2xx_rate");
    }
}
