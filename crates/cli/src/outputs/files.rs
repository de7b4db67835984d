//! `--output DIR` (the default without an endpoint): `traces.jsonl`, `logs.jsonl`,
//! `metrics.jsonl`, one OTLP/JSON request per line.

use std::path::PathBuf;

use anyhow::Context;
use tsim_sinks::file::FileSink;
use tsim_sinks::{Format, Signal};

use super::{Built, Ctx, Wired, none};

/// No flags of its own: `--output` is global (the line files write into it too).
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Flags {}

/// Default output folder.
const DEFAULT_OUTPUT: &str = "telemetry-out";
/// A bounded run to files of at least this many traces gets a note on its size.
const LARGE_FILE_RUN: u64 = 1_000_000;
/// OTLP/JSON bytes per trace of a mixed run, traces, logs and metrics together (measured).
const BYTES_PER_TRACE: f64 = 12_000.0;

pub(super) fn build<'a>(c: &'a Ctx<'a>, _: &'a Flags) -> Built<'a> {
    let g = c.g;
    let o = &g.outputs;
    // Metrics alone into an OpenMetrics file: that file is the output.
    let openmetrics_only = o.openmetrics.openmetrics.is_some() && c.signals == [tsim_sinks::Signal::Metrics];
    let elsewhere = o.discard.discard
        || o.output_file.output_file.is_some()
        || o.store.store.is_some()
        || o.frames.verify_frames
        || openmetrics_only;
    if !((c.otlp.is_empty() && !elsewhere) || g.output.is_some()) {
        return none();
    }
    Ok(Box::pin(async move {
        let mut sinks = Vec::new();
        let dir = g.output.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_OUTPUT));
        // A big bounded run to files: say how big before it fills the disk.
        if let Some(n) = c.expected.filter(|n| *n >= LARGE_FILE_RUN && !g.quiet) {
            let gb = n as f64 * BYTES_PER_TRACE * c.signals.len() as f64 / 3.0 / 1e9;
            say!(
                "note: {n} traces to files in {}: roughly {gb:.0} GB (about 12 KB of OTLP/JSON per trace \
                 with all three signals); Ctrl-C stops the run with its summary",
                dir.display()
            );
        }
        for &sig in c.signals {
            let name = format!("{}.jsonl", sig.as_str());
            sinks.push(Wired::shared(FileSink::create(&dir, &name, sig, Format::OtlpJson).await?));
        }
        // A folder never mixes runs: an earlier run's file of a signal this one leaves out goes.
        for sig in [Signal::Traces, Signal::Logs, Signal::Metrics].into_iter().filter(|s| !c.signals.contains(s)) {
            let stale = dir.join(format!("{}.jsonl", sig.as_str()));
            if stale.is_file() {
                std::fs::remove_file(&stale).with_context(|| format!("removing {}", stale.display()))?;
                if !g.quiet {
                    say!("note: removed {} of an earlier run (this one has no {})", stale.display(), sig.as_str());
                }
            }
        }
        Ok(sinks)
    }))
}
