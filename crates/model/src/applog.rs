//! Application log lines, as the TaskPilot guide's TaskPilot writes them for Filebeat: one JSON object
//! per line with `timestamp` (ISO 8601, milliseconds, `Z`), `level`, `name`, `message`, and the
//! correlation fields a log pipeline joins on (`request_id`, `trace_id`, `span_id`,
//! `agent_name`, `tool_name`, `task_id`, `latency_ms`, `error_code`, `error_type`,
//! `error_message`), followed by the record's own attributes.
//!
//! Correlation fields come from the record's attributes, then its span, then the span's
//! ancestors; `request_id` defaults to the trace id written as a UUID.

use crate::num::f64_of;
use std::io::Write;

use crate::hex::push_hex;
use crate::otlp_json::{write_f64, write_str};
use crate::time::push_rfc3339;
use crate::trace::{AnyValue, KeyValue, LogRecord, Resources, TraceBuf};
use crate::{Pick, RenderLines, each_picked};

/// Attribute keys read for each correlation field, in order of preference.
const REQUEST_ID: &[&str] = &["request_id", "request.id", "http.request.id"];
const AGENT: &[&str] = &["agent_name", "gen_ai.agent.name", "agent.name"];
const TOOL: &[&str] = &["tool_name", "gen_ai.tool.name", "tool.name"];
const TASK: &[&str] = &["task_id", "task.id"];
const ERROR_CODE: &[&str] = &["error_code", "error.code"];
/// Keys written as correlation fields, not repeated among the record's attributes.
const MAPPED: &[&str] = &["exception.type", "exception.message", "logger.name"];

/// Renders log records as application log lines (wrap in [`crate::Lines`]).
#[derive(Debug, Default)]
pub struct AppLogEncoder {
    line: String,
    skip_decisions: bool,
}

impl AppLogEncoder {
    /// A new encoder (policy decisions included, with `log_type: policy_decision`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Leaves policy decisions out.
    pub fn without_decisions(mut self) -> Self {
        self.skip_decisions = true;
        self
    }
}

/// Python `logging` level names, which the TaskPilot guide's files use.
pub(crate) fn level(severity: u8) -> &'static str {
    match severity {
        0..=8 => "DEBUG",
        9..=12 => "INFO",
        13..=16 => "WARNING",
        17..=20 => "ERROR",
        _ => "CRITICAL",
    }
}

fn find<'a, 's>(attrs: &'a [KeyValue<'s>], keys: &[&str]) -> Option<&'a AnyValue<'s>> {
    attrs.iter().find(|kv| keys.contains(&kv.key)).map(|kv| &kv.value)
}

pub(crate) fn write_value(o: &mut Vec<u8>, t: &TraceBuf<'_>, v: &AnyValue<'_>) {
    match v {
        AnyValue::Str(s) => write_str(o, t.str(s)),
        AnyValue::Int(i) => {
            let _ = write!(o, "{i}");
        }
        AnyValue::Double(d) => write_f64(o, *d),
        AnyValue::Bool(b) => {
            let _ = write!(o, "{b}");
        }
    }
}

fn field(o: &mut Vec<u8>, t: &TraceBuf<'_>, name: &str, v: Option<&AnyValue<'_>>) {
    if let Some(v) = v {
        let _ = write!(o, ",\"{name}\":");
        write_value(o, t, v);
    }
}

/// Writes one application log line (with its newline) for `l` into `o`; with `es`, the
/// object also gets `@timestamp` (Elasticsearch's time field) and no newline.
pub(crate) fn write_app_line(
    o: &mut Vec<u8>,
    ts: &mut String,
    resources: &Resources,
    resource: u32,
    t: &TraceBuf<'_>,
    l: &LogRecord<'_>,
    es: bool,
) {
    {
        let span_idx = l.span as usize;
        let span = &t.spans[span_idx];
        let attrs = t.attrs_of(l.attrs);
        ts.clear();
        push_rfc3339(ts, l.time_ns, 3);
        if es {
            let _ = write!(o, "{{\"@timestamp\":\"{ts}\",\"timestamp\":\"");
        } else {
            o.extend_from_slice(b"{\"timestamp\":\"");
        }
        o.extend_from_slice(ts.as_bytes());
        let _ = write!(o, "\",\"level\":\"{}\",\"name\":", level(l.severity));
        let logger = t.str(&l.logger);
        let service = resources.list[resource as usize].get_str("service.name").unwrap_or("telemetry-simulator");
        write_str(o, if logger.is_empty() { service } else { logger });
        o.extend_from_slice(b",\"message\":");
        write_str(o, t.str(&l.body));
        match find(attrs, REQUEST_ID).or_else(|| t.find_up(span_idx, REQUEST_ID, true)) {
            Some(v) => field(o, t, "request_id", Some(v)),
            None => {
                ts.clear();
                crate::hex::push_uuid_str(ts, &t.trace_id);
                let _ = write!(o, ",\"request_id\":\"{ts}\"");
            }
        }
        o.extend_from_slice(b",\"trace_id\":\"");
        push_hex(o, &t.trace_id);
        o.extend_from_slice(b"\",\"span_id\":\"");
        push_hex(o, &span.span_id);
        o.push(b'"');
        field(o, t, "agent_name", find(attrs, AGENT).or_else(|| t.find_up(span_idx, AGENT, true)));
        field(o, t, "tool_name", find(attrs, TOOL).or_else(|| t.find_up(span_idx, TOOL, true)));
        field(o, t, "task_id", find(attrs, TASK).or_else(|| t.find_up(span_idx, TASK, true)));
        // The span's duration belongs to records written at its end.
        if l.time_ns == span.end_ns {
            o.extend_from_slice(b",\"latency_ms\":");
            write_f64(o, (f64_of(span.end_ns - span.start_ns) / 1e3).round() / 1e3);
        }
        // An error code belongs to the failure of the span itself, never to an ancestor's.
        field(o, t, "error_code", find(attrs, ERROR_CODE).or_else(|| find(t.attrs_of(span.attrs), ERROR_CODE)));
        let error_type = find(attrs, &["exception.type", "error.type"])
            .or_else(|| (l.severity >= 17).then(|| find(t.attrs_of(span.attrs), &["error.type"])).flatten());
        field(o, t, "error_type", error_type);
        field(o, t, "error_message", find(attrs, &["exception.message"]));
        for kv in attrs {
            if kv.key == "decision.context_json" {
                if let AnyValue::Str(c) = kv.value {
                    let _ = write!(o, ",\"context\":{}", t.str(&c));
                }
                continue;
            }
            if MAPPED.contains(&kv.key)
                || REQUEST_ID.contains(&kv.key)
                || AGENT.contains(&kv.key)
                || TOOL.contains(&kv.key)
                || TASK.contains(&kv.key)
                || ERROR_CODE.contains(&kv.key)
                || kv.key == "error.type"
            {
                continue;
            }
            o.push(b',');
            write_str(o, kv.key);
            o.push(b':');
            write_value(o, t, &kv.value);
        }
        o.extend_from_slice(if es { b"}".as_slice() } else { b"}\n".as_slice() });
    }
}

impl RenderLines for AppLogEncoder {
    fn render(&mut self, res: &Resources, id: u32, trace: &TraceBuf<'_>, pick: Pick, out: &mut Vec<u8>) -> usize {
        each_picked(trace, pick, |l| {
            let keep = !(self.skip_decisions && crate::decision::is_decision(trace, l.attrs));
            if keep {
                write_app_line(out, &mut self.line, res, id, trace, l, false);
            }
            keep
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{OwnedValue, Resource, Span, SpanKind, StatusCode, Text};

    #[test]
    fn writes_the_seed_fields_with_correlation() {
        let mut t = TraceBuf { trace_id: [0x1a; 16], ..Default::default() };
        t.attrs.push(KeyValue { key: "gen_ai.agent.name", value: AnyValue::Str(Text::Static("PlannerAgent")) });
        t.attrs.push(KeyValue { key: "gen_ai.tool.name", value: AnyValue::Str(Text::Static("create_task")) });
        t.attrs.push(KeyValue { key: "exception.type", value: AnyValue::Str(Text::Static("ToolTimeoutError")) });
        t.attrs.push(KeyValue { key: "exception.message", value: AnyValue::Str(Text::Static("took \"long\"")) });
        t.attrs.push(KeyValue { key: "error.code", value: AnyValue::Str(Text::Static("TOOL_TIMEOUT")) });
        let span = |id: u8, parent: u8, attrs: (u32, u32)| Span {
            span_id: [id; 8],
            parent_span_id: [parent; 8],
            name: Text::Static("s"),
            kind: SpanKind::Internal,
            start_ns: 1_766_577_600_000_000_000,
            end_ns: 1_766_577_601_234_560_000,
            attrs,
            events: (0, 0),
            status: StatusCode::Unset,
            status_message: Text::Static(""),
            flags: 0,
        };
        t.spans.push(span(1, 0, (0, 1)));
        t.spans.push(span(2, 1, (1, 2)));
        t.logs.push(LogRecord {
            time_ns: 1_766_577_601_234_560_000,
            severity: 17,
            severity_text: "ERROR",
            body: Text::Static("[ERROR] Tool execution failed"),
            attrs: (2, 5),
            span: 1,
            logger: Text::Static("taskpilot.core.middleware"),
        });
        let resources = Resources {
            list: vec![Resource { attrs: vec![("service.name".into(), OwnedValue::Str("taskpilot".into()))] }],
            ..Default::default()
        };
        let mut e = crate::Lines::new(AppLogEncoder::new());
        crate::TraceEncoder::add(&mut e, &resources, 0, &t);
        let mut out = Vec::new();
        crate::TraceEncoder::finish(&mut e, &resources, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            concat!(
                r#"{"timestamp":"2025-12-24T12:00:01.234Z","level":"ERROR","name":"taskpilot.core.middleware","#,
                r#""message":"[ERROR] Tool execution failed","request_id":"1a1a1a1a-1a1a-1a1a-1a1a-1a1a1a1a1a1a","#,
                r#""trace_id":"1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a","span_id":"0202020202020202","#,
                r#""agent_name":"PlannerAgent","tool_name":"create_task","latency_ms":1234.56,"#,
                r#""error_code":"TOOL_TIMEOUT","error_type":"ToolTimeoutError","error_message":"took \"long\""}"#,
                "\n"
            )
        );
    }
}
