//! The artifact-diff log of the paper-writing workflow's spec (`artifact_diffs.jsonl`): one JSON object per artifact
//! a span wrote, in the paper-writing spec's `artifactDiff` shape — `id`, `timestamp`, `runId`, `agentId`,
//! `artifact` {path, type}, `changes` {hashes, versions}, `diff` {summary, line counts,
//! changed sections}, `review` {status, reviewer, time, comments} — plus `traceId` / `spanId`.
//! Artifact diffs are the log records whose `log_type` is `artifact_diff`.

use std::io::Write;

use crate::hex::push_hex;
use crate::otlp_json::write_str;
use crate::time::push_rfc3339;
use crate::trace::{AnyValue, LogRecord, Resources, TraceBuf};
use crate::{Pick, RenderLines, each_picked};

/// Keys a run id is read from (the record's attributes, then its span and ancestors).
const RUN_ID: &[&str] = &["run.id", "run_id", "runId", "paper.run.id"];

/// Renders artifact diffs as lines (wrap in [`crate::Lines`]).
#[derive(Debug, Default)]
pub struct ArtifactEncoder {
    ts: String,
    text: String,
}

impl ArtifactEncoder {
    /// A new encoder.
    pub fn new() -> Self {
        Self::default()
    }
}

/// Whether a log record is an artifact diff.
pub fn is_artifact(t: &TraceBuf<'_>, attrs: (u32, u32)) -> bool {
    t.attrs_of(attrs)
        .iter()
        .any(|kv| kv.key == "log_type" && matches!(kv.value, AnyValue::Str(s) if t.str(&s) == "artifact_diff"))
}

fn write_line(o: &mut Vec<u8>, ts: &mut String, text: &mut String, t: &TraceBuf<'_>, l: &LogRecord<'_>) {
    let attrs = t.attrs_of(l.attrs);
    let value = |k: &str| attrs.iter().find(|kv| kv.key == k).map(|kv| kv.value);
    let string = |k: &str| match value(k) {
        Some(AnyValue::Str(s)) => t.str(&s),
        _ => "",
    };
    let int = |k: &str| match value(k) {
        Some(AnyValue::Int(i)) => i,
        _ => 0,
    };
    ts.clear();
    push_rfc3339(ts, l.time_ns, 3);
    o.extend_from_slice(b"{\"id\":\"diff-");
    o.extend_from_slice(string("artifact.diff_id").as_bytes());
    let _ = write!(o, "\",\"timestamp\":\"{ts}\",\"runId\":");
    text.clear();
    match RUN_ID.iter().find_map(|k| value(k)) {
        Some(v) => t.push_value_text(&v, text),
        None => {
            if let Some(v) = t.find_up(l.span as usize, RUN_ID, true) {
                t.push_value_text(v, text);
            }
        }
    }
    if text.is_empty() {
        o.extend_from_slice(b"null");
    } else {
        write_str(o, text);
    }
    o.extend_from_slice(b",\"agentId\":");
    match string("agent_id") {
        "" => o.extend_from_slice(b"null"),
        a => write_str(o, a),
    }
    let path = string("artifact.path");
    o.extend_from_slice(b",\"artifact\":{\"path\":");
    write_str(o, path);
    o.extend_from_slice(b",\"type\":");
    write_str(o, string("artifact.type"));
    let version = int("artifact.version");
    o.extend_from_slice(b"},\"changes\":{\"previousHash\":");
    write_str(o, string("artifact.previous_hash"));
    o.extend_from_slice(b",\"currentHash\":");
    write_str(o, string("artifact.current_hash"));
    o.extend_from_slice(b",\"previousVersion\":");
    text.clear();
    let _ = std::fmt::Write::write_fmt(text, format_args!("{path}.v{version}"));
    write_str(o, text);
    o.extend_from_slice(b",\"currentVersion\":");
    text.clear();
    let _ = std::fmt::Write::write_fmt(text, format_args!("{path}.v{}", version + 1));
    write_str(o, text);
    let (added, removed) = (int("artifact.added_lines"), int("artifact.removed_lines"));
    let _ = write!(
        o,
        "}},\"diff\":{{\"summary\":\"+{added} lines, -{removed} lines\",\"addedLines\":{added},\"removedLines\":{removed},\"changedSections\":["
    );
    let sections = string("artifact.changed_sections");
    for (i, s) in sections.split(", ").filter(|s| !s.is_empty()).enumerate() {
        if i > 0 {
            o.push(b',');
        }
        write_str(o, s);
    }
    let status = string("artifact.review.status");
    o.extend_from_slice(b"]},\"review\":{\"status\":");
    write_str(o, status);
    match value("artifact.reviewed_at_ns") {
        Some(AnyValue::Int(at)) => {
            ts.clear();
            push_rfc3339(ts, at.cast_unsigned(), 3);
            let _ = write!(o, ",\"reviewedBy\":\"user\",\"reviewedAt\":\"{ts}\"");
        }
        _ => o.extend_from_slice(b",\"reviewedBy\":null,\"reviewedAt\":null"),
    }
    o.extend_from_slice(if status == "rejected" {
        b",\"comments\":[\"Changes requested before acceptance\"]}".as_slice()
    } else {
        b",\"comments\":[]}".as_slice()
    });
    o.extend_from_slice(b",\"traceId\":\"");
    push_hex(o, &t.trace_id);
    o.extend_from_slice(b"\",\"spanId\":\"");
    push_hex(o, &t.spans[l.span as usize].span_id);
    o.extend_from_slice(b"\"}\n");
}

impl RenderLines for ArtifactEncoder {
    fn render(&mut self, _: &Resources, _: u32, t: &TraceBuf<'_>, pick: Pick, out: &mut Vec<u8>) -> usize {
        each_picked(t, pick, |l| {
            let keep = is_artifact(t, l.attrs);
            if keep {
                write_line(out, &mut self.ts, &mut self.text, t, l);
            }
            keep
        })
    }
}
