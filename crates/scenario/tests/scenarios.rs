//! Loading scenarios: built-ins, the Python telemetry-simulator 1.x's file format, located errors, prefix rewriting.

#![allow(clippy::unwrap_used)] // a test fails loudly where its assumption breaks

use tsim_scenario::{AttrSpec, Catalog, CountSpec, Dist, Literal, NumType, TemplatePart, parse_scenario};

#[test]
fn builtins_load_and_example_is_hidden() {
    let cat = Catalog::load(&[], "vendor").unwrap();
    let names: Vec<&str> = cat.listed().map(|s| s.name.as_str()).collect();
    assert_eq!(names[..4], ["successful_agent_turn", "tool_retry", "multi_tool_turn", "agent_handoff_turn"]);
    assert!(cat.listed().take(4).all(|s| s.system == "telemetry-simulator samples"));
    let systems: std::collections::BTreeSet<&str> = cat.listed().map(|s| s.system.as_str()).collect();
    assert_eq!(
        systems.into_iter().collect::<Vec<_>>(),
        ["AgentProxy", "Paper-writing workflow", "TaskPilot", "VOS", "telemetry-simulator samples"]
    );
    assert!(cat.find("example_scenario").is_some());
    let retry = cat.find("tool_retry").unwrap();
    let tool = &retry.root.children[1];
    let r = tool.retry.as_ref().unwrap();
    assert!(r.force_initial_failure);
    assert_eq!(r.success_rate_per_attempt, vec![0.0, 0.75, 0.92]);
    assert_eq!(r.backoff_base_ms, 150.0);
}

/// The Python telemetry-simulator 1.x's scenario file, exactly as written for the Python tool.
const SEED_FILE: &str = r#"
name: my_scenario
description: Description of what this scenario tests

tags:
  - baseline
  - success

repeat_count: 100      # Number of traces to generate
interval_ms: 500       # Delay between traces

emit_metrics: true
emit_logs: true

root:
  type: vendor.a2a.orchestrate
  latency:
    distribution: log_normal
    median_ms: 1500
    sigma: 0.4
  error:
    rate: 0.02
  attributes:
    vendor.turn.status.code: SUCCESS

  children:
    - type: vendor.planner
    - type: rag.retrieve
      probability: 0.3
    - type: vendor.mcp.tool.execute
      count:
        distribution: poisson
        lambda: 2.5
        min: 1
        max: 5
      attributes:
        gen_ai.tool.name:
          distribution: categorical
          values:
            database.query: 0.5
            http.request: 0.3
            file.read: 0.2
        gen_ai.usage.input_tokens:
          distribution: log_normal
          median: 500
          sigma: 0.8
"#;

#[test]
fn seed_format_loads_with_prefix_rewritten() {
    let s = parse_scenario(SEED_FILE, "my.yaml", "gentoro").unwrap();
    assert_eq!(s.name, "my_scenario");
    assert_eq!(s.repeat_count, Some(100));
    assert_eq!(s.interval_ms, Some(500.0));
    assert_eq!(s.root.span_type, "gentoro.a2a.orchestrate");
    assert_eq!(s.root.attributes[0].0, "gentoro.turn.status.code");
    assert_eq!(s.root.children[1].span_type, "rag.retrieve");
    assert_eq!(s.root.children[1].probability, 0.3);
    let tool = &s.root.children[2];
    assert_eq!(tool.span_type, "gentoro.mcp.tool.execute");
    assert_eq!(tool.count, CountSpec::Poisson { lambda: 2.5, min: 1, max: 5 });
    assert!(
        matches!(&tool.attributes[0].1, AttrSpec::Categorical(v) if v.len() == 3 && v[0].0 == Literal::Str("database.query".into()))
    );
    assert!(
        matches!(&tool.attributes[1].1, AttrSpec::Number { dist, as_type: NumType::Int } if matches!(dist.dist, Dist::LogNormal { .. }))
    );
}

fn err(src: &str) -> String {
    parse_scenario(src, "bad.yaml", "vendor").unwrap_err().to_string()
}

#[test]
fn unknown_keys_are_located_with_suggestions() {
    let e = err("name: x\nroot:\n  type: a\n  latncy: 5\n");
    assert!(e.starts_with("bad.yaml:4:3: unknown key `latncy` in span"), "{e}");
    assert!(e.contains("did you mean `latency`?"), "{e}");
    let e = err("name: x\nrepeat_cnt: 3\nroot:\n  type: a\n");
    assert!(e.contains("bad.yaml:2:1: unknown key `repeat_cnt`") && e.contains("`repeat_count`"), "{e}");
}

#[test]
fn wrong_types_and_values_are_located() {
    let e = err("name: x\nroot:\n  type: a\n  probability: 1.5\n");
    assert!(e.contains("bad.yaml:4:16: probability must be between 0 and 1, found 1.5"), "{e}");
    let e = err("name: x\nroot:\n  type: a\n  children:\n    - type: b\n      count: {min: 3, max: 1}\n");
    assert!(e.contains("bad.yaml:6:14: count: min (3) is greater than max (1)"), "{e}");
    let e = err("name: x\nroot:\n  type: a\n  retry: {max_attempts: many}\n");
    assert!(e.contains("max_attempts must be a whole number"), "{e}");
    let e = err("name: x\nroot:\n  children: []\n");
    assert!(e.contains("bad.yaml:3:3: span needs a `type`"), "{e}");
    let e = err("root:\n  type: a\n");
    assert!(e.contains("scenario needs a `name`"), "{e}");
}

#[test]
fn all_errors_are_reported_not_just_the_first() {
    let e = err("name: x\nroot:\n  type: a\n  latncy: 5\n  probabilty: 1\n");
    assert!(e.contains("`latncy`") && e.contains("`probabilty`"), "{e}");
}

#[test]
fn templates_check_their_references() {
    let s = parse_scenario(
        "name: x\nroot:\n  type: a\n  attributes:\n    vendor.a: {distribution: uuid}\n    b: {template: \"id-{vendor.a}-{{x}}-{trace_index}\"}\n",
        "t.yaml",
        "acme",
    )
    .unwrap();
    let AttrSpec::Template(parts) = &s.root.attributes[1].1 else { panic!() };
    assert_eq!(
        parts,
        &vec![
            TemplatePart::Text("id-".into()),
            TemplatePart::Ref("acme.a".into()),
            TemplatePart::Text("-{x}-".into()),
            TemplatePart::Ref("trace_index".into()),
        ]
    );
    let e = err("name: x\nroot:\n  type: a\n  attributes:\n    b: {template: \"{trace_indx}\"}\n");
    assert!(e.contains("did you mean `{trace_index}`?"), "{e}");
}

#[test]
fn folder_scenarios_load_sorted_and_duplicates_are_errors() {
    let dir = std::env::temp_dir().join(format!("tsim-cat-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("b.yaml"), "name: bee\nroot: {type: x}\n").unwrap();
    std::fs::write(dir.join("sub/a.yml"), "name: ay\nroot: {type: x}\n").unwrap();
    std::fs::write(dir.join("notes.txt"), "ignored").unwrap();
    let cat = Catalog::load(std::slice::from_ref(&dir), "vendor").unwrap();
    let names: Vec<&str> = cat.listed().map(|s| s.name.as_str()).collect();
    assert_eq!(names[names.len() - 2..], ["bee", "ay"], "folder scenarios after the built-ins, sorted by path");
    assert_eq!(cat.find("bee").unwrap().system, "custom");
    std::fs::write(dir.join("c.yaml"), "name: bee\nroot: {type: y}\n").unwrap();
    let e = Catalog::load(std::slice::from_ref(&dir), "vendor").unwrap_err().to_string();
    assert!(e.contains("scenario name `bee` is also used by"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
