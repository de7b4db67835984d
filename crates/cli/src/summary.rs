//! The end-of-run summary: per signal and sink, generated = delivered + dropped{reason}.

use std::fmt::Write;

use crate::human::human;
use crate::pipeline::Report;

/// Renders the summary for a person.
pub fn render(r: &Report, seed: u64, start: &str, replay: &str) -> String {
    let mut s = String::new();
    // Throughput over the generation alone (not the sinks' drain or --linger).
    let secs = r.generation.as_secs_f64();
    let mix: Vec<String> = r.per_scenario.iter().map(|(n, c)| format!("{n}: {c}")).collect();
    let _ = writeln!(
        s,
        "{} traces ({}), {} spans, {} error spans, {} log records generated in {:.2} s ({:.0} spans/s){}",
        r.traces,
        if mix.is_empty() { "none".to_string() } else { mix.join(", ") },
        r.spans,
        r.error_spans,
        r.logs,
        secs,
        r.spans as f64 / secs.max(1e-9),
        if r.interrupted { " — interrupted" } else { "" }
    );
    let _ = writeln!(s, "seed {seed}, start {start} (replay: {replay})");
    if let Some((i, n)) = r.shard {
        let _ = writeln!(s, "shard {i}/{n}: traces whose index is {i} modulo {n}");
    }
    let k = r.spans_per_trace;
    let rate = |t: f64| format!("{} traces/s ({} spans/s)", human(t), human(t * k));
    // The achieved rate means something only for a paced run.
    if let Some(t) = r.target_rate.filter(|_| r.traces >= 2) {
        let _ = writeln!(
            s,
            "rate: target {}, achieved {} ({:+.2} %)",
            rate(t),
            rate(r.achieved_rate),
            (r.achieved_rate / t - 1.0) * 100.0
        );
    }
    if r.cut > 0 {
        let _ = writeln!(
            s,
            "cut: {} traces reached their scenario's span budget (max_spans_per_trace) and were cut there",
            r.cut
        );
    }
    if r.late > 0 {
        let _ = writeln!(
            s,
            "late: {} traces started more than 100 ms after their time (worst {:.3} s behind): the generator \
             or a sink could not keep up (see --when-full)",
            r.late,
            r.max_lag.as_secs_f64()
        );
    }
    if r.ahead_budget > 0 {
        let _ = writeln!(
            s,
            "reorder budget: {} spans and records (per output) were sent at their trace's start: the \
             traces in flight outgrew --reorder-budget (raise it, or lower the rate)",
            r.ahead_budget
        );
    }
    if r.ahead_interrupted > 0 {
        let _ = writeln!(
            s,
            "interrupted: {} spans and records (per output) of started traces were sent at once, before their time",
            r.ahead_interrupted
        );
    }
    let w = r.sinks.iter().map(|k| k.name.len()).max().unwrap_or(4).max(4);
    let _ = writeln!(
        s,
        "{:<w$}  {:<7} {:>11} {:>11} {:>9} {:>8} {:>8} {:>12}",
        "sink", "signal", "generated", "delivered", "dropped", "requests", "retries", "bytes"
    );
    for k in &r.sinks {
        let dropped: u64 = k.dropped.values().sum();
        let _ = writeln!(
            s,
            "{:<w$}  {:<7} {:>11} {:>11} {:>9} {:>8} {:>8} {:>12}",
            k.name,
            k.signal.as_str(),
            k.generated,
            k.delivered,
            dropped,
            k.requests,
            k.retries,
            k.bytes
        );
        for (reason, n) in &k.dropped {
            let _ = writeln!(s, "{:<w$}    dropped {n} {}: {reason}", "", k.signal.item());
        }
        let unaccounted = k.generated as i128 - k.delivered as i128 - dropped as i128;
        if unaccounted != 0 {
            let _ = writeln!(s, "{:<w$}    {unaccounted} {} not accounted for", "", k.signal.item());
        }
    }
    for (name, what) in &r.insecure {
        let _ = writeln!(s, "insecure: {name}: {what}");
    }
    for e in &r.close_errors {
        let _ = writeln!(s, "error closing a sink: {e}");
    }
    incidents(&mut s, r);
    s
}

/// Incident windows shown in the summary at most (all are in `--summary-json`).
const INCIDENT_ROWS: usize = 20;

/// The incidents' windows and what they hit.
fn incidents(s: &mut String, r: &Report) {
    if r.incidents.is_empty() {
        return;
    }
    let w = r.incidents.iter().map(|i| i.name.len()).max().unwrap_or(8).max(8);
    let _ = writeln!(
        s,
        "{:<w$}  {:<27}  {:<27} {:>9} {:>11} {:>9}",
        "incident", "from", "to", "traces", "spans hit", "errors"
    );
    for i in r.incidents.iter().take(INCIDENT_ROWS) {
        let _ = writeln!(
            s,
            "{:<w$}  {:<27}  {:<27} {:>9} {:>11} {:>9}",
            i.name,
            crate::rfc3339(i.start_ns),
            crate::rfc3339(i.end_ns),
            i.traces,
            i.spans,
            i.errors
        );
    }
    if r.incidents.len() > INCIDENT_ROWS {
        let _ = writeln!(s, "… and {} more windows (--summary-json lists them all)", r.incidents.len() - INCIDENT_ROWS);
    }
}

/// The summary as JSON (`--summary-json`).
pub fn to_json(r: &Report, seed: u64, start: &str, replay: &str) -> serde_json::Value {
    serde_json::json!({
        "seed": seed,
        "start_time": start,
        "replay": replay,
        "traces": r.traces,
        "spans": r.spans,
        "error_spans": r.error_spans,
        "log_records": r.logs,
        "elapsed_seconds": r.elapsed.as_secs_f64(),
        "generation_seconds": r.generation.as_secs_f64(),
        "cut_traces": r.cut,
        "interrupted": r.interrupted,
        "shard": r.shard.map(|(i, n)| serde_json::json!({"index": i, "count": n})),
        "rate": {
            "spans_per_trace": r.spans_per_trace,
            "target_traces_per_second": r.target_rate,
            "target_spans_per_second": r.target_rate.map(|t| t * r.spans_per_trace),
            "achieved_traces_per_second": r.achieved_rate,
            "achieved_spans_per_second": r.achieved_rate * r.spans_per_trace,
        },
        "late_traces": r.late,
        "ahead_of_time": { "reorder_budget": r.ahead_budget, "interrupted": r.ahead_interrupted },
        "max_lag_seconds": r.max_lag.as_secs_f64(),
        "scenarios": r.per_scenario.iter().map(|(n, c)| (n.clone(), serde_json::json!(c))).collect::<serde_json::Map<_, _>>(),
        "sinks": r.sinks.iter().map(|k| serde_json::json!({
            "name": k.name,
            "signal": k.signal.as_str(),
            "generated": k.generated,
            "delivered": k.delivered,
            "dropped": k.dropped,
            "requests": k.requests,
            "retries": k.retries,
            "bytes": k.bytes,
        })).collect::<Vec<_>>(),
        "close_errors": r.close_errors,
        "insecure": r.insecure.iter().map(|(name, what)| serde_json::json!({"sink": name, "mode": what})).collect::<Vec<_>>(),
        "incidents": r.incidents.iter().map(|i| serde_json::json!({
            "name": i.name,
            "start": crate::rfc3339_exact(i.start_ns),
            "end": crate::rfc3339_exact(i.end_ns),
            "traces": i.traces,
            "spans": i.spans,
            "errors": i.errors,
        })).collect::<Vec<_>>(),
    })
}
