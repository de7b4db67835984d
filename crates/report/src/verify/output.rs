//! How `verify` tells what it found: the three tallies as JSON and as table sections (for
//! text and Markdown), the verdict first.

use serde_json::json;

use super::Verdict;
use super::items::Dict;
use super::tally::{KeyDiff, SpanResult, Tally};
use crate::stats::FastMap;
use crate::{Report, Section};

fn key_rows(d: &FastMap<u64, KeyDiff>, keys: &Dict) -> Vec<(String, KeyDiff)> {
    let mut v: Vec<(String, KeyDiff)> = d.iter().map(|(k, x)| (keys.name(*k).to_owned(), *x)).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Dropped, added, changed, as JSON.
fn diff_json(x: &KeyDiff) -> serde_json::Value {
    json!({"dropped": x.dropped, "added": x.added, "changed": x.changed})
}

fn diff_row(first: String, x: &KeyDiff) -> Vec<String> {
    vec![first, x.dropped.to_string(), x.added.to_string(), x.changed.to_string()]
}

/// Per key (its text under `label`): dropped, added, changed, in key order.
fn per_key(d: &FastMap<u64, KeyDiff>, keys: &Dict, label: &str) -> Vec<serde_json::Value> {
    key_rows(d, keys)
        .into_iter()
        .map(|(k, x)| json!({label: k, "dropped": x.dropped, "added": x.added, "changed": x.changed}))
        .collect()
}

fn tally_json(t: &Tally, keys: &Dict) -> serde_json::Value {
    let per_key = |d| per_key(d, keys, "key");
    json!({
        "expected": t.expected,
        "delivered": t.delivered,
        "missing": t.missing,
        "duplicated": t.duplicated,
        "unexpected": t.unexpected,
        "otherRuns": t.other_runs,
        "altered": {
            "items": t.altered,
            "attributes": per_key(&t.attrs),
            "resourceAttributes": per_key(&t.resource),
            "timestampsShifted": {"items": t.shifted, "maxShiftSeconds": t.max_shift as f64 / 1e9},
            "fields": t.fields,
        },
    })
}

fn tally_sections(signal: &str, item: &str, t: &Tally, keys: &Dict, out: &mut Vec<Section>) {
    let mut s = Section::new(
        format!("{signal}: {}", if t.differences() == 0 { "identical" } else { "differences" }),
        &["", item],
    );
    for (k, v) in [
        ("expected", t.expected),
        ("delivered", t.delivered),
        ("missing", t.missing),
        ("duplicated", t.duplicated),
        ("unexpected", t.unexpected),
        ("altered", t.altered),
        ("time shifted", t.shifted),
    ] {
        s.row(vec![k.to_owned(), v.to_string()]);
    }
    for (k, v) in &t.fields {
        s.row(vec![format!("{k} changed"), v.to_string()]);
    }
    if t.other_runs > 0 {
        s.row(vec!["of other runs (set aside)".to_owned(), t.other_runs.to_string()]);
    }
    out.push(s);
    for (title, head, d) in
        [("attributes", "key", &t.attrs), ("resource attributes", "key", &t.resource), ("events", "event", &t.events)]
    {
        if d.is_empty() {
            continue;
        }
        let mut a = Section::new(format!("{signal}: {title} altered"), &[head, "dropped", "added", "changed"]);
        for (k, x) in key_rows(d, keys) {
            a.row(diff_row(k, &x));
        }
        out.push(a);
    }
    for (title, x) in [("links", &t.links), ("exemplars", &t.exemplars)] {
        if !x.is_empty() {
            let mut a = Section::new(format!("{signal}: {title} altered"), &[title, "dropped", "added", "changed"]);
            a.row(diff_row(item.to_owned(), x));
            out.push(a);
        }
    }
}

/// The spans' tally as JSON, with the renames, the sampling and the delay.
fn traces_json(s: &SpanResult, renames: &[(String, String, u64)], dict: &Dict) -> serde_json::Value {
    let mut traces = tally_json(&s.tally, dict);
    traces["altered"]["renamed"] =
        json!(renames.iter().map(|(a, b, n)| json!({"from": a, "to": b, "spans": n})).collect::<Vec<_>>());
    traces["altered"]["events"] = json!(per_key(&s.tally.events, dict, "name"));
    traces["altered"]["links"] = diff_json(&s.tally.links);
    traces["sampling"] = json!({
        "traces": s.all.json(),
        "errorTraces": s.errors.json(),
        "slowTraces": s.slow.json(),
        "slowThresholdSeconds": s.slow_threshold_ns as f64 / 1e9,
    });
    let d = &s.delay;
    traces["delay"] = if d.count == 0 {
        serde_json::Value::Null
    } else {
        json!({
            "spans": d.count,
            "early": s.early,
            "p50Seconds": d.quantile_s(0.5),
            "p95Seconds": d.quantile_s(0.95),
            "p99Seconds": d.quantile_s(0.99),
            "maxSeconds": d.max_s(),
        })
    };
    traces
}

/// The verdict and the report of the three tallies.
pub(super) fn render(s: &SpanResult, l: &Tally, m: &Tally, dict: &Dict) -> (Verdict, Report) {
    let differences = s.tally.differences() + l.differences() + m.differences();
    let verdict = if differences == 0 { Verdict::Identical } else { Verdict::Differences };
    let mut renames: Vec<(String, String, u64)> =
        s.renames.iter().map(|((a, b), n)| (dict.name(*a).to_owned(), dict.name(*b).to_owned(), *n)).collect();
    renames.sort();
    let mut metrics = tally_json(m, dict);
    metrics["altered"]["exemplars"] = diff_json(&m.exemplars);
    let json = json!({
        "verdict": match verdict { Verdict::Identical => "identical", Verdict::Differences => "differences" },
        "differences": differences,
        "signals": {"traces": traces_json(s, &renames, dict), "logs": tally_json(l, dict), "metrics": metrics},
    });
    let mut sections = Vec::new();
    tally_sections("Spans", "spans", &s.tally, dict, &mut sections);
    if !renames.is_empty() {
        let mut r = Section::new("Spans: renamed", &["from", "to", "spans"]);
        for (a, b, n) in &renames {
            r.row(vec![a.clone(), b.clone(), n.to_string()]);
        }
        sections.push(r);
    }
    let mut k = Section::new(
        format!("Traces kept (slow: root ≥ {:.3} s, the expected p90)", s.slow_threshold_ns as f64 / 1e9),
        &["traces", "expected", "kept", "whole", "partial", "kept %"],
    );
    for (name, x) in [("all", s.all), ("with an error", s.errors), ("slow", s.slow)] {
        let frac = if x.expected == 0 { 0.0 } else { x.kept as f64 / x.expected as f64 };
        k.row(vec![
            name.into(),
            x.expected.to_string(),
            x.kept.to_string(),
            x.whole.to_string(),
            (x.kept - x.whole).to_string(),
            format!("{:.1}", frac * 100.0),
        ]);
    }
    sections.push(k);
    let d = &s.delay;
    if d.count > 0 {
        let mut dl = Section::new(
            format!("Delay: receive time minus span end, {} spans ({} received before their end)", d.count, s.early),
            &["p50 (s)", "p95 (s)", "p99 (s)", "max (s)"],
        );
        dl.row(vec![
            crate::render::secs(d.quantile_s(0.5)),
            crate::render::secs(d.quantile_s(0.95)),
            crate::render::secs(d.quantile_s(0.99)),
            crate::render::secs(d.max_s()),
        ]);
        sections.push(dl);
    }
    tally_sections("Log records", "records", l, dict, &mut sections);
    tally_sections("Metric points", "points", m, dict, &mut sections);
    let title = match verdict {
        Verdict::Identical => "Verify: identical".to_owned(),
        Verdict::Differences => format!("Verify: {differences} differences"),
    };
    (verdict, Report { title, sections, json, charts: Vec::new() })
}
