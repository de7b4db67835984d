//! The built-in scenarios of the modelled systems: every one validates and runs; the TaskPilot
//! demos reproduce the TaskPilot guide's numbers, read from the emitted telemetry (decoded by the
//! OpenTelemetry Python classes, scraped by a real Prometheus); semantic-convention schemas
//! (v1 and v2) check scenarios and fill in required attributes.

use std::collections::{HashMap, HashSet};
use std::process::{Command, Stdio};

use crate::common::*;
use serde_json::Value;

/// The decoded spans of a run's traces file (rows: trace, span, parent, name, status, kind,
/// attributes, service.name).
fn spans(dir: &std::path::Path) -> Vec<Value> {
    decode_json_file(&dir.join("traces.jsonl"))["span_list"].as_array().unwrap().clone()
}

fn logs(dir: &std::path::Path) -> Vec<Value> {
    decode_json_file(&dir.join("logs.jsonl"))["logs"].as_array().unwrap().clone()
}

fn json_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

#[test]
fn every_builtin_validates_and_runs_with_its_files() {
    let r = run(&["validate"]);
    assert_eq!(r.code(), 0, "{}{}", String::from_utf8_lossy(&r.out.stdout), r.stderr());
    let listed = String::from_utf8_lossy(&r.out.stdout).to_string();
    let names = [
        "taskpilot_workflow",
        "cost_optimization",
        "performance_bottleneck",
        "policy_violation",
        "error_pattern",
        "agentproxy_task",
        "write_paper",
        "vos_event_flow",
        "successful_agent_turn",
        "tool_retry",
        "multi_tool_turn",
        "agent_handoff_turn",
        "example_scenario",
    ];
    for n in names {
        assert!(listed.contains(&format!("({n})")), "{n} not validated: {listed}");
    }
    let list = String::from_utf8_lossy(&run(&["list"]).out.stdout).to_string();
    for system in ["TaskPilot", "AgentProxy", "Paper-writing workflow", "VOS", "telemetry-simulator samples"] {
        assert!(list.lines().any(|l| l == system), "`list` groups by {system}: {list}");
    }

    let dir = tempdir("builtins");
    for n in names {
        let out = dir.join(n);
        let args = format!(
            "--output {0} --app-log {0}/app.log --decision-log {0}/decisions.jsonl --artifact-log {0}/artifacts.jsonl \
             scenario --name {n} --count 25 --interval 0 -q --seed 3",
            out.display()
        );
        let r = run_in(&dir, &words(&args), &[]);
        assert_eq!(r.code(), 0, "{n}: {}", r.stderr());
        r.assert_all_delivered();
        let decoded = decode_json_file(&out.join("traces.jsonl"));
        assert_eq!(decoded["traces"], 25, "{n}");
        let sp = spans_of(&decoded);
        assert_links(&sp);
        assert_logs_correlate(&logs_of(&decode_json_file(&out.join("logs.jsonl"))), &sp);
        for line in json_lines(&out.join("app.log")) {
            assert!(line["timestamp"].is_string() && line["level"].is_string() && line["message"].is_string(), "{n}");
        }
    }
}

#[test]
fn seed_systems_carry_their_names_resources_and_records() {
    let dir = tempdir("systems");
    let go = |n: &str, extra: &str| {
        let args = format!("{extra} --output {n} scenario --name {n} --count 30 --interval 0 -q --seed 11");
        let r = run_in(&dir, &words(&args), &[]);
        assert_eq!(r.code(), 0, "{n}: {}", r.stderr());
        dir.join(n)
    };

    // TaskPilot: the guide's span names, attributes and resource.
    let tp = spans(&go("taskpilot_workflow", ""));
    let names: HashSet<&str> = tp.iter().map(|s| s[3].as_str().unwrap()).collect();
    for n in ["taskpilot.workflow.run", "taskpilot.agent.PlannerAgent.run", "taskpilot.agent.ExecutorAgent.run"] {
        assert!(names.contains(n), "{n}: {names:?}");
    }
    assert!(names.contains("taskpilot.tool.create_task.call") && names.iter().any(|n| n.starts_with("chat gpt-4o")));
    for s in &tp {
        assert_eq!(s[7], "taskpilot");
        let uuid = s[6]["request.id"].as_str().unwrap().replace('-', "");
        assert_eq!(uuid, s[0].as_str().unwrap(), "request.id is the trace id as a UUID");
    }
    let root = tp.iter().find(|s| s[3] == "taskpilot.workflow.run").unwrap();
    assert!(["true", "false"].contains(&root[6]["workflow.success"].as_str().unwrap()));
    let chat = tp.iter().find(|s| s[3].as_str().unwrap().starts_with("chat ")).unwrap();
    assert_eq!(chat[5], 3, "chat spans are CLIENT spans");
    assert_eq!(chat[3].as_str().unwrap(), format!("chat {}", chat[6]["gen_ai.request.model"].as_str().unwrap()));

    // AgentProxy: resource and span tree.
    let ap = spans(&go("agentproxy_task", ""));
    let names: HashSet<&str> = ap.iter().map(|s| s[3].as_str().unwrap()).collect();
    for n in ["pa.run_task", "pa.reasoning_loop", "gemini.api.call", "claude.subprocess", "pa.function.verify"] {
        assert!(names.contains(n), "{n}: {names:?}");
    }
    assert!(ap.iter().all(|s| s[7] == "agentproxy"));
    let decoded = decode_json_file(&dir.join("agentproxy_task/traces.jsonl"));
    assert!(decoded["lines"].as_u64().unwrap() >= 1);
    let raw = std::fs::read_to_string(dir.join("agentproxy_task/traces.jsonl")).unwrap();
    assert!(raw.contains(r#"{"key":"service.namespace","value":{"stringValue":"dev"}}"#));

    // Paper-writing: ids on every span and log record, one artifact diff per drafted section.
    let out = go("write_paper", "--artifact-log write_paper/artifact_diffs.jsonl");
    let wp = spans(&out);
    for s in &wp {
        for k in ["run.id", "session.id", "workflow.id"] {
            assert!(s[6][k].is_string(), "{k} on {}", s[3]);
        }
    }
    for l in logs(&out) {
        assert!(l[4]["run.id"].as_str().unwrap().starts_with("run-"), "{l}");
    }
    let drafts = wp.iter().filter(|s| s[3] == "invoke_agent section-drafter").count();
    let outlines = wp.iter().filter(|s| s[3] == "invoke_agent paper-architect").count();
    let diffs = json_lines(&out.join("artifact_diffs.jsonl"));
    assert_eq!(diffs.len(), drafts + outlines);
    let by_span: HashMap<&str, &Value> = wp.iter().map(|s| (s[1].as_str().unwrap(), s)).collect();
    for d in &diffs {
        let span = by_span[d["spanId"].as_str().unwrap()];
        assert_eq!(d["runId"], span[6]["run.id"]);
        assert!(["pending", "approved", "rejected"].contains(&d["review"]["status"].as_str().unwrap()));
        let (a, r) = (d["diff"]["addedLines"].as_i64().unwrap(), d["diff"]["removedLines"].as_i64().unwrap());
        assert_eq!(d["diff"]["summary"], format!("+{a} lines, -{r} lines"));
        assert!(d["changes"]["currentHash"].as_str().unwrap().starts_with("sha256:"));
    }

    // VOS: producer and consumer spans in one trace; a correlation id everywhere.
    let out = go("vos_event_flow", "--openinference");
    let vos = spans(&out);
    let mut per_trace: HashMap<&str, Vec<i64>> = HashMap::new();
    for s in &vos {
        per_trace.entry(s[0].as_str().unwrap()).or_default().push(s[5].as_i64().unwrap());
        assert!(s[6]["correlation_id"].is_string(), "correlation_id on {}", s[3]);
    }
    for kinds in per_trace.values() {
        assert!(kinds.contains(&4) && kinds.contains(&5), "producer (4) and consumer (5) in one trace: {kinds:?}");
    }
    for l in logs(&out) {
        assert!(l[4]["correlation_id"].is_string());
    }
    let chat = vos.iter().find(|s| s[3].as_str().unwrap().starts_with("chat ")).unwrap();
    assert_eq!(chat[6]["openinference.span.kind"], "LLM");
    assert_eq!(chat[6]["llm.model_name"], chat[6]["gen_ai.request.model"]);
    let tool = vos.iter().find(|s| s[3].as_str().unwrap().starts_with("execute_tool ")).unwrap();
    assert_eq!(tool[6]["openinference.span.kind"], "TOOL");
}

/// Starts the four demos, each serving /metrics, and a Prometheus scraping them.
#[test]
fn taskpilot_demos_reproduce_the_seed_numbers() {
    let demos = ["cost_optimization", "performance_bottleneck", "policy_violation", "error_pattern"];
    let ports: Vec<u16> = demos.iter().map(|_| free_port()).collect();
    let prom = Prometheus::start(&ports, &[]);
    let dir = tempdir("demos");
    let mut sims = Vec::new();
    for (d, port) in demos.iter().zip(&ports) {
        let args = format!(
            "--prometheus-listen 127.0.0.1:{port} --linger --output {d} --app-log {d}/taskpilot.log \
             --decision-log {d}/decision_logs.jsonl --summary-json {d}.json scenario --name {d} --interval 0 -q --seed 21"
        );
        sims.push(Command::new(bin()).current_dir(&dir).args(words(&args)).stderr(Stdio::null()).spawn().unwrap());
    }
    // /metrics as a real Prometheus scrapes it while the runs linger, under the guide's names.
    for (q, want) in [
        ("llm_cost_model_gpt_4o", 5.0),
        ("llm_cost_model_gpt_4o_mini", 1.0),
        ("llm_tokens_total_gpt_4o", 50_000.0),
        ("llm_tokens_total_gpt_4o_mini", 50_000.0),
        ("workflow_runs", 100.0),
        (r#"sum(llm_cost_total{gen_ai_request_model="gpt-4o"})"#, 5.0),
        ("policy_violations_total", 15.0),
        ("tool_create_task_errors", 20.0),
        ("agent_ExecutorAgent_errors", 10.0),
        ("agent_PlannerAgent_errors", 25.0),
        (r#"errors_total{error_code="TOOL_TIMEOUT"}"#, 20.0),
    ] {
        assert_eq!(prom.wait_for(q, want), Some(want), "{q}");
    }
    for (q, want) in [("agent_PlannerAgent_latency_ms_p95", 500.0), ("agent_ExecutorAgent_latency_ms_p95", 5000.0)] {
        let mut got = None;
        wait_until(&format!("{q} to be scraped"), || {
            got = prom.query(q);
            got.is_some()
        });
        let v = got.unwrap();
        assert!((v - want).abs() / want < 0.05, "{q} = {v}, want ≈ {want}");
    }
    // The runs linger until Ctrl-C, then end with their files complete.
    for s in sims {
        interrupt(&s);
        let out = wait_output(s);
        assert_eq!(out.status.code(), Some(0), "a finished run stopped while lingering");
    }
    assert!(demos.iter().all(|d| dir.join(format!("{d}.json")).exists()));

    // The files, decoded by the OpenTelemetry Python classes.
    let cost = spans(&dir.join("cost_optimization"));
    let chats = |model: &str| cost.iter().filter(|s| s[3] == format!("chat {model}")).count();
    assert_eq!((chats("gpt-4o"), chats("gpt-4o-mini")), (50, 50));
    let tokens: i64 = cost
        .iter()
        .filter(|s| s[3] == "chat gpt-4o")
        .map(|s| {
            s[6]["gen_ai.usage.input_tokens"].as_i64().unwrap() + s[6]["gen_ai.usage.output_tokens"].as_i64().unwrap()
        })
        .sum();
    assert_eq!(tokens, 50_000);
    assert_eq!(json_lines(&dir.join("cost_optimization/taskpilot.log")).len(), 100);

    let perf = spans(&dir.join("performance_bottleneck"));
    assert_eq!(perf.iter().filter(|s| s[3] == "taskpilot.workflow.run").count(), 20);
    let perf_log = json_lines(&dir.join("performance_bottleneck/taskpilot.log"));
    assert_eq!(perf_log.iter().filter(|l| l["level"] == "ERROR" && l["error_code"] == "TOOL_TIMEOUT").count(), 20);

    let decisions = json_lines(&dir.join("policy_violation/decision_logs.jsonl"));
    let count = |ty: &str| decisions.iter().filter(|d| d["decision_type"] == ty && d["result"] == "deny").count();
    assert_eq!((decisions.len(), count("tool_call"), count("opa")), (15, 10, 5));
    let pv_log = json_lines(&dir.join("policy_violation/taskpilot.log"));
    assert_eq!(pv_log.iter().filter(|l| l["log_type"] == "policy_decision").count(), 15);
    assert!(pv_log.iter().filter(|l| l["level"] == "ERROR").all(|l| l["error_code"] == "POLICY_VIOLATION"));
    assert_eq!(pv_log.iter().filter(|l| l["level"] == "ERROR").count(), 15);

    let errs = spans(&dir.join("error_pattern"));
    let error_traces: HashSet<&str> = errs.iter().filter(|s| s[4] == 2).map(|s| s[0].as_str().unwrap()).collect();
    assert_eq!(error_traces.len(), 35);
    let ep_log = json_lines(&dir.join("error_pattern/taskpilot.log"));
    let by_code = |c: &str| ep_log.iter().filter(|l| l["level"] == "ERROR" && l["error_code"] == c).count();
    assert_eq!((by_code("TOOL_TIMEOUT"), by_code("TOOL_EXECUTION_ERROR"), by_code("POLICY_VIOLATION")), (20, 10, 5));
    assert_eq!(ep_log.iter().filter(|l| l["level"] == "ERROR").count(), 35);
}

#[test]
fn schemas_check_scenarios_and_fill_required_attributes() {
    let dir = tempdir("schema");
    let v1 = "groups:
  - id: registry.demo
    type: attribute_group
    attributes:
      - id: gen_ai.operation.name
        type:
          members:
            - {id: chat, value: chat}
            - {id: execute_tool, value: execute_tool}
            - {id: invoke_agent, value: invoke_agent}
      - id: gen_ai.provider.name
        type: string
        examples: [openai]
      - id: gen_ai.usage.input_tokens
        type: int
  - id: span.demo.chat
    type: span
    extends: registry.demo
    attributes:
      - ref: gen_ai.operation.name
        requirement_level: required
      - ref: gen_ai.provider.name
        requirement_level: required
";
    let v2 = "file_format: definition/2
attributes:
  - key: gen_ai.operation.name
    type: string
  - key: gen_ai.provider.name
    type: string
    examples: [openai]
  - key: gen_ai.usage.input_tokens
    type: int
spans:
  - type: demo.chat
    kind: client
    attributes:
      - ref: gen_ai.operation.name
        requirement_level: required
      - ref: gen_ai.provider.name
        requirement_level: required
";
    std::fs::write(dir.join("v1.yaml"), v1).unwrap();
    std::fs::write(dir.join("v2.yaml"), v2).unwrap();
    std::fs::create_dir_all(dir.join("bad")).unwrap();
    std::fs::write(
        dir.join("bad/s.yaml"),
        "name: bad\nroot:\n  type: root\n  children:\n    - type: demo.chat\n      attributes:\n        \
         gen_ai.operation.name: chatter\n        gen_ai.usage.input_tokens: lots\n        gen_ai.request.modle: x\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("good")).unwrap();
    std::fs::write(
        dir.join("good/s.yaml"),
        "name: good\nroot:\n  type: root\n  children:\n    - type: demo.chat\n      attributes:\n        \
         gen_ai.operation.name: chat\n",
    )
    .unwrap();

    for schema in ["v1.yaml", "v2.yaml"] {
        let r = run_in(&dir, &["--schema-path", schema, "validate", "bad"], &[]);
        assert_eq!(r.code(), 1, "{schema}");
        let err = r.stderr();
        if schema == "v1.yaml" {
            assert!(
                err.contains("bad/s.yaml:7:9: attribute `gen_ai.operation.name`: `chatter` is not one of"),
                "{err}"
            );
        }
        assert!(
            err.contains("bad/s.yaml:8:9: attribute `gen_ai.usage.input_tokens`: the schema's type is int"),
            "{err}"
        );
        assert!(
            err.contains("warning: ")
                && err.contains("bad/s.yaml:9:9: attribute `gen_ai.request.modle` is not defined")
        );
        assert!(err.contains("bad/s.yaml:5:1: span `demo.chat` lacks `gen_ai.provider.name`"), "{err}");

        // The environment variable works as the flag does; validate reports the missing one, a run fills it.
        let r = run_in(&dir, &["validate", "good"], &[("TELEMETRY_SIMULATOR_SCHEMA_PATH", schema)]);
        assert_eq!(r.code(), 1, "required attribute missing: {}", r.stderr());
        let out = format!("out-{schema}");
        let r = run_in(
            &dir,
            &["--scenarios-dir", "good", "--output", &out, "scenario", "--name", "good", "--count", "5", "-q"],
            &[("TELEMETRY_SIMULATOR_SCHEMA_PATH", schema)],
        );
        assert_eq!(r.code(), 0, "{}", r.stderr());
        let sp = spans(&dir.join(&out));
        let chat: Vec<&Value> = sp.iter().filter(|s| s[3] == "demo.chat").collect();
        assert_eq!(chat.len(), 5);
        assert!(chat.iter().all(|s| s[6]["gen_ai.provider.name"] == "openai"), "filled from the example");
    }
    // Every built-in passes a GenAI schema in which chat spans need an operation and a provider.
    let r = run_in(&dir, &["--schema-path", "v1.yaml", "validate"], &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
}
