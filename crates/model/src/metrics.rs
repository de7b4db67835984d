//! Metrics derived from generated spans, in simulated time, with cumulative temporality:
//! span-metrics (`calls`, `duration` per span name, kind and status, as the collector's
//! `spanmetrics` connector names them) and the OpenTelemetry GenAI client histograms
//! (`gen_ai.client.operation.duration`, `gen_ai.client.token.usage`, with the buckets the
//! semantic conventions advise). Histogram points carry the latest exemplar (trace and span
//! that produced a value). Encoded directly as OTLP protobuf or OTLP/JSON.

use std::collections::HashMap;
use std::io::Write;

use crate::hex::push_hex;
use crate::otlp_json::{write_f64, write_str};
use crate::proto::*;
use crate::trace::{AnyValue, OwnedValue, Resources, SpanKind, StatusCode, TraceBuf};

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

/// Price of a model's tokens, in USD per million.
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
    ]
}
const CALLS: u16 = 0;
const DURATION: u16 = 1;
const GENAI_DURATION: u16 = 2;
const GENAI_TOKENS: u16 = 3;
const LLM_COST: u16 = 4;
const LLM_TOKENS: u16 = 5;

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

impl MetricsAgg {
    /// An empty aggregation with the derived metrics and the example prices.
    pub fn new() -> Self {
        Self {
            defs: derived_defs(),
            prices: default_prices(),
            series: Vec::new(),
            index: HashMap::new(),
            key: String::new(),
        }
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

    /// Adds a metric definition (or finds the one of that name); returns its index.
    pub fn define(&mut self, def: MetricDef) -> u16 {
        match self.defs.iter().position(|d| d.name == def.name) {
            Some(i) => i as u16,
            None => {
                self.defs.push(def);
                (self.defs.len() - 1) as u16
            }
        }
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

    /// Data points an export would hold now.
    pub fn points(&self) -> usize {
        self.series.len()
    }

    /// Adds `value` to the series of (`metric`, `resource`, `labels`). Labels are borrowed:
    /// they are copied only when the series is new, so a known series costs no allocation.
    fn record(&mut self, metric: u16, resource: u32, labels: &[(&str, &str)], value: f64, ex: Option<Exemplar>) {
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
        for span in &t.spans {
            let dur_ns = span.end_ns - span.start_ns;
            let ex = |value: f64| Exemplar { time_ns: span.end_ns, value, trace_id: t.trace_id, span_id: span.span_id };
            let labels = [
                ("span.name", t.str(&span.name)),
                ("span.kind", kind_name(span.kind)),
                ("status.code", status_name(span.status)),
            ];
            self.record(CALLS, resource, &labels, 1.0, None);
            let secs = dur_ns as f64 / 1e9;
            self.record(DURATION, resource, &labels, secs, Some(ex(secs)));

            let attrs = t.attrs_of(span.attrs);
            let text = |k: &str| {
                attrs.iter().find(|kv| kv.key == k).and_then(|kv| match kv.value {
                    AnyValue::Str(s) => Some(t.str(&s)),
                    _ => None,
                })
            };
            let Some(op) = text("gen_ai.operation.name") else { continue };
            if !MODEL_OPERATIONS.contains(&op) {
                continue;
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
                    AnyValue::Int(i) => Some(i as f64),
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

    /// An `ExportMetricsServiceRequest` of every series, cumulative from `start_ns` to `time_ns`.
    pub fn encode_proto(&self, resources: &Resources, start_ns: u64, time_ns: u64, out: &mut Vec<u8>) {
        out.clear();
        let mut scope = Vec::new();
        put_len_field(&mut scope, 1, resources.scope.name.as_bytes());
        put_len_field(&mut scope, 2, resources.scope.version.as_bytes());
        for (r, metrics) in self.layout() {
            let mut res = Vec::new();
            for (k, v) in &resources.list[r as usize].attrs {
                put_kv_owned(&mut res, 1, k, v);
            }
            let mut sm = Vec::new();
            put_len_field(&mut sm, 1, &scope);
            for (m, idx) in metrics {
                let def = &self.defs[m as usize];
                let mut metric = Vec::new();
                put_len_field(&mut metric, 1, def.name.as_bytes());
                if !def.description.is_empty() {
                    put_len_field(&mut metric, 2, def.description.as_bytes());
                }
                if !def.unit.is_empty() {
                    put_len_field(&mut metric, 3, def.unit.as_bytes());
                }
                let mut data = Vec::new();
                for i in idx {
                    let s = &self.series[i];
                    let mut p = Vec::new();
                    match &def.shape {
                        Shape::Counter | Shape::Gauge => {
                            // Gauges have no start time: a point is a reading at `time`.
                            if def.shape == Shape::Counter {
                                put_fixed64(&mut p, 2, start_ns);
                            }
                            put_fixed64(&mut p, 3, time_ns);
                            if def.integer {
                                put_tag(&mut p, 6, FIXED64);
                                p.extend_from_slice(&(s.sum.round() as i64).to_le_bytes());
                            } else {
                                put_fixed64(&mut p, 4, s.sum.to_bits());
                            }
                            for (k, v) in &s.attrs {
                                put_kv_owned(&mut p, 7, k, &OwnedValue::Str(v.clone()));
                            }
                        }
                        Shape::Histogram(bounds) => {
                            put_fixed64(&mut p, 2, start_ns);
                            put_fixed64(&mut p, 3, time_ns);
                            put_fixed64(&mut p, 4, s.count);
                            put_fixed64(&mut p, 5, s.sum.to_bits());
                            put_tag(&mut p, 6, LEN);
                            put_varint(&mut p, 8 * s.buckets.len() as u64);
                            for b in &s.buckets {
                                p.extend_from_slice(&b.to_le_bytes());
                            }
                            put_tag(&mut p, 7, LEN);
                            put_varint(&mut p, 8 * bounds.len() as u64);
                            for b in bounds {
                                p.extend_from_slice(&b.to_bits().to_le_bytes());
                            }
                            if let Some(e) = &s.exemplar {
                                let mut x = Vec::new();
                                put_fixed64(&mut x, 2, e.time_ns);
                                put_fixed64(&mut x, 3, e.value.to_bits());
                                put_len_field(&mut x, 4, &e.span_id);
                                put_len_field(&mut x, 5, &e.trace_id);
                                put_len_field(&mut p, 8, &x);
                            }
                            for (k, v) in &s.attrs {
                                put_kv_owned(&mut p, 9, k, &OwnedValue::Str(v.clone()));
                            }
                            put_fixed64(&mut p, 11, s.min.to_bits());
                            put_fixed64(&mut p, 12, s.max.to_bits());
                        }
                    }
                    put_len_field(&mut data, 1, &p);
                }
                match &def.shape {
                    Shape::Gauge => put_len_field(&mut metric, 5, &data),
                    Shape::Counter => {
                        // aggregation_temporality = CUMULATIVE (2), is_monotonic
                        put_tag(&mut data, 2, VARINT);
                        put_varint(&mut data, 2);
                        put_tag(&mut data, 3, VARINT);
                        put_varint(&mut data, 1);
                        put_len_field(&mut metric, 7, &data);
                    }
                    Shape::Histogram(_) => {
                        put_tag(&mut data, 2, VARINT);
                        put_varint(&mut data, 2);
                        put_len_field(&mut metric, 9, &data);
                    }
                }
                put_len_field(&mut sm, 2, &metric);
            }
            let mut rm = Vec::new();
            put_len_field(&mut rm, 1, &res);
            put_len_field(&mut rm, 2, &sm);
            put_len_field(out, 1, &rm);
        }
    }

    /// The same as OTLP/JSON.
    pub fn encode_json(&self, resources: &Resources, start_ns: u64, time_ns: u64, o: &mut Vec<u8>) {
        o.clear();
        o.extend_from_slice(b"{\"resourceMetrics\":[");
        for (ri, (r, metrics)) in self.layout().into_iter().enumerate() {
            if ri > 0 {
                o.push(b',');
            }
            o.extend_from_slice(b"{\"resource\":{\"attributes\":[");
            for (j, (k, v)) in resources.list[r as usize].attrs.iter().enumerate() {
                if j > 0 {
                    o.push(b',');
                }
                crate::otlp_json::write_owned_kv(o, k, v);
            }
            o.extend_from_slice(b"]},\"scopeMetrics\":[{\"scope\":{\"name\":");
            write_str(o, &resources.scope.name);
            o.extend_from_slice(b",\"version\":");
            write_str(o, &resources.scope.version);
            o.extend_from_slice(b"},\"metrics\":[");
            for (mi, (m, idx)) in metrics.into_iter().enumerate() {
                let def = &self.defs[m as usize];
                if mi > 0 {
                    o.push(b',');
                }
                o.extend_from_slice(b"{\"name\":");
                write_str(o, &def.name);
                o.extend_from_slice(b",\"description\":");
                write_str(o, &def.description);
                o.extend_from_slice(b",\"unit\":");
                write_str(o, &def.unit);
                o.extend_from_slice(match def.shape {
                    Shape::Counter => b",\"sum\":{\"dataPoints\":[".as_slice(),
                    Shape::Gauge => b",\"gauge\":{\"dataPoints\":[".as_slice(),
                    Shape::Histogram(_) => b",\"histogram\":{\"dataPoints\":[".as_slice(),
                });
                for (pi, i) in idx.into_iter().enumerate() {
                    let s = &self.series[i];
                    if pi > 0 {
                        o.push(b',');
                    }
                    o.extend_from_slice(b"{\"attributes\":[");
                    for (j, (k, v)) in s.attrs.iter().enumerate() {
                        if j > 0 {
                            o.push(b',');
                        }
                        crate::otlp_json::write_owned_kv(o, k, &OwnedValue::Str(v.clone()));
                    }
                    if def.shape == Shape::Gauge {
                        let _ = write!(o, "],\"timeUnixNano\":\"{time_ns}\"");
                    } else {
                        let _ = write!(o, "],\"startTimeUnixNano\":\"{start_ns}\",\"timeUnixNano\":\"{time_ns}\"");
                    }
                    match &def.shape {
                        Shape::Counter | Shape::Gauge => {
                            if def.integer {
                                let _ = write!(o, ",\"asInt\":\"{}\"}}", s.sum.round() as i64);
                            } else {
                                o.extend_from_slice(b",\"asDouble\":");
                                write_f64(o, s.sum);
                                o.push(b'}');
                            }
                        }
                        Shape::Histogram(bounds) => {
                            let _ = write!(o, ",\"count\":\"{}\",\"sum\":", s.count);
                            write_f64(o, s.sum);
                            o.extend_from_slice(b",\"bucketCounts\":[");
                            for (j, b) in s.buckets.iter().enumerate() {
                                if j > 0 {
                                    o.push(b',');
                                }
                                let _ = write!(o, "\"{b}\"");
                            }
                            o.extend_from_slice(b"],\"explicitBounds\":[");
                            for (j, b) in bounds.iter().enumerate() {
                                if j > 0 {
                                    o.push(b',');
                                }
                                write_f64(o, *b);
                            }
                            o.push(b']');
                            if let Some(e) = &s.exemplar {
                                let _ = write!(o, ",\"exemplars\":[{{\"timeUnixNano\":\"{}\",\"asDouble\":", e.time_ns);
                                write_f64(o, e.value);
                                o.extend_from_slice(b",\"spanId\":\"");
                                push_hex(o, &e.span_id);
                                o.extend_from_slice(b"\",\"traceId\":\"");
                                push_hex(o, &e.trace_id);
                                o.extend_from_slice(b"\"}]");
                            }
                            o.extend_from_slice(b",\"min\":");
                            write_f64(o, s.min);
                            o.extend_from_slice(b",\"max\":");
                            write_f64(o, s.max);
                            o.push(b'}');
                        }
                    }
                }
                o.push(b']');
                if def.shape != Shape::Gauge {
                    o.extend_from_slice(b",\"aggregationTemporality\":2");
                }
                if def.shape == Shape::Counter {
                    o.extend_from_slice(b",\"isMonotonic\":true");
                }
                o.extend_from_slice(b"}}");
            }
            o.extend_from_slice(b"]}]}");
        }
        o.extend_from_slice(b"]}");
    }
}

fn put_kv_owned(b: &mut Vec<u8>, field: u32, key: &str, v: &OwnedValue) {
    crate::otlp_proto::put_owned_kv(b, field, key, v);
}

/// A Prometheus metric name for an OTLP name, unit and shape, as the collector's
/// Prometheus exporter builds it: invalid characters become `_`, the unit is spelled out
/// and appended (`ms` → `_milliseconds`, `s` → `_seconds`; `{…}` annotations and `1` are
/// dropped), and monotonic counters end in `_total`.
pub fn prometheus_name(name: &str, unit: &str, counter: bool) -> String {
    let mut out = sanitize(name, true);
    let unit_name = match unit {
        "" | "1" => "",
        u if u.starts_with('{') => "",
        "ms" => "milliseconds",
        "s" => "seconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "min" => "minutes",
        "h" => "hours",
        "d" => "days",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "%" => "percent",
        other => other,
    };
    if !unit_name.is_empty() {
        let u = sanitize(unit_name, false);
        if !out.ends_with(&format!("_{u}")) {
            out.push('_');
            out.push_str(&u);
        }
    }
    if counter && !out.ends_with("_total") {
        out.push_str("_total");
    }
    out
}

/// Replaces characters Prometheus does not allow in names with `_`.
pub fn sanitize(s: &str, metric: bool) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || (metric && c == ':') { c } else { '_' })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) || out.is_empty() {
        out.insert(0, '_');
    }
    out
}

fn escape_label(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A series as Prometheus sees it, after merging resources with the same labels.
#[derive(Debug, Clone, Default)]
struct Merged {
    count: u64,
    sum: f64,
    buckets: Vec<u64>,
}

/// (metric definition, sorted Prometheus labels) → merged values.
type MergedSeries = std::collections::BTreeMap<(u16, Vec<(String, String)>), Merged>;

impl MetricsAgg {
    /// Series keyed by their Prometheus labels (resource labels plus attributes, sorted);
    /// series of different resources with the same labels are added together.
    fn merged(&self, resources: &Resources) -> MergedSeries {
        let mut merged = MergedSeries::new();
        for s in &self.series {
            let mut labels: Vec<(String, String)> = resource_labels(resources, s.resource);
            labels.extend(s.attrs.iter().map(|(k, v)| (sanitize(k, false), v.clone())));
            labels.sort();
            labels.dedup_by(|a, b| a.0 == b.0);
            let e = merged
                .entry((s.metric, labels))
                .or_insert_with(|| Merged { buckets: vec![0; s.buckets.len()], ..Merged::default() });
            e.count += s.count;
            e.sum += s.sum;
            for (a, b) in e.buckets.iter_mut().zip(&s.buckets) {
                *a += b;
            }
        }
        merged
    }
}

/// Resource attributes that become labels of the exposition (the rest describe the process).
fn resource_labels(resources: &Resources, r: u32) -> Vec<(String, String)> {
    resources.list[r as usize]
        .attrs
        .iter()
        .filter(|(k, _)| k == "service.name" || k == "service.namespace" || k.ends_with("tenant.id"))
        .filter_map(|(k, v)| match v {
            OwnedValue::Str(s) => Some((sanitize(k, false), s.clone())),
            _ => None,
        })
        .collect()
}

impl MetricsAgg {
    /// The Prometheus text exposition (format 0.0.4) of every series. Series whose labels
    /// coincide (same span names in two resources of one service) are added together.
    pub fn encode_prometheus(&self, resources: &Resources, out: &mut Vec<u8>) {
        use std::fmt::Write as _;
        let merged = self.merged(resources);
        let mut o = String::new();
        let mut last: Option<u16> = None;
        for ((m, label_list), Merged { count, sum, buckets }) in &merged {
            let def = &self.defs[*m as usize];
            let mut labels = String::new();
            for (i, (k, v)) in label_list.iter().enumerate() {
                if i > 0 {
                    labels.push(',');
                }
                labels.push_str(k);
                labels.push_str("=\"");
                escape_label(v, &mut labels);
                labels.push('"');
            }
            let name = def.prometheus_name();
            if last != Some(*m) {
                let _ = writeln!(o, "# HELP {name} {}", def.description);
                let _ = writeln!(o, "# TYPE {name} {}", def.prometheus_type());
                last = Some(*m);
            }
            let sep = if labels.is_empty() { "" } else { "," };
            match &def.shape {
                Shape::Counter | Shape::Gauge => {
                    let _ = writeln!(o, "{name}{{{labels}}} {sum}");
                }
                Shape::Histogram(bounds) => {
                    let mut cum = 0;
                    for (b, n) in bounds.iter().zip(buckets) {
                        cum += n;
                        let _ = writeln!(o, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cum}");
                    }
                    let _ = writeln!(o, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
                    let _ = writeln!(o, "{name}_sum{{{labels}}} {sum}");
                    let _ = writeln!(o, "{name}_count{{{labels}}} {count}");
                }
            }
        }
        out.clear();
        out.extend_from_slice(o.as_bytes());
    }
}

impl MetricsAgg {
    /// The Prometheus series of the exposition, flattened (`_total`, `_bucket{le}`, `_sum`,
    /// `_count`), each with its sorted labels (`__name__` included) and current value.
    pub fn prometheus_series(&self, resources: &Resources) -> Vec<(Vec<(String, String)>, f64)> {
        let merged = self.merged(resources);
        let mut out = Vec::new();
        let with = |labels: &[(String, String)], name: String, extra: Option<(&str, String)>| {
            let mut l: Vec<(String, String)> = labels.to_vec();
            l.push(("__name__".into(), name));
            if let Some((k, v)) = extra {
                l.push((k.into(), v));
            }
            l.sort();
            l
        };
        for ((m, labels), Merged { count, sum, buckets }) in merged {
            let def = &self.defs[m as usize];
            match &def.shape {
                Shape::Counter | Shape::Gauge => out.push((with(&labels, def.prometheus_name(), None), sum)),
                Shape::Histogram(bounds) => {
                    let name = def.prometheus_name();
                    let mut cum = 0;
                    for (b, n) in bounds.iter().zip(&buckets) {
                        cum += n;
                        out.push((with(&labels, format!("{name}_bucket"), Some(("le", b.to_string()))), cum as f64));
                    }
                    out.push((with(&labels, format!("{name}_bucket"), Some(("le", "+Inf".into()))), count as f64));
                    out.push((with(&labels, format!("{name}_sum"), None), sum));
                    out.push((with(&labels, format!("{name}_count"), None), count as f64));
                }
            }
        }
        out
    }

    /// A Prometheus remote-write `WriteRequest` (protobuf, uncompressed) with one sample per
    /// series at `time_ms`.
    pub fn encode_remote_write(&self, resources: &Resources, time_ms: i64, out: &mut Vec<u8>) -> usize {
        out.clear();
        let series = self.prometheus_series(resources);
        let mut ts = Vec::new();
        for (labels, value) in &series {
            ts.clear();
            for (k, v) in labels {
                let mut l = Vec::new();
                put_len_field(&mut l, 1, k.as_bytes());
                put_len_field(&mut l, 2, v.as_bytes());
                put_len_field(&mut ts, 1, &l);
            }
            let mut sample = Vec::new();
            put_fixed64(&mut sample, 1, value.to_bits());
            put_tag(&mut sample, 2, VARINT);
            put_varint(&mut sample, time_ms as u64);
            put_len_field(&mut ts, 2, &sample);
            put_len_field(out, 1, &ts);
        }
        series.len()
    }
}

fn escape_influx(s: &str, out: &mut String, measurement: bool) {
    for c in s.chars() {
        if c == ',' || c == ' ' || (!measurement && c == '=') || c == '\\' {
            out.push('\\');
        }
        if c == '\n' {
            out.push_str("\\n");
            continue;
        }
        out.push(c);
    }
}

impl MetricsAgg {
    /// InfluxDB line protocol, one line per Prometheus series at `time_ns`: the name's
    /// suffix becomes the field (`calls_total` → measurement `calls`, field `total`;
    /// `duration_seconds_bucket{le}` → `duration_seconds` `bucket` with an `le` tag), so a
    /// store that joins measurement and field with `_` (VictoriaMetrics) gets the
    /// Prometheus names back. Returns the number of lines.
    pub fn encode_influx(&self, resources: &Resources, time_ns: u64, out: &mut Vec<u8>) -> usize {
        use std::fmt::Write as _;
        out.clear();
        let series = self.prometheus_series(resources);
        let mut line = String::new();
        for (labels, value) in &series {
            let name = labels.iter().find(|(k, _)| k == "__name__").map(|(_, v)| v.as_str()).unwrap_or("metric");
            let (measurement, field) = ["_total", "_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suf| name.strip_suffix(suf).map(|m| (m, &suf[1..])))
                .unwrap_or((name, "value"));
            line.clear();
            escape_influx(measurement, &mut line, true);
            for (k, v) in labels {
                if k == "__name__" || v.is_empty() {
                    continue;
                }
                line.push(',');
                escape_influx(k, &mut line, false);
                line.push('=');
                escape_influx(v, &mut line, false);
            }
            let _ = writeln!(line, " {field}={value} {time_ns}");
            out.extend_from_slice(line.as_bytes());
        }
        series.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn influx_escapes_what_the_line_protocol_needs() {
        let mut s = String::new();
        escape_influx("a b,c=d", &mut s, false);
        assert_eq!(s, "a\\ b\\,c\\=d");
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
