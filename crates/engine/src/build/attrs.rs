//! A finished span's attributes, error marks, events and status, and the values they take
//! (literals, samples, templates, built-ins).

use std::fmt::Write;
use tsim_model::num::{f64_of, i64_sat, idx, u64_sat};

use rand::Rng;
use tsim_model::{AnyValue, Event, KeyValue, StatusCode, Text};
use tsim_scenario::NumType;

use super::*;
use crate::compile::{Builtin, CNode, Gen, Lit, NPart, Part};
use crate::rng::{chance, pick, unit};

impl<'e> Builder<'e, '_> {
    /// Copies the trace attributes to the end of `out.attrs` (for the span or record being made).
    pub(super) fn push_trace_attrs(&mut self) {
        for k in self.trace_attrs.0..self.trace_attrs.1 {
            let kv = self.out.attrs[k as usize];
            self.out.attrs.push(kv);
        }
    }

    /// Renders a name or path template for span `span_idx` (whose attributes are set).
    pub(super) fn render_name(&mut self, parts: &'e [NPart], span_idx: usize, copy_index: u64) -> Text<'e> {
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

    /// OpenInference attributes mirroring the GenAI ones of the span's attributes `a0..`.
    pub(super) fn push_openinference(&mut self, a0: usize, is_root: bool) {
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
    pub(super) fn push_builtin(
        &mut self,
        b: Builtin,
        span_id: [u8; 8],
        parent_id: [u8; 8],
        copy_index: u64,
        attempt: u32,
    ) {
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

    /// Attributes, error marks, events, status and end time of a finished span. `attempt`
    /// is set for attempt spans of a retried node (which carry retry attributes instead of
    /// the node's own attributes and events).
    pub(super) fn finish(&mut self, span_idx: usize, n: &'e CNode, end: Ending<'e>) {
        let Ending { failed, dur, copy_index, attempt, denied, from_child, eff, pre } = end;
        let error_type: Option<Text<'e>> = match (failed, denied, from_child) {
            (true, true, _) => n.decision.as_ref().map(|d| Text::Static(&d.deny_error)),
            (true, false, Some(c)) => Some(self.out.spans[c as usize].status_message),
            (true, false, None) => match eff.error_type() {
                Some(t) => Some(Text::Static(t)),
                None => Some(Text::Static(&n.error_types[pick(&mut self.rng, &n.error_cum)])),
            },
            _ => None,
        };
        if from_child.is_some() {
            self.span_nodes[span_idx].failed_by_child = true;
        }
        self.cur_dur = dur;
        self.cur_error = error_type;
        let a0 = idx(self.out.attrs.len());
        let span_id = self.out.spans[span_idx].span_id;
        let parent_id = self.out.spans[span_idx].parent_span_id;
        match attempt {
            Some(k) => {
                self.out.attrs.push(KeyValue { key: "retry.attempt", value: AnyValue::Int(i64::from(k)) });
                self.out.attrs.push(KeyValue { key: "retry.is_retry", value: AnyValue::Bool(k > 1) });
            }
            None => {
                for (i, a) in n.attrs.iter().enumerate() {
                    let v = match pre.and_then(|b| self.pre[b + i]) {
                        Some(v) => v,
                        None => self.value(&a.value, a0 as usize, span_id, parent_id, copy_index, attempt),
                    };
                    self.out.attrs.push(KeyValue { key: &a.key, value: v });
                }
                if eff.tokens != 1.0 {
                    self.scale_tokens(a0 as usize, eff.tokens);
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
        self.mark(eff.hit);
        self.out.spans[span_idx].attrs = (a0, idx(self.out.attrs.len()));
        if let (Some(parts), None) = (&n.name_parts, attempt) {
            let name = self.render_name(parts, span_idx, copy_index);
            self.out.spans[span_idx].name = name;
        }
        let ev0 = idx(self.out.events.len());
        if let Some((d, r)) = decision {
            let e0 = idx(self.out.attrs.len());
            self.push_str_attr("policy.decision.type", &d.decision_type);
            self.push_str_attr("policy.decision.result", &d.results[r].0);
            self.push_str_attr("policy.decision.reason", &d.results[r].1);
            self.out.events.push(Event {
                name: Text::Static("policy.decision"),
                time_ns: 0,
                attrs: (e0, idx(self.out.attrs.len())),
            });
        }
        if attempt.is_none() {
            for e in &n.events {
                if !chance(&mut self.rng, e.probability) {
                    continue;
                }
                let at = e.at.unwrap_or_else(|| unit(&mut self.rng));
                let ea0 = idx(self.out.attrs.len());
                for a in &e.attrs {
                    let v = self.value(&a.value, ea0 as usize, span_id, parent_id, copy_index, attempt);
                    self.out.attrs.push(KeyValue { key: &a.key, value: v });
                }
                self.out.events.push(Event {
                    name: Text::Static(&e.name),
                    time_ns: u64_sat(f64_of(dur) * at),
                    attrs: (ea0, idx(self.out.attrs.len())),
                });
            }
        }
        if let Some(ty) = error_type {
            let e0 = idx(self.out.attrs.len());
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
                attrs: (e0, idx(self.out.attrs.len())),
            });
            let s = &mut self.out.spans[span_idx];
            s.status = StatusCode::Error;
            s.status_message = ty;
        }
        let s = &mut self.out.spans[span_idx];
        s.events = (ev0, idx(self.out.events.len()));
        s.end_ns = dur;
        self.count_hit(&eff, span_idx);
    }

    pub(super) fn lit(l: &'e Lit) -> AnyValue<'e> {
        match l {
            Lit::Str(s) => AnyValue::Str(Text::Static(s)),
            Lit::Int(i) => AnyValue::Int(*i),
            Lit::Double(d) => AnyValue::Double(*d),
            Lit::Bool(b) => AnyValue::Bool(*b),
        }
    }

    pub(super) fn uuid(&mut self) -> Text<'e> {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.rng.next_u64().to_be_bytes());
        b[8..].copy_from_slice(&self.rng.next_u64().to_be_bytes());
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let mark = self.out.text_mark();
        tsim_model::hex::push_uuid_str(&mut self.out.text, &b);
        self.out.text_since(mark)
    }

    pub(super) fn value(
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
                    NumType::Int => AnyValue::Int(i64_sat(x.round())),
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
            Gen::Seq { start, step } => {
                AnyValue::Int(start.wrapping_add(step.wrapping_mul(self.trace_index.cast_signed())))
            }
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
