//! Readers see what the receiver acknowledged: `verify` and `report` started the moment the
//! sender exits — with the receiver still running, its log not yet converted (the default
//! flush interval), and after it was SIGKILLed before converting — find every item.
use std::path::Path;

use crate::common::{OurReceiver, START, free_port, json_of, run, tempdir};
use crate::verify::verify;

/// A small mixed run (every signal) into `url` by `protocol`, its manifest at `manifest`.
fn send(url: &str, protocol: &str, manifest: &Path, run_id: &str, seed: &str) {
    let m = manifest.to_str().unwrap();
    let sent = run(&[
        "--endpoint",
        url,
        "--protocol",
        protocol,
        "--manifest",
        m,
        "--run-id",
        run_id,
        "--seed",
        seed,
        "--start-time",
        START,
        "-q",
        "run",
        "--count",
        "40",
    ]);
    assert_eq!(sent.code(), 0, "{}", sent.stderr());
    sent.assert_all_delivered();
}

/// `verify` of `manifest` over `store`: identical, with every item of the run delivered.
fn assert_verifies(manifest: &Path, store: &Path, what: &str) {
    let (code, v) = verify(manifest, store);
    assert_eq!((code, &v["verdict"]), (0, &serde_json::json!("identical")), "{what}: {v}");
    for signal in ["traces", "logs", "metrics"] {
        let s = &v["signals"][signal];
        assert!(s["expected"].as_u64().unwrap() > 0, "{what}: {v}");
        assert_eq!(s["delivered"], s["expected"], "{what} {signal}: {v}");
    }
}

/// The runs `report summary` counts in `store`.
fn runs_in(store: &Path) -> u64 {
    let (code, v) = json_of(&["report", "summary", "--store", store.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{v}");
    v["dailySummary"]["overview"]["totalRuns"].as_u64().unwrap()
}

#[test]
fn verify_and_report_see_every_acknowledged_item_the_moment_the_sender_exits() {
    let dir = tempdir("fresh");
    let store = dir.join("store");
    let (grpc, http) = (free_port(), free_port());
    // The default flush interval (10 s): the log is converted long after each reader ran.
    let r = OurReceiver::start_with(&store, grpc, http, &[], &[]);
    let mut roots = 0;
    for i in 0..20 {
        let (url, protocol) = if i % 2 == 0 {
            (format!("http://127.0.0.1:{grpc}"), "grpc")
        } else {
            (format!("http://127.0.0.1:{http}"), "http/protobuf")
        };
        let manifest = dir.join(format!("run-{i}.json"));
        send(&url, protocol, &manifest, &format!("fresh-{i}"), &(100 + i).to_string());
        assert_verifies(&manifest, &store, &format!("run {i} over {protocol}"));
        roots += 40;
        assert_eq!(runs_in(&store), roots, "run {i}: the summary counts every run acknowledged so far");
    }
    let said = r.stop();
    assert!(said.status.success(), "{}", String::from_utf8_lossy(&said.stderr));
    // Converted now: the same answers from the Parquet files alone.
    assert!(
        !std::fs::read_dir(store.join("wal")).unwrap().any(|e| e
            .unwrap()
            .path()
            .extension()
            .is_some_and(|x| x == "wal"))
    );
    assert_verifies(&dir.join("run-19.json"), &store, "after the receiver stopped");
    assert_eq!(runs_in(&store), roots);

    // SIGKILL right after the sender exits: nothing converted, everything seen.
    for protocol in ["grpc", "http/protobuf"] {
        let store = dir.join(format!("killed-{}", protocol.replace('/', "-")));
        let (grpc, http) = (free_port(), free_port());
        let r = OurReceiver::start_with(&store, grpc, http, &["--flush-interval", "1h"], &[]);
        let port = if protocol == "grpc" { grpc } else { http };
        let manifest = dir.join(format!("killed-{}.json", protocol.replace('/', "-")));
        send(&format!("http://127.0.0.1:{port}"), protocol, &manifest, "killed", "7");
        r.kill();
        assert_verifies(&manifest, &store, &format!("after SIGKILL ({protocol})"));
        assert_eq!(runs_in(&store), 40, "after SIGKILL ({protocol})");
        // Readers leave the log as it was: the next receiver converts it.
        assert!(
            std::fs::read_dir(store.join("wal")).unwrap().any(|e| e
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "wal"))
        );
    }
}
