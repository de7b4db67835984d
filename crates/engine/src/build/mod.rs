//! Builds one trace into a [`TraceBuf`]: structure, timing, failures, retries, attributes.
//!
//! Each node is generated with its own start at 0; a parent then places its children's
//! subtrees (contiguous ranges of spans and events) by shifting them. A parent always covers
//! its children: children start after it starts and end before it ends. The structure is
//! here; [`layout`] places children, [`attrs`] fills attributes and status, [`records`] adds
//! log records, decisions and artifacts.

mod attrs;
mod hits;
mod layout;
mod records;

pub(crate) use hits::Eff;

use tsim_model::num::{f64_of, idx, u64_sat};
use tsim_model::{AnyValue, KeyValue, Span, StatusCode, Text, TraceBuf};

use crate::compile::{CAttr, CCount, CNode, CompiledScenario};
use crate::rng::{TraceRng, chance, pick, unit};
use crate::sample::Sampler;
use rand::Rng;

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
    /// The run's incidents, and which of them may hit each node of this trace's table.
    pub incidents: &'e [crate::incidents::CIncident],
    pub node_hits: &'e [Vec<crate::incidents::NodeHit>],
    /// Bit `k`: incident `k` acts on spans of this trace's scenario (when a span starts in
    /// one of its windows).
    pub candidates: u64,
    /// When each span (by index) starts, as far as is known: the last build's times (none on
    /// the first build, where every span is judged at the trace's start).
    pub hints: &'o [u64],
    /// The trace's start (Unix ns).
    pub trace_start: u64,
    /// The last build of a trace whose spans did not settle: move what is left misjudged.
    pub settle: bool,
    /// For each span (by index), the incidents that hit it and the time it was judged at.
    pub span_hits: &'o mut Vec<(u64, u64)>,
    /// Attributes drawn as a span starts (an incident's match read them), per node attribute.
    pub pre: Vec<Option<AnyValue<'e>>>,
    /// Put `incident.name` on the spans incidents hit.
    pub mark_incidents: bool,
    /// The duration of a call that fails fast (an outage).
    pub fail_fast: &'e Sampler,
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
    /// Which copy of its node it is (`{copy_index}`).
    pub copy_index: u64,
}

/// How a span ended, for [`Builder::finish`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ending<'e> {
    failed: bool,
    dur: u64,
    copy_index: u64,
    /// The attempt number of an attempt span of a retried node.
    attempt: Option<u32>,
    /// Failed because its policy decision denied it.
    denied: bool,
    /// The span index of the failed child whose error it took.
    from_child: Option<u32>,
    /// What incidents do to it.
    eff: Eff<'e>,
    /// Where its attributes drawn at its start are in `pre`.
    pre: Option<usize>,
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
    /// The incidents that acted on the current trace and what they hit in it.
    pub(crate) active: Vec<crate::incidents::Active>,
    /// Each span's start in the last build (see [`Builder::hints`]).
    pub(crate) hints: Vec<u64>,
    /// Each span's incidents in the last build, and when it was judged.
    pub(crate) span_hits: Vec<(u64, u64)>,
    /// Each scenario's arrival multiplier at the trace's start (traffic incidents).
    pub(crate) mix: Vec<f64>,
}

impl Scratch {
    /// The incidents that acted on the last trace (per window), with the spans and errors
    /// they hit in it; incidents on arrivals alone, when its start was in their window.
    pub fn incident_hits(&self) -> &[crate::incidents::Active] {
        &self.active
    }
}

fn ms_to_ns(ms: f64) -> u64 {
    if ms <= 0.0 { 0 } else { u64_sat((ms * 1e6).min(1e18)) }
}

impl<'e> Builder<'e, '_> {
    pub(super) fn span_id(&mut self) -> [u8; 8] {
        let v = self.rng.next_u64();
        (if v == 0 { 1 } else { v }).to_be_bytes()
    }

    /// Adds a string attribute borrowed from the compiled scenario (or a fixed text).
    pub(super) fn push_str_attr(&mut self, key: &'static str, value: &'e str) {
        self.out.attrs.push(KeyValue { key, value: AnyValue::Str(Text::Static(value)) });
    }

    /// Pushes a span with times, attributes and status still to be filled in.
    pub(super) fn open_span(
        &mut self,
        name: &'e str,
        parent_id: [u8; 8],
        n: &CNode,
        node: SpanNode,
    ) -> (usize, [u8; 8]) {
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

    pub(super) fn shift(&mut self, sub: Sub, by: u64) {
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
        let t0 = idx(self.out.attrs.len());
        let trace_attrs: &'e [CAttr] = &self.nodes[0].trace_attrs;
        for a in trace_attrs {
            let v = self.value(&a.value, t0 as usize, [0; 8], [0; 8], 0, None);
            self.out.attrs.push(KeyValue { key: &a.key, value: v });
        }
        self.trace_attrs = (t0, idx(self.out.attrs.len()));
        let (sub, _, _) = self.node(0, [0; 8], false, 0);
        self.shift(sub, start_ns);
        if self.settle {
            self.settle_misjudged();
        }
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

    pub(super) fn count(&mut self, c: &CCount) -> u64 {
        match c {
            CCount::Fixed(n) => *n,
            CCount::Uniform { min, span } => min + u64_sat(unit(&mut self.rng) * f64_of(*span)),
            CCount::Poisson { sampler, min, max } => u64_sat(sampler.sample(&mut self.rng)).clamp(*min, *max),
        }
    }

    /// One copy of node `ni`. Returns its subtree, duration and whether it failed.
    pub(super) fn node(&mut self, ni: u32, parent_id: [u8; 8], forced: bool, copy_index: u64) -> (Sub, u64, bool) {
        let n = &self.nodes[ni as usize];
        let ev_start = idx(self.out.events.len());
        let node = SpanNode { node: ni, attempt: false, failed_by_child: false, copy_index };
        let (span_idx, span_id) = self.open_span(&n.name, parent_id, n, node);
        let (eff, pre) = self.incident_effects(ni, n, span_idx, (span_id, parent_id), copy_index);
        // A policy decision is taken before the work; a deny can fail the span.
        let mut denied = false;
        if let Some(d) = &n.decision {
            let r = pick(&mut self.rng, &d.cum);
            self.decisions.push((idx(span_idx), idx(r)));
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
                let p = match eff.error {
                    Some((rate, _)) => 1.0 - rate,
                    None => r.success[(k as usize - 1).min(r.success.len() - 1)],
                };
                let a_failed =
                    forced || eff.outage.is_some() || (k == 1 && r.force_initial_failure) || !chance(&mut self.rng, p);
                let (asub, adur) = self.attempt(ni, n, span_id, k, a_failed, copy_index, eff);
                self.shift(asub, cursor);
                cursor += adur;
                if !a_failed {
                    ok = true;
                    break;
                }
                // An error of a type that is not retried ends the retries: the node fails.
                let not_retried = self.cur_error.is_some_and(|t| {
                    let ty = self.out.str(&t);
                    n.error_types.iter().zip(&r.retryable).any(|(t, ok)| !ok && **t == *ty)
                });
                if not_retried {
                    break;
                }
                if k < r.max_attempts {
                    let base = r.backoff_base_ms * r.backoff_multiplier.powi(k.cast_signed() - 1);
                    let jitter = 1.0 + r.backoff_jitter * (2.0 * unit(&mut self.rng) - 1.0);
                    cursor += ms_to_ns(base * jitter);
                }
            }
            (cursor + EDGE_MIN_NS, !ok)
        } else {
            let rate = eff.error.map_or(n.error_rate, |e| e.0);
            let failed = forced || eff.outage.is_some() || chance(&mut self.rng, rate);
            let (dur, failed_child) = self.body(n, span_id, failed, n.latency.as_ref(), &eff);
            if !failed && n.from_child > 0.0 && failed_child.is_some() && chance(&mut self.rng, n.from_child) {
                from_child = failed_child;
            }
            (dur, failed || from_child.is_some())
        };
        self.finish(span_idx, n, Ending { failed, dur, copy_index, attempt: None, denied, from_child, eff, pre });
        if let Some(base) = pre {
            self.pre.truncate(base);
        }
        (
            Sub { spans: (idx(span_idx), idx(self.out.spans.len())), events: (ev_start, idx(self.out.events.len())) },
            dur,
            failed,
        )
    }

    /// One attempt span of a retried node, holding the node's children.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn attempt(
        &mut self,
        ni: u32,
        n: &'e CNode,
        parent_id: [u8; 8],
        k: u32,
        failed: bool,
        copy_index: u64,
        eff: Eff<'e>,
    ) -> (Sub, u64) {
        let ev_start = idx(self.out.events.len());
        let node = SpanNode { node: ni, attempt: true, failed_by_child: false, copy_index };
        let (span_idx, span_id) = self.open_span(&n.attempt_name, parent_id, n, node);
        let (dur, _) = self.body(n, span_id, failed, n.latency.as_ref(), &eff);
        let end = Ending { failed, dur, copy_index, attempt: Some(k), denied: false, from_child: None, eff, pre: None };
        self.finish(span_idx, n, end);
        (Sub { spans: (idx(span_idx), idx(self.out.spans.len())), events: (ev_start, idx(self.out.events.len())) }, dur)
    }

    /// Children first, then this span's own duration; places the children. Returns the
    /// duration and the span index of the first child that failed. An outage fails fast:
    /// no children.
    pub(super) fn body(
        &mut self,
        n: &'e CNode,
        span_id: [u8; 8],
        failed: bool,
        latency: Option<&Sampler>,
        eff: &Eff<'e>,
    ) -> (u64, Option<u32>) {
        let sc = self.sc;
        let base = self.kids.len();
        let mut sibling_failed = false;
        let mut first_failed = None;
        let children: &[u32] = if eff.outage.is_some() { &[] } else { &n.children };
        for &ci in children {
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
        let sampled = match (eff.lat_dist, eff.outage, latency) {
            (Some(d), _, _) => Some(ms_to_ns(d.sample(&mut self.rng))),
            (None, Some(_), _) => Some(ms_to_ns(self.fail_fast.sample(&mut self.rng))),
            (None, None, Some(l)) => Some(ms_to_ns(l.sample(&mut self.rng))),
            (None, None, None) if count == 0 => Some(ms_to_ns(sc.default_leaf.sample(&mut self.rng))),
            (None, None, None) => None,
        };
        let sampled = sampled.map(|ns| Self::stretch(eff, ns));
        if count == 0 {
            return (sampled.unwrap_or(0), None);
        }
        let dur = if n.parallel { self.layout_parallel(base, sampled) } else { self.layout_sequential(base, sampled) };
        self.kids.truncate(base);
        // A parent without a latency of its own lasts as its children do, stretched.
        let dur = if sampled.is_none() { Self::stretch(eff, dur) } else { dur };
        (dur, first_failed)
    }
}
