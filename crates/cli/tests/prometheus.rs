//! Metrics as Prometheus sees them: a real Prometheus (Debian package) scrapes the
//! simulator's `/metrics` during the run, and `promtool check metrics` accepts the exposition.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

#[test]
fn prometheus_scrapes_the_derived_metrics_and_promtool_accepts_them() {
    let port = free_port();
    let prom = Prometheus::start(&[port], &[]);
    let dir = tempdir("scrape");
    let summary = dir.join("s.json");
    let mut sim = Command::new(bin())
        .args(["--prometheus-listen", &format!("127.0.0.1:{port}"), "--linger", "30s", "--output"])
        .arg(dir.join("out"))
        .args(["run", "--count", "400", "--interval", "0", "-q", "--summary-json"])
        .arg(&summary)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The run itself takes well under a second; the endpoint then lingers.
    let start = std::time::Instant::now();
    while !summary.exists() && std::fs::metadata(dir.join("out/metrics.jsonl")).map(|m| m.len()).unwrap_or(0) == 0 {
        assert!(start.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    let (status, exposition) = http_get(port, "/metrics");
    assert_eq!(status, 200);
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    use std::io::Write;
    promtool.stdin.take().unwrap().write_all(exposition.as_bytes()).unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The spans of the run, counted from its own file.
    let spans = decode_json_file(&dir.join("out/traces.jsonl"))["spans"].as_f64().unwrap();
    assert_eq!(prom.wait_for("sum(calls_total)", spans, Duration::from_secs(30)), Some(spans));
    assert_eq!(prom.wait_for("sum(duration_seconds_count)", spans, Duration::from_secs(10)), Some(spans));
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
