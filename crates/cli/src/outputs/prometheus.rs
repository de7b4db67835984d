//! `--prometheus-listen ADDR` (with `--linger[=D]`): the metrics and the simulator's own
//! counters at `http://ADDR/metrics`.

use anyhow::Result;
use tsim_sinks::prometheus::{Linger, PrometheusSink};
use tsim_sinks::{BoxFuture, Sink};

use super::Ctx;
use crate::args;

pub(super) fn build<'a>(c: &'a Ctx<'a>) -> BoxFuture<'a, Result<Vec<Box<dyn Sink>>>> {
    Box::pin(async move {
        let g = c.g;
        let Some(addr) = &g.prometheus_listen else {
            if g.linger.is_some() {
                usage!("--linger goes with --prometheus-listen");
            }
            return Ok(Vec::new());
        };
        let linger = match g.linger.as_deref() {
            None => Linger::No,
            Some("forever") => Linger::UntilInterrupted,
            Some(d) => Linger::For(std::time::Duration::from_millis(
                args::parse_duration_ms(d).map_err(|e| usage_error!("--linger: {e}"))?,
            )),
        };
        let own = c.live.clone();
        let sink =
            PrometheusSink::bind(addr, linger, std::sync::Arc::new(move |out: &mut String| own.render(out))).await?;
        if !g.quiet {
            say!("serving metrics at http://{}/metrics", sink.addr());
        }
        Ok(vec![Box::new(sink) as Box<dyn Sink>])
    })
}
