//! The records of a built trace: declared log records and exceptions, policy decisions,
//! artifact diffs.

use std::fmt::Write;
use tsim_model::num::{i64_sat, idx, usize_of};

use rand::Rng;
use tsim_model::{AnyValue, KeyValue, LogRecord, StatusCode, Text};
use tsim_scenario::LogOn;

use super::*;
use crate::compile::LPart;
use crate::rng::{chance, pick, unit};

impl<'e> Builder<'e, '_> {
    /// Log records: the ones declared on each node, and one per failing span carrying the
    /// exception. Sorted by time (stable), as a log file would have them.
    pub(super) fn logs(&mut self) {
        for i in 0..self.out.spans.len() {
            let SpanNode { node: ni, attempt, failed_by_child: inherited, .. } = self.span_nodes[i];
            let n = &self.nodes[ni as usize];
            let span = self.out.spans[i];
            let failed = span.status == StatusCode::Error;
            if !attempt {
                for l in &n.logs {
                    let time_ns = match l.on {
                        LogOn::Start => span.start_ns,
                        LogOn::End => span.end_ns,
                        LogOn::Error if failed => span.end_ns,
                        LogOn::Error => continue,
                    };
                    if !chance(&mut self.rng, l.probability) {
                        continue;
                    }
                    let body = self.render_log(&l.message, i);
                    self.cur_dur = span.end_ns - span.start_ns;
                    self.cur_error = failed.then_some(span.status_message);
                    let a0 = idx(self.out.attrs.len());
                    for a in &l.attrs {
                        let v = self.value(&a.value, a0 as usize, span.span_id, span.parent_span_id, 0, None);
                        self.out.attrs.push(KeyValue { key: &a.key, value: v });
                    }
                    self.push_trace_attrs();
                    self.out.logs.push(LogRecord {
                        time_ns,
                        severity: l.severity,
                        severity_text: l.severity_text,
                        body,
                        attrs: (a0, idx(self.out.attrs.len())),
                        span: idx(i),
                        logger: Text::Static(l.logger.as_deref().unwrap_or("")),
                    });
                }
            }
            // A failure taken over from a child was logged where it happened.
            if failed && !inherited {
                // The exception event's attributes (type and message) describe the failure.
                let ev =
                    self.out.events_of(span.events).iter().rev().find(|e| e.name == Text::Static("exception")).copied();
                if let Some(ev) = ev {
                    let msg =
                        self.out.attrs_of(ev.attrs).iter().find(|kv| kv.key == "exception.message").map(|kv| kv.value);
                    let body = match msg {
                        Some(AnyValue::Str(t)) => t,
                        _ => span.status_message,
                    };
                    let attrs = if self.trace_attrs.0 == self.trace_attrs.1 {
                        ev.attrs
                    } else {
                        let a0 = idx(self.out.attrs.len());
                        for k in ev.attrs.0..ev.attrs.1 {
                            let kv = self.out.attrs[k as usize];
                            self.out.attrs.push(kv);
                        }
                        self.push_trace_attrs();
                        (a0, idx(self.out.attrs.len()))
                    };
                    self.out.logs.push(LogRecord {
                        time_ns: ev.time_ns,
                        severity: 17,
                        severity_text: "ERROR",
                        body,
                        attrs,
                        span: idx(i),
                        logger: Text::Static(""),
                    });
                }
            }
        }
    }

    /// One log record per policy decision, with the TaskPilot guide's decision-log fields as attributes
    /// (`log_type: policy_decision`), whatever `emit_logs` says: decisions are records.
    pub(super) fn decision_records(&mut self) {
        for k in 0..self.decisions.len() {
            let (si, r) = self.decisions[k];
            let (si, r) = (si as usize, r as usize);
            let span = self.out.spans[si];
            let Some(d) = &self.nodes[self.span_nodes[si].node as usize].decision else { continue };
            let result: &'e str = &d.results[r].0;
            let a0 = idx(self.out.attrs.len());
            let push = |b: &mut Self, key: &'static str, v: AnyValue<'e>| b.out.attrs.push(KeyValue { key, value: v });
            push(self, "log_type", AnyValue::Str(Text::Static("policy_decision")));
            let id = self.uuid();
            push(self, "decision_id", AnyValue::Str(id));
            push(self, "decision_type", AnyValue::Str(Text::Static(&d.decision_type)));
            push(self, "result", AnyValue::Str(Text::Static(result)));
            let tool = match &d.tool_name {
                Some(t) => Some(AnyValue::Str(Text::Static(t))),
                None => self.out.find_up(si, &crate::TOOL_KEYS[..3], false).copied(),
            };
            if let Some(t) = tool {
                push(self, "tool_name", t);
            }
            let agent = match &d.agent_id {
                Some(a) => Some(AnyValue::Str(Text::Static(a))),
                None => self.out.find_up(si, crate::AGENT_KEYS, false).copied(),
            };
            if let Some(a) = agent {
                push(self, "agent_id", a);
            }
            if let Some(p) = &d.policy_name {
                push(self, "policy_name", AnyValue::Str(Text::Static(p)));
            }
            push(self, "reason", AnyValue::Str(Text::Static(&d.results[r].1)));
            if let Some(c) = &d.context_json {
                push(self, "decision.context_json", AnyValue::Str(Text::Static(c)));
            }
            self.push_trace_attrs();
            let mark = self.out.text_mark();
            let _ = write!(self.out.text, "[POLICY] {} decision: {result}", d.decision_type);
            let body = self.out.text_since(mark);
            self.out.logs.push(LogRecord {
                time_ns: span.start_ns,
                severity: if result == "allow" { 9 } else { 13 },
                severity_text: if result == "allow" { "INFO" } else { "WARN" },
                body,
                attrs: (a0, idx(self.out.attrs.len())),
                span: idx(si),
                logger: Text::Static("agent_observable_policy.decision_logger"),
            });
        }
    }

    /// One artifact-diff record per span whose node declares an `artifact:` (the paper-writing workflow's spec
    /// `artifact_diffs.jsonl`), as a log record with `log_type: artifact_diff`.
    pub(super) fn artifact_records(&mut self) {
        for si in 0..self.out.spans.len() {
            let SpanNode { node: ni, attempt, copy_index, .. } = self.span_nodes[si];
            let Some(a) = &self.nodes[ni as usize].artifact else { continue };
            if attempt || !chance(&mut self.rng, a.probability) {
                continue;
            }
            let span = self.out.spans[si];
            let path = self.render_name(&a.path, si, copy_index);
            let added = i64_sat(a.added.sample(&mut self.rng).round());
            let removed = i64_sat(a.removed.sample(&mut self.rng).round());
            let review: &'e str = &a.review[pick(&mut self.rng, &a.review_cum)];
            let version = 1 + (self.rng.next_u64() % 4).cast_signed();
            let a0 = idx(self.out.attrs.len());
            let push = |b: &mut Self, key: &'static str, v: AnyValue<'e>| b.out.attrs.push(KeyValue { key, value: v });
            push(self, "log_type", AnyValue::Str(Text::Static("artifact_diff")));
            let id = self.uuid();
            push(self, "artifact.diff_id", AnyValue::Str(id));
            push(self, "artifact.path", AnyValue::Str(path));
            push(self, "artifact.type", AnyValue::Str(Text::Static(&a.artifact_type)));
            for key in ["artifact.previous_hash", "artifact.current_hash"] {
                let mark = self.out.text_mark();
                self.out.text.push_str("sha256:");
                for _ in 0..4 {
                    let _ = write!(self.out.text, "{:016x}", self.rng.next_u64());
                }
                let h = self.out.text_since(mark);
                push(self, key, AnyValue::Str(h));
            }
            push(self, "artifact.version", AnyValue::Int(version));
            push(self, "artifact.added_lines", AnyValue::Int(added));
            push(self, "artifact.removed_lines", AnyValue::Int(removed));
            if !a.sections.is_empty() {
                // One changed section, sometimes two (joined by ", ").
                let first = usize_of(self.rng.next_u64() % a.sections.len() as u64);
                let mark = self.out.text_mark();
                self.out.text.push_str(&a.sections[first]);
                if a.sections.len() > 1 && chance(&mut self.rng, 0.4) {
                    let second =
                        (first + 1 + usize_of(self.rng.next_u64() % (a.sections.len() as u64 - 1))) % a.sections.len();
                    self.out.text.push_str(", ");
                    self.out.text.push_str(&a.sections[second]);
                }
                let t = self.out.text_since(mark);
                push(self, "artifact.changed_sections", AnyValue::Str(t));
            }
            push(self, "artifact.review.status", AnyValue::Str(Text::Static(review)));
            if review != "pending" {
                // Reviewed 5 to 120 minutes after the artifact was written.
                let after = ms_to_ns((5.0 + 115.0 * unit(&mut self.rng)) * 60_000.0);
                push(self, "artifact.reviewed_at_ns", AnyValue::Int((span.end_ns + after).cast_signed()));
            }
            let agent = self.out.find_up(si, crate::AGENT_KEYS, false).copied();
            if let Some(v) = agent {
                push(self, "agent_id", v);
            }
            self.push_trace_attrs();
            self.scratch.clear();
            let _ = write!(
                self.scratch,
                "[ARTIFACT] {} {}: +{added} lines, -{removed} lines",
                a.artifact_type,
                self.out.str(&path)
            );
            let body = self.out.push_text(self.scratch);
            self.out.logs.push(LogRecord {
                time_ns: span.end_ns,
                severity: 9,
                severity_text: "INFO",
                body,
                attrs: (a0, idx(self.out.attrs.len())),
                span: idx(si),
                logger: Text::Static("artifact"),
            });
        }
    }

    pub(super) fn render_log(&mut self, parts: &'e [LPart], span_idx: usize) -> Text<'e> {
        let span = self.out.spans[span_idx];
        self.scratch.clear();
        for p in parts {
            match p {
                LPart::Text(t) => self.scratch.push_str(t),
                LPart::DurationMs => {
                    tsim_model::time::push_ms3(self.scratch, span.end_ns - span.start_ns);
                }
                LPart::SpanName => {
                    let name = self.out.str(&span.name);
                    self.scratch.push_str(name);
                }
                // Unset means "no error" to a reader of the message.
                LPart::Status => self.scratch.push_str(if span.status == StatusCode::Error { "ERROR" } else { "OK" }),
                LPart::Success => {
                    self.scratch.push_str(if span.status == StatusCode::Error { "false" } else { "true" })
                }
                LPart::ErrorType => {
                    let m = self.out.str(&span.status_message);
                    self.scratch.push_str(m);
                }
                LPart::SpanAttr(key) => {
                    if let Some(kv) = self.out.attrs_of(span.attrs).iter().find(|kv| kv.key == &**key) {
                        self.out.push_value_text(&kv.value, self.scratch);
                    }
                }
                // In a log message there is no copy or attempt number: both read 0.
                LPart::Builtin(b) => self.push_builtin(*b, span.span_id, span.parent_span_id, 0, 0),
            }
        }
        self.out.push_text(self.scratch)
    }
}
