//! Human-readable trace output for `--show-spans` (one line per trace) and
//! `--show-full-spans` (every span with its timing, status, attributes and events).

use std::fmt::Write;

use crate::hex::push_hex_str;
use crate::num::f64_of;
use crate::time::push_rfc3339;
use crate::trace::{AnyValue, KeyValue, Resources, StatusCode, TraceBuf};
use crate::{Items, TraceEncoder};

/// How much to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// One line per trace: id, scenario, tenant, span names.
    Line,
    /// Every span with all attributes.
    Full,
}

/// Renders traces as text; the tenant is read from the resource attribute `tenant_key`.
#[derive(Debug)]
pub struct TextTraceEncoder {
    detail: Detail,
    tenant_key: String,
    out: String,
    spans: usize,
    stack: Vec<[u8; 8]>,
}

impl TextTraceEncoder {
    /// A new renderer.
    pub fn new(detail: Detail, tenant_key: impl Into<String>) -> Self {
        Self { detail, tenant_key: tenant_key.into(), out: String::new(), spans: 0, stack: Vec::new() }
    }
}

impl TraceEncoder for TextTraceEncoder {
    fn items(&self) -> Items {
        Items::Traces
    }

    fn encode_item(&mut self, res: &Resources, id: u32, trace: &TraceBuf<'_>, _: u32, out: &mut Vec<u8>) -> usize {
        let (mark, spans) = (self.out.len(), self.spans);
        self.add(res, id, trace);
        out.extend_from_slice(&self.out.as_bytes()[mark..]);
        self.out.truncate(mark);
        std::mem::replace(&mut self.spans, spans) - spans
    }

    fn add_encoded(&mut self, _resource: u32, piece: &[u8], items: usize) {
        // Pieces are whole lines this encoder wrote.
        self.out.push_str(&String::from_utf8_lossy(piece));
        self.spans += items;
    }

    fn add(&mut self, resources: &Resources, resource: u32, t: &TraceBuf<'_>) {
        let o = &mut self.out;
        let tenant = resources.list[resource as usize].get_str(&self.tenant_key).unwrap_or("-");
        let root = t.spans.first();
        let dur_ms = root.map(|r| f64_of(r.end_ns - r.start_ns) / 1e6).unwrap_or(0.0);
        o.push_str("trace ");
        push_hex_str(o, &t.trace_id);
        let _ = write!(
            o,
            " scenario={} tenant={tenant} spans={} errors={} duration={dur_ms:.3}ms",
            t.scenario,
            t.spans.len(),
            t.error_spans()
        );
        match self.detail {
            Detail::Line => {
                o.push_str(" :");
                for s in &t.spans {
                    o.push(' ');
                    o.push_str(t.str(&s.name));
                    if s.status == StatusCode::Error {
                        o.push('!');
                    }
                }
                o.push('\n');
            }
            Detail::Full => {
                if let Some(r) = root {
                    o.push_str(" start=");
                    push_rfc3339(o, r.start_ns, 6);
                }
                o.push('\n');
                let t0 = root.map(|r| r.start_ns).unwrap_or(0);
                self.stack.clear();
                for s in &t.spans {
                    while let Some(top) = self.stack.last() {
                        if *top == s.parent_span_id {
                            break;
                        }
                        self.stack.pop();
                    }
                    let depth = self.stack.len() + 1;
                    self.stack.push(s.span_id);
                    let pad = "  ".repeat(depth);
                    let _ = write!(o, "{pad}{} [{}] span=", t.str(&s.name), s.kind.as_str());
                    push_hex_str(o, &s.span_id);
                    let _ = write!(
                        o,
                        " +{:.3}ms {:.3}ms",
                        f64_of(s.start_ns - t0) / 1e6,
                        f64_of(s.end_ns - s.start_ns) / 1e6
                    );
                    match s.status {
                        StatusCode::Error => {
                            let _ = write!(o, " ERROR({})", t.str(&s.status_message));
                        }
                        StatusCode::Ok => o.push_str(" OK"),
                        StatusCode::Unset => {}
                    }
                    o.push('\n');
                    for kv in t.attrs_of(s.attrs) {
                        let _ = write!(o, "{pad}    {} = ", kv.key);
                        write_value(o, t, kv);
                        o.push('\n');
                    }
                    for e in t.events_of(s.events) {
                        let _ =
                            write!(o, "{pad}    event {} at +{:.3}ms", t.str(&e.name), f64_of(e.time_ns - t0) / 1e6);
                        for kv in t.attrs_of(e.attrs) {
                            let _ = write!(o, " {}=", kv.key);
                            write_value(o, t, kv);
                        }
                        o.push('\n');
                    }
                }
            }
        }
        self.spans += t.spans.len();
    }

    fn spans(&self) -> usize {
        self.spans
    }

    fn finish(&mut self, _resources: &Resources, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(self.out.as_bytes());
        self.out.clear();
        self.spans = 0;
    }
}

fn write_value(o: &mut String, t: &TraceBuf<'_>, kv: &KeyValue<'_>) {
    let _ = match kv.value {
        AnyValue::Str(s) => write!(o, "{:?}", t.str(&s)),
        AnyValue::Int(i) => write!(o, "{i}"),
        AnyValue::Double(d) => write!(o, "{d}"),
        AnyValue::Bool(b) => write!(o, "{b}"),
    };
}
