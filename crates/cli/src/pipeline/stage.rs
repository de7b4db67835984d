//! Span-end export: each trace's spans and records, encoded by every output as the trace is
//! generated, wait in the reorder stage and leave in time order for their output's batch;
//! spans also reach the metrics as they end.

use tsim_model::num::idx;
use tsim_model::{Items, Resources, TraceBuf};

use super::export::MetricsExport;
use super::generate::Output;
use super::reorder::{Item, Kind, METRICS, Reorder};

/// A trace kept for the metrics until all its spans have ended.
#[derive(Default)]
struct Kept<'e> {
    buf: TraceBuf<'e>,
    resource: u32,
    scenario: usize,
    /// Spans not yet counted.
    pending: usize,
    bytes: usize,
}

/// The traces in flight, as pieces waiting for their time.
pub(super) struct Stage<'e> {
    reorder: Reorder,
    /// Traces whose spans feed the metrics, until their last span ends.
    kept: Vec<Kept<'e>>,
    free: Vec<u32>,
    /// Memory of the pool's buffers, in use or free.
    kept_bytes: usize,
    next_seq: u64,
    /// The buffer traces are generated into.
    scratch: TraceBuf<'e>,
    budget: usize,
    /// Items (per output, and metric observations) sent at their trace's start because the
    /// budget was full.
    pub ahead: u64,
    /// The latest time of any item admitted.
    pub latest: u64,
}

/// Where released items go.
pub(super) struct Targets<'a, 'o> {
    pub resources: &'a Resources,
    pub outputs: &'o mut [Output],
    pub metrics: &'o mut Option<MetricsExport>,
    pub out: &'o mut Vec<u8>,
}

impl<'e> Stage<'e> {
    /// An empty stage for a run starting at `start_ns`, holding at most about `budget` bytes.
    pub fn new(start_ns: u64, budget: usize) -> Self {
        Self {
            reorder: Reorder::new(start_ns),
            kept: Vec::new(),
            free: Vec::new(),
            kept_bytes: 0,
            next_seq: 0,
            scratch: TraceBuf::default(),
            budget,
            ahead: 0,
            latest: 0,
        }
    }

    /// The buffer to generate the next trace into; then call [`Stage::admit`].
    pub fn buffer(&mut self) -> &mut TraceBuf<'e> {
        &mut self.scratch
    }

    /// Takes in the trace just generated into [`Stage::buffer`]: each output encodes its
    /// items now, while the trace is in cache, and they wait for their time; with
    /// `feeds_metrics`, the trace is kept until its spans have been counted. While the
    /// traces in flight hold more than the budget, a new trace leaves whole at once instead
    /// (counted).
    pub fn admit(&mut self, resource: u32, scenario: usize, feeds_metrics: bool, t: &mut Targets<'_, '_>) {
        if self.reorder.held() + self.kept_bytes > self.budget {
            self.whole(resource, scenario, feeds_metrics, t);
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let Self { reorder, scratch: b, .. } = self;
        let end = b.spans.iter().map(|s| s.end_ns).chain(b.logs.iter().map(|l| l.time_ns)).max().unwrap_or(0);
        for (k, o) in t.outputs.iter_mut().enumerate() {
            let output = u16::try_from(k).unwrap_or(METRICS - 1);
            let item = |time, kind, index| Item { time, seq, kind, index, resource, output };
            match o.items {
                Items::Spans => {
                    for (i, s) in b.spans.iter().enumerate() {
                        reorder.push(item(s.end_ns, Kind::Span, idx(i)), 0, |out| {
                            o.encoder.encode_item(t.resources, resource, b, idx(i), out)
                        });
                    }
                }
                Items::Logs => {
                    for (i, l) in b.logs.iter().enumerate() {
                        reorder.push(item(l.time_ns, Kind::Log, idx(i)), 0, |out| {
                            o.encoder.encode_item(t.resources, resource, b, idx(i), out)
                        });
                    }
                }
                Items::Traces => {
                    reorder.push(item(end, Kind::Trace, 0), 0, |out| {
                        o.encoder.encode_item(t.resources, resource, b, 0, out)
                    });
                }
            }
        }
        self.latest = self.latest.max(end);
        if feeds_metrics && !self.scratch.spans.is_empty() {
            let slot = match self.free.pop() {
                Some(s) => s,
                None => {
                    self.kept.push(Kept::default());
                    idx(self.kept.len() - 1)
                }
            };
            for (i, s) in self.scratch.spans.iter().enumerate() {
                let it = Item { time: s.end_ns, seq, kind: Kind::Span, index: idx(i), resource, output: METRICS };
                self.reorder.push(it, slot, |_| 0);
            }
            let k = &mut self.kept[slot as usize];
            // The slot's old buffer, with its capacity, becomes the next scratch.
            std::mem::swap(&mut k.buf, &mut self.scratch);
            let b = &k.buf;
            // What the pool's buffers hold in memory, free or not (their capacity: they are
            // reused): this slot's old buffer left with the scratch, its new one came in.
            self.kept_bytes -= k.bytes;
            k.bytes = size_of::<Kept>()
                + b.spans.capacity() * size_of::<tsim_model::Span>()
                + b.attrs.capacity() * size_of::<tsim_model::KeyValue>()
                + b.events.capacity() * size_of::<tsim_model::Event>()
                + b.logs.capacity() * size_of::<tsim_model::LogRecord>()
                + b.text.capacity();
            (k.resource, k.scenario, k.pending) = (resource, scenario, b.spans.len());
            self.kept_bytes += k.bytes;
        }
    }

    /// Over the budget: the trace in [`Stage::buffer`] leaves whole, now (as `--export-order
    /// trace` would send it; its metrics count it as it starts), and its items are counted.
    fn whole(&mut self, resource: u32, scenario: usize, feeds_metrics: bool, t: &mut Targets<'_, '_>) {
        let b = &self.scratch;
        let at = b.spans.first().map_or(0, |s| s.start_ns);
        let mut piece = Vec::new();
        for o in t.outputs.iter_mut() {
            let n = match o.items {
                Items::Spans => b.spans.len(),
                Items::Logs => b.logs.len(),
                Items::Traces => 1,
            };
            for i in 0..n {
                piece.clear();
                let items = o.encoder.encode_item(t.resources, resource, b, idx(i), &mut piece);
                if items > 0 {
                    o.add_piece(t.resources, resource, &piece, items, at, t.out);
                    self.ahead += 1;
                }
            }
        }
        if feeds_metrics && let Some(m) = t.metrics.as_mut() {
            m.count_trace(resource, scenario, b);
            self.ahead += b.spans.len() as u64;
        }
    }

    /// Items waiting.
    pub fn waiting(&self) -> usize {
        self.reorder.len()
    }

    /// Releases the next item whose slot is complete at `limit`; returns its time.
    fn release_one(&mut self, limit: u64, t: &mut Targets<'_, '_>) -> Option<u64> {
        let (e, piece) = self.reorder.pop(limit)?;
        if e.output == METRICS {
            let k = &mut self.kept[e.pool_slot() as usize];
            if let Some(m) = t.metrics.as_mut() {
                m.observe_span(t.resources, k.resource, k.scenario, &k.buf, e.index() as usize, t.out);
            }
            k.pending -= 1;
            if k.pending == 0 {
                self.free.push(e.pool_slot());
            }
        } else if let Some(o) = t.outputs.get_mut(e.output as usize) {
            o.add_piece(t.resources, e.resource, piece, e.items as usize, e.time, t.out);
        }
        Some(e.time)
    }

    /// Releases every item whose time is at or before `limit` (nothing earlier can come),
    /// then what that completes: batches whose time is up, metric exports it passed.
    pub fn release(&mut self, limit: u64, t: &mut Targets<'_, '_>) {
        while self.release_one(limit, t).is_some() {}
        let through = if self.reorder.len() == 0 { limit } else { limit.min(self.reorder.released_through()) };
        for o in t.outputs.iter_mut() {
            o.flush_due(through, t.resources, t.out);
        }
        if let Some(m) = t.metrics.as_mut()
            && limit != u64::MAX
        {
            m.advance_before(t.resources, through, t.out);
        }
    }

    /// When a paced run should next wake up to release an item, if before `until`.
    pub fn next_due_before(&self, until: u64) -> Option<u64> {
        self.reorder.next_due_before(until)
    }

    /// Releases everything still waiting, in order.
    pub fn drain(&mut self, t: &mut Targets<'_, '_>) {
        self.release(u64::MAX, t);
    }
}
