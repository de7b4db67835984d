//! The OTLP receiver: what it acknowledges is stored, exactly once, whoever sends it (the
//! simulator over every protocol, the OpenTelemetry Python SDK), bad input gets the status a
//! collector gives and changes nothing, and a SIGKILL at any moment loses nothing that was
//! acknowledged. The store is read back by DuckDB, not by our code.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::{OurReceiver, START, bin, free_port, python, repo, sim, tempdir, wait_until};

type SpanRow = (String, String, String, String, u64, u64, String);

/// The spans of a store, read with DuckDB, and how many were stored more than once.
fn stored(store: &Path) -> (Vec<SpanRow>, u64) {
    let out = Command::new(python()).arg(repo().join("tests/peers/store_spans.py")).arg(store).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = v["spans"].as_array().unwrap().iter().map(row).collect();
    (rows, v["duplicates"].as_u64().unwrap())
}

fn row(r: &serde_json::Value) -> SpanRow {
    let s = |i: usize| r[i].as_str().unwrap().to_owned();
    (s(0), s(1), s(2), s(3), r[4].as_u64().unwrap(), r[5].as_u64().unwrap(), s(6))
}

/// The spans of a run's traces.jsonl.
fn sent(traces: &Path) -> Vec<SpanRow> {
    let mut v = Vec::new();
    for line in std::fs::read_to_string(traces).unwrap().lines() {
        let d: serde_json::Value = serde_json::from_str(line).unwrap();
        for rs in d["resourceSpans"].as_array().unwrap() {
            let svc = rs["resource"]["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["key"] == "service.name")
                .map(|a| a["value"]["stringValue"].as_str().unwrap().to_owned())
                .unwrap_or_default();
            for ss in rs["scopeSpans"].as_array().unwrap() {
                for s in ss["spans"].as_array().unwrap() {
                    let n = |k: &str| s[k].as_str().unwrap().parse::<u64>().unwrap();
                    let code = match s["status"]["code"].as_u64().unwrap_or(0) {
                        1 => "Ok",
                        2 => "Error",
                        _ => "Unset",
                    };
                    v.push((
                        s["traceId"].as_str().unwrap().to_owned(),
                        s["spanId"].as_str().unwrap().to_owned(),
                        s["name"].as_str().unwrap().to_owned(),
                        svc.clone(),
                        n("startTimeUnixNano"),
                        n("endTimeUnixNano") - n("startTimeUnixNano"),
                        code.to_owned(),
                    ));
                }
            }
        }
    }
    v
}

#[test]
fn what_is_acknowledged_is_stored_once_over_every_protocol_and_from_the_sdk() {
    let dir = tempdir("receive");
    let store = dir.join("store");
    let r = OurReceiver::start(&store, &[]);
    let grpc = format!("http://127.0.0.1:{}", r.grpc);
    let http = format!("http://127.0.0.1:{}", r.http);
    let mut want = Vec::new();
    for (i, (endpoint, protocol, compression, name)) in [
        (&grpc, "grpc", "gzip", "successful_agent_turn"),
        (&grpc, "grpc", "none", "agent_handoff_turn"),
        (&http, "http/protobuf", "gzip", "tool_retry"),
        (&http, "http/json", "none", "policy_violation"),
    ]
    .into_iter()
    .enumerate()
    {
        let out = dir.join(format!("out{i}"));
        let seed = (i + 1).to_string();
        sim(&[
            "-q",
            "--endpoint",
            endpoint,
            "--protocol",
            protocol,
            "--compression",
            compression,
            "--output",
            out.to_str().unwrap(),
            "--seed",
            &seed,
            "--start-time",
            START,
            "scenario",
            "--name",
            name,
            "--count",
            "150",
            "--interval",
            "0",
        ]);
        want.extend(sent(&out.join("traces.jsonl")));
    }
    // A client we did not write.
    let sdk = Command::new(python())
        .arg(repo().join("tests/peers/sdk_send.py"))
        .args([r.grpc.to_string(), r.http.to_string()])
        .output()
        .unwrap();
    assert!(sdk.status.success(), "{}", String::from_utf8_lossy(&sdk.stderr));
    let sdk: Vec<serde_json::Value> = serde_json::from_slice(&sdk.stdout).unwrap();
    assert_eq!(sdk.len(), 8);
    want.extend(sdk.iter().map(row));

    let out = r.stop();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    let (got, dups) = stored(&store);
    assert_eq!(dups, 0);
    let want: BTreeSet<SpanRow> = want.into_iter().collect();
    let got_set: BTreeSet<SpanRow> = got.iter().cloned().collect();
    assert_eq!(got.len(), got_set.len());
    assert!(
        got_set == want,
        "stored {} spans, sent {}; e.g. missing {:?}, extra {:?}",
        got.len(),
        want.len(),
        want.difference(&got_set).next(),
        got_set.difference(&want).next()
    );
    // The summary balances: acknowledged = stored, per signal.
    let traces = said.lines().find(|l| l.starts_with("traces")).unwrap();
    assert!(
        traces.contains(&format!("{} items", want.len())) && traces.contains(&format!("{} stored", want.len())),
        "{said}"
    );

    // The SDK's spans are reported as it sent them: its agent, its error.
    let report = Command::new(bin())
        .args(["report", "agent", "planner", "--store", store.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    let a: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(a["runs"], 4, "{a}");
}

#[test]
fn bad_requests_get_the_collectors_answers_and_change_nothing() {
    let dir = tempdir("receive-hostile");
    let store = dir.join("store");
    let token = "s3cret-t0ken";
    let r = OurReceiver::start(&store, &[("TELEMETRY_SIMULATOR_RECEIVE_TOKEN", token)]);
    let out = Command::new(python())
        .arg(repo().join("tests/peers/hostile.py"))
        .args([r.grpc.to_string(), r.http.to_string(), token.to_owned()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let want = serde_json::json!({
        "no token": 401, "wrong token": 401, "corrupt protobuf": 400, "bad json": 400, "not json": 400,
        "wrong content type": 415, "wrong method": 405, "oversized": 413, "gzip bomb": 413,
        "unknown encoding": 415, "empty request": 200,
        "grpc no token": "UNAUTHENTICATED", "grpc corrupt": "INVALID_ARGUMENT",
        "grpc oversized": "RESOURCE_EXHAUSTED", "grpc empty": "OK", "grpc unknown method": "UNIMPLEMENTED",
    });
    for (case, status) in want.as_object().unwrap() {
        assert_eq!(&got[case], status, "{case}: {got}");
    }
    // The receiver is still up, and a good request goes through.
    let url = format!("http://127.0.0.1:{}", r.http);
    sim(&[
        "-q",
        "--endpoint",
        &url,
        "--protocol",
        "http/protobuf",
        "--header",
        &format!("authorization=Bearer {token}"),
        "--seed",
        "1",
        "scenario",
        "--name",
        "tool_retry",
        "--count",
        "3",
        "--interval",
        "0",
    ]);
    let out = r.stop();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(!said.contains(token), "the token was printed: {said}");
    let (spans, _) = stored(&store);
    let tool_retry = spans.iter().filter(|s| s.3 == "telemetry-simulator").count();
    assert_eq!(spans.len(), tool_retry, "only the good request's spans are stored");
    assert!(tool_retry > 0);
}

#[test]
fn a_sigkill_at_any_moment_loses_nothing_acknowledged_and_stores_nothing_twice() {
    let dir = tempdir("receive-crash");
    let store = dir.join("store");
    let acked = dir.join("acked");
    let (grpc, http) = (free_port(), free_port());
    let mut sender = Command::new(python())
        .arg(repo().join("tests/peers/crash_sender.py"))
        .args([http.to_string(), acked.to_str().unwrap().to_owned()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let count = |p: &PathBuf| std::fs::read_to_string(p).map(|s| s.lines().count()).unwrap_or(0);
    for round in 0..4 {
        let r = OurReceiver::start_on(&store, grpc, http, &[]);
        // Kill it while requests are arriving: after some more were acknowledged.
        let before = count(&acked);
        wait_until(&format!("round {round}: acknowledgements"), || count(&acked) >= before + 20 + round * 7);
        r.kill();
    }
    let _ = sender.kill();
    let _ = sender.wait();
    // A last start converts what the killed runs left in the log; a clean stop.
    let out = OurReceiver::start_on(&store, grpc, http, &[]).stop();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let (spans, dups) = stored(&store);
    assert_eq!(dups, 0, "spans stored twice");
    let have: BTreeSet<(String, String)> = spans.iter().map(|s| (s.0.clone(), s.1.clone())).collect();
    let acked: Vec<u64> = std::fs::read_to_string(&acked).unwrap().lines().map(|l| l.parse().unwrap()).collect();
    assert!(acked.len() >= 4 * 20, "{} acknowledged", acked.len());
    for n in &acked {
        for i in 0..50u64 {
            let key = (format!("{n:032x}"), format!("{:016x}", n * 100 + i + 1));
            assert!(have.contains(&key), "acknowledged request {n} lost span {i}");
        }
    }
}
