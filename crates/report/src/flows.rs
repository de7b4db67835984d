//! `report flows`: the paths through the system (the VOS guide's message-flow query) — per
//! trace, the components its spans run in (`Component`: `vos.service` or `component`, else
//! the service), in order of start, repeats in a row collapsed; each path with how many
//! traces took it and their mean duration (first start to last end). Memory grows with the
//! spans of the window read: narrow it with `--since`/`--until` for a large store.

use std::collections::HashMap;
use tsim_store::Snapshot;

use serde_json::json;
use tsim_store::Table;

use crate::render::secs;
use crate::scan::rows;
use crate::stats::Names;
use crate::{Filter, Report, ReportError, Section};

const COLUMNS: [&str; 5] = ["TraceId", "SpanId", "Duration", "Component", "ServiceName"];

/// A trace's spans as (start, span id, component index).
type Steps = Vec<(i64, String, u32)>;

/// Paths, most frequent first, at most `limit`.
pub fn report(root: &Snapshot, f: &Filter, limit: usize) -> Result<Report, ReportError> {
    // Per trace: its spans (start, span id, component index), and its end.
    let mut names = Names::default();
    let mut traces: HashMap<String, (Steps, i64)> = HashMap::new();
    rows(root, Table::Traces, f, &COLUMNS, |b, i| {
        let c = |k: usize| &b.cols[k];
        let comp = c(3).str(i).or_else(|| c(4).str(i)).unwrap_or("");
        let n = names.id(comp);
        let start = b.time(i);
        let end = start + c(2).int(i).unwrap_or(0);
        let e = traces.entry(c(0).str(i).unwrap_or("").to_owned()).or_insert_with(|| (Vec::new(), i64::MIN));
        e.0.push((start, c(1).str(i).unwrap_or("").to_owned(), n));
        e.1 = e.1.max(end);
    })?;
    let mut paths: HashMap<Vec<u32>, (u64, f64)> = HashMap::new();
    for (_, (mut spans, end)) in traces {
        spans.sort();
        let first = spans.first().map_or(0, |s| s.0);
        let mut path: Vec<u32> = spans.iter().map(|s| s.2).collect();
        path.dedup();
        let e = paths.entry(path).or_default();
        e.0 += 1;
        e.1 += (end - first) as f64 / 1e9;
    }
    let mut list: Vec<(String, Vec<String>, u64, f64)> = paths
        .into_iter()
        .map(|(p, (n, sum))| {
            let steps: Vec<String> = p.iter().map(|i| names.name(*i).to_owned()).collect();
            (steps.join(" → "), steps, n, sum / n as f64)
        })
        .collect();
    list.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    let total: u64 = list.iter().map(|p| p.2).sum();
    list.truncate(limit);
    let mut s = Section::new(format!("Paths of {total} traces"), &["path", "traces", "avg (s)"]);
    for (p, _, n, avg) in &list {
        s.row(vec![p.clone(), n.to_string(), secs(*avg)]);
    }
    let json = json!({
        "traces": total,
        "flows": list.iter().map(|(_, steps, n, avg)| json!({"path": steps, "traces": n, "avgDuration": avg})).collect::<Vec<_>>(),
    });
    let chart = crate::Chart::Bars {
        title: "Flow frequencies".into(),
        x_label: "traces".into(),
        bars: list.iter().map(|(p, _, n, _)| (p.clone(), *n as f64)).collect(),
    };
    Ok(Report { title: "Message flows".into(), sections: vec![s], json, charts: vec![chart] })
}
