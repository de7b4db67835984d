//! The span budget: the most spans one trace of a scenario may have. The tree's worst case
//! is checked when a file is read, so what validates cannot reach unbounded memory; the
//! engine enforces the same budget while it builds (a trace over it is cut and counted).

use crate::spec::{CountSpec, SpanSpec};

/// `max_spans_per_trace` when a scenario does not set it.
pub const DEFAULT_MAX_SPANS: u64 = 100_000;

/// The largest `max_spans_per_trace` a scenario may set.
pub const MAX_SPANS_LIMIT: u64 = 10_000_000;

/// The most copies a count can make.
pub fn max_copies(c: &CountSpec) -> u64 {
    match c {
        CountSpec::Fixed(n) => *n,
        CountSpec::Uniform { max, .. } | CountSpec::Poisson { max, .. } => *max,
    }
}

/// Worst-case spans of one copy of `n` and its subtree (saturating).
pub fn worst_case(n: &SpanSpec) -> u128 {
    let kids = n
        .children
        .iter()
        .map(|c| u128::from(max_copies(&c.count)).saturating_mul(worst_case(c)))
        .fold(0u128, u128::saturating_add);
    match n.retry.as_ref().filter(|r| r.enabled) {
        // Each attempt is a span holding the node's children.
        Some(r) => u128::from(r.max_attempts).saturating_mul(kids.saturating_add(1)).saturating_add(1),
        None => kids.saturating_add(1),
    }
}

/// A node that multiplies the spans under it: (line, what it does, the factor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multiplier {
    /// Line of the node.
    pub line: u32,
    /// Its span type.
    pub span_type: String,
    /// `count up to N` or `retry × N`.
    pub what: String,
    /// Worst-case spans of all its copies.
    pub spans: u128,
}

/// The nodes whose copies or retries make the worst case, largest first (at most `top`).
pub fn multipliers(root: &SpanSpec, top: usize) -> Vec<Multiplier> {
    fn walk(n: &SpanSpec, out: &mut Vec<Multiplier>) {
        let copies = max_copies(&n.count);
        let each = worst_case(n);
        if copies > 1 {
            out.push(Multiplier {
                line: n.line,
                span_type: n.span_type.clone(),
                what: format!("count up to {copies}"),
                spans: u128::from(copies).saturating_mul(each),
            });
        }
        if let Some(r) = n.retry.as_ref().filter(|r| r.enabled && r.max_attempts > 1) {
            out.push(Multiplier {
                line: n.line,
                span_type: n.span_type.clone(),
                what: format!("retry × {}", r.max_attempts),
                spans: each,
            });
        }
        for c in &n.children {
            walk(c, out);
        }
    }
    let mut out = Vec::new();
    walk(root, &mut out);
    out.sort_by(|a, b| b.spans.cmp(&a.spans).then(a.line.cmp(&b.line)));
    out.truncate(top);
    out
}
