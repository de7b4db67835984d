//! OTLP requests into table rows: a span, a log record or a metric data point becomes a row
//! of its table, with attribute values as strings (as the ClickHouse exporter stores them:
//! numbers in decimal, booleans as `true`/`false`, bytes in base64, arrays and maps as JSON).

use std::borrow::Cow;
use std::io::Write as _;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{Exemplar, NumberDataPoint, exemplar, metric, number_data_point};
use opentelemetry_proto::tonic::resource::v1::Resource;

use tsim_model::hex::push_hex_str;
use tsim_model::otlp_json::{write_f64, write_str};

use crate::columns::RowGroup;

/// Where a row goes: the time it is partitioned by.
pub trait Sink {
    /// What takes the row's columns.
    type Row: Row;
    /// The row group for a row at `time_ns`; the row is then added to it, column by column.
    fn rows(&mut self, time_ns: u64) -> &mut Self::Row;
}

/// Takes a row's columns one after another, in the table's column order: a [`RowGroup`]
/// being built, or anything else that wants the rows as the store makes them (`verify`
/// reads the run it generates again this way, so both sides of its join come from one
/// conversion).
pub trait Row {
    /// A timestamp (ns since the epoch).
    fn time(&mut self, ns: u64);
    /// A timestamp, or null.
    fn time_or_null(&mut self, ns: Option<u64>);
    /// An unsigned integer.
    fn u64(&mut self, v: u64);
    /// A signed integer, or null.
    fn i64(&mut self, v: Option<i64>);
    /// A 32-bit integer.
    fn i32(&mut self, v: i32);
    /// A float, or null.
    fn f64(&mut self, v: Option<f64>);
    /// A boolean, or null.
    fn bool(&mut self, v: Option<bool>);
    /// A string, or null.
    fn str(&mut self, v: Option<&str>);
    /// An id (stored as lower-case hex; empty for an empty id).
    fn hex(&mut self, id: &[u8]);
    /// A map of strings.
    fn map<'a>(&mut self, entries: impl IntoIterator<Item = (&'a str, &'a str)>);
    /// A list of maps of strings.
    fn map_list<'a, M>(&mut self, maps: impl IntoIterator<Item = M>)
    where
        M: IntoIterator<Item = (&'a str, &'a str)>;
    /// A list of timestamps.
    fn time_list(&mut self, v: impl IntoIterator<Item = u64>);
    /// A list of unsigned integers.
    fn u64_list(&mut self, v: impl IntoIterator<Item = u64>);
    /// A list of floats.
    fn f64_list(&mut self, v: impl IntoIterator<Item = f64>);
    /// A list of strings.
    fn str_list<'a>(&mut self, v: impl IntoIterator<Item = &'a str>);
}

impl Row for RowGroup {
    fn time(&mut self, ns: u64) {
        RowGroup::time(self, ns);
    }
    fn time_or_null(&mut self, ns: Option<u64>) {
        RowGroup::time_or_null(self, ns);
    }
    fn u64(&mut self, v: u64) {
        RowGroup::u64(self, v);
    }
    fn i64(&mut self, v: Option<i64>) {
        RowGroup::i64(self, v);
    }
    fn i32(&mut self, v: i32) {
        RowGroup::i32(self, v);
    }
    fn f64(&mut self, v: Option<f64>) {
        RowGroup::f64(self, v);
    }
    fn bool(&mut self, v: Option<bool>) {
        RowGroup::bool(self, v);
    }
    fn str(&mut self, v: Option<&str>) {
        RowGroup::str(self, v);
    }
    fn hex(&mut self, id: &[u8]) {
        RowGroup::hex(self, id);
    }
    fn map<'a>(&mut self, entries: impl IntoIterator<Item = (&'a str, &'a str)>) {
        RowGroup::map(self, entries);
    }
    fn map_list<'a, M>(&mut self, maps: impl IntoIterator<Item = M>)
    where
        M: IntoIterator<Item = (&'a str, &'a str)>,
    {
        RowGroup::map_list(self, maps);
    }
    fn time_list(&mut self, v: impl IntoIterator<Item = u64>) {
        RowGroup::time_list(self, v);
    }
    fn u64_list(&mut self, v: impl IntoIterator<Item = u64>) {
        RowGroup::u64_list(self, v);
    }
    fn f64_list(&mut self, v: impl IntoIterator<Item = f64>) {
        RowGroup::f64_list(self, v);
    }
    fn str_list<'a>(&mut self, v: impl IntoIterator<Item = &'a str>) {
        RowGroup::str_list(self, v);
    }
}

/// Lower-case hex of an id (empty for an empty id), as the ClickHouse exporter writes ids.
fn hex(id: &[u8]) -> String {
    let mut s = String::with_capacity(id.len() * 2);
    push_hex_str(&mut s, id);
    s
}

/// An attribute value as a string.
pub fn value_str(v: Option<&AnyValue>) -> Cow<'_, str> {
    match v.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => Cow::Borrowed(s),
        None => Cow::Borrowed(""),
        Some(other) => {
            let mut b = Vec::new();
            scalar_or_json(other, &mut b, false);
            // Only strings and ASCII were written: always UTF-8.
            Cow::Owned(String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
        }
    }
}

/// A value as its string (`quoted`: as JSON, inside an array or a map).
fn scalar_or_json(v: &any_value::Value, out: &mut Vec<u8>, quoted: bool) {
    use any_value::Value as V;
    match v {
        V::StringValue(s) if quoted => write_str(out, s),
        V::StringValue(s) => out.extend_from_slice(s.as_bytes()),
        V::BoolValue(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        V::IntValue(i) => {
            let _ = write!(out, "{i}");
        }
        V::DoubleValue(d) if quoted => write_f64(out, *d),
        V::DoubleValue(d) => {
            let _ = write!(out, "{d}");
        }
        V::BytesValue(b) if quoted => {
            out.push(b'"');
            base64(b, out);
            out.push(b'"');
        }
        V::BytesValue(b) => base64(b, out),
        V::ArrayValue(a) => {
            out.push(b'[');
            for (i, x) in a.values.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json_any(Some(x), out);
            }
            out.push(b']');
        }
        V::KvlistValue(kv) => {
            out.push(b'{');
            for (i, x) in kv.values.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, &x.key);
                out.push(b':');
                json_any(x.value.as_ref(), out);
            }
            out.push(b'}');
        }
        V::StringValueStrindex(i) => {
            let _ = write!(out, "{i}");
        }
    }
}

fn json_any(v: Option<&AnyValue>, out: &mut Vec<u8>) {
    match v.and_then(|v| v.value.as_ref()) {
        Some(x) => scalar_or_json(x, out, true),
        None => out.extend_from_slice(b"null"),
    }
}

fn base64(b: &[u8], out: &mut Vec<u8>) {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for chunk in b.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &x)| n | u32::from(x) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() { A[(n >> (18 - 6 * i) & 63) as usize] } else { b'=' });
        }
    }
}

/// Attributes as (key, string value) pairs.
fn attrs(kv: &[KeyValue]) -> Vec<(&str, Cow<'_, str>)> {
    kv.iter().map(|a| (a.key.as_str(), value_str(a.value.as_ref()))).collect()
}

fn pairs<'a>(v: &'a [(&'a str, Cow<'a, str>)]) -> impl Iterator<Item = (&'a str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_ref()))
}

/// The first of these keys that the attributes have, as a string.
fn first<'a>(sets: &[&'a [(&'a str, Cow<'a, str>)]], keys: &[&str]) -> Option<&'a str> {
    for k in keys {
        for set in sets {
            if let Some((_, v)) = set.iter().find(|(key, _)| key == k) {
                return Some(v.as_ref());
            }
        }
    }
    None
}

/// The tenant: `tenant.id`, or any `PREFIX.tenant.id` (the simulator's `--attr-prefix`).
fn tenant<'a>(sets: &[&'a [(&'a str, Cow<'a, str>)]]) -> Option<&'a str> {
    sets.iter()
        .flat_map(|s| s.iter())
        .find(|(k, _)| *k == "tenant.id" || k.ends_with(".tenant.id"))
        .map(|(_, v)| v.as_ref())
}

/// Keys that name the agent a span is a run of, in order of preference: the GenAI semantic
/// conventions', then the TaskPilot system's. (`agent.id` is left out: some systems put it on
/// every span of an agent's trace, not only on its run.)
pub const AGENT_KEYS: &[&str] = &["gen_ai.agent.name", "agent_name", "agent.name"];
/// Keys that name a model.
pub const MODEL_KEYS: &[&str] = &["gen_ai.request.model", "gen_ai.response.model", "llm.model", "model"];
/// Keys that name a tool.
pub const TOOL_KEYS: &[&str] = &["gen_ai.tool.name", "tool_name", "tool.name", "tool.id", "tool_id"];
/// Keys that name the part of a system a span runs in, when one resource holds several
/// (the VOS system's `vos.service`; `component`, as older conventions had it).
pub const COMPONENT_KEYS: &[&str] = &["vos.service", "component"];
/// Keys that name an error's type.
pub const ERROR_KEYS: &[&str] = &["error.type", "error_type", "error.code", "error_code"];

fn int(v: Option<&str>) -> Option<i64> {
    v.and_then(|s| s.parse().ok())
}

fn resource_parts(r: Option<&Resource>) -> Vec<(&str, Cow<'_, str>)> {
    r.map_or_else(Vec::new, |r| attrs(&r.attributes))
}

fn service<'a>(res: &'a [(&'a str, Cow<'a, str>)]) -> &'a str {
    res.iter().find(|(k, _)| *k == "service.name").map_or("", |(_, v)| v.as_ref())
}

fn scope_parts(s: Option<&InstrumentationScope>) -> (&str, &str, Vec<(&str, Cow<'_, str>)>) {
    s.map_or(("", "", Vec::new()), |s| (s.name.as_str(), s.version.as_str(), attrs(&s.attributes)))
}

/// The span kind as the ClickHouse exporter writes it.
pub fn span_kind(kind: i32) -> &'static str {
    match kind {
        1 => "Internal",
        2 => "Server",
        3 => "Client",
        4 => "Producer",
        5 => "Consumer",
        _ => "Unspecified",
    }
}

/// The status code as the ClickHouse exporter writes it.
pub fn status_code(code: i32) -> &'static str {
    match code {
        1 => "Ok",
        2 => "Error",
        _ => "Unset",
    }
}

/// Adds each span of a request as a row; returns how many.
pub fn spans(req: &ExportTraceServiceRequest, received: Option<u64>, sink: &mut impl Sink) -> u64 {
    let mut n = 0;
    for rs in &req.resource_spans {
        let res = resource_parts(rs.resource.as_ref());
        let svc = service(&res);
        for ss in &rs.scope_spans {
            let (scope, version, _) = scope_parts(ss.scope.as_ref());
            for s in &ss.spans {
                let at = attrs(&s.attributes);
                let sets = [&at[..], &res[..]];
                let status = s.status.as_ref();
                let events: Vec<_> = s.events.iter().map(|e| attrs(&e.attributes)).collect();
                let links: Vec<_> = s.links.iter().map(|l| attrs(&l.attributes)).collect();
                let ids: Vec<_> = s.links.iter().map(|l| (hex(&l.trace_id), hex(&l.span_id))).collect();
                let r = sink.rows(s.start_time_unix_nano);
                r.time(s.start_time_unix_nano);
                r.hex(&s.trace_id);
                r.hex(&s.span_id);
                r.hex(&s.parent_span_id);
                r.str(Some(&s.trace_state));
                r.str(Some(&s.name));
                r.str(Some(span_kind(s.kind)));
                r.str(Some(svc));
                r.map(pairs(&res));
                r.str(Some(scope));
                r.str(Some(version));
                r.map(pairs(&at));
                r.u64(s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano));
                r.str(Some(status_code(status.map_or(0, |s| s.code))));
                r.str(Some(status.map_or("", |s| s.message.as_str())));
                r.time_list(s.events.iter().map(|e| e.time_unix_nano));
                r.str_list(s.events.iter().map(|e| e.name.as_str()));
                r.map_list(events.iter().map(|e| pairs(e)));
                r.str_list(ids.iter().map(|(t, _)| t.as_str()));
                r.str_list(ids.iter().map(|(_, s)| s.as_str()));
                r.str_list(s.links.iter().map(|l| l.trace_state.as_str()));
                r.map_list(links.iter().map(|l| pairs(l)));
                r.str(first(&sets[..1], AGENT_KEYS));
                r.str(first(&sets[..1], &["gen_ai.operation.name"]));
                r.str(first(&sets[..1], MODEL_KEYS));
                r.i64(int(first(&sets[..1], &["gen_ai.usage.input_tokens"])));
                r.i64(int(first(&sets[..1], &["gen_ai.usage.output_tokens"])));
                r.str(first(&sets[..1], TOOL_KEYS));
                r.str(first(&sets[..1], ERROR_KEYS));
                r.str(first(&sets, &["workflow.id", "workflowId", "workflow_id"]));
                r.str(first(&sets, &["workflow.name", "workflowName", "workflow_name"]));
                r.str(tenant(&sets));
                r.str(first(&sets[..1], COMPONENT_KEYS));
                r.str(first(&sets[1..], &[tsim_model::SCENARIO_KEY]));
                r.time_or_null(received);
                n += 1;
            }
        }
    }
    n
}

/// Adds each log record of a request as a row; returns how many.
pub fn logs(req: &ExportLogsServiceRequest, received: Option<u64>, sink: &mut impl Sink) -> u64 {
    let mut n = 0;
    for rl in &req.resource_logs {
        let res = resource_parts(rl.resource.as_ref());
        let svc = service(&res);
        for sl in &rl.scope_logs {
            let (scope, version, scope_attrs) = scope_parts(sl.scope.as_ref());
            for l in &sl.log_records {
                let at = attrs(&l.attributes);
                let sets = [&at[..], &res[..]];
                let time = if l.time_unix_nano != 0 { l.time_unix_nano } else { l.observed_time_unix_nano };
                let body = value_str(l.body.as_ref());
                let event = (!l.event_name.is_empty()).then_some(l.event_name.as_str());
                let r = sink.rows(time);
                r.time(time);
                r.hex(&l.trace_id);
                r.hex(&l.span_id);
                r.i32((l.flags & 0xff).cast_signed());
                r.str(Some(&l.severity_text));
                r.i32(l.severity_number);
                r.str(Some(svc));
                r.str(Some(&body));
                r.str(Some(&rl.schema_url));
                r.map(pairs(&res));
                r.str(Some(&sl.schema_url));
                r.str(Some(scope));
                r.str(Some(version));
                r.map(pairs(&scope_attrs));
                r.map(pairs(&at));
                r.str(event.or_else(|| first(&sets[..1], &["event.name"])));
                r.str(first(&sets[..1], AGENT_KEYS));
                r.str(first(&sets[..1], ERROR_KEYS));
                r.str(tenant(&sets));
                r.str(first(&sets[1..], &[tsim_model::SCENARIO_KEY]));
                r.str(first(&sets[..1], &["artifact.path"]));
                r.str(first(&sets[..1], &["artifact.review.status"]));
                r.time_or_null(received);
                n += 1;
            }
        }
    }
    n
}

/// One data point's values, whatever its metric's type.
struct Point<'a> {
    attributes: &'a [KeyValue],
    start: u64,
    time: u64,
    value: Option<f64>,
    flags: u32,
    count: Option<u64>,
    sum: Option<f64>,
    buckets: &'a [u64],
    bounds: &'a [f64],
    min: Option<f64>,
    max: Option<f64>,
    exemplars: &'a [Exemplar],
}

impl<'a> Point<'a> {
    fn new(attributes: &'a [KeyValue], start: u64, time: u64, flags: u32, exemplars: &'a [Exemplar]) -> Self {
        Self {
            attributes,
            start,
            time,
            value: None,
            flags,
            count: None,
            sum: None,
            buckets: &[],
            bounds: &[],
            min: None,
            max: None,
            exemplars,
        }
    }
}

fn number(v: Option<&number_data_point::Value>) -> Option<f64> {
    v.map(|v| match v {
        number_data_point::Value::AsDouble(d) => *d,
        number_data_point::Value::AsInt(i) => *i as f64,
    })
}

/// A point's common fields (attributes, times, flags, exemplars), whatever its type.
macro_rules! point {
    ($p:expr) => {
        Point::new(&$p.attributes, $p.start_time_unix_nano, $p.time_unix_nano, $p.flags, &$p.exemplars)
    };
}

/// The points of a gauge or a sum.
fn number_points(points: &[NumberDataPoint]) -> Vec<Point<'_>> {
    points.iter().map(|p| Point { value: number(p.value.as_ref()), ..point!(p) }).collect()
}

fn exemplar_value(e: &Exemplar) -> f64 {
    match e.value {
        Some(exemplar::Value::AsDouble(d)) => d,
        Some(exemplar::Value::AsInt(i)) => i as f64,
        None => 0.0,
    }
}

/// Adds each data point of a request as a row; returns how many.
pub fn metrics(req: &ExportMetricsServiceRequest, received: Option<u64>, sink: &mut impl Sink) -> u64 {
    let mut n = 0;
    for rm in &req.resource_metrics {
        let res = resource_parts(rm.resource.as_ref());
        let svc = service(&res);
        for sm in &rm.scope_metrics {
            let (scope, version, scope_attrs) = scope_parts(sm.scope.as_ref());
            for m in &sm.metrics {
                let (kind, temporality, monotonic, points): (_, i32, bool, Vec<Point<'_>>) = match &m.data {
                    Some(metric::Data::Gauge(g)) => ("Gauge", 0, false, number_points(&g.data_points)),
                    Some(metric::Data::Sum(s)) => {
                        ("Sum", s.aggregation_temporality, s.is_monotonic, number_points(&s.data_points))
                    }
                    Some(metric::Data::Histogram(h)) => (
                        "Histogram",
                        h.aggregation_temporality,
                        false,
                        h.data_points
                            .iter()
                            .map(|p| Point {
                                count: Some(p.count),
                                sum: p.sum,
                                buckets: &p.bucket_counts,
                                bounds: &p.explicit_bounds,
                                min: p.min,
                                max: p.max,
                                ..point!(p)
                            })
                            .collect(),
                    ),
                    Some(metric::Data::ExponentialHistogram(h)) => (
                        "ExponentialHistogram",
                        h.aggregation_temporality,
                        false,
                        h.data_points
                            .iter()
                            .map(|p| Point { count: Some(p.count), sum: p.sum, min: p.min, max: p.max, ..point!(p) })
                            .collect(),
                    ),
                    Some(metric::Data::Summary(s)) => (
                        "Summary",
                        0,
                        false,
                        s.data_points
                            .iter()
                            .map(|p| Point {
                                count: Some(p.count),
                                sum: Some(p.sum),
                                ..Point::new(&p.attributes, p.start_time_unix_nano, p.time_unix_nano, p.flags, &[])
                            })
                            .collect(),
                    ),
                    None => continue,
                };
                for p in points {
                    let at = attrs(p.attributes);
                    let ex: Vec<_> = p.exemplars.iter().map(|e| attrs(&e.filtered_attributes)).collect();
                    let ids: Vec<_> = p.exemplars.iter().map(|e| (hex(&e.span_id), hex(&e.trace_id))).collect();
                    let r = sink.rows(p.time);
                    r.map(pairs(&res));
                    r.str(Some(&rm.schema_url));
                    r.str(Some(scope));
                    r.str(Some(version));
                    r.map(pairs(&scope_attrs));
                    r.str(Some(&sm.schema_url));
                    r.str(Some(svc));
                    r.str(Some(&m.name));
                    r.str(Some(&m.description));
                    r.str(Some(&m.unit));
                    r.str(Some(kind));
                    r.map(pairs(&at));
                    r.time(p.start);
                    r.time(p.time);
                    r.f64(p.value);
                    r.i32(p.flags.cast_signed());
                    r.i32(temporality);
                    r.bool(Some(monotonic));
                    r.i64(p.count.map(u64::cast_signed));
                    r.f64(p.sum);
                    r.u64_list(p.buckets.iter().copied());
                    r.f64_list(p.bounds.iter().copied());
                    r.f64(p.min);
                    r.f64(p.max);
                    r.time_list(p.exemplars.iter().map(|e| e.time_unix_nano));
                    r.f64_list(p.exemplars.iter().map(exemplar_value));
                    r.str_list(ids.iter().map(|(s, _)| s.as_str()));
                    r.str_list(ids.iter().map(|(_, t)| t.as_str()));
                    r.map_list(ex.iter().map(|e| pairs(e)));
                    r.time_or_null(received);
                    n += 1;
                }
            }
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_as_the_clickhouse_exporter_writes_them() {
        use any_value::Value as V;
        let any = |v| AnyValue { value: Some(v) };
        assert_eq!(value_str(Some(&any(V::IntValue(-3)))), "-3");
        assert_eq!(value_str(Some(&any(V::BoolValue(true)))), "true");
        assert_eq!(value_str(Some(&any(V::DoubleValue(1.5)))), "1.5");
        assert_eq!(value_str(Some(&any(V::BytesValue(b"hi!?".to_vec())))), "aGkhPw==");
        let arr = V::ArrayValue(opentelemetry_proto::tonic::common::v1::ArrayValue {
            values: vec![any(V::StringValue("a\"b".into())), any(V::IntValue(2))],
        });
        assert_eq!(value_str(Some(&any(arr))), r#"["a\"b",2]"#);
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
    }
}
