//! Outputs pinned byte for byte: every built-in scenario, and the mixed run, with a fixed
//! seed and start time, into every file format (OTLP/JSON lines, the application, decision
//! and artifact logs, OpenMetrics) and as the OTLP protobuf requests themselves (the frames
//! `verify` reads); their SHA-256 must stay those in `tests/golden/outputs.sha256`. A change
//! that moves code keeps them; a change that means to alter output rewrites the file with
//! `GOLDEN_UPDATE=1` and says why in its commit.
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::common::{bin, repo, tempdir};
use sha2::{Digest, Sha256};

/// The built-in scenarios, as `list` names them.
fn builtins() -> Vec<String> {
    let out = Command::new(bin()).arg("list").output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Every file under `dir`, by path relative to it, with its digest.
fn digests(dir: &Path, into: &mut BTreeMap<String, String>, tag: &str) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                into.insert(format!("{tag} {rel}"), hex(&std::fs::read(&p).unwrap()));
            }
        }
    }
}

/// The flags that shape the data, then the command and its own.
fn common_flags(command: &[&str]) -> Vec<String> {
    let mut v: Vec<String> =
        ["--seed", "7", "--start-time", "2026-11-14T00:00:00Z", "--quiet"].iter().map(|s| s.to_string()).collect();
    v.extend(command.iter().map(|s| s.to_string()));
    v
}

/// What one command writes: its files, and its OTLP requests as frames.
fn outputs(tag: &str, command: &[&str], into: &mut BTreeMap<String, String>) {
    let dir = tempdir("golden");
    let files = Command::new(bin())
        .current_dir(&dir)
        .args(["--output", "out", "--app-log", "out/app.log", "--decision-log", "out/decisions.log"])
        .args(["--artifact-log", "out/artifacts.log", "--openmetrics", "out/metrics.om"])
        .args(common_flags(command))
        .output()
        .unwrap();
    assert!(files.status.success(), "{tag}: {}", String::from_utf8_lossy(&files.stderr));
    digests(&dir.join("out"), into, tag);
    let frames =
        Command::new(bin()).current_dir(&dir).arg("--verify-frames").args(common_flags(command)).output().unwrap();
    assert!(frames.status.success(), "{tag} frames: {}", String::from_utf8_lossy(&frames.stderr));
    assert!(!frames.stdout.is_empty(), "{tag}: no frames");
    // Frames: signal (0 traces, 1 logs, 2 metrics), length (u32 LE), an Export*ServiceRequest.
    // The signals' sinks interleave their frames as they run; each signal's are in order.
    let mut per: [Vec<u8>; 3] = Default::default();
    let mut at = 0;
    while at < frames.stdout.len() {
        let b = &frames.stdout[at..];
        let len = u32::from_le_bytes([b[1], b[2], b[3], b[4]]) as usize;
        per[b[0] as usize].extend_from_slice(&b[5..5 + len]);
        at += 5 + len;
    }
    for (signal, bytes) in ["traces", "logs", "metrics"].iter().zip(&per) {
        into.insert(format!("{tag} otlp-protobuf {signal}"), hex(bytes));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_output_is_byte_identical_to_the_recorded_one() {
    let mut got = BTreeMap::new();
    for name in builtins() {
        outputs(&name, &["scenario", "--name", &name, "--count", "25"], &mut got);
    }
    outputs("mixed", &["run", "--count", "300"], &mut got);
    let text: String = got.iter().map(|(k, v)| format!("{v}  {k}\n")).collect();
    let path = repo().join("crates/cli/tests/golden/outputs.sha256");
    if std::env::var_os("GOLDEN_UPDATE").is_some() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    let differ: Vec<&str> = text.lines().filter(|l| !want.lines().any(|w| w == *l)).collect();
    let gone: Vec<&str> = want.lines().filter(|w| !text.lines().any(|l| l == *w)).collect();
    assert!(
        differ.is_empty() && gone.is_empty(),
        "outputs changed (GOLDEN_UPDATE=1 records them, when that is meant):\nnow:\n{}\nrecorded:\n{}",
        differ.join("\n"),
        gone.join("\n")
    );
}
