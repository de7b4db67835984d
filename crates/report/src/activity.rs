//! `report activity`: what the system is doing — runs in progress (traces with spans stored
//! but no root span yet: spans leave when they end, so a run's root arrives last), the latest
//! runs that finished (their root span: workflow, agent or service, status, duration), the
//! artifacts pending review, and the latest warnings (log records of severity WARN to below
//! ERROR).

use std::collections::{HashMap, HashSet};
use tsim_store::Snapshot;

use serde_json::json;
use tsim_store::Table;

use crate::render::{secs, time};
use crate::scan::rows;
use crate::stats::Latest;
use crate::{Filter, Report, ReportError, Section};

const SPAN_COLUMNS: [&str; 7] =
    ["TraceId", "ParentSpanId", "SpanName", "Duration", "StatusCode", "ServiceName", "WorkflowName"];
const LOG_COLUMNS: [&str; 4] = ["SeverityNumber", "TraceId", "ServiceName", "Body"];

/// OTLP severity numbers of WARN (13 to 16).
const WARN: std::ops::RangeInclusive<i64> = 13..=16;

/// The activity, `limit` rows per section.
pub fn report(root: &Snapshot, f: &Filter, limit: usize) -> Result<Report, ReportError> {
    let mut finished: HashSet<Vec<u8>> = HashSet::new();
    // Traces with spans: their first span's start and service, and spans seen.
    let mut seen: HashMap<Vec<u8>, (i64, String, u64)> = HashMap::new();
    let mut recent = Latest::new(limit);
    rows(root, Table::Traces, f, &SPAN_COLUMNS, |b, i| {
        let c = |k: usize| &b.cols[k];
        let trace = c(0).bytes(i).unwrap_or(b"");
        let t = b.time(i);
        match seen.get_mut(trace) {
            Some(e) => {
                e.0 = e.0.min(t);
                e.2 += 1;
            }
            None => {
                seen.insert(trace.to_vec(), (t, c(5).str(i).unwrap_or("").to_owned(), 1));
            }
        }
        if c(1).bytes(i).is_none_or(<[u8]>::is_empty) {
            finished.insert(trace.to_vec());
            recent.offer(t, || {
                let s = |k: usize| c(k).str(i).unwrap_or("").to_owned();
                let what = c(6).str(i).map_or_else(|| s(2), str::to_owned);
                (s(0), what, s(5), s(4), c(3).int(i).unwrap_or(0))
            });
        }
    })?;
    let mut running: Vec<(i64, String, String, u64)> = seen
        .into_iter()
        .filter(|(t, _)| !finished.contains(t))
        .map(|(t, (start, svc, n))| (start, String::from_utf8_lossy(&t).into_owned(), svc, n))
        .collect();
    running.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let in_progress = running.len();
    running.truncate(limit);
    let mut warnings = Latest::new(limit);
    let mut warn_total = 0u64;
    rows(root, Table::Logs, f, &LOG_COLUMNS, |b, i| {
        let c = |k: usize| &b.cols[k];
        if !WARN.contains(&c(0).int(i).unwrap_or(0)) {
            return;
        }
        warn_total += 1;
        warnings.offer(b.time(i), || {
            [
                c(1).str(i).unwrap_or("").to_owned(),
                c(2).str(i).unwrap_or("").to_owned(),
                c(3).str(i).unwrap_or("").to_owned(),
            ]
        });
    })?;

    let (pending_total, pending) = crate::artifacts::pending(root, f, limit)?;
    let mut p = Section::new(
        format!("Pending review: {pending_total} artifact diffs (latest {})", pending.len()),
        &["changed", "artifact", "agent", "diff", "trace"],
    );
    for d in &pending {
        p.row(vec![time(d.time), d.path.clone(), d.agent.clone(), d.summary(), d.trace.clone()]);
    }
    let mut a = Section::new(
        format!("In progress: {in_progress} runs (spans stored, root not yet)"),
        &["since", "trace", "service", "spans so far"],
    );
    for (t, trace, svc, n) in &running {
        a.row(vec![time(*t), trace.clone(), svc.clone(), n.to_string()]);
    }
    let mut r = Section::new("Latest runs", &["start", "trace", "workflow", "service", "status", "duration (s)"]);
    for (t, (trace, what, svc, status, d)) in &recent.items {
        r.row(vec![time(*t), trace.clone(), what.clone(), svc.clone(), status.clone(), secs(*d as f64 / 1e9)]);
    }
    let mut w = Section::new(
        format!("Warnings: {warn_total} (latest {})", warnings.items.len()),
        &["time", "trace", "service", "message"],
    );
    for (t, x) in &warnings.items {
        let mut row = vec![time(*t)];
        row.extend(x.iter().cloned());
        w.row(row);
    }
    let json = json!({
        "inProgress": in_progress,
        "running": running.iter().map(|(t, trace, svc, n)| json!({"since": time(*t), "traceId": trace, "service": svc, "spans": n})).collect::<Vec<_>>(),
        "recent": recent.items.iter().map(|(t, (trace, what, svc, status, d))| json!({
            "start": time(*t), "traceId": trace, "workflow": what, "service": svc, "status": status, "duration": *d as f64 / 1e9,
        })).collect::<Vec<_>>(),
        "pendingReview": pending_total,
        "latestPendingReview": pending.iter().map(|d| json!({
            "artifact": d.path, "agent": d.agent, "changedAt": time(d.time), "diff": d.summary(), "traceId": d.trace,
        })).collect::<Vec<_>>(),
        "warnings": warn_total,
        "latestWarnings": warnings.items.iter().map(|(t, x)| json!({"time": time(*t), "traceId": x[0], "service": x[1], "message": x[2]})).collect::<Vec<_>>(),
    });
    Ok(Report { title: "Activity".into(), sections: vec![a, r, p, w], json, charts: Vec::new() })
}
