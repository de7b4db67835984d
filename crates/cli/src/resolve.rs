//! The second stage of the command line: typed arguments (and the environment) resolved
//! into what a run needs — its window, shard, signals and tenants — with usage errors that
//! name the flag or variable.

use anyhow::Result;
use tsim_sinks::Signal;

use crate::args::{self, Global, RunArgs};

/// An environment variable, if set (and valid Unicode).
pub fn env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

/// The tenants and their weights: --tenants (or TELEMETRY_TENANT_UUIDS, else TENANT_UUID)
/// with --tenant-weights (default: equal).
pub fn tenants(g: &Global) -> Result<Vec<(String, f64)>> {
    let ids: Vec<String> = match g
        .tenants
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
        .or_else(|| env("TENANT_UUID"))
    {
        Some(s) => s.split(',').map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect(),
        None => return Ok(Vec::new()),
    };
    let weights: Vec<f64> = match g.tenant_weights.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(w) => w
            .split(',')
            .map(|x| x.trim().parse::<f64>().map_err(|_| usage_error!("tenant weight `{x}` is not a number")))
            .collect::<Result<_>>()?,
        None => vec![1.0; ids.len()],
    };
    if weights.len() != ids.len() {
        usage!("{} tenant ids but {} tenant weights", ids.len(), weights.len());
    }
    if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) || weights.iter().sum::<f64>() <= 0.0 {
        usage!("tenant weights must be numbers >= 0 with a positive sum");
    }
    Ok(ids.into_iter().zip(weights).collect())
}

/// The latest time a run may use: OTLP timestamps are nanoseconds since 1970, and most
/// collectors and backends read them as signed 64-bit numbers (which end in April 2262).
pub const LAST_NS: u64 = i64::MAX as u64;

/// An RFC 3339 time as Unix nanoseconds, within what OTLP timestamps can hold.
pub fn parse_time(flag: &str, s: &str) -> Result<u64> {
    let range = "between 1970-01-01T00:00:00Z and 2262-04-11T23:47:16Z (OTLP timestamps are 64-bit nanoseconds)";
    let Ok(ts) = s.parse::<jiff::Timestamp>() else {
        usage!("{flag} `{s}` is not an RFC 3339 time such as 2026-11-14T00:00:00Z; it must be {range}");
    };
    match u64::try_from(ts.as_nanosecond()) {
        Ok(ns) if ns <= LAST_NS => Ok(ns),
        _ => usage!("{flag} `{s}` is out of range: it must be {range}"),
    }
}

/// The simulated window: start, and the end if any (--end, --duration, --backfill).
pub fn window(g: &Global, run: &RunArgs, now: u64) -> Result<(u64, Option<u64>)> {
    if let Some(ms) = run.backfill {
        if g.start_time.is_some() {
            usage!("--backfill sets the start (now − the duration); leave out --start-time");
        }
        let ns = ms.saturating_mul(1_000_000);
        if ns == 0 || ns >= now {
            usage!("--backfill needs a duration above 0 and after 1970");
        }
        return Ok((now - ns, Some(now)));
    }
    let start = match &g.start_time {
        Some(s) => parse_time("--start-time", s)?,
        None => now,
    };
    let end = match (&run.end, run.duration) {
        (Some(e), _) => Some(parse_time("--end", e)?),
        (None, Some(ms)) => Some(start.saturating_add(ms.saturating_mul(1_000_000))),
        (None, None) => None,
    };
    if end.is_some_and(|e| e > LAST_NS) {
        usage!("the end of the run is past 2262-04-11T23:47:16Z, the last time OTLP timestamps can hold");
    }
    if let Some(e) = end
        && e <= start
    {
        usage!("the end ({}) must be after the start ({})", rfc3339(e), rfc3339(start));
    }
    Ok((start, end))
}

/// The shard: --shard, else a Kubernetes Indexed Job's JOB_COMPLETION_INDEX / JOB_COMPLETION_COUNT.
pub fn shard(run: &RunArgs) -> Result<(u64, u64)> {
    if let Some(s) = run.shard {
        return Ok(s);
    }
    match (env("JOB_COMPLETION_INDEX"), env("JOB_COMPLETION_COUNT")) {
        (Some(i), Some(n)) => args::parse_shard(&format!("{i}/{n}"))
            .map_err(|e| usage_error!("JOB_COMPLETION_INDEX / JOB_COMPLETION_COUNT: {e}")),
        (Some(_), None) => {
            usage!(
                "JOB_COMPLETION_INDEX is set: set JOB_COMPLETION_COUNT to the job's completions (or pass --shard I/N)"
            )
        }
        _ => Ok((0, 1)),
    }
}

/// The signals of --signals, each once, in the order given.
pub fn signals(g: &Global) -> Result<Vec<Signal>> {
    let mut out = Vec::new();
    for s in g.signals.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let sig = match s.to_ascii_lowercase().as_str() {
            "traces" => Signal::Traces,
            "logs" => Signal::Logs,
            "metrics" => Signal::Metrics,
            other => usage!("--signals: unknown signal `{other}` (traces, logs, metrics)"),
        };
        if !out.contains(&sig) {
            out.push(sig);
        }
    }
    out.retain(|s| !(g.no_metrics && *s == Signal::Metrics || g.no_logs && *s == Signal::Logs));
    if out.is_empty() {
        usage!("--signals needs at least one of traces, logs, metrics (after --no-metrics / --no-logs)");
    }
    Ok(out)
}

/// A time as RFC 3339 with all its digits (nanoseconds when it has them), so that what the
/// summary prints replays exactly.
pub fn rfc3339_exact(ns: u64) -> String {
    let mut s = String::new();
    tsim_model::time::push_rfc3339(&mut s, ns, if ns.is_multiple_of(1000) { 6 } else { 9 });
    s
}

/// A time as RFC 3339 with microseconds (for messages).
pub fn rfc3339(ns: u64) -> String {
    let mut s = String::new();
    tsim_model::time::push_rfc3339(&mut s, ns, 6);
    s
}
