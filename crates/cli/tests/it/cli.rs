//! The command line as a user meets it: default file output, determinism, validation,
//! listing, Ctrl-C.

use crate::common::*;

#[test]
fn default_run_writes_otlp_json_that_python_decodes() {
    let dir = tempdir("default");
    let r = run_in(
        &dir,
        &["scenario", "--name", "successful_agent_turn", "--count", "100", "--interval", "1", "--seed", "1"],
        &[],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(r.stderr().contains("100 traces (successful_agent_turn: 100)"), "{}", r.stderr());
    assert!(r.stderr().contains("replay: --seed 1 --start-time"), "{}", r.stderr());
    let path = dir.join("telemetry-out/traces.jsonl");
    let d = decode_json_file(&path);
    assert_eq!(d["traces"], 100);
    assert_eq!(d["spans"], r.summary["spans"]);
    assert_eq!(d["lines"], r.sink("file")["requests"]);
    let spans = spans_of(&d);
    assert_links(&spans);
    // Logs: one file line per batch, every record pointing at a span of the traces.
    let l = decode_json_file(&dir.join("telemetry-out/logs.jsonl"));
    let logs = logs_of(&l);
    assert_eq!(logs.len() as u64, r.summary["log_records"].as_u64().unwrap());
    assert_logs_correlate(&logs, &spans);
    // Two declared per turn (start, end), one per tool call, one per failing span.
    let errors = r.summary["error_spans"].as_u64().unwrap();
    assert_eq!(logs.len() as u64, 3 * 100 + errors);
    assert_eq!(logs.iter().filter(|l| l.2 == 17).count() as u64, errors);
    // Metrics: cumulative exports; the last one counts every span.
    let m = decode_json_file(&dir.join("telemetry-out/metrics.jsonl"));
    let exports = m["metric_exports"].as_array().unwrap();
    assert!(!exports.is_empty());
    assert_metrics_match(exports.last().unwrap(), &spans);
    // The Python telemetry-simulator 1.x table: root, planner, llm.call, tool + attempt, llm.call, response.compose.
    // Spans leave as they end; the tree read from the root, children in the order they
    // ended (siblings run one after another), is the table's order.
    let trace: Vec<&[String; 4]> = spans.iter().filter(|s| s[0] == spans[0][0]).collect();
    fn walk<'a>(trace: &[&'a [String; 4]], parent: &str, out: &mut Vec<&'a str>) {
        for s in trace.iter().filter(|s| s[2] == parent) {
            out.push(&s[3]);
            walk(trace, &s[1], out);
        }
    }
    let mut first = Vec::new();
    walk(&trace, "", &mut first);
    assert_eq!(
        first,
        [
            "vendor.a2a.orchestrate",
            "vendor.planner",
            "vendor.llm.call",
            "vendor.mcp.tool.execute",
            "vendor.mcp.tool.execute.attempt",
            "vendor.llm.call",
            "vendor.response.compose"
        ]
    );
}

#[test]
fn same_seed_and_start_give_byte_identical_files() {
    let dir = tempdir("det");
    let go = |seed: &str, out: &str| {
        let r = run_in(
            &dir,
            &["--output", out, "--seed", seed, "--start-time", START, "run", "--count", "300", "--interval", "0", "-q"],
            &[("TELEMETRY_TENANT_UUIDS", "t-1,t-2"), ("TELEMETRY_TENANT_WEIGHTS", "3,1")],
        );
        assert_eq!(r.code(), 0, "{}", r.stderr());
        std::fs::read(dir.join(out).join("traces.jsonl")).unwrap()
    };
    let a = go("42", "a");
    let b = go("42", "b");
    let c = go("43", "c");
    assert!(a.len() > 10_000);
    assert!(a == b, "same seed, different bytes");
    assert!(a != c, "different seed, same bytes");
    let text = String::from_utf8(a).unwrap();
    assert!(text.contains(r#"{"key":"vendor.tenant.id","value":{"stringValue":"t-1"}}"#));
}

#[test]
fn attr_prefix_rewrites_vendor_names() {
    let dir = tempdir("prefix");
    let r = run_in(
        &dir,
        &["scenario", "--name", "tool_retry", "--count", "3", "--interval", "0", "-q"],
        &[("TELEMETRY_SIMULATOR_ATTR_PREFIX", "gentoro")],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let text = std::fs::read_to_string(dir.join("telemetry-out/traces.jsonl")).unwrap();
    assert!(text.contains("\"gentoro.a2a.orchestrate\"") && text.contains("\"gentoro.tool.system\""));
    assert!(!text.contains("\"vendor."));
}

#[test]
fn validate_points_at_file_line_and_column() {
    let dir = tempdir("validate");
    std::fs::write(dir.join("good.yaml"), "name: good\nroot: {type: vendor.a}\n").unwrap();
    std::fs::write(
        dir.join("bad.yaml"),
        "name: bad\nroot:\n  type: a\n  latency: {distribution: log_normal, median_ms: 10, sigma: 0}\n  chidlren: []\n",
    )
    .unwrap();
    let out = std::process::Command::new(bin()).arg("validate").arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yaml:4:") && err.contains("sigma must be > 0"), "{err}");
    assert!(err.contains("bad.yaml:5:3: unknown key `chidlren`") && err.contains("did you mean `children`?"), "{err}");
    let ok = std::process::Command::new(bin()).arg("validate").arg(dir.join("good.yaml")).output().unwrap();
    assert!(ok.status.success());
    assert!(String::from_utf8_lossy(&ok.stdout).contains("ok"));
}

#[test]
fn list_hides_the_reference_which_still_runs_by_name() {
    let out = std::process::Command::new(bin()).arg("list").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("successful_agent_turn") && text.contains("tool_retry"));
    assert!(!text.contains("example_scenario"));
    let dir = tempdir("example");
    let r = run_in(
        &dir,
        &["scenario", "--name", "example_scenario", "--count", "5", "--interval", "0", "--show-spans", "-q"],
        &[],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert_eq!(String::from_utf8_lossy(&r.out.stdout).lines().count(), 5);
    // Every metric the reference declares shows up, next to the derived ones.
    let m = decode_json_file(&dir.join("telemetry-out/metrics.jsonl"));
    let last = m["metric_exports"].as_array().unwrap().last().unwrap().as_object().unwrap().clone();
    for name in [
        "agent_runs_total",
        "tool_calls_total",
        "llm_call_duration_seconds",
        "llm_input_tokens",
        "active_sessions",
        "queue_depth",
        "turns_in_flight",
        "replicas",
        "calls",
        "llm.cost",
    ] {
        assert!(last.contains_key(name), "{name} missing: {:?}", last.keys().collect::<Vec<_>>());
    }
}

#[test]
fn scenarios_dir_adds_scenarios_and_bad_ones_fail_with_location() {
    let dir = tempdir("sdir");
    std::fs::write(
        dir.join("mine.yaml"),
        "name: mine\ninterval_ms: 0\nrepeat_count: 7\nroot: {type: vendor.x, children: [{type: y, count: 2}]}\n",
    )
    .unwrap();
    let r = run_in(&dir, &["--scenarios-dir", dir.to_str().unwrap(), "scenario", "--name", "mine", "-q"], &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert_eq!(r.summary["traces"], 7);
    assert_eq!(r.summary["spans"], 21);
    std::fs::write(dir.join("broken.yaml"), "name: broken\nroot: {type: x, count: {min: 5, max: 1}}\n").unwrap();
    let r = run_in(&dir, &["--scenarios-dir", dir.to_str().unwrap(), "list"], &[]);
    assert_eq!(r.code(), 1);
    assert!(r.stderr().contains("broken.yaml:2:"), "{}", r.stderr());
}

#[test]
fn ctrl_c_stops_generation_flushes_and_balances() {
    let dir = tempdir("sigint");
    let summary = dir.join("s.json");
    let spawned = std::time::Instant::now();
    let child = std::process::Command::new(bin())
        .current_dir(&dir)
        .args(["scenario", "--name", "tool_retry", "--count", "100000", "--rate", "50", "--summary-json"])
        .arg(&summary)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupted once the first line is on disk, whenever that is.
    let file = dir.join("telemetry-out/traces.jsonl");
    wait_until("a first line of traces", || std::fs::metadata(&file).is_ok_and(|m| m.len() > 0));
    interrupt(&child);
    let out = wait_output(child);
    assert_eq!(out.status.code(), Some(130));
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(s["interrupted"], true);
    let traces = s["traces"].as_u64().unwrap();
    // Paced: never ahead of 50/s over the time the run was up.
    let bound = (50.0 * (spawned.elapsed().as_secs_f64() + 1.0)) as u64;
    assert!(traces >= 1 && traces <= bound, "{traces} traces at 50/s (at most {bound})");
    assert_eq!(s["sinks"][0]["delivered"], s["spans"]);
    let d = decode_json_file(&dir.join("telemetry-out/traces.jsonl"));
    assert_eq!(d["spans"], s["spans"], "everything generated was flushed to the file");
    // The traces still running (seconds long, 50 start each second) were sent at once.
    assert!(s["ahead_of_time"]["interrupted"].as_u64().unwrap() > 0, "{s}");
}

#[test]
fn bad_flags_are_named() {
    let r = run(&["scenario", "--name", "tool_retry", "--rate", "0"]);
    assert_eq!(r.code(), 2, "a usage error");
    assert!(r.stderr().contains("'--rate <RATE>': `0`: the rate must be above 0"), "{}", r.stderr());
    let r = run(&["scenario", "--name", "tool_retry", "--rate", "5/fortnight"]);
    assert!(r.stderr().contains("is not a rate (examples: 200, 10k/s, 600/m, 50k spans/s)"), "{}", r.stderr());
    let r = run(&["scenario", "--name", "tool_retry", "--shard", "4/4", "--seed", "1"]);
    assert!(r.stderr().contains("`4/4` is not a shard"), "{}", r.stderr());
    let r = run(&["scenario", "--name", "tool_retry", "--shard", "1/4"]);
    assert!(r.stderr().contains("a sharded run needs --seed"), "{}", r.stderr());
    let r = run(&["--start-time", START, "scenario", "--name", "tool_retry", "--end", "2026-11-21T09:00:00Z"]);
    assert!(r.stderr().contains("the end (2026-11-21T09:00:00.000000Z) must be after the start"), "{}", r.stderr());
    let r = run(&["scenario", "--name", "tool_retry", "--interval", "0", "--duration", "1m"]);
    assert!(r.stderr().contains("needs --rate or an --interval above 0"), "{}", r.stderr());
    let r = run(&["--start-time", "yesterday", "scenario", "--name", "tool_retry"]);
    assert!(r.stderr().contains("--start-time `yesterday` is not an RFC 3339 time"), "{}", r.stderr());
    let r = run(&["--protocol", "carrier-pigeon", "--endpoint", "http://127.0.0.1:9", "run"]);
    assert!(r.stderr().contains("unknown OTLP protocol"), "{}", r.stderr());
}

/// A pinned seeded run: any change to sampling, layout or encoding shows up here. When a
/// change is intended, regenerate the snapshot with the command in the message.
#[test]
fn seeded_run_matches_the_snapshot() {
    let dir = tempdir("snap");
    let r = run_in(
        &dir,
        &words(&format!(
            "--seed 7 --start-time {START} --output out scenario --name tool_retry --count 3 --interval 0 -q"
        )),
        &[],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let got = std::fs::read_to_string(dir.join("out/traces.jsonl")).unwrap();
    let want = include_str!("../snapshots/tool_retry_seed7.jsonl");
    let how = format!(
        "if intended: telemetry-simulator --seed 7 --start-time {START} --output DIR scenario --name tool_retry \
         --count 3 --interval 0 and copy DIR/traces.jsonl to crates/cli/tests/snapshots/tool_retry_seed7.jsonl"
    );
    // The first difference, by line and then by JSON field, so that a failure shows what changed.
    for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        if g != w {
            let at = g.bytes().zip(w.bytes()).take_while(|(a, b)| a == b).count();
            let from = at.saturating_sub(60);
            assert_eq!(
                &g[from..(at + 60).min(g.len())],
                &w[from..(at + 60).min(w.len())],
                "line {} at byte {at}; {how}",
                i + 1
            );
        }
    }
    assert_eq!(got.lines().count(), want.lines().count(), "line count; {how}");
    assert_eq!(got, want, "{how}");
}

#[test]
fn policy_decisions_reach_the_decision_log_the_app_log_and_the_spans() {
    let dir = tempdir("decisions");
    std::fs::write(
        dir.join("policy.yaml"),
        concat!(
            "name: policy_demo\ninterval_ms: 0\nroot:\n  type: workflow\n  attributes: {gen_ai.agent.name: PlannerAgent}\n",
            "  children:\n    - type: tool.call\n      attributes: {gen_ai.tool.name: delete_task}\n",
            "      decision:\n        type: tool_call\n        result: {allow: 0.6, deny: 0.4}\n",
            "        reason: {deny: Unauthorized tool access}\n        deny_fails_span: true\n",
            "        context: {user_role: viewer, policy_input: {tool: delete_task}}\n",
            "    - type: opa.check\n      decision: {type: opa, result: requires_approval, policy_name: tool_access_policy}\n",
        ),
    )
    .unwrap();
    let args = format!(
        "--scenarios-dir {0} --output {0}/out --decision-log {0}/decision_logs.jsonl --app-log {0}/logs/app.log \
         scenario --name policy_demo --count 200 -q --seed 4",
        dir.display()
    );
    let r = run_in(&dir, &words(&args), &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let decisions: Vec<serde_json::Value> = std::fs::read_to_string(dir.join("decision_logs.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(decisions.len(), 400, "two decisions per trace");
    assert_eq!(r.sink_of("decision-log", "logs")["delivered"], 400);
    for d in &decisions {
        for k in ["decision_id", "timestamp", "decision_type", "result", "reason", "trace_id", "span_id"] {
            assert!(d.get(k).is_some(), "{k} missing in {d}");
        }
        assert_eq!(d["agent_id"], "PlannerAgent", "agent from the ancestor span");
    }
    let tool: Vec<&serde_json::Value> = decisions.iter().filter(|d| d["decision_type"] == "tool_call").collect();
    let denied = tool.iter().filter(|d| d["result"] == "deny").count();
    assert!((50..=110).contains(&denied), "{denied} of 200 denied at 40 %");
    assert!(
        tool.iter().all(|d| d["tool_name"] == "delete_task" && d["context"]["policy_input"]["tool"] == "delete_task")
    );
    assert!(tool.iter().filter(|d| d["result"] == "deny").all(|d| d["reason"] == "Unauthorized tool access"));
    assert!(
        decisions
            .iter()
            .filter(|d| d["decision_type"] == "opa")
            .all(|d| d["result"] == "requires_approval" && d["policy_name"] == "tool_access_policy")
    );

    // The application log carries them too, with log_type, as whole JSON objects.
    let app: Vec<serde_json::Value> = std::fs::read_to_string(dir.join("logs/app.log"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let policy: Vec<&serde_json::Value> = app.iter().filter(|l| l["log_type"] == "policy_decision").collect();
    assert_eq!(policy.len(), 400);
    assert!(policy.iter().all(|l| l["message"].as_str().unwrap().starts_with("[POLICY] ")));
    r.assert_balanced();

    // Optionally without them.
    let args = format!(
        "--scenarios-dir {0} --no-app-log-decisions --app-log {0}/logs/bare.log scenario --name policy_demo --count 20 -q",
        dir.display()
    );
    let r2 = run_in(&dir, &words(&args), &[]);
    assert_eq!(r2.code(), 0, "{}", r2.stderr());
    let bare = std::fs::read_to_string(dir.join("logs/bare.log")).unwrap();
    assert!(!bare.contains("policy_decision"));
    assert_eq!(r2.sink_of("app-log", "logs")["delivered"].as_u64().unwrap(), bare.lines().count() as u64);

    // Every deny failed its span with error.type policy_violation, visible in the traces.
    let traces = std::fs::read_to_string(dir.join("out/traces.jsonl")).unwrap();
    let violations = traces.matches(r#"{"key":"error.type","value":{"stringValue":"policy_violation"}}"#).count();
    assert_eq!(violations, denied);
    assert_eq!(traces.matches(r#""name":"policy.decision""#).count(), 400);
}

#[test]
fn cost_is_tokens_times_the_declared_price() {
    let dir = tempdir("cost");
    std::fs::write(
        dir.join("cost.yaml"),
        concat!(
            "name: cost\ninterval_ms: 0\npricing:\n  gpt-4o: {input_per_million: 40, output_per_million: 120}\n",
            "root:\n  type: chat gpt-4o\n  kind: client\n  attributes:\n    gen_ai.operation.name: chat\n",
            "    gen_ai.request.model: gpt-4o\n    gen_ai.usage.input_tokens: 1000\n    gen_ai.usage.output_tokens: 500\n",
        ),
    )
    .unwrap();
    let args = format!("--scenarios-dir {0} --output {0}/out scenario --name cost --count 50 -q", dir.display());
    let r = run_in(&dir, &words(&args), &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let m = decode_json_file(&dir.join("out/metrics.jsonl"));
    let last = m["metric_exports"].as_array().unwrap().last().unwrap().clone();
    let cost = last["llm.cost"]["total"].as_f64().unwrap();
    assert!((cost - 5.0).abs() < 1e-9, "50 calls × (1000 × $40 + 500 × $120) / 1M = $5.00, got {cost}");
    assert_eq!(last["llm.tokens"]["total"].as_u64(), Some(50 * 1500));
}

#[test]
fn declared_metrics_follow_their_bindings_and_processes() {
    let dir = tempdir("declared");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/paper_metrics.yaml"), dir.join("paper.yaml")).unwrap();
    let args = format!(
        "--scenarios-dir {0} --metrics-interval 5s --start-time 2026-11-21T10:00:00Z --output {0}/out \
         scenario --name paper --count 60 --interval 1000 -q --seed 3",
        dir.display()
    );
    let r = run_in(&dir, &words(&args), &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let m = decode_json_file(&dir.join("out/metrics.jsonl"));
    let exports = m["metric_exports"].as_array().unwrap();
    assert!(exports.len() >= 12, "a minute of simulated time at 5 s: {}", exports.len());
    let last = exports.last().unwrap();
    let total = |name: &str| last[name]["total"].as_f64().unwrap_or(-1.0);
    assert_eq!(total("agent_runs_total"), 120.0, "two agent spans per trace");
    assert_eq!(total("agent_duration_seconds"), 120.0, "histogram count = spans that fed it");
    assert_eq!(total("errors_total"), r.summary["error_spans"].as_f64().unwrap(), "one per failing span");
    assert_eq!(last["agent_runs_total"]["points"].as_u64(), Some(3), "architect ok/error, drafter ok");
    for (i, e) in exports.iter().enumerate() {
        let walk = e["active_sessions"]["total"].as_f64().unwrap();
        assert!((0.0..=50.0).contains(&walk), "{walk}");
        let sine = e["pending_artifacts"]["total"].as_f64().unwrap();
        assert!((0.0..=20.0).contains(&sine), "{sine}");
        // Workflows last ~6-7 s (two agents in sequence) and start 1 s apart.
        let running = e["running_workflows"]["total"].as_f64().unwrap();
        assert!((0.0..=12.0).contains(&running), "{running}");
        if i > 1 && i + 1 < exports.len() {
            assert!(running >= 3.0, "export {i}: {running} in flight");
        }
    }
    let walks: std::collections::HashSet<String> =
        exports.iter().map(|e| e["active_sessions"]["total"].to_string()).collect();
    assert!(walks.len() > 3, "the random walk moves");
}

#[test]
fn logging_config_routes_records_to_loggers_with_fields_rotation_and_retention() {
    let dir = tempdir("loggers");
    std::fs::write(
        dir.join("logging.yaml"),
        concat!(
            "loggingConfig:\n  version: \"1.0.0\"\n",
            "  defaults: {level: info, format: json, outputDir: logs, retentionDays: 30, maxFileSize: 8KB, maxFiles: 3}\n",
            "  loggers:\n",
            "    orchestrator: {output: logs/orchestrator.log, includeFields: [timestamp, level, traceId, message, duration, status]}\n",
            "    mcp: {level: debug, output: logs/tool.log, includeFields: [timestamp, level, toolName, message, nothingHere]}\n",
            "    error: {level: error, output: logs/error.log, includeFields: [timestamp, level, source, errorType, message]}\n",
        ),
    )
    .unwrap();
    // An old rotated file: retention removes it; a recent one stays (until rotation shifts it).
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    std::fs::write(dir.join("logs/tool.log.3"), "old\n").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(40 * 86_400);
    std::fs::File::options().write(true).open(dir.join("logs/tool.log.3")).unwrap().set_modified(old).unwrap();
    let args =
        "--logging-config logging.yaml --output out scenario --name tool_retry --count 120 --interval 0 -q --seed 2";
    let r = run_in(&dir, &words(args), &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(
        !dir.join("logs/tool.log.3").exists()
            || std::fs::read_to_string(dir.join("logs/tool.log.3")).unwrap() != "old\n"
    );

    let read_all = |base: &str| -> Vec<serde_json::Value> {
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir.join("logs"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(base))
            .collect();
        files.sort();
        files
            .iter()
            .flat_map(|f| {
                std::fs::read_to_string(f)
                    .unwrap()
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    // Rotation happened and kept at most 3 old files.
    assert!(dir.join("logs/orchestrator.log.1").exists());
    assert!(!dir.join("logs/orchestrator.log.4").exists());
    for f in std::fs::read_dir(dir.join("logs")).unwrap().flatten() {
        assert!(f.metadata().unwrap().len() <= 8_000, "{:?} exceeds maxFileSize", f.path());
    }
    // Exactly the configured fields, in order, the ones without a value left out.
    let tool = read_all("tool.log");
    assert!(!tool.is_empty());
    for l in &tool {
        let keys: Vec<&str> = l.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 4, "{l}");
        assert_eq!(l["toolName"], "database.query");
    }
    // In the configured order on disk.
    let raw = std::fs::read_to_string(dir.join("logs/tool.log")).unwrap();
    for line in raw.lines() {
        let at = |k: &str| line.find(&format!("\"{k}\":")).unwrap_or(usize::MAX);
        assert!(
            at("timestamp") < at("level") && at("level") < at("toolName") && at("toolName") < at("message"),
            "{line}"
        );
    }
    assert!(tool.iter().any(|l| l["level"] == "DEBUG"), "mcp logs at debug");
    let orch = read_all("orchestrator.log");
    assert!(orch.iter().all(|l| l["status"] == "success" || l["status"] == "failure"));
    // The error logger has every ERROR record of the run, from every logger.
    let errors = read_all("error.log");
    assert!(errors.iter().all(|l| l["level"] == "ERROR"));
    let logs = decode_json_file(&dir.join("out/logs.jsonl"));
    let want = logs["logs"].as_array().unwrap().iter().filter(|l| l[2].as_u64().unwrap() >= 17).count();
    // Rotation keeps 3 old files of 8 KB: compare what is kept with the newest records.
    assert!(errors.len() <= want && !errors.is_empty());
    if !dir.join("logs/error.log.3").exists() {
        assert_eq!(errors.len(), want, "no error record lost while nothing was rotated away");
    }
}

#[test]
fn exact_counts_reproduce_the_cost_optimization_numbers() {
    // the TaskPilot guide's cost demo: 50 workflows on gpt-4o at $0.10 and 50 on gpt-4o-mini at $0.02,
    // 50,000 tokens each, cost 5.0 and 1.0.
    let dir = tempdir("exact");
    std::fs::write(
        dir.join("cost.yaml"),
        concat!(
            "name: cost_demo\nrepeat_count: 100\ninterval_ms: 0\n",
            "pricing:\n  gpt-4o: {input_per_million: 100, output_per_million: 100}\n",
            "  gpt-4o-mini: {input_per_million: 20, output_per_million: 20}\n",
            "variants:\n  - {name: big, count: 50, vars: {model: gpt-4o}}\n  - {name: small, count: 50, vars: {model: gpt-4o-mini}}\n",
            "root:\n  type: taskpilot.workflow.run\n  children:\n    - type: chat\n      kind: client\n      attributes:\n",
            "        gen_ai.operation.name: chat\n        gen_ai.request.model: {template: \"{var.model}\"}\n",
            "        gen_ai.usage.input_tokens: 600\n        gen_ai.usage.output_tokens: 400\n",
        ),
    )
    .unwrap();
    let args = format!("--scenarios-dir {0} --output {0}/out scenario --name cost_demo -q --seed 5", dir.display());
    let r = run_in(&dir, &words(&args), &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert_eq!(r.summary["traces"], 100, "repeat_count");
    let m = decode_json_file(&dir.join("out/metrics.jsonl"));
    let last = m["metric_exports"].as_array().unwrap().last().unwrap().clone();
    let by = |metric: &str, model: &str| -> f64 {
        last[metric]["by"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p[0]["gen_ai.request.model"] == model)
            .map(|p| p[1].as_f64().unwrap())
            .sum()
    };
    assert!((by("llm.cost", "gpt-4o") - 5.0).abs() < 1e-9, "{}", by("llm.cost", "gpt-4o"));
    assert!((by("llm.cost", "gpt-4o-mini") - 1.0).abs() < 1e-9);
    assert_eq!(by("llm.tokens", "gpt-4o"), 50_000.0);
    assert_eq!(by("llm.tokens", "gpt-4o-mini"), 50_000.0);
}

#[test]
fn seed_sample_scenarios_use_every_listed_span_type() {
    // the Python telemetry-simulator 1.x's span types: task.execute (task id/type), rag.retrieve with probability,
    // a2a.call, cp.request, response.compose (format, outcome); a Poisson number of tools.
    let dir = tempdir("samples");
    let mut names = std::collections::HashMap::new();
    let mut tasks_per_trace = Vec::new();
    for scenario in ["multi_tool_turn", "agent_handoff_turn"] {
        let out = format!("out-{scenario}");
        let r = run_in(
            &dir,
            &words(&format!("--output {out} scenario --name {scenario} --count 300 --interval 0 -q --seed 8")),
            &[],
        );
        assert_eq!(r.code(), 0, "{}", r.stderr());
        let spans = spans_of(&decode_json_file(&dir.join(&out).join("traces.jsonl")));
        assert_links(&spans);
        for s in &spans {
            *names.entry(s[3].clone()).or_insert(0u64) += 1;
        }
        if scenario == "multi_tool_turn" {
            let mut per: std::collections::HashMap<&str, u64> = std::collections::HashMap::new();
            for s in spans.iter().filter(|s| s[3] == "vendor.task.execute") {
                *per.entry(&s[0]).or_default() += 1;
            }
            assert_eq!(per.len(), 300, "every trace has at least one task");
            tasks_per_trace = per.values().copied().collect();
        }
    }
    for t in [
        "vendor.task.execute",
        "rag.retrieve",
        "a2a.call",
        "cp.request",
        "vendor.response.compose",
        "vendor.mcp.tool.execute.attempt",
    ] {
        assert!(names.get(t).copied().unwrap_or(0) > 0, "{t} missing: {names:?}");
    }
    assert!(tasks_per_trace.iter().all(|n| (1..=5).contains(n)));
    let mean = tasks_per_trace.iter().sum::<u64>() as f64 / tasks_per_trace.len() as f64;
    // E[clamp(Poisson(2), 1, 5)] ≈ 2.12.
    assert!((mean - 2.12).abs() < 0.25, "mean tasks {mean}");
    let rag_share = names["rag.retrieve"] as f64;
    assert!(rag_share > 0.0);
}
