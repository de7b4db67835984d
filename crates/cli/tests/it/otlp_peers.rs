//! Export over OTLP into real peers: the OpenTelemetry Python classes (strict decoding of
//! every request) and rotel; retries, drops and partial success as the spec says.

use std::time::{Duration, Instant};

use crate::common::*;

fn received(r: &Receiver) -> Vec<[String; 4]> {
    let rep = r.report();
    assert_eq!(rep["decode_errors"].as_array().unwrap().len(), 0, "decode errors: {}", rep["decode_errors"]);
    span_set(
        rep["spans"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| ["trace_id", "span_id", "parent_span_id", "name"].map(|k| s[k].as_str().unwrap().to_string())),
    )
}

fn received_logs(r: &Receiver) -> Vec<(String, String, u64, String)> {
    let rep = r.report();
    log_set(rep["logs"].as_array().unwrap().iter().map(|l| {
        (
            l["trace_id"].as_str().unwrap().to_string(),
            l["span_id"].as_str().unwrap().to_string(),
            l["severity"].as_u64().unwrap(),
            l["body"].as_str().unwrap().to_string(),
        )
    }))
}

fn logs_from_file(path: &std::path::Path) -> Vec<(String, String, u64, String)> {
    log_set(logs_of(&decode_json_file(path)).into_iter())
}

fn from_file(path: &std::path::Path) -> Vec<[String; 4]> {
    span_set(spans_of(&decode_json_file(path)).into_iter())
}

#[test]
fn every_protocol_delivers_exactly_what_was_generated() {
    for (protocol, compression) in [
        ("grpc", "none"),
        ("grpc", "gzip"),
        ("http/protobuf", "none"),
        ("http/protobuf", "gzip"),
        ("http/json", "none"),
        ("http/json", "gzip"),
    ] {
        let rx = Receiver::start("ok");
        let dir = tempdir("proto");
        let url = if protocol == "grpc" { rx.grpc_url() } else { rx.http_url() };
        let out = dir.join("out");
        let args = format!(
            "--endpoint {url} --protocol {protocol} --compression {compression} --output {} --batch-size 64 \
             scenario --name tool_retry --count 40 --interval 0 --seed 11 --start-time {START} -q",
            out.display()
        );
        let r = run_in(&dir, &words(&args), &[]);
        assert_eq!(r.code(), 0, "{protocol}: {}", r.stderr());
        let otlp = r.sink("otlp-");
        let spans = r.summary["spans"].as_u64().unwrap();
        assert_eq!(otlp["generated"], spans, "{protocol}");
        assert_eq!(otlp["delivered"], spans, "{protocol}");
        assert_eq!(otlp["dropped"], serde_json::json!({}), "{protocol}");
        let got = received(&rx);
        assert_eq!(got.len() as u64, spans);
        assert_links(&got);
        // The same run wrote the same spans to its file: compare span by span.
        assert_eq!(got, from_file(&out.join("traces.jsonl")), "{protocol}: received != file");
        // Log records: the same as in the run's file, each pointing at a received span.
        let logs = received_logs(&rx);
        assert_eq!(logs.len() as u64, r.summary["log_records"].as_u64().unwrap(), "{protocol}");
        assert!(!logs.is_empty());
        assert_eq!(logs, logs_from_file(&out.join("logs.jsonl")), "{protocol}: received logs != file");
        assert_logs_correlate(&logs, &got);
        r.assert_all_delivered();
        let rep = rx.report();
        let exports = rep["metric_exports"].as_array().unwrap();
        assert!(!exports.is_empty(), "{protocol}: no metrics");
        assert_metrics_match(exports.last().unwrap(), &got);
        assert_eq!(rep["requests_by_signal"]["metrics"], r.sink_of("otlp-", "metrics")["requests"], "{protocol}");
        // grpcio decompresses before the servicer sees metadata; HTTP shows Content-Encoding.
        if protocol != "grpc" {
            let enc = if compression == "gzip" { "gzip" } else { "identity" };
            assert!(rep["encodings"].get(enc).is_some(), "{protocol}: encodings {}", rep["encodings"]);
        }
        assert_eq!(rep["requests_by_signal"]["traces"], otlp["requests"], "{protocol}: one request per batch");
        assert_eq!(rep["requests_by_signal"]["logs"], r.sink_of("otlp-", "logs")["requests"], "{protocol}");
    }
}

#[test]
fn environment_selects_grpc_for_a_mixed_run() {
    let rx = Receiver::start("ok");
    let dir = tempdir("env");
    let url = rx.grpc_url();
    let r = run_in(
        &dir,
        &["run", "--count", "60", "--interval", "0", "--seed", "5", "-q"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", url.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_SERVICE_NAME", "svc-under-test"),
        ],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(!dir.join("telemetry-out").exists(), "no file output when an endpoint is set");
    let rep = rx.report();
    let spans = rep["spans"].as_array().unwrap();
    assert_eq!(spans.len() as u64, r.summary["spans"].as_u64().unwrap());
    assert!(spans.iter().all(|s| s["transport"] == "grpc" && s["service"] == "svc-under-test"));
    let names: std::collections::HashSet<&str> = spans.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert!(
        names.contains("vendor.mcp.tool.execute.attempt") && names.contains("vendor.response.compose"),
        "both scenarios mixed"
    );
    let mixed: Vec<&String> = r.summary["scenarios"].as_object().unwrap().keys().collect();
    assert!(mixed.len() >= 3, "{mixed:?}");
    assert!(!mixed.iter().any(|n| *n == "example_scenario"), "example_scenario is not in mixed runs");
}

#[test]
fn rotel_accepts_grpc_and_http_with_zero_drops() {
    let rotel = Rotel::start();
    for (protocol, port) in
        [("grpc", rotel.grpc_port), ("http/protobuf", rotel.http_port), ("http/json", rotel.http_port)]
    {
        let url = format!("http://127.0.0.1:{port}");
        let r = run(&["--endpoint", &url, "--protocol", protocol, "run", "--count", "300", "--interval", "0", "-q"]);
        assert_eq!(r.code(), 0, "{protocol}: {}", r.stderr());
        let s = r.sink("otlp-");
        assert_eq!(s["delivered"], r.summary["spans"], "{protocol}");
        assert_eq!(s["retries"], 0, "{protocol}");
        assert_eq!(r.sink_of("otlp-", "logs")["delivered"], r.summary["log_records"], "{protocol}");
        r.assert_all_delivered();
    }
}

#[test]
fn receiver_down_at_start_then_up_gets_everything() {
    for protocol in ["grpc", "http/protobuf"] {
        let (gp, hp) = (free_port(), free_port());
        let port = if protocol == "grpc" { gp } else { hp };
        let dir = tempdir("late");
        let summary = dir.join("s.json");
        // Until the receiver starts, the port refuses: a listener that closes every
        // connection at once, so that the test knows the simulator has tried (and failed).
        let refusing = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        let mut child = std::process::Command::new(bin())
            .args(["--endpoint", &format!("http://127.0.0.1:{port}"), "--protocol", protocol])
            .args(["scenario", "--name", "successful_agent_turn", "--count", "20", "--interval", "0", "-q"])
            .arg("--summary-json")
            .arg(&summary)
            .spawn()
            .unwrap();
        drop(refusing.accept().unwrap());
        drop(refusing);
        let rx = Receiver::start_on(gp, hp, "ok");
        let status = child.wait().unwrap();
        assert!(status.success(), "{protocol}");
        let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
        let sink = &s["sinks"][0];
        assert_eq!(sink["delivered"], s["spans"], "{protocol}");
        assert!(sink["retries"].as_u64().unwrap() >= 1, "{protocol}: {s}");
        assert_eq!(received(&rx).len() as u64, s["spans"].as_u64().unwrap(), "{protocol}");
    }
}

#[test]
fn http_503_with_retry_after_is_retried_and_delivered() {
    let rx = Receiver::start("fail503:2");
    let started = Instant::now();
    let r = run(&words(&format!(
        "--endpoint {} --signals traces scenario --name tool_retry --count 10 --interval 0 -q",
        rx.http_url()
    )));
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let s = r.sink("otlp-");
    assert_eq!(s["delivered"], r.summary["spans"]);
    assert_eq!(s["retries"], 2);
    assert_eq!(s["requests"], 3);
    // Retry-After: 1 was honoured twice.
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(rx.report()["answers"]["503"], 2);
}

#[test]
fn http_400_is_dropped_and_counted_after_exactly_one_attempt() {
    let rx = Receiver::start("fail400");
    let r = run(&words(&format!(
        "--endpoint {} --batch-size 50 --signals traces scenario --name tool_retry --count 30 --interval 0 -q",
        rx.http_url()
    )));
    assert_eq!(r.code(), 3, "drops make the exit status 3: {}", r.stderr());
    r.assert_balanced();
    let s = r.sink("otlp-");
    let spans = r.summary["spans"].as_u64().unwrap();
    assert_eq!(s["delivered"], 0);
    assert_eq!(s["generated"], spans);
    let dropped = s["dropped"].as_object().unwrap();
    assert_eq!(dropped.len(), 1);
    let (reason, n) = dropped.iter().next().unwrap();
    assert!(reason.starts_with("http 400"), "{reason}");
    assert_eq!(n.as_u64().unwrap(), spans);
    assert_eq!(s["retries"], 0);
    // A batch closes once it holds 50 spans (a trace, at most 8 spans here, is never split):
    // every batch but the last has 50 to 57 spans.
    let requests = s["requests"].as_u64().unwrap();
    assert!((requests - 1) * 50 <= spans && spans <= requests * 57, "{requests} requests for {spans} spans");
    assert!(requests >= 4, "{requests}");
    assert_eq!(rx.report()["requests"], s["requests"], "one request per batch, no retry");
}

#[test]
fn grpc_partial_success_and_invalid_argument_are_counted_not_retried() {
    let rx = Receiver::start("partial:2");
    let r = run(&words(&format!(
        "--endpoint {} --protocol grpc --signals traces scenario --name tool_retry --count 10 --interval 0 -q",
        rx.grpc_url()
    )));
    assert_eq!(r.code(), 3, "{}", r.stderr());
    let s = r.sink("otlp-");
    let requests = s["requests"].as_u64().unwrap();
    let rejected = s["dropped"]["partial success: test receiver: partial"].as_u64().unwrap();
    assert_eq!(rejected, 2 * requests);
    assert_eq!(s["delivered"].as_u64().unwrap() + rejected, r.summary["spans"].as_u64().unwrap());
    r.assert_balanced();
    assert_eq!(s["retries"], 0);

    let rx = Receiver::start("fail400");
    let r = run(&words(&format!(
        "--endpoint {} --protocol grpc --signals traces scenario --name tool_retry --count 10 --interval 0 -q",
        rx.grpc_url()
    )));
    assert_eq!(r.code(), 3);
    let s = r.sink("otlp-");
    assert_eq!(s["retries"], 0);
    assert!(s["dropped"].as_object().unwrap().keys().all(|k| k.starts_with("grpc InvalidArgument")), "{s}");
    assert_eq!(rx.report()["requests"], s["requests"]);
}
