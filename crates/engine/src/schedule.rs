//! When trace `i` starts, in simulated time: `start + i × spacing`, computed absolutely so
//! that the rate never drifts.

/// A trace start schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// Start of trace 0, Unix nanoseconds.
    pub start_ns: u64,
    /// Nanoseconds between trace starts (0: all at once).
    pub spacing_ns: f64,
}

impl Schedule {
    /// Spacing from a rate in traces per second.
    pub fn from_rate(start_ns: u64, per_second: f64) -> Self {
        Self { start_ns, spacing_ns: 1e9 / per_second }
    }

    /// Spacing from an interval in milliseconds.
    pub fn from_interval_ms(start_ns: u64, ms: f64) -> Self {
        Self { start_ns, spacing_ns: ms * 1e6 }
    }

    /// Start of trace `i`.
    #[inline]
    pub fn at(&self, i: u64) -> u64 {
        self.start_ns + (i as f64 * self.spacing_ns).round() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_drift_over_many_traces() {
        let s = Schedule::from_rate(1_000, 3.0);
        assert_eq!(s.at(0), 1_000);
        assert_eq!(s.at(3), 1_000 + 1_000_000_000);
        assert_eq!(s.at(3_000_000), 1_000 + 1_000_000_000_000_000);
    }
}
