//! OTLP/JSON (`ExportTraceServiceRequest`) as the OTLP specification writes it: hex ids,
//! lowerCamelCase names, enums as integers, 64-bit integers as strings.
//!
//! One payload is one JSON object without a trailing newline; the file sink writes one per
//! line, which is what the collector's `file` exporter writes and `otlpjsonfile` reads.

use std::io::Write;

use crate::hex::push_hex;
use crate::trace::LogRecord;
use crate::trace::{AnyValue, KeyValue, OwnedValue, ResourceBatches, Resources, TraceBuf};
use crate::{Items, Picked, TraceEncoder};

/// Batches traces (or their log records) into one OTLP/JSON document.
#[derive(Debug)]
pub struct JsonTraceEncoder {
    items: Items,
    batches: ResourceBatches,
    spans: usize,
}

impl Default for JsonTraceEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl JsonTraceEncoder {
    /// An encoder of spans.
    pub fn new() -> Self {
        Self::for_items(Items::Spans)
    }

    /// An encoder of spans or of log records.
    pub fn for_items(items: Items) -> Self {
        Self { items, batches: ResourceBatches::default(), spans: 0 }
    }
}

impl TraceEncoder for JsonTraceEncoder {
    fn items(&self) -> Items {
        self.items
    }

    fn add(&mut self, _resources: &Resources, resource: u32, trace: &TraceBuf<'_>) {
        let n = self.items.count(trace);
        if n == 0 {
            return;
        }
        self.spans += n;
        let out = self.batches.buffer(resource);
        match self.items {
            Items::Spans | Items::Traces => {
                for span in &trace.spans {
                    if !out.is_empty() {
                        out.push(b',');
                    }
                    write_span(out, trace, span);
                }
            }
            Items::Logs => {
                for log in &trace.logs {
                    if !out.is_empty() {
                        out.push(b',');
                    }
                    write_log(out, trace, log);
                }
            }
        }
    }

    fn encode_item(&mut self, _: &Resources, _: u32, trace: &TraceBuf<'_>, index: u32, out: &mut Vec<u8>) -> usize {
        match Picked::of(self.items, trace, index) {
            Some(Picked::Span(span)) => write_span(out, trace, span),
            Some(Picked::Log(log)) => write_log(out, trace, log),
            None => return 0,
        }
        1
    }

    fn add_encoded(&mut self, resource: u32, piece: &[u8], items: usize) {
        let out = self.batches.buffer(resource);
        if !out.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(piece);
        self.spans += items;
    }

    fn spans(&self) -> usize {
        self.spans
    }

    fn finish(&mut self, resources: &Resources, out: &mut Vec<u8>) {
        out.clear();
        let (resource_key, scope_key, items_key): (&[u8], &[u8], &[u8]) = match self.items {
            Items::Spans | Items::Traces => {
                (b"{\"resourceSpans\":[", b"]},\"scopeSpans\":[{\"scope\":{\"name\":", b"},\"spans\":[")
            }
            Items::Logs => (b"{\"resourceLogs\":[", b"]},\"scopeLogs\":[{\"scope\":{\"name\":", b"},\"logRecords\":["),
        };
        out.extend_from_slice(resource_key);
        let batches = self.batches.take();
        for (i, (id, spans)) in batches.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"resource\":{\"attributes\":[");
            for (j, (k, v)) in resources.list[*id as usize].attrs.iter().enumerate() {
                if j > 0 {
                    out.push(b',');
                }
                write_owned_kv(out, k, v);
            }
            out.extend_from_slice(scope_key);
            write_str(out, &resources.scope.name);
            out.extend_from_slice(b",\"version\":");
            write_str(out, &resources.scope.version);
            out.extend_from_slice(items_key);
            out.extend_from_slice(spans);
            out.extend_from_slice(b"]}]");
            if !resources.schema_url.is_empty() {
                out.extend_from_slice(b",\"schemaUrl\":");
                write_str(out, &resources.schema_url);
            }
            out.push(b'}');
        }
        out.extend_from_slice(b"]}");
        self.batches.recycle(batches);
        self.spans = 0;
    }
}

fn write_span(o: &mut Vec<u8>, t: &TraceBuf<'_>, s: &crate::Span<'_>) {
    o.extend_from_slice(b"{\"traceId\":\"");
    push_hex(o, &t.trace_id);
    o.extend_from_slice(b"\",\"spanId\":\"");
    push_hex(o, &s.span_id);
    o.push(b'"');
    if !s.is_root() {
        o.extend_from_slice(b",\"parentSpanId\":\"");
        push_hex(o, &s.parent_span_id);
        o.push(b'"');
    }
    if s.flags != 0 {
        let _ = write!(o, ",\"flags\":{}", s.flags);
    }
    o.extend_from_slice(b",\"name\":");
    write_str(o, t.str(&s.name));
    let _ = write!(
        o,
        ",\"kind\":{},\"startTimeUnixNano\":\"{}\",\"endTimeUnixNano\":\"{}\"",
        s.kind as u8, s.start_ns, s.end_ns
    );
    let attrs = t.attrs_of(s.attrs);
    if !attrs.is_empty() {
        o.extend_from_slice(b",\"attributes\":");
        write_kvs(o, t, attrs);
    }
    let events = t.events_of(s.events);
    if !events.is_empty() {
        o.extend_from_slice(b",\"events\":[");
        for (i, e) in events.iter().enumerate() {
            if i > 0 {
                o.push(b',');
            }
            let _ = write!(o, "{{\"timeUnixNano\":\"{}\",\"name\":", e.time_ns);
            write_str(o, t.str(&e.name));
            let ea = t.attrs_of(e.attrs);
            if !ea.is_empty() {
                o.extend_from_slice(b",\"attributes\":");
                write_kvs(o, t, ea);
            }
            o.push(b'}');
        }
        o.push(b']');
    }
    let msg = t.str(&s.status_message);
    if s.status as u8 != 0 || !msg.is_empty() {
        o.extend_from_slice(b",\"status\":{");
        if !msg.is_empty() {
            o.extend_from_slice(b"\"message\":");
            write_str(o, msg);
            if s.status as u8 != 0 {
                o.push(b',');
            }
        }
        if s.status as u8 != 0 {
            let _ = write!(o, "\"code\":{}", s.status as u8);
        }
        o.push(b'}');
    }
    o.push(b'}');
}

fn write_log(o: &mut Vec<u8>, t: &TraceBuf<'_>, l: &LogRecord<'_>) {
    let _ = write!(o, "{{\"timeUnixNano\":\"{}\",\"observedTimeUnixNano\":\"{}\"", l.time_ns, l.time_ns);
    if l.severity != 0 {
        let _ = write!(o, ",\"severityNumber\":{}", l.severity);
    }
    if !l.severity_text.is_empty() {
        o.extend_from_slice(b",\"severityText\":");
        write_str(o, l.severity_text);
    }
    o.extend_from_slice(b",\"body\":");
    write_any(o, Scalar::Str(t.str(&l.body)));
    let logger = t.str(&l.logger);
    let attrs = t.attrs_of(l.attrs);
    if !logger.is_empty() || !attrs.is_empty() {
        o.extend_from_slice(b",\"attributes\":[");
        if !logger.is_empty() {
            o.extend_from_slice(b"{\"key\":\"logger.name\",\"value\":");
            write_any(o, Scalar::Str(logger));
            o.push(b'}');
            if !attrs.is_empty() {
                o.push(b',');
            }
        }
        write_kv_items(o, t, attrs);
        o.push(b']');
    }
    o.extend_from_slice(b",\"flags\":1,\"traceId\":\"");
    push_hex(o, &t.trace_id);
    o.extend_from_slice(b"\",\"spanId\":\"");
    push_hex(o, &t.spans[l.span as usize].span_id);
    o.extend_from_slice(b"\"}");
}

fn write_kvs(o: &mut Vec<u8>, t: &TraceBuf<'_>, kvs: &[KeyValue<'_>]) {
    o.push(b'[');
    write_kv_items(o, t, kvs);
    o.push(b']');
}

fn write_kv_items(o: &mut Vec<u8>, t: &TraceBuf<'_>, kvs: &[KeyValue<'_>]) {
    for (i, kv) in kvs.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        o.extend_from_slice(b"{\"key\":");
        write_str(o, kv.key);
        o.extend_from_slice(b",\"value\":");
        let v = match kv.value {
            AnyValue::Str(s) => Scalar::Str(t.str(&s)),
            AnyValue::Int(i) => Scalar::Int(i),
            AnyValue::Double(d) => Scalar::Double(d),
            AnyValue::Bool(b) => Scalar::Bool(b),
        };
        write_any(o, v);
        o.push(b'}');
    }
}

pub(crate) fn write_owned_kv(o: &mut Vec<u8>, k: &str, v: &OwnedValue) {
    o.extend_from_slice(b"{\"key\":");
    write_str(o, k);
    o.extend_from_slice(b",\"value\":");
    write_any(
        o,
        match v {
            OwnedValue::Str(s) => Scalar::Str(s),
            OwnedValue::Int(i) => Scalar::Int(*i),
            OwnedValue::Double(d) => Scalar::Double(*d),
            OwnedValue::Bool(b) => Scalar::Bool(*b),
        },
    );
    o.push(b'}');
}

/// A borrowed attribute value, whatever it was stored as.
enum Scalar<'a> {
    Str(&'a str),
    Int(i64),
    Double(f64),
    Bool(bool),
}

/// An `AnyValue` object.
fn write_any(o: &mut Vec<u8>, v: Scalar<'_>) {
    match v {
        Scalar::Str(s) => {
            o.extend_from_slice(b"{\"stringValue\":");
            write_str(o, s);
            o.push(b'}');
        }
        Scalar::Int(i) => {
            let _ = write!(o, "{{\"intValue\":\"{i}\"}}");
        }
        Scalar::Double(d) => {
            o.extend_from_slice(b"{\"doubleValue\":");
            write_f64(o, d);
            o.push(b'}');
        }
        Scalar::Bool(b) => {
            let _ = write!(o, "{{\"boolValue\":{b}}}");
        }
    }
}

/// Doubles as JSON numbers; the non-finite values as the strings proto3 JSON uses.
pub fn write_f64(o: &mut Vec<u8>, d: f64) {
    if d.is_finite() {
        let _ = write!(o, "{d}");
    } else if d.is_nan() {
        o.extend_from_slice(b"\"NaN\"");
    } else if d > 0.0 {
        o.extend_from_slice(b"\"Infinity\"");
    } else {
        o.extend_from_slice(b"\"-Infinity\"");
    }
}

/// A JSON string literal with the escapes RFC 8259 requires.
pub fn write_str(o: &mut Vec<u8>, s: &str) {
    o.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => {
                o.extend_from_slice(&bytes[start..i]);
                let _ = write!(o, "\\u{b:04x}");
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        o.extend_from_slice(&bytes[start..i]);
        o.extend_from_slice(esc);
        start = i + 1;
    }
    o.extend_from_slice(&bytes[start..]);
    o.push(b'"');
}
