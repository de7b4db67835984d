//! `verify`: a run sent through a pipeline, regenerated from its manifest and compared with
//! what arrived — identical over every protocol into our receiver; and on files a script
//! tampered with, exactly the numbers the script counts.
use std::path::Path;
use std::process::Command;

use crate::common::{self, OurReceiver, START, bin, python, repo, run, tempdir};

/// `verify` over `store`, its exit status and JSON.
pub(crate) fn verify(manifest: &Path, store: &Path) -> (i32, serde_json::Value) {
    verify_with(manifest, store, &[])
}

/// `verify` with more flags.
pub(crate) fn verify_with(manifest: &Path, store: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let (m, st) = (manifest.to_str().unwrap(), store.to_str().unwrap());
    let mut args = vec!["verify", "--manifest", m, "--store", st, "--format", "json"];
    args.extend_from_slice(extra);
    crate::common::json_of(&args)
}

fn n(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// A Python proxy of tests/peers (`LISTEN UPSTREAM` on its command line) in front of
/// `upstream`, once it says READY; and its port.
fn proxy(script: &str, upstream: u16) -> (common::Peer, u16) {
    use std::io::BufRead;
    let port = common::free_port();
    let mut child = Command::new(python())
        .arg(repo().join("tests/peers").join(script))
        .args([port.to_string(), upstream.to_string()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let peer = common::Peer { child };
    assert_eq!(line.trim(), "READY", "{script}");
    (peer, port)
}

/// What a proxy says it did (its `GET /report`).
fn proxy_report(port: u16) -> serde_json::Value {
    let (status, body) = common::http_get(port, "/report");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[test]
fn a_run_through_our_receiver_verifies_identical_over_every_protocol() {
    for protocol in ["grpc", "http/protobuf", "http/json"] {
        let dir = tempdir("verify-identical");
        let store = dir.join("store");
        let manifest = dir.join("run.json");
        let r = OurReceiver::start(&store, &[]);
        let url = if protocol == "grpc" {
            format!("http://127.0.0.1:{}", r.grpc)
        } else {
            format!("http://127.0.0.1:{}", r.http)
        };
        // A mixed run in the past: it goes at CPU speed, in span-end order.
        let sent = run(&[
            "--endpoint",
            &url,
            "--protocol",
            protocol,
            "--manifest",
            manifest.to_str().unwrap(),
            "--seed",
            "21",
            "--start-time",
            START,
            "--tenants",
            "t-1,t-2",
            "-q",
            "run",
            "--count",
            "120",
            "--rate",
            "20",
        ]);
        assert_eq!(sent.code(), 0, "{protocol}: {}", sent.stderr());
        sent.assert_all_delivered();
        let said = r.stop();
        assert!(said.status.success(), "{}", String::from_utf8_lossy(&said.stderr));
        let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
        assert_eq!(m["seed"], 21, "{m}");
        assert!(m["args"].as_array().unwrap().iter().any(|a| a == "--tenants=t-1,t-2"), "{m}");
        assert!(!m["args"].to_string().contains("127.0.0.1"), "delivery flags are not in the manifest: {m}");
        let (code, v) = verify(&manifest, &store);
        assert_eq!(code, 0, "{protocol}: {v}");
        assert_eq!(v["verdict"], "identical", "{v}");
        let t = &v["signals"]["traces"];
        assert_eq!(n(&t["expected"]), n(&m["counts"]["spans"]), "{v}");
        assert_eq!(t["delivered"], t["expected"], "{v}");
        assert_eq!(n(&v["signals"]["logs"]["delivered"]), n(&m["counts"]["log_records"]), "{v}");
        assert_eq!(n(&v["signals"]["metrics"]["delivered"]), n(&v["signals"]["metrics"]["expected"]), "{v}");
        assert!(n(&v["signals"]["metrics"]["expected"]) > 0, "{v}");
        assert_eq!(n(&t["sampling"]["traces"]["whole"]), 120, "{v}");
    }
}

#[test]
fn tampered_files_verify_with_the_tamperers_own_counts() {
    let dir = tempdir("verify-tampered");
    let out = dir.join("out");
    let manifest = dir.join("run.json");
    let sent = run(&[
        "--output",
        out.to_str().unwrap(),
        "--manifest",
        manifest.to_str().unwrap(),
        "--seed",
        "4",
        "--start-time",
        START,
        "-q",
        "run",
        "--count",
        "300",
        "--rate",
        "10",
    ]);
    assert_eq!(sent.code(), 0, "{}", sent.stderr());
    // The untouched files verify identical (a folder of OTLP/JSON files, no receiver).
    let (code, v) = verify(&manifest, &out);
    assert_eq!((code, &v["verdict"]), (0, &serde_json::json!("identical")), "{v}");

    let bad = dir.join("tampered");
    let t = Command::new(python()).arg(repo().join("tests/peers/tamper.py")).args([&out, &bad]).output().unwrap();
    assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stderr));
    let did: serde_json::Value = serde_json::from_slice(&t.stdout).unwrap();
    assert!(n(&did["dropped_attr"]) > 10 && !did["renamed"].as_object().unwrap().is_empty(), "{did}");
    let (code, v) = verify(&manifest, &bad);
    assert_eq!(code, 4, "{v}");
    assert_eq!(v["verdict"], "differences");
    // Spilled to bucket files (a few hundred items in memory at a time): the same answer.
    assert_eq!(verify_with(&manifest, &bad, &["--memory-items", "300"]), (code, v.clone()));
    let s = &v["signals"]["traces"];
    assert_eq!(n(&s["expected"]), n(&did["spans"]), "{v}");
    for k in ["missing", "duplicated", "unexpected"] {
        assert_eq!(s[k], did[k], "{k}: {v}");
    }
    assert_eq!(n(&s["delivered"]), n(&did["spans"]) - n(&did["missing"]));
    assert_eq!(s["altered"]["items"], did["altered"], "{v}");
    assert_eq!(
        s["altered"]["attributes"],
        serde_json::json!([{"key": "gen_ai.request.model", "dropped": did["dropped_attr"], "added": 0, "changed": 0}]),
        "only the stripped attribute: {v}"
    );
    assert_eq!(s["altered"]["resourceAttributes"], serde_json::json!([]), "{v}");
    let renamed: Vec<(String, u64)> = s["altered"]["renamed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["to"], "agent.run", "{r}");
            (r["from"].as_str().unwrap().to_owned(), n(&r["spans"]))
        })
        .collect();
    let mut want: Vec<(String, u64)> =
        did["renamed"].as_object().unwrap().iter().map(|(k, c)| (k.clone(), n(c))).collect();
    want.sort();
    assert_eq!(renamed, want, "{v}");
    assert_eq!(s["altered"]["fields"], serde_json::json!({}), "{v}");
    assert_eq!(s["altered"]["timestampsShifted"]["items"], 0, "{v}");
    let kept = &s["sampling"]["traces"];
    assert_eq!(
        (&kept["expected"], &kept["kept"], &kept["whole"]),
        (&did["traces"], &did["kept"], &did["whole"]),
        "{v}"
    );
    // Logs and metrics went through untouched.
    for sig in ["logs", "metrics"] {
        let x = &v["signals"][sig];
        assert_eq!(x["delivered"], x["expected"], "{sig}: {v}");
        assert_eq!(n(&x["missing"]) + n(&x["duplicated"]) + n(&x["unexpected"]) + n(&x["altered"]["items"]), 0, "{v}");
    }
}

/// A real collector in between: rotel receives the run and exports OTLP to our receiver,
/// with a Python trace processor that strips `gen_ai.request.model` and renames the agent
/// spans. Verify names exactly those spans (counted here from the run's own files) and finds
/// nothing else in traces or logs.
#[test]
fn rotel_with_a_trace_processor_shows_exactly_what_it_changed() {
    let dir = tempdir("verify-rotel");
    let store = dir.join("store");
    let ours = OurReceiver::start(&store, &[]);
    let processor = repo().join("tests/peers/rotel_redact.py");
    let rotel = common::Rotel::start_with(&[
        "--exporter",
        "otlp",
        "--otlp-exporter-endpoint",
        &format!("http://127.0.0.1:{}", ours.grpc),
        "--otlp-with-trace-processor",
        processor.to_str().unwrap(),
    ]);
    let (out, manifest) = (dir.join("out"), dir.join("run.json"));
    let sent = run(&[
        "--endpoint",
        &format!("http://127.0.0.1:{}", rotel.grpc_port),
        "--protocol",
        "grpc",
        "--output",
        out.to_str().unwrap(),
        "--manifest",
        manifest.to_str().unwrap(),
        "--signals",
        "traces,logs",
        "--seed",
        "9",
        "--start-time",
        START,
        "-q",
        "run",
        "--count",
        "150",
        "--rate",
        "20",
    ]);
    assert_eq!(sent.code(), 0, "{}", sent.stderr());
    // rotel flushes what it holds when it stops; then our receiver converts what it has.
    common::interrupt(&rotel.peer.child);
    let mut rotel = rotel;
    rotel.peer.child.wait().unwrap();
    assert!(ours.stop().status.success());

    // What the processor should have changed, from the run's own file.
    let (mut spans, mut stripped, mut altered) = (0u64, 0u64, 0u64);
    let mut renamed: std::collections::BTreeMap<String, u64> = Default::default();
    for line in std::fs::read_to_string(out.join("traces.jsonl")).unwrap().lines() {
        let req: serde_json::Value = serde_json::from_str(line).unwrap();
        for rs in req["resourceSpans"].as_array().unwrap() {
            for ss in rs["scopeSpans"].as_array().unwrap() {
                for s in ss["spans"].as_array().unwrap() {
                    spans += 1;
                    let has = s["attributes"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|kv| kv["key"] == "gen_ai.request.model"));
                    let name = s["name"].as_str().unwrap();
                    stripped += u64::from(has);
                    if name.starts_with("invoke_agent") {
                        *renamed.entry(name.to_owned()).or_default() += 1;
                    }
                    altered += u64::from(has || name.starts_with("invoke_agent"));
                }
            }
        }
    }
    assert!(stripped > 20 && !renamed.is_empty(), "{stripped} {renamed:?}");
    let (code, v) = verify(&manifest, &store);
    assert_eq!(code, 4, "{v}");
    let t = &v["signals"]["traces"];
    assert_eq!((n(&t["expected"]), n(&t["delivered"])), (spans, spans), "{v}");
    assert_eq!(n(&t["missing"]) + n(&t["duplicated"]) + n(&t["unexpected"]), 0, "{v}");
    assert_eq!(
        t["altered"]["attributes"],
        serde_json::json!([{"key": "gen_ai.request.model", "dropped": stripped, "added": 0, "changed": 0}]),
        "{v}"
    );
    assert_eq!(n(&t["altered"]["items"]), altered, "{v}");
    let got: std::collections::BTreeMap<String, u64> = t["altered"]["renamed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["from"].as_str().unwrap().to_owned(), n(&r["spans"])))
        .collect();
    assert_eq!(got, renamed, "{v}");
    for quiet in [&t["altered"]["resourceAttributes"], &t["altered"]["fields"]] {
        assert!(quiet.as_array().is_some_and(Vec::is_empty) || quiet.as_object().is_some_and(|o| o.is_empty()), "{v}");
    }
    let l = &v["signals"]["logs"];
    assert_eq!(l["delivered"], l["expected"], "{v}");
    assert_eq!(n(&l["altered"]["items"]) + n(&l["missing"]) + n(&l["unexpected"]), 0, "{v}");
}

/// A paced run (starting now) through our receiver: every span is stored with the time it
/// was received, never before it ended (spans leave at their end), and verify gives the
/// delay's percentiles.
#[test]
fn a_paced_run_has_its_delay_measured_from_span_end_to_receipt() {
    let dir = tempdir("verify-delay");
    let store = dir.join("store");
    let manifest = dir.join("run.json");
    let r = OurReceiver::start(&store, &[]);
    let sent = run(&[
        "--endpoint",
        &format!("http://127.0.0.1:{}", r.grpc),
        "--protocol",
        "grpc",
        "--manifest",
        manifest.to_str().unwrap(),
        "--seed",
        "2",
        "-q",
        "scenario",
        "--name",
        "successful_agent_turn",
        "--rate",
        "20",
        "--duration",
        "2s",
    ]);
    assert_eq!(sent.code(), 0, "{}", sent.stderr());
    assert!(r.stop().status.success());
    let (code, v) = verify(&manifest, &store);
    assert_eq!(code, 0, "{v}");
    let t = &v["signals"]["traces"];
    let d = &t["delay"];
    assert_eq!(d["spans"], t["delivered"], "every received span has its receive time: {v}");
    assert_eq!(d["early"], 0, "none received before it ended: {v}");
    let q = |k: &str| d[k].as_f64().unwrap();
    assert!(0.0 <= q("p50Seconds") && q("p50Seconds") <= q("p95Seconds") && q("p95Seconds") <= q("p99Seconds"), "{d}");
    assert!(q("p99Seconds") <= q("maxSeconds") * 1.01, "{d}");
}

/// A faulty stage between the run and our receiver: a proxy that drops every 10th request,
/// forwards some twice, tail-samples a tenth of the traces but every error trace, strips an
/// attribute and renames the agent spans. Verify's figures equal the proxy's own count.
#[test]
fn a_faulty_proxy_is_caught_with_its_own_numbers() {
    let dir = tempdir("verify-proxy");
    let store = dir.join("store");
    let ours = OurReceiver::start(&store, &[]);
    let (_proxy, port) = proxy("fault_proxy.py", ours.http);
    let manifest = dir.join("run.json");
    let sent = run(&[
        "--endpoint",
        &format!("http://127.0.0.1:{port}"),
        "--protocol",
        "http/protobuf",
        "--export-order",
        "trace",
        "--manifest",
        manifest.to_str().unwrap(),
        "--seed",
        "13",
        "--start-time",
        START,
        "-q",
        "run",
        "--count",
        "400",
        "--rate",
        "20",
    ]);
    assert_eq!(sent.code(), 0, "{}", sent.stderr());
    let did = proxy_report(port);
    assert!(ours.stop().status.success());
    assert!(n(&did["requests"]) >= 20 && n(&did["missing"]) > 0 && n(&did["duplicated"]) > 0, "{did}");

    let (code, v) = verify(&manifest, &store);
    assert_eq!(code, 4, "{v}");
    let t = &v["signals"]["traces"];
    assert_eq!(t["expected"], did["spans"], "{v}");
    assert_eq!(t["missing"], did["missing"], "{v}");
    assert_eq!(t["duplicated"], did["duplicated"], "{v}");
    assert_eq!(t["unexpected"], 0, "{v}");
    assert_eq!(t["altered"]["items"], did["altered"], "{v}");
    assert_eq!(
        t["altered"]["attributes"],
        serde_json::json!([{"key": "gen_ai.request.model", "dropped": did["dropped_attr"], "added": 0, "changed": 0}]),
        "{v}"
    );
    let renamed: serde_json::Map<String, serde_json::Value> = t["altered"]["renamed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["from"].as_str().unwrap().to_owned(), r["spans"].clone()))
        .collect();
    assert_eq!(serde_json::Value::Object(renamed), did["renamed"], "{v}");
    let sampling = &t["sampling"];
    assert_eq!((&sampling["traces"]["expected"], &sampling["traces"]["kept"]), (&did["traces"], &did["kept"]), "{v}");
    assert_eq!(
        (&sampling["errorTraces"]["expected"], &sampling["errorTraces"]["kept"]),
        (&did["error_traces"], &did["error_kept"]),
        "{v}"
    );
    // The sampler kept error traces far more often than the rest.
    let frac = |k: &str| sampling[k]["keptFraction"].as_f64().unwrap();
    assert!(frac("errorTraces") > 2.0 * frac("traces").min(0.45), "{sampling}");
    // Logs and metrics went through untouched.
    for sig in ["logs", "metrics"] {
        let x = &v["signals"][sig];
        assert_eq!(x["delivered"], x["expected"], "{sig}: {v}");
        assert_eq!(
            n(&x["missing"]) + n(&x["duplicated"]) + n(&x["unexpected"]) + n(&x["altered"]["items"]),
            0,
            "{sig}: {v}"
        );
    }
}

#[test]
fn runs_named_with_run_id_share_a_store_and_verify_apart() {
    let dir = tempdir("verify-run-id");
    let store = dir.join("store");
    let mut counts = Vec::new();
    for (id, seed) in [("run-a", "5"), ("run-b", "6")] {
        let manifest = dir.join(format!("{id}.json"));
        let sent = run(&[
            "--store",
            store.to_str().unwrap(),
            "--manifest",
            manifest.to_str().unwrap(),
            "--run-id",
            id,
            "--seed",
            seed,
            "--start-time",
            START,
            "-q",
            "run",
            "--count",
            "80",
            "--rate",
            "20",
        ]);
        assert_eq!(sent.code(), 0, "{}", sent.stderr());
        let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
        assert!(m["args"].as_array().unwrap().iter().any(|a| a == &format!("--run-id={id}")), "{m}");
        counts.push(m["counts"].clone());
    }
    for (i, id) in ["run-a", "run-b"].iter().enumerate() {
        // Run from the test's folder: the regeneration writes no files of its own there.
        let out = Command::new(bin())
            .current_dir(&dir)
            .args(["verify", "--manifest", &format!("{id}.json"), "--store", "store", "--format", "json"])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        assert_eq!((out.status.code(), &v["verdict"]), (Some(0), &serde_json::json!("identical")), "{v}");
        let other = &counts[1 - i];
        assert_eq!(n(&v["signals"]["traces"]["otherRuns"]), n(&other["spans"]), "{v}");
        assert_eq!(n(&v["signals"]["logs"]["otherRuns"]), n(&other["log_records"]), "{v}");
        assert_eq!(n(&v["signals"]["traces"]["delivered"]), n(&counts[i]["spans"]), "{v}");
        assert!(n(&v["signals"]["metrics"]["otherRuns"]) > 0, "{v}");
        assert!(!dir.join("telemetry-out").exists(), "the regeneration wrote files");
    }
}

/// A stage that loses what rides on spans and points (tests/peers/event_proxy.py): it takes
/// the events off every other span that has some, puts a link on one span and strips the
/// histograms' exemplars. Verify names each — the events per name, the link, the exemplars —
/// with the proxy's own counts, and nothing else; the run's own files verify identical.
#[test]
fn a_proxy_that_loses_events_and_exemplars_is_named_for_each() {
    let dir = tempdir("verify-events");
    let store = dir.join("store");
    let ours = OurReceiver::start(&store, &[]);
    let (_proxy, port) = proxy("event_proxy.py", ours.http);
    let (out, manifest) = (dir.join("out"), dir.join("run.json"));
    // The mixed run: exception events on failed spans, policy.decision events, histograms
    // with exemplars.
    let sent = run(&[
        "--endpoint",
        &format!("http://127.0.0.1:{port}"),
        "--protocol",
        "http/protobuf",
        "--output",
        out.to_str().unwrap(),
        "--manifest",
        manifest.to_str().unwrap(),
        "--seed",
        "17",
        "--start-time",
        START,
        "-q",
        "run",
        "--count",
        "200",
        "--rate",
        "20",
    ]);
    assert_eq!(sent.code(), 0, "{}", sent.stderr());
    sent.assert_all_delivered();
    let did = proxy_report(port);
    assert!(ours.stop().status.success());
    let lost = did["events"].as_object().unwrap();
    assert!(lost.contains_key("exception") && n(&did["kept_events"]) > 0, "{did}");
    assert!(n(&did["exemplar_points"]) > 10 && n(&did["linked"]) == 1, "{did}");

    // Untouched, the same run verifies identical: events, links and exemplars included.
    let (code, v) = verify(&manifest, &out);
    assert_eq!((code, &v["verdict"]), (0, &serde_json::json!("identical")), "{v}");

    let (code, v) = verify(&manifest, &store);
    assert_eq!(code, 4, "{v}");
    assert_eq!(v["verdict"], "differences", "{v}");
    let t = &v["signals"]["traces"];
    assert_eq!(t["delivered"], t["expected"], "{v}");
    assert_eq!(n(&t["missing"]) + n(&t["duplicated"]) + n(&t["unexpected"]), 0, "{v}");
    assert_eq!(t["altered"]["items"], did["altered"], "{v}");
    let mut want: Vec<serde_json::Value> = lost
        .iter()
        .map(|(name, c)| serde_json::json!({"name": name, "dropped": c, "added": 0, "changed": 0}))
        .collect();
    want.sort_by_key(|e| e["name"].as_str().unwrap().to_owned());
    assert_eq!(t["altered"]["events"], serde_json::Value::Array(want), "{v}");
    assert_eq!(t["altered"]["links"], serde_json::json!({"dropped": 0, "added": 1, "changed": 0}), "{v}");
    for quiet in ["attributes", "resourceAttributes", "renamed"] {
        assert_eq!(t["altered"][quiet], serde_json::json!([]), "{quiet}: {v}");
    }
    assert_eq!(t["altered"]["fields"], serde_json::json!({}), "{v}");
    let m = &v["signals"]["metrics"];
    assert_eq!(m["delivered"], m["expected"], "{v}");
    assert_eq!(m["altered"]["items"], did["exemplar_points"], "{v}");
    assert_eq!(
        m["altered"]["exemplars"],
        serde_json::json!({"dropped": did["exemplar_points"], "added": 0, "changed": 0}),
        "{v}"
    );
    assert_eq!(
        (&m["altered"]["fields"], &m["altered"]["attributes"]),
        (&serde_json::json!({}), &serde_json::json!([]))
    );
    let l = &v["signals"]["logs"];
    assert_eq!(l["delivered"], l["expected"], "{v}");
    assert_eq!(n(&l["altered"]["items"]) + n(&l["missing"]) + n(&l["unexpected"]), 0, "{v}");

    // The text report names them too.
    let text = Command::new(bin())
        .args(["verify", "--manifest", manifest.to_str().unwrap(), "--store", store.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    for section in ["Spans: events altered", "Spans: links altered", "Metric points: exemplars altered"] {
        assert!(text.contains(section), "{section}: {text}");
    }
}
