//! Metrics as InfluxDB line protocol into VictoriaMetrics (Debian package), queried back
//! through its Prometheus-compatible API.

use crate::common::*;

#[test]
fn influx_lines_into_victoria_metrics_read_back_the_totals() {
    let vm = Victoria::start();
    let port = vm.port;

    let dir = tempdir("influx");
    let args = format!(
        "--influx-url http://127.0.0.1:{port}/api/v2/write --start-time 2026-11-20T10:00:00Z --metrics-interval 2s \
         --output {} scenario --name multi_tool_turn --count 500 --interval 20 -q",
        dir.join("out").display()
    );
    let r = run_in(&dir, &words(&args), &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let s = r.sink_of("influx", "metrics");
    assert_eq!(s["delivered"], s["generated"]);
    assert!(s["requests"].as_u64().unwrap() >= 2, "interval exports and the final one");
    // Make what was just written searchable, then ask at the end of the simulated run.
    let _ = http_get(port, "/internal/force_flush");
    let spans = r.summary["spans"].as_f64().unwrap();
    // A minute past the 10 s of arrivals: the final export is stamped when the last trace
    // ends, which (unseeded) may be a little after the last arrival.
    let at = "2026-11-20T10:01:00Z";
    let query = |q: &str| -> Option<f64> {
        let (status, body) = http_get(port, &format!("/api/v1/query?query={}&time={at}", urlencode(q)));
        if status != 200 {
            return None;
        }
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    };
    let mut got = None;
    wait_until("VictoriaMetrics to show every span", || {
        got = query("sum(calls_total)");
        if got != Some(spans) {
            let _ = http_get(port, "/internal/force_flush");
        }
        got == Some(spans)
    });
    assert_eq!(got, Some(spans), "VictoriaMetrics sees every span in calls_total");
    assert_eq!(query("sum(duration_seconds_count)"), Some(spans));
    assert_eq!(query(r#"sum(duration_seconds_bucket{le="+Inf"})"#), Some(spans));
}
