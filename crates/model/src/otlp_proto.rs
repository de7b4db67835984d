//! OTLP protobuf (`ExportTraceServiceRequest`, `ExportLogsServiceRequest`) written directly
//! into reused buffers. Both requests frame their items the same way:
//! `1: Resource{X} { 1: Resource, 2: Scope{X} { 1: InstrumentationScope, 2: item… } }`.
//!
//! No per-span structs are built: each span is encoded once, in place and length-prefixed,
//! into its resource's span list; the outer messages are framed
//! at [`TraceEncoder::finish`]. The output is byte-identical to encoding the
//! `opentelemetry-proto` structs with prost (fields in number order, defaults omitted).

use crate::proto::*;
use crate::trace::LogRecord;
use crate::trace::{AnyValue, KeyValue, OwnedValue, ResourceBatches, Resources, StatusCode, TraceBuf};
use crate::{Items, Picked, TraceEncoder};

/// Batches traces into an `ExportTraceServiceRequest` (or their logs into an
/// `ExportLogsServiceRequest`).
#[derive(Debug)]
pub struct ProtoTraceEncoder {
    items: Items,
    /// Per resource in this batch, in order of first appearance: (resource id, encoded spans).
    batches: ResourceBatches,
    /// Encoded `Resource` messages by id.
    resource_cache: Vec<Option<Vec<u8>>>,
    /// Encoded `InstrumentationScope` message.
    scope: Option<Vec<u8>>,
    spans: usize,
}

impl Default for ProtoTraceEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ProtoTraceEncoder {
    /// An encoder of spans.
    pub fn new() -> Self {
        Self::for_items(Items::Spans)
    }

    /// An encoder of spans or of log records.
    pub fn for_items(items: Items) -> Self {
        Self { items, batches: ResourceBatches::default(), resource_cache: Vec::new(), scope: None, spans: 0 }
    }

    fn resource_bytes(&mut self, resources: &Resources, id: u32) -> &[u8] {
        let i = id as usize;
        if self.resource_cache.len() <= i {
            self.resource_cache.resize(i + 1, None);
        }
        self.resource_cache[i].get_or_insert_with(|| {
            let mut b = Vec::new();
            for (k, v) in &resources.list[i].attrs {
                put_owned_kv(&mut b, 1, k, v);
            }
            b
        })
    }
}

impl TraceEncoder for ProtoTraceEncoder {
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
                    put_len_field_with(out, 2, |b| encode_span(b, trace, span));
                }
            }
            Items::Logs => {
                for log in &trace.logs {
                    put_len_field_with(out, 2, |b| encode_log(b, trace, log));
                }
            }
        }
    }

    fn encode_item(&mut self, _: &Resources, _: u32, trace: &TraceBuf<'_>, index: u32, out: &mut Vec<u8>) -> usize {
        match Picked::of(self.items, trace, index) {
            Some(Picked::Span(span)) => put_len_field_with(out, 2, |b| encode_span(b, trace, span)),
            Some(Picked::Log(log)) => put_len_field_with(out, 2, |b| encode_log(b, trace, log)),
            None => return 0,
        }
        1
    }

    fn add_encoded(&mut self, resource: u32, piece: &[u8], items: usize) {
        self.batches.buffer(resource).extend_from_slice(piece);
        self.spans += items;
    }

    fn spans(&self) -> usize {
        self.spans
    }

    fn finish(&mut self, resources: &Resources, out: &mut Vec<u8>) {
        out.clear();
        let scope = self
            .scope
            .get_or_insert_with(|| {
                let mut b = Vec::new();
                put_str_field(&mut b, 1, &resources.scope.name);
                put_str_field(&mut b, 2, &resources.scope.version);
                b
            })
            .clone();
        let batches = self.batches.take();
        for (id, spans) in &batches {
            let res = self.resource_bytes(resources, *id);
            let scope_spans_len = len_field_size(1, scope.len()) + spans.len();
            let url = resources.schema_url.as_bytes();
            let url_len = if url.is_empty() { 0 } else { len_field_size(3, url.len()) };
            let resource_spans_len = len_field_size(1, res.len()) + len_field_size(2, scope_spans_len) + url_len;
            put_tag(out, 1, LEN);
            put_varint(out, resource_spans_len as u64);
            put_len_field(out, 1, res);
            put_tag(out, 2, LEN);
            put_varint(out, scope_spans_len as u64);
            put_len_field(out, 1, &scope);
            out.extend_from_slice(spans);
            if !url.is_empty() {
                put_len_field(out, 3, url);
            }
        }
        self.batches.recycle(batches);
        self.spans = 0;
    }
}

#[inline]
fn put_str_field(buf: &mut Vec<u8>, field: u32, s: &str) {
    if !s.is_empty() {
        put_len_field(buf, field, s.as_bytes());
    }
}

fn encode_span(b: &mut Vec<u8>, t: &TraceBuf<'_>, s: &crate::Span<'_>) {
    put_len_field(b, 1, &t.trace_id);
    put_len_field(b, 2, &s.span_id);
    if !s.is_root() {
        put_len_field(b, 4, &s.parent_span_id);
    }
    put_str_field(b, 5, t.str(&s.name));
    if s.kind as u8 != 0 {
        put_tag(b, 6, VARINT);
        put_varint(b, u64::from(s.kind as u8));
    }
    if s.start_ns != 0 {
        put_fixed64(b, 7, s.start_ns);
    }
    if s.end_ns != 0 {
        put_fixed64(b, 8, s.end_ns);
    }
    for kv in t.attrs_of(s.attrs) {
        put_kv(b, 9, t, kv);
    }
    for e in t.events_of(s.events) {
        let name = t.str(&e.name);
        let attrs = t.attrs_of(e.attrs);
        let mut len = 0;
        if e.time_ns != 0 {
            len += 1 + 8;
        }
        if !name.is_empty() {
            len += len_field_size(2, name.len());
        }
        for kv in attrs {
            len += len_field_size(3, kv_size(t, kv));
        }
        put_tag(b, 11, LEN);
        put_varint(b, len as u64);
        if e.time_ns != 0 {
            put_fixed64(b, 1, e.time_ns);
        }
        put_str_field(b, 2, name);
        for kv in attrs {
            put_kv(b, 3, t, kv);
        }
    }
    let msg = t.str(&s.status_message);
    if s.status != StatusCode::Unset || !msg.is_empty() {
        let mut len = 0;
        if !msg.is_empty() {
            len += len_field_size(2, msg.len());
        }
        if s.status != StatusCode::Unset {
            len += 2;
        }
        put_tag(b, 15, LEN);
        put_varint(b, len as u64);
        put_str_field(b, 2, msg);
        if s.status != StatusCode::Unset {
            put_tag(b, 3, VARINT);
            put_varint(b, s.status as u64);
        }
    }
    if s.flags != 0 {
        put_fixed32(b, 16, s.flags);
    }
}

fn encode_log(b: &mut Vec<u8>, t: &TraceBuf<'_>, l: &LogRecord<'_>) {
    if l.time_ns != 0 {
        put_fixed64(b, 1, l.time_ns);
    }
    if l.severity != 0 {
        put_tag(b, 2, VARINT);
        put_varint(b, u64::from(l.severity));
    }
    put_str_field(b, 3, l.severity_text);
    let body = AnyValue::Str(l.body);
    put_tag(b, 5, LEN);
    put_varint(b, any_size(t, &body) as u64);
    put_any(b, t, &body);
    let logger = t.str(&l.logger);
    if !logger.is_empty() {
        put_kv(b, 6, t, &KeyValue { key: "logger.name", value: AnyValue::Str(l.logger) });
    }
    for kv in t.attrs_of(l.attrs) {
        put_kv(b, 6, t, kv);
    }
    put_fixed32(b, 8, 1);
    let span = &t.spans[l.span as usize];
    put_len_field(b, 9, &t.trace_id);
    put_len_field(b, 10, &span.span_id);
    if l.time_ns != 0 {
        put_fixed64(b, 11, l.time_ns);
    }
}

#[inline]
fn any_size(t: &TraceBuf<'_>, v: &AnyValue<'_>) -> usize {
    match v {
        AnyValue::Str(s) => len_field_size(1, t.str(s).len()),
        AnyValue::Bool(_) => 2,
        AnyValue::Int(i) => 1 + varint_len((*i).cast_unsigned()),
        AnyValue::Double(_) => 9,
    }
}

#[inline]
fn kv_size(t: &TraceBuf<'_>, kv: &KeyValue<'_>) -> usize {
    let key = if kv.key.is_empty() { 0 } else { len_field_size(1, kv.key.len()) };
    key + len_field_size(2, any_size(t, &kv.value))
}

#[inline]
fn put_kv(b: &mut Vec<u8>, field: u32, t: &TraceBuf<'_>, kv: &KeyValue<'_>) {
    put_tag(b, field, LEN);
    put_varint(b, kv_size(t, kv) as u64);
    put_str_field(b, 1, kv.key);
    put_tag(b, 2, LEN);
    put_varint(b, any_size(t, &kv.value) as u64);
    put_any(b, t, &kv.value);
}

#[inline]
fn put_any(b: &mut Vec<u8>, t: &TraceBuf<'_>, v: &AnyValue<'_>) {
    match *v {
        AnyValue::Str(s) => put_len_field(b, 1, t.str(&s).as_bytes()),
        AnyValue::Bool(v) => {
            put_tag(b, 2, VARINT);
            b.push(u8::from(v));
        }
        AnyValue::Int(i) => {
            put_tag(b, 3, VARINT);
            put_varint(b, i.cast_unsigned());
        }
        AnyValue::Double(d) => put_fixed64(b, 4, d.to_bits()),
    }
}

pub(crate) fn put_owned_kv(b: &mut Vec<u8>, field: u32, key: &str, v: &OwnedValue) {
    let mut any = Vec::new();
    match v {
        OwnedValue::Str(s) => put_len_field(&mut any, 1, s.as_bytes()),
        OwnedValue::Bool(x) => {
            put_tag(&mut any, 2, VARINT);
            any.push(u8::from(*x));
        }
        OwnedValue::Int(i) => {
            put_tag(&mut any, 3, VARINT);
            put_varint(&mut any, (*i).cast_unsigned());
        }
        OwnedValue::Double(d) => put_fixed64(&mut any, 4, d.to_bits()),
    }
    let mut kv = Vec::new();
    put_str_field(&mut kv, 1, key);
    put_len_field(&mut kv, 2, &any);
    put_len_field(b, field, &kv);
}
