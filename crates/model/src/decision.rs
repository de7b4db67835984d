//! The decision log of the TaskPilot guide (`decision_logs.jsonl`): one JSON object per policy decision
//! with `decision_id`, `timestamp`, `decision_type`, `result`, and when known `tool_name`,
//! `agent_id`, `policy_name`, `reason`, `context` (an object), plus `trace_id` / `span_id`
//! for correlation. Decisions are the log records whose `log_type` is `policy_decision`.

use std::io::Write;

use crate::hex::push_hex;
use crate::otlp_json::write_str;
use crate::time::push_rfc3339;
use crate::trace::{AnyValue, Resources, TraceBuf};
use crate::{Pick, RenderLines, each_picked};

/// Renders policy decisions as decision-log lines (wrap in [`crate::Lines`]).
#[derive(Debug, Default)]
pub struct DecisionEncoder {
    ts: String,
}

impl DecisionEncoder {
    /// A new encoder.
    pub fn new() -> Self {
        Self::default()
    }
}

/// Whether a log record is a policy decision.
pub fn is_decision(t: &TraceBuf<'_>, attrs: (u32, u32)) -> bool {
    t.attrs_of(attrs)
        .iter()
        .any(|kv| kv.key == "log_type" && matches!(kv.value, AnyValue::Str(s) if t.str(&s) == "policy_decision"))
}

/// Writes the decision line of `l` (a decision record) into `o`; with `es`, the object
/// also gets `@timestamp` and no newline.
pub(crate) fn write_decision_line(
    o: &mut Vec<u8>,
    ts: &mut String,
    t: &TraceBuf<'_>,
    l: &crate::LogRecord<'_>,
    es: bool,
) {
    {
        let attrs = t.attrs_of(l.attrs);
        let get = |k: &str| {
            attrs.iter().find(|kv| kv.key == k).and_then(|kv| match kv.value {
                AnyValue::Str(s) => Some(t.str(&s)),
                _ => None,
            })
        };
        ts.clear();
        push_rfc3339(ts, l.time_ns, 3);
        if es {
            let _ = write!(o, "{{\"@timestamp\":\"{ts}\",\"decision_id\":");
        } else {
            o.extend_from_slice(b"{\"decision_id\":");
        }
        write_str(o, get("decision_id").unwrap_or_default());
        let _ = write!(o, ",\"timestamp\":\"{ts}\"");
        for key in ["decision_type", "result", "tool_name", "agent_id", "policy_name", "reason"] {
            if let Some(v) = get(key) {
                let _ = write!(o, ",\"{key}\":");
                write_str(o, v);
            }
        }
        if let Some(c) = get("decision.context_json") {
            // Written by the scenario loader as a JSON object.
            let _ = write!(o, ",\"context\":{c}");
        }
        o.extend_from_slice(b",\"trace_id\":\"");
        push_hex(o, &t.trace_id);
        o.extend_from_slice(b"\",\"span_id\":\"");
        push_hex(o, &t.spans[l.span as usize].span_id);
        o.extend_from_slice(if es { b"\"}".as_slice() } else { b"\"}\n".as_slice() });
    }
}

impl RenderLines for DecisionEncoder {
    fn render(&mut self, _: &Resources, _: u32, t: &TraceBuf<'_>, pick: Pick, out: &mut Vec<u8>) -> usize {
        each_picked(t, pick, |l| {
            let keep = is_decision(t, l.attrs);
            if keep {
                write_decision_line(out, &mut self.ts, t, l, false);
            }
            keep
        })
    }
}
