//! `--show-spans`, `--show-full-spans`: the traces as text on stdout.

use tsim_sinks::stdout::StdoutSink;
use tsim_sinks::{Format, Signal};

use super::{Built, Ctx, Wired};

/// The flags of the text views.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Flags {
    /// Print one line per trace (id, scenario, tenant, span names).
    #[arg(help_heading = "Report", long, global = true, visible_alias = "show-all-attributes")]
    pub show_spans: bool,

    /// Print every span with timing, status, attributes and events.
    #[arg(help_heading = "Report", long, global = true, conflicts_with = "show_spans")]
    pub show_full_spans: bool,
}

pub(super) fn build<'a>(c: &'a Ctx<'a>, f: &'a Flags) -> Built<'a> {
    let mut sinks = Vec::new();
    if c.signals.contains(&Signal::Traces) {
        if f.show_spans {
            sinks.push(Wired::shared(StdoutSink::new(Format::TextLine)));
        }
        if f.show_full_spans {
            sinks.push(Wired::shared(StdoutSink::new(Format::TextFull)));
        }
    }
    Ok(Box::pin(async move { Ok(sinks) }))
}
