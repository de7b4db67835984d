//! `--openmetrics FILE`: the metrics as one OpenMetrics text file with timestamps, every
//! export of the run, for `promtool tsdb create-blocks-from openmetrics` (a backfill that
//! Prometheus' remote write would refuse as out of bounds). The whole output is here: its
//! flag, its encoder and its file sink ([`sink`]).

mod sink;

use std::path::PathBuf;

use tsim_model::Resources;
use tsim_model::metrics::{MetricsAgg, MetricsEncoder, OpenMetricsOptions};
use tsim_sinks::Signal;

use super::{Built, Ctx, Wired, none};

/// The flag of the OpenMetrics output.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Flags {
    /// Write the metrics to FILE as OpenMetrics text with timestamps, every export of the run
    /// (for `promtool tsdb create-blocks-from openmetrics FILE DIR`: history into Prometheus).
    #[arg(help_heading = "Metrics", long, global = true, value_name = "FILE")]
    pub openmetrics: Option<PathBuf>,
}

/// Each export's samples, family by family.
#[derive(Debug, Default)]
struct Encode;

impl MetricsEncoder for Encode {
    fn encode(&mut self, agg: &MetricsAgg, resources: &Resources, _start_ns: u64, time_ns: u64, out: &mut Vec<u8>) -> u64 {
        // Cumulative values at each export's time; no `_created` samples (backfilled, they
        // would be one more series per series) nor exemplars: the file backfills values.
        let opts = OpenMetricsOptions { timestamp_ns: Some(time_ns), ..OpenMetricsOptions::default() };
        agg.encode_openmetrics(resources, &opts, out)
    }
}

pub(super) fn build<'a>(c: &'a Ctx<'a>, f: &'a Flags) -> Built<'a> {
    let Some(path) = &f.openmetrics else { return none() };
    c.needs(Signal::Metrics, "--openmetrics")?;
    Ok(Box::pin(async move { Ok(vec![Wired::metrics(sink::OpenMetricsFile::create(path).await?, Encode)]) }))
}
