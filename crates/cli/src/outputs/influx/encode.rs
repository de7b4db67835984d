//! The metrics as InfluxDB line protocol: this output is its only user.

use tsim_model::Resources;
use tsim_model::metrics::{MetricsAgg, MetricsEncoder};

/// One line per Prometheus series: the name's suffix becomes the field (`calls_total` →
/// measurement `calls`, field `total`; `duration_seconds_bucket{le}` → `duration_seconds`
/// `bucket` with an `le` tag), so a store that joins measurement and field with `_`
/// (VictoriaMetrics) gets the Prometheus names back.
#[derive(Debug, Default)]
pub(super) struct LineProtocol {
    line: String,
}

impl MetricsEncoder for LineProtocol {
    fn encode(&mut self, agg: &MetricsAgg, resources: &Resources, _start_ns: u64, time_ns: u64, out: &mut Vec<u8>) -> u64 {
        use std::fmt::Write as _;
        out.clear();
        let series = agg.prometheus_series(resources);
        let line = &mut self.line;
        for (labels, value) in &series {
            let name = labels.iter().find(|(k, _)| k == "__name__").map(|(_, v)| v.as_str()).unwrap_or("metric");
            let (measurement, field) = ["_total", "_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suf| name.strip_suffix(suf).map(|m| (m, &suf[1..])))
                .unwrap_or((name, "value"));
            line.clear();
            escape(measurement, line, true);
            for (k, v) in labels {
                if k == "__name__" || v.is_empty() {
                    continue;
                }
                line.push(',');
                escape(k, line, false);
                line.push('=');
                escape(v, line, false);
            }
            let _ = writeln!(line, " {field}={value} {time_ns}");
            out.extend_from_slice(line.as_bytes());
        }
        series.len() as u64
    }
}

/// Escapes what the line protocol needs escaped in a measurement, tag key or tag value.
fn escape(s: &str, out: &mut String, measurement: bool) {
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

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn influx_escapes_what_the_line_protocol_needs() {
        let mut s = String::new();
        escape("a b,c=d", &mut s, false);
        assert_eq!(s, "a\\ b\\,c\\=d");
    }
}
