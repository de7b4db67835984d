//! The shipped alert rules against real rule engines, and history that reaches Prometheus:
//! - `promtool check rules` and `vmalert -dryRun` accept `deploy/prometheus/alerts.yaml`;
//! - a day with four incidents, backfilled into VictoriaMetrics by remote write and replayed
//!   through vmalert with the shipped rules: every rule fires inside its incident's window
//!   (allowing its `for:`, its range and the evaluation interval) and no alert fires outside
//!   every window;
//! - the same kind of day written with `--openmetrics`: `promtool tsdb create-blocks-from
//!   openmetrics` accepts it and a Prometheus started on the blocks answers a range query over
//!   the day with the span counts of the trace output.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use crate::common::*;

/// 2026-11-14T00:00:00Z, in seconds.
const DAY: i64 = 1_794_614_400;

/// Four incidents, hours apart, each with the rules it should set off.
const INCIDENTS: &str = r#"
incidents:
  - name: error_burst
    at: 2026-11-14T02:00:00Z
    duration: 30m
    attributes: {gen_ai.operation.name: execute_tool}
    error: {rate: 0.4, type: upstream_5xx}
  - name: llm_latency_spike
    at: 2026-11-14T06:00:00Z
    duration: 30m
    ramp: 2m
    attributes: {gen_ai.operation.name: chat}
    latency: {multiply: 5}
  - name: tool_outage
    at: 2026-11-14T10:00:00Z
    duration: 30m
    spans: "execute_tool *"
    attributes: {gen_ai.tool.name: search_notes}
    outage:
      type: connection_refused
      gauges:
        - {metric: health_status, labels: {service: weaviate}, value: 0}
        - {metric: queue_depth, labels: {queue_name: notes_agent_queue}, grow_per_minute: 12}
  - name: cost_surge
    at: 2026-11-14T14:00:00Z
    duration: 30m
    attributes: {gen_ai.operation.name: chat}
    tokens: {multiply: 4}
"#;

/// (incident window start and end in seconds after midnight, rules it must fire).
const EXPECTED: &[(i64, i64, &[&str])] = &[
    (2 * 3600, 2 * 3600 + 1800, &["AgentSpanErrorRateHigh"]),
    (6 * 3600, 6 * 3600 + 1800, &["GenAIChatLatencyP95High"]),
    (10 * 3600, 10 * 3600 + 1800, &["DependencyDown", "QueueBacklog", "AgentSpanErrorRateHigh"]),
    (14 * 3600, 14 * 3600 + 1800, &["LLMCostSurge", "LLMTokenSurge"]),
];

/// How long an alert may outlast its window: the longest range of a rule (10m) and an
/// evaluation interval (1m), with a minute to spare.
const AFTER_END_S: i64 = 12 * 60;

fn rules() -> std::path::PathBuf {
    repo().join("deploy/prometheus/alerts.yaml")
}

#[test]
fn promtool_and_vmalert_accept_the_shipped_rules() {
    let out = Command::new("promtool").arg("check").arg("rules").arg(rules()).output().unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("SUCCESS: 6 rules found"));
    let out = Command::new("vmalert").arg("-dryRun").arg(format!("-rule={}", rules().display())).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Runs a day of the VOS event flow with the incidents, with `flags`.
fn day(dir: &Path, flags: &[&str], rate: &str) -> Run {
    std::fs::write(dir.join("incidents.yaml"), INCIDENTS).unwrap();
    let mut args = vec!["--incidents", "incidents.yaml", "--seed", "5", "--start-time", "2026-11-14T00:00:00Z"];
    args.extend(["--metrics-interval", "30s", "--quiet"]);
    args.extend(flags);
    args.extend(["scenario", "--name", "vos_event_flow", "--rate", rate, "--duration", "1d"]);
    let r = run_in(dir, &args, &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    r
}

#[test]
fn each_shipped_rule_fires_in_its_incident_window_and_nowhere_else() {
    let vm = Victoria::start();
    let port = vm.port;
    let url = format!("http://127.0.0.1:{port}");

    // History as is: VictoriaMetrics takes a backfill by remote write.
    let dir = tempdir("alerts");
    let rw = format!("{url}/api/v1/write");
    let r = day(&dir, &["--signals", "metrics", "--remote-write", &rw, "--output", "out"], "1");
    let s = r.sink_of("remote-write", "metrics");
    assert_eq!(s["delivered"], s["generated"], "{s}");
    let _ = http_get(port, "/internal/force_flush");

    // The rules replayed over the day; vmalert writes ALERTS back.
    let out = Command::new("vmalert")
        .arg(format!("-rule={}", rules().display()))
        .arg(format!("-datasource.url={url}"))
        .arg(format!("-remoteWrite.url={url}"))
        .args(["-replay.timeFrom=2026-11-14T00:00:00Z", "-replay.timeTo=2026-11-15T00:00:00Z"])
        .args(["-replay.disableProgressBar", "-datasource.queryStep=1m"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && log.contains("replay finished"), "{log}");

    // Firing samples per alert and labels, in seconds after midnight.
    let mut firing: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    wait_until("vmalert's ALERTS to be searchable", || {
        let _ = http_get(port, "/internal/force_flush");
        let (status, body) =
            http_get(port, &format!("/api/v1/export?match[]={}", urlencode("ALERTS{alertstate=\"firing\"}")));
        firing.clear();
        for line in body.lines().filter(|l| !l.is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let m = v["metric"].as_object().unwrap();
            let key = format!(
                "{}{}",
                m["alertname"].as_str().unwrap(),
                m.iter()
                    .filter(|(k, _)| !["__name__", "alertname", "alertstate", "alertgroup", "severity"]
                        .contains(&k.as_str()))
                    .map(|(k, v)| format!(" {k}={}", v.as_str().unwrap()))
                    .collect::<String>()
            );
            let ts = v["timestamps"].as_array().unwrap().iter().map(|t| t.as_i64().unwrap() / 1000 - DAY);
            firing.entry(key).or_default().extend(ts);
        }
        status == 200 && !firing.is_empty()
    });
    let shown: Vec<String> = firing.iter().map(|(k, t)| format!("{k}: {} samples", t.len())).collect();

    // Nothing fires outside every window.
    for (alert, times) in &firing {
        for t in times {
            let inside = EXPECTED.iter().any(|(a, b, _)| *t >= *a && *t <= *b + AFTER_END_S);
            assert!(inside, "{alert} fires at +{t} s, outside every incident window\n{}", shown.join("\n"));
        }
    }
    // Each rule fires inside each of its windows, not before the window and its `for:`.
    for (a, b, alerts) in EXPECTED {
        for name in *alerts {
            let times: Vec<i64> = firing
                .iter()
                .filter(|(k, _)| k.split(' ').next() == Some(name))
                .flat_map(|(_, t)| t.iter().copied())
                .filter(|t| *t >= *a && *t <= *b + AFTER_END_S)
                .collect();
            assert!(times.iter().any(|t| t <= b), "{name} does not fire in [{a}, {b}]\n{}", shown.join("\n"));
            assert!(times.iter().all(|t| *t >= a + 60), "{name} fires before its window and `for:`: {times:?}");
        }
    }
    // And about the right things.
    let keys: BTreeSet<&str> = firing.keys().map(String::as_str).collect();
    assert!(keys.contains("DependencyDown service=weaviate service_name=vos"), "{keys:?}");
    assert!(keys.contains("QueueBacklog queue_name=notes_agent_queue"), "{keys:?}");
    assert!(keys.contains("GenAIChatLatencyP95High gen_ai_request_model=gpt-4o-mini"), "{keys:?}");
    assert!(keys.contains("AgentSpanErrorRateHigh service_name=vos span_name=execute_tool search_notes"), "{keys:?}");
    assert!(!keys.iter().any(|k| k.starts_with("DependencyDown") && !k.contains("weaviate")), "{keys:?}");
}

#[test]
fn an_openmetrics_backfill_becomes_prometheus_blocks_with_the_day_s_counts() {
    let dir = tempdir("alerts-om");
    let r = day(&dir, &["--signals", "traces,metrics", "--openmetrics", "day.om", "--output", "out"], "0.1");
    let om = r.sink_of("openmetrics", "metrics");
    assert_eq!(om["delivered"], om["generated"], "{om}");
    let text = std::fs::read_to_string(dir.join("day.om")).unwrap();
    assert!(text.ends_with("# EOF\n"));
    // Each family once: no family's samples interleave with another's.
    let families: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).collect();
    let unique: BTreeSet<&&str> = families.iter().collect();
    assert_eq!(families.len(), unique.len(), "a family appears twice");

    let blocks = dir.join("tsdb");
    let out = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(dir.join("day.om"))
        .arg(&blocks)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));

    // Span ends of the trace output, to count what the counter held at each hour.
    let mut ends = Vec::new();
    for line in std::fs::read_to_string(dir.join("out/traces.jsonl")).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for rs in v["resourceSpans"].as_array().unwrap() {
            for ss in rs["scopeSpans"].as_array().unwrap() {
                for sp in ss["spans"].as_array().unwrap() {
                    ends.push(sp["endTimeUnixNano"].as_str().unwrap().parse::<u64>().unwrap());
                }
            }
        }
    }
    assert_eq!(ends.len() as u64, r.summary["spans"].as_u64().unwrap());

    let prom = Prometheus::start_with_data(Some(&blocks), &[], &["--storage.tsdb.retention.time=100y"]);
    let (status, body) = http_get(
        prom.port,
        &format!(
            "/api/v1/query_range?query={}&start={DAY}&end={}&step=3600",
            urlencode("sum(calls_total)"),
            DAY + 86_400
        ),
    );
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let values = v["data"]["result"][0]["values"].as_array().unwrap_or_else(|| panic!("{body}"));
    assert!(values.len() >= 24, "{body}");
    for p in values {
        let t = p[0].as_i64().unwrap();
        let got: f64 = p[1].as_str().unwrap().parse().unwrap();
        let want = ends.iter().filter(|e| **e <= t as u64 * 1_000_000_000).count() as f64;
        assert_eq!(got, want, "sum(calls_total) at +{} s", t - DAY);
    }
    // The whole day at its end.
    let total = prom.query_at("sum(calls_total)", Some((DAY + 86_400 + 120) as f64)).unwrap();
    assert_eq!(total, ends.len() as f64);
}
