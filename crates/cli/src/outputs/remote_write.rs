//! `--remote-write URL`: Prometheus remote write 1.0 (snappy protobuf; 5xx retried, 4xx never).

use anyhow::Result;
use tsim_sinks::remote_write::RemoteWriteSink;
use tsim_sinks::{BoxFuture, Signal, Sink};

use super::{Ctx, http_headers, http_timeout};

pub(super) fn build<'a>(c: &'a Ctx<'a>) -> BoxFuture<'a, Result<Vec<Box<dyn Sink>>>> {
    Box::pin(async move {
        let Some(url) = &c.g.remote_write else { return Ok(Vec::new()) };
        c.needs(Signal::Metrics, "--remote-write")?;
        let sink = RemoteWriteSink::new(url, &http_headers(c.g)?, http_timeout(c.g), c.policy)?;
        Ok(vec![Box::new(sink) as Box<dyn Sink>])
    })
}
