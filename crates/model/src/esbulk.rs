//! Elasticsearch / OpenSearch `_bulk` NDJSON: application log records into a dated logs
//! index and policy decisions into a dated decisions index, each document with
//! `@timestamp` and a deterministic `_id` (trace id, span id, record number), sent with the
//! `create` action so that a retried document is never indexed twice.

use std::io::Write;

use crate::applog::write_app_line;
use crate::decision::{is_decision, write_decision_line};
use crate::hex::push_hex;
use crate::time::civil_from_days;
use crate::trace::{Resources, TraceBuf};
use crate::{Pick, RenderLines};

/// Expands `%Y`, `%m`, `%d`, `%H` and `%%` of an index template at `ns` (UTC).
pub fn index_name(template: &str, ns: u64) -> String {
    let secs = (ns / 1_000_000_000).cast_signed();
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let h = secs.rem_euclid(86_400) / 3600;
    let mut out = String::with_capacity(template.len() + 8);
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&format!("{y:04}")),
            Some('m') => out.push_str(&format!("{m:02}")),
            Some('d') => out.push_str(&format!("{d:02}")),
            Some('H') => out.push_str(&format!("{h:02}")),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// Renders log records as `_bulk` action and document lines (wrap in [`crate::Lines`]).
#[derive(Debug)]
pub struct EsBulkEncoder {
    logs_index: String,
    decisions_index: String,
    ts: String,
}

impl EsBulkEncoder {
    /// An encoder with the two index templates (e.g. `taskpilot-logs-%Y.%m.%d`).
    pub fn new(logs_index: &str, decisions_index: &str) -> Self {
        Self { logs_index: logs_index.into(), decisions_index: decisions_index.into(), ts: String::new() }
    }
}

impl RenderLines for EsBulkEncoder {
    fn render(&mut self, resources: &Resources, resource: u32, t: &TraceBuf<'_>, pick: Pick, o: &mut Vec<u8>) -> usize {
        let picked = pick.range(t.logs.len());
        let items = picked.len();
        for n in picked {
            let l = &t.logs[n];
            let decision = is_decision(t, l.attrs);
            let template = if decision { &self.decisions_index } else { &self.logs_index };
            o.extend_from_slice(b"{\"create\":{\"_index\":");
            crate::otlp_json::write_str(o, &index_name(template, l.time_ns));
            o.extend_from_slice(b",\"_id\":\"");
            push_hex(o, &t.trace_id);
            push_hex(o, &t.spans[l.span as usize].span_id);
            let _ = writeln!(o, "-{n}\"}}}}");
            if decision {
                write_decision_line(o, &mut self.ts, t, l, true);
            } else {
                write_app_line(o, &mut self.ts, resources, resource, t, l, true);
            }
            o.push(b'\n');
        }
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_names_take_the_event_date() {
        assert_eq!(index_name("taskpilot-logs-%Y.%m.%d", 1_766_577_600_123_000_000), "taskpilot-logs-2025.12.24");
        assert_eq!(index_name("x-%H-%%-%q", 1_766_577_600_000_000_000), "x-12-%-%q");
    }
}
