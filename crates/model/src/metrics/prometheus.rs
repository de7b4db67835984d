//! Metrics as Prometheus sees them: names, labels, the text exposition and the flattened
//! series (`_total`, `_bucket{le}`, `_sum`, `_count`) that remote write and line protocol send.

use super::*;
use crate::num::f64_of;

/// A Prometheus metric name for an OTLP name, unit and shape, as the collector's
/// Prometheus exporter builds it: invalid characters become `_`, the unit is spelled out
/// and appended (`ms` → `_milliseconds`, `s` → `_seconds`; `{…}` annotations and `1` are
/// dropped), and monotonic counters end in `_total`.
pub fn prometheus_name(name: &str, unit: &str, counter: bool) -> String {
    let mut out = sanitize(name, true);
    let unit_name = match unit {
        "" | "1" => "",
        u if u.starts_with('{') => "",
        "ms" => "milliseconds",
        "s" => "seconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "min" => "minutes",
        "h" => "hours",
        "d" => "days",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "%" => "percent",
        other => other,
    };
    if !unit_name.is_empty() {
        let u = sanitize(unit_name, false);
        if !out.ends_with(&format!("_{u}")) {
            out.push('_');
            out.push_str(&u);
        }
    }
    if counter && !out.ends_with("_total") {
        out.push_str("_total");
    }
    out
}

/// Replaces characters Prometheus does not allow in names with `_`.
pub fn sanitize(s: &str, metric: bool) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || (metric && c == ':') { c } else { '_' })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) || out.is_empty() {
        out.insert(0, '_');
    }
    out
}

fn escape_label(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// `k="v",…` of a series' labels, values escaped.
pub(super) fn label_text(labels: &[(String, String)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        escape_label(v, &mut out);
        out.push('"');
    }
    out
}

/// A series as Prometheus sees it, after merging resources with the same labels.
#[derive(Debug, Clone, Default)]
pub(super) struct Merged {
    pub count: u64,
    pub sum: f64,
    pub buckets: Vec<u64>,
    /// The latest exemplar of the merged series.
    pub exemplar: Option<Exemplar>,
}

/// (metric definition, sorted Prometheus labels) → merged values.
pub(super) type MergedSeries = std::collections::BTreeMap<(u16, Vec<(String, String)>), Merged>;

impl MetricsAgg {
    /// Series keyed by their Prometheus labels (resource labels plus attributes, sorted);
    /// series of different resources with the same labels are added together.
    pub(super) fn merged(&self, resources: &Resources) -> MergedSeries {
        let mut merged = MergedSeries::new();
        for s in &self.series {
            let mut labels: Vec<(String, String)> = resource_labels(resources, s.resource);
            labels.extend(s.attrs.iter().map(|(k, v)| (sanitize(k, false), v.clone())));
            labels.sort();
            labels.dedup_by(|a, b| a.0 == b.0);
            let e = merged
                .entry((s.metric, labels))
                .or_insert_with(|| Merged { buckets: vec![0; s.buckets.len()], ..Merged::default() });
            e.count += s.count;
            e.sum += s.sum;
            for (a, b) in e.buckets.iter_mut().zip(&s.buckets) {
                *a += b;
            }
            if let Some(x) = &s.exemplar
                && e.exemplar.as_ref().is_none_or(|y| x.time_ns > y.time_ns)
            {
                e.exemplar = Some(x.clone());
            }
        }
        merged
    }
}

/// Resource attributes that become labels of the exposition (the rest describe the process).
fn resource_labels(resources: &Resources, r: u32) -> Vec<(String, String)> {
    resources.list[r as usize]
        .attrs
        .iter()
        .filter(|(k, _)| k == "service.name" || k == "service.namespace" || k.ends_with("tenant.id"))
        .filter_map(|(k, v)| match v {
            OwnedValue::Str(s) => Some((sanitize(k, false), s.clone())),
            _ => None,
        })
        .collect()
}

impl MetricsAgg {
    /// The Prometheus text exposition (format 0.0.4) of every series. Series whose labels
    /// coincide (same span names in two resources of one service) are added together.
    pub fn encode_prometheus(&self, resources: &Resources, out: &mut Vec<u8>) {
        use std::fmt::Write as _;
        let merged = self.merged(resources);
        let mut o = String::new();
        let mut last: Option<u16> = None;
        for ((m, label_list), Merged { count, sum, buckets, .. }) in &merged {
            let def = &self.defs[*m as usize];
            let labels = label_text(label_list);
            let name = def.prometheus_name();
            if last != Some(*m) {
                let _ = writeln!(o, "# HELP {name} {}", def.description);
                let _ = writeln!(o, "# TYPE {name} {}", def.prometheus_type());
                last = Some(*m);
            }
            let sep = if labels.is_empty() { "" } else { "," };
            match &def.shape {
                Shape::Counter | Shape::Gauge => {
                    let _ = writeln!(o, "{name}{{{labels}}} {sum}");
                }
                Shape::Histogram(bounds) => {
                    let mut cum = 0;
                    for (b, n) in bounds.iter().zip(buckets) {
                        cum += n;
                        let _ = writeln!(o, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cum}");
                    }
                    let _ = writeln!(o, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
                    let _ = writeln!(o, "{name}_sum{{{labels}}} {sum}");
                    let _ = writeln!(o, "{name}_count{{{labels}}} {count}");
                }
            }
        }
        out.clear();
        out.extend_from_slice(o.as_bytes());
    }
}

impl MetricsAgg {
    /// The Prometheus series of the exposition, flattened (`_total`, `_bucket{le}`, `_sum`,
    /// `_count`), each with its sorted labels (`__name__` included) and current value.
    pub fn prometheus_series(&self, resources: &Resources) -> Vec<(Vec<(String, String)>, f64)> {
        let merged = self.merged(resources);
        let mut out = Vec::new();
        let with = |labels: &[(String, String)], name: String, extra: Option<(&str, String)>| {
            let mut l: Vec<(String, String)> = labels.to_vec();
            l.push(("__name__".into(), name));
            if let Some((k, v)) = extra {
                l.push((k.into(), v));
            }
            l.sort();
            l
        };
        for ((m, labels), Merged { count, sum, buckets, .. }) in merged {
            let def = &self.defs[m as usize];
            match &def.shape {
                Shape::Counter | Shape::Gauge => out.push((with(&labels, def.prometheus_name(), None), sum)),
                Shape::Histogram(bounds) => {
                    let name = def.prometheus_name();
                    let mut cum = 0;
                    for (b, n) in bounds.iter().zip(&buckets) {
                        cum += n;
                        out.push((with(&labels, format!("{name}_bucket"), Some(("le", b.to_string()))), f64_of(cum)));
                    }
                    out.push((with(&labels, format!("{name}_bucket"), Some(("le", "+Inf".into()))), f64_of(count)));
                    out.push((with(&labels, format!("{name}_sum"), None), sum));
                    out.push((with(&labels, format!("{name}_count"), None), f64_of(count)));
                }
            }
        }
        out
    }
}
