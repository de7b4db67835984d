//! `--influx-url URL`: the metrics as InfluxDB line protocol.

use anyhow::Result;
use tsim_sinks::influx::InfluxSink;
use tsim_sinks::{BoxFuture, Signal, Sink};

use super::{Ctx, http_headers, http_timeout};

pub(super) fn build<'a>(c: &'a Ctx<'a>) -> BoxFuture<'a, Result<Vec<Box<dyn Sink>>>> {
    Box::pin(async move {
        let Some(url) = &c.g.influx_url else { return Ok(Vec::new()) };
        c.needs(Signal::Metrics, "--influx-url")?;
        let sink = InfluxSink::new(url, &http_headers(c.g)?, http_timeout(c.g), c.policy)?;
        Ok(vec![Box::new(sink) as Box<dyn Sink>])
    })
}
