//! `report errors [--limit N]`: the latest errors with their context, newest first — spans
//! with status Error (trace, span, operation, agent or service, error type, status message)
//! and log records of severity ERROR or above (trace, span, service, message).

use tsim_store::Snapshot;

use serde_json::json;
use tsim_store::Table;

use crate::render::time;
use crate::scan::rows;
use crate::stats::Latest;
use crate::{Filter, Report, ReportError, Section};

const SPAN_COLUMNS: [&str; 8] =
    ["StatusCode", "TraceId", "SpanId", "SpanName", "AgentName", "ErrorType", "StatusMessage", "ServiceName"];
const LOG_COLUMNS: [&str; 6] = ["SeverityNumber", "TraceId", "SpanId", "SeverityText", "Body", "ServiceName"];

/// OTLP severity numbers from ERROR (17) up.
const ERROR_SEVERITY: i64 = 17;

/// The latest `limit` error spans and error records.
pub fn report(root: &Snapshot, f: &Filter, limit: usize) -> Result<Report, ReportError> {
    let mut spans = Latest::new(limit);
    let mut total_spans = 0u64;
    rows(root, Table::Traces, f, &SPAN_COLUMNS, |b, i| {
        let c = |k: usize| &b.cols[k];
        if !c(0).is(i, "Error") {
            return;
        }
        total_spans += 1;
        spans.offer(b.time(i), || {
            let s = |k: usize| c(k).str(i).unwrap_or("").to_owned();
            let who = c(4).str(i).or_else(|| c(7).str(i)).unwrap_or("").to_owned();
            [s(1), s(2), s(3), who, c(5).str(i).unwrap_or("unknown").to_owned(), s(6)]
        });
    })?;
    let mut logs = Latest::new(limit);
    let mut total_logs = 0u64;
    rows(root, Table::Logs, f, &LOG_COLUMNS, |b, i| {
        let c = |k: usize| &b.cols[k];
        if c(0).int(i).unwrap_or(0) < ERROR_SEVERITY {
            return;
        }
        total_logs += 1;
        logs.offer(b.time(i), || {
            let s = |k: usize| c(k).str(i).unwrap_or("").to_owned();
            [s(1), s(2), s(5), s(3), s(4)]
        });
    })?;
    let mut a = Section::new(
        format!("Error spans: {total_spans} (latest {})", spans.items.len()),
        &["time", "trace", "span", "operation", "agent", "type", "message"],
    );
    for (t, r) in &spans.items {
        let mut row = vec![time(*t)];
        row.extend(r.iter().cloned());
        a.row(row);
    }
    let mut l = Section::new(
        format!("Error log records: {total_logs} (latest {})", logs.items.len()),
        &["time", "trace", "span", "service", "severity", "message"],
    );
    for (t, r) in &logs.items {
        let mut row = vec![time(*t)];
        row.extend(r.iter().cloned());
        l.row(row);
    }
    let json = json!({
        "errorSpans": total_spans,
        "errorLogRecords": total_logs,
        "spans": spans.items.iter().map(|(t, r)| json!({
            "time": time(*t), "traceId": r[0], "spanId": r[1], "operation": r[2], "agent": r[3], "type": r[4], "message": r[5],
        })).collect::<Vec<_>>(),
        "logRecords": logs.items.iter().map(|(t, r)| json!({
            "time": time(*t), "traceId": r[0], "spanId": r[1], "service": r[2], "severity": r[3], "message": r[4],
        })).collect::<Vec<_>>(),
    });
    Ok(Report { title: "Recent errors".into(), sections: vec![a, l], json, charts: Vec::new() })
}
