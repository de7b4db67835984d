//! The numeric conversions the engine and the encoders make, each with the reason it cannot
//! lose what matters: one place for what the cast lints would flag at every use.

/// An arena position or length as stored in a span, event or record (`u32`): a trace holds
/// at most `max_spans_per_trace` (≤ 10 million) spans, and its attributes, events and text
/// stay far below 2³² entries.
#[inline]
#[allow(clippy::cast_possible_truncation, reason = "arena sizes are bounded by the span budget, far below 2^32")]
pub fn idx(n: usize) -> u32 {
    debug_assert!(u32::try_from(n).is_ok(), "arena index {n} over u32");
    n as u32
}

/// A count, a duration or an offset in nanoseconds as a float: exact below 2⁵³ (9·10¹⁵, over
/// 104 days in ns), and a relative error under 10⁻¹⁵ above, which no statistic here can see.
#[inline]
#[allow(clippy::cast_precision_loss, reason = "exact below 2^53; beyond, 1e-16 relative error is below any use")]
pub fn f64_of(n: u64) -> f64 {
    n as f64
}

/// [`f64_of`] for a length.
#[inline]
pub fn f64_of_len(n: usize) -> f64 {
    f64_of(n as u64)
}

/// A float as a whole number, saturating: negative and NaN give 0, above `u64::MAX` gives
/// `u64::MAX` (what Rust's float-to-int conversion does by definition), fractions are cut.
#[inline]
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "float-to-int `as` saturates and maps NaN to 0, the clamp wanted"
)]
pub fn u64_sat(x: f64) -> u64 {
    x as u64
}

/// [`u64_sat`] for an index into a slice (saturating at `usize::MAX`).
#[inline]
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "float-to-int `as` saturates and maps NaN to 0, the clamp wanted"
)]
pub fn usize_sat(x: f64) -> usize {
    x as usize
}

/// A float as a signed whole number, saturating (NaN gives 0).
#[inline]
#[allow(clippy::cast_possible_truncation, reason = "float-to-int `as` saturates and maps NaN to 0")]
pub fn i64_sat(x: f64) -> i64 {
    x as i64
}

/// A signed whole number as a float (exact within ±2⁵³, the range of attribute integers that
/// become metric values).
#[inline]
#[allow(clippy::cast_precision_loss, reason = "exact within ±2^53; beyond, 1e-16 relative error")]
pub fn f64_of_i64(n: i64) -> f64 {
    n as f64
}

/// Unix nanoseconds as a signed number: times are bounded to 1970 … 2262-04-11, below 2⁶³.
#[inline]
pub fn i64_of_ns(ns: u64) -> i64 {
    i64::try_from(ns).unwrap_or(i64::MAX)
}

/// A `u64` as a `usize` index (64-bit targets: exact; elsewhere saturating).
#[inline]
pub fn usize_of(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_saturate_instead_of_wrapping() {
        assert_eq!(u64_sat(-1.5), 0);
        assert_eq!(u64_sat(f64::NAN), 0);
        assert_eq!(u64_sat(1e30), u64::MAX);
        assert_eq!(u64_sat(2.9), 2);
        assert_eq!(usize_sat(-3.0), 0);
        assert_eq!(i64_sat(-1e30), i64::MIN);
        assert_eq!(i64_of_ns(u64::MAX), i64::MAX);
        assert_eq!(f64_of(1 << 53), 9_007_199_254_740_992.0);
        assert_eq!(idx(7), 7);
    }
}
