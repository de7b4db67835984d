//! Metrics as OpenMetrics 1.0 text, the one encoder of both OpenMetrics outputs: the file of
//! every export (samples with timestamps, the input of `promtool tsdb create-blocks-from
//! openmetrics`; a writer regroups the blocks of many exports so that no family is
//! interleaved) and the scrape of `/metrics` (no timestamps: the scraper stamps; `_created`
//! samples and histogram exemplars). Each family's block is opened by its `# TYPE` and
//! `# HELP` lines; the caller ends the exposition with `# EOF` (see [`OPENMETRICS_EOF`]).

use std::fmt::Write as _;

use super::prometheus::{Merged, label_text};
use super::*;
use crate::hex::push_hex_str;

/// The line that ends an OpenMetrics exposition.
pub const OPENMETRICS_EOF: &str = "# EOF\n";

/// What an OpenMetrics exposition holds besides the samples' values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenMetricsOptions {
    /// Every sample stamped with this time (a file of many exports); `None` for a scrape,
    /// which the scraper stamps.
    pub timestamp_ns: Option<u64>,
    /// The start of the cumulative values: each counter and histogram series gets its
    /// `_created` sample at this time.
    pub created_ns: Option<u64>,
    /// Histogram buckets carry the latest exemplar of their series (the trace and span that
    /// produced a value in that bucket).
    pub exemplars: bool,
}

/// Label names of an exemplar; with a trace id (32 hex digits) and a span id (16), its label
/// set is 63 characters, within the 128 the OpenMetrics specification allows.
const EXEMPLAR_TRACE: &str = "trace_id";
const EXEMPLAR_SPAN: &str = "span_id";
/// Characters of an exemplar's label set (names and values, as the specification counts).
pub const EXEMPLAR_LABEL_CHARS: usize = EXEMPLAR_TRACE.len() + 32 + EXEMPLAR_SPAN.len() + 16;
const _: () = assert!(EXEMPLAR_LABEL_CHARS <= 128, "OpenMetrics exemplar label sets are at most 128 characters");

/// OpenMetrics' type of a Prometheus type (`untyped` is `unknown`).
fn om_type(prometheus: &str) -> &str {
    if prometheus == "untyped" { "unknown" } else { prometheus }
}

/// A HELP text escaped as OpenMetrics wants it (backslash, line feed and double quote).
fn escape_help(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// Nanoseconds as OpenMetrics seconds, to the millisecond (what Prometheus keeps).
fn seconds(ns: u64) -> String {
    let ms = ns / 1_000_000;
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// `{labels[,extra]}`, or nothing when both are empty.
fn braces(labels: &str, extra: &str) -> String {
    match (labels.is_empty(), extra.is_empty()) {
        (true, true) => String::new(),
        (true, false) => format!("{{{extra}}}"),
        (false, true) => format!("{{{labels}}}"),
        (false, false) => format!("{{{labels},{extra}}}"),
    }
}

/// ` # {trace_id="…",span_id="…"} value timestamp`: the exemplar after a bucket's value.
fn exemplar_text(e: &Exemplar) -> String {
    let mut o = format!(" # {{{EXEMPLAR_TRACE}=\"");
    push_hex_str(&mut o, &e.trace_id);
    let _ = write!(o, "\",{EXEMPLAR_SPAN}=\"");
    push_hex_str(&mut o, &e.span_id);
    let _ = write!(o, "\"}} {} {}", e.value, seconds(e.time_ns));
    o
}

/// One series' samples: its name, label text and what follows each value.
struct Writer<'a> {
    o: &'a mut String,
    /// ` <timestamp>` or nothing.
    ts: &'a str,
    /// The `_created` value, or nothing.
    created: Option<&'a str>,
}

impl Writer<'_> {
    fn sample(&mut self, name: &str, suffix: &str, labels: &str, extra: &str, value: impl std::fmt::Display) {
        let _ = write!(self.o, "{name}{suffix}{} {value}{}", braces(labels, extra), self.ts);
    }

    fn end(&mut self) {
        self.o.push('\n');
    }

    fn created(&mut self, family: &str, labels: &str) {
        if let Some(c) = self.created {
            let _ = writeln!(self.o, "{family}_created{} {c}{}", braces(labels, ""), self.ts);
        }
    }

    /// Buckets (cumulative, the exemplar on the bucket its value falls in), count, sum.
    fn histogram(&mut self, name: &str, labels: &str, bounds: &[f64], m: &Merged, exemplar: Option<&Exemplar>) {
        let home = exemplar.map(|e| bounds.iter().position(|b| e.value <= *b).unwrap_or(bounds.len()));
        let mut cum = 0;
        for (i, (b, n)) in bounds.iter().zip(&m.buckets).enumerate() {
            cum += n;
            self.sample(name, "_bucket", labels, &format!("le=\"{b}\""), cum);
            self.exemplar(home == Some(i), exemplar);
        }
        self.sample(name, "_bucket", labels, "le=\"+Inf\"", m.count);
        self.exemplar(home == Some(bounds.len()), exemplar);
        self.sample(name, "_count", labels, "", m.count);
        self.end();
        self.sample(name, "_sum", labels, "", m.sum);
        self.end();
    }

    fn exemplar(&mut self, here: bool, e: Option<&Exemplar>) {
        if let (true, Some(e)) = (here, e) {
            self.o.push_str(&exemplar_text(e));
        }
        self.end();
    }
}

impl MetricsAgg {
    /// The OpenMetrics samples of every series, family by family, as `opts` says (without
    /// the final `# EOF`); returns the number of samples (histograms flatten into buckets,
    /// count and sum; `_created` samples are not counted).
    pub fn encode_openmetrics(&self, resources: &Resources, opts: &OpenMetricsOptions, out: &mut Vec<u8>) -> u64 {
        out.clear();
        let ts = opts.timestamp_ns.map(|t| format!(" {}", seconds(t))).unwrap_or_default();
        let created = opts.created_ns.map(seconds);
        let mut o = String::new();
        let mut last: Option<u16> = None;
        let mut samples = 0u64;
        for ((m, label_list), merged) in &self.merged(resources) {
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
            let cumulative = ty == "counter" || ty == "histogram";
            let mut w = Writer { o: &mut o, ts: &ts, created: created.as_deref().filter(|_| cumulative) };
            match &def.shape {
                Shape::Counter | Shape::Gauge => {
                    w.sample(&name, "", &labels, "", merged.sum);
                    w.end();
                    samples += 1;
                }
                Shape::Histogram(bounds) => {
                    let exemplar = merged.exemplar.as_ref().filter(|_| opts.exemplars);
                    w.histogram(&name, &labels, bounds, merged, exemplar);
                    samples += bounds.len() as u64 + 3;
                }
            }
            w.created(family, &labels);
        }
        out.extend_from_slice(o.as_bytes());
        samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Resource;

    fn agg_with_one_of_each() -> (MetricsAgg, Resources) {
        let mut agg = MetricsAgg::new();
        let resources = Resources {
            list: vec![Resource { attrs: vec![("service.name".into(), OwnedValue::Str("svc".into()))] }],
            ..Resources::default()
        };
        let labels = [("span.name".to_string(), "plan \"a\"".to_string())];
        agg.record_labeled(CALLS, 0, &labels, 1.0, None);
        agg.record_labeled(CALLS, 0, &labels, 1.0, None);
        agg.record_labeled(DURATION, 0, &labels, 0.3, Some(([0xab; 16], [0xcd; 8], 1_700_000_000_123_000_000)));
        (agg, resources)
    }

    #[test]
    fn a_scrape_has_created_samples_and_the_exemplar_in_its_bucket() {
        let (agg, resources) = agg_with_one_of_each();
        let mut out = Vec::new();
        let opts =
            OpenMetricsOptions { timestamp_ns: None, created_ns: Some(1_700_000_000_000_000_000), exemplars: true };
        agg.encode_openmetrics(&resources, &opts, &mut out);
        let text = String::from_utf8(out).unwrap();
        let labels = "service_name=\"svc\",span_name=\"plan \\\"a\\\"\"";
        assert!(text.starts_with("# TYPE calls counter\n# HELP calls Spans, by name, kind and status.\n"), "{text}");
        assert!(text.contains(&format!("\ncalls_total{{{labels}}} 2\ncalls_created{{{labels}}} 1700000000.000\n")));
        let ex = format!(
            "duration_seconds_bucket{{{labels},le=\"0.4\"}} 1 # {{trace_id=\"{}\",span_id=\"{}\"}} 0.3 1700000000.123\n",
            "ab".repeat(16),
            "cd".repeat(8)
        );
        assert!(text.contains(&ex), "{text}");
        assert_eq!(text.matches(" # {").count(), 1, "one exemplar, on the bucket of its value");
        assert!(text.contains(&format!("duration_seconds_created{{{labels}}} 1700000000.000\n")));
        let label_set = format!("trace_id{}span_id{}", "ab".repeat(16), "cd".repeat(8));
        assert_eq!(label_set.chars().count(), EXEMPLAR_LABEL_CHARS);
    }

    #[test]
    fn a_file_export_stamps_every_sample_and_has_neither_created_nor_exemplars() {
        let (agg, resources) = agg_with_one_of_each();
        let mut out = Vec::new();
        let opts = OpenMetricsOptions { timestamp_ns: Some(2_000_000_000), ..OpenMetricsOptions::default() };
        let n = agg.encode_openmetrics(&resources, &opts, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(n, 1 + SPAN_DURATION_BOUNDS_S.len() as u64 + 3);
        assert!(!text.contains("_created") && !text.contains(" # {"), "{text}");
        assert!(text.lines().filter(|l| !l.starts_with('#')).all(|l| l.ends_with(" 2.000")), "{text}");
    }
}
