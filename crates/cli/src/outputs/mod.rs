//! The outputs of a run, one file each: what flags make it, how its sinks are built. The
//! run walks [`OUTPUTS`] in order (the summary lists the sinks in that order); adding an
//! output is its sink folder in `tsim-sinks`, a file here with its `build`, and one line in
//! [`OUTPUTS`].

mod app_log;
mod discard;
mod elasticsearch;
mod files;
mod influx;
mod loggers;
mod otlp;
mod prometheus;
mod remote_write;
mod stdout;

use std::sync::Arc;

use anyhow::Result;
use tsim_scenario::LoggerSpec;
use tsim_sinks::otlp::{OtlpConfig, RetryPolicy};
use tsim_sinks::{BoxFuture, Signal, Sink};

use crate::args::{Global, RunArgs};
use crate::live::Live;

/// What every output's `build` may read.
pub struct Ctx<'a> {
    /// The global flags.
    pub g: &'a Global,
    /// The run's flags.
    pub run: &'a RunArgs,
    /// The signals of the run.
    pub signals: &'a [Signal],
    /// The OTLP exporters resolved from flags and environment, per signal.
    pub otlp: &'a [(Signal, OtlpConfig)],
    /// The retry policy of network sinks.
    pub policy: RetryPolicy,
    /// The live counters (served with `--prometheus-listen`).
    pub live: Arc<Live>,
    /// The loggers of `--logging-config`.
    pub loggers: &'a [LoggerSpec],
    /// Traces this shard will generate, when bounded.
    pub expected: Option<u64>,
}

impl Ctx<'_> {
    /// A usage error unless `signal` is among the run's signals.
    fn needs(&self, signal: Signal, flag: &str) -> Result<()> {
        if !self.signals.contains(&signal) {
            usage!("{flag} needs {} among --signals", signal.as_str());
        }
        Ok(())
    }
}

/// Builds the sinks of one output (none when its flags are not given).
type Build = for<'a> fn(&'a Ctx<'a>) -> BoxFuture<'a, Result<Vec<Box<dyn Sink>>>>;

/// Every output, in the order of the summary.
const OUTPUTS: &[Build] = &[
    otlp::build,
    discard::build,
    files::build,
    app_log::build,
    loggers::build,
    app_log::build_decision_log,
    app_log::build_artifact_log,
    prometheus::build,
    remote_write::build,
    influx::build,
    elasticsearch::build,
    stdout::build,
];

/// The sinks of every output the flags ask for.
pub async fn build_all(ctx: &Ctx<'_>) -> Result<Vec<Box<dyn Sink>>> {
    let mut sinks = Vec::new();
    for build in OUTPUTS {
        sinks.extend(build(ctx).await?);
    }
    Ok(sinks)
}

/// The user's `--header` values, for the HTTP outputs that are not OTLP.
fn http_headers(g: &Global) -> Result<Vec<(String, String)>> {
    Ok(g.headers.iter().map(|h| tsim_sinks::otlp::config::parse_headers(h)).collect::<Result<Vec<_>, _>>()?.concat())
}

/// The request timeout of the HTTP outputs that are not OTLP (`--timeout`, default 10 s).
fn http_timeout(g: &Global) -> std::time::Duration {
    std::time::Duration::from_millis(g.timeout.unwrap_or(10_000))
}
