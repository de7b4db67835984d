//! Builds one trace into a [`TraceBuf`]: structure, timing, failures, retries, attributes.
//!
//! Each node is generated with its own start at 0; a parent then places its children's
//! subtrees (contiguous ranges of spans and events) by shifting them. A parent always covers
//! its children: children start after it starts and end before it ends.

use std::fmt::Write;

use tsim_model::{AnyValue, Event, KeyValue, Span, StatusCode, Text, TraceBuf};
use tsim_scenario::NumType;

use crate::compile::{Builtin, CAttr, CCount, CNode, CompiledScenario, Gen, LPart, Lit, NPart, Part};
use crate::rng::{TraceRng, chance, pick, unit};
use crate::sample::Sampler;
use rand::Rng;
use tsim_model::LogRecord;
use tsim_scenario::LogOn;

/// Smallest gap between a parent's start (end) and its first child's start (last child's end).
pub const EDGE_MIN_NS: u64 = 1_000;
/// Span flags: W3C sampled + OTLP "has is_remote" (parent is local).
pub const SPAN_FLAGS: u32 = 0x101;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Sub {
    spans: (u32, u32),
    events: (u32, u32),
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Kid {
    sub: Sub,
    dur: u64,
}

/// Per-trace generation state.
pub(crate) struct Builder<'e, 'o> {
    pub sc: &'e CompiledScenario,
    /// The node table of the variant this trace uses.
    pub nodes: &'e [CNode],
    pub rng: TraceRng,
    pub out: &'o mut TraceBuf<'e>,
    pub trace_index: u64,
    pub tenant: Option<&'e str>,
    pub kids: &'o mut Vec<Kid>,
    pub scratch: &'o mut String,
    pub weights: &'o mut Vec<f64>,
    pub span_nodes: &'o mut Vec<SpanNode>,
    pub decisions: &'o mut Vec<(u32, u32)>,
    /// Range of the trace attributes in `out.attrs` (sampled once, copied to every span).
    pub trace_attrs: (u32, u32),
    /// Add OpenInference attributes next to the GenAI ones.
    pub openinference: bool,
    /// Duration and error type of the span being finished (for `{duration_ms}`, `{success}`,
    /// `{error_type}` in its attributes).
    pub cur_dur: u64,
    pub cur_error: Option<Text<'e>>,
    /// Set when the trace reached the scenario's span budget and was cut there.
    pub cut: bool,
}

/// Where a span of the current trace came from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpanNode {
    /// Index of its node.
    pub node: u32,
    /// An attempt span of a retried node.
    pub attempt: bool,
    /// It failed because a child failed (the exception bubbled up to it).
    pub failed_by_child: bool,
}

/// How a span ended, for [`Builder::finish`].
#[derive(Debug, Clone, Copy)]
struct Ending {
    failed: bool,
    dur: u64,
    copy_index: u64,
    /// The attempt number of an attempt span of a retried node.
    attempt: Option<u32>,
    /// Failed because its policy decision denied it.
    denied: bool,
    /// The span index of the failed child whose error it took.
    from_child: Option<u32>,
}

/// Reusable scratch space for [`Builder`], kept between traces.
#[derive(Debug, Default)]
pub struct Scratch {
    pub(crate) kids: Vec<Kid>,
    pub(crate) text: String,
    pub(crate) weights: Vec<f64>,
    /// For each span of the current trace, the node it came from.
    pub(crate) span_nodes: Vec<SpanNode>,
    /// Spans that made a policy decision: (span index, result index).
    pub(crate) decisions: Vec<(u32, u32)>,
}

fn ms_to_ns(ms: f64) -> u64 {
    if ms <= 0.0 { 0 } else { (ms * 1e6).min(1e18) as u64 }
}

impl<'e> Builder<'e, '_> {
    fn span_id(&mut self) -> [u8; 8] {
        let v = self.rng.next_u64();
        (if v == 0 { 1 } else { v }).to_be_bytes()
    }

    /// Adds a string attribute borrowed from the compiled scenario (or a fixed text).
    fn push_str_attr(&mut self, key: &'static str, value: &'e str) {
        self.out.attrs.push(KeyValue { key, value: AnyValue::Str(Text::Static(value)) });
    }

    /// Pushes a span with times, attributes and status still to be filled in.
    fn open_span(&mut self, name: &'e str, parent_id: [u8; 8], n: &CNode, node: SpanNode) -> (usize, [u8; 8]) {
        let span_id = self.span_id();
        self.span_nodes.push(node);
        self.out.spans.push(Span {
            span_id,
            parent_span_id: parent_id,
            name: Text::Static(name),
            kind: n.kind,
            start_ns: 0,
            end_ns: 0,
            attrs: (0, 0),
            events: (0, 0),
            status: StatusCode::Unset,
            status_message: Text::Static(""),
            flags: SPAN_FLAGS,
        });
        (self.out.spans.len() - 1, span_id)
    }

    fn shift(&mut self, sub: Sub, by: u64) {
        if by == 0 {
            return;
        }
        for s in &mut self.out.spans[sub.spans.0 as usize..sub.spans.1 as usize] {
            s.start_ns += by;
            s.end_ns += by;
        }
        for e in &mut self.out.events[sub.events.0 as usize..sub.events.1 as usize] {
            e.time_ns += by;
        }
    }

    /// Generates the whole trace and moves it to `start_ns`, then (with `records`) its log
    /// records.
    pub fn run(&mut self, start_ns: u64, records: bool) {
        self.span_nodes.clear();
        self.decisions.clear();
        let t0 = self.out.attrs.len() as u32;
        let trace_attrs: &'e [CAttr] = &self.nodes[0].trace_attrs;
        for a in trace_attrs {
            let v = self.value(&a.value, t0 as usize, [0; 8], [0; 8], 0, None);
            self.out.attrs.push(KeyValue { key: &a.key, value: v });
        }
        self.trace_attrs = (t0, self.out.attrs.len() as u32);
        let (sub, _, _) = self.node(0, [0; 8], false, 0);
        self.shift(sub, start_ns);
        if !records {
            return;
        }
        self.decision_records();
        self.artifact_records();
        if self.sc.emit_logs {
            self.logs();
        }
        self.out.logs.sort_by_key(|l| l.time_ns);
    }

    /// Log records: the ones declared on each node, and one per failing span carrying the
    /// exception. Sorted by time (stable), as a log file would have them.
    fn logs(&mut self) {
        for i in 0..self.out.spans.len() {
            let SpanNode { node: ni, attempt, failed_by_child: inherited } = self.span_nodes[i];
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
                    let a0 = self.out.attrs.len() as u32;
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
                        attrs: (a0, self.out.attrs.len() as u32),
                        span: i as u32,
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
                        let a0 = self.out.attrs.len() as u32;
                        for k in ev.attrs.0..ev.attrs.1 {
                            let kv = self.out.attrs[k as usize];
                            self.out.attrs.push(kv);
                        }
                        self.push_trace_attrs();
                        (a0, self.out.attrs.len() as u32)
                    };
                    self.out.logs.push(LogRecord {
                        time_ns: ev.time_ns,
                        severity: 17,
                        severity_text: "ERROR",
                        body,
                        attrs,
                        span: i as u32,
                        logger: Text::Static(""),
                    });
                }
            }
        }
    }

    /// One log record per policy decision, with the TaskPilot guide's decision-log fields as attributes
    /// (`log_type: policy_decision`), whatever `emit_logs` says: decisions are records.
    fn decision_records(&mut self) {
        for k in 0..self.decisions.len() {
            let (si, r) = self.decisions[k];
            let (si, r) = (si as usize, r as usize);
            let span = self.out.spans[si];
            let Some(d) = &self.nodes[self.span_nodes[si].node as usize].decision else { continue };
            let result: &'e str = &d.results[r].0;
            let a0 = self.out.attrs.len() as u32;
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
                attrs: (a0, self.out.attrs.len() as u32),
                span: si as u32,
                logger: Text::Static("agent_observable_policy.decision_logger"),
            });
        }
    }

    /// Copies the trace attributes to the end of `out.attrs` (for the span or record being made).
    fn push_trace_attrs(&mut self) {
        for k in self.trace_attrs.0..self.trace_attrs.1 {
            let kv = self.out.attrs[k as usize];
            self.out.attrs.push(kv);
        }
    }

    /// Renders a name or path template for span `span_idx` (whose attributes are set).
    fn render_name(&mut self, parts: &'e [NPart], span_idx: usize, copy_index: u64) -> Text<'e> {
        let span = self.out.spans[span_idx];
        self.scratch.clear();
        for p in parts {
            match p {
                NPart::Text(t) => self.scratch.push_str(t),
                NPart::Builtin(b) => self.push_builtin(*b, span.span_id, span.parent_span_id, copy_index, 1),
                NPart::SpanAttr(key) => {
                    if let Some(kv) = self.out.attrs_of(span.attrs).iter().find(|kv| kv.key == &**key) {
                        self.out.push_value_text(&kv.value, self.scratch);
                    }
                }
            }
        }
        self.out.push_text(self.scratch)
    }

    /// One artifact-diff record per span whose node declares an `artifact:` (the paper-writing workflow's spec
    /// `artifact_diffs.jsonl`), as a log record with `log_type: artifact_diff`.
    fn artifact_records(&mut self) {
        for si in 0..self.out.spans.len() {
            let SpanNode { node: ni, attempt, .. } = self.span_nodes[si];
            let Some(a) = &self.nodes[ni as usize].artifact else { continue };
            if attempt || !chance(&mut self.rng, a.probability) {
                continue;
            }
            let span = self.out.spans[si];
            let path = self.render_name(&a.path, si, 0);
            let added = a.added.sample(&mut self.rng).round() as i64;
            let removed = a.removed.sample(&mut self.rng).round() as i64;
            let review: &'e str = &a.review[pick(&mut self.rng, &a.review_cum)];
            let version = 1 + (self.rng.next_u64() % 4) as i64;
            let a0 = self.out.attrs.len() as u32;
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
                let first = (self.rng.next_u64() % a.sections.len() as u64) as usize;
                let mark = self.out.text_mark();
                self.out.text.push_str(&a.sections[first]);
                if a.sections.len() > 1 && chance(&mut self.rng, 0.4) {
                    let second =
                        (first + 1 + (self.rng.next_u64() % (a.sections.len() as u64 - 1)) as usize) % a.sections.len();
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
                push(self, "artifact.reviewed_at_ns", AnyValue::Int((span.end_ns + after) as i64));
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
                attrs: (a0, self.out.attrs.len() as u32),
                span: si as u32,
                logger: Text::Static("artifact"),
            });
        }
    }

    /// OpenInference attributes mirroring the GenAI ones of the span's attributes `a0..`.
    fn push_openinference(&mut self, a0: usize, is_root: bool) {
        let attrs = &self.out.attrs[a0..];
        let get = |k: &str| attrs.iter().find(|kv| kv.key == k).map(|kv| kv.value);
        let op = match get("gen_ai.operation.name") {
            Some(AnyValue::Str(t)) => Some(t),
            _ => None,
        };
        let kind = match op.as_ref().map(|t| self.out.str(t)) {
            Some("chat" | "text_completion" | "generate_content") => "LLM",
            Some("embeddings") => "EMBEDDING",
            Some("invoke_agent" | "create_agent") => "AGENT",
            Some("execute_tool") => "TOOL",
            Some("retrieval") => "RETRIEVER",
            _ if is_root => "CHAIN",
            _ => return,
        };
        let model = get("gen_ai.response.model").or(get("gen_ai.request.model"));
        let provider = get("gen_ai.provider.name").or(get("gen_ai.system"));
        let input = get("gen_ai.usage.input_tokens");
        let output = get("gen_ai.usage.output_tokens");
        let tool = get("gen_ai.tool.name");
        let agent = get("gen_ai.agent.name");
        let session = get("gen_ai.conversation.id");
        self.push_str_attr("openinference.span.kind", kind);
        for (key, v) in [
            ("llm.model_name", model),
            ("llm.provider", provider),
            ("llm.token_count.prompt", input),
            ("llm.token_count.completion", output),
            ("tool.name", tool),
            ("agent.name", agent),
            ("session.id", session),
        ] {
            if let Some(v) = v {
                self.out.attrs.push(KeyValue { key, value: v });
            }
        }
        if let (Some(AnyValue::Int(i)), Some(AnyValue::Int(o))) = (input, output) {
            self.out.attrs.push(KeyValue { key: "llm.token_count.total", value: AnyValue::Int(i + o) });
        }
    }

    /// Appends the value of a template built-in to the scratch text.
    fn push_builtin(&mut self, b: Builtin, span_id: [u8; 8], parent_id: [u8; 8], copy_index: u64, attempt: u32) {
        match b {
            Builtin::TraceId => tsim_model::hex::push_hex_str(self.scratch, &self.out.trace_id),
            Builtin::SpanId => tsim_model::hex::push_hex_str(self.scratch, &span_id),
            Builtin::ParentSpanId => tsim_model::hex::push_hex_str(self.scratch, &parent_id),
            Builtin::TraceIndex => {
                let _ = write!(self.scratch, "{}", self.trace_index);
            }
            Builtin::CopyIndex => {
                let _ = write!(self.scratch, "{copy_index}");
            }
            Builtin::Attempt => {
                let _ = write!(self.scratch, "{attempt}");
            }
            Builtin::Scenario => self.scratch.push_str(&self.sc.name),
            Builtin::Tenant => self.scratch.push_str(self.tenant.unwrap_or("")),
            Builtin::Uuid => {
                let t = self.uuid();
                let s = self.out.str(&t).to_owned();
                self.scratch.push_str(&s);
            }
            Builtin::TraceUuid => tsim_model::hex::push_uuid_str(self.scratch, &self.out.trace_id),
            Builtin::DurationMs => {
                tsim_model::time::push_ms3(self.scratch, self.cur_dur);
            }
            Builtin::Success => self.scratch.push_str(if self.cur_error.is_some() { "false" } else { "true" }),
            Builtin::ErrorType => {
                if let Some(t) = self.cur_error {
                    self.scratch.push_str(self.out.str(&t));
                }
            }
        }
    }

    fn render_log(&mut self, parts: &'e [LPart], span_idx: usize) -> Text<'e> {
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

    fn count(&mut self, c: &CCount) -> u64 {
        match c {
            CCount::Fixed(n) => *n,
            CCount::Uniform { min, span } => min + (unit(&mut self.rng) * *span as f64) as u64,
            CCount::Poisson { sampler, min, max } => (sampler.sample(&mut self.rng) as u64).clamp(*min, *max),
        }
    }

    /// One copy of node `ni`. Returns its subtree, duration and whether it failed.
    fn node(&mut self, ni: u32, parent_id: [u8; 8], forced: bool, copy_index: u64) -> (Sub, u64, bool) {
        let n = &self.nodes[ni as usize];
        let ev_start = self.out.events.len() as u32;
        let node = SpanNode { node: ni, attempt: false, failed_by_child: false };
        let (span_idx, span_id) = self.open_span(&n.name, parent_id, n, node);
        // A policy decision is taken before the work; a deny can fail the span.
        let mut denied = false;
        if let Some(d) = &n.decision {
            let r = pick(&mut self.rng, &d.cum);
            self.decisions.push((span_idx as u32, r as u32));
            denied = d.deny_fails_span && &*d.results[r].0 == "deny";
        }
        let forced = forced || denied;
        let mut from_child = None;
        let (dur, failed) = if let Some(r) = &n.retry {
            let mut cursor = EDGE_MIN_NS;
            let mut ok = false;
            for k in 1..=r.max_attempts {
                if k > 1 && self.out.spans.len() >= self.sc.max_spans {
                    self.cut = true;
                    break;
                }
                let p = r.success[(k as usize - 1).min(r.success.len() - 1)];
                let a_failed = forced || (k == 1 && r.force_initial_failure) || !chance(&mut self.rng, p);
                let (asub, adur) = self.attempt(ni, n, span_id, k, a_failed, copy_index);
                self.shift(asub, cursor);
                cursor += adur;
                if !a_failed {
                    ok = true;
                    break;
                }
                if k < r.max_attempts {
                    let base = r.backoff_base_ms * r.backoff_multiplier.powi(k as i32 - 1);
                    let jitter = 1.0 + r.backoff_jitter * (2.0 * unit(&mut self.rng) - 1.0);
                    cursor += ms_to_ns(base * jitter);
                }
            }
            (cursor + EDGE_MIN_NS, !ok)
        } else {
            let failed = forced || chance(&mut self.rng, n.error_rate);
            let (dur, failed_child) = self.body(n, span_id, failed, n.latency.as_ref());
            if !failed && n.from_child > 0.0 && failed_child.is_some() && chance(&mut self.rng, n.from_child) {
                from_child = failed_child;
            }
            (dur, failed || from_child.is_some())
        };
        self.finish(span_idx, n, Ending { failed, dur, copy_index, attempt: None, denied, from_child });
        (
            Sub {
                spans: (span_idx as u32, self.out.spans.len() as u32),
                events: (ev_start, self.out.events.len() as u32),
            },
            dur,
            failed,
        )
    }

    /// One attempt span of a retried node, holding the node's children.
    fn attempt(
        &mut self,
        ni: u32,
        n: &'e CNode,
        parent_id: [u8; 8],
        k: u32,
        failed: bool,
        copy_index: u64,
    ) -> (Sub, u64) {
        let ev_start = self.out.events.len() as u32;
        let node = SpanNode { node: ni, attempt: true, failed_by_child: false };
        let (span_idx, span_id) = self.open_span(&n.attempt_name, parent_id, n, node);
        let (dur, _) = self.body(n, span_id, failed, n.latency.as_ref());
        self.finish(span_idx, n, Ending { failed, dur, copy_index, attempt: Some(k), denied: false, from_child: None });
        (
            Sub {
                spans: (span_idx as u32, self.out.spans.len() as u32),
                events: (ev_start, self.out.events.len() as u32),
            },
            dur,
        )
    }

    /// Children first, then this span's own duration; places the children. Returns the
    /// duration and the span index of the first child that failed.
    fn body(&mut self, n: &'e CNode, span_id: [u8; 8], failed: bool, latency: Option<&Sampler>) -> (u64, Option<u32>) {
        let sc = self.sc;
        let base = self.kids.len();
        let mut sibling_failed = false;
        let mut first_failed = None;
        for &ci in &n.children {
            let c = &self.nodes[ci as usize];
            if !chance(&mut self.rng, c.probability) {
                continue;
            }
            let copies = self.count(&c.count);
            for copy in 0..copies {
                // The span budget: no more children once the trace has that many spans.
                if self.out.spans.len() >= sc.max_spans {
                    self.cut = true;
                    break;
                }
                let forced = (failed && chance(&mut self.rng, c.from_parent))
                    || (sibling_failed && chance(&mut self.rng, c.cascade));
                let (sub, dur, f) = self.node(ci, span_id, forced, copy);
                if f && first_failed.is_none() {
                    first_failed = Some(sub.spans.0);
                }
                sibling_failed |= f;
                self.kids.push(Kid { sub, dur });
            }
        }
        let count = self.kids.len() - base;
        let sampled = match latency {
            Some(l) => Some(ms_to_ns(l.sample(&mut self.rng))),
            None if count == 0 => Some(ms_to_ns(sc.default_leaf.sample(&mut self.rng))),
            None => None,
        };
        if count == 0 {
            return (sampled.unwrap_or(0), None);
        }
        let dur = if n.parallel { self.layout_parallel(base, sampled) } else { self.layout_sequential(base, sampled) };
        self.kids.truncate(base);
        (dur, first_failed)
    }

    fn layout_sequential(&mut self, base: usize, sampled: Option<u64>) -> u64 {
        let count = self.kids.len() - base;
        let block: u64 = self.kids[base..].iter().map(|k| k.dur).sum();
        let edge = EDGE_MIN_NS.max(block / 200);
        let needed = block + 2 * edge;
        let total = sampled.filter(|s| *s >= needed).unwrap_or(needed);
        let extra = total - needed;
        // Spread the slack over the gaps before, between and after the children.
        self.weights.clear();
        if extra > 0 {
            for _ in 0..=count {
                let w = unit(&mut self.rng);
                self.weights.push(w);
            }
        }
        let wsum: f64 = self.weights.iter().sum::<f64>().max(f64::MIN_POSITIVE);
        let mut cursor = edge;
        let mut used = 0;
        for i in 0..count {
            if extra > 0 {
                let gap = ((extra as f64 * self.weights[i] / wsum) as u64).min(extra - used);
                used += gap;
                cursor += gap;
            }
            let k = self.kids[base + i];
            self.shift(k.sub, cursor);
            cursor += k.dur;
        }
        debug_assert!(cursor + edge <= total);
        total
    }

    fn layout_parallel(&mut self, base: usize, sampled: Option<u64>) -> u64 {
        let count = self.kids.len() - base;
        let longest = self.kids[base..].iter().map(|k| k.dur).max().unwrap_or(0);
        // Parallel calls start a little apart, as real fan-outs do.
        let spread = (longest / 20).min(1_000_000);
        let mut block = 0;
        for i in 0..count {
            let j = (unit(&mut self.rng) * spread as f64) as u64;
            let k = &mut self.kids[base + i];
            block = block.max(j + k.dur);
            // The child's duration is no longer needed: keep its start offset there.
            k.dur = j;
        }
        let edge = EDGE_MIN_NS.max(block / 200);
        let needed = block + 2 * edge;
        let total = sampled.filter(|s| *s >= needed).unwrap_or(needed);
        let lead = edge + ((total - needed) as f64 * unit(&mut self.rng)) as u64;
        for i in 0..count {
            let k = self.kids[base + i];
            self.shift(k.sub, lead + k.dur);
        }
        total
    }

    /// Attributes, error marks, events, status and end time of a finished span. `attempt`
    /// is set for attempt spans of a retried node (which carry retry attributes instead of
    /// the node's own attributes and events).
    fn finish(&mut self, span_idx: usize, n: &'e CNode, end: Ending) {
        let Ending { failed, dur, copy_index, attempt, denied, from_child } = end;
        let error_type: Option<Text<'e>> = match (failed, denied, from_child) {
            (true, true, _) => n.decision.as_ref().map(|d| Text::Static(&d.deny_error)),
            (true, false, Some(c)) => Some(self.out.spans[c as usize].status_message),
            (true, false, None) => Some(Text::Static(&n.error_types[pick(&mut self.rng, &n.error_cum)])),
            _ => None,
        };
        if from_child.is_some() {
            self.span_nodes[span_idx].failed_by_child = true;
        }
        self.cur_dur = dur;
        self.cur_error = error_type;
        let a0 = self.out.attrs.len() as u32;
        let span_id = self.out.spans[span_idx].span_id;
        let parent_id = self.out.spans[span_idx].parent_span_id;
        match attempt {
            Some(k) => {
                self.out.attrs.push(KeyValue { key: "retry.attempt", value: AnyValue::Int(i64::from(k)) });
                self.out.attrs.push(KeyValue { key: "retry.is_retry", value: AnyValue::Bool(k > 1) });
            }
            None => {
                for a in &n.attrs {
                    let v = self.value(&a.value, a0 as usize, span_id, parent_id, copy_index, attempt);
                    self.out.attrs.push(KeyValue { key: &a.key, value: v });
                }
            }
        }
        // The decision shows on the span that made it: attributes and an event at its start.
        let decision = match (attempt, &n.decision) {
            (None, Some(d)) => {
                self.decisions.iter().rev().find(|(s, _)| *s as usize == span_idx).map(|(_, r)| (d, *r as usize))
            }
            _ => None,
        };
        if let Some((d, r)) = decision {
            self.push_str_attr("policy.decision.type", &d.decision_type);
            self.push_str_attr("policy.decision.result", &d.results[r].0);
            if let Some(p) = &d.policy_name {
                self.push_str_attr("policy.name", p);
            }
        }
        if let Some(ty) = error_type {
            self.out.attrs.push(KeyValue { key: "error.type", value: AnyValue::Str(ty) });
            if attempt.is_none() {
                let e0 = self.out.attrs.len();
                for a in &n.error_attrs {
                    let v = self.value(&a.value, e0, span_id, parent_id, copy_index, attempt);
                    // Replaces the span's own attribute of that key, if any.
                    match self.out.attrs[a0 as usize..e0].iter_mut().find(|kv| kv.key == &*a.key) {
                        Some(kv) => kv.value = v,
                        None => self.out.attrs.push(KeyValue { key: &a.key, value: v }),
                    }
                }
            }
        }
        self.push_trace_attrs();
        if self.openinference && attempt.is_none() {
            self.push_openinference(a0 as usize, span_idx == 0);
        }
        self.out.spans[span_idx].attrs = (a0, self.out.attrs.len() as u32);
        if let (Some(parts), None) = (&n.name_parts, attempt) {
            let name = self.render_name(parts, span_idx, copy_index);
            self.out.spans[span_idx].name = name;
        }
        let ev0 = self.out.events.len() as u32;
        if let Some((d, r)) = decision {
            let e0 = self.out.attrs.len() as u32;
            self.push_str_attr("policy.decision.type", &d.decision_type);
            self.push_str_attr("policy.decision.result", &d.results[r].0);
            self.push_str_attr("policy.decision.reason", &d.results[r].1);
            self.out.events.push(Event {
                name: Text::Static("policy.decision"),
                time_ns: 0,
                attrs: (e0, self.out.attrs.len() as u32),
            });
        }
        if attempt.is_none() {
            for e in &n.events {
                if !chance(&mut self.rng, e.probability) {
                    continue;
                }
                let at = e.at.unwrap_or_else(|| unit(&mut self.rng));
                let ea0 = self.out.attrs.len() as u32;
                for a in &e.attrs {
                    let v = self.value(&a.value, ea0 as usize, span_id, parent_id, copy_index, attempt);
                    self.out.attrs.push(KeyValue { key: &a.key, value: v });
                }
                self.out.events.push(Event {
                    name: Text::Static(&e.name),
                    time_ns: (dur as f64 * at) as u64,
                    attrs: (ea0, self.out.attrs.len() as u32),
                });
            }
        }
        if let Some(ty) = error_type {
            let e0 = self.out.attrs.len() as u32;
            // A failure taken over from a child carries the child's exception.
            let child_exception = from_child.and_then(|c| {
                let cs = self.out.spans[c as usize];
                self.out
                    .events_of(cs.events)
                    .iter()
                    .rev()
                    .find(|e| e.name == Text::Static("exception"))
                    .map(|e| e.attrs)
            });
            if let Some((a, b)) = child_exception {
                for k in a..b {
                    let kv = self.out.attrs[k as usize];
                    self.out.attrs.push(kv);
                }
            } else {
                let mapped = n.exceptions.iter().find(|(t, _, _)| **t == *self.out.str(&ty));
                let ex_type = mapped.map(|(_, e, _)| Text::Static(e)).unwrap_or(ty);
                let msg = match mapped.and_then(|(_, _, m)| m.as_deref()) {
                    Some(m) => Text::Static(m),
                    None => {
                        let name = self.out.spans[span_idx].name;
                        self.scratch.clear();
                        self.scratch.push_str("simulated ");
                        self.scratch.push_str(self.out.str(&ty));
                        self.scratch.push_str(" in ");
                        self.scratch.push_str(self.out.str(&name));
                        self.out.push_text(self.scratch)
                    }
                };
                self.out.attrs.push(KeyValue { key: "exception.type", value: AnyValue::Str(ex_type) });
                self.out.attrs.push(KeyValue { key: "exception.message", value: AnyValue::Str(msg) });
            }
            self.out.events.push(Event {
                name: Text::Static("exception"),
                time_ns: dur,
                attrs: (e0, self.out.attrs.len() as u32),
            });
            let s = &mut self.out.spans[span_idx];
            s.status = StatusCode::Error;
            s.status_message = ty;
        }
        let s = &mut self.out.spans[span_idx];
        s.events = (ev0, self.out.events.len() as u32);
        s.end_ns = dur;
    }

    fn lit(l: &'e Lit) -> AnyValue<'e> {
        match l {
            Lit::Str(s) => AnyValue::Str(Text::Static(s)),
            Lit::Int(i) => AnyValue::Int(*i),
            Lit::Double(d) => AnyValue::Double(*d),
            Lit::Bool(b) => AnyValue::Bool(*b),
        }
    }

    fn uuid(&mut self) -> Text<'e> {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.rng.next_u64().to_be_bytes());
        b[8..].copy_from_slice(&self.rng.next_u64().to_be_bytes());
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let mark = self.out.text_mark();
        tsim_model::hex::push_uuid_str(&mut self.out.text, &b);
        self.out.text_since(mark)
    }

    fn value(
        &mut self,
        g: &'e Gen,
        a0: usize,
        span_id: [u8; 8],
        parent_id: [u8; 8],
        copy_index: u64,
        attempt: Option<u32>,
    ) -> AnyValue<'e> {
        match g {
            Gen::Lit(l) => Self::lit(l),
            Gen::Num { sampler, as_type } => {
                let x = sampler.sample(&mut self.rng);
                match as_type {
                    NumType::Int => AnyValue::Int(x.round() as i64),
                    NumType::Double => AnyValue::Double(x),
                    NumType::Str => {
                        let mark = self.out.text_mark();
                        if x.fract() == 0.0 {
                            let _ = write!(self.out.text, "{x:.0}");
                        } else {
                            let _ = write!(self.out.text, "{x:.3}");
                        }
                        AnyValue::Str(self.out.text_since(mark))
                    }
                }
            }
            Gen::Cat { values, cum } => Self::lit(&values[pick(&mut self.rng, cum)]),
            Gen::Uuid => AnyValue::Str(self.uuid()),
            Gen::Seq { start, step } => AnyValue::Int(start.wrapping_add(step.wrapping_mul(self.trace_index as i64))),
            Gen::Template(parts) => {
                self.scratch.clear();
                for p in parts {
                    match p {
                        Part::Text(t) => self.scratch.push_str(t),
                        Part::Attr(i) => {
                            // (Missing only when a failure attribute replaced a span attribute.)
                            if let Some(kv) = self.out.attrs.get(a0 + i).copied() {
                                self.out.push_value_text(&kv.value, self.scratch);
                            }
                        }
                        Part::Trace(i) => {
                            let kv = self.out.attrs[self.trace_attrs.0 as usize + i];
                            self.out.push_value_text(&kv.value, self.scratch);
                        }
                        Part::Builtin(b) => self.push_builtin(*b, span_id, parent_id, copy_index, attempt.unwrap_or(1)),
                    }
                }
                let t = self.out.push_text(self.scratch);
                AnyValue::Str(t)
            }
        }
    }
}
