//! Human units shared by scenario files and the command line: sizes and durations.

/// `10MB`, `512KiB`, `1GB`, `4096` in bytes (KB/MB/GB are powers of 1000, KiB/MiB/GiB of
/// 1024; `k`/`m`/`g` alone are KB/MB/GB). `None` when it is not a positive size.
pub fn parse_size(s: &str) -> Option<u64> {
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (n, u) = t.split_at(split);
    let v: f64 = n.trim().parse().ok()?;
    let m = match u.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" | "k" => 1e3,
        "mb" | "m" => 1e6,
        "gb" | "g" => 1e9,
        "kib" => 1024.0,
        "mib" => 1_048_576.0,
        "gib" => 1_073_741_824.0,
        _ => return None,
    };
    (v > 0.0).then_some((v * m) as u64)
}

/// `500ms`, `30s`, `5m`, `1h`, `1d` or plain seconds, in seconds.
pub fn parse_duration_secs(s: &str) -> Option<f64> {
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let v: f64 = n.trim().parse().ok()?;
    Some(match unit {
        "" | "s" => v,
        "ms" => v / 1e3,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        "d" => v * 86_400.0,
        _ => return None,
    })
}
