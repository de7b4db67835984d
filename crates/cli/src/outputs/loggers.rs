//! `--logging-config`: one file per logger of a `loggingConfig:`, with its level, fields,
//! rotation and retention.

use anyhow::{Result, anyhow};
use tsim_sinks::applog::{AppLogSink, Rotation};
use tsim_sinks::{BoxFuture, Format, Signal, Sink};

use super::Ctx;

pub(super) fn build<'a>(c: &'a Ctx<'a>) -> BoxFuture<'a, Result<Vec<Box<dyn Sink>>>> {
    Box::pin(async move {
        let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
        for (i, l) in c.loggers.iter().enumerate() {
            c.needs(Signal::Logs, "--logging-config")?;
            let rotation = l.max_bytes.map(|max_bytes| Rotation { max_bytes, max_files: l.max_files });
            let mut sink = AppLogSink::open(&l.path, Format::Logger(i as u16), rotation)
                .await
                .map_err(|e| anyhow!("logger `{}`: {e}", l.name))?;
            if let Some(days) = l.retention_days {
                sink = sink.with_retention(std::time::Duration::from_secs_f64(days * 86_400.0)).await;
            }
            sinks.push(Box::new(sink));
        }
        Ok(sinks)
    })
}
