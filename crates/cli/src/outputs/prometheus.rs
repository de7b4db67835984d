//! `--prometheus-listen ADDR` (with `--linger[=D]`): the metrics and the simulator's own
//! counters at `http://ADDR/metrics`, in the text format or, to a scrape that asks for it,
//! OpenMetrics (with `_created` samples and the histograms' exemplars).

use tsim_model::Resources;
use tsim_model::metrics::{MetricsAgg, MetricsEncoder, OpenMetricsOptions};
use tsim_sinks::prometheus::{Expositions, Linger, PrometheusSink};

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

/// Both expositions of each export, for the endpoint to answer either.
#[derive(Debug, Default)]
struct Encode {
    text: Vec<u8>,
    openmetrics: Vec<u8>,
}

impl MetricsEncoder for Encode {
    fn encode(&mut self, agg: &MetricsAgg, resources: &Resources, start_ns: u64, _time_ns: u64, out: &mut Vec<u8>) -> u64 {
        agg.encode_prometheus(resources, &mut self.text);
        // No timestamps (Prometheus stamps the scrape); counters and histograms started with the run.
        let opts = OpenMetricsOptions { timestamp_ns: None, created_ns: Some(start_ns), exemplars: true };
        agg.encode_openmetrics(resources, &opts, &mut self.openmetrics);
        Expositions::pack(&self.text, &self.openmetrics, out);
        agg.points() as u64
    }
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
        let sink = PrometheusSink::bind(addr, linger, std::sync::Arc::new(move |out: &mut String, e| own.render(out, e)))
            .await?;
        if !c.g.quiet {
            say!("serving metrics at http://{}/metrics", sink.addr());
        }
        Ok(vec![Wired::metrics(sink, Encode::default())])
    }))
}
