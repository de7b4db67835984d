//! Scenario-declared metrics: which spans drive which metric points, and how gauges move.
//!
//! Counters and histograms are fed by the spans their binding selects (span-name glob,
//! error, attribute values, decision result); label values come from explicit templates or
//! from the span's attributes and its ancestors' (`agent_id` finds `gen_ai.agent.name`,
//! `status` is `success` or `error`, …). Gauges follow a process evaluated at each export's
//! simulated time. Everything is seeded: same run, same points.

use rand::Rng;
use tsim_model::metrics::{MetricDef, MetricsAgg, Shape};
use tsim_model::num::{f64_of, f64_of_i64, f64_of_len, usize_of, usize_sat};
use tsim_model::{AnyValue, StatusCode, TraceBuf};
use tsim_scenario::{Binding, MetricKind, MetricSpec, MetricValue, Process, Stat, TemplatePart};

use crate::Engine;
use crate::rng::{splitmix64, trace_rng, unit};

/// `*` matches any run of characters; everything else matches itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            pi += 1;
            mark = ti;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == b'*')
}

/// Most values a statistic gauge keeps per series; beyond, a seeded reservoir sample.
const STAT_RESERVOIR: usize = 65_536;

#[derive(Debug)]
struct Declared {
    metric: u16,
    spec: MetricSpec,
    /// For a statistic gauge: the statistic, and per (resource, labels) the values seen.
    stat: Option<Stat>,
    samples: Vec<StatSeries>,
}

#[derive(Debug)]
struct StatSeries {
    resource: u32,
    labels: Vec<(String, String)>,
    values: Vec<f64>,
    seen: u64,
    last: f64,
}

/// The statistic of `values` (not empty).
fn statistic(stat: Stat, values: &mut [f64], last: f64) -> f64 {
    match stat {
        Stat::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        Stat::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
        Stat::Mean => values.iter().sum::<f64>() / f64_of_len(values.len()),
        Stat::Last => last,
        Stat::Quantile(q) => {
            values.sort_by(f64::total_cmp);
            let pos = q * f64_of_len(values.len() - 1);
            let (lo, hi) = (usize_sat(pos.floor()), usize_sat(pos.ceil()));
            values[lo] + (values[hi] - values[lo]) * (pos - f64_of_len(lo))
        }
    }
}

/// How much faster a backlog drains once its outage is over (the consumer is back and
/// works through it) than it grew.
const DRAIN_SPEEDUP: f64 = 10.0;

/// What an outage does to a gauge while it lasts: (when, value it reads, growth per minute).
#[derive(Debug, Clone, Copy)]
struct Driven {
    timing: crate::incidents::Timing,
    value: Option<f64>,
    grow_per_minute: Option<f64>,
}

impl Driven {
    /// The gauge's value at `t` from its own `v`: set during a window, or grown by a backlog
    /// that builds during the window and drains [`DRAIN_SPEEDUP`] times as fast after it.
    fn apply(&self, t: u64, v: f64) -> f64 {
        let Some((_, s)) = self.timing.last_start(t) else { return v };
        let end = s.saturating_add(self.timing.dur_ns);
        let minutes = |ns: u64| f64_of(ns) / 60e9;
        let mut out = v;
        if t < end
            && let Some(x) = self.value
        {
            out = x;
        }
        if let Some(g) = self.grow_per_minute {
            let backlog = if t < end {
                g * minutes(t - s)
            } else {
                (g * minutes(end - s) - DRAIN_SPEEDUP * g * minutes(t - end)).max(0.0)
            };
            out += backlog;
        }
        out
    }
}

#[derive(Debug)]
struct Gauge {
    /// Outages that drive it.
    driven: Vec<Driven>,
    metric: u16,
    resource: u32,
    labels: Vec<(String, String)>,
    process: Process,
    walk: f64,
    salt: u64,
    in_flight: Vec<(u64, u64)>,
}

/// The declared metrics of a run.
#[derive(Debug, Default)]
pub struct DeclaredMetrics {
    per_scenario: Vec<Vec<Declared>>,
    gauges: Vec<(usize, Gauge)>,
    seed: u64,
    start_ns: u64,
    exports: u64,
    labels: Vec<(String, String)>,
}

fn kind_shape(spec: &MetricSpec) -> Shape {
    match spec.kind {
        MetricKind::Counter => Shape::Counter,
        MetricKind::Gauge => Shape::Gauge,
        MetricKind::Histogram => Shape::Histogram(spec.buckets.clone()),
    }
}

fn def_of(spec: &MetricSpec) -> MetricDef {
    let integer = spec.kind == MetricKind::Counter
        && matches!(spec.value, MetricValue::Constant(v) if v.fract() == 0.0)
        || matches!(spec.value, MetricValue::Tokens);
    MetricDef::new(&spec.name, &spec.description, &spec.unit, kind_shape(spec), integer).verbatim()
}

/// The label sets of a process gauge's series: its fixed `label_values`, then each of its
/// `series` (one series without any), in the declaration order of its labels.
pub(crate) fn series_labels(spec: &MetricSpec) -> Vec<Vec<(String, String)>> {
    let fixed: Vec<(String, String)> = spec
        .label_values
        .iter()
        .map(|(k, parts)| {
            let v: String = parts
                .iter()
                .map(|p| match p {
                    TemplatePart::Text(t) => t.as_str(),
                    TemplatePart::Ref(_) => "",
                })
                .collect();
            (k.clone(), v)
        })
        .collect();
    let series = if spec.series.is_empty() { vec![Vec::new()] } else { spec.series.clone() };
    series
        .into_iter()
        .map(|set| {
            let mut labels = fixed.clone();
            for (l, v) in set {
                match labels.iter_mut().find(|(k, _)| *k == l) {
                    Some(slot) => slot.1 = v,
                    None => labels.push((l, v)),
                }
            }
            labels.sort_by_key(|(l, _)| spec.labels.iter().position(|x| x == l));
            labels
        })
        .collect()
}

/// Whether an outage's gauge effect drives the series `labels` of gauge `name`.
pub(crate) fn drives(e: &tsim_scenario::GaugeEffect, name: &str, labels: &[(String, String)]) -> bool {
    glob(&e.metric, name) && e.labels.iter().all(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
}

/// Checks that the scenarios' declared metrics can live together and with the derived
/// ones (no two kinds under one name, no two names under one Prometheus name).
pub fn check_names<'a>(specs: impl IntoIterator<Item = (&'a str, &'a MetricSpec)>) -> Result<(), crate::CompileError> {
    let mut agg = MetricsAgg::new();
    for (scenario, spec) in specs {
        let def = def_of(spec);
        if let Some(why) = agg.clash(&def) {
            return Err(crate::CompileError::Metrics { scenario: scenario.to_string(), reason: why });
        }
        agg.define(def);
    }
    Ok(())
}

fn text<'s>(t: &TraceBuf<'s>, v: &AnyValue<'s>) -> String {
    let mut out = String::new();
    t.push_value_text(v, &mut out);
    out
}

/// The first of `keys` on span `i` or its nearest ancestor that has one, as text.
fn lookup(t: &TraceBuf<'_>, i: usize, keys: &[&str]) -> Option<String> {
    t.find_up(i, keys, false).map(|v| text(t, v))
}

/// A numeric attribute of span `i`.
fn number(t: &TraceBuf<'_>, i: usize, key: &str) -> Option<f64> {
    match t.attrs_of(t.spans[i].attrs).iter().find(|kv| kv.key == key).map(|kv| kv.value) {
        Some(AnyValue::Int(v)) => Some(f64_of_i64(v)),
        Some(AnyValue::Double(v)) => Some(v),
        _ => None,
    }
}

fn auto_label(t: &TraceBuf<'_>, i: usize, label: &str) -> String {
    let span = &t.spans[i];
    let failed = span.status == StatusCode::Error;
    let dotted = label.replace('_', ".");
    let found = match label {
        "status" => Some(if failed { "error".to_string() } else { "success".to_string() }),
        "span_name" | "name" => Some(t.str(&span.name).to_string()),
        "error_type" => lookup(t, i, &["error.type"]),
        "agent_id" | "agent_name" | "agent" => lookup(t, i, crate::AGENT_KEYS),
        "tool_id" | "tool_name" | "tool" => lookup(t, i, crate::TOOL_KEYS),
        "model" => lookup(t, i, &["gen_ai.request.model"]),
        _ => lookup(t, i, &[label, &dotted]),
    };
    found
        .or_else(|| {
            // Any attribute whose key ends with the label (`vendor.workflow.name` for `workflow_name`).
            let suffix = format!(".{dotted}");
            let attrs = t.attrs_of(span.attrs);
            attrs.iter().find(|kv| kv.key.ends_with(&suffix)).map(|kv| text(t, &kv.value))
        })
        .unwrap_or_default()
}

fn matches(b: &Binding, t: &TraceBuf<'_>, i: usize) -> bool {
    let span = &t.spans[i];
    if let Some(g) = &b.span
        && !glob(g, t.str(&span.name))
    {
        return false;
    }
    if let Some(e) = b.error
        && e != (span.status == StatusCode::Error)
    {
        return false;
    }
    let attrs = t.attrs_of(span.attrs);
    let has = |k: &str, v: &str| attrs.iter().any(|kv| kv.key == k && text(t, &kv.value) == v);
    if let Some(d) = &b.decision
        && !has("policy.decision.result", d)
    {
        return false;
    }
    b.attributes.iter().all(|(k, v)| has(k, v))
}

impl DeclaredMetrics {
    /// Defines the scenarios' metrics in `agg`. `start_ns` anchors the gauge processes.
    pub fn new(engine: &Engine, agg: &mut MetricsAgg, start_ns: u64) -> Self {
        let mut me = DeclaredMetrics { seed: engine.seed(), start_ns, ..Default::default() };
        for (si, sc) in engine.scenarios().iter().enumerate() {
            let mut list = Vec::new();
            for spec in sc.metrics() {
                let metric = agg.define(def_of(spec));
                match &spec.process {
                    Some(Process::Stat(stat)) => {
                        list.push(Declared { metric, spec: spec.clone(), stat: Some(*stat), samples: Vec::new() })
                    }
                    Some(p) => {
                        for (k, labels) in series_labels(spec).into_iter().enumerate() {
                            let walk = match p {
                                Process::RandomWalk { start, .. } => *start,
                                _ => 0.0,
                            };
                            let salt = spec
                                .name
                                .bytes()
                                .fold(si as u64 ^ (k as u64) << 32, |h, b| splitmix64(h ^ u64::from(b)));
                            let driven = engine
                                .incidents
                                .list
                                .iter()
                                .filter(|c| c.scenarios.get(si).copied().unwrap_or(false))
                                .flat_map(|c| c.gauges.iter().map(move |e| (c, e)))
                                .filter(|(_, e)| drives(e, &spec.name, &labels))
                                .map(|(c, e)| Driven {
                                    timing: c.timing,
                                    // A health gauge reads 0 unless the outage says otherwise.
                                    value: e
                                        .value
                                        .or((matches!(p, Process::Up { .. }) && e.grow_per_minute.is_none())
                                            .then_some(0.0)),
                                    grow_per_minute: e.grow_per_minute,
                                })
                                .collect();
                            let gauge = Gauge {
                                driven,
                                metric,
                                resource: engine.resource_id(si, None),
                                labels,
                                process: p.clone(),
                                walk,
                                salt,
                                in_flight: Vec::new(),
                            };
                            me.gauges.push((si, gauge));
                        }
                    }
                    None => list.push(Declared { metric, spec: spec.clone(), stat: None, samples: Vec::new() }),
                }
            }
            me.per_scenario.push(list);
        }
        me
    }

    /// Feeds the span starts of a trace as it begins (the in-flight gauges count the spans
    /// running at an export's time, so they learn of a span when it starts).
    pub fn observe_starts(&mut self, scenario: usize, t: &TraceBuf<'_>) {
        for (si, g) in &mut self.gauges {
            if *si != scenario {
                continue;
            }
            if let Process::InFlight { span } = &g.process {
                for s in &t.spans {
                    if glob(span, t.str(&s.name)) {
                        g.in_flight.push((s.start_ns, s.end_ns));
                    }
                }
            }
        }
    }

    /// Feeds span `i` of trace `t` (of scenario `scenario`, resource `resource`) when it ends.
    pub fn observe_span(&mut self, agg: &mut MetricsAgg, scenario: usize, resource: u32, t: &TraceBuf<'_>, i: usize) {
        let Some(list) = self.per_scenario.get_mut(scenario) else { return };
        for d in list {
            {
                if !matches(&d.spec.on, t, i) {
                    continue;
                }
                let span = &t.spans[i];
                let value = match &d.spec.value {
                    MetricValue::Constant(v) => *v,
                    MetricValue::DurationSeconds => f64_of(span.end_ns - span.start_ns) / 1e9,
                    MetricValue::DurationMs => f64_of(span.end_ns - span.start_ns) / 1e6,
                    MetricValue::Attribute(k) => match number(t, i, k) {
                        Some(v) => v,
                        None => continue,
                    },
                    MetricValue::Tokens => {
                        match (number(t, i, "gen_ai.usage.input_tokens"), number(t, i, "gen_ai.usage.output_tokens")) {
                            (None, None) => continue,
                            (a, b) => a.unwrap_or(0.0) + b.unwrap_or(0.0),
                        }
                    }
                    MetricValue::Cost => {
                        let Some((pin, pout)) = lookup(t, i, &["gen_ai.request.model"]).and_then(|m| agg.price_of(&m))
                        else {
                            continue;
                        };
                        let input = number(t, i, "gen_ai.usage.input_tokens").unwrap_or(0.0);
                        let output = number(t, i, "gen_ai.usage.output_tokens").unwrap_or(0.0);
                        (input * pin + output * pout) / 1e6
                    }
                };
                self.labels.clear();
                for l in &d.spec.labels {
                    let v = match d.spec.label_values.iter().find(|(k, _)| k == l) {
                        Some((_, parts)) => parts
                            .iter()
                            .map(|p| match p {
                                TemplatePart::Text(s) => s.clone(),
                                TemplatePart::Ref(r) => auto_label(t, i, r),
                            })
                            .collect(),
                        None => auto_label(t, i, l),
                    };
                    self.labels.push((l.clone(), v));
                }
                if d.stat.is_some() {
                    let pos = match d.samples.iter().position(|s| s.resource == resource && s.labels == self.labels) {
                        Some(p) => p,
                        None => {
                            d.samples.push(StatSeries {
                                resource,
                                labels: self.labels.clone(),
                                values: Vec::new(),
                                seen: 0,
                                last: 0.0,
                            });
                            d.samples.len() - 1
                        }
                    };
                    let s = &mut d.samples[pos];
                    s.seen += 1;
                    if s.values.len() < STAT_RESERVOIR {
                        s.values.push(value);
                    } else {
                        // Algorithm R, seeded by the trace and span.
                        let mut rng = trace_rng(self.seed ^ s.seen, u64::from_be_bytes(span.span_id));
                        let j = rng.next_u64() % s.seen;
                        if usize_of(j) < STAT_RESERVOIR {
                            s.values[usize_of(j)] = value;
                        }
                    }
                    s.last = value;
                    continue;
                }
                let exemplar =
                    (d.spec.kind == MetricKind::Histogram).then_some((t.trace_id, span.span_id, span.end_ns));
                agg.record_labeled(d.metric, resource, &self.labels, value, exemplar);
            }
        }
    }

    /// Sets every gauge to its value at `time_ns` (call once per export, in time order).
    pub fn gauges_at(&mut self, agg: &mut MetricsAgg, time_ns: u64) {
        let k = self.exports;
        self.exports += 1;
        for (_, g) in &mut self.gauges {
            let v = match &g.process {
                Process::Constant(v) => *v,
                Process::RandomWalk { step, min, max, .. } => {
                    let mut rng = trace_rng(self.seed ^ g.salt, k);
                    let _ = rng.next_u64();
                    g.walk = (g.walk + step * (2.0 * unit(&mut rng) - 1.0)).clamp(*min, *max);
                    g.walk
                }
                Process::Sine { min, max, period_s } => {
                    let t = f64_of(time_ns.saturating_sub(self.start_ns)) / 1e9;
                    min + (max - min) * (0.5 + 0.5 * (std::f64::consts::TAU * t / period_s).sin())
                }
                Process::InFlight { .. } => {
                    g.in_flight.retain(|(_, end)| *end > time_ns);
                    f64_of_len(g.in_flight.iter().filter(|(start, _)| *start <= time_ns).count())
                }
                Process::Up { availability } => {
                    let mut rng = trace_rng(self.seed ^ g.salt, k);
                    if unit(&mut rng) < *availability { 1.0 } else { 0.0 }
                }
                Process::Stat(_) => continue,
            };
            let v = g.driven.iter().fold(v, |v, d| d.apply(time_ns, v));
            agg.record_labeled(g.metric, g.resource, &g.labels, v, None);
        }
        for d in self.per_scenario.iter_mut().flatten() {
            let Some(stat) = d.stat else { continue };
            for s in &mut d.samples {
                let v = statistic(stat, &mut s.values, s.last);
                agg.record_labeled(d.metric, s.resource, &s.labels, v, None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("taskpilot.agent.*.run", "taskpilot.agent.PlannerAgent.run"));
        assert!(glob("*.run", "a.b.run"));
        assert!(glob("*", ""));
        assert!(!glob("*.run", "a.b.runs"));
        assert!(glob("a*b*c", "aXbYbc"));
    }
}
