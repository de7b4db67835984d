//! `verify` on what rides on spans and points: OTLP requests written into a real store (its
//! write-ahead log, converted to Parquet) as a pipeline altered them, compared with the
//! requests as they were made — span events per name, span links and exemplars, each
//! dropped, added or changed; a span moved whole with its events is only a moved span. The
//! same answer with everything in memory and spilled to bucket files.
#![allow(clippy::unwrap_used)] // a test fails loudly where its assumption breaks

use std::path::PathBuf;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, Histogram, HistogramDataPoint, Metric, ResourceMetrics, ScopeMetrics, exemplar, metric,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span};
use prost::Message;
use serde_json::json;
use tsim_report::verify::{Counts, PASS_ITEMS, Verdict, compare, write_frame};
use tsim_store::{Snapshot, Store, Table};

/// 2026-11-21T10:00:00Z in ns.
const T0: u64 = 1_795_255_200_000_000_000;
const MS: u64 = 1_000_000;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(v.into())) }),
        ..Default::default()
    }
}

fn resource() -> Option<Resource> {
    Some(Resource { attributes: vec![kv("service.name", "lists")], ..Default::default() })
}

fn event(name: &str, at_ms: u64, attrs: &[(&str, &str)]) -> span::Event {
    span::Event {
        time_unix_nano: T0 + at_ms * MS,
        name: name.into(),
        attributes: attrs.iter().map(|(k, v)| kv(k, v)).collect(),
        dropped_attributes_count: 0,
    }
}

fn link(to: u8, attrs: &[(&str, &str)]) -> span::Link {
    span::Link {
        trace_id: vec![to; 16],
        span_id: vec![to; 8],
        attributes: attrs.iter().map(|(k, v)| kv(k, v)).collect(),
        ..Default::default()
    }
}

fn span(id: u8, events: Vec<span::Event>, links: Vec<span::Link>) -> Span {
    Span {
        trace_id: vec![1; 16],
        span_id: vec![id; 8],
        parent_span_id: if id == 1 { Vec::new() } else { vec![1; 8] },
        name: format!("step {id}"),
        start_time_unix_nano: T0,
        end_time_unix_nano: T0 + 50 * MS,
        events,
        links,
        ..Default::default()
    }
}

fn traces(spans: Vec<Span>) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn exemplar(span: u8, value: f64) -> Exemplar {
    Exemplar {
        time_unix_nano: T0 + 10 * MS,
        span_id: vec![span; 8],
        trace_id: vec![1; 16],
        value: Some(exemplar::Value::AsDouble(value)),
        ..Default::default()
    }
}

fn metrics(points: Vec<(&str, Vec<Exemplar>)>) -> Vec<u8> {
    let data_points = points
        .into_iter()
        .map(|(route, exemplars)| HistogramDataPoint {
            attributes: vec![kv("route", route)],
            start_time_unix_nano: T0,
            time_unix_nano: T0 + 60_000 * MS,
            count: 2,
            sum: Some(3.0),
            bucket_counts: vec![1, 1],
            explicit_bounds: vec![1.0],
            exemplars,
            ..Default::default()
        })
        .collect();
    let histogram = Histogram { data_points, aggregation_temporality: 2 };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "latency".into(),
                    data: Some(metric::Data::Histogram(histogram)),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tsim-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn events_links_and_exemplars_are_compared_each_by_how_it_changed() {
    let tool = |t: &'static str, at| event("tool", at, &[("tool", t)]);
    let sent = traces(vec![
        span(
            1,
            vec![event("start", 1, &[("step", "a")]), tool("x", 2), tool("y", 3)],
            vec![link(9, &[("why", "follows")]), link(8, &[])],
        ),
        span(2, vec![event("exception", 5, &[])], Vec::new()),
        span(3, vec![event("start", 1, &[])], Vec::new()),
        span(4, vec![event("start", 1, &[]), tool("x", 2)], vec![link(7, &[])]),
    ]);
    let mut moved = span(2, vec![event("exception", 1_005, &[])], Vec::new());
    moved.start_time_unix_nano += 1_000 * MS;
    moved.end_time_unix_nano += 1_000 * MS;
    let got = traces(vec![
        // One `tool` event dropped, `start` changed; a link dropped, the other changed.
        span(1, vec![event("start", 1, &[("step", "b")]), tool("y", 3)], vec![link(9, &[("why", "other")])]),
        // Moved whole, its event with it.
        moved,
        // An event added.
        span(3, vec![event("start", 1, &[]), event("retry", 9, &[])], Vec::new()),
        span(4, vec![event("start", 1, &[]), tool("x", 2)], vec![link(7, &[])]),
    ]);
    let sent_points = metrics(vec![
        ("a", vec![exemplar(1, 1.5), exemplar(2, 2.5)]),
        ("b", vec![exemplar(3, 0.5)]),
        ("c", Vec::new()),
    ]);
    let got_points =
        metrics(vec![("a", vec![exemplar(1, 9.0)]), ("b", vec![exemplar(3, 0.5)]), ("c", vec![exemplar(4, 1.0)])]);

    let dir = tempdir("verify-lists");
    let store = dir.join("store");
    let (mut s, _) = Store::open(&store).unwrap();
    s.append(Table::Traces, None, &got).unwrap();
    s.append(Table::Metrics, None, &got_points).unwrap();
    s.flush().unwrap();
    drop(s);
    let mut frames = Vec::new();
    write_frame(&mut frames, Table::Traces, &sent).unwrap();
    write_frame(&mut frames, Table::Metrics, &sent_points).unwrap();
    let counts = Counts { spans: 4, log_records: 0, metric_points: 3 };

    let mut answers = Vec::new();
    for per in [PASS_ITEMS, 1] {
        let (verdict, report) =
            compare(&frames[..], counts, None, &Snapshot::open(&store).unwrap(), &dir.join("spill"), per).unwrap();
        assert_eq!(verdict, Verdict::Differences);
        answers.push(report.json);
    }
    assert_eq!(answers[0], answers[1], "in memory and in bucket files");
    let v = &answers[0];
    let t = &v["signals"]["traces"];
    assert_eq!((&t["delivered"], &t["missing"], &t["unexpected"]), (&json!(4), &json!(0), &json!(0)), "{v}");
    let a = &t["altered"];
    assert_eq!(a["items"], 3, "{v}");
    assert_eq!(
        a["events"],
        json!([
            {"name": "retry", "dropped": 0, "added": 1, "changed": 0},
            {"name": "start", "dropped": 0, "added": 0, "changed": 1},
            {"name": "tool", "dropped": 1, "added": 0, "changed": 0},
        ]),
        "{v}"
    );
    assert_eq!(a["links"], json!({"dropped": 1, "added": 0, "changed": 1}), "{v}");
    assert_eq!(a["timestampsShifted"]["items"], 1, "{v}");
    assert_eq!((&a["attributes"], &a["fields"]), (&json!([]), &json!({})), "{v}");
    let m = &v["signals"]["metrics"];
    assert_eq!((&m["delivered"], &m["missing"], &m["unexpected"]), (&json!(3), &json!(0), &json!(0)), "{v}");
    assert_eq!(m["altered"]["items"], 2, "{v}");
    assert_eq!(m["altered"]["exemplars"], json!({"dropped": 1, "added": 1, "changed": 1}), "{v}");
    assert_eq!(m["altered"]["fields"], json!({}), "{v}");

    // What was sent, stored as sent: identical.
    let same = dir.join("same");
    let (mut s, _) = Store::open(&same).unwrap();
    s.append(Table::Traces, None, &sent).unwrap();
    s.append(Table::Metrics, None, &sent_points).unwrap();
    s.flush().unwrap();
    drop(s);
    let (verdict, report) =
        compare(&frames[..], counts, None, &Snapshot::open(&same).unwrap(), &dir.join("spill2"), PASS_ITEMS).unwrap();
    assert_eq!(verdict, Verdict::Identical, "{}", report.json);
    std::fs::remove_dir_all(&dir).unwrap();
}
