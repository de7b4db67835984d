//! Metrics as Prometheus sees them: a real Prometheus (Debian package) scrapes the
//! simulator's `/metrics` during the run, and `promtool check metrics` accepts the exposition.

#![allow(clippy::unwrap_used)] // a test fails loudly where its assumption breaks

mod common;

use std::process::{Command, Stdio};

use common::*;

#[test]
fn prometheus_scrapes_the_derived_metrics_and_promtool_accepts_them() {
    let port = free_port();
    let prom = Prometheus::start(&[port], &[]);
    let dir = tempdir("scrape");
    let summary = dir.join("s.json");
    let mut sim = Command::new(bin())
        .args(["--prometheus-listen", &format!("127.0.0.1:{port}"), "--linger", "--output"])
        .arg(dir.join("out"))
        .args(["run", "--count", "400", "--interval", "0", "-q", "--summary-json"])
        .arg(&summary)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The endpoint lingers after the run: wait until its own counters say that all 400
    // traces were generated and the one export (all traces start at once) was delivered.
    wait_port(port);
    let done = |body: &str| {
        let value = |prefix: &str| {
            body.lines().find(|l| l.starts_with(prefix)).and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        };
        let sink = "{sink=\"prometheus";
        value("telemetry_simulator_traces_generated_total ") == Some(400.0)
            && value(&format!("telemetry_simulator_sink_generated_total{sink}")).is_some_and(|g| g > 0.0)
            && value(&format!("telemetry_simulator_sink_generated_total{sink}"))
                == value(&format!("telemetry_simulator_sink_delivered_total{sink}"))
    };
    wait_until("the run's export on /metrics", || done(&http_get(port, "/metrics").1));
    let (status, exposition) = http_get(port, "/metrics");
    assert_eq!(status, 200);
    promtool_check(&exposition);

    // The spans of the run, counted from its own file.
    let spans = decode_json_file(&dir.join("out/traces.jsonl"))["spans"].as_f64().unwrap();
    assert_eq!(prom.wait_for("sum(calls_total)", spans), Some(spans));
    assert_eq!(prom.wait_for("sum(duration_seconds_count)", spans), Some(spans));
    let ops = prom.query("sum(gen_ai_client_operation_duration_seconds_count)").unwrap();
    assert!(ops > 0.0);
    assert_eq!(prom.query("sum(gen_ai_client_token_usage_count)"), Some(2.0 * ops));
    assert!(
        prom.query(r#"count(calls_total{span_name="vendor.llm.call",service_name="telemetry-simulator"})"#).unwrap()
            >= 1.0
    );
    let _ = sim.kill();
    let _ = sim.wait();
}

#[test]
fn remote_write_into_prometheus_reads_back_the_samples() {
    let prom = Prometheus::start(&[], &["--web.enable-remote-write-receiver"]);
    let dir = tempdir("rw");
    let url = format!("http://127.0.0.1:{}/api/v1/write", prom.port);
    let args = format!(
        "--remote-write {url} --metrics-interval 500ms --output {} scenario --name multi_tool_turn --count 300 --rate 400 -q",
        dir.join("out").display()
    );
    let r = run_in(&dir, &words(&args), &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let rw = r.sink_of("remote-write", "metrics");
    assert_eq!(rw["delivered"], rw["generated"]);
    assert!(rw["requests"].as_u64().unwrap() >= 2, "interval exports and the final one: {rw}");
    let spans = r.summary["spans"].as_f64().unwrap();
    // The final export is stamped at the end of the last span, a moment after now: look ahead.
    let later = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64() + 120.0;
    assert_eq!(prom.wait_for_at("sum(calls_total)", spans, Some(later)), Some(spans));
    assert_eq!(prom.query_at("sum(duration_seconds_count)", Some(later)), Some(spans));
    // Several samples per series, in time order (Prometheus rejects out-of-order ones).
    let n = prom.query_at("max(count_over_time(calls_total[5m]))", Some(later)).unwrap();
    assert!(n >= 2.0, "{n} samples per series");
}

/// A peer that answers every POST with `status` for the first `times` requests, then 204.
fn stub(status: &'static str, times: usize) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let n = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = n.clone();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            // Whatever it sent (even a broken-off request) gets its answer.
            let _ = read_request(&s);
            let k = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let st = if k < times { status } else { "204 No Content" };
            respond(&mut s, st, "Retry-After: 0\r\n", "");
        }
    });
    (port, n)
}

#[test]
fn remote_write_retries_5xx_but_never_4xx() {
    for (status, code, requests) in
        [("429 Too Many Requests", 3, 1), ("400 Bad Request", 3, 1), ("503 Service Unavailable", 0, 3)]
    {
        let (port, n) = stub(status, 2);
        let r = run(&words(&format!(
            "--remote-write http://127.0.0.1:{port}/api/v1/write --signals metrics run --count 20 --interval 0 -q"
        )));
        assert_eq!(r.code(), code, "{status}: {}", r.stderr());
        assert_eq!(n.load(std::sync::atomic::Ordering::SeqCst), requests, "{status}");
        r.assert_balanced();
    }
}

#[test]
fn declared_metrics_keep_their_names_and_promtool_accepts_them() {
    let dir = tempdir("verbatim");
    std::fs::write(
        dir.join("wf.yaml"),
        concat!(
            "name: wf\ninterval_ms: 0\nmetrics:\n  counters:\n",
            "    workflow_runs: {description: Workflow runs, on: {span: taskpilot.workflow.run}}\n",
            "    policy_violations_total: {on: {error: true}}\n",
            "root: {type: taskpilot.workflow.run, error: {rate: 0.5}}\n",
        ),
    )
    .unwrap();
    let port = free_port();
    let mut sim = Command::new(bin())
        .current_dir(&dir)
        .args([
            "--scenarios-dir",
            ".",
            "--signals",
            "metrics",
            "--prometheus-listen",
            &format!("127.0.0.1:{port}"),
            "--linger",
        ])
        .args(["scenario", "--name", "wf", "--count", "40", "-q"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_port(port);
    let mut exposition = String::new();
    // The run's last export holds all 40 (a scrape during the run may see fewer).
    let want = "\nworkflow_runs{service_name=\"telemetry-simulator\"} 40\n";
    wait_until("the exposition with all 40 workflow runs", || {
        exposition = http_get(port, "/metrics").1;
        exposition.contains(want)
    });
    let _ = sim.kill();
    let _ = sim.wait();
    assert!(exposition.contains("# TYPE workflow_runs untyped"));
    assert!(exposition.contains("# TYPE policy_violations_total counter"));
    promtool_check(&exposition);
}
