//! Derived metrics against the oracle: the OTLP protobuf decodes with `opentelemetry-proto`,
//! re-encodes with prost to the same bytes, and says what the spans say.

#![allow(clippy::unwrap_used)] // a test fails loudly where its assumption breaks

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;
use prost::Message;
use tsim_model::metrics::MetricsAgg;
use tsim_model::{AnyValue, KeyValue, OwnedValue, Resource, Resources, Span, SpanKind, StatusCode, Text, TraceBuf};

/// The sum of integer data points (panics on any other kind).
fn int_total(points: &[opentelemetry_proto::tonic::metrics::v1::NumberDataPoint]) -> i64 {
    points
        .iter()
        .map(|p| match p.value {
            Some(Value::AsInt(i)) => i,
            _ => panic!("not an integer point: {p:?}"),
        })
        .sum()
}

fn trace(id: u8, model: &'static str, tokens: i64, dur_ms: u64, failed: bool) -> TraceBuf<'static> {
    let mut t = TraceBuf { trace_id: [id; 16], ..Default::default() };
    t.attrs.push(KeyValue { key: "gen_ai.operation.name", value: AnyValue::Str(Text::Static("chat")) });
    t.attrs.push(KeyValue { key: "gen_ai.system", value: AnyValue::Str(Text::Static("openai")) });
    t.attrs.push(KeyValue { key: "gen_ai.request.model", value: AnyValue::Str(Text::Static(model)) });
    t.attrs.push(KeyValue { key: "gen_ai.usage.input_tokens", value: AnyValue::Int(tokens) });
    t.attrs.push(KeyValue { key: "gen_ai.usage.output_tokens", value: AnyValue::Int(tokens / 10) });
    let span = |sid: u8, parent: u8, name: &'static str, kind, attrs, start: u64, dur: u64, status| Span {
        span_id: [sid; 8],
        parent_span_id: [parent; 8],
        name: Text::Static(name),
        kind,
        start_ns: start,
        end_ns: start + dur,
        attrs,
        events: (0, 0),
        status,
        status_message: Text::Static(""),
        flags: 0,
    };
    t.spans.push(span(1, 0, "turn", SpanKind::Server, (0, 0), 1_000, dur_ms * 1_000_000 + 10, StatusCode::Unset));
    let st = if failed { StatusCode::Error } else { StatusCode::Unset };
    t.spans.push(span(2, 1, "chat", SpanKind::Client, (0, 5), 2_000, dur_ms * 1_000_000, st));
    t
}

#[test]
fn derived_metrics_decode_and_count_the_spans() {
    let resources = Resources {
        list: vec![Resource { attrs: vec![("service.name".into(), OwnedValue::Str("svc".into()))] }],
        ..Default::default()
    };
    let mut agg = MetricsAgg::new();
    let traces = [
        trace(1, "gpt-4o", 1000, 5, false),
        trace(2, "gpt-4o", 3000, 700, true),
        trace(3, "gpt-4o-mini", 50, 30, false),
    ];
    for t in &traces {
        agg.add(0, t);
    }
    let mut out = Vec::new();
    agg.encode_proto(&resources, 1, 99, &mut out);
    let req = ExportMetricsServiceRequest::decode(out.as_slice()).unwrap();
    assert_eq!(req.encode_to_vec(), out, "our bytes are prost's canonical encoding");

    let metrics = &req.resource_metrics[0].scope_metrics[0].metrics;
    let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "calls",
            "duration",
            "gen_ai.client.operation.duration",
            "gen_ai.client.token.usage",
            "llm.cost",
            "llm.tokens"
        ]
    );
    // calls: one point per (name, kind, status); the counts add up to the 6 spans.
    let Some(Data::Sum(calls)) = &metrics[0].data else { panic!() };
    assert_eq!(calls.aggregation_temporality, 2);
    assert!(calls.is_monotonic);
    let total = int_total(&calls.data_points);
    assert_eq!(total, 6);
    // duration histograms: buckets sum to the count, exemplars point at real spans.
    let Some(Data::Histogram(h)) = &metrics[1].data else { panic!() };
    for p in &h.data_points {
        assert_eq!(p.bucket_counts.iter().sum::<u64>(), p.count);
        assert_eq!(p.bucket_counts.len(), p.explicit_bounds.len() + 1);
        let e = &p.exemplars[0];
        assert!(
            traces
                .iter()
                .any(|t| t.trace_id.as_slice() == e.trace_id
                    && t.spans.iter().any(|s| s.span_id.as_slice() == e.span_id))
        );
    }
    assert_eq!(h.data_points.iter().map(|p| p.count).sum::<u64>(), 6);
    // GenAI duration: by model and error.type, in seconds.
    let Some(Data::Histogram(g)) = &metrics[2].data else { panic!() };
    assert_eq!(g.data_points.len(), 3, "gpt-4o ok, gpt-4o failed (error.type), gpt-4o-mini");
    let failed = g.data_points.iter().find(|p| p.attributes.iter().any(|a| a.key == "error.type")).unwrap();
    assert_eq!(failed.count, 1);
    assert!((failed.sum.unwrap() - 0.7).abs() < 1e-9);
    // Token usage: sums equal the attributes, by token type.
    let Some(Data::Histogram(tk)) = &metrics[3].data else { panic!() };
    let sum_of = |ty: &str| -> f64 {
        tk.data_points
            .iter()
            .filter(|p| {
                p.attributes.iter().any(|a| a.key == "gen_ai.token.type" && format!("{:?}", a.value).contains(ty))
            })
            .map(|p| p.sum.unwrap())
            .sum()
    };
    assert_eq!(sum_of("input"), 4050.0);
    assert_eq!(sum_of("output"), 405.0);

    // Cost = tokens × the (example) price of each model, per model; tokens by type.
    let Some(Data::Sum(cost)) = &metrics[4].data else { panic!() };
    let by_model = |m: &str| -> f64 {
        cost.data_points
            .iter()
            .find(|p| format!("{:?}", p.attributes[0].value).contains(&format!("\"{m}\"")))
            .map(|p| match p.value {
                Some(Value::AsDouble(d)) => d,
                _ => panic!("cost is a double"),
            })
            .unwrap()
    };
    let gpt4o = (1000.0 + 3000.0) * 2.5 / 1e6 + (100.0 + 300.0) * 10.0 / 1e6;
    let mini = 50.0 * 0.15 / 1e6 + 5.0 * 0.6 / 1e6;
    assert!((by_model("gpt-4o") - gpt4o).abs() < 1e-12, "{}", by_model("gpt-4o"));
    assert!((by_model("gpt-4o-mini") - mini).abs() < 1e-12);
    let Some(Data::Sum(tok)) = &metrics[5].data else { panic!() };
    let total = int_total(&tok.data_points);
    assert_eq!(total, 1000 + 3000 + 50 + 100 + 300 + 5);

    // The JSON form decodes to the same message (ids converted from hex as OTLP/JSON says).
    let mut json = Vec::new();
    agg.encode_json(&resources, 1, 99, &mut json);
    let text = String::from_utf8(json).unwrap();
    assert!(text.starts_with(r#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name""#));
    assert!(text.contains(r#""aggregationTemporality":2,"isMonotonic":true"#));
}
