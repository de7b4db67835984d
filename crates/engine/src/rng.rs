//! Seeded randomness: one independent, portable stream per trace index.
//!
//! Trace `i` draws only from `trace_rng(seed, i)`, so any worker (or shard) can generate any
//! trace and get the same bytes: output does not depend on thread count or batch size.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use tsim_model::num::f64_of;

/// The generator type used for every trace.
pub type TraceRng = Xoshiro256PlusPlus;

/// SplitMix64 finalizer: a bijective mix of 64 bits.
#[inline]
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The stream of trace `index` for run seed `seed`.
#[inline]
pub fn trace_rng(seed: u64, index: u64) -> TraceRng {
    Xoshiro256PlusPlus::seed_from_u64(splitmix64(seed) ^ splitmix64(index ^ 0xA5A5_5A5A_DEAD_BEEF))
}

/// A uniform double in `[0, 1)` with 53 random bits.
#[inline]
pub fn unit<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    f64_of(rng.next_u64() >> 11) * (1.0 / f64_of(1u64 << 53))
}

/// True with probability `p`.
#[inline]
pub fn chance<R: Rng + ?Sized>(rng: &mut R, p: f64) -> bool {
    p > 0.0 && (p >= 1.0 || unit(rng) < p)
}

/// Index into `cum` (cumulative weights, last = total) chosen with probability ∝ weight.
#[inline]
pub fn pick<R: Rng + ?Sized>(rng: &mut R, cum: &[f64]) -> usize {
    let total = *cum.last().expect("non-empty weights");
    let x = unit(rng) * total;
    cum.iter().position(|c| x < *c).unwrap_or(cum.len() - 1)
}

/// Cumulative sums of `weights`.
pub fn cumulative(weights: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut acc = 0.0;
    weights
        .into_iter()
        .map(|w| {
            acc += w;
            acc
        })
        .collect()
}
