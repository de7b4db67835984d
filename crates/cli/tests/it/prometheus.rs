//! Metrics as Prometheus sees them: a real Prometheus (Debian package) scrapes the
//! simulator's `/metrics` during the run, and `promtool check metrics` accepts the exposition.

use std::process::{Command, Stdio};

use crate::common::*;

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
    wait_final_export(port, 400);
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

/// A cumulative series' identity as a backend sees it: metric name, resource attributes,
/// scope and point attributes (attribute lists sorted).
type Identity = (String, Vec<String>, String, Vec<String>);

fn sorted_attrs(list: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = list.as_array().into_iter().flatten().map(|a| a.to_string()).collect();
    v.sort();
    v
}

/// Every cumulative point (sums and histograms) of each line (export) of an OTLP/JSON
/// metrics file: (identity, start time), in order.
fn cumulative_points(path: &std::path::Path) -> Vec<Vec<(Identity, String)>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut exports = Vec::new();
    for line in text.lines() {
        let req: serde_json::Value = serde_json::from_str(line).unwrap();
        let mut points = Vec::new();
        for rm in req["resourceMetrics"].as_array().unwrap() {
            let resource = sorted_attrs(&rm["resource"]["attributes"]);
            for sm in rm["scopeMetrics"].as_array().unwrap() {
                let scope = sm["scope"].to_string();
                for m in sm["metrics"].as_array().unwrap() {
                    let Some(data) = m.get("sum").or_else(|| m.get("histogram")) else { continue };
                    assert_eq!(data["aggregationTemporality"], 2, "cumulative: {m}");
                    for p in data["dataPoints"].as_array().unwrap() {
                        let id = (
                            m["name"].as_str().unwrap().to_string(),
                            resource.clone(),
                            scope.clone(),
                            sorted_attrs(&p["attributes"]),
                        );
                        points.push((id, p["startTimeUnixNano"].as_str().unwrap().to_string()));
                    }
                }
            }
        }
        exports.push(points);
    }
    exports
}

#[test]
fn a_mixed_run_has_one_cumulative_series_per_identity() {
    // The default mix: several built-in scenarios report the same service (no attribute of
    // their own tells them apart), so their resources are alike.
    let args = words("--seed 1 --start-time 2026-11-01T00:00:00Z run --count 2k -q");
    let dir = tempdir("identity");
    let r = run_in(&dir, &args, &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let exports = cumulative_points(&dir.join("telemetry-out/metrics.jsonl"));
    assert!(exports.len() > 1, "several exports");
    let mut start_of: std::collections::HashMap<Identity, String> = std::collections::HashMap::new();
    let mut resources = std::collections::HashSet::new();
    for (k, points) in exports.iter().enumerate() {
        let mut seen = std::collections::HashSet::new();
        for (id, start) in points {
            assert!(seen.insert(id), "export {k}: two points of one series {id:?}");
            let first = start_of.entry(id.clone()).or_insert_with(|| start.clone());
            assert_eq!(first, start, "{id:?}: its start time moved (a backend reads a reset)");
            resources.insert(id.1.clone());
        }
    }
    let scenarios = r.summary["scenarios"].as_object().map_or(0, |m| m.len());
    assert!(resources.len() < scenarios, "{} resources for {scenarios} scenarios: none alike?", resources.len());

    // The same run's Prometheus exposition: each series once, and promtool accepts it.
    let port = free_port();
    let mut sim = Command::new(bin())
        .current_dir(&dir)
        .args(["--signals", "metrics", "--prometheus-listen", &format!("127.0.0.1:{port}"), "--linger"])
        .args(&args)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_final_export(port, 2000);
    let exposition = http_get(port, "/metrics").1;
    let _ = sim.kill();
    let _ = sim.wait();
    let mut series = std::collections::HashSet::new();
    for line in exposition.lines().filter(|l| !l.starts_with('#')) {
        let id = line.rsplit_once(' ').map_or(line, |(id, _)| id);
        assert!(series.insert(id), "a series twice in the exposition: {id}");
    }
    promtool_check(&exposition);
}
