//! `report summary`: the daily summary of the paper-writing workflow's observability spec —
//! runs (traces: their root spans), success rate, average duration, active workflows; per
//! agent runs, success rate, average and p95 duration; errors by type; artifacts created,
//! pending review, approved and rejected.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use tsim_store::Snapshot;

use serde_json::json;
use tsim_store::Table;

use crate::render::{pct, secs, time};
use crate::scan::fold;
use crate::stats::{Durations, Names, id_key};
use crate::{Filter, Report, ReportError, Section};

/// The columns the summary reads (after the filter's).
const COLUMNS: [&str; 7] = ["ParentSpanId", "SpanName", "Duration", "StatusCode", "AgentName", "ErrorType", "SpanId"];

/// Statistics per agent, over the spans that name one (`AgentName`: `gen_ai.agent.name`,
/// `agent_name` or `agent.name`): one span per agent run.
pub type ByAgent = BTreeMap<String, Durations>;

/// The summary's figures.
#[derive(Debug, Default)]
pub struct Summary {
    /// Root spans (one per run of a workflow).
    pub runs: Durations,
    /// Distinct workflows (root span names) among the runs.
    pub workflows: BTreeSet<String>,
    /// Per agent.
    pub agents: ByAgent,
    /// Spans with status Error.
    pub error_spans: u64,
    /// Errors: error spans where the failure started (no error span below them; a failure
    /// that bubbles up to its agent and workflow is one error, not three).
    pub errors: u64,
    /// Errors by `error.type` (`unknown` without one).
    pub error_types: HashMap<String, u64>,
    /// Error spans seen: (key of the span, key of its parent, type), until the
    /// end says which of them have an error span below.
    failed: Vec<(u64, u64, u32)>,
    /// The error types.
    type_names: Names,
    /// First and last span start seen (Unix ns).
    pub first: Option<i64>,
    /// Last span start seen.
    pub last: Option<i64>,
    /// Artifact diffs by review status.
    pub artifacts: crate::artifacts::Counts,
}

impl Summary {
    /// Adds one span.
    fn add(&mut self, b: &crate::scan::Batch, i: usize) {
        let c = |k: usize| &b.cols[k];
        let t = Some(b.time(i));
        self.first = self.first.min(t).or(t);
        self.last = self.last.max(t);
        let duration = c(2).int(i).unwrap_or(0).cast_unsigned();
        let error = c(3).is(i, "Error");
        if c(0).bytes(i).is_none_or(<[u8]>::is_empty) {
            self.runs.add(duration, error);
            if let Some(name) = c(1).str(i)
                && !self.workflows.contains(name)
            {
                self.workflows.insert(name.to_owned());
            }
        }
        if let Some(agent) = c(4).str(i) {
            match self.agents.get_mut(agent) {
                Some(d) => d.add(duration, error),
                None => self.agents.entry(agent.to_owned()).or_default().add(duration, error),
            }
        }
        if error {
            self.error_spans += 1;
            let ty = c(5).str(i).unwrap_or("unknown");
            let t = self.type_names.id(ty);
            // Span ids are 64 random bits: unique across traces in practice, so the trace id
            // (another column to read for every span) is not needed to match a parent.
            let parent = c(0).bytes(i).unwrap_or(b"");
            self.failed.push((id_key(c(6).bytes(i).unwrap_or(b"")), id_key(parent), t));
        }
    }

    /// Counts the errors where failures started: error spans no other error span has as its
    /// parent.
    fn origins(&mut self) {
        let parents: std::collections::HashSet<u64> = self.failed.iter().map(|f| f.1).collect();
        for &(span, _, t) in &self.failed {
            if !parents.contains(&span) {
                self.errors += 1;
                *self.error_types.entry(self.type_names.name(t).to_owned()).or_default() += 1;
            }
        }
        self.failed = Vec::new();
    }

    /// Adds another part's figures to these.
    fn merge(&mut self, o: Summary) {
        self.runs.merge(&o.runs);
        self.workflows.extend(o.workflows);
        for (a, d) in o.agents {
            self.agents.entry(a).or_default().merge(&d);
        }
        self.error_spans += o.error_spans;
        for (span, parent, t) in o.failed {
            let t = self.type_names.id(o.type_names.name(t));
            self.failed.push((span, parent, t));
        }
        self.first = match (self.first, o.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last = self.last.max(o.last);
    }
}

/// Computes the summary of the store at `root` (the files shared among the cores).
pub fn compute(root: &Snapshot, f: &Filter) -> Result<Summary, ReportError> {
    let parts = fold(root, Table::Traces, f, &COLUMNS, Summary::default, Summary::add)?;
    let mut s = Summary::default();
    for p in parts {
        s.merge(p);
    }
    s.origins();
    s.artifacts = crate::artifacts::counts(root, f)?;
    Ok(s)
}

/// Agents by runs, most first (then by name).
pub fn agents_by_runs(agents: &ByAgent) -> Vec<(&String, &Durations)> {
    let mut v: Vec<_> = agents.iter().collect();
    v.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
    v
}

/// The summary as a report.
pub fn report(root: &Snapshot, f: &Filter) -> Result<Report, ReportError> {
    let s = compute(root, f)?;
    let mut types: Vec<(&String, &u64)> = s.error_types.iter().collect();
    types.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let agents = agents_by_runs(&s.agents);
    let date = s.first.map(|t| time(t)[..10].to_owned()).unwrap_or_default();

    let mut overview = Section::new("Overview", &["", ""]);
    overview.row(vec!["runs".into(), s.runs.count.to_string()]);
    overview.row(vec!["success rate".into(), pct(s.runs.success_rate())]);
    overview.row(vec!["average duration (s)".into(), secs(s.runs.mean_s())]);
    overview.row(vec!["active workflows".into(), s.workflows.len().to_string()]);
    overview.row(vec!["from".into(), s.first.map(time).unwrap_or_default()]);
    overview.row(vec!["to".into(), s.last.map(time).unwrap_or_default()]);
    let mut by_agent = Section::new("By agent", &["agent", "runs", "success", "avg (s)", "p95 (s)"]);
    for (a, d) in &agents {
        by_agent.row(vec![
            (*a).clone(),
            d.count.to_string(),
            pct(d.success_rate()),
            secs(d.mean_s()),
            secs(d.quantile_s(0.95)),
        ]);
    }
    let mut errors = Section::new(
        format!("Errors: {} (where a failure started; {} spans with status Error)", s.errors, s.error_spans),
        &["type", "count"],
    );
    for (t, n) in &types {
        errors.row(vec![(*t).clone(), n.to_string()]);
    }
    let a = s.artifacts;
    let mut artifacts = Section::new(format!("Artifacts: {} diffs written", a.created), &["review", "count"]);
    artifacts.row(vec!["pending".into(), a.pending.to_string()]);
    artifacts.row(vec!["approved".into(), a.approved.to_string()]);
    artifacts.row(vec!["rejected".into(), a.rejected.to_string()]);
    let json = json!({
        "dailySummary": {
            "date": date,
            "from": s.first.map(time),
            "to": s.last.map(time),
            "overview": {
                "totalRuns": s.runs.count,
                "successRate": s.runs.success_rate(),
                "averageDuration": s.runs.mean_s(),
                "activeWorkflows": s.workflows.len(),
            },
            "byAgent": agents.iter().map(|(a, d)| json!({
                "agent": a,
                "runs": d.count,
                "successRate": d.success_rate(),
                "avgDuration": d.mean_s(),
                "p95Duration": d.quantile_s(0.95),
            })).collect::<Vec<_>>(),
            "errors": {
                "total": s.errors,
                "errorSpans": s.error_spans,
                "byType": types.iter().map(|(t, n)| json!({"type": t, "count": n})).collect::<Vec<_>>(),
            },
            "artifacts": {
                "created": a.created,
                "pendingReview": a.pending,
                "approved": a.approved,
                "rejected": a.rejected,
            },
        }
    });
    let latency = crate::Chart::Quantiles {
        title: "Latency distribution per agent".into(),
        series: agents.iter().map(|(a, d)| ((*a).clone(), d.percentiles())).collect(),
    };
    Ok(Report {
        title: format!("Daily summary {date}"),
        sections: vec![overview, by_agent, errors, artifacts],
        json,
        charts: vec![latency],
    })
}
