//! Running statistics of durations: count, errors, mean and percentiles (DDSketch, relative
//! error ≤ 1 %, mergeable), in constant memory per group.

use sketches_ddsketch::{Config, DDSketch};

/// Durations of a group of spans, with how many failed.
#[derive(Clone)]
pub struct Durations {
    /// Spans.
    pub count: u64,
    /// Of those, with status Error.
    pub errors: u64,
    /// Sum of durations (ns).
    pub sum_ns: u128,
    /// Longest (ns).
    pub max_ns: u64,
    sketch: DDSketch,
}

impl Default for Durations {
    fn default() -> Self {
        Self { count: 0, errors: 0, sum_ns: 0, max_ns: 0, sketch: DDSketch::new(Config::defaults()) }
    }
}

impl std::fmt::Debug for Durations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Durations").field("count", &self.count).field("errors", &self.errors).finish()
    }
}

impl Durations {
    /// Adds a span.
    pub fn add(&mut self, duration_ns: u64, error: bool) {
        self.count += 1;
        self.errors += u64::from(error);
        self.sum_ns += u128::from(duration_ns);
        self.max_ns = self.max_ns.max(duration_ns);
        // The sketch works in seconds (its smallest value is 1e-9: one nanosecond).
        self.sketch.add(duration_ns as f64 / 1e9);
    }

    /// Adds another group's durations to these (the sketches merge exactly).
    pub fn merge(&mut self, o: &Durations) {
        self.count += o.count;
        self.errors += o.errors;
        self.sum_ns += o.sum_ns;
        self.max_ns = self.max_ns.max(o.max_ns);
        // Both come from `Config::defaults()`, so they always merge.
        let _ = self.sketch.merge(&o.sketch);
    }

    /// Share of spans that did not fail (1 when there are none).
    pub fn success_rate(&self) -> f64 {
        if self.count == 0 { 1.0 } else { 1.0 - self.errors as f64 / self.count as f64 }
    }

    /// Mean duration in seconds.
    pub fn mean_s(&self) -> f64 {
        if self.count == 0 { 0.0 } else { self.sum_ns as f64 / self.count as f64 / 1e9 }
    }

    /// The `q` quantile of durations in seconds (within 1 % of the exact value, and never
    /// above the longest).
    pub fn quantile_s(&self, q: f64) -> f64 {
        self.sketch.quantile(q).ok().flatten().unwrap_or(0.0).min(self.max_s())
    }

    /// The distribution as (percentile, seconds) points from the 1st to the 99.9th
    /// percentile, for a chart.
    pub fn percentiles(&self) -> Vec<(f64, f64)> {
        if self.count == 0 {
            return Vec::new();
        }
        (1..=99).map(f64::from).chain([99.5, 99.9]).map(|p| (p, self.quantile_s(p / 100.0))).collect()
    }

    /// Longest duration in seconds.
    pub fn max_s(&self) -> f64 {
        self.max_ns as f64 / 1e9
    }
}

/// A map with a fast hash of fixed seeds (aHash: the reports key maps by strings and ids of
/// their own data, not by input an attacker chooses per request).
pub type FastMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;

/// An empty [`FastMap`].
pub fn fast_map<K, V>() -> FastMap<K, V> {
    FastMap::with_hasher(ahash::RandomState::with_seeds(1, 2, 3, 4))
}

/// Distinct strings, numbered in the order they are first seen (so that groups can be keyed
/// by a number, and a string is allocated once).
#[derive(Debug, Clone)]
pub struct Names {
    names: Vec<String>,
    index: FastMap<String, u32>,
}

impl Default for Names {
    fn default() -> Self {
        Self { names: Vec::new(), index: fast_map() }
    }
}

impl Names {
    /// The number of `s`.
    pub fn id(&mut self, s: &str) -> u32 {
        if let Some(i) = self.index.get(s) {
            return *i;
        }
        let i = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(s.to_owned());
        self.index.insert(s.to_owned(), i);
        i
    }

    /// The string numbered `id`.
    pub fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", String::as_str)
    }
}

/// The value of up to the first 16 hex digits of a trace or span id: ids are random, so this
/// is as good a key as a hash of them, and far cheaper.
pub fn id_key(hex: &[u8]) -> u64 {
    hex.iter().take(16).fold(0u64, |h, c| h << 4 | u64::from((*c as char).to_digit(16).unwrap_or(0)))
}

/// The `n` latest of a stream of timed items, newest first; an item is made only when it
/// gets in.
#[derive(Debug)]
pub struct Latest<T> {
    n: usize,
    /// The kept items with their times, newest first.
    pub items: Vec<(i64, T)>,
}

impl<T> Latest<T> {
    /// Keeps at most `n`.
    pub fn new(n: usize) -> Self {
        Self { n, items: Vec::new() }
    }

    /// Offers an item at time `t`.
    pub fn offer(&mut self, t: i64, make: impl FnOnce() -> T) {
        if self.n == 0 || (self.items.len() >= self.n && self.items.last().is_some_and(|l| l.0 >= t)) {
            return;
        }
        let at = self.items.partition_point(|l| l.0 >= t);
        self.items.insert(at, (t, make()));
        self.items.truncate(self.n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_keeps_the_newest_in_order() {
        let mut l = Latest::new(3);
        for (t, x) in [(5, 'a'), (1, 'b'), (9, 'c'), (7, 'd'), (2, 'e'), (9, 'f')] {
            l.offer(t, || x);
        }
        assert_eq!(l.items, vec![(9, 'c'), (9, 'f'), (7, 'd')]);
    }

    #[test]
    fn merged_durations_equal_one_pass() {
        let (mut a, mut b, mut all) = (Durations::default(), Durations::default(), Durations::default());
        for i in 1..=1000u64 {
            let (d, e) = (i * 1_000_000, i % 7 == 0);
            if i % 2 == 0 {
                a.add(d, e)
            } else {
                b.add(d, e)
            }
            all.add(d, e);
        }
        a.merge(&b);
        assert_eq!((a.count, a.errors, a.sum_ns, a.max_ns), (all.count, all.errors, all.sum_ns, all.max_ns));
        for q in [0.5, 0.95, 0.99] {
            assert_eq!(a.quantile_s(q), all.quantile_s(q));
            let exact = (q * 999.0).floor() + 1.0; // ms, at the sketch's rank
            assert!((a.quantile_s(q) * 1e3 - exact).abs() <= 0.01 * exact, "{q}: {}", a.quantile_s(q));
        }
    }
}
