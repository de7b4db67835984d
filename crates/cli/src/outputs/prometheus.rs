//! `--prometheus-listen ADDR` (with `--linger[=D]`): the metrics and the simulator's own
//! counters at `http://ADDR/metrics`.

use tsim_sinks::prometheus::{Linger, PrometheusSink};

use super::{Built, Ctx, Wired, none};
use crate::args;

/// The flags of the Prometheus endpoint.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Flags {
    /// Serve the metrics for Prometheus at http://ADDR/metrics (e.g. 127.0.0.1:8000).
    #[arg(help_heading = "Metrics", long, global = true, value_name = "ADDR")]
    pub prometheus_listen: Option<String>,

    /// Keep serving /metrics after the run: `--linger` until Ctrl-C, `--linger=30s` for a time.
    #[arg(help_heading = "Metrics", long, global = true, num_args = 0..=1,
        require_equals = true, default_missing_value = "forever", value_name = "DURATION")]
    pub linger: Option<String>,
}

pub(super) fn build<'a>(c: &'a Ctx<'a>, f: &'a Flags) -> Built<'a> {
    let Some(addr) = &f.prometheus_listen else {
        if f.linger.is_some() {
            usage!("--linger goes with --prometheus-listen");
        }
        return none();
    };
    let linger = match f.linger.as_deref() {
        None => Linger::No,
        Some("forever") => Linger::UntilInterrupted,
        Some(d) => Linger::For(std::time::Duration::from_millis(
            args::parse_duration_ms(d).map_err(|e| usage_error!("--linger: {e}"))?,
        )),
    };
    Ok(Box::pin(async move {
        let own = c.live.clone();
        let sink =
            PrometheusSink::bind(addr, linger, std::sync::Arc::new(move |out: &mut String| own.render(out))).await?;
        if !c.g.quiet {
            say!("serving metrics at http://{}/metrics", sink.addr());
        }
        Ok(vec![Wired::shared(sink)])
    }))
}
