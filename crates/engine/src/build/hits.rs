//! Incidents acting on a span: which of the trace's active incidents hit it, what they do
//! together (latency, errors, an outage, tokens), and the marks and counts they leave.

use tsim_model::num::{f64_of, f64_of_i64, i64_sat, u64_sat};
use tsim_model::{AnyValue, KeyValue, Text};

use super::Builder;
use crate::compile::{CNode, NPart};
use crate::incidents::Src;
use crate::rng::chance;
use crate::sample::Sampler;

/// Attribute keys whose values an incident's `tokens:` multiplies.
const TOKEN_KEYS: &[&str] = &["gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.total_tokens"];

/// What the incidents that hit one span do to it, composed in their order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Eff<'e> {
    /// Bit `k`: incident `k` hit the span.
    pub hit: u64,
    /// The time the span was judged at (its start, as far as was known).
    pub at: u64,
    pub lat_mul: f64,
    pub lat_add_ms: f64,
    pub lat_dist: Option<&'e Sampler>,
    /// Chance of failing and the error type.
    pub error: Option<(f64, &'e str)>,
    /// The span fails fast with this error type.
    pub outage: Option<&'e str>,
    pub tokens: f64,
}

impl<'e> Eff<'e> {
    /// No incident.
    pub const NONE: Eff<'static> =
        Eff { hit: 0, at: 0, lat_mul: 1.0, lat_add_ms: 0.0, lat_dist: None, error: None, outage: None, tokens: 1.0 };

    /// The error type of a failure the incidents caused.
    pub fn error_type(&self) -> Option<&'e str> {
        self.outage.or(self.error.map(|e| e.1))
    }
}

impl<'e> Builder<'e, '_> {
    /// The effects of the incidents whose window holds the start of node `ni`'s span (index
    /// `span_idx`), which just opened and hit it. Returns them and, when a match had to read
    /// the span's attributes, where they were drawn in `pre` (the span keeps those values).
    pub(super) fn incident_effects(
        &mut self,
        ni: u32,
        n: &'e CNode,
        span_idx: usize,
        ids: ([u8; 8], [u8; 8]),
        copy_index: u64,
    ) -> (Eff<'e>, Option<usize>) {
        if self.candidates == 0 {
            return (Eff::NONE, None);
        }
        let Some(hits) = self.node_hits.get(ni as usize).filter(|h| !h.is_empty()) else {
            return (Eff::NONE, None);
        };
        let at = self.hints.get(span_idx).copied().unwrap_or(self.trace_start);
        let mut eff = Eff { at, ..Eff::NONE };
        let mut pre = None;
        // Composed in locals (kept in registers: a span may be hit by many incidents).
        let (mut hit, mut lat_mul, mut lat_add, mut tokens) = (0u64, 1.0f64, 0.0f64, 1.0f64);
        for h in hits {
            if self.candidates & (1u64 << h.incident) == 0 {
                continue;
            }
            let Some(level) = self.incidents[h.incident as usize].level_at(at) else { continue };
            if h.pre && pre.is_none() {
                pre = Some(self.pre_draw(n, ids, copy_index));
            }
            if (!h.conds.is_empty() || h.name_glob.is_some()) && !self.holds(h, n, pre) {
                continue;
            }
            let c = &self.incidents[h.incident as usize];
            hit |= 1u64 << h.incident;
            if let Some((m, add, dist)) = &c.latency {
                if let Some(d) = dist
                    && chance(&mut self.rng, level)
                {
                    eff.lat_dist = Some(d);
                }
                lat_mul *= 1.0 + (m - 1.0) * level;
                lat_add += add * level;
            }
            if let Some((rate, ty)) = &c.error {
                let base = eff.error.map_or(n.error_rate, |e| e.0);
                eff.error = Some((base + (rate - base) * level, ty));
            }
            if let Some(ty) = &c.outage
                && chance(&mut self.rng, level)
            {
                eff.outage = Some(ty);
            }
            if let Some(t) = c.tokens {
                tokens *= 1.0 + (t - 1.0) * level;
            }
        }
        eff.hit = hit;
        eff.lat_mul = lat_mul;
        eff.lat_add_ms = lat_add;
        eff.tokens = tokens;
        (eff, pre)
    }

    /// Draws the node's early attributes now (the span keeps them); returns where they are.
    fn pre_draw(&mut self, n: &'e CNode, (span_id, parent_id): ([u8; 8], [u8; 8]), copy_index: u64) -> usize {
        let base = self.pre.len();
        for a in &n.attrs {
            let v = crate::incidents::early(&a.value)
                .then(|| self.value(&a.value, self.out.attrs.len(), span_id, parent_id, copy_index, None));
            self.pre.push(v);
        }
        base
    }

    fn text_is(&mut self, v: Option<AnyValue<'e>>, want: &str) -> bool {
        let Some(v) = v else { return false };
        self.scratch.clear();
        self.out.push_value_text(&v, self.scratch);
        self.scratch == want
    }

    /// Whether a hit's conditions hold for the span (its early attributes at `pre`).
    fn holds(&mut self, h: &crate::incidents::NodeHit, n: &'e CNode, pre: Option<usize>) -> bool {
        for (src, want) in &h.conds {
            let v = match src {
                Src::Node(i) => pre.and_then(|b| self.pre[b + i]),
                Src::Trace(i) => self.out.attrs.get(self.trace_attrs.0 as usize + i).map(|kv| kv.value),
            };
            if !self.text_is(v, want) {
                return false;
            }
        }
        if let (Some(g), Some(parts)) = (&h.name_glob, &n.name_parts) {
            let mut name = String::new();
            for p in parts {
                match p {
                    NPart::Text(t) => name.push_str(t),
                    NPart::SpanAttr(key) => {
                        let v =
                            n.attrs.iter().position(|a| a.key == *key).and_then(|i| pre.and_then(|b| self.pre[b + i]));
                        if let Some(v) = v {
                            self.out.push_value_text(&v, &mut name);
                        }
                    }
                    NPart::Builtin(_) => return false,
                }
            }
            return crate::declared::glob(g, &name);
        }
        true
    }

    /// A duration as the incidents stretch it.
    pub(super) fn stretch(eff: &Eff<'_>, ns: u64) -> u64 {
        if eff.lat_mul == 1.0 && eff.lat_add_ms == 0.0 {
            return ns;
        }
        u64_sat((f64_of(ns) * eff.lat_mul + eff.lat_add_ms * 1e6).min(1e18))
    }

    /// Multiplies the token counts among the attributes from `a0`.
    pub(super) fn scale_tokens(&mut self, a0: usize, factor: f64) {
        for kv in &mut self.out.attrs[a0..] {
            if !TOKEN_KEYS.contains(&kv.key) {
                continue;
            }
            kv.value = match kv.value {
                AnyValue::Int(i) => AnyValue::Int(i64_sat((f64_of_i64(i) * factor).round())),
                AnyValue::Double(d) => AnyValue::Double(d * factor),
                other => other,
            };
        }
    }

    /// The `incident.name` attribute of a span the incidents in `hit` hit (`--mark-incidents`).
    pub(super) fn mark(&mut self, hit: u64) {
        if hit == 0 || !self.mark_incidents {
            return;
        }
        let mut names =
            self.incidents.iter().enumerate().filter(|(k, _)| hit & (1u64 << k) != 0).map(|(_, c)| &*c.name);
        let value = match (names.next(), names.next()) {
            (Some(one), None) => Text::Static(one),
            (first, second) => {
                self.scratch.clear();
                for (i, n) in first.into_iter().chain(second).chain(names).enumerate() {
                    if i > 0 {
                        self.scratch.push(',');
                    }
                    self.scratch.push_str(n);
                }
                self.out.push_text(self.scratch)
            }
        };
        self.out.attrs.push(KeyValue { key: tsim_model::INCIDENT_KEY, value: AnyValue::Str(value) });
    }

    /// Notes which incidents hit a finished span, and when it was judged, for their windows'
    /// counts once the trace is done.
    pub(super) fn count_hit(&mut self, eff: &Eff<'_>, span_idx: usize) {
        // Read only when some incident may act on this trace: nothing to note otherwise.
        if self.candidates == 0 {
            return;
        }
        if self.span_hits.len() <= span_idx {
            self.span_hits.resize(span_idx + 1, (0, 0));
        }
        self.span_hits[span_idx] = (eff.hit, eff.at);
    }

    /// The last resort when rebuilding does not settle a span on its side of an edge (its
    /// own effect moves its start across it, through its parent's margins): the span and its
    /// subtree move to the nearest time on the side it was judged on, when that keeps them
    /// inside their parent. Times are absolute here (after the trace was placed).
    pub(super) fn settle_misjudged(&mut self) {
        for j in 0..self.out.spans.len() {
            let node = self.span_nodes[j];
            let Some(hits) = self.node_hits.get(node.node as usize).filter(|_| !node.attempt) else { continue };
            let start = self.out.spans[j].start_ns;
            let at = self.span_hits.get(j).map_or(start, |h| h.1);
            let Some(k) = crate::incidents::misjudged_by(self.incidents, hits, self.candidates, at, start) else {
                continue;
            };
            let c = &self.incidents[k];
            // The nearest start on the judged side: into the window it was judged in, or out
            // of the one it starts in.
            let target = match (c.window_at(at), c.window_at(start)) {
                (Some((_, ws)), _) if start < ws => ws,
                (Some((_, ws)), _) => (ws + c.dur_ns).saturating_sub(1),
                (None, Some((_, ws))) if start - ws <= ws + c.dur_ns - start => ws.saturating_sub(1),
                (None, Some((_, ws))) => ws + c.dur_ns,
                (None, None) => continue,
            };
            self.move_subtree(j, target);
        }
    }

    /// Moves span `j` and its subtree so that it starts at `target`, if they stay within the
    /// span's parent.
    fn move_subtree(&mut self, j: usize, target: u64) {
        let spans = &self.out.spans;
        let mut ids = vec![spans[j].span_id];
        let mut end = j + 1;
        while end < spans.len() && ids.contains(&spans[end].parent_span_id) {
            ids.push(spans[end].span_id);
            end += 1;
        }
        let (s, e) = (spans[j].start_ns, spans[j].end_ns);
        let parent = spans[..j].iter().rev().find(|p| p.span_id == spans[j].parent_span_id);
        let fits = parent.is_some_and(|p| target > p.start_ns && target + (e - s) < p.end_ns);
        if !fits {
            return;
        }
        for sp in &mut self.out.spans[j..end] {
            sp.start_ns = sp.start_ns - s + target;
            sp.end_ns = sp.end_ns - s + target;
        }
        for i in j..end {
            let (e0, e1) = self.out.spans[i].events;
            for ev in &mut self.out.events[e0 as usize..e1 as usize] {
                ev.time_ns = ev.time_ns - s + target;
            }
        }
    }
}
