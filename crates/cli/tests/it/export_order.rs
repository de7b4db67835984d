//! Telemetry leaves when a real system would emit it: a span at its end, a record at its
//! time, in time order across traces; metrics count spans that ended; a scrape sees the
//! present; `--export-order trace` keeps whole traces.
use crate::common::*;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};

/// Times of the items of a file of OTLP/JSON lines: per line, per resource group, in order.
fn otlp_times(path: &Path, resources: &str, scopes: &str, items: &str, field: &str) -> Vec<Vec<Vec<u64>>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let d: serde_json::Value = serde_json::from_str(line).unwrap();
            d[resources]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    r[scopes]
                        .as_array()
                        .unwrap()
                        .iter()
                        .flat_map(|s| s[items].as_array().unwrap().iter())
                        .map(|i| i[field].as_str().unwrap().parse::<u64>().unwrap())
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// Every resource group is in time order, and no line holds an item earlier than one of
/// an earlier line. Returns how many items there were.
fn assert_time_order(what: &str, lines: &[Vec<Vec<u64>>]) -> usize {
    let mut latest = 0;
    let mut n = 0;
    for (k, groups) in lines.iter().enumerate() {
        for g in groups {
            assert!(g.windows(2).all(|w| w[0] <= w[1]), "{what}: line {} is out of time order", k + 1);
            assert!(g.first().is_none_or(|t| *t >= latest), "{what}: line {} has an item before line {k}'s", k + 1);
            n += g.len();
        }
        latest = groups.iter().flatten().copied().max().unwrap_or(latest).max(latest);
    }
    n
}

/// The `timestamp` field of each JSON line of a file, in order.
fn line_stamps(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["timestamp"].as_str().unwrap().to_string())
        .collect()
}

/// Span ids of a traces.jsonl.
fn span_ids(path: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .flat_map(|line| {
            let d: serde_json::Value = serde_json::from_str(line).unwrap();
            d["resourceSpans"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|r| r["scopeSpans"].as_array().unwrap().clone())
                .flat_map(|s| s["spans"].as_array().unwrap().clone())
                .map(|s| format!("{}{}", s["traceId"].as_str().unwrap(), s["spanId"].as_str().unwrap()))
                .collect::<Vec<_>>()
        })
        .collect()
}

const LOGGING: &str = concat!(
    "loggingConfig:\n  version: \"1.0.0\"\n",
    "  defaults: {level: info, format: json, outputDir: logs}\n",
    "  loggers:\n",
    "    agent: {output: logs/agent.log, includeFields: [timestamp, level, message]}\n",
    "    workflow: {output: logs/workflow.log, includeFields: [timestamp, level, message]}\n",
);

fn every_file(dir: &Path, extra: &str) -> Run {
    std::fs::write(dir.join("logging.yaml"), LOGGING).unwrap();
    let args = format!(
        "-q --output out --app-log app.log --decision-log decisions.jsonl --artifact-log artifacts.jsonl \
         --logging-config logging.yaml --seed 5 --start-time {START} {extra} run --count 1500 --rate 40"
    );
    let r = run_in(dir, &words(&args), &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    r.assert_all_delivered();
    r
}

#[test]
fn every_file_sink_is_in_time_order_and_metrics_count_spans_that_ended() {
    let dir = tempdir("order-files");
    every_file(&dir, "");
    let out = dir.join("out");
    let spans = otlp_times(&out.join("traces.jsonl"), "resourceSpans", "scopeSpans", "spans", "endTimeUnixNano");
    let n = assert_time_order("traces.jsonl", &spans);
    assert!(n > 10_000, "{n} spans");
    // Export batches mix the spans of many traces, as an SDK's batch processor does.
    assert!(spans.len() > 1);
    let logs = otlp_times(&out.join("logs.jsonl"), "resourceLogs", "scopeLogs", "logRecords", "timeUnixNano");
    assert!(assert_time_order("logs.jsonl", &logs) > 1_000);
    for f in ["app.log", "decisions.jsonl", "artifacts.jsonl", "logs/agent.log", "logs/workflow.log"] {
        let stamps = line_stamps(&dir.join(f));
        assert!(!stamps.is_empty(), "{f} is empty");
        // RFC 3339 with milliseconds and `Z`: text order is time order.
        assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "{f} is not in timestamp order");
    }

    // Independently, in Python: each export's `calls` and `duration` counts are the spans of
    // traces.jsonl that ended by the point's time …
    let check =
        Command::new(python()).arg(repo().join("tests/peers/check_span_metrics.py")).arg(&out).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert!(report["exports"].as_u64().unwrap() > 5, "{report}");
    assert!(report["points"].as_u64().unwrap() > 100, "{report}");
    // … and each exemplar is a span that ended in its point's interval.
    assert!(report["exemplars"].as_u64().unwrap() > 10, "{report}");
    assert_eq!(report["mismatches"], serde_json::json!([]), "{report}");

    // Whole traces at their start hold the same spans in another order, and their metrics
    // count traces as they start: the same check finds points with spans not yet ended.
    let whole = tempdir("order-whole");
    every_file(&whole, "--export-order trace");
    assert_eq!(span_ids(&out.join("traces.jsonl")), span_ids(&whole.join("out/traces.jsonl")));
    let check = Command::new(python())
        .arg(repo().join("tests/peers/check_span_metrics.py"))
        .arg(whole.join("out"))
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_ne!(report["mismatches"], serde_json::json!([]), "{report}");
}

#[test]
fn span_end_order_is_the_same_bytes_whatever_the_threads_and_batch_flags() {
    let files = ["out/traces.jsonl", "out/logs.jsonl", "out/metrics.jsonl", "app.log", "logs/agent.log"];
    let read = |dir: &Path| files.map(|f| std::fs::read(dir.join(f)).unwrap());
    let a = tempdir("order-det-a");
    every_file(&a, "--threads 1 --batch-size 7");
    let b = tempdir("order-det-b");
    every_file(&b, "--threads 4 --batch-size 900 --batch-timeout 50 --queue-size 2");
    assert!(read(&a) == read(&b), "files differ between threads / batch flags");
}

#[test]
fn paced_spans_reach_a_receiver_after_they_end_in_batches_of_many_traces() {
    let rx = Receiver::start("ok");
    let args = format!(
        "-q --endpoint {} --protocol grpc --signals traces --batch-timeout 300 scenario --name tool_retry --rate 20 --duration 2s",
        rx.grpc_url()
    );
    let r = run(&words(&args));
    assert_eq!(r.code(), 0, "{}", r.stderr());
    r.assert_all_delivered();
    let report = rx.report();
    let spans = report["spans"].as_array().unwrap();
    assert_eq!(spans.len() as u64, r.summary["spans"].as_u64().unwrap());
    // The receiver's clock and ours are the same machine's; a little slack for rounding.
    const SLACK_NS: u64 = 2_000_000;
    for s in spans {
        let (end, received) = (s["end"].as_u64().unwrap(), s["received"].as_u64().unwrap());
        assert!(received + SLACK_NS >= end, "a span arrived {} ms before it ended: {s}", (end - received) / 1_000_000);
    }
    let mut traces_per_batch: BTreeMap<u64, BTreeSet<&str>> = BTreeMap::new();
    let mut batches_per_trace: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
    for s in spans {
        let (batch, trace) = (s["batch"].as_u64().unwrap(), s["trace_id"].as_str().unwrap());
        traces_per_batch.entry(batch).or_default().insert(trace);
        batches_per_trace.entry(trace).or_default().insert(batch);
    }
    assert!(traces_per_batch.values().any(|t| t.len() > 1), "no batch mixes traces: {traces_per_batch:?}");
    assert!(batches_per_trace.values().any(|b| b.len() > 1), "no trace spans several batches");
}

#[test]
fn a_scrape_sees_the_present() {
    // No interval export within the test (--metrics-interval 1h): what a scrape shows can only
    // come from the values of the moment.
    let port = free_port();
    let args = format!(
        "-q --prometheus-listen 127.0.0.1:{port} --signals traces,metrics --discard --metrics-interval 1h \
         scenario --name successful_agent_turn --rate 20 --duration 1h"
    );
    let child = Command::new(bin()).args(words(&args)).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let _stop = Peer { child };
    wait_port(port);
    let calls = || -> Option<f64> {
        let body = http_get(port, "/metrics").1;
        let v: Vec<f64> = body
            .lines()
            .filter(|l| l.starts_with("calls_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
            .collect();
        (!v.is_empty()).then(|| v.iter().sum())
    };
    // The simulated series are there once spans have ended …
    let mut seen = Vec::new();
    wait_until("a scrape with calls_total", || {
        seen.extend(calls());
        !seen.is_empty()
    });
    // … and grow as more end; no scrape ever shows less than the one before.
    for _ in 0..3 {
        let before = *seen.last().unwrap();
        wait_until("calls_total to grow", || {
            seen.extend(calls());
            seen.last().is_some_and(|v| *v > before)
        });
    }
    assert!(seen.windows(2).all(|w| w[1] >= w[0]), "calls_total went down between scrapes: {seen:?}");
}

#[test]
fn validate_rejects_a_start_log_that_uses_the_outcome() {
    let dir = tempdir("order-validate");
    std::fs::write(
        dir.join("s.yaml"),
        concat!(
            "name: starts\n",
            "spans:\n",
            "  - name: root\n",
            "    type: agent\n",
            "    logs:\n",
            "      - {on: start, message: \"began, took {duration_ms} ms\"}\n",
            "      - {on: end, message: \"took {duration_ms} ms, {status}\"}\n",
        ),
    )
    .unwrap();
    let r = run_in(&dir, &["validate", "s.yaml"], &[]);
    assert_eq!(r.code(), 1, "{}", r.stderr());
    let err = r.stderr();
    assert!(err.contains("s.yaml:6:") && err.contains("`{duration_ms}`") && err.contains("on: start"), "{err}");
    assert!(!err.contains("s.yaml:7:"), "the end log is fine: {err}");
}

#[test]
fn a_full_reorder_budget_sends_items_early_and_counts_them() {
    let dir = tempdir("order-budget");
    let args = format!(
        "-q --output out --signals traces --seed 9 --start-time {START} --reorder-budget 64KiB \
         scenario --name write_paper --count 300 --rate 20"
    );
    let r = run_in(&dir, &words(&args), &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    r.assert_all_delivered();
    let ahead = r.summary["ahead_of_time"]["reorder_budget"].as_u64().unwrap();
    assert!(ahead > 0, "{}", r.summary);
    // Nothing is lost: the same spans as without a budget, some out of time order.
    let free = tempdir("order-budget-free");
    let r2 = run_in(&free, &words(&args.replace("--reorder-budget 64KiB", "")), &[]);
    assert_eq!(r2.summary["ahead_of_time"]["reorder_budget"], 0);
    assert_eq!(span_ids(&dir.join("out/traces.jsonl")), span_ids(&free.join("out/traces.jsonl")));
    let spans = otlp_times(&free.join("out/traces.jsonl"), "resourceSpans", "scopeSpans", "spans", "endTimeUnixNano");
    assert_time_order("traces.jsonl without a budget", &spans);
}
