//! `--logging-config FILE`: one file per logger of a `loggingConfig:` (the paper-writing
//! workflow's logging config), with its level, fields, rotation and retention.

use std::path::Path;

use anyhow::anyhow;
use tsim_model::Lines;
use tsim_model::structlog::LoggerEncoder;
use tsim_sinks::applog::{AppLogSink, Rotation};
use tsim_sinks::{Format, Signal};

use super::{Built, Ctx, Wired, none};

/// The flag of the logging-config output.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Flags {
    /// Write log records by a logging configuration (the paper-writing workflow's spec `loggingConfig:` YAML):
    /// one file per logger with its level, fields, rotation and retention.
    #[arg(
        help_heading = "Files",
        long,
        global = true,
        hide_env_values = true,
        env = "TELEMETRY_SIMULATOR_LOGGING_CONFIG",
        value_name = "FILE"
    )]
    pub logging_config: Option<std::path::PathBuf>,
}

pub(super) fn build<'a>(c: &'a Ctx<'a>, f: &'a Flags) -> Built<'a> {
    let Some(path) = &f.logging_config else { return none() };
    let loggers = tsim_scenario::load_logging_config(path, Path::new("."))
        .map_err(|d| anyhow!("--logging-config:\n{d}"))?
        .loggers;
    if !loggers.is_empty() {
        c.needs(Signal::Logs, "--logging-config")?;
    }
    Ok(Box::pin(async move {
        let mut sinks = Vec::new();
        for (i, l) in loggers.iter().enumerate() {
            let rotation = l.max_bytes.map(|max_bytes| Rotation { max_bytes, max_files: l.max_files });
            let mut sink = AppLogSink::open(&l.path, Format::Logger(i as u16), rotation)
                .await
                .map_err(|e| anyhow!("logger `{}`: {e}", l.name))?;
            if let Some(days) = l.retention_days {
                sink = sink.with_retention(std::time::Duration::from_secs_f64(days * 86_400.0)).await;
            }
            sinks.push(Wired::traces(sink, Lines::new(LoggerEncoder::new(&l.name, l.min_severity, &l.fields))));
        }
        Ok(sinks)
    }))
}
