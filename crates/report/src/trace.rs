//! `report trace ID`: one trace as a tree with timings, drawn as a terminal waterfall like
//! Jaeger's. ID is a trace id, or a workflow id (`WorkflowId`): then every trace of that
//! workflow is shown.

use std::collections::{BTreeMap, HashMap, HashSet};
use tsim_store::Snapshot;

use serde_json::json;
use tsim_store::Table;

use crate::render::time;
use crate::scan::rows;
use crate::{Filter, Report, ReportError, Section};

const COLUMNS: [&str; 9] = [
    "TraceId",
    "SpanId",
    "ParentSpanId",
    "SpanName",
    "Duration",
    "StatusCode",
    "AgentName",
    "WorkflowId",
    "ServiceName",
];

/// Width of the waterfall's bars, in characters.
const WIDTH: usize = 40;

/// A span of the trace.
#[derive(Debug, Clone)]
struct Span {
    id: String,
    parent: String,
    name: String,
    service: String,
    agent: Option<String>,
    start: i64,
    duration: u64,
    status: String,
}

/// The spans in tree order (each after its parent, siblings by start), with their depth.
fn tree(spans: &[Span]) -> Vec<(usize, &Span)> {
    let ids: HashSet<&str> = spans.iter().map(|s| s.id.as_str()).collect();
    let mut children: HashMap<&str, Vec<&Span>> = HashMap::new();
    let mut roots = Vec::new();
    for s in spans {
        if s.parent.is_empty() || !ids.contains(s.parent.as_str()) {
            roots.push(s);
        } else {
            children.entry(s.parent.as_str()).or_default().push(s);
        }
    }
    let order = |v: &mut Vec<&Span>| v.sort_by(|a, b| a.start.cmp(&b.start).then(a.id.cmp(&b.id)));
    order(&mut roots);
    for v in children.values_mut() {
        order(v);
    }
    let mut out = Vec::with_capacity(spans.len());
    let mut stack: Vec<(usize, &Span)> = roots.into_iter().rev().map(|s| (0, s)).collect();
    while let Some((d, s)) = stack.pop() {
        out.push((d, s));
        if let Some(c) = children.get(s.id.as_str()) {
            stack.extend(c.iter().rev().map(|c| (d + 1, *c)));
        }
    }
    out
}

fn bar(start: i64, duration: u64, t0: i64, total: u64) -> String {
    let total = total.max(1) as f64;
    let from = ((start - t0).max(0) as f64 / total * WIDTH as f64).floor() as usize;
    let len = ((duration as f64 / total * WIDTH as f64).round() as usize).max(1);
    let from = from.min(WIDTH - 1);
    let len = len.min(WIDTH - from);
    format!("{}{}{}", " ".repeat(from), "█".repeat(len), " ".repeat(WIDTH - from - len))
}

/// The trace(s) of `id`.
pub fn report(root: &Snapshot, f: &Filter, id: &str) -> Result<Report, ReportError> {
    let mut traces: BTreeMap<String, Vec<Span>> = BTreeMap::new();
    rows(root, Table::Traces, f, &COLUMNS, |b, i| {
        let c = |k: usize| &b.cols[k];
        if !c(0).is(i, id) && !c(7).is(i, id) {
            return;
        }
        let s = |k: usize| c(k).str(i).unwrap_or("").to_owned();
        traces.entry(s(0)).or_default().push(Span {
            id: s(1),
            parent: s(2),
            name: s(3),
            service: s(8),
            agent: c(6).str(i).map(str::to_owned),
            start: b.time(i),
            duration: c(4).int(i).unwrap_or(0).cast_unsigned(),
            status: s(5),
        });
    })?;
    let mut sections = Vec::new();
    let mut docs = Vec::new();
    for (trace, spans) in &traces {
        let t0 = spans.iter().map(|s| s.start).min().unwrap_or(0);
        let end = spans.iter().map(|s| s.start + s.duration.cast_signed()).max().unwrap_or(t0);
        let total = (end - t0).cast_unsigned();
        let ordered = tree(spans);
        let mut sec = Section::new(
            format!("Trace {trace}: {} spans, {:.3} s, from {}", spans.len(), total as f64 / 1e9, time(t0)),
            &["span", "service", "start (ms)", "duration (ms)", "status", "timeline"],
        );
        for (d, s) in &ordered {
            let name = match &s.agent {
                Some(a) if !s.name.contains(a.as_str()) => format!("{}{} [{a}]", "  ".repeat(*d), s.name),
                _ => format!("{}{}", "  ".repeat(*d), s.name),
            };
            sec.row(vec![
                name,
                s.service.clone(),
                format!("{:.1}", (s.start - t0) as f64 / 1e6),
                format!("{:.1}", s.duration as f64 / 1e6),
                s.status.clone(),
                bar(s.start, s.duration, t0, total),
            ]);
        }
        sections.push(sec);
        docs.push(json!({
            "traceId": trace,
            "start": time(t0),
            "durationSeconds": total as f64 / 1e9,
            "spans": ordered.iter().map(|(d, s)| json!({
                "spanId": s.id, "parentSpanId": s.parent, "name": s.name, "service": s.service, "agent": s.agent,
                "depth": d, "offsetSeconds": (s.start - t0) as f64 / 1e9, "durationSeconds": s.duration as f64 / 1e9,
                "status": s.status,
            })).collect::<Vec<_>>(),
        }));
    }
    if sections.is_empty() {
        sections.push(Section::new(format!("No trace or workflow {id}"), &["span"]));
    }
    Ok(Report { title: format!("Trace {id}"), sections, json: json!({"id": id, "traces": docs}), charts: Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: &str, parent: &str, start: i64) -> Span {
        Span {
            id: id.into(),
            parent: parent.into(),
            name: id.into(),
            service: String::new(),
            agent: None,
            start,
            duration: 10,
            status: "Unset".into(),
        }
    }

    #[test]
    fn the_tree_puts_children_under_parents_by_start() {
        let spans = vec![
            span("c2", "r", 30),
            span("r", "", 0),
            span("g", "c1", 15),
            span("c1", "r", 10),
            span("orphan", "x", 5),
        ];
        let order: Vec<(usize, &str)> = tree(&spans).into_iter().map(|(d, s)| (d, s.id.as_str())).collect();
        assert_eq!(order, vec![(0, "r"), (1, "c1"), (2, "g"), (1, "c2"), (0, "orphan")]);
        assert_eq!(bar(0, 100, 0, 100).chars().filter(|c| *c == '█').count(), WIDTH);
        assert_eq!(bar(50, 1, 0, 100).find('█'), Some(WIDTH / 2));
    }
}
