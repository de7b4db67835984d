//! The `_bulk` sink against an in-process Elasticsearch stand-in (no server is installable
//! here) that checks the NDJSON framing line by line and answers per-item statuses: a first
//! whole-request 503, then per document 201, 429 (once), 400 or 409, chosen by its `_id`.

use std::collections::{BTreeMap, HashSet};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use crate::common::*;

#[derive(Default)]
struct State {
    requests: u64,
    framing_errors: Vec<String>,
    stored: HashSet<String>,
    throttled: HashSet<String>,
    seen: HashSet<String>,
    rejected: u64,
    indexes: BTreeMap<String, u64>,
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3))
}

/// What a document gets, by `_id`: 3 → 429 the first time, 5 → 400, 7 → already there (409).
fn class(id: &str) -> u64 {
    fnv(id) % 10
}

fn handle(mut stream: std::net::TcpStream, state: &Mutex<State>) {
    let Some(req) = read_request(&stream) else { return };
    let mut st = state.lock().unwrap();
    st.requests += 1;
    let fail = |st: &mut State, e: String| st.framing_errors.push(e);
    if !req.line.starts_with("POST /_bulk ") {
        fail(&mut st, format!("request line {}", req.line));
    }
    if req.header("content-type") != Some("application/x-ndjson") {
        fail(&mut st, format!("content type {:?}", req.header("content-type")));
    }
    if req.header("authorization") != Some("Basic ZWxhc3RpYzpzM2NyZXQ=") {
        fail(&mut st, format!("authorization {:?}", req.header("authorization")));
    }
    let reply = |stream: &mut std::net::TcpStream, status: &str, body: String| {
        respond(stream, status, "Content-Type: application/json\r\n", &body);
    };
    if st.requests == 1 {
        drop(st);
        reply(&mut stream, "503 Service Unavailable", r#"{"error":"busy"}"#.into());
        return;
    }
    let text = String::from_utf8(req.body).unwrap();
    if !text.ends_with('\n') {
        fail(&mut st, "body does not end with a newline".into());
    }
    let lines: Vec<&str> = text.lines().collect();
    if !lines.len().is_multiple_of(2) {
        fail(&mut st, "odd number of lines".into());
    }
    let mut items = Vec::new();
    let mut errors = false;
    for pair in lines.chunks(2) {
        let action: serde_json::Value = match serde_json::from_str(pair[0]) {
            Ok(v) => v,
            Err(e) => {
                fail(&mut st, format!("action line {}: {e}", pair[0]));
                continue;
            }
        };
        let doc: serde_json::Value = serde_json::from_str(pair.get(1).copied().unwrap_or("")).unwrap_or_default();
        let index = action["create"]["_index"].as_str().unwrap_or_default().to_string();
        let id = action["create"]["_id"].as_str().unwrap_or_default().to_string();
        let dated = |p: &str| {
            index.strip_prefix(p).is_some_and(|d| {
                d.len() == 10
                    && d.chars().enumerate().all(|(i, c)| if i == 4 || i == 7 { c == '.' } else { c.is_ascii_digit() })
            })
        };
        if !(dated("taskpilot-logs-") || dated("decision-logs-")) || id.is_empty() {
            fail(&mut st, format!("action {}", pair[0]));
        }
        if doc.get("@timestamp").and_then(|t| t.as_str()).is_none() {
            fail(&mut st, format!("document without @timestamp: {}", pair.get(1).unwrap_or(&"")));
        }
        if dated("decision-logs-") && doc.get("decision_id").is_none() {
            fail(&mut st, "decision document without decision_id".into());
        }
        st.seen.insert(id.clone());
        let (status, err) = match class(&id) {
            3 if st.throttled.insert(id.clone()) => (429, "es_rejected_execution_exception"),
            5 => {
                st.rejected += 1;
                (400, "mapper_parsing_exception")
            }
            7 if !st.stored.contains(&id) => {
                st.stored.insert(id.clone());
                (409, "version_conflict_engine_exception")
            }
            _ if st.stored.contains(&id) => (409, "version_conflict_engine_exception"),
            _ => {
                st.stored.insert(id.clone());
                *st.indexes.entry(index.clone()).or_default() += 1;
                (201, "")
            }
        };
        errors |= status >= 300;
        let item = if status >= 300 {
            serde_json::json!({"create": {"_index": index, "_id": id, "status": status, "error": {"type": err, "reason": "test"}}})
        } else {
            serde_json::json!({"create": {"_index": index, "_id": id, "status": status, "result": "created"}})
        };
        items.push(item);
    }
    drop(st);
    reply(&mut stream, "200 OK", serde_json::json!({"took": 1, "errors": errors, "items": items}).to_string());
}

#[test]
fn bulk_items_are_retried_dropped_or_counted_like_filebeat() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let state = Arc::new(Mutex::new(State::default()));
    {
        let state = state.clone();
        std::thread::spawn(move || {
            for s in listener.incoming().flatten() {
                let state = state.clone();
                std::thread::spawn(move || handle(s, &state));
            }
        });
    }
    let dir = tempdir("es");
    std::fs::write(
        dir.join("policy.yaml"),
        "name: policy_demo\nroot:\n  type: tool.call\n  attributes: {gen_ai.tool.name: delete_task}\n  decision: {type: opa, result: {allow: 1, deny: 1}}\n",
    )
    .unwrap();
    let args = format!(
        "--scenarios-dir {0} --es-url http://127.0.0.1:{port} --es-user elastic --es-bulk-max-docs 40 \
         --signals traces,logs --output {0}/out run --count 150 --interval 0 -q --seed 9",
        dir.display()
    );
    let r = run_in(&dir, &words(&args), &[("ES_PASSWORD", "s3cret")]);
    let st = state.lock().unwrap();
    assert!(st.framing_errors.is_empty(), "{:?}", &st.framing_errors[..st.framing_errors.len().min(5)]);
    let es = r.sink_of("elasticsearch", "logs");
    let docs = r.summary["log_records"].as_u64().unwrap();
    assert_eq!(es["generated"].as_u64().unwrap(), docs);
    assert_eq!(st.seen.len() as u64, docs, "every document reached the server with a unique _id");
    let rejected: u64 = st.seen.iter().filter(|id| class(id) == 5).count() as u64;
    assert!(rejected > 0 && st.seen.iter().any(|id| class(id) == 3) && st.seen.iter().any(|id| class(id) == 7));
    // 400s dropped with their type; 429s retried and delivered; 409s (already there) delivered.
    assert_eq!(es["dropped"], serde_json::json!({"es 400: mapper_parsing_exception": rejected}));
    assert_eq!(es["delivered"].as_u64().unwrap(), docs - rejected);
    assert_eq!(st.rejected, rejected, "a 400 item is sent once, never retried");
    assert_eq!(r.code(), 3, "drops make the exit status 3");
    r.assert_balanced();
    assert!(es["retries"].as_u64().unwrap() >= 2, "the 503 and the 429s were retried: {es}");
    assert!(
        st.indexes.keys().any(|k| k.starts_with("decision-logs-"))
            && st.indexes.keys().any(|k| k.starts_with("taskpilot-logs-"))
    );
}
