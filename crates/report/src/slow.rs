//! `report slow --threshold D`: slow operations, as the VOS guide's query finds them — per
//! (agent, operation) the mean and longest duration and the count, where the mean is at
//! least the threshold, slowest first. The agent is `AgentName`, else the service; the
//! operation is the span name.

use std::collections::HashMap;
use tsim_store::Snapshot;

use serde_json::json;
use tsim_store::Table;

use crate::scan::rows;
use crate::stats::Durations;
use crate::{Filter, Report, ReportError, Section, render::secs};

const COLUMNS: [&str; 4] = ["AgentName", "SpanName", "Duration", "ServiceName"];

/// Slow operations with a mean duration of at least `threshold_ns`, at most `limit`.
pub fn report(root: &Snapshot, f: &Filter, threshold_ns: u64, limit: usize) -> Result<Report, ReportError> {
    let mut groups: HashMap<String, HashMap<String, Durations>> = HashMap::new();
    rows(root, Table::Traces, f, &COLUMNS, |b, i| {
        let c = |k: usize| &b.cols[k];
        let who = c(0).str(i).or_else(|| c(3).str(i)).unwrap_or("");
        let op = c(1).str(i).unwrap_or("");
        let d = c(2).int(i).unwrap_or(0).cast_unsigned();
        // Look up by borrowed keys: allocate only for a new group.
        let ops = match groups.get_mut(who) {
            Some(o) => o,
            None => groups.entry(who.to_owned()).or_default(),
        };
        match ops.get_mut(op) {
            Some(g) => g.add(d, false),
            None => ops.entry(op.to_owned()).or_default().add(d, false),
        }
    })?;
    let groups = groups.into_iter().flat_map(|(who, ops)| ops.into_iter().map(move |(op, d)| ((who.clone(), op), d)));
    let threshold = threshold_ns as f64 / 1e9;
    let mut slow: Vec<_> = groups.into_iter().filter(|(_, d)| d.mean_s() >= threshold).collect();
    slow.sort_by(|a, b| b.1.mean_s().total_cmp(&a.1.mean_s()).then_with(|| a.0.cmp(&b.0)));
    slow.truncate(limit);
    let mut s = Section::new(
        format!("Mean duration ≥ {} s", secs(threshold)),
        &["agent", "operation", "avg (s)", "max (s)", "count"],
    );
    for ((who, op), d) in &slow {
        s.row(vec![who.clone(), op.clone(), secs(d.mean_s()), secs(d.max_s()), d.count.to_string()]);
    }
    let json = json!({
        "thresholdSeconds": threshold,
        "operations": slow.iter().map(|((who, op), d)| json!({
            "agent": who, "operation": op, "avgDuration": d.mean_s(), "maxDuration": d.max_s(), "count": d.count,
        })).collect::<Vec<_>>(),
    });
    Ok(Report { title: "Slow operations".into(), sections: vec![s], json, charts: Vec::new() })
}
