//! RFC 3339 formatting of Unix nanoseconds, without a clock and without allocation.

use std::fmt::Write;

/// Civil (year, month, day) of a day count since 1970-01-01 (proleptic Gregorian).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // Day 1..=31 and month 1..=12 by construction.
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Appends `ns` (Unix nanoseconds) as RFC 3339 UTC with `digits` fractional digits (0..=9).
pub fn push_rfc3339(out: &mut String, ns: u64, digits: u32) {
    let secs = (ns / 1_000_000_000).cast_signed();
    let frac = ns % 1_000_000_000;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let _ = write!(out, "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}", sod / 3600, sod % 3600 / 60, sod % 60);
    if digits > 0 {
        let digits = digits.min(9);
        let v = frac / 10u64.pow(9 - digits);
        let _ = write!(out, ".{v:0width$}", width = digits as usize);
    }
    out.push('Z');
}

/// Appends nanoseconds as milliseconds with three decimals (`1234567` → `1.235`), rounding
/// half up, with integer arithmetic (float formatting is slow on the hot path).
pub fn push_ms3(out: &mut String, ns: u64) {
    use std::fmt::Write;
    let us = ns / 1_000 + u64::from(ns % 1_000 >= 500);
    let _ = write!(out, "{}.{:03}", us / 1_000, us % 1_000);
}

/// `ns` as RFC 3339 UTC with millisecond precision, e.g. `2025-12-24T12:00:00.123Z`.
pub fn rfc3339_millis(ns: u64) -> String {
    let mut s = String::with_capacity(24);
    push_rfc3339(&mut s, ns, 3);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_with_three_decimals() {
        let ms = |ns| {
            let mut s = String::new();
            push_ms3(&mut s, ns);
            s
        };
        assert_eq!(ms(1_234_567), "1.235");
        assert_eq!(ms(1_234_499), "1.234");
        assert_eq!(ms(0), "0.000");
        assert_eq!(ms(5_000_000_000), "5000.000");
        assert_eq!(ms(999_500), "1.000");
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_millis(1_766_577_600_123_000_000), "2025-12-24T12:00:00.123Z");
        let mut s = String::new();
        push_rfc3339(&mut s, 951_782_400_000_000_001, 9);
        assert_eq!(s, "2000-02-29T00:00:00.000000001Z");
    }
}
