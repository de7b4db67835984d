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

    /// Share of spans that did not fail (1 when there are none).
    pub fn success_rate(&self) -> f64 {
        if self.count == 0 { 1.0 } else { 1.0 - self.errors as f64 / self.count as f64 }
    }

    /// Mean duration in seconds.
    pub fn mean_s(&self) -> f64 {
        if self.count == 0 { 0.0 } else { self.sum_ns as f64 / self.count as f64 / 1e9 }
    }

    /// The `q` quantile of durations in seconds (within 1 % of the exact value).
    pub fn quantile_s(&self, q: f64) -> f64 {
        self.sketch.quantile(q).ok().flatten().unwrap_or(0.0)
    }

    /// Longest duration in seconds.
    pub fn max_s(&self) -> f64 {
        self.max_ns as f64 / 1e9
    }
}
