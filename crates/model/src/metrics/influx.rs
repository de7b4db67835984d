//! Metrics as InfluxDB line protocol.

use super::*;

fn escape_influx(s: &str, out: &mut String, measurement: bool) {
    for c in s.chars() {
        if c == ',' || c == ' ' || (!measurement && c == '=') || c == '\\' {
            out.push('\\');
        }
        if c == '\n' {
            out.push_str("\\n");
            continue;
        }
        out.push(c);
    }
}

impl MetricsAgg {
    /// InfluxDB line protocol, one line per Prometheus series at `time_ns`: the name's
    /// suffix becomes the field (`calls_total` → measurement `calls`, field `total`;
    /// `duration_seconds_bucket{le}` → `duration_seconds` `bucket` with an `le` tag), so a
    /// store that joins measurement and field with `_` (VictoriaMetrics) gets the
    /// Prometheus names back. Returns the number of lines.
    pub fn encode_influx(&self, resources: &Resources, time_ns: u64, out: &mut Vec<u8>) -> usize {
        use std::fmt::Write as _;
        out.clear();
        let series = self.prometheus_series(resources);
        let mut line = String::new();
        for (labels, value) in &series {
            let name = labels.iter().find(|(k, _)| k == "__name__").map(|(_, v)| v.as_str()).unwrap_or("metric");
            let (measurement, field) = ["_total", "_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suf| name.strip_suffix(suf).map(|m| (m, &suf[1..])))
                .unwrap_or((name, "value"));
            line.clear();
            escape_influx(measurement, &mut line, true);
            for (k, v) in labels {
                if k == "__name__" || v.is_empty() {
                    continue;
                }
                line.push(',');
                escape_influx(k, &mut line, false);
                line.push('=');
                escape_influx(v, &mut line, false);
            }
            let _ = writeln!(line, " {field}={value} {time_ns}");
            out.extend_from_slice(line.as_bytes());
        }
        series.len()
    }
}

#[cfg(test)]
mod tests {
    use super::escape_influx;

    #[test]
    fn influx_escapes_what_the_line_protocol_needs() {
        let mut s = String::new();
        escape_influx("a b,c=d", &mut s, false);
        assert_eq!(s, "a\\ b\\,c\\=d");
    }
}
