//! Numbers for people: `1.23M`, `14.3k`.

/// `1234567.0` → `1.23M`, `14285.7` → `14.3k`, `950.0` → `950`.
pub fn human(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.2}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn human_numbers() {
        assert_eq!(human(1_234_567.0), "1.23M");
        assert_eq!(human(14_285.7), "14.3k");
        assert_eq!(human(950.0), "950");
        assert_eq!(human(2.5), "2.50");
    }
}
