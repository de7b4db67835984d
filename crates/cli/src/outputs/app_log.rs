//! The JSON line files that log shippers tail: `--app-log` (the TaskPilot guide's application
//! log, rotated by size), `--decision-log` and `--artifact-log`.

use std::path::Path;

use anyhow::Result;
use tsim_sinks::applog::{AppLogSink, Rotation};
use tsim_sinks::{BoxFuture, Format, Signal, Sink};

use super::Ctx;

/// One appended line file of `format` at `path`, when the flag is given.
async fn one(
    c: &Ctx<'_>,
    path: Option<&Path>,
    flag: &str,
    format: Format,
    rotation: Option<Rotation>,
) -> Result<Vec<Box<dyn Sink>>> {
    let Some(path) = path else { return Ok(Vec::new()) };
    c.needs(Signal::Logs, flag)?;
    Ok(vec![Box::new(AppLogSink::open(path, format, rotation).await?)])
}

pub(super) fn build<'a>(c: &'a Ctx<'a>) -> BoxFuture<'a, Result<Vec<Box<dyn Sink>>>> {
    let g = c.g;
    let rotation = g.app_log_max_size.map(|max_bytes| Rotation { max_bytes, max_files: g.app_log_max_files as u32 });
    Box::pin(one(c, g.app_log.as_deref(), "--app-log", Format::AppJson, rotation))
}

pub(super) fn build_decision_log<'a>(c: &'a Ctx<'a>) -> BoxFuture<'a, Result<Vec<Box<dyn Sink>>>> {
    Box::pin(one(c, c.g.decision_log.as_deref(), "--decision-log", Format::DecisionJson, None))
}

pub(super) fn build_artifact_log<'a>(c: &'a Ctx<'a>) -> BoxFuture<'a, Result<Vec<Box<dyn Sink>>>> {
    Box::pin(one(c, c.g.artifact_log.as_deref(), "--artifact-log", Format::ArtifactJson, None))
}
