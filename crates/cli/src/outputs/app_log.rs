//! `--app-log FILE`: the application log that log shippers tail (JSON lines in the TaskPilot
//! guide's `logs/taskpilot.log` format), rotated by size. [`line_file`] also opens the other
//! appended JSON line files (`--decision-log`, `--artifact-log`).

use std::path::Path;

use tsim_model::applog::AppLogEncoder;
use tsim_model::{Lines, RenderLines};
use tsim_sinks::applog::{AppLogSink, Rotation};
use tsim_sinks::{Format, Signal};

use super::{Built, Ctx, Wired, none};
use crate::args::{parse_size, ranged};

/// The flags of the application log.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Flags {
    /// Append application log lines (JSON, the TaskPilot guide's `logs/taskpilot.log` format) to this file.
    #[arg(
        help_heading = "Files",
        long,
        global = true,
        hide_env_values = true,
        env = "TELEMETRY_SIMULATOR_APP_LOG",
        value_name = "FILE"
    )]
    pub app_log: Option<std::path::PathBuf>,

    /// Leave policy decisions out of --app-log (they stay in --decision-log and OTLP logs).
    #[arg(help_heading = "Files", long, global = true)]
    pub no_app_log_decisions: bool,

    /// Rotate --app-log before it would exceed this size (e.g. 10MB, 512KiB).
    #[arg(help_heading = "Files", long, global = true, value_name = "SIZE", value_parser = parse_size)]
    pub app_log_max_size: Option<u64>,

    /// Rotated --app-log files kept (FILE.1 … FILE.N; 0 to 1000).
    #[arg(help_heading = "Files", long, global = true, default_value_t = 10, value_name = "N", value_parser = ranged::<0, 1000>)]
    pub app_log_max_files: u64,
}

pub(super) fn build<'a>(c: &'a Ctx<'a>, f: &'a Flags) -> Built<'a> {
    if f.app_log_max_size == Some(0) {
        usage!("--app-log-max-size must be above 0 (leave it out for no rotation)");
    }
    let rotation = f.app_log_max_size.map(|max_bytes| Rotation { max_bytes, max_files: f.app_log_max_files as u32 });
    let encoder =
        if f.no_app_log_decisions { AppLogEncoder::new().without_decisions() } else { AppLogEncoder::new() };
    line_file(c, f.app_log.as_deref(), "--app-log", Format::AppJson, rotation, encoder)
}

/// An appended JSON line file of log records at `path` (when `flag` is given), its lines
/// rendered by `render`.
pub(super) fn line_file<'a, R: RenderLines + Send + 'static>(
    c: &'a Ctx<'a>,
    path: Option<&'a Path>,
    flag: &str,
    format: Format,
    rotation: Option<Rotation>,
    render: R,
) -> Built<'a> {
    let Some(path) = path else { return none() };
    c.needs(Signal::Logs, flag)?;
    Ok(Box::pin(async move {
        let sink = AppLogSink::open(path, format, rotation).await?;
        Ok::<_, anyhow::Error>(vec![Wired::traces(sink, Lines::new(render))])
    }))
}
