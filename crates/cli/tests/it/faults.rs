//! Faults and bad input, tried as a user would: a full disk, files that validate but could
//! not run, FIFOs and symlink loops, bad endpoints, absurd flag values, a peer that never
//! answers, Ctrl-C against it. Nothing is counted that was not delivered, every run's summary
//! balances, and nothing panics or hangs.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::*;

/// A folder that holds at most `bytes`: a tmpfs when this test may mount one (root), else
/// `None` (the caller then limits the file size of the child instead).
struct SmallDisk {
    dir: std::path::PathBuf,
    mounted: bool,
}

impl SmallDisk {
    fn new(tag: &str, bytes: u64) -> SmallDisk {
        let dir = tempdir(tag);
        let mounted = std::env::var_os("TSIM_TEST_NO_MOUNT").is_none()
            && Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
                .arg(&dir)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        SmallDisk { dir, mounted }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg(&self.dir).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Complete lines of a file, and whether it ends inside a line (a torn line).
fn lines_of(path: &Path) -> (Vec<String>, bool) {
    let text = std::fs::read(path).unwrap_or_default();
    let torn = !text.is_empty() && *text.last().unwrap() != b'\n';
    let s = String::from_utf8_lossy(&text);
    let mut lines: Vec<String> = s.split_terminator('\n').map(str::to_string).collect();
    if torn {
        lines.pop();
    }
    (lines, torn)
}

/// Items in OTLP/JSON request lines: spans, log records or data points.
fn otlp_items(lines: &[String]) -> u64 {
    let mut n = 0;
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:.80}"));
        for (res, scopes, items) in
            [("resourceSpans", "scopeSpans", "spans"), ("resourceLogs", "scopeLogs", "logRecords")]
        {
            for r in v[res].as_array().into_iter().flatten() {
                for s in r[scopes].as_array().into_iter().flatten() {
                    n += s[items].as_array().map_or(0, |a| a.len() as u64);
                }
            }
        }
        for r in v["resourceMetrics"].as_array().into_iter().flatten() {
            for s in r["scopeMetrics"].as_array().into_iter().flatten() {
                for m in s["metrics"].as_array().into_iter().flatten() {
                    for kind in ["sum", "gauge", "histogram"] {
                        n += m[kind]["dataPoints"].as_array().map_or(0, |a| a.len() as u64);
                    }
                }
            }
        }
    }
    n
}

#[test]
fn a_full_disk_is_counted_as_dropped_and_never_leaves_a_torn_line() {
    let disk = SmallDisk::new("full", 256 * 1024);
    let d = &disk.dir;
    let args = [
        "--output",
        "out",
        "--app-log",
        "app.log",
        "--decision-log",
        "decisions.jsonl",
        "--seed",
        "5",
        "--start-time",
        START,
        "scenario",
        "--name",
        "policy_violation",
        "--count",
        "2000",
        "--interval",
        "0",
    ];
    let summary = std::env::temp_dir().join(format!("tsim-full-{}.json", std::process::id()));
    // No tmpfs (not root): the same with a 256 KiB file-size limit on the child, set by
    // util-linux's `prlimit` (the simulator handles SIGXFSZ, so a write past it fails with
    // EFBIG instead of killing it).
    let mut cmd = if disk.mounted {
        Command::new(bin())
    } else {
        let mut c = Command::new("prlimit");
        c.args(["--fsize=262144", "--"]).arg(bin());
        c
    };
    cmd.current_dir(d).args(args).arg("--summary-json").arg(&summary).stderr(Stdio::piped());
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let _ = std::fs::remove_file(&summary);
    let mut any_dropped = false;
    for k in s["sinks"].as_array().unwrap() {
        let name = k["name"].as_str().unwrap();
        let path = d.join(name.split_once(' ').unwrap().1);
        let (lines, torn) = lines_of(&path);
        assert!(!torn, "{name}: a torn last line");
        let on_disk = if name.starts_with("file ") { otlp_items(&lines) } else { lines.len() as u64 };
        assert_eq!(k["delivered"].as_u64().unwrap(), on_disk, "{name}: delivered = what is on disk");
        let dropped: u64 = k["dropped"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
        assert_eq!(k["generated"].as_u64().unwrap(), on_disk + dropped, "{k}");
        for reason in k["dropped"].as_object().unwrap().keys() {
            any_dropped = true;
            let want = if disk.mounted { "No space left on device (os error 28)" } else { "File too large" };
            assert!(reason.starts_with("write error: ") && reason.contains(want), "{name}: {reason}");
        }
    }
    assert!(any_dropped, "256 KiB cannot hold 2,000 traces: {s}");
    assert!(stderr.contains("write error: "), "{stderr}");
}

/// Writes `files` (name, text) into a fresh folder.
fn scenario_dir(tag: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = tempdir(tag);
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

#[test]
fn what_validate_accepts_runs_and_what_would_fail_is_refused_where_it_is_written() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "clamp.yaml",
            "name: clamp\nroot:\n  type: turn\n  latency: {mean_ms: 80, variance: 0.1, min: 99999999999, max: 0}\n",
            "clamp.yaml:4:12: latency: min (99999999999) is greater than max (0)",
        ),
        (
            "wide.yaml",
            "name: wide\nroot:\n  type: turn\n  children:\n    - type: tool\n      count: {min: 1, max: 99999999999}\n",
            "wide.yaml:5:7: a trace may have up to 100000000000 spans, over the budget of 100000",
        ),
        (
            "fixed.yaml",
            "name: fixed\nroot:\n  type: turn\n  children:\n    - type: tool\n      count: 1000000000\n",
            "fixed.yaml:5:7: a trace may have up to 1000000001 spans",
        ),
        (
            "lambda.yaml",
            "name: lambda\nroot:\n  type: turn\n  latency: {distribution: poisson, lambda: 1e300}\n",
            "lambda.yaml:4:44: lambda must be in (0, 1e18], found",
        ),
    ];
    for (file, text, want) in cases {
        let dir = scenario_dir("invalid", &[(file, text)]);
        let r = run(&["validate", dir.to_str().unwrap()]);
        assert_eq!(r.code(), 1, "{file}: {}", r.stderr());
        let e = r.stderr();
        assert!(e.contains(&format!("{}/{want}", dir.display())), "{file}: {e}");
        assert!(!e.contains("panicked"), "{e}");
        // The loader of a run refuses it the same way, before generating anything.
        let r = run(&["--scenarios-dir", dir.to_str().unwrap(), "run", "--count", "5"]);
        assert_eq!(r.code(), 1, "{file}: {}", r.stderr());
        assert!(r.stderr().contains(want), "{file}: {}", r.stderr());
    }
    // Two files with one name: neither is `ok`.
    let twin = "name: twin\nroot:\n  type: turn\n";
    let dir = scenario_dir("twins", &[("a.yaml", twin), ("b.yaml", twin)]);
    let r = run(&["validate", dir.to_str().unwrap()]);
    assert_eq!(r.code(), 1, "{}", r.stderr());
    let out = String::from_utf8_lossy(&r.out.stdout);
    assert!(out.contains("b.yaml: scenario name `twin` is also used by"), "{out}");
    // A budget of its own, and a tree that fits it: validates and runs.
    let ok = "max_spans_per_trace: 500\nname: fits\nroot:\n  type: turn\n  children:\n    - type: tool\n      count: {min: 1, max: 499}\n";
    let dir = scenario_dir("fits", &[("fits.yaml", ok)]);
    let r = run(&["validate", dir.to_str().unwrap()]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let r =
        run_in(&dir, &["--scenarios-dir", ".", "scenario", "--name", "fits", "--count", "5", "--interval", "0"], &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    r.assert_all_delivered();
}

/// Runs the binary; a run past [`PATIENCE`] is a hang.
fn run_bounded(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let child = Command::new(bin())
        .current_dir(cwd)
        .args(args)
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_output(child);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

#[test]
fn fifos_and_symlink_loops_in_a_scenarios_folder_do_not_hang() {
    let dir = scenario_dir("fifo", &[("good.yaml", "name: good\nroot:\n  type: turn\n")]);
    let fifo = dir.join("pipe.yaml");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    std::os::unix::fs::symlink(&dir, dir.join("loop")).unwrap();
    let (code, out, err) = run_bounded(&["validate", dir.to_str().unwrap()], &dir);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("good.yaml (good)"), "{out}");
    assert!(err.contains("pipe.yaml: skipped: not a regular file"), "{err}");
    assert_eq!(err.matches("was read already").count(), 1, "the loop is reported once: {err}");
    let (code, _, err) =
        run_bounded(&["--scenarios-dir", dir.to_str().unwrap(), "scenario", "--name", "good", "--count", "2"], &dir);
    assert_eq!(code, 0, "{err}");
    // Named directly, a FIFO is an error, not a wait.
    let (code, _, err) = run_bounded(&["validate", fifo.to_str().unwrap()], &dir);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("is not a regular file or a folder"), "{err}");
}

#[test]
fn bad_endpoints_are_refused_before_the_run() {
    let dir = tempdir("endpoints");
    for (args, env, want) in [
        (vec!["--endpoint", "ftp://127.0.0.1:21"], None, "--endpoint `ftp://127.0.0.1:21` has scheme `ftp`"),
        (vec!["--endpoint", "::not a url::"], None, "--endpoint `http://::not a url::` has no host"),
        (vec!["--endpoint", "http://"], None, "--endpoint `http://` has no host"),
        (vec!["--remote-write", "localhost:9090"], None, "--remote-write `localhost:9090` has"),
        (vec![], Some(("OTEL_EXPORTER_OTLP_ENDPOINT", "gopher://x")), "OTEL_EXPORTER_OTLP_ENDPOINT `gopher://x"),
    ] {
        let mut cmd = Command::new(bin());
        cmd.current_dir(&dir).args(&args).args(["scenario", "--name", "tool_retry", "--count", "3"]);
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "a usage error: {args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn absurd_numbers_are_usage_errors_with_the_range() {
    for (flag, value, want) in [
        ("--queue-size", "2305843009213693952", "1 to 65536"),
        ("--threads", "100000", "1 to 256"),
        ("--batch-size", "0", "1 to 1000000"),
        ("--max-in-flight", "0", "1 to 256"),
        ("--es-bulk-max-docs", "0", "1 to 100000"),
        ("--timeout", "0", "1 to 3600000"),
        ("--shutdown-timeout", "2h", "over the limit of 3600 s"),
        ("--retry-max-elapsed", "2d", "over the limit of 86400 s"),
    ] {
        let r = run(&[flag, value, "scenario", "--name", "tool_retry", "--count", "1"]);
        assert_eq!(r.code(), 2, "{flag} {value}: {}", r.stderr());
        assert!(r.stderr().contains(want), "{flag} {value}: {}", r.stderr());
    }
    let r = run_in(
        &std::env::temp_dir(),
        &["scenario", "--name", "tool_retry"],
        &[("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "0")],
    );
    assert_eq!(r.code(), 2, "{}", r.stderr());
    for t in ["9999-12-31T00:00:00Z", "5000-01-01T00:00:00Z", "1969-12-31T23:59:59Z"] {
        let r = run(&["--start-time", t, "scenario", "--name", "tool_retry", "--count", "1"]);
        assert_eq!(r.code(), 2, "{}", r.stderr());
        assert!(r.stderr().contains("between 1970-01-01T00:00:00Z and 2262-04-11T23:47:16Z"), "{}", r.stderr());
    }
    let r = run(&["--tenants", "a,b", "--tenant-weights=-1,1", "scenario", "--name", "tool_retry", "--count", "1"]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(r.stderr().contains("tenant weights must be numbers >= 0"), "{}", r.stderr());
    let r = run(&["--start-time", "yesterday", "scenario", "--name", "tool_retry", "--count", "1"]);
    assert!(r.stderr().contains("`yesterday` is not an RFC 3339 time"), "{}", r.stderr());
    assert!(!r.stderr().contains("four digit"), "{}", r.stderr());
}

/// A peer that accepts connections and reads, but never answers. Counts connections.
struct SilentPeer {
    port: u16,
    accepted: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl SilentPeer {
    fn start() -> SilentPeer {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let n = accepted.clone();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                std::thread::spawn(move || {
                    let mut s = s;
                    let mut buf = [0u8; 65536];
                    while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
                });
            }
        });
        SilentPeer { port, accepted }
    }

    fn wait_for_a_connection(&self) {
        wait_until("a connection", || self.accepted.load(std::sync::atomic::Ordering::SeqCst) > 0);
    }
}

#[test]
fn an_unanswered_request_is_dropped_as_outcome_unknown() {
    let peer = SilentPeer::start();
    let url = format!("http://127.0.0.1:{}", peer.port);
    let r = run(&[
        "--endpoint",
        &url,
        "--signals",
        "traces",
        "--timeout",
        "300",
        "--retry-max-elapsed",
        "1s",
        "scenario",
        "--name",
        "tool_retry",
        "--count",
        "5",
        "--interval",
        "0",
    ]);
    assert_eq!(r.code(), 3, "{}", r.stderr());
    r.assert_balanced();
    let k = r.sink("otlp-http");
    assert_eq!(k["dropped"]["timeout (outcome unknown)"], k["generated"], "{k}");
    assert!(r.stderr().contains("timeout (outcome unknown)"), "{}", r.stderr());
}

/// Spawns a paced run against `url`, its stderr read line by line into a channel.
fn spawn_against(
    url: &str,
    extra: &[&str],
    summary: &Path,
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(bin())
        .args(["--endpoint", url, "--protocol", "grpc", "--signals", "traces", "--retry-max-elapsed", "10m"])
        .args(extra)
        .args(["--summary-json"])
        .arg(summary)
        .args(["scenario", "--name", "tool_retry", "--count", "1000000", "--rate", "200"])
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

fn read_summary(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("summary written")).unwrap()
}

fn assert_shutdown_balanced(s: &serde_json::Value) {
    assert_eq!(s["interrupted"], true);
    let k = &s["sinks"][0];
    let dropped: u64 = k["dropped"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(k["generated"].as_u64().unwrap(), k["delivered"].as_u64().unwrap() + dropped, "{k}");
    assert!(k["dropped"]["shutdown (outcome unknown)"].as_u64().unwrap() > 0, "{k}");
}

/// A paced run against a peer that never answers, interrupted once it has connected:
/// (the peer, the summary's path, the child, its stderr lines).
fn interrupted_against_a_silent_peer(
    grace: &str,
) -> (SilentPeer, std::path::PathBuf, std::process::Child, std::sync::mpsc::Receiver<String>) {
    let peer = SilentPeer::start();
    let summary = tempdir("grace").join("s.json");
    let url = format!("http://127.0.0.1:{}", peer.port);
    let (child, lines) = spawn_against(&url, &["--shutdown-timeout", grace], &summary);
    peer.wait_for_a_connection();
    interrupt(&child);
    (peer, summary, child, lines)
}

#[test]
fn ctrl_c_against_a_peer_that_never_answers_ends_after_the_grace_with_a_summary() {
    let (_peer, summary, child, _lines) = interrupted_against_a_silent_peer("1s");
    assert_eq!(wait_output(child).status.code(), Some(130));
    assert_shutdown_balanced(&read_summary(&summary));
}

#[test]
fn a_second_ctrl_c_ends_the_grace_and_still_writes_the_summary() {
    let (_peer, summary, child, lines) = interrupted_against_a_silent_peer("1h");
    // The second only once the first was taken (the message says so).
    while !lines.recv_timeout(PATIENCE).expect("the interrupt message").contains("interrupted: generation stopped") {}
    interrupt(&child);
    assert_eq!(wait_output(child).status.code(), Some(130));
    assert_shutdown_balanced(&read_summary(&summary));
}

#[test]
fn a_past_start_shows_no_achieved_rate() {
    let r = run(&["--start-time", START, "scenario", "--name", "tool_retry", "--count", "300", "--rate", "50"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(!r.stderr().contains("rate: target"), "all of it was caught up, none paced: {}", r.stderr());
    assert_eq!(r.summary["rate"]["target_traces_per_second"], serde_json::Value::Null);
    assert!(r.summary["generation_seconds"].as_f64().unwrap() <= r.summary["elapsed_seconds"].as_f64().unwrap());
}

#[test]
fn a_start_in_the_future_says_the_run_will_wait() {
    let start = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1)).to_string();
    let mut child = Command::new(bin())
        .args(["--discard", "--start-time", &start, "scenario", "--name", "tool_retry", "--count", "1", "--rate", "1"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = child.stderr.take().unwrap();
    let mut lines = BufReader::new(err).lines();
    let note = lines.next().expect("a note").unwrap();
    assert!(
        note.starts_with("note: the start (") && note.contains("s from now; the first trace waits until then"),
        "{note}"
    );
    let _ = child.kill();
    let _ = child.wait();
}
