//! Discard sink: takes encoded OTLP protobuf batches and throws them away, to measure the
//! generator (sample → build → encode) without any I/O.

use crate::{Batch, BoxFuture, Delivery, Format, Signal, Sink};

/// Counts batches as delivered and keeps nothing.
#[derive(Debug, Clone, Copy)]
pub struct DiscardSink {
    signal: Signal,
}

impl DiscardSink {
    /// A discard sink for `signal` (payloads are OTLP protobuf, encoded as for a collector).
    pub fn new(signal: Signal) -> Self {
        Self { signal }
    }
}

impl Sink for DiscardSink {
    fn name(&self) -> String {
        "discard".into()
    }

    fn format(&self) -> Format {
        Format::OtlpProto
    }

    fn signal(&self) -> Signal {
        self.signal
    }

    fn send(&mut self, batch: Batch) -> BoxFuture<'_, Delivery> {
        Box::pin(async move { Delivery::ok(batch.items) })
    }
}
