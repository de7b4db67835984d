//! `--discard`: encode OTLP protobuf and throw it away (measures the generator).

use anyhow::Result;
use tsim_sinks::discard::DiscardSink;
use tsim_sinks::{BoxFuture, Sink};

use super::Ctx;

pub(super) fn build<'a>(c: &'a Ctx<'a>) -> BoxFuture<'a, Result<Vec<Box<dyn Sink>>>> {
    Box::pin(async move {
        let sinks: Vec<Box<dyn Sink>> = if c.g.discard {
            c.signals.iter().map(|&sig| Box::new(DiscardSink::new(sig)) as Box<dyn Sink>).collect()
        } else {
            Vec::new()
        };
        Ok(sinks)
    })
}
