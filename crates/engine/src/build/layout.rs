//! Placing children inside their parent: one after another with the slack spread over the
//! gaps, or together with small start offsets.

use super::*;
use crate::rng::unit;
use tsim_model::num::{f64_of, u64_sat};

impl<'e> Builder<'e, '_> {
    pub(super) fn layout_sequential(&mut self, base: usize, sampled: Option<u64>) -> u64 {
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
                let gap = u64_sat(f64_of(extra) * self.weights[i] / wsum).min(extra - used);
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

    pub(super) fn layout_parallel(&mut self, base: usize, sampled: Option<u64>) -> u64 {
        let count = self.kids.len() - base;
        let longest = self.kids[base..].iter().map(|k| k.dur).max().unwrap_or(0);
        // Parallel calls start a little apart, as real fan-outs do.
        let spread = (longest / 20).min(1_000_000);
        let mut block = 0;
        for i in 0..count {
            let j = u64_sat(unit(&mut self.rng) * f64_of(spread));
            let k = &mut self.kids[base + i];
            block = block.max(j + k.dur);
            // The child's duration is no longer needed: keep its start offset there.
            k.dur = j;
        }
        let edge = EDGE_MIN_NS.max(block / 200);
        let needed = block + 2 * edge;
        let total = sampled.filter(|s| *s >= needed).unwrap_or(needed);
        let lead = edge + u64_sat(f64_of(total - needed) * unit(&mut self.rng));
        for i in 0..count {
            let k = self.kids[base + i];
            self.shift(k.sub, lead + k.dur);
        }
        total
    }
}
