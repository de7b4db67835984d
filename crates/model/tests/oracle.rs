//! Our direct protobuf encoder against the oracle: the `opentelemetry-proto` structs encoded
//! by prost must give the same bytes, for arbitrary traces; and the OTLP/JSON encoder against
//! a pinned snapshot.

#![allow(clippy::unwrap_used)] // a test fails loudly where its assumption breaks

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1 as common;
use opentelemetry_proto::tonic::resource::v1 as resource;
use opentelemetry_proto::tonic::trace::v1 as trace;
use proptest::prelude::*;
use prost::Message;
use tsim_model::otlp_json::JsonTraceEncoder;
use tsim_model::otlp_proto::ProtoTraceEncoder;
use tsim_model::{
    AnyValue, Event, KeyValue, OwnedValue, Resource, Resources, Span, SpanKind, StatusCode, Text, TraceBuf,
    TraceEncoder,
};

#[derive(Debug, Clone)]
enum V {
    S(String),
    I(i64),
    D(f64),
    B(bool),
}

type Attrs = Vec<(String, V)>;

#[derive(Debug, Clone)]
struct SpanIn {
    name: String,
    kind: u8,
    start: u64,
    dur: u64,
    attrs: Attrs,
    events: Vec<(String, u64, Attrs)>,
    status: u8,
    msg: String,
    flags: u32,
    logs: Vec<(u8, String, Attrs, String)>,
}

const SEVERITY_TEXT: [&str; 4] = ["", "INFO", "WARN", "ERROR"];

fn severity(i: u8) -> (u8, &'static str) {
    ([0, 9, 13, 17][i as usize], SEVERITY_TEXT[i as usize])
}

fn value() -> impl Strategy<Value = V> {
    prop_oneof![
        ".{0,12}".prop_map(V::S),
        any::<i64>().prop_map(V::I),
        any::<f64>().prop_map(V::D),
        any::<bool>().prop_map(V::B),
    ]
}

fn attrs() -> impl Strategy<Value = Vec<(String, V)>> {
    prop::collection::vec(("[a-z._]{0,10}", value()), 0..5)
}

fn span() -> impl Strategy<Value = SpanIn> {
    (
        ".{0,20}",
        0u8..6,
        any::<u64>(),
        0u64..1 << 40,
        attrs(),
        prop::collection::vec((".{0,8}", any::<u64>(), attrs()), 0..3),
        0u8..3,
        ".{0,8}",
        prop_oneof![Just(0u32), Just(0x101u32), any::<u32>()],
        prop::collection::vec((0u8..4, ".{0,16}", attrs(), prop_oneof![Just(String::new()), "[a-z.]{1,12}"]), 0..3),
    )
        .prop_map(|(name, kind, start, dur, attrs, events, status, msg, flags, logs)| SpanIn {
            name,
            kind,
            start: start / 2,
            dur,
            attrs,
            events,
            status,
            msg,
            flags,
            logs,
        })
}

fn kind(k: u8) -> SpanKind {
    [
        SpanKind::Unspecified,
        SpanKind::Internal,
        SpanKind::Server,
        SpanKind::Client,
        SpanKind::Producer,
        SpanKind::Consumer,
    ][k as usize]
}

fn status(s: u8) -> StatusCode {
    [StatusCode::Unset, StatusCode::Ok, StatusCode::Error][s as usize]
}

/// Fills `t` from the inputs; strings go through the arena to exercise both text kinds.
fn build<'s>(t: &mut TraceBuf<'s>, trace_id: [u8; 16], spans: &'s [SpanIn]) {
    t.clear();
    t.trace_id = trace_id;
    let push_attrs = |t: &mut TraceBuf<'s>, attrs: &'s [(String, V)]| {
        let start = t.attrs.len() as u32;
        for (k, v) in attrs {
            let value = match v {
                V::S(s) => AnyValue::Str(t.push_text(s)),
                V::I(i) => AnyValue::Int(*i),
                V::D(d) => AnyValue::Double(*d),
                V::B(b) => AnyValue::Bool(*b),
            };
            t.attrs.push(KeyValue { key: k, value });
        }
        (start, t.attrs.len() as u32)
    };
    for (i, s) in spans.iter().enumerate() {
        let attrs = push_attrs(t, &s.attrs);
        let ev_start = t.events.len() as u32;
        for (name, time, ea) in &s.events {
            let attrs = push_attrs(t, ea);
            t.events.push(Event { name: Text::Static(name), time_ns: *time, attrs });
        }
        let events = (ev_start, t.events.len() as u32);
        let mut parent = [0u8; 8];
        if i > 0 {
            parent = (i as u64).to_be_bytes();
        }
        for (sev, body, la, logger) in &s.logs {
            let attrs = push_attrs(t, la);
            let (severity, severity_text) = severity(*sev);
            let body = t.push_text(body);
            t.logs.push(tsim_model::LogRecord {
                time_ns: s.start + 1,
                severity,
                severity_text,
                body,
                attrs,
                span: i as u32,
                logger: Text::Static(logger),
            });
        }
        let msg = t.push_text(&s.msg);
        t.spans.push(Span {
            span_id: (i as u64 + 1).to_be_bytes(),
            parent_span_id: parent,
            name: Text::Static(&s.name),
            kind: kind(s.kind),
            start_ns: s.start,
            end_ns: s.start + s.dur,
            attrs,
            events,
            status: status(s.status),
            status_message: msg,
            flags: s.flags,
        });
    }
}

fn oracle_value(v: &V) -> common::AnyValue {
    use common::any_value::Value;
    common::AnyValue {
        value: Some(match v {
            V::S(s) => Value::StringValue(s.clone()),
            V::I(i) => Value::IntValue(*i),
            V::D(d) => Value::DoubleValue(*d),
            V::B(b) => Value::BoolValue(*b),
        }),
    }
}

fn oracle_kvs(a: &[(String, V)]) -> Vec<common::KeyValue> {
    a.iter()
        .map(|(k, v)| common::KeyValue { key: k.clone(), value: Some(oracle_value(v)), ..Default::default() })
        .collect()
}

fn oracle_span(trace_id: [u8; 16], i: usize, s: &SpanIn) -> trace::Span {
    trace::Span {
        trace_id: trace_id.to_vec(),
        span_id: (i as u64 + 1).to_be_bytes().to_vec(),
        parent_span_id: if i > 0 { (i as u64).to_be_bytes().to_vec() } else { vec![] },
        name: s.name.clone(),
        kind: i32::from(s.kind),
        start_time_unix_nano: s.start,
        end_time_unix_nano: s.start + s.dur,
        attributes: oracle_kvs(&s.attrs),
        events: s
            .events
            .iter()
            .map(|(n, t, a)| trace::span::Event {
                time_unix_nano: *t,
                name: n.clone(),
                attributes: oracle_kvs(a),
                dropped_attributes_count: 0,
            })
            .collect(),
        status: (s.status != 0 || !s.msg.is_empty())
            .then(|| trace::Status { message: s.msg.clone(), code: i32::from(s.status) }),
        flags: s.flags,
        ..Default::default()
    }
}

fn owned(v: &V) -> OwnedValue {
    match v {
        V::S(s) => OwnedValue::Str(s.clone()),
        V::I(i) => OwnedValue::Int(*i),
        V::D(d) => OwnedValue::Double(*d),
        V::B(b) => OwnedValue::Bool(*b),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn direct_encoding_equals_prost(
        traces in prop::collection::vec((any::<[u8; 16]>(), 0u32..3, prop::collection::vec(span(), 1..6)), 1..5),
        res in prop::collection::vec(attrs(), 3),
    ) {
        let resources = Resources {
            list: res.iter().map(|a| Resource { attrs: a.iter().map(|(k, v)| (k.clone(), owned(v))).collect() }).collect(),
            ..Default::default()
        };
        let mut enc = ProtoTraceEncoder::new();
        let mut buf = TraceBuf::default();
        // Twice, to check that reused buffers give the same bytes.
        for _round in 0..2 {
            for (id, r, spans) in &traces {
                build(&mut buf, *id, spans);
                enc.add(&resources, *r, &buf);
            }
            prop_assert_eq!(enc.spans(), traces.iter().map(|t| t.2.len()).sum::<usize>());
            let mut ours = Vec::new();
            enc.finish(&resources, &mut ours);

            // The oracle: group by resource in order of first appearance.
            let mut order: Vec<u32> = Vec::new();
            for (_, r, _) in &traces {
                if !order.contains(r) { order.push(*r); }
            }
            let req = ExportTraceServiceRequest {
                resource_spans: order.iter().map(|r| trace::ResourceSpans {
                    resource: Some(resource::Resource { attributes: oracle_kvs(&res[*r as usize]), ..Default::default() }),
                    scope_spans: vec![trace::ScopeSpans {
                        scope: Some(common::InstrumentationScope {
                            name: resources.scope.name.clone(),
                            version: resources.scope.version.clone(),
                            ..Default::default()
                        }),
                        spans: traces.iter().filter(|t| t.1 == *r)
                            .flat_map(|(id, _, spans)| spans.iter().enumerate().map(|(i, s)| oracle_span(*id, i, s)))
                            .collect(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }).collect(),
            };
            prop_assert_eq!(&ours, &req.encode_to_vec());
            let decoded = ExportTraceServiceRequest::decode(ours.as_slice()).unwrap();
            prop_assert_eq!(decoded, req);
        }
    }
}

#[test]
fn json_snapshot() {
    let spans = vec![
        SpanIn {
            name: "vendor.a2a.orchestrate".into(),
            kind: 2,
            start: 1_766_577_600_000_000_000,
            dur: 1_500_000_000,
            attrs: vec![
                ("vendor.turn.status.code".into(), V::S("SUCCESS \"quoted\"\n".into())),
                ("gen_ai.usage.input_tokens".into(), V::I(420)),
                ("score".into(), V::D(0.25)),
                ("ok".into(), V::B(true)),
            ],
            events: vec![],
            status: 0,
            msg: String::new(),
            flags: 0x101,
            logs: vec![],
        },
        SpanIn {
            name: "vendor.mcp.tool.execute.attempt".into(),
            kind: 1,
            start: 1_766_577_600_100_000_000,
            dur: 250_000_000,
            attrs: vec![("retry.attempt".into(), V::I(1))],
            events: vec![(
                "exception".into(),
                1_766_577_600_350_000_000,
                vec![("exception.type".into(), V::S("timeout".into()))],
            )],
            status: 2,
            msg: "timeout".into(),
            flags: 0x101,
            logs: vec![],
        },
    ];
    let resources = Resources {
        list: vec![Resource { attrs: vec![("service.name".into(), OwnedValue::Str("telemetry-simulator".into()))] }],
        ..Default::default()
    };
    let mut buf = TraceBuf::default();
    build(&mut buf, [0xab; 16], &spans);
    let mut enc = JsonTraceEncoder::new();
    enc.add(&resources, 0, &buf);
    let mut out = Vec::new();
    enc.finish(&resources, &mut out);
    let expected = concat!(
        r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"telemetry-simulator"}}]},"#,
        r#""scopeSpans":[{"scope":{"name":"telemetry-simulator","version":"VERSION"},"spans":["#,
        r#"{"traceId":"abababababababababababababababab","spanId":"0000000000000001","flags":257,"name":"vendor.a2a.orchestrate","kind":2,"#,
        r#""startTimeUnixNano":"1766577600000000000","endTimeUnixNano":"1766577601500000000","attributes":["#,
        r#"{"key":"vendor.turn.status.code","value":{"stringValue":"SUCCESS \"quoted\"\n"}},"#,
        r#"{"key":"gen_ai.usage.input_tokens","value":{"intValue":"420"}},"#,
        r#"{"key":"score","value":{"doubleValue":0.25}},{"key":"ok","value":{"boolValue":true}}]},"#,
        r#"{"traceId":"abababababababababababababababab","spanId":"0000000000000002","parentSpanId":"0000000000000001","flags":257,"#,
        r#""name":"vendor.mcp.tool.execute.attempt","kind":1,"startTimeUnixNano":"1766577600100000000","endTimeUnixNano":"1766577600350000000","#,
        r#""attributes":[{"key":"retry.attempt","value":{"intValue":"1"}}],"#,
        r#""events":[{"timeUnixNano":"1766577600350000000","name":"exception","attributes":[{"key":"exception.type","value":{"stringValue":"timeout"}}]}],"#,
        r#""status":{"message":"timeout","code":2}}]}]}]}"#
    )
    .replace("VERSION", env!("CARGO_PKG_VERSION"));
    assert_eq!(String::from_utf8(out).unwrap(), expected);
}

fn oracle_logs(trace_id: [u8; 16], spans: &[SpanIn]) -> Vec<opentelemetry_proto::tonic::logs::v1::LogRecord> {
    use opentelemetry_proto::tonic::logs::v1::LogRecord;
    let mut out = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        for (sev, body, la, logger) in &s.logs {
            let (severity_number, severity_text) = severity(*sev);
            let mut attributes = Vec::new();
            if !logger.is_empty() {
                attributes.push(common::KeyValue {
                    key: "logger.name".into(),
                    value: Some(oracle_value(&V::S(logger.clone()))),
                    ..Default::default()
                });
            }
            attributes.extend(oracle_kvs(la));
            out.push(LogRecord {
                time_unix_nano: s.start + 1,
                observed_time_unix_nano: s.start + 1,
                severity_number: i32::from(severity_number),
                severity_text: severity_text.into(),
                body: Some(oracle_value(&V::S(body.clone()))),
                attributes,
                flags: 1,
                trace_id: trace_id.to_vec(),
                span_id: (i as u64 + 1).to_be_bytes().to_vec(),
                ..Default::default()
            });
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, ..ProptestConfig::default() })]

    #[test]
    fn direct_log_encoding_equals_prost(
        traces in prop::collection::vec((any::<[u8; 16]>(), 0u32..2, prop::collection::vec(span(), 1..5)), 1..4),
    ) {
        use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
        use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
        let resources = Resources {
            list: vec![Resource::default(), Resource { attrs: vec![("service.name".into(), OwnedValue::Str("s".into()))] }],
            ..Default::default()
        };
        let mut enc = ProtoTraceEncoder::for_items(tsim_model::Items::Logs);
        let mut buf = TraceBuf::default();
        for (id, r, spans) in &traces {
            build(&mut buf, *id, spans);
            enc.add(&resources, *r, &buf);
        }
        let mut ours = Vec::new();
        enc.finish(&resources, &mut ours);
        let mut order: Vec<u32> = Vec::new();
        for (_, r, spans) in &traces {
            let has_logs = spans.iter().any(|s| !s.logs.is_empty());
            if has_logs && !order.contains(r) { order.push(*r); }
        }
        let req = ExportLogsServiceRequest {
            resource_logs: order.iter().map(|r| ResourceLogs {
                resource: Some(resource::Resource {
                    attributes: resources.list[*r as usize].attrs.iter()
                        .map(|(k, v)| common::KeyValue { key: k.clone(), value: Some(oracle_value(&match v {
                            OwnedValue::Str(s) => V::S(s.clone()),
                            _ => unreachable!(),
                        })), ..Default::default() })
                        .collect(),
                    ..Default::default()
                }),
                scope_logs: vec![ScopeLogs {
                    scope: Some(common::InstrumentationScope {
                        name: resources.scope.name.clone(),
                        version: resources.scope.version.clone(),
                        ..Default::default()
                    }),
                    log_records: traces.iter().filter(|t| t.1 == *r).flat_map(|(id, _, spans)| oracle_logs(*id, spans)).collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }).collect(),
        };
        // Resources without log records are left out.
        prop_assert_eq!(ours, req.encode_to_vec());
    }
}
