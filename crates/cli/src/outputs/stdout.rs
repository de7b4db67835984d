//! `--show-spans`, `--show-full-spans`: the traces as text on stdout.

use anyhow::Result;
use tsim_sinks::stdout::StdoutSink;
use tsim_sinks::{BoxFuture, Format, Signal, Sink};

use super::Ctx;

pub(super) fn build<'a>(c: &'a Ctx<'a>) -> BoxFuture<'a, Result<Vec<Box<dyn Sink>>>> {
    Box::pin(async move {
        let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
        if c.signals.contains(&Signal::Traces) {
            if c.run.show_spans {
                sinks.push(Box::new(StdoutSink::new(Format::TextLine)));
            }
            if c.run.show_full_spans {
                sinks.push(Box::new(StdoutSink::new(Format::TextFull)));
            }
        }
        Ok(sinks)
    })
}
