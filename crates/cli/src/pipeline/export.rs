//! Cumulative metrics of a run, exported to their sinks at simulated-time boundaries.

use bytes::Bytes;
use tsim_engine::declared::DeclaredMetrics;
use tsim_model::metrics::MetricsAgg;
use tsim_sinks::{Batch, Format};

use super::generate::{Targets, send};
use super::plan::WhenFull;

/// Cumulative metrics, exported at simulated-time boundaries.
pub(super) struct MetricsExport {
    pub(super) agg: MetricsAgg,
    pub(super) declared: DeclaredMetrics,
    pub(super) start_ns: u64,
    pub(super) next_ns: u64,
    pub(super) interval_ns: u64,
    /// End of the latest span recorded.
    pub(super) recorded_until: u64,
    /// Time of the latest export.
    pub(super) last_export: u64,
    pub(super) outputs: Vec<(Format, Targets)>,
    pub(super) when_full: WhenFull,
}

impl MetricsExport {
    pub(super) fn export(&mut self, resources: &tsim_model::Resources, time_ns: u64, out: &mut Vec<u8>) {
        self.declared.gauges_at(&mut self.agg, time_ns);
        let points = self.agg.points() as u64;
        if points == 0 {
            return;
        }
        for (format, targets) in &self.outputs {
            let items = match format {
                Format::OtlpProto => {
                    self.agg.encode_proto(resources, self.start_ns, time_ns, out);
                    points
                }
                Format::OtlpJson => {
                    self.agg.encode_json(resources, self.start_ns, time_ns, out);
                    points
                }
                Format::PrometheusText => {
                    self.agg.encode_prometheus(resources, out);
                    points
                }
                // Remote write and line protocol count samples: histograms flatten into
                // buckets, sum and count.
                Format::RemoteWrite => {
                    self.agg.encode_remote_write(resources, (time_ns / 1_000_000) as i64, out) as u64
                }
                Format::InfluxLine => self.agg.encode_influx(resources, time_ns, out) as u64,
                // Not metric formats: such sinks are never registered for metrics.
                Format::TextLine
                | Format::TextFull
                | Format::AppJson
                | Format::DecisionJson
                | Format::ArtifactJson
                | Format::EsBulk
                | Format::Logger(_) => {
                    continue;
                }
            };
            let payload = Bytes::from(std::mem::take(out));
            send(targets, Batch { payload, items }, self.when_full);
        }
    }

    /// Exports every boundary passed before `at`.
    /// Exports every boundary passed before `at`, on the interval grid. A trace is counted
    /// whole when it starts, so a point may include spans still running at its time.
    pub(super) fn advance(&mut self, resources: &tsim_model::Resources, at: u64, out: &mut Vec<u8>) {
        while self.interval_ns > 0 && at >= self.next_ns {
            let t = self.next_ns;
            self.export(resources, t, out);
            self.last_export = t;
            self.next_ns += self.interval_ns;
        }
    }

    /// The final export: everything, as of the end of the last span.
    pub(super) fn close(&mut self, resources: &tsim_model::Resources, out: &mut Vec<u8>) {
        let t = self.recorded_until.max(self.last_export + 1).max(self.start_ns + 1);
        self.export(resources, t, out);
    }
}
