//! `--discard`: encode OTLP protobuf and throw it away (measures the generator).

use tsim_sinks::discard::DiscardSink;

use super::{Built, Ctx, Wired, none};

/// The flag of the discarding output.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Flags {
    /// Encode OTLP protobuf and throw it away (no files, no network): measures the generator.
    #[arg(help_heading = "Delivery (OTLP, batching, retries)", long, global = true)]
    pub discard: bool,
}

pub(super) fn build<'a>(c: &'a Ctx<'a>, f: &'a Flags) -> Built<'a> {
    if !f.discard {
        return none();
    }
    Ok(Box::pin(async move { Ok(c.signals.iter().map(|&sig| Wired::shared(DiscardSink::new(sig))).collect()) }))
}
