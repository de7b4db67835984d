//! `report artifacts [PATH]`: the artifact diffs of the paper-writing workflow's spec, read
//! from the log records that carry them (`artifact.path`, promoted to `ArtifactPath`). With
//! a path (or a `*` pattern): its version history, newest first, in the spec's
//! `artifactDiff` shape; without: every artifact with its diffs, latest version and review
//! status. Also the counts the summary shows (created, pending review, approved, rejected)
//! and the pending reviews activity lists.

use std::collections::BTreeMap;
use tsim_store::Snapshot;

use serde_json::json;
use tsim_store::Table;

use crate::render::time;
use crate::scan::{Batch, fold, rows};
use crate::stats::Latest;
use crate::{Filter, Report, ReportError, Section};

/// The columns an artifact diff is read from.
const COLUMNS: [&str; 5] = ["ArtifactPath", "ReviewStatus", "LogAttributes", "TraceId", "SpanId"];

/// One artifact diff.
#[derive(Debug, Clone)]
pub struct Diff {
    /// `artifact.diff_id`.
    pub id: String,
    /// When it was written (Unix ns).
    pub time: i64,
    /// The run (`run.id`).
    pub run: String,
    /// The agent that wrote it (`agent_id`).
    pub agent: String,
    /// `artifact.path`.
    pub path: String,
    /// `artifact.type`.
    pub kind: String,
    /// The version it changed (`artifact.version`); it made the next one.
    pub version: i64,
    /// `artifact.previous_hash`.
    pub previous_hash: String,
    /// `artifact.current_hash`.
    pub current_hash: String,
    /// Lines added.
    pub added: i64,
    /// Lines removed.
    pub removed: i64,
    /// `artifact.changed_sections`, split at ", ".
    pub sections: Vec<String>,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// When it was reviewed (Unix ns), if it was.
    pub reviewed_at: Option<i64>,
    /// Its trace.
    pub trace: String,
    /// Its span.
    pub span: String,
}

impl Diff {
    fn read(b: &Batch, i: usize) -> Diff {
        let attrs = &b.cols[2];
        let s = |k: &str| attrs.get(i, k).unwrap_or("").to_owned();
        let n = |k: &str| attrs.get(i, k).and_then(|v| v.parse().ok());
        Diff {
            id: s("artifact.diff_id"),
            time: b.time(i),
            run: ["run.id", "run_id", "runId"].iter().find_map(|k| attrs.get(i, k)).unwrap_or("").to_owned(),
            agent: ["agent_id", "agent.id", "gen_ai.agent.name"]
                .iter()
                .find_map(|k| attrs.get(i, k))
                .unwrap_or("")
                .to_owned(),
            path: b.cols[0].str(i).unwrap_or("").to_owned(),
            kind: s("artifact.type"),
            version: n("artifact.version").unwrap_or(0),
            previous_hash: s("artifact.previous_hash"),
            current_hash: s("artifact.current_hash"),
            added: n("artifact.added_lines").unwrap_or(0),
            removed: n("artifact.removed_lines").unwrap_or(0),
            sections: attrs
                .get(i, "artifact.changed_sections")
                .map(|v| v.split(", ").filter(|s| !s.is_empty()).map(str::to_owned).collect())
                .unwrap_or_default(),
            status: b.cols[1].str(i).unwrap_or("pending").to_owned(),
            reviewed_at: n("artifact.reviewed_at_ns"),
            trace: b.cols[3].str(i).unwrap_or("").to_owned(),
            span: b.cols[4].str(i).unwrap_or("").to_owned(),
        }
    }

    /// "+250 lines, -30 lines", as the spec's `diff.summary`.
    pub fn summary(&self) -> String {
        format!("+{} lines, -{} lines", self.added, self.removed)
    }

    /// The spec's `artifactDiff` object.
    pub fn json(&self) -> serde_json::Value {
        let version = |v: i64| format!("{}.v{v}", self.path);
        json!({
            "id": format!("diff-{}", self.id),
            "timestamp": time(self.time),
            "runId": self.run,
            "agentId": self.agent,
            "artifact": {"path": self.path, "type": self.kind},
            "changes": {
                "previousHash": self.previous_hash,
                "currentHash": self.current_hash,
                "previousVersion": version(self.version),
                "currentVersion": version(self.version + 1),
            },
            "diff": {
                "summary": self.summary(),
                "addedLines": self.added,
                "removedLines": self.removed,
                "changedSections": self.sections,
            },
            "review": {
                "status": self.status,
                "reviewedAt": self.reviewed_at.map(time),
            },
            "traceId": self.trace,
            "spanId": self.span,
        })
    }
}

/// Whether `path` matches `pattern`: equal, or with `*` standing for any run of characters.
pub fn matches(pattern: &str, path: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = path.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for p in middle {
        match rest.find(p) {
            Some(at) => rest = &rest[at + p.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Calls `each` with every artifact diff that passes the filter (and whose path matches
/// `pattern`, if given).
fn each_diff(
    root: &Snapshot,
    f: &Filter,
    pattern: Option<&str>,
    mut each: impl FnMut(&Batch, usize),
) -> Result<(), ReportError> {
    rows(root, Table::Logs, f, &COLUMNS, |b, i| {
        if let Some(path) = b.cols[0].str(i)
            && pattern.is_none_or(|p| matches(p, path))
        {
            each(b, i);
        }
    })
}

/// Artifact diffs by review status.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Diffs written (each a new version of an artifact).
    pub created: u64,
    /// Not reviewed yet.
    pub pending: u64,
    /// Approved.
    pub approved: u64,
    /// Rejected.
    pub rejected: u64,
}

/// How many artifact diffs were written, and their review status. Only the promoted
/// columns are read, on every core.
pub fn counts(root: &Snapshot, f: &Filter) -> Result<Counts, ReportError> {
    let parts = fold(root, Table::Logs, f, &COLUMNS[..2], Counts::default, |c, b, i| {
        if b.cols[0].bytes(i).is_none() {
            return;
        }
        c.created += 1;
        match b.cols[1].str(i) {
            Some("approved") => c.approved += 1,
            Some("rejected") => c.rejected += 1,
            _ => c.pending += 1,
        }
    })?;
    Ok(parts.into_iter().fold(Counts::default(), |a, b| Counts {
        created: a.created + b.created,
        pending: a.pending + b.pending,
        approved: a.approved + b.approved,
        rejected: a.rejected + b.rejected,
    }))
}

/// The latest `limit` diffs still pending review, newest first, and how many there are.
pub fn pending(root: &Snapshot, f: &Filter, limit: usize) -> Result<(u64, Vec<Diff>), ReportError> {
    let mut latest = Latest::new(limit);
    let mut n = 0;
    each_diff(root, f, None, |b, i| {
        if b.cols[1].str(i).is_none_or(|s| s == "pending") {
            n += 1;
            latest.offer(b.time(i), || Diff::read(b, i));
        }
    })?;
    Ok((n, latest.items.into_iter().map(|(_, d)| d).collect()))
}

/// Per artifact path, for the list.
#[derive(Debug, Default)]
struct Artifact {
    kind: String,
    diffs: u64,
    pending: u64,
    added: i64,
    removed: i64,
    /// The latest diff: time, version, status.
    latest: (i64, i64, String),
}

/// The report: the history of the artifacts matching `pattern` (the latest `limit` diffs), or
/// the list of artifacts.
pub fn report(root: &Snapshot, f: &Filter, pattern: Option<&str>, limit: usize) -> Result<Report, ReportError> {
    match pattern {
        Some(p) => history(root, f, p, limit),
        None => list(root, f),
    }
}

fn history(root: &Snapshot, f: &Filter, pattern: &str, limit: usize) -> Result<Report, ReportError> {
    let mut latest = Latest::new(limit);
    let mut total = 0u64;
    each_diff(root, f, Some(pattern), |b, i| {
        total += 1;
        latest.offer(b.time(i), || Diff::read(b, i));
    })?;
    let mut s = Section::new(
        format!("{total} diffs (latest {})", latest.items.len()),
        &["time", "path", "version", "agent", "diff", "changed sections", "review", "reviewed", "run", "trace"],
    );
    for (_, d) in &latest.items {
        s.row(vec![
            time(d.time),
            d.path.clone(),
            format!("v{} → v{}", d.version, d.version + 1),
            d.agent.clone(),
            d.summary(),
            d.sections.join(", "),
            d.status.clone(),
            d.reviewed_at.map(time).unwrap_or_default(),
            d.run.clone(),
            d.trace.clone(),
        ]);
    }
    let json = json!({
        "pattern": pattern,
        "diffs": total,
        "history": latest.items.iter().map(|(_, d)| d.json()).collect::<Vec<_>>(),
    });
    Ok(Report { title: format!("Artifact history: {pattern}"), sections: vec![s], json, charts: Vec::new() })
}

fn list(root: &Snapshot, f: &Filter) -> Result<Report, ReportError> {
    let mut by_path: BTreeMap<String, Artifact> = BTreeMap::new();
    each_diff(root, f, None, |b, i| {
        let path = b.cols[0].str(i).unwrap_or("");
        let a = match by_path.get_mut(path) {
            Some(a) => a,
            None => by_path.entry(path.to_owned()).or_default(),
        };
        let attrs = &b.cols[2];
        let n = |k: &str| attrs.get(i, k).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
        let status = b.cols[1].str(i).unwrap_or("pending");
        a.diffs += 1;
        a.pending += u64::from(status == "pending");
        a.added += n("artifact.added_lines");
        a.removed += n("artifact.removed_lines");
        let t = b.time(i);
        if a.diffs == 1 || t >= a.latest.0 {
            a.kind = attrs.get(i, "artifact.type").unwrap_or("").to_owned();
            a.latest = (t, n("artifact.version") + 1, status.to_owned());
        }
    })?;
    let mut s = Section::new(
        format!("{} artifacts", by_path.len()),
        &["path", "type", "diffs", "pending", "lines +", "lines -", "latest", "changed", "status"],
    );
    for (p, a) in &by_path {
        s.row(vec![
            p.clone(),
            a.kind.clone(),
            a.diffs.to_string(),
            a.pending.to_string(),
            a.added.to_string(),
            a.removed.to_string(),
            format!("v{}", a.latest.1),
            time(a.latest.0),
            a.latest.2.clone(),
        ]);
    }
    let json = json!({
        "artifacts": by_path.iter().map(|(p, a)| json!({
            "path": p,
            "type": a.kind,
            "diffs": a.diffs,
            "pending": a.pending,
            "addedLines": a.added,
            "removedLines": a.removed,
            "latestVersion": a.latest.1,
            "lastChanged": time(a.latest.0),
            "status": a.latest.2,
        })).collect::<Vec<_>>(),
    });
    Ok(Report { title: "Artifacts".into(), sections: vec![s], json, charts: Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn patterns_match_as_globs() {
        assert!(matches("a/b.tex", "a/b.tex"));
        assert!(!matches("a/b.tex", "a/b.tex2"));
        assert!(matches("output-drafts/sections/*", "output-drafts/sections/01_section.tex"));
        assert!(matches("*.tex", "x/y.tex"));
        assert!(matches("*/0*_section.tex", "s/01_section.tex"));
        assert!(!matches("*/0*_section.tex", "s/01_section.md"));
        assert!(matches("*", ""));
        assert!(!matches("a*a", "a"));
    }
}
