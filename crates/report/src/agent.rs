//! `report agent NAME`: one agent's runs (spans whose `AgentName` is NAME) — count, success
//! rate, duration mean / p50 / p95 / p99 / max, errors by type, and its latest runs.

use std::collections::BTreeMap;
use tsim_store::Snapshot;

use serde_json::json;
use tsim_store::Table;

use crate::render::{pct, secs, time};
use crate::scan::rows;
use crate::stats::{Durations, Latest};
use crate::{Filter, Report, ReportError, Section};

const COLUMNS: [&str; 5] = ["AgentName", "Duration", "StatusCode", "ErrorType", "TraceId"];

/// How many latest runs are listed.
const LATEST: usize = 10;

/// One agent's report.
pub fn report(root: &Snapshot, f: &Filter, agent: &str) -> Result<Report, ReportError> {
    let mut d = Durations::default();
    let mut types: BTreeMap<String, u64> = BTreeMap::new();
    // The latest runs: (trace, duration, status), newest first.
    let mut latest = Latest::new(LATEST);
    rows(root, Table::Traces, f, &COLUMNS, |b, i| {
        let c = |k: usize| &b.cols[k];
        if c(0).str(i) != Some(agent) {
            return;
        }
        let duration = c(1).int(i).unwrap_or(0).cast_unsigned();
        let status = c(2).str(i).unwrap_or("Unset");
        d.add(duration, status == "Error");
        if status == "Error" {
            *types.entry(c(3).str(i).unwrap_or("unknown").to_owned()).or_default() += 1;
        }
        let t = b.time(i);
        latest.offer(t, || (c(4).str(i).unwrap_or("").to_owned(), duration, status.to_owned()));
    })?;
    let mut stats = Section::new("Runs", &["", ""]);
    for (k, v) in [
        ("runs", d.count.to_string()),
        ("success rate", pct(d.success_rate())),
        ("mean (s)", secs(d.mean_s())),
        ("p50 (s)", secs(d.quantile_s(0.5))),
        ("p95 (s)", secs(d.quantile_s(0.95))),
        ("p99 (s)", secs(d.quantile_s(0.99))),
        ("max (s)", secs(d.max_s())),
    ] {
        stats.row(vec![k.to_owned(), v]);
    }
    let mut errors = Section::new(format!("Errors: {}", d.errors), &["type", "count"]);
    for (t, n) in &types {
        errors.row(vec![t.clone(), n.to_string()]);
    }
    let mut recent = Section::new("Latest runs", &["start", "trace", "duration (s)", "status"]);
    for (t, (trace, dur, status)) in &latest.items {
        recent.row(vec![time(*t), trace.clone(), secs(*dur as f64 / 1e9), status.clone()]);
    }
    let json = json!({
        "agent": agent,
        "runs": d.count,
        "successRate": d.success_rate(),
        "duration": {"mean": d.mean_s(), "p50": d.quantile_s(0.5), "p95": d.quantile_s(0.95), "p99": d.quantile_s(0.99), "max": d.max_s()},
        "errors": {"total": d.errors, "byType": types.iter().map(|(t, n)| json!({"type": t, "count": n})).collect::<Vec<_>>()},
        "latest": latest.items.iter().map(|(t, (trace, dur, status))| json!({"start": time(*t), "traceId": trace, "duration": *dur as f64 / 1e9, "status": status})).collect::<Vec<_>>(),
    });
    Ok(Report {
        title: format!("Agent {agent}"),
        sections: vec![stats, errors, recent],
        json,
        charts: vec![crate::Chart::Quantiles {
            title: format!("Latency distribution of {agent}"),
            series: vec![(agent.to_owned(), d.percentiles())],
        }],
    })
}
