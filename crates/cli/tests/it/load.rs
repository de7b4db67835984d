//! Load generation: shards, determinism across batching and threads, backfill windows and
//! traffic curves, pacing, Ctrl-C, full queues, and the self-telemetry a fleet is watched by.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Instant;

use crate::common::*;

/// Every item of an OTLP/JSON file (`resourceSpans` / `resourceLogs`), each as its resource
/// and itself in JSON text, sorted: equal lists mean the same telemetry, however batched.
fn items(path: &Path, resource_key: &str, scope_key: &str, list_key: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for r in v[resource_key].as_array().unwrap() {
            for s in r[scope_key].as_array().unwrap() {
                for item in s[list_key].as_array().unwrap() {
                    out.push(format!("{} {}", r["resource"], item));
                }
            }
        }
    }
    out.sort();
    out
}

fn spans(dir: &Path) -> Vec<String> {
    items(&dir.join("traces.jsonl"), "resourceSpans", "scopeSpans", "spans")
}

fn logs(dir: &Path) -> Vec<String> {
    items(&dir.join("logs.jsonl"), "resourceLogs", "scopeLogs", "logRecords")
}

fn trace_ids(spans: &[String]) -> HashSet<String> {
    spans
        .iter()
        .map(|s| {
            let i = s.find("\"traceId\":\"").unwrap() + 11;
            s[i..i + 32].to_string()
        })
        .collect()
}

fn ok(r: &Run) {
    assert_eq!(r.code(), 0, "{}", r.stderr());
    r.assert_all_delivered();
}

#[test]
fn shards_together_equal_the_unsharded_run() {
    for (shards, arrivals) in [(2u64, "constant"), (3, "poisson")] {
        let dir = tempdir("shards");
        let common = format!(
            "--seed 11 --start-time {START} -q run --count 120 --rate 50/s --arrivals {arrivals} --traffic diurnal"
        );
        let whole = dir.join("whole");
        ok(&run(&words(&format!("--output {} {common}", whole.display()))));
        let (all_spans, all_logs) = (spans(&whole), logs(&whole));
        let mut union_spans = Vec::new();
        let mut union_logs = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut traces = 0;
        for i in 0..shards {
            let out = dir.join(format!("shard{i}"));
            let r = run(&words(&format!("--output {} {common} --shard {i}/{shards}", out.display())));
            ok(&r);
            assert_eq!(r.summary["shard"], serde_json::json!({"index": i, "count": shards}));
            traces += r.summary["traces"].as_u64().unwrap();
            let s = spans(&out);
            let ids = trace_ids(&s);
            assert!(ids.is_disjoint(&seen), "shard {i} repeats a trace id of another shard");
            seen.extend(ids);
            union_spans.extend(s);
            union_logs.extend(logs(&out));
        }
        union_spans.sort();
        union_logs.sort();
        assert_eq!(traces, 120, "{shards} shards split the count");
        assert_eq!(union_spans.len(), all_spans.len());
        assert!(union_spans == all_spans, "{shards} {arrivals} shards: spans differ from the unsharded run");
        assert!(union_logs == all_logs, "{shards} {arrivals} shards: log records differ");
    }
}

#[test]
fn an_indexed_job_shards_by_its_environment() {
    let dir = tempdir("k8s");
    let r = run_in(
        &dir,
        &words(&format!("--seed 3 --start-time {START} -q scenario --name tool_retry --count 10 --interval 0")),
        &[("JOB_COMPLETION_INDEX", "1"), ("JOB_COMPLETION_COUNT", "4")],
    );
    ok(&r);
    assert_eq!(r.summary["traces"], 3, "indices 1, 5, 9 of 10");
    let r = run_in(&dir, &words("--seed 3 -q scenario --name tool_retry"), &[("JOB_COMPLETION_INDEX", "1")]);
    assert!(r.stderr().contains("set JOB_COMPLETION_COUNT"), "{}", r.stderr());
}

#[test]
fn file_output_is_the_same_whatever_the_batching_and_threads() {
    let dir = tempdir("det");
    let base = format!("--seed 5 --start-time {START} -q run --count 300 --rate 20/s --arrivals poisson");
    let a = dir.join("a");
    let b = dir.join("b");
    ok(&run(&words(&format!(
        "--output {} --batch-size 3 --batch-timeout 1 --queue-size 1 --threads 1 {base}",
        a.display()
    ))));
    ok(&run(&words(&format!(
        "--output {} --batch-size 100000 --batch-timeout 600000 --queue-size 512 --threads 4 {base}",
        b.display()
    ))));
    for f in ["traces.jsonl", "logs.jsonl", "metrics.jsonl"] {
        let (x, y) = (std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap());
        assert!(!x.is_empty());
        assert!(x == y, "{f} differs between batch sizes / thread counts");
    }
}

/// Unix nanoseconds of an RFC 3339 time.
fn ns(t: &str) -> u64 {
    let out = std::process::Command::new(python())
        .args(["-c", &format!("import datetime;print(int(datetime.datetime.fromisoformat('{t}'.replace('Z','+00:00')).timestamp())*10**9)")])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().parse().unwrap()
}

fn num(v: &serde_json::Value) -> u64 {
    v.as_str().map(|s| s.parse().unwrap()).or_else(|| v.as_u64()).unwrap()
}

#[test]
fn a_backfill_window_follows_the_daily_curve_and_stays_consistent() {
    let dir = tempdir("backfill");
    let (from, to) = ("2026-11-14T00:00:00Z", "2026-11-16T00:00:00Z");
    let r = run(&words(&format!(
        "--seed 8 --start-time {from} --output {} --metrics-interval 1h -q scenario --name tool_retry \
         --end {to} --rate 0.2/s --traffic diurnal",
        dir.display()
    )));
    ok(&r);
    let (t0, t1) = (ns(from), ns(to));
    // 2 days × 86,400 s × 0.2/s.
    assert_eq!(r.summary["traces"], 34_560, "{}", r.summary);
    assert_eq!(r.summary["rate"]["target_traces_per_second"], serde_json::Value::Null, "a past window is not paced");

    let text = std::fs::read_to_string(dir.join("traces.jsonl")).unwrap();
    let mut per_hour = [0u32; 48];
    let mut ids = HashSet::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for s in v["resourceSpans"][0]["scopeSpans"][0]["spans"].as_array().unwrap() {
            let (start, end) = (num(&s["startTimeUnixNano"]), num(&s["endTimeUnixNano"]));
            assert!(start >= t0 && start < t1 + 3_600_000_000_000, "span outside the window");
            assert!(end >= start);
            ids.insert(s["traceId"].as_str().unwrap().to_string());
            if s.get("parentSpanId").is_none_or(|p| p.as_str() == Some("")) {
                assert!(start < t1, "a trace starting after --end");
                per_hour[((start - t0) / 3_600_000_000_000) as usize] += 1;
            }
        }
    }
    // Binned counts follow 1 + 0.6 cos(2π (h − 14) / 24) within 3 %.
    for (h, n) in per_hour.iter().enumerate() {
        let hour = (h % 24) as f64 + 0.5;
        let want = 0.2 * 3600.0 * (1.0 + 0.6 * (std::f64::consts::TAU * (hour - 14.0) / 24.0).cos());
        assert!((*n as f64 - want).abs() <= 0.03 * want + 2.0, "hour {h}: {n} traces, curve says {want:.0}");
    }
    assert!(per_hour[14] > 3 * per_hour[2]);

    // Logs inside the window, tied to generated traces.
    for line in std::fs::read_to_string(dir.join("logs.jsonl")).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for l in v["resourceLogs"][0]["scopeLogs"][0]["logRecords"].as_array().unwrap() {
            let t = num(&l["timeUnixNano"]);
            assert!(t >= t0 && t < t1 + 3_600_000_000_000);
            assert!(ids.contains(l["traceId"].as_str().unwrap()));
        }
    }
    // Metrics: one export per simulated hour plus the final one, timestamps rising per
    // series, exemplars pointing at generated traces.
    let mut last: BTreeMap<String, u64> = BTreeMap::new();
    let mut exports = 0;
    let mut exemplars = 0;
    for line in std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap().lines() {
        exports += 1;
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for rm in v["resourceMetrics"].as_array().unwrap() {
            for sm in rm["scopeMetrics"].as_array().unwrap() {
                for m in sm["metrics"].as_array().unwrap() {
                    for kind in ["sum", "gauge", "histogram"] {
                        for p in m[kind]["dataPoints"].as_array().into_iter().flatten() {
                            let t = num(&p["timeUnixNano"]);
                            assert!(t > t0 && t <= t1 + 3_600_000_000_000, "metric point outside the window");
                            let key = format!("{} {} {}", rm["resource"], m["name"], p["attributes"]);
                            if let Some(prev) = last.insert(key.clone(), t) {
                                assert!(t > prev, "{key}: time went from {prev} to {t}");
                            }
                            for e in p["exemplars"].as_array().into_iter().flatten() {
                                exemplars += 1;
                                assert!(ids.contains(e["traceId"].as_str().unwrap()), "exemplar of an unknown trace");
                                // Traces count when they start: a span may end after the point.
                                assert!(num(&e["timeUnixNano"]) <= t + 600_000_000_000);
                            }
                        }
                    }
                }
            }
        }
    }
    assert!((48..=50).contains(&exports), "{exports} metric exports for 48 simulated hours");
    assert!(exemplars > 0);
}

#[test]
fn backfill_ends_now_and_follow_goes_on_in_real_time() {
    let dir = tempdir("follow");
    let before = ns_now();
    let r = run(&words(&format!("--output {} -q scenario --name tool_retry --backfill 2h --rate 1/s", dir.display())));
    ok(&r);
    assert_eq!(r.summary["traces"], 7200);
    let s = spans(&dir);
    let roots: Vec<u64> = s
        .iter()
        .filter(|x| !x.contains("\"parentSpanId\":\"") || x.contains("\"parentSpanId\":\"\""))
        .map(|x| {
            let i = x.find("\"startTimeUnixNano\":\"").unwrap() + 21;
            x[i..].split('"').next().unwrap().parse().unwrap()
        })
        .collect();
    assert_eq!(roots.len(), 7200);
    let after = ns_now();
    assert!(roots.iter().all(|t| *t + 2 * 3_600_000_000_000 >= before && *t < after), "inside the last 2 h");

    // --follow: the hour of history at CPU speed, then paced until Ctrl-C. The test waits
    // (on the self-telemetry) for the hour and 20 paced traces more, however long that takes.
    let summary = dir.join("follow.json");
    let port = free_port();
    let spawned = Instant::now();
    let mut child = std::process::Command::new(bin())
        .args(words("--discard --signals traces scenario --name tool_retry --backfill 1h --rate 20/s --follow"))
        .args(["--prometheus-listen", &format!("127.0.0.1:{port}"), "--summary-json"])
        .arg(&summary)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    wait_port(port);
    let generated = || {
        let (_, body) = http_get(port, "/metrics");
        body.lines()
            .find_map(|l| l.strip_prefix("telemetry_simulator_traces_generated_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let caught_up: u64 = loop {
        let l = lines.recv_timeout(PATIENCE).expect("the note that the run caught up");
        if let Some(rest) = l.strip_prefix("note: caught up with the present after ") {
            break rest.split(' ').next().unwrap().parse().unwrap();
        }
    };
    assert!(caught_up >= 72_000, "{caught_up}");
    wait_until("20 paced traces", || generated() >= (caught_up + 20) as f64);
    interrupt(&child);
    let out = wait_output(child);
    assert_eq!(out.status.code(), Some(130));
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let traces = s["traces"].as_u64().unwrap();
    // Paced from then on: never ahead of 20/s over the whole time the run has been up.
    let bound = 72_000 + (20.0 * (spawned.elapsed().as_secs_f64() + 1.0)) as u64;
    assert!(traces >= 72_020 && traces <= bound, "{traces}: the hour, then 20/s (at most {bound})");
    assert_eq!(s["rate"]["target_traces_per_second"], 20.0);
    let achieved = s["rate"]["achieved_traces_per_second"].as_f64().unwrap();
    assert!(achieved < 40.0, "the rate after catching up is the paced one: {achieved}");
}

fn ns_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
}

#[test]
fn a_paced_run_holds_its_rate_in_spans() {
    let mut args = words("--discard --signals traces -q scenario --name successful_agent_turn --duration 2s");
    args.extend(["--rate", "3500 spans/s"]);
    let r = run(&args);
    ok(&r);
    // 7 spans per trace: 500 traces/s for 2 s.
    assert_eq!(r.summary["rate"]["spans_per_trace"], 7.0);
    assert_eq!(r.summary["traces"], 1000);
    assert_eq!(r.summary["rate"]["target_spans_per_second"], 3500.0);
    assert!(r.summary["elapsed_seconds"].as_f64().unwrap() > 1.9, "paced, not at CPU speed");
}

#[test]
fn ctrl_c_stops_a_paced_run_drains_the_queues_and_balances() {
    let dir = tempdir("sigint");
    let summary = dir.join("s.json");
    let child = std::process::Command::new(bin())
        .current_dir(&dir)
        .args(words("--output out --queue-size 2 scenario --name tool_retry --rate 400 --duration 60s"))
        .arg("--summary-json")
        .arg(&summary)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupted once a line of it is on disk, whenever that is.
    let file = dir.join("out/traces.jsonl");
    wait_until("a first line of traces", || std::fs::metadata(&file).is_ok_and(|m| m.len() > 0));
    interrupt(&child);
    let out = wait_output(child);
    assert_eq!(out.status.code(), Some(130));
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(s["interrupted"], true);
    let traces = s["traces"].as_u64().unwrap();
    assert!(traces > 0 && traces < 24_000, "{traces}: stopped before the end of the 60 s");
    let r = Run { out, summary: s.clone() };
    r.assert_all_delivered();
    assert_eq!(spans(&dir.join("out")).len() as u64, s["spans"].as_u64().unwrap(), "the queue drained to the file");
    assert_eq!(logs(&dir.join("out")).len() as u64, s["log_records"].as_u64().unwrap());
}

#[test]
fn a_sink_that_cannot_keep_up_is_reported_not_hidden() {
    // A peer that accepts connections and never answers: every request times out (300 ms).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in listener.incoming() {
            held.push(c);
        }
    });
    // Whole traces at their start: every batch is sent while traces are still starting, so a
    // blocked queue holds the schedule back (in span-end order most batches leave after the
    // last start, and how many fall before it depends on the machine).
    let common = format!(
        "--endpoint http://127.0.0.1:{port} --signals traces --timeout 300 --retry-max-elapsed 0 --queue-size 1 \
         --max-in-flight 1 --batch-size 200 --export-order trace scenario --name tool_retry --rate 300 --duration 2s"
    );
    let blocked = run(&words(&format!("{common} --when-full block")));
    assert_eq!(blocked.code(), 3);
    blocked.assert_balanced();
    assert!(blocked.sink("otlp")["dropped"].get("queue full").is_none());
    let blocked_late = blocked.summary["late_traces"].as_u64().unwrap();
    assert!(blocked_late > 0, "{}", blocked.summary);
    assert!(blocked.stderr().contains("could not keep up"), "{}", blocked.stderr());

    let dropped = run(&words(&format!("{common} --when-full drop")));
    assert_eq!(dropped.code(), 3, "{}", dropped.stderr());
    dropped.assert_balanced();
    let sink = dropped.sink("otlp");
    assert!(sink["dropped"]["queue full"].as_u64().unwrap() > 0, "{sink}");
    // Dropping keeps the schedule: the sink does not hold generation back (a loaded machine
    // may still start a trace late now and then, so compared with blocking in this run).
    let dropped_late = dropped.summary["late_traces"].as_u64().unwrap();
    assert!(dropped_late * 4 < blocked_late, "late: {dropped_late} dropping, {blocked_late} blocking");
    assert!(dropped.stderr().contains("queue full"));
}

#[test]
fn prometheus_sums_the_self_telemetry_of_a_fleet_of_shards() {
    let ports = [free_port(), free_port()];
    let prom = Prometheus::start(&ports, &[]);
    let children: Vec<_> = ports
        .iter()
        .enumerate()
        .map(|(i, port)| {
            std::process::Command::new(bin())
                .args(words(&format!(
                    "--seed 4 --discard --signals traces -q --prometheus-listen 127.0.0.1:{port} --linger \
                     scenario --name tool_retry --count 2000 --rate 500 --shard {i}/2"
                )))
                .spawn()
                .unwrap()
        })
        .collect();
    let _peers: Vec<Peer> = children.into_iter().map(|child| Peer { child }).collect();
    let total = prom.wait_for("sum(telemetry_simulator_traces_generated_total)", 2000.0);
    assert_eq!(total, Some(2000.0), "Prometheus adds up both shards");
    let delivered = prom.wait_for(
        "sum(telemetry_simulator_sink_delivered_total{signal=\"traces\"})",
        prom.query("sum(telemetry_simulator_spans_generated_total)").unwrap(),
    );
    assert!(delivered.unwrap() > 2000.0);
    assert_eq!(prom.query("count(telemetry_simulator_info)"), Some(2.0));
    assert_eq!(prom.query("sum(telemetry_simulator_target_traces_per_second)"), Some(500.0));
    let (_, body) = http_get(ports[0], "/metrics");
    promtool_check(&body);
}
