//! OTLP/JSON into the protobuf messages, by the OTLP/JSON rules: hex trace and span ids,
//! 64-bit integers as strings or numbers, enums as integers or names, field names in
//! lowerCamelCase (or the proto's snake_case), unknown fields ignored. Strict about what it
//! reads — a wrong type is an error naming where it is, never a silently dropped value.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use serde_json::{Map, Value};

mod metric_points;

pub use metric_points::metrics;

/// Why a document is not OTLP/JSON: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct JsonError {
    /// Where in the document (e.g. `resourceSpans[0].scopeSpans[1].spans[2].traceId`), or
    /// `line L, column C` for a syntax error.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

type R<T> = Result<T, JsonError>;

/// A place in the document, built only when an error is reported.
#[derive(Clone, Copy)]
enum At<'a> {
    Root,
    Field(&'a At<'a>, &'a str),
    Index(&'a At<'a>, usize),
}

impl At<'_> {
    fn path(&self) -> String {
        match self {
            At::Root => String::new(),
            At::Field(p, f) => {
                let p = p.path();
                if p.is_empty() { (*f).to_owned() } else { format!("{p}.{f}") }
            }
            At::Index(p, i) => format!("{}[{i}]", p.path()),
        }
    }

    fn err<T>(&self, message: impl Into<String>) -> R<T> {
        let path = self.path();
        Err(JsonError { path: if path.is_empty() { "document".to_owned() } else { path }, message: message.into() })
    }
}

fn parse(bytes: &[u8]) -> R<Value> {
    serde_json::from_slice(bytes)
        .map_err(|e| JsonError { path: format!("line {}, column {}", e.line(), e.column()), message: e.to_string() })
}

fn object<'v>(v: &'v Value, at: &At<'_>) -> R<&'v Map<String, Value>> {
    v.as_object().map_or_else(|| at.err("expected an object"), Ok)
}

/// A field by its lowerCamelCase name, or its snake_case one; `null` counts as absent.
fn field<'v>(o: &'v Map<String, Value>, camel: &str) -> Option<&'v Value> {
    let v = o.get(camel).or_else(|| {
        if camel.bytes().any(|b| b.is_ascii_uppercase()) {
            let mut snake = String::with_capacity(camel.len() + 4);
            for c in camel.chars() {
                if c.is_ascii_uppercase() {
                    snake.push('_');
                    snake.push(c.to_ascii_lowercase());
                } else {
                    snake.push(c);
                }
            }
            o.get(&snake)
        } else {
            None
        }
    });
    v.filter(|v| !v.is_null())
}

fn each<'v, T>(
    o: &'v Map<String, Value>,
    name: &'static str,
    at: &At<'_>,
    mut f: impl FnMut(&'v Value, &At<'_>) -> R<T>,
) -> R<Vec<T>> {
    let at = At::Field(at, name);
    match field(o, name) {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => a.iter().enumerate().map(|(i, v)| f(v, &At::Index(&at, i))).collect(),
        Some(_) => at.err("expected an array"),
    }
}

fn string(o: &Map<String, Value>, name: &'static str, at: &At<'_>) -> R<String> {
    match field(o, name) {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => At::Field(at, name).err("expected a string"),
    }
}

fn u64_of(v: &Value, at: &At<'_>) -> R<u64> {
    match v {
        Value::Number(n) => n.as_u64().map_or_else(|| at.err("expected an unsigned integer"), Ok),
        Value::String(s) => {
            s.parse().map_err(|_| JsonError { path: at.path(), message: format!("`{s}` is not an unsigned integer") })
        }
        _ => at.err("expected an unsigned integer (a number or a string of digits)"),
    }
}

fn u64_field(o: &Map<String, Value>, name: &'static str, at: &At<'_>) -> R<u64> {
    field(o, name).map_or(Ok(0), |v| u64_of(v, &At::Field(at, name)))
}

fn u32_field(o: &Map<String, Value>, name: &'static str, at: &At<'_>) -> R<u32> {
    let v = u64_field(o, name, at)?;
    u32::try_from(v)
        .map_err(|_| JsonError { path: At::Field(at, name).path(), message: format!("{v} is out of range") })
}

fn i64_of(v: &Value, at: &At<'_>) -> R<i64> {
    match v {
        Value::Number(n) => n.as_i64().map_or_else(|| at.err("expected an integer"), Ok),
        Value::String(s) => {
            s.parse().map_err(|_| JsonError { path: at.path(), message: format!("`{s}` is not an integer") })
        }
        _ => at.err("expected an integer (a number or a string of digits)"),
    }
}

fn f64_of(v: &Value, at: &At<'_>) -> R<f64> {
    match v {
        Value::Number(n) => n.as_f64().map_or_else(|| at.err("expected a number"), Ok),
        Value::String(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            _ => s.parse().map_err(|_| JsonError { path: at.path(), message: format!("`{s}` is not a number") }),
        },
        _ => at.err("expected a number"),
    }
}

fn opt_f64(o: &Map<String, Value>, name: &'static str, at: &At<'_>) -> R<Option<f64>> {
    field(o, name).map(|v| f64_of(v, &At::Field(at, name))).transpose()
}

fn bool_field(o: &Map<String, Value>, name: &'static str, at: &At<'_>) -> R<bool> {
    match field(o, name) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => At::Field(at, name).err("expected true or false"),
    }
}

/// An enum: its number, or one of its names.
fn enum_field(o: &Map<String, Value>, name: &'static str, names: &[&str], at: &At<'_>) -> R<i32> {
    let at = At::Field(at, name);
    match field(o, name) {
        None => Ok(0),
        Some(Value::String(s)) => match names.iter().position(|n| n == s) {
            Some(i) => Ok(i32::try_from(i).unwrap_or(0)),
            None => at.err(format!("`{s}` is not one of {}", names.join(", "))),
        },
        Some(v) => i32::try_from(i64_of(v, &at)?).map_or_else(|_| at.err("out of range"), Ok),
    }
}

/// A trace or span id in hex (`bytes` of `len` bytes, or empty).
fn id(o: &Map<String, Value>, name: &'static str, len: usize, at: &At<'_>) -> R<Vec<u8>> {
    let at = At::Field(at, name);
    let s = match field(o, name) {
        None => return Ok(Vec::new()),
        Some(Value::String(s)) => s,
        Some(_) => return at.err("expected a hex string"),
    };
    if s.is_empty() {
        return Ok(Vec::new());
    }
    if s.len() != 2 * len || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return at.err(format!("`{s}` is not {} hex digits", 2 * len));
    }
    Ok((0..len).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap_or(0)).collect())
}

fn base64_decode(s: &str, at: &At<'_>) -> R<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => return at.err("not base64"),
        };
        acc = acc << 6 | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits & 0xff) as u8);
        }
    }
    Ok(out)
}

fn any_value(v: &Value, at: &At<'_>) -> R<AnyValue> {
    let o = object(v, at)?;
    use any_value::Value as V;
    let f = |name: &'static str| field(o, name).map(|v| (v, At::Field(at, name)));
    let value = if let Some((v, a)) = f("stringValue") {
        Some(V::StringValue(v.as_str().map_or_else(|| a.err("expected a string"), |s| Ok(s.to_owned()))?))
    } else if let Some((v, a)) = f("boolValue") {
        Some(V::BoolValue(v.as_bool().map_or_else(|| a.err("expected true or false"), Ok)?))
    } else if let Some((v, a)) = f("intValue") {
        Some(V::IntValue(i64_of(v, &a)?))
    } else if let Some((v, a)) = f("doubleValue") {
        Some(V::DoubleValue(f64_of(v, &a)?))
    } else if let Some((v, a)) = f("bytesValue") {
        Some(V::BytesValue(base64_decode(v.as_str().map_or_else(|| a.err("expected base64"), Ok)?, &a)?))
    } else if let Some((v, a)) = f("arrayValue") {
        let values = each(object(v, &a)?, "values", &a, any_value)?;
        Some(V::ArrayValue(ArrayValue { values }))
    } else if let Some((v, a)) = f("kvlistValue") {
        let values = each(object(v, &a)?, "values", &a, key_value)?;
        Some(V::KvlistValue(KeyValueList { values }))
    } else {
        None
    };
    Ok(AnyValue { value })
}

fn key_value(v: &Value, at: &At<'_>) -> R<KeyValue> {
    let o = object(v, at)?;
    let value = field(o, "value").map(|v| any_value(v, &At::Field(at, "value"))).transpose()?;
    Ok(KeyValue { key: string(o, "key", at)?, value, ..Default::default() })
}

fn attributes(o: &Map<String, Value>, at: &At<'_>) -> R<Vec<KeyValue>> {
    each(o, "attributes", at, key_value)
}

fn resource(o: &Map<String, Value>, at: &At<'_>) -> R<Option<Resource>> {
    let Some(v) = field(o, "resource") else { return Ok(None) };
    let at = At::Field(at, "resource");
    let r = object(v, &at)?;
    Ok(Some(Resource {
        attributes: attributes(r, &at)?,
        dropped_attributes_count: u32_field(r, "droppedAttributesCount", &at)?,
        ..Default::default()
    }))
}

fn scope(o: &Map<String, Value>, at: &At<'_>) -> R<Option<InstrumentationScope>> {
    let Some(v) = field(o, "scope") else { return Ok(None) };
    let at = At::Field(at, "scope");
    let s = object(v, &at)?;
    Ok(Some(InstrumentationScope {
        name: string(s, "name", &at)?,
        version: string(s, "version", &at)?,
        attributes: attributes(s, &at)?,
        dropped_attributes_count: u32_field(s, "droppedAttributesCount", &at)?,
    }))
}

const SPAN_KINDS: &[&str] = &[
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
];
const STATUS_CODES: &[&str] = &["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"];
const TEMPORALITIES: &[&str] =
    &["AGGREGATION_TEMPORALITY_UNSPECIFIED", "AGGREGATION_TEMPORALITY_DELTA", "AGGREGATION_TEMPORALITY_CUMULATIVE"];

fn span(v: &Value, at: &At<'_>) -> R<Span> {
    let o = object(v, at)?;
    let status = match field(o, "status") {
        None => None,
        Some(s) => {
            let a = At::Field(at, "status");
            let s = object(s, &a)?;
            Some(Status { message: string(s, "message", &a)?, code: enum_field(s, "code", STATUS_CODES, &a)? })
        }
    };
    Ok(Span {
        trace_id: id(o, "traceId", 16, at)?,
        span_id: id(o, "spanId", 8, at)?,
        trace_state: string(o, "traceState", at)?,
        parent_span_id: id(o, "parentSpanId", 8, at)?,
        flags: u32_field(o, "flags", at)?,
        name: string(o, "name", at)?,
        kind: enum_field(o, "kind", SPAN_KINDS, at)?,
        start_time_unix_nano: u64_field(o, "startTimeUnixNano", at)?,
        end_time_unix_nano: u64_field(o, "endTimeUnixNano", at)?,
        attributes: attributes(o, at)?,
        dropped_attributes_count: u32_field(o, "droppedAttributesCount", at)?,
        events: each(o, "events", at, |v, at| {
            let e = object(v, at)?;
            Ok(span::Event {
                time_unix_nano: u64_field(e, "timeUnixNano", at)?,
                name: string(e, "name", at)?,
                attributes: attributes(e, at)?,
                dropped_attributes_count: u32_field(e, "droppedAttributesCount", at)?,
            })
        })?,
        dropped_events_count: u32_field(o, "droppedEventsCount", at)?,
        links: each(o, "links", at, |v, at| {
            let l = object(v, at)?;
            Ok(span::Link {
                trace_id: id(l, "traceId", 16, at)?,
                span_id: id(l, "spanId", 8, at)?,
                trace_state: string(l, "traceState", at)?,
                attributes: attributes(l, at)?,
                dropped_attributes_count: u32_field(l, "droppedAttributesCount", at)?,
                flags: u32_field(l, "flags", at)?,
            })
        })?,
        dropped_links_count: u32_field(o, "droppedLinksCount", at)?,
        status,
    })
}

/// Decodes an OTLP/JSON `ExportTraceServiceRequest` (or `TracesData`).
pub fn traces(bytes: &[u8]) -> Result<ExportTraceServiceRequest, JsonError> {
    let doc = parse(bytes)?;
    let o = object(&doc, &At::Root)?;
    let resource_spans = each(o, "resourceSpans", &At::Root, |v, at| {
        let rs = object(v, at)?;
        Ok(ResourceSpans {
            resource: resource(rs, at)?,
            scope_spans: each(rs, "scopeSpans", at, |v, at| {
                let ss = object(v, at)?;
                Ok(ScopeSpans {
                    scope: scope(ss, at)?,
                    spans: each(ss, "spans", at, span)?,
                    schema_url: string(ss, "schemaUrl", at)?,
                })
            })?,
            schema_url: string(rs, "schemaUrl", at)?,
        })
    })?;
    Ok(ExportTraceServiceRequest { resource_spans })
}

fn log_record(v: &Value, at: &At<'_>) -> R<LogRecord> {
    let o = object(v, at)?;
    let severity = match field(o, "severityNumber") {
        Some(Value::String(s)) => {
            let a = At::Field(at, "severityNumber");
            match s.strip_prefix("SEVERITY_NUMBER_") {
                Some("UNSPECIFIED") => 0,
                Some(n) => SEVERITIES.iter().position(|x| *x == n).map_or_else(
                    || a.err(format!("`{s}` is not a severity")),
                    |i| Ok(i32::try_from(i + 1).unwrap_or(0)),
                )?,
                None => i32::try_from(i64_of(&Value::String(s.clone()), &a)?).unwrap_or(0),
            }
        }
        Some(v) => i32::try_from(i64_of(v, &At::Field(at, "severityNumber"))?).unwrap_or(0),
        None => 0,
    };
    Ok(LogRecord {
        time_unix_nano: u64_field(o, "timeUnixNano", at)?,
        observed_time_unix_nano: u64_field(o, "observedTimeUnixNano", at)?,
        severity_number: severity,
        severity_text: string(o, "severityText", at)?,
        body: field(o, "body").map(|v| any_value(v, &At::Field(at, "body"))).transpose()?,
        attributes: attributes(o, at)?,
        dropped_attributes_count: u32_field(o, "droppedAttributesCount", at)?,
        flags: u32_field(o, "flags", at)?,
        trace_id: id(o, "traceId", 16, at)?,
        span_id: id(o, "spanId", 8, at)?,
        event_name: string(o, "eventName", at)?,
    })
}

/// Severity names after `SEVERITY_NUMBER_`, from 1.
const SEVERITIES: &[&str] = &[
    "TRACE", "TRACE2", "TRACE3", "TRACE4", "DEBUG", "DEBUG2", "DEBUG3", "DEBUG4", "INFO", "INFO2", "INFO3", "INFO4",
    "WARN", "WARN2", "WARN3", "WARN4", "ERROR", "ERROR2", "ERROR3", "ERROR4", "FATAL", "FATAL2", "FATAL3", "FATAL4",
];

/// Decodes an OTLP/JSON `ExportLogsServiceRequest` (or `LogsData`).
pub fn logs(bytes: &[u8]) -> Result<ExportLogsServiceRequest, JsonError> {
    let doc = parse(bytes)?;
    let o = object(&doc, &At::Root)?;
    let resource_logs = each(o, "resourceLogs", &At::Root, |v, at| {
        let rl = object(v, at)?;
        Ok(ResourceLogs {
            resource: resource(rl, at)?,
            scope_logs: each(rl, "scopeLogs", at, |v, at| {
                let sl = object(v, at)?;
                Ok(ScopeLogs {
                    scope: scope(sl, at)?,
                    log_records: each(sl, "logRecords", at, log_record)?,
                    schema_url: string(sl, "schemaUrl", at)?,
                })
            })?,
            schema_url: string(rl, "schemaUrl", at)?,
        })
    })?;
    Ok(ExportLogsServiceRequest { resource_logs })
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};

    #[test]
    fn reads_the_otlp_json_rules_and_says_where_it_is_wrong() {
        let doc =
            br#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"a"}}]},
            "scopeSpans":[{"scope":{"name":"s"},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",
            "span_id":"eee19b7ec3c1b174","name":"x","kind":"SPAN_KIND_SERVER","startTimeUnixNano":"10",
            "endTimeUnixNano":25,"status":{"code":2},"unknownField":1,
            "attributes":[{"key":"n","value":{"intValue":"-7"}},{"key":"e","value":{}}]}]}]}]}"#;
        let r = traces(doc).expect("decodes");
        let s = &r.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(s.trace_id.len(), 16);
        assert_eq!(s.span_id, vec![0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74]);
        assert_eq!((s.kind, s.start_time_unix_nano, s.end_time_unix_nano), (2, 10, 25));
        assert_eq!(s.status.as_ref().map(|s| s.code), Some(2));
        assert_eq!(s.attributes[0].value.as_ref().and_then(|v| v.value.clone()), Some(any_value::Value::IntValue(-7)));
        assert_eq!(s.attributes[1].value.as_ref().map(|v| v.value.is_none()), Some(true));

        let bad = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{},{"traceId":"abc"}]}]}]}"#;
        let e = traces(bad).expect_err("bad id");
        assert_eq!(e.path, "resourceSpans[0].scopeSpans[0].spans[1].traceId");
        let e = traces(b"{\n \"resourceSpans\": [,]}").expect_err("syntax");
        assert!(e.path.starts_with("line 2, column"), "{e}");
        let e = metrics(
            br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"dataPoints":[{"asInt":"x"}]}}]}]}]}"#,
        )
        .expect_err("bad int");
        assert_eq!(e.path, "resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[0].asInt");
        let m = metrics(br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"c","sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE","isMonotonic":true,"dataPoints":[{"asInt":"7","timeUnixNano":"5"}]}}]}]}]}"#).expect("sum");
        let Some(metric::Data::Sum(s)) = &m.resource_metrics[0].scope_metrics[0].metrics[0].data else {
            panic!("a sum")
        };
        assert_eq!((s.aggregation_temporality, s.is_monotonic), (2, true));
        assert_eq!(s.data_points[0].value, Some(number_data_point::Value::AsInt(7)));
        let l = logs(br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":"SEVERITY_NUMBER_ERROR","body":{"stringValue":"b"}}]}]}]}"#).expect("log");
        assert_eq!(l.resource_logs[0].scope_logs[0].log_records[0].severity_number, 17);
    }
}
