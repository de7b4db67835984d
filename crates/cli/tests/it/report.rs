//! The store and its reports, checked by another engine: a run's files are imported into a
//! store; DuckDB (PyPI) reads the same Parquet files, finds exactly the spans the run wrote,
//! runs the shipped sql/*.sql queries, and agrees with every figure of the reports.
use std::process::Command;

use crate::common::{START, bin, python, repo, run, sim, tempdir};

/// The `workflow.id` of the first span that has one.
fn first_workflow(traces: &std::path::Path) -> String {
    for line in std::fs::read_to_string(traces).unwrap().lines() {
        if let Some(at) = line.find("\"key\":\"workflow.id\",\"value\":{\"stringValue\":\"") {
            let rest = &line[at + 44..];
            return rest[..rest.find('"').unwrap()].to_owned();
        }
    }
    panic!("no workflow.id in {}", traces.display());
}

#[test]
fn reports_agree_with_duckdb_over_the_same_parquet_files() {
    let dir = tempdir("report");
    let out = dir.join("out");
    let store = dir.join("store");
    let direct_store = dir.join("direct");
    // A mixed workload over 40 simulated minutes (several 5-minute windows and two hours),
    // into files and, in the same run, straight into a store.
    let r = run(&[
        "--output",
        out.to_str().unwrap(),
        "--store",
        direct_store.to_str().unwrap(),
        "--seed",
        "11",
        "--start-time",
        "2026-11-01T09:40:00Z",
        "-q",
        "run",
        "--count",
        "1200",
        "--rate",
        "0.5",
    ]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let imported = sim(&["import", out.to_str().unwrap(), "--store", store.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&imported.stderr);
    assert!(said.contains("imported") && said.contains("spans"), "{said}");

    let reports = dir.join("reports");
    std::fs::create_dir_all(&reports).unwrap();
    let report = |args: &[&str], file: &str| {
        let mut a = vec!["report"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["--store", store.to_str().unwrap(), "--format", "json"]);
        let o = sim(&a);
        std::fs::write(reports.join(file), &o.stdout).unwrap();
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let summary = report(&["summary"], "summary.json");
    report(&["slow", "--threshold", "1s", "--limit", "100000"], "slow.json");
    report(&["error-rate", "--window", "5m", "--above", "5"], "error_rate.json");
    let agent = summary["dailySummary"]["byAgent"][0]["agent"].as_str().unwrap().to_owned();
    std::fs::write(reports.join("agent.txt"), &agent).unwrap();
    report(&["agent", &agent], "agent.json");
    report(&["flows", "--limit", "100000"], "flows.json");
    report(&["errors", "--limit", "25"], "errors.json");
    report(&["cost"], "cost.json");
    report(&["activity"], "activity.json");
    let history = report(&["artifacts", "output-drafts/sections/*", "--limit", "30"], "artifacts.json");
    assert_eq!(history["history"].as_array().unwrap().len(), 30, "{history}");
    // A trace with a few levels: the first write_paper run's, by its workflow id.
    let workflow = first_workflow(&out.join("traces.jsonl"));
    let t = report(&["trace", &workflow], "trace.json");
    assert_eq!(t["traces"].as_array().unwrap().len(), 1, "{t}");
    assert!(t["traces"][0]["spans"].as_array().unwrap().len() >= 5, "{t}");

    let check = Command::new(python())
        .arg(repo().join("tests/peers/check_reports.py"))
        .args([&out, &store, &reports])
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    let v: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(v["mismatches"], serde_json::json!([]), "{v}");
    assert!(v["spans"].as_u64().unwrap() > 5_000, "{v}");
    assert!(v["agents"].as_u64().unwrap() >= 5, "{v}");
    assert!(v["slow"].as_u64().unwrap() >= 3, "{v}");
    assert!(v["windows"].as_u64().unwrap() >= 2, "{v}");

    // The same report straight from the run's folder (read into a temporary store).
    let direct = sim(&["report", "summary", "--store", out.to_str().unwrap(), "--format", "json"]);
    let direct: serde_json::Value = serde_json::from_slice(&direct.stdout).unwrap();
    assert_eq!(direct["dailySummary"]["overview"], summary["dailySummary"]["overview"]);

    // A filter narrows what is counted: the first 10 minutes only.
    let early = sim(&[
        "report",
        "summary",
        "--store",
        store.to_str().unwrap(),
        "--format",
        "json",
        "--since",
        "2026-11-01T09:40:00Z",
        "--until",
        "2026-11-01T09:50:00Z",
    ]);
    let early: serde_json::Value = serde_json::from_slice(&early.stdout).unwrap();
    let (all, part) =
        (&summary["dailySummary"]["overview"]["totalRuns"], &early["dailySummary"]["overview"]["totalRuns"]);
    assert!(part.as_u64().unwrap() > 0 && part.as_u64() < all.as_u64(), "{part} of {all}");

    // Importing the same files again into a fresh store gives the same files, byte for byte.
    let again = dir.join("again");
    sim(&["import", out.to_str().unwrap(), "--store", again.to_str().unwrap()]);
    let list = |root: &std::path::Path| {
        let mut v = Vec::new();
        let mut dirs = vec![root.to_owned()];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "parquet") {
                    v.push((p.strip_prefix(root).unwrap().to_owned(), std::fs::read(&p).unwrap()));
                }
            }
        }
        v.sort();
        v
    };
    assert!(list(&store) == list(&again), "importing twice gave different files");
    // The run's own store sink wrote the same files, byte for byte, as importing its JSON.
    let files = list(&direct_store);
    assert!(files.len() >= 6, "{} files", files.len());
    assert!(files == list(&store), "--store and import of the run's files differ");
}

/// A run whose root span has not arrived (spans leave when they end: the root last) is in
/// progress; one with its root is among the latest runs.
#[test]
fn activity_sees_runs_whose_root_has_not_arrived() {
    let dir = tempdir("report-activity");
    let f = dir.join("traces.jsonl");
    let span = |trace: &str, id: &str, parent: &str, start: u64| {
        format!(
            r#"{{"traceId":"{trace}","spanId":"{id}","parentSpanId":"{parent}","name":"s{id}","startTimeUnixNano":"{start}","endTimeUnixNano":"{}"}}"#,
            start + 1000
        )
    };
    let t0 = 1_780_000_000_000_000_000u64;
    let (a, b) = ("aa".repeat(16), "bb".repeat(16));
    let spans = [
        span(&a, &"01".repeat(8), "", t0),
        span(&a, &"02".repeat(8), &"01".repeat(8), t0 + 10),
        span(&b, &"04".repeat(8), &"03".repeat(8), t0 + 20), // its root, 03…, is still running
    ];
    std::fs::write(&f, format!("{{\"resourceSpans\":[{{\"scopeSpans\":[{{\"spans\":[{}]}}]}}]}}\n", spans.join(",")))
        .unwrap();
    let store = dir.join("store");
    sim(&["-q", "import", f.to_str().unwrap(), "--store", store.to_str().unwrap()]);
    let o = sim(&["report", "activity", "--store", store.to_str().unwrap(), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["inProgress"], 1, "{v}");
    assert_eq!(v["running"][0]["traceId"], b.as_str(), "{v}");
    assert_eq!(v["recent"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["recent"][0]["traceId"], a.as_str(), "{v}");
}

#[test]
fn a_bad_line_is_named_and_nothing_is_made_up() {
    let dir = tempdir("import-bad");
    let f = dir.join("traces.jsonl");
    std::fs::write(
        &f,
        "{\"resourceSpans\":[]}\n{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"xyz\"}]}]}]}\n",
    )
    .unwrap();
    let store = dir.join("store");
    let out =
        Command::new(bin()).args(["import", f.to_str().unwrap(), "--store", store.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("traces.jsonl:2: resourceSpans[0].scopeSpans[0].spans[0].traceId"), "{err}");
    // Not a store, not a run: a usage error that says what to do.
    let r = Command::new(bin())
        .args(["report", "summary", "--store", dir.join("nothing").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(String::from_utf8_lossy(&r.stderr).contains("import"));
}

/// The TaskPilot guide's demos, reported as the guide says they look.
#[test]
fn the_taskpilot_demos_read_as_their_guide_says() {
    let dir = tempdir("report-demos");
    let summary = |name: &str| {
        let out = dir.join(name);
        sim(&[
            "-q",
            "--output",
            out.to_str().unwrap(),
            "--seed",
            "5",
            "--start-time",
            "2026-11-01T09:00:00Z",
            "scenario",
            "--name",
            name,
        ]);
        let o = sim(&["report", "summary", "--store", out.to_str().unwrap(), "--format", "json"]);
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["dailySummary"].clone()
    };
    let types = |s: &serde_json::Value| -> Vec<(String, u64)> {
        s["errors"]["byType"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["type"].as_str().unwrap().to_owned(), t["count"].as_u64().unwrap()))
            .collect()
    };
    // Performance bottleneck: PlannerAgent p95 ≈ 0.5 s, ExecutorAgent ≈ 5 s.
    let s = summary("performance_bottleneck");
    let p95 = |agent: &str| {
        s["byAgent"].as_array().unwrap().iter().find(|a| a["agent"] == agent).unwrap()["p95Duration"].as_f64().unwrap()
    };
    assert!((p95("PlannerAgent") - 0.5).abs() < 0.1, "{s}");
    assert!((p95("ExecutorAgent") - 5.0).abs() < 0.5, "{s}");
    // Error pattern: 20 timeouts, 10 execution errors, 5 policy violations, each counted once
    // where it happened although it bubbles up to its agent and workflow.
    let s = summary("error_pattern");
    assert_eq!(
        types(&s),
        vec![
            ("TOOL_TIMEOUT".to_owned(), 20),
            ("TOOL_EXECUTION_ERROR".to_owned(), 10),
            ("POLICY_VIOLATION".to_owned(), 5)
        ],
        "{s}"
    );
    assert!(s["errors"]["errorSpans"].as_u64().unwrap() > 35, "{s}");
    // Policy violation: 15 denials.
    let s = summary("policy_violation");
    assert_eq!(types(&s), vec![("POLICY_VIOLATION".to_owned(), 15)], "{s}");
    // Cost optimization at the demo's prices: $5.00 on gpt-4o, $1.00 on gpt-4o-mini.
    summary("cost_optimization");
    let out = dir.join("cost_optimization");
    let o = sim(&[
        "report",
        "cost",
        "--pricing",
        "cost_optimization",
        "--store",
        out.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let c: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let cost =
        |m: &str| c["byModel"].as_array().unwrap().iter().find(|x| x["model"] == m).unwrap()["cost"].as_f64().unwrap();
    assert!((cost("gpt-4o") - 5.0).abs() < 1e-9 && (cost("gpt-4o-mini") - 1.0).abs() < 1e-9, "{c}");
}

/// `--scenario` counts only what a run with --mark-scenario says came from that scenario:
/// the scenarios' runs add up to all runs, and each report narrows the same way.
#[test]
fn the_scenario_filter_splits_a_mixed_run() {
    let dir = tempdir("report-scenario");
    let store = dir.join("store");
    let r = run(&[
        "--mark-scenario",
        "--store",
        store.to_str().unwrap(),
        "--seed",
        "5",
        "--start-time",
        START,
        "-q",
        "run",
        "--count",
        "400",
        "--interval",
        "50ms",
    ]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let summary = |extra: &[&str]| {
        let mut a = vec!["report", "summary", "--store", store.to_str().unwrap(), "--format", "json"];
        a.extend_from_slice(extra);
        let v: serde_json::Value = serde_json::from_slice(&sim(&a).stdout).unwrap();
        v["dailySummary"].clone()
    };
    let all = summary(&[]);
    let total = all["overview"]["totalRuns"].as_u64().unwrap();
    let list = String::from_utf8_lossy(&sim(&["list"]).stdout).into_owned();
    let names: Vec<&str> =
        list.lines().filter(|l| l.starts_with("  ")).filter_map(|l| l.split_whitespace().next()).collect();
    assert!(names.len() >= 10, "{list}");
    let (mut runs, mut errors, mut with_runs) = (0, 0, 0);
    for name in &names {
        let s = summary(&["--scenario", name]);
        let n = s["overview"]["totalRuns"].as_u64().unwrap();
        runs += n;
        errors += s["errors"]["errorSpans"].as_u64().unwrap();
        with_runs += usize::from(n > 0);
        if *name == "write_paper" {
            assert!(s["artifacts"]["created"].as_u64().unwrap() > 0, "{s}");
        } else {
            assert_eq!(s["artifacts"]["created"], 0, "{name}: {s}");
        }
    }
    assert_eq!(runs, total, "the scenarios' runs add up to all runs");
    assert_eq!(errors, all["errors"]["errorSpans"].as_u64().unwrap());
    assert!(with_runs >= 8, "{with_runs} scenarios had runs");
    assert_eq!(summary(&["--scenario", "no_such_scenario"])["overview"]["totalRuns"], 0);
}

/// The HTML page opened in headless Chromium: one file that fetches nothing, its four charts
/// drawn with data and visible in a screenshot; the same run gives the same bytes; a page
/// over no data is caught by the same check.
#[test]
fn the_html_page_shows_its_charts_in_chromium() {
    let dir = tempdir("report-html");
    let store = dir.join("store");
    let r = run(&[
        "--store",
        store.to_str().unwrap(),
        "--seed",
        "8",
        "--start-time",
        START,
        "-q",
        "run",
        "--count",
        "300",
        "--rate",
        "1",
    ]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let page = |extra: &[&str], name: &str| {
        let mut a = vec!["report", "summary", "--store", store.to_str().unwrap(), "--format", "html"];
        a.extend_from_slice(extra);
        let html = sim(&a).stdout;
        let path = dir.join(name);
        std::fs::write(&path, &html).unwrap();
        (path, html)
    };
    let (path, html) = page(&[], "summary.html");
    assert_eq!(page(&[], "again.html").1, html, "the same store gives the same page");
    let text = String::from_utf8_lossy(&html);
    assert!(text.starts_with("<!DOCTYPE html>") && text.contains("<table>"), "{}", &text[..200.min(text.len())]);
    let check = |path: &std::path::Path, out: &str| {
        let out = dir.join(out);
        std::fs::create_dir_all(&out).unwrap();
        let o = Command::new(python())
            .arg(repo().join("tests/peers/check_html.py"))
            .args([path, &out])
            .args([
                "Latency distribution per agent",
                "Error rate per 300 s window",
                "Cost by model",
                "Flow frequencies",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        (serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap(), out)
    };
    let (v, out) = check(&path, "shot");
    assert_eq!(v["problems"], serde_json::json!([]), "{v}");
    assert!(out.join("page.png").is_file());
    // Nothing to draw: the same check says so.
    let (empty, _) = page(&["--scenario", "no_such_scenario"], "empty.html");
    let (v, _) = check(&empty, "shot-empty");
    let problems = v["problems"].to_string();
    assert!(problems.contains("chart without data"), "{v}");
}
