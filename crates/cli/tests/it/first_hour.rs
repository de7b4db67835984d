//! What a new user meets in the first hour: a replay line that replays, `validate` and
//! `list` output, messages and help that say what to do, and exit codes (2 for every usage
//! error).

use std::process::{Command, Stdio};

use crate::common::*;

fn out_text(o: &std::process::Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn a_default_runs_replay_line_reproduces_its_files() {
    let dir = tempdir("replay");
    let first =
        run_in(&dir, &["--output", "a", "scenario", "--name", "tool_retry", "--count", "20", "--interval", "0"], &[]);
    assert_eq!(first.code(), 0, "{}", first.stderr());
    let err = first.stderr();
    let replay = err.split("(replay: ").nth(1).and_then(|r| r.split(')').next()).expect("a replay line");
    assert_eq!(first.summary["replay"], replay);
    let mut args = words(replay);
    args.extend(["--output", "b", "scenario", "--name", "tool_retry", "--count", "20", "--interval", "0"]);
    let second = run_in(&dir, &args, &[]);
    assert_eq!(second.code(), 0, "{}", second.stderr());
    for f in ["traces.jsonl", "logs.jsonl", "metrics.jsonl"] {
        let (a, b) = (std::fs::read(dir.join("a").join(f)).unwrap(), std::fs::read(dir.join("b").join(f)).unwrap());
        assert!(a == b, "{f} differs between the run and its replay ({replay})");
    }
}

#[test]
fn validate_reports_each_file_sorted_and_an_empty_folder_is_an_error() {
    let dir = tempdir("validate-folder");
    std::fs::write(dir.join("a_good.yaml"), "name: good\nroot: {type: a}\n").unwrap();
    std::fs::write(
        dir.join("b_bad.yaml"),
        "name: bad\nroot:\n  type: a\n  children:\n    - type: b\n      probability: 7\n  latency: {mean_ms: -1}\n",
    )
    .unwrap();
    let out = Command::new(bin()).arg("validate").arg(&dir).output().unwrap();
    let (stdout, stderr) = out_text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout.contains("a_good.yaml (good)"), "the good file is still `ok`: {stdout}");
    assert!(stdout.contains("b_bad.yaml: 2 error(s)"), "{stdout}");
    let (p6, p7) = (stderr.find("b_bad.yaml:6:").unwrap(), stderr.find("b_bad.yaml:7:").unwrap());
    assert!(p6 < p7, "errors in line order: {stderr}");

    let empty = tempdir("validate-empty");
    let out = Command::new(bin()).arg("validate").arg(&empty).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out_text(&out).1.contains("no scenario files (*.yaml, *.yml) here"));
    let out = Command::new(bin()).arg("validate").arg(empty.join("nonexistent")).output().unwrap();
    let (_, stderr) = out_text(&out);
    assert!(stderr.contains("nonexistent: no such file or folder") && !stderr.contains(":1:1"), "{stderr}");
}

#[test]
fn a_scenarios_folder_with_other_yaml_or_a_broken_file() {
    let dir = tempdir("mixed-folder");
    std::fs::write(dir.join("semconv.yaml"), "groups:\n  - id: span.x\n    type: span\n").unwrap();
    std::fs::write(dir.join("mine.yaml"), "name: mine\nroot: {type: a}\n").unwrap();
    let r =
        run_in(&dir, &["--scenarios-dir", ".", "scenario", "--name", "mine", "--count", "2", "--interval", "0"], &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(r.stderr().contains("semconv.yaml: skipped: not a scenario"), "{}", r.stderr());
    // A broken scenario names its file and says what to do.
    std::fs::write(dir.join("broken.yaml"), "name: broken\nroot: {type: a, latncy: 5}\n").unwrap();
    let r = run_in(&dir, &["--scenarios-dir", ".", "scenario", "--name", "tool_retry", "--count", "1"], &[]);
    assert_eq!(r.code(), 1);
    assert!(r.stderr().contains("broken.yaml:2:"), "{}", r.stderr());
    assert!(r.stderr().contains("move it out of the --scenarios-dir folder"), "{}", r.stderr());
}

#[test]
fn a_run_with_fewer_signals_leaves_no_file_of_an_earlier_run() {
    let dir = tempdir("stale");
    let r =
        run_in(&dir, &["--output", "o", "scenario", "--name", "tool_retry", "--count", "2", "--interval", "0"], &[]);
    assert_eq!(r.code(), 0);
    assert!(dir.join("o/logs.jsonl").exists() && dir.join("o/metrics.jsonl").exists());
    let r = run_in(
        &dir,
        &[
            "--output",
            "o",
            "--signals",
            "traces",
            "scenario",
            "--name",
            "tool_retry",
            "--count",
            "2",
            "--interval",
            "0",
        ],
        &[],
    );
    assert_eq!(r.code(), 0);
    assert!(!dir.join("o/logs.jsonl").exists() && !dir.join("o/metrics.jsonl").exists());
    assert!(r.stderr().contains("removed"), "{}", r.stderr());
}

#[test]
fn a_closed_stderr_or_stdout_is_no_crash() {
    let dir = tempdir("closed");
    // stderr closed (as `2>&1 | true` leaves it): the error is still exit 1, not a panic (101).
    let mut child = Command::new(bin())
        .args(["--scenarios-dir", "nonexistent/", "list"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let code = {
        wait_until("exit", || child.try_wait().unwrap().is_some());
        child.wait().unwrap().code()
    };
    assert_eq!(code, Some(1));
    // stdout closed (`| head -1`): `list` ends quietly.
    let mut child = Command::new(bin()).arg("list").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    let out = wait_output(child);
    assert!(out.status.code() == Some(0), "{:?} {}", out.status, out_text(&out).1);
}

#[test]
fn messages_say_what_to_do() {
    let r = run(&["scenario", "--name", "tool_retry", "--rate", "-5"]);
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("`-5`: the rate must be above 0"), "{}", r.stderr());
    let r = run(&["scenario", "--name", "../x.yaml"]);
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("--scenarios-dir DIR"), "{}", r.stderr());
    let dir = tempdir("dupkey");
    std::fs::write(dir.join("d.yaml"), "name: d\nname: e\nroot: {type: a}\n").unwrap();
    let out = Command::new(bin()).arg("validate").arg(&dir).output().unwrap();
    let (_, stderr) = out_text(&out);
    assert!(stderr.contains("duplicate key `name`") && !stderr.contains("DuplicateKeyPolicy"), "{stderr}");
}

#[test]
fn help_puts_the_subcommands_own_options_first_and_shows_no_empty_env() {
    let out = Command::new(bin()).args(["scenario", "--help"]).env_remove("OTEL_SERVICE_NAME").output().unwrap();
    let (help, _) = out_text(&out);
    let own = help.find("--name <NAME>").unwrap();
    let delivery = help.find("Delivery (OTLP, batching, retries):").expect("a heading for the delivery options");
    assert!(own < delivery && help.find("--endpoint").unwrap() > delivery, "{help}");
    assert!(!help.contains("=]"), "an unset variable shows as `NAME=`: {help}");
    assert!(help.contains("[aliases: --start]") || help.contains("[alias: --start]"), "{help}");
}

#[test]
fn list_lines_up_its_columns_and_keeps_whole_descriptions() {
    let out = Command::new(bin()).arg("list").output().unwrap();
    let (text, _) = out_text(&out);
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("  ")).collect();
    assert!(rows.len() >= 10);
    // The description starts where the spaces after the tags end.
    let desc_col = |l: &str| l.find(']').map(|i| i + 1 + l[i + 1..].len() - l[i + 1..].trim_start().len());
    let first = desc_col(rows[0]).unwrap();
    assert!(rows.iter().all(|r| desc_col(r) == Some(first)), "{text}");
    assert!(!text.contains('…'), "descriptions are whole: {text}");
}

#[test]
fn usage_errors_exit_2_everywhere() {
    for args in [
        vec!["--signals", "traces,bogus", "scenario", "--name", "tool_retry"],
        vec!["scenario", "--name", "tool_retry", "--shard", "1/4"],
        vec!["scenario", "--name", "tool_retry", "--shard", "3/2", "--seed", "1"],
        vec!["scenario", "--name", "no_such_scenario"],
        vec!["--app-log", "x.log", "--signals", "traces", "scenario", "--name", "tool_retry"],
        vec!["--linger=5s", "scenario", "--name", "tool_retry"],
        vec!["--no-such-flag", "list"],
    ] {
        let r = run(&args);
        assert_eq!(r.code(), 2, "{args:?}: {}", r.stderr());
    }
}
