//! Stdout sink: the person-readable views `--show-spans` and `--show-full-spans`.
//!
//! A closed stdout (e.g. piped into `head`) ends the view quietly, like ripgrep: the
//! remaining items are reported as dropped with that reason, but the view does not make
//! the run fail.

use std::io::Write;

use crate::{Batch, BoxFuture, Delivery, Format, Signal, Sink};

/// Prints text batches to stdout.
pub struct StdoutSink {
    format: Format,
    closed: bool,
}

impl StdoutSink {
    /// A new view in `format` ([`Format::TextLine`] or [`Format::TextFull`]).
    pub fn new(format: Format) -> Self {
        Self { format, closed: false }
    }
}

impl Sink for StdoutSink {
    fn name(&self) -> String {
        "stdout".into()
    }

    fn format(&self) -> Format {
        self.format
    }

    fn signal(&self) -> Signal {
        Signal::Traces
    }

    fn counts_for_exit(&self) -> bool {
        false
    }

    fn send(&mut self, batch: Batch) -> BoxFuture<'_, Delivery> {
        Box::pin(async move {
            if self.closed {
                return Delivery::dropped(batch.items, "stdout closed");
            }
            let mut out = std::io::stdout().lock();
            // Every line ends with its newline, the batch's last one too.
            let newline: &[u8] = if batch.payload.ends_with(b"\n") { b"" } else { b"\n" };
            match out.write_all(&batch.payload).and_then(|_| out.write_all(newline)).and_then(|_| out.flush()) {
                Ok(()) => Delivery::ok(batch.items),
                Err(e) => {
                    self.closed = true;
                    let reason = if e.kind() == std::io::ErrorKind::BrokenPipe {
                        "stdout closed".to_string()
                    } else {
                        format!("stdout error: {e}")
                    };
                    Delivery::dropped(batch.items, reason)
                }
            }
        })
    }
}
