//! Metrics as OpenMetrics text with timestamps, the input of `promtool tsdb
//! create-blocks-from openmetrics`: one export's samples, family by family, each family's
//! block opened by its `# TYPE` and `# HELP` lines (a writer regroups the blocks of many
//! exports so that no family is interleaved, then ends the file with `# EOF`).

use super::prometheus::{Merged, label_text};
use super::*;

/// OpenMetrics' type of a Prometheus type (`untyped` is `unknown`).
fn om_type(prometheus: &str) -> &str {
    if prometheus == "untyped" { "unknown" } else { prometheus }
}

fn escape_help(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

impl MetricsAgg {
    /// The OpenMetrics samples of every series at `time_ns` (timestamps in seconds, to the
    /// millisecond), family by family; returns the number of samples (histograms flatten
    /// into buckets, sum and count).
    pub fn encode_openmetrics(&self, resources: &Resources, time_ns: u64, out: &mut Vec<u8>) -> u64 {
        use std::fmt::Write as _;
        out.clear();
        let ms = time_ns / 1_000_000;
        let ts = format!("{}.{:03}", ms / 1000, ms % 1000);
        let mut o = String::new();
        let mut last: Option<u16> = None;
        let mut samples = 0u64;
        for ((m, label_list), Merged { count, sum, buckets }) in &self.merged(resources) {
            let def = &self.defs[*m as usize];
            let name = def.prometheus_name();
            let ty = om_type(def.prometheus_type());
            // A counter's family is named without `_total`; its sample keeps it.
            let family = if ty == "counter" { name.strip_suffix("_total").unwrap_or(&name) } else { &name };
            if last != Some(*m) {
                let _ = writeln!(o, "# TYPE {family} {ty}");
                o.push_str("# HELP ");
                o.push_str(family);
                o.push(' ');
                escape_help(&def.description, &mut o);
                o.push('\n');
                last = Some(*m);
            }
            let labels = label_text(label_list);
            let braces = |extra: &str| -> String {
                match (labels.is_empty(), extra.is_empty()) {
                    (true, true) => String::new(),
                    (true, false) => format!("{{{extra}}}"),
                    (false, true) => format!("{{{labels}}}"),
                    (false, false) => format!("{{{labels},{extra}}}"),
                }
            };
            match &def.shape {
                Shape::Counter | Shape::Gauge => {
                    let _ = writeln!(o, "{name}{} {sum} {ts}", braces(""));
                    samples += 1;
                }
                Shape::Histogram(bounds) => {
                    let mut cum = 0;
                    for (b, n) in bounds.iter().zip(buckets) {
                        cum += n;
                        let _ = writeln!(o, "{name}_bucket{} {cum} {ts}", braces(&format!("le=\"{b}\"")));
                    }
                    let _ = writeln!(o, "{name}_bucket{} {count} {ts}", braces("le=\"+Inf\""));
                    let _ = writeln!(o, "{name}_count{} {count} {ts}", braces(""));
                    let _ = writeln!(o, "{name}_sum{} {sum} {ts}", braces(""));
                    samples += bounds.len() as u64 + 3;
                }
            }
        }
        out.extend_from_slice(o.as_bytes());
        samples
    }
}
