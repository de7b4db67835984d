//! Lines of one logger of a logging configuration (paper-writing spec): the records of that logger
//! (a record of logger `vendor.mcp.client` belongs to loggers `vendor`, `mcp` and `client`;
//! the `error` logger also takes every record at ERROR or above) at or above
//! its level, each a JSON object of exactly the configured fields.
//!
//! Field names are the paper-writing spec's camelCase (`runId`, `agentId`, `errorType`, …). Besides the
//! built-ins (`timestamp`, `level`, `message`, `logger`, `source`, `traceId`, `spanId`,
//! `duration` in seconds, `status` success/failure, `errorType`), a field is looked up on
//! the record, then its span and the span's ancestors, as written, in snake case and dotted
//! (`runId` → `runId`, `run_id`, `run.id`, `….run.id`). Fields with no value are left out.

use crate::applog::{level, write_value};
use crate::hex::push_hex;
use crate::num::f64_of;
use crate::otlp_json::{write_f64, write_str};
use crate::time::push_rfc3339;
use crate::trace::{AnyValue, LogRecord, Resources, StatusCode, TraceBuf};
use crate::{Pick, RenderLines, each_picked};

/// Renders the records of one configured logger (wrap in [`crate::Lines`]).
#[derive(Debug)]
pub struct LoggerEncoder {
    name: String,
    min_severity: u8,
    fields: Vec<(String, [String; 3])>,
    ts: String,
}

fn snake(camel: &str) -> String {
    let mut s = String::new();
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            s.push('_');
            s.push(c.to_ascii_lowercase());
        } else {
            s.push(c);
        }
    }
    s
}

impl LoggerEncoder {
    /// An encoder for logger `name` writing `fields` of records at `min_severity` or above.
    pub fn new(name: &str, min_severity: u8, fields: &[String]) -> Self {
        let fields = fields
            .iter()
            .map(|f| {
                let sn = snake(f);
                let dotted = sn.replace('_', ".");
                (f.clone(), [f.clone(), sn, dotted])
            })
            .collect();
        Self { name: name.into(), min_severity, fields, ts: String::new() }
    }

    /// Whether a record of `logger` at `severity` belongs to this logger.
    pub fn takes(&self, logger: &str, severity: u8) -> bool {
        if severity < self.min_severity {
            return false;
        }
        let n = self.name.as_str();
        logger.split('.').any(|segment| segment == n) || (n == "error" && severity >= 17)
    }

    fn line(&mut self, o: &mut Vec<u8>, t: &TraceBuf<'_>, l: &LogRecord<'_>) {
        let si = l.span as usize;
        let span = &t.spans[si];
        let attrs = t.attrs_of(l.attrs);
        let logger = t.str(&l.logger);
        o.push(b'{');
        let mut first = true;
        for (name, keys) in &self.fields {
            let start = o.len();
            if !first {
                o.push(b',');
            }
            write_str(o, name);
            o.push(b':');
            let written = match name.as_str() {
                "timestamp" => {
                    self.ts.clear();
                    push_rfc3339(&mut self.ts, l.time_ns, 3);
                    write_str(o, &self.ts);
                    true
                }
                "level" => {
                    write_str(o, level(l.severity));
                    true
                }
                "message" => {
                    write_str(o, t.str(&l.body));
                    true
                }
                "logger" | "name" => {
                    write_str(o, logger);
                    true
                }
                "source" => {
                    write_str(o, if logger.is_empty() { t.str(&span.name) } else { logger });
                    true
                }
                "traceId" => {
                    o.push(b'"');
                    push_hex(o, &t.trace_id);
                    o.push(b'"');
                    true
                }
                "spanId" => {
                    o.push(b'"');
                    push_hex(o, &span.span_id);
                    o.push(b'"');
                    true
                }
                "duration" => {
                    write_f64(o, f64_of(span.end_ns - span.start_ns) / 1e9);
                    true
                }
                "status" => {
                    write_str(o, if span.status == StatusCode::Error { "failure" } else { "success" });
                    true
                }
                "errorType" => match attrs
                    .iter()
                    .find(|kv| kv.key == "exception.type" || kv.key == "error.type")
                    .map(|kv| kv.value)
                    .or_else(|| t.find_up(si, &["error.type"], true).copied())
                {
                    Some(v) => {
                        write_value(o, t, &v);
                        true
                    }
                    None => false,
                },
                _ => {
                    let keys: [&str; 3] = [&keys[0], &keys[1], &keys[2]];
                    let v: Option<AnyValue<'_>> = attrs
                        .iter()
                        .find(|kv| keys.contains(&kv.key))
                        .map(|kv| kv.value)
                        .or_else(|| t.find_up(si, &keys, true).copied());
                    match v {
                        Some(v) => {
                            write_value(o, t, &v);
                            true
                        }
                        None => false,
                    }
                }
            };
            if written {
                first = false;
            } else {
                o.truncate(start);
            }
        }
        o.extend_from_slice(b"}\n");
    }
}

impl RenderLines for LoggerEncoder {
    fn render(&mut self, _: &Resources, _: u32, t: &TraceBuf<'_>, pick: Pick, out: &mut Vec<u8>) -> usize {
        each_picked(t, pick, |l| {
            let keep = self.takes(t.str(&l.logger), l.severity);
            if keep {
                self.line(out, t, l);
            }
            keep
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_and_field_names() {
        let e = LoggerEncoder::new("agent", 9, &[]);
        assert!(e.takes("agent", 9) && e.takes("paper.agent", 13) && e.takes("agent.drafter", 9));
        assert!(e.takes("x.agent.y", 9) && !e.takes("agents", 9));
        assert!(!e.takes("agent", 5) && !e.takes("workflow", 17));
        let err = LoggerEncoder::new("error", 17, &[]);
        assert!(err.takes("workflow", 17) && !err.takes("error", 9));
        assert_eq!(snake("runId"), "run_id");
        assert_eq!(snake("inputSummary"), "input_summary");
    }
}
