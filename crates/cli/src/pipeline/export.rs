//! Cumulative metrics of a run, exported to their sinks at simulated-time boundaries.

use bytes::Bytes;
use std::sync::Arc;
use tsim_engine::declared::DeclaredMetrics;
use tsim_model::metrics::{MetricsAgg, MetricsEncoder};

use tsim_sinks::{Batch, Demand, Format};

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
        matches!(format, Format::OtlpProto | Format::OtlpJson | Format::RemoteWrite).then_some(Self::Shared(format))
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
    /// Each interval's points carry only exemplars of spans that ended in it (span-end order).
    pub(super) interval_exemplars: bool,
    /// Pull endpoints and the group of `outputs` each one is in.
    pub(super) scrapes: Vec<(Arc<Demand>, usize)>,
    pub(super) when_full: WhenFull,
}

impl Drop for MetricsExport {
    fn drop(&mut self) {
        // No more fresh values: scrapes serve the last export.
        for (d, _) in &self.scrapes {
            d.close();
        }
    }
}

impl MetricsExport {
    pub(super) fn export(&mut self, resources: &tsim_model::Resources, time_ns: u64, out: &mut Vec<u8>) {
        self.declared.gauges_at(&mut self.agg, time_ns);
        for g in 0..self.outputs.len() {
            self.send_group(g, resources, time_ns, out);
        }
        if self.interval_exemplars {
            self.agg.clear_exemplars();
        }
    }

    /// Encodes the cumulative values for one group of sinks and sends them.
    fn send_group(&mut self, g: usize, resources: &tsim_model::Resources, time_ns: u64, out: &mut Vec<u8>) {
        let points = self.agg.points() as u64;
        if points == 0 {
            return;
        }
        let (start_ns, agg) = (self.start_ns, &self.agg);
        let (encoding, targets) = &mut self.outputs[g];
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
            // Remote write counts samples: histograms flatten into buckets, sum and count.
            MetricsEncoding::Shared(Format::RemoteWrite) => {
                agg.encode_remote_write(resources, (time_ns / 1_000_000) as i64, out) as u64
            }
            // Not a metrics format: `MetricsEncoding::shared` never makes one.
            MetricsEncoding::Shared(_) => return,
        };
        let payload = Bytes::from(std::mem::take(out));
        send(targets, Batch { payload, items }, self.when_full);
    }

    /// Answers the scrapes that asked since the last call: their group gets the values as of
    /// now (counters and histograms of every span released so far; gauges as of the last
    /// interval export).
    pub(super) fn serve_scrapes(&mut self, resources: &tsim_model::Resources, out: &mut Vec<u8>) {
        for k in 0..self.scrapes.len() {
            if self.scrapes[k].0.take() {
                let g = self.scrapes[k].1;
                let t = self.recorded_until.max(self.last_export);
                self.send_group(g, resources, t, out);
            }
        }
    }

    /// Exports every boundary at or before `at`, on the interval grid (`--export-order
    /// trace`: a trace is counted whole when it starts, so a point may include spans still
    /// running at its time).
    pub(super) fn advance(&mut self, resources: &tsim_model::Resources, at: u64, out: &mut Vec<u8>) {
        self.advance_before(resources, at.saturating_add(1), out);
    }

    /// Counts every span of `trace` now (`--export-order trace`, or a trace past the reorder
    /// budget); the in-flight gauges learn of its spans separately, as it starts.
    pub(super) fn count_trace(&mut self, resource: u32, scenario: usize, trace: &tsim_model::TraceBuf<'_>) {
        self.agg.add(resource, trace);
        for i in 0..trace.spans.len() {
            self.declared.observe_span(&mut self.agg, scenario, resource, trace, i);
        }
        // The root covers its trace.
        if let Some(root) = trace.spans.first() {
            self.recorded_until = self.recorded_until.max(root.end_ns);
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
