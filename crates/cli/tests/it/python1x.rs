//! Coming from the Python telemetry-simulator 1.x: its scenario format, flags and
//! environment variables, each shown to have its effect on what is generated.
use std::path::{Path, PathBuf};

use crate::common::*;

/// Every span of an OTLP/JSON traces file: (name, parent span id, span id, attributes).
fn spans(path: &Path) -> Vec<(String, String, String, serde_json::Value)> {
    let mut out = Vec::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let req: serde_json::Value = serde_json::from_str(line).unwrap();
        for rs in req["resourceSpans"].as_array().unwrap() {
            for ss in rs["scopeSpans"].as_array().unwrap() {
                for s in ss["spans"].as_array().unwrap() {
                    out.push((
                        s["name"].as_str().unwrap().to_string(),
                        s["parentSpanId"].as_str().unwrap_or_default().to_string(),
                        s["spanId"].as_str().unwrap().to_string(),
                        s["attributes"].clone(),
                    ));
                }
            }
        }
    }
    out
}

/// The string value of attribute `key`.
fn attr(attrs: &serde_json::Value, key: &str) -> Option<String> {
    attrs
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .and_then(|a| a["value"]["stringValue"].as_str().map(String::from))
}

/// A folder holding one scenario file with `yaml`.
fn scenario_dir(tag: &str, yaml: &str) -> PathBuf {
    let dir = tempdir(tag);
    std::fs::create_dir_all(dir.join("s")).unwrap();
    std::fs::write(dir.join("s/one.yaml"), yaml).unwrap();
    dir
}

/// Runs scenario `name` of the folder `s` of `dir`: `count` traces at once from START.
fn run_scenario(dir: &Path, name: &str, seed: &str, count: &str, traces_only: bool) -> Run {
    let mut args = vec!["--scenarios-dir", "s", "--seed", seed, "--start-time", START];
    if traces_only {
        args.extend(["--signals", "traces"]);
    }
    args.extend(["scenario", "--name", name, "-n", count, "--interval", "0"]);
    run_in(dir, &args, &[])
}

fn reference() -> String {
    repo().join("crates/cli/tests/python1x").display().to_string()
}

#[test]
fn the_reference_file_of_the_1x_format_loads_and_runs_unchanged() {
    let dir = tempdir("py-ref");
    let r = run_in(
        &dir,
        &[
            "--scenarios-dir",
            &reference(),
            "--seed",
            "3",
            "--start-time",
            START,
            "scenario",
            "--name",
            "python1x_reference",
        ],
        &[],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert_eq!(r.summary["traces"], 40, "repeat_count is the default count");
    r.assert_all_delivered();
    let all = spans(&dir.join("telemetry-out/traces.jsonl"));
    for t in ["vendor.a2a.orchestrate", "vendor.planner", "vendor.mcp.tool.execute", "a2a.call", "vendor.llm.call"] {
        assert!(all.iter().any(|s| s.0 == t), "no {t} span");
    }
}

/// Tool spans with `types` and retries; returns (attempts per tool span, error types of attempts).
fn retried(types: &str, extra: &str) -> (Vec<usize>, Vec<String>) {
    let yaml = format!(
        "name: r\nroot:\n  type: vendor.a2a.orchestrate\n  children:\n    - type: vendor.mcp.tool.execute\n      \
         error: {{rate: 1.0, types: {types}{extra}}}\n      retry: {{max_attempts: 4, success_rate_per_attempt: [0.0]}}\n"
    );
    let dir = scenario_dir("py-retry", &yaml);
    let r = run_scenario(&dir, "r", "1", "200", false);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let all = spans(&dir.join("telemetry-out/traces.jsonl"));
    let tools: Vec<&String> = all.iter().filter(|s| s.0 == "vendor.mcp.tool.execute").map(|s| &s.2).collect();
    let attempts = tools.iter().map(|id| all.iter().filter(|s| &s.1 == *id).count()).collect();
    let types = all.iter().filter(|s| s.0.ends_with(".attempt")).filter_map(|s| attr(&s.3, "error.type")).collect();
    (attempts, types)
}

#[test]
fn an_error_type_that_is_not_retryable_never_gets_a_second_attempt() {
    // `validation` is not in the Python tool's default retryable types.
    let (attempts, _) = retried("[validation]", "");
    assert_eq!(attempts.len(), 200);
    assert!(attempts.iter().all(|&n| n == 1), "{attempts:?}");
    // `retryable_types` names what is retried: now every attempt fails and is retried to the end.
    let (attempts, _) = retried("[validation]", ", retryable_types: [validation]");
    assert!(attempts.iter().all(|&n| n == 4), "{attempts:?}");
    // Mixed: an attempt of a non-retryable type is always the last one.
    let (attempts, types) = retried("[timeout, validation]", ", retryable_types: [timeout]");
    assert!(attempts.iter().any(|&n| n > 1) && attempts.iter().any(|&n| n < 4), "{attempts:?}");
    let mut i = 0;
    for n in attempts {
        let seq = &types[i..i + n];
        assert!(seq[..n - 1].iter().all(|t| t == "timeout"), "only timeouts are retried: {seq:?}");
        assert!(n == 4 || seq[n - 1] == "validation", "a sequence ends early only on validation: {seq:?}");
        i += n;
    }
}

#[test]
fn type_weights_give_the_error_type_frequencies_within_three_sigma() {
    let yaml = "name: w\nroot:\n  type: vendor.a2a.orchestrate\n  error:\n    rate: 1.0\n    types: [a, b, c]\n    type_weights: [6, 3, 1]\n";
    let dir = scenario_dir("py-weights", yaml);
    let n = 3000.0;
    let r = run_scenario(&dir, "w", "5", "3000", true);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let types: Vec<String> =
        spans(&dir.join("telemetry-out/traces.jsonl")).iter().filter_map(|s| attr(&s.3, "error.type")).collect();
    assert_eq!(types.len(), 3000);
    for (t, p) in [("a", 0.6), ("b", 0.3), ("c", 0.1)] {
        let k = types.iter().filter(|x| *x == t).count() as f64;
        let sigma = (n * p * (1.0f64 - p)).sqrt();
        assert!((k - n * p).abs() <= 3.0 * sigma, "{t}: {k} of {n}, expected {} ± {}", n * p, 3.0 * sigma);
    }
    // A weight list that does not match `types` is refused where it is written.
    let bad = scenario_dir(
        "py-weights-bad",
        "name: w\nroot:\n  type: x.y\n  error: {rate: 1, types: [a, b], type_weights: [1]}\n",
    );
    let r = run_in(&bad, &["validate", "s"], &[]);
    assert_eq!(r.code(), 1);
    assert!(
        r.stderr().contains("s/one.yaml:4:") && r.stderr().contains("type_weights has 1 weights for 2 types"),
        "{}",
        r.stderr()
    );
}

#[test]
fn a_bare_error_rate_is_the_rate() {
    let dir = scenario_dir(
        "py-rate",
        "name: e\nroot:\n  type: vendor.a2a.orchestrate\n  error: 1.0\n  children:\n    - type: x.ok\n      error: 0\n",
    );
    let r = run_scenario(&dir, "e", "1", "50", true);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert_eq!(r.summary["error_spans"], 50, "every root fails, no child does: {}", r.summary);
}

#[test]
fn a_key_given_twice_is_read_as_pyyaml_reads_it_with_a_located_warning() {
    let dir =
        scenario_dir("py-dup", "name: d\nrepeat_count: 3\nrepeat_count: 4\nroot:\n  type: vendor.a2a.orchestrate\n");
    let r = run_in(&dir, &["validate", "s"], &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(
        r.stderr().contains("warning: s/one.yaml:2:1: duplicate key `repeat_count`: the one on line 3 is used"),
        "{}",
        r.stderr()
    );
    let r = run_in(
        &dir,
        &["--scenarios-dir", "s", "--start-time", START, "scenario", "--name", "d", "--interval", "0"],
        &[],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert_eq!(r.summary["traces"], 4, "the last value wins");
    assert!(r.stderr().contains("duplicate key `repeat_count`"), "{}", r.stderr());
    let r = run_in(&dir, &["--strict", "validate", "s"], &[]);
    assert_eq!(r.code(), 1, "{}", r.stderr());
    let r = run_in(&dir, &["--strict", "--scenarios-dir", "s", "scenario", "--name", "d"], &[]);
    assert_eq!(r.code(), 1, "{}", r.stderr());
    assert!(r.stderr().contains("--strict: 1 warning(s) in scenario files are errors"), "{}", r.stderr());
}

#[test]
fn the_2x_workload_format_is_recognised_and_named() {
    let dir = scenario_dir(
        "py-2x",
        "name: new_claim\nworkload_weight: 1.0\nmcp_server: phone\ndata_plane:\n  workflow: new_claim\n",
    );
    let r = run_in(&dir, &["validate", "s"], &[]);
    assert_eq!(r.code(), 1);
    let e = r.stderr();
    assert!(e.contains("s/one.yaml:2:1: this is the Python telemetry-simulator 2.x workload format (`workload_weight:`), which is not supported"), "{e}");
    assert!(!e.contains("root"), "{e}");
}

#[test]
fn diagnostics_of_several_files_each_end_their_line() {
    let dir = tempdir("py-diag");
    std::fs::create_dir_all(dir.join("s")).unwrap();
    std::fs::write(dir.join("s/a.yaml"), "name: a\nroot:\n  type: x.y\n  latncy: 3\n").unwrap();
    std::fs::write(dir.join("s/b.yaml"), "name: b\nroot:\n  type: x.y\n  eror: 3\n").unwrap();
    let r = run_in(&dir, &["validate", "s"], &[]);
    assert_eq!(r.code(), 1);
    for line in r.stderr().lines() {
        assert!(!line.contains('^') || line.trim_end().ends_with('^'), "a caret line runs on: {line:?}");
    }
}

#[test]
fn the_python_tools_flags_do_what_they_did() {
    let dir = tempdir("py-flags");
    let go = |args: &str| run_in(&dir, &[&["--seed", "2", "--start-time", START][..], &words(args)].concat(), &[]);
    let one = "scenario --name tool_retry -n 3 --interval 0";
    // --show-all-attributes: the one-line-per-trace view.
    let r = go(&format!("-q --output o0 --show-all-attributes --signals traces {one}"));
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert_eq!(String::from_utf8_lossy(&r.out.stdout).lines().filter(|l| l.starts_with("trace ")).count(), 3);
    // --output-file: spans there, metrics and logs next to it; no default folder.
    let r = go(&format!("--output-file x/t.jsonl {one}"));
    assert_eq!(r.code(), 0, "{}", r.stderr());
    for f in ["x/t.jsonl", "x/t_metrics.jsonl", "x/t_logs.jsonl"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    assert!(!dir.join("telemetry-out").exists());
    // --no-metrics, --no-logs.
    let r = go(&format!("--output o1 --no-metrics --no-logs {one}"));
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(
        dir.join("o1/traces.jsonl").is_file()
            && !dir.join("o1/logs.jsonl").exists()
            && !dir.join("o1/metrics.jsonl").exists()
    );
    // run --tags, --each-once.
    let r = go("--output o2 run --tags retry --each-once --interval 0");
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let per = r.summary["scenarios"].as_object().unwrap();
    assert!(!per.is_empty() && per.values().all(|n| *n == 1), "{per:?}");
    assert!(per.contains_key("tool_retry") && !per.contains_key("write_paper"), "{per:?}");
    let r = go("run --tags no-such-tag");
    assert_eq!(r.code(), 2, "{}", r.stderr());
    let r = go("--output o3 run --each-once --interval 0");
    let listed = r.summary["scenarios"].as_object().unwrap();
    assert!(listed.len() >= 10 && listed.values().all(|n| *n == 1), "{listed:?}");
}

/// The tenant and prefix seen on the first trace's resource, and its schema_url.
fn resource_of(dir: &Path, out: &str) -> (Option<String>, String, Option<String>) {
    let line = std::fs::read_to_string(dir.join(out).join("traces.jsonl")).unwrap();
    let req: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    let rs = &req["resourceSpans"][0];
    let attrs = &rs["resource"]["attributes"];
    let tenant_key = attrs
        .as_array()
        .unwrap()
        .iter()
        .find_map(|a| a["key"].as_str().filter(|k| k.ends_with(".tenant.id")).map(String::from));
    let tenant = tenant_key.as_deref().and_then(|k| attr(attrs, k));
    (tenant, tenant_key.unwrap_or_default(), rs["schemaUrl"].as_str().map(String::from))
}

#[test]
fn the_python_tools_environment_variables_are_read() {
    let dir = tempdir("py-env");
    let base = ["--seed", "2", "--start-time", START, "--signals", "traces"];
    let go = |out: &str, flags: &[&str], envs: &[(&str, &str)]| {
        let args =
            [&base[..], &["--output", out], flags, &["scenario", "--name", "tool_retry", "-n", "2", "--interval", "0"]]
                .concat();
        let r = run_in(&dir, &args, envs);
        assert_eq!(r.code(), 0, "{}", r.stderr());
        resource_of(&dir, out)
    };
    assert_eq!(go("a", &[], &[("TELEMETRY_SIMULATOR_TENANT_ID", "t-env")]).0.as_deref(), Some("t-env"));
    assert_eq!(go("b", &["--tenant-id", "t-flag"], &[]).0.as_deref(), Some("t-flag"));
    assert_eq!(
        go("b2", &["--tenant-id", "t-flag"], &[("TELEMETRY_TENANT_UUIDS", "t-env")]).0.as_deref(),
        Some("t-flag")
    );
    assert_eq!(go("c", &[], &[("VENDOR", "acme"), ("TENANT_UUID", "x")]).1, "acme.tenant.id");
    assert_eq!(
        go("d", &[], &[("TELEMETRY_SIMULATOR_VENDOR_NAME", "zeta"), ("VENDOR", "acme"), ("TENANT_UUID", "x")]).1,
        "zeta.tenant.id"
    );
    assert_eq!(go("e", &["--vendor", "flagco"], &[("VENDOR", "acme"), ("TENANT_UUID", "x")]).1, "flagco.tenant.id");
    assert_eq!(
        go("f", &[], &[("TELEMETRY_SIMULATOR_ATTR_PREFIX", "ours"), ("VENDOR", "acme"), ("TENANT_UUID", "x")]).1,
        "ours.tenant.id"
    );
    let url = "https://opentelemetry.io/schemas/1.26.0";
    assert_eq!(go("g", &[], &[("TELEMETRY_SIMULATOR_RESOURCE_SCHEMA_URL", url)]).2.as_deref(), Some(url));
    assert_eq!(go("h", &[], &[]).2, None);
    // TENANT_WEIGHTS: a weight of 0 leaves a tenant out.
    let r = run_in(
        &dir,
        &[
            &base[..],
            &["--output", "w", "--tenants", "t0,t1", "scenario", "--name", "tool_retry", "-n", "20", "--interval", "0"],
        ]
        .concat(),
        &[("TENANT_WEIGHTS", "0,1")],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let text = std::fs::read_to_string(dir.join("w/traces.jsonl")).unwrap();
    assert!(text.contains("\"t1\"") && !text.contains("\"t0\""));
    // SEMCONV and --semconv: the schema path.
    std::fs::write(dir.join("sc.yaml"), "groups:\n  - id: span.x\n    type: span\n    attributes:\n      - id: x.y\n        type: string\n        requirement_level: required\n").unwrap();
    let r = run_in(&dir, &["validate", "--show-schema"], &[("SEMCONV", "sc.yaml")]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(
        String::from_utf8_lossy(&r.out.stdout).contains("schema sc.yaml: 1 attributes"),
        "{}",
        String::from_utf8_lossy(&r.out.stdout)
    );
    let r = run_in(&dir, &["--semconv", "sc.yaml", "validate", "--show-schema"], &[]);
    assert!(
        String::from_utf8_lossy(&r.out.stdout).contains("span.x  required: x.y"),
        "{}",
        String::from_utf8_lossy(&r.out.stdout)
    );
}

#[test]
fn validate_shows_span_trees_and_metrics() {
    let r = run(&["--scenarios-dir", &reference(), "validate", "--show-spans", "--show-metrics"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let out = String::from_utf8_lossy(&r.out.stdout).into_owned();
    assert!(out.contains("python1x_reference ("), "{out}");
    assert!(out.contains("    vendor.mcp.tool.execute  [×poisson(1.5) in 1..4, error 0.3, retry up to 3]"), "{out}");
    assert!(out.contains("derived from spans:") && out.contains("gen_ai.client.token.usage"), "{out}");
    let r = run(&["validate", "--show-schema"]);
    assert_eq!(r.code(), 2, "no schema: a usage error");
}

#[test]
fn basic_latency_spikes_are_read_as_its_loader_meant_them() {
    let yaml = "name: s\nroot:\n  type: vendor.a2a.orchestrate\n  latency: {mean_ms: 100, variance: 0.1, spike_rate: 1.0, spike_multiplier: 2}\n";
    let dir = scenario_dir("py-spike", yaml);
    let r = run_scenario(&dir, "s", "1", "200", true);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    for line in std::fs::read_to_string(dir.join("telemetry-out/traces.jsonl")).unwrap().lines() {
        let req: serde_json::Value = serde_json::from_str(line).unwrap();
        for s in req["resourceSpans"][0]["scopeSpans"][0]["spans"].as_array().unwrap() {
            let ns = |k: &str| s[k].as_str().unwrap().parse::<u64>().unwrap();
            let ms = (ns("endTimeUnixNano") - ns("startTimeUnixNano")) as f64 / 1e6;
            assert!((150.0..=201.0).contains(&ms), "every latency is a spike in mean × [1.5, 2]: {ms}");
        }
    }
}
