//! When each trace starts, in simulated time: open-loop arrivals (constant or Poisson) at a
//! mean rate, optionally shaped by a daily or weekly traffic curve, computed against
//! absolute time so that the rate never drifts.
//!
//! Arrivals are laid out in "traffic time" `u` (seconds at the mean rate): trace `i` sits at
//! `u = i / rate` (constant) or after `i` exponential gaps (Poisson). A curve maps traffic
//! time to wall time through its cumulative intensity `Λ`, so that busy hours get more
//! traces and the mean rate over a whole period is the one asked for. Everything is a
//! function of the seed and the arguments: no clock is read.

use crate::rng::{splitmix64, unit};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use tsim_model::num::{f64_of, f64_of_len, u64_sat, usize_sat};

/// How trace starts are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Arrivals {
    /// Evenly: one every `1 / rate` (of traffic time).
    #[default]
    Constant,
    /// A Poisson process: exponential gaps with mean `1 / rate`.
    Poisson,
}

/// The shape of the rate over time (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Traffic {
    /// The same rate at every hour.
    #[default]
    Flat,
    /// A daily cycle: busiest at 14:00 UTC (1.6 × the mean), quietest at 02:00 (0.4 ×).
    Diurnal,
    /// The daily cycle, with weekdays (Mon–Fri) at 1.1 × and weekends at 0.75 × the mean.
    Weekly,
}

/// Width of one step of a traffic curve, in seconds.
const STEP_S: f64 = 300.0;
const DAY_S: f64 = 86_400.0;
/// The Unix epoch was a Thursday: Monday 00:00 UTC is 4 days later.
const MONDAY_OFFSET_NS: u64 = 4 * 86_400 * 1_000_000_000;

/// A traffic curve: piecewise-constant intensity (mean 1) over one period, by steps.
#[derive(Debug, Clone, PartialEq)]
struct Curve {
    period_s: f64,
    /// Relative rate per step.
    level: Vec<f64>,
    /// Cumulative intensity at the start of each step (`cum[0] = 0`, one more than `level`).
    cum: Vec<f64>,
    /// Unix nanoseconds of the period start at or before the schedule's start.
    base_ns: u64,
}

impl Curve {
    fn new(traffic: Traffic, start_ns: u64) -> Option<Curve> {
        let (period_s, phase_ns) = match traffic {
            Traffic::Flat => return None,
            Traffic::Diurnal => (DAY_S, 0),
            Traffic::Weekly => (7.0 * DAY_S, MONDAY_OFFSET_NS),
        };
        let steps = usize_sat(period_s / STEP_S);
        let mut level: Vec<f64> = (0..steps)
            .map(|k| {
                let t = (f64_of_len(k) + 0.5) * STEP_S;
                let hour = (t % DAY_S) / 3600.0;
                let daily = 1.0 + 0.6 * (std::f64::consts::TAU * (hour - 14.0) / 24.0).cos();
                let weekday = usize_sat(t / DAY_S); // 0 = Monday for the weekly curve
                let week = if traffic == Traffic::Weekly && weekday >= 5 { 0.75 } else { 1.1 };
                if traffic == Traffic::Weekly { daily * week } else { daily }
            })
            .collect();
        let mean = level.iter().sum::<f64>() / f64_of_len(steps);
        level.iter_mut().for_each(|l| *l /= mean);
        let mut cum = Vec::with_capacity(steps + 1);
        let mut acc = 0.0;
        cum.push(0.0);
        for l in &level {
            acc += l * STEP_S;
            cum.push(acc);
        }
        // A whole period is exactly its length of traffic time (no rounding residue).
        cum[steps] = period_s;
        let period_ns = u64_sat(period_s * 1e9);
        let base_ns = if start_ns >= phase_ns {
            start_ns - (start_ns - phase_ns) % period_ns
        } else {
            // Before the first aligned period start: step back one period (saturating at 0).
            phase_ns.saturating_sub(period_ns)
        };
        Some(Curve { period_s, level, cum, base_ns })
    }

    fn total(&self) -> f64 {
        self.cum[self.level.len()]
    }

    /// Relative rate at `x` seconds after `base_ns`.
    fn level_at(&self, x: f64) -> f64 {
        let r = x.rem_euclid(self.period_s);
        self.level[usize_sat(r / STEP_S).min(self.level.len() - 1)]
    }

    /// Cumulative intensity from `base_ns` to `x` seconds after it.
    fn lambda(&self, x: f64) -> f64 {
        let periods = (x / self.period_s).floor();
        let r = x - periods * self.period_s;
        let b = usize_sat(r / STEP_S).min(self.level.len() - 1);
        periods * self.total() + self.cum[b] + (r - f64_of_len(b) * STEP_S) * self.level[b]
    }

    /// The inverse of [`Curve::lambda`].
    fn inverse(&self, u: f64) -> f64 {
        let periods = (u / self.total()).floor();
        let rem = u - periods * self.total();
        // The last step whose cumulative start is at or before `rem`.
        let b = self.cum[1..].partition_point(|c| *c <= rem).min(self.level.len() - 1);
        periods * self.period_s + f64_of_len(b) * STEP_S + (rem - self.cum[b]) / self.level[b]
    }
}

/// A trace start schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Start of trace 0, Unix nanoseconds.
    pub start_ns: u64,
    /// Mean traces per second (infinite: every trace at `start_ns`).
    pub rate: f64,
    /// How starts are spaced.
    pub arrivals: Arrivals,
    /// The shape of the rate over the day or week.
    pub traffic: Traffic,
    seed: u64,
    curve: Option<Curve>,
    /// Windows where the rate is multiplied (traffic incidents), in time order.
    surges: Surges,
}

/// Windows of the schedule where the rate is multiplied: `(from, to, factor)` in seconds
/// after the schedule's base (the curve's period start, else the start), disjoint and in
/// order, with the extra traffic time of the windows before each one.
#[derive(Debug, Clone, PartialEq, Default)]
struct Surges {
    list: Vec<(f64, f64, f64)>,
    /// Extra cumulative intensity of the windows before window `k` (one more than `list`).
    extra: Vec<f64>,
    /// Cumulative intensity at each window's start.
    starts: Vec<f64>,
}

impl Schedule {
    /// A schedule at `per_second` traces per second (infinite, or not above 0: all at once).
    pub fn new(start_ns: u64, per_second: f64, arrivals: Arrivals, traffic: Traffic, seed: u64) -> Self {
        let rate = if per_second > 0.0 { per_second } else { f64::INFINITY };
        let curve = Curve::new(traffic, start_ns);
        Self { start_ns, rate, arrivals, traffic, seed, curve, surges: Surges::default() }
    }

    /// The schedule with the rate multiplied by `factor` from `from_ns` to `to_ns` for each
    /// window (disjoint, in order; factors above 0): busier (or quieter) stretches on top of
    /// the curve, as traffic incidents make them.
    pub fn with_surges(mut self, windows: &[(u64, u64, f64)]) -> Self {
        let mut list = Vec::with_capacity(windows.len());
        let mut extra = vec![0.0];
        let mut starts = Vec::with_capacity(windows.len());
        let mut acc = 0.0;
        for &(from, to, f) in windows {
            if to <= from || !(f > 0.0 && f.is_finite()) {
                continue;
            }
            let (a, b) = (self.offset_s(from), self.offset_s(to));
            if list.last().is_some_and(|w: &(f64, f64, f64)| a < w.1) {
                continue;
            }
            starts.push(self.base_lambda(a) + acc);
            acc += (f - 1.0) * (self.base_lambda(b) - self.base_lambda(a));
            list.push((a, b, f));
            extra.push(acc);
        }
        self.surges = Surges { list, extra, starts };
        self
    }

    /// Cumulative intensity of the curve alone (identity without one).
    fn base_lambda(&self, x: f64) -> f64 {
        self.curve.as_ref().map_or(x, |c| c.lambda(x))
    }

    fn base_inverse(&self, u: f64) -> f64 {
        self.curve.as_ref().map_or(u, |c| c.inverse(u))
    }

    /// Cumulative intensity at `x` seconds after the base, surges included.
    fn lambda(&self, x: f64) -> f64 {
        let s = &self.surges;
        let base = self.base_lambda(x);
        let k = s.list.partition_point(|(a, _, _)| *a <= x);
        if k == 0 {
            return base;
        }
        let (a, b, f) = s.list[k - 1];
        if x < b { base + s.extra[k - 1] + (f - 1.0) * (base - self.base_lambda(a)) } else { base + s.extra[k] }
    }

    /// The inverse of [`Schedule::lambda`].
    fn inverse(&self, u: f64) -> f64 {
        let s = &self.surges;
        // The last window that starts at or before `u` in traffic time.
        let k = s.starts.partition_point(|ua| *ua <= u);
        if k == 0 {
            return self.base_inverse(u);
        }
        let (a, b, f) = s.list[k - 1];
        let ua = s.starts[k - 1];
        let ub = self.base_lambda(b) + s.extra[k];
        if u < ub { self.base_inverse(self.base_lambda(a) + (u - ua) / f) } else { self.base_inverse(u - s.extra[k]) }
    }

    /// The arrivals, in index order.
    pub fn clock(&self) -> Clock<'_> {
        let rng = Xoshiro256PlusPlus::seed_from_u64(splitmix64(self.seed ^ 0x5EED_A22A_7A15_0001));
        let u0 = if self.curve.is_some() || !self.surges.list.is_empty() {
            self.lambda(self.offset_s(self.start_ns))
        } else {
            0.0
        };
        Clock { s: self, next: 0, u: 0.0, u0, rng }
    }

    fn offset_s(&self, t_ns: u64) -> f64 {
        let base = self.curve.as_ref().map_or(self.start_ns, |c| c.base_ns);
        if t_ns >= base { f64_of(t_ns - base) / 1e9 } else { -f64_of(base - t_ns) / 1e9 }
    }

    /// Wall time (Unix ns) at traffic time `u` seconds after the start.
    fn at_traffic(&self, u: f64, u0: f64) -> u64 {
        match &self.curve {
            None if self.surges.list.is_empty() => self.start_ns + u64_sat((u * 1e9).round()),
            c => {
                let base = c.as_ref().map_or(self.start_ns, |c| c.base_ns);
                let x = self.inverse(u0 + u);
                u64_sat((f64_of(base) + (x * 1e9).round()).max(f64_of(self.start_ns)))
            }
        }
    }

    /// Traffic time (seconds at the mean rate) between the start and `t_ns`.
    pub fn traffic_between(&self, t_ns: u64) -> f64 {
        match &self.curve {
            None if self.surges.list.is_empty() => f64_of(t_ns.saturating_sub(self.start_ns)) / 1e9,
            _ => self.lambda(self.offset_s(t_ns.max(self.start_ns))) - self.lambda(self.offset_s(self.start_ns)),
        }
    }

    /// Traces expected to start before `end_ns` (exact for constant arrivals).
    pub fn expected_before(&self, end_ns: u64) -> u64 {
        if !self.rate.is_finite() {
            return u64::MAX;
        }
        let n = (self.traffic_between(end_ns) * self.rate - 1e-9).ceil();
        if n >= 1e18 { u64::MAX } else { u64_sat(n.max(0.0)) }
    }

    /// Relative rate (mean 1) at `t_ns`: the curve's shape.
    pub fn level_at(&self, t_ns: u64) -> f64 {
        self.curve.as_ref().map_or(1.0, |c| c.level_at(self.offset_s(t_ns)))
    }
}

/// Walks a [`Schedule`]: yields `(index, start_ns)` for every trace in order.
#[derive(Debug, Clone)]
pub struct Clock<'s> {
    s: &'s Schedule,
    next: u64,
    /// Traffic time of the next arrival (Poisson), seconds.
    u: f64,
    /// Cumulative intensity at the start (curves).
    u0: f64,
    rng: Xoshiro256PlusPlus,
}

impl Clock<'_> {
    /// The next trace: its index and start time.
    pub fn next_arrival(&mut self) -> (u64, u64) {
        let i = self.next;
        self.next += 1;
        let s = self.s;
        if !s.rate.is_finite() {
            return (i, s.start_ns);
        }
        let at = match (s.arrivals, &s.curve) {
            // Exactly `start + i × spacing`, as integers allow: no accumulated error.
            (Arrivals::Constant, None) if s.surges.list.is_empty() => {
                s.start_ns + u64_sat((f64_of(i) * (1e9 / s.rate)).round())
            }
            (Arrivals::Constant, _) => s.at_traffic(f64_of(i) / s.rate, self.u0),
            (Arrivals::Poisson, _) => {
                let at = s.at_traffic(self.u, self.u0);
                let gap = -(1.0 - unit(&mut self.rng)).ln() / s.rate;
                self.u += gap;
                at
            }
        };
        (i, at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_763_078_400_000_000_000; // 2025-11-14T00:00:00Z, a Friday

    #[test]
    fn no_drift_over_many_traces() {
        let s = Schedule::new(1_000, 3.0, Arrivals::Constant, Traffic::Flat, 0);
        let mut c = s.clock();
        assert_eq!(c.next_arrival(), (0, 1_000));
        c.next_arrival();
        c.next_arrival();
        assert_eq!(c.next_arrival(), (3, 1_000 + 1_000_000_000));
        assert_eq!(s.expected_before(1_000 + 1_000_000_000), 3);
        assert_eq!(s.expected_before(1_001 + 1_000_000_000), 4);
    }

    #[test]
    fn interval_zero_starts_everything_at_once() {
        let s = Schedule::new(5, f64::INFINITY, Arrivals::Constant, Traffic::Flat, 0);
        let mut c = s.clock();
        assert_eq!(c.next_arrival(), (0, 5));
        assert_eq!(c.next_arrival(), (1, 5));
    }

    #[test]
    fn poisson_gaps_average_to_the_rate_and_replay() {
        let s = Schedule::new(T0, 1000.0, Arrivals::Poisson, Traffic::Flat, 7);
        let mut c = s.clock();
        let times: Vec<u64> = (0..100_000).map(|_| c.next_arrival().1).collect();
        let span_s = (times[99_999] - times[0]) as f64 / 1e9;
        assert!((span_s - 100.0).abs() < 1.5, "100k arrivals at 1000/s took {span_s} s");
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        let mut again = s.clock();
        assert!(times.iter().all(|t| again.next_arrival().1 == *t));
        // Coefficient of variation of the gaps is 1 for exponential gaps.
        let gaps: Vec<f64> = times.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let sd = (gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64).sqrt();
        assert!((sd / mean - 1.0).abs() < 0.03, "cv {}", sd / mean);
    }

    #[test]
    fn diurnal_curve_has_mean_one_and_follows_the_day() {
        let s = Schedule::new(T0, 10.0, Arrivals::Constant, Traffic::Diurnal, 1);
        // A whole day holds the mean rate's worth of traces.
        assert_eq!(s.expected_before(T0 + 86_400 * 1_000_000_000), 864_000);
        let hour = |h: u64| T0 + h * 3_600_000_000_000;
        assert!(s.level_at(hour(14)) > 1.55 && s.level_at(hour(2)) < 0.45);
        let mut c = s.clock();
        let mut per_hour = [0u32; 24];
        loop {
            let (_, at) = c.next_arrival();
            if at >= hour(24) {
                break;
            }
            per_hour[((at - T0) / 3_600_000_000_000) as usize] += 1;
        }
        assert!(per_hour[14] > 3 * per_hour[2], "{per_hour:?}");
        assert_eq!(per_hour.iter().sum::<u32>(), 864_000);
    }

    #[test]
    fn curve_inverse_round_trips() {
        let c = Curve::new(Traffic::Weekly, T0).unwrap();
        for x in [0.0, 1.0, 299.9, 300.0, 86_399.0, 400_000.0, 604_799.0, 604_800.0, 1_300_000.5] {
            let back = c.inverse(c.lambda(x));
            assert!((back - x).abs() < 1e-6, "{x} → {back}");
        }
        // The week starts on Monday: the Friday start is four days into the period.
        assert_eq!((T0 - c.base_ns) / 1_000_000_000, 4 * 86_400);
    }

    #[test]
    fn a_surge_multiplies_the_rate_in_its_window_only() {
        let sec = 1_000_000_000u64;
        for traffic in [Traffic::Flat, Traffic::Diurnal] {
            let plain = Schedule::new(T0, 10.0, Arrivals::Constant, traffic, 1);
            let s = plain
                .clone()
                .with_surges(&[(T0 + 100 * sec, T0 + 200 * sec, 3.0), (T0 + 300 * sec, T0 + 310 * sec, 0.5)]);
            let mut c = s.clock();
            let mut per = [0u64; 4];
            loop {
                let (_, at) = c.next_arrival();
                if at >= T0 + 400 * sec {
                    break;
                }
                let k = match (at - T0) / sec {
                    0..100 => 0,
                    100..200 => 1,
                    200..300 => 2,
                    _ => 3,
                };
                per[k] += 1;
            }
            let expect =
                |a: u64, b: u64| (plain.traffic_between(T0 + b * sec) - plain.traffic_between(T0 + a * sec)) * 10.0;
            let near = |got: u64, want: f64| (got as f64 - want).abs() <= 2.0;
            assert!(near(per[0], expect(0, 100)), "{traffic:?} {per:?}");
            assert!(near(per[1], 3.0 * expect(100, 200)), "{traffic:?} {per:?}");
            assert!(near(per[2], expect(200, 300)), "{traffic:?} {per:?}");
            assert!(near(per[3], expect(300, 400) - 0.5 * expect(300, 310)), "{traffic:?} {per:?}");
            let want = per.iter().sum::<u64>();
            assert!(s.expected_before(T0 + 400 * sec).abs_diff(want) <= 1, "{want}");
            for x in [0.0, 99.0, 150.0, 250.0, 305.0, 1000.0] {
                let back = s.inverse(s.lambda(x));
                assert!((back - x).abs() < 1e-6, "{x} {back}");
            }
        }
    }

    #[test]
    fn weekends_are_quieter() {
        let s = Schedule::new(T0, 1.0, Arrivals::Constant, Traffic::Weekly, 1);
        let day = |d: u64| T0 + d * 86_400_000_000_000;
        let fri = s.traffic_between(day(1));
        let sat = s.traffic_between(day(2)) - fri;
        assert!(fri > 1.3 * sat, "friday {fri}, saturday {sat}");
        let week = s.traffic_between(day(7));
        assert!((week - 604_800.0).abs() < 1e-3);
    }
}
