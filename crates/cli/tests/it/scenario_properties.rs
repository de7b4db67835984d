//! What `validate` accepts, a run carries out, and what it refuses it locates: built-in
//! scenarios mutated at random (values swapped for numbers out of range, text, lists or maps;
//! lines dropped or repeated) are either accepted by `validate`, and then run to exit 0 with
//! every sink's summary balanced (generated = delivered + the sum of dropped), or refused
//! with an error at `file:line:col`.

use std::path::Path;
use std::process::Command;

use proptest::prelude::*;
use tsim_scenario::BUILTINS;

use crate::common::{START, bin, tempdir};

/// Replacements for a value: out of range, of the wrong type, or odd YAML.
const VALUES: &[&str] =
    &["-1", "0", "-0.5", "99999999999", "1e308", ".nan", ".inf", "\"text\"", "[1, 2]", "{a: 1}", "~", "true"];

/// The scenario's name in every case: the `name:` line is set aside before the edits.
const NAME: &str = "mutated_case";

/// One edit of the lines, chosen by (line, what, value).
fn mutate(lines: &mut Vec<String>, (line, what, value): (usize, u8, usize)) {
    if lines.is_empty() {
        return;
    }
    let i = line % lines.len();
    let v = VALUES[value % VALUES.len()];
    match what % 4 {
        // The value after `key:` (or after `- `) replaced.
        0 | 1 => {
            let l = &lines[i];
            if let Some(p) = l.find(": ") {
                lines[i] = format!("{}: {v}", &l[..p]);
            } else if let Some(p) = l.find("- ") {
                lines[i] = format!("{}- {v}", &l[..p]);
            }
        }
        // A line dropped.
        2 => {
            lines.remove(i);
        }
        // A line repeated (a duplicated key, or a list item twice).
        _ => {
            let l = lines[i].clone();
            lines.insert(i, l);
        }
    }
}

/// A built-in with its top-level `name:` set to [`NAME`] and the edits applied to the rest.
fn mutated(src: &str, edits: &[(usize, u8, usize)]) -> String {
    let mut lines: Vec<String> = src.lines().filter(|l| !l.starts_with("name:")).map(str::to_string).collect();
    for &e in edits {
        mutate(&mut lines, e);
    }
    format!("name: {NAME}\n{}\n", lines.join("\n"))
}

/// Whether a line of `stderr` names `file:line:col:`.
fn located(stderr: &str, file: &str) -> bool {
    stderr.lines().any(|l| {
        let Some(p) = l.find(file) else { return false };
        let mut parts = l[p + file.len()..].splitn(4, ':');
        let num = |s: Option<&str>| s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
        parts.next() == Some("") && num(parts.next()) && num(parts.next()) && parts.next().is_some()
    })
}

/// Validates the scenario as `dir/scenarios/s.yaml`; runs it when accepted and checks its
/// summary. Returns whether `validate` accepted it.
fn check(dir: &Path, text: &str) -> bool {
    let file = dir.join("scenarios/s.yaml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, text).unwrap();
    let v = Command::new(bin()).current_dir(dir).args(["validate", "scenarios/s.yaml"]).output().unwrap();
    let verr = String::from_utf8_lossy(&v.stderr);
    if v.status.code() != Some(0) {
        assert_eq!(v.status.code(), Some(1), "validate: {verr}\n{text}");
        assert!(located(&verr, "scenarios/s.yaml"), "an error without file:line:col: {verr}\n{text}");
        return false;
    }
    let r = Command::new(bin())
        .current_dir(dir)
        .args(["--scenarios-dir", "scenarios", "--output", "out", "--summary-json", "summary.json"])
        .args(["--start-time", START, "scenario", "--name", NAME, "--count", "5", "--interval", "0", "-q"])
        .args(["--seed", "3"])
        .output()
        .unwrap();
    let rerr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(0), "validate accepted it, the run refused it: {rerr}\n{text}");
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let sinks = s["sinks"].as_array().unwrap();
    assert!(!sinks.is_empty(), "{s}");
    for k in sinks {
        let dropped: u64 = k["dropped"].as_object().unwrap().values().map(|n| n.as_u64().unwrap()).sum();
        assert_eq!(k["generated"].as_u64().unwrap(), k["delivered"].as_u64().unwrap() + dropped, "{k}\n{text}");
    }
    true
}

proptest! {
    // Each case starts the binary once or twice: a few dozen cases, none persisted.
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn what_validate_accepts_runs_balanced_and_what_it_refuses_is_located(
        which in 0usize..64,
        edits in proptest::collection::vec((0usize..4096, 0u8..4, 0usize..1024), 1..4),
    ) {
        let (_, src) = BUILTINS[which % BUILTINS.len()];
        let dir = tempdir("prop");
        let _accepted = check(&dir, &mutated(src, &edits));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn every_builtin_unchanged_validates_and_runs_balanced() {
    for (name, src) in BUILTINS {
        let dir = tempdir(&format!("prop-{name}"));
        assert!(check(&dir, &mutated(src, &[])), "{name} renamed is refused");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
