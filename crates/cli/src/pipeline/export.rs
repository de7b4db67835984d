//! Cumulative metrics of a run, exported to their sinks at simulated-time boundaries.

use bytes::Bytes;
use tsim_engine::declared::DeclaredMetrics;
use tsim_model::metrics::{MetricsAgg, MetricsEncoder};
use tsim_sinks::{Batch, Format};

use super::generate::{Targets, send};
use super::plan::WhenFull;

/// How the metrics of one group of sinks are encoded.
pub(super) enum MetricsEncoding {
    /// A built-in metrics format, shared by every sink of it.
    Shared(Format),
    /// The output's own encoder.
    Own(Box<dyn MetricsEncoder + Send>),
}

impl MetricsEncoding {
    /// The shared encoding of `format`, if it is a metrics format.
    pub(super) fn shared(format: Format) -> Option<Self> {
        matches!(format, Format::OtlpProto | Format::OtlpJson | Format::PrometheusText | Format::RemoteWrite)
            .then_some(Self::Shared(format))
    }
}

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
    pub(super) outputs: Vec<(MetricsEncoding, Targets)>,
    pub(super) when_full: WhenFull,
}

impl MetricsExport {
    pub(super) fn export(&mut self, resources: &tsim_model::Resources, time_ns: u64, out: &mut Vec<u8>) {
        self.declared.gauges_at(&mut self.agg, time_ns);
        let points = self.agg.points() as u64;
        if points == 0 {
            return;
        }
        let (start_ns, agg) = (self.start_ns, &self.agg);
        for (encoding, targets) in &mut self.outputs {
            let items = match encoding {
                MetricsEncoding::Own(encoder) => encoder.encode(agg, resources, start_ns, time_ns, out),
                MetricsEncoding::Shared(Format::OtlpProto) => {
                    agg.encode_proto(resources, start_ns, time_ns, out);
                    points
                }
                MetricsEncoding::Shared(Format::OtlpJson) => {
                    agg.encode_json(resources, start_ns, time_ns, out);
                    points
                }
                MetricsEncoding::Shared(Format::PrometheusText) => {
                    agg.encode_prometheus(resources, out);
                    points
                }
                // Remote write counts samples: histograms flatten into buckets, sum and count.
                MetricsEncoding::Shared(Format::RemoteWrite) => {
                    agg.encode_remote_write(resources, (time_ns / 1_000_000) as i64, out) as u64
                }
                // Not a metrics format: `MetricsEncoding::shared` never makes one.
                MetricsEncoding::Shared(_) => continue,
            };
            let payload = Bytes::from(std::mem::take(out));
            send(targets, Batch { payload, items }, self.when_full);
        }
    }

    /// Exports every boundary at or before `at`, on the interval grid (`--export-order
    /// trace`: a trace is counted whole when it starts, so a point may include spans still
    /// running at its time).
    pub(super) fn advance(&mut self, resources: &tsim_model::Resources, at: u64, out: &mut Vec<u8>) {
        while self.interval_ns > 0 && at >= self.next_ns {
            let t = self.next_ns;
            self.export(resources, t, out);
            self.last_export = t;
            self.next_ns += self.interval_ns;
        }
    }

    /// Exports every boundary strictly before `t` (span-end order: the point at a boundary
    /// holds the spans that ended at or before it).
    pub(super) fn advance_before(&mut self, resources: &tsim_model::Resources, t: u64, out: &mut Vec<u8>) {
        while self.interval_ns > 0 && self.next_ns < t {
            let b = self.next_ns;
            self.export(resources, b, out);
            self.last_export = b;
            self.next_ns += self.interval_ns;
        }
    }

    /// Counts span `i` of `trace` as it ends: the boundaries before its end are exported first.
    pub(super) fn observe_span(
        &mut self,
        resources: &tsim_model::Resources,
        resource: u32,
        scenario: usize,
        trace: &tsim_model::TraceBuf<'_>,
        i: usize,
        out: &mut Vec<u8>,
    ) {
        let end = trace.spans[i].end_ns;
        self.advance_before(resources, end, out);
        self.agg.add_span(resource, trace, i);
        self.declared.observe_span(&mut self.agg, scenario, resource, trace, i);
        self.recorded_until = self.recorded_until.max(end);
    }

    /// The final export: everything, as of the end of the last span.
    pub(super) fn close(&mut self, resources: &tsim_model::Resources, out: &mut Vec<u8>) {
        let t = self.recorded_until.max(self.last_export + 1).max(self.start_ns + 1);
        self.export(resources, t, out);
    }
}
