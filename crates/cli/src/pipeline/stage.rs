//! Span-end export: the traces in flight, their items waiting in the reorder stage, and
//! what a released item does (an output's batch, a metric observation, a whole-trace view).

use std::collections::VecDeque;

use tsim_model::{Items, Pick, Resources, TraceBuf};

use super::export::MetricsExport;
use super::generate::Output;
use super::reorder::{Entry, Kind, Reorder};

/// A trace whose items are not all released yet.
#[derive(Default)]
struct InFlight<'e> {
    buf: TraceBuf<'e>,
    resource: u32,
    scenario: usize,
    /// Its spans feed the metrics.
    metrics: bool,
    /// Generation order; also tells a waiting entry from a stale one after an eviction.
    seq: u64,
    pending: u32,
    /// Approximate memory it holds.
    bytes: usize,
    /// Key (time, kind, index) of the last item released (eviction resumes after it).
    last: Option<(u64, Kind, u32)>,
}

/// What the stage has done that a budget forced (reported in the summary).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Forced {
    /// Traces exported whole before their end: the reorder budget was full.
    pub traces: u64,
    /// Their items released then, ahead of their time.
    pub items: u64,
}

/// Which item kinds a run releases one at a time.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Wants {
    pub spans: bool,
    pub logs: bool,
    pub traces: bool,
}

/// The traces in flight and their items in time order.
pub(super) struct Stage<'e> {
    reorder: Reorder,
    pool: Vec<InFlight<'e>>,
    free: Vec<u32>,
    /// (seq, slot) in generation order, for evicting the oldest.
    order: VecDeque<(u64, u32)>,
    next_seq: u64,
    held: usize,
    budget: usize,
    wants: Wants,
    pub forced: Forced,
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
    pub fn new(start_ns: u64, budget: usize, wants: Wants) -> Self {
        Self {
            reorder: Reorder::new(start_ns),
            pool: Vec::new(),
            free: Vec::new(),
            order: VecDeque::new(),
            next_seq: 0,
            held: 0,
            budget,
            wants,
            forced: Forced::default(),
            latest: 0,
        }
    }

    /// The trace generated into `slot`.
    pub fn trace(&self, slot: u32) -> &TraceBuf<'e> {
        &self.pool[slot as usize].buf
    }

    /// A buffer to generate the next trace into; hand it to [`Stage::admit`].
    pub fn slot(&mut self) -> (u32, &mut TraceBuf<'e>) {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.pool.push(InFlight::default());
                tsim_model::num::idx(self.pool.len() - 1)
            }
        };
        (slot, &mut self.pool[slot as usize].buf)
    }

    /// Queues the items of the trace generated into `slot`; over the budget, exports the
    /// oldest traces whole.
    pub fn admit(&mut self, slot: u32, resource: u32, scenario: usize, metrics: bool, t: &mut Targets<'_, '_>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let f = &mut self.pool[slot as usize];
        let b = &f.buf;
        let mut pending = 0u32;
        let mut last_time = b.spans.first().map_or(0, |s| s.start_ns);
        if self.wants.spans || metrics {
            for (i, s) in b.spans.iter().enumerate() {
                self.reorder.push(Entry::new(s.end_ns, seq, Kind::Span, tsim_model::num::idx(i), slot));
                last_time = last_time.max(s.end_ns);
            }
            pending += tsim_model::num::idx(b.spans.len());
        }
        if self.wants.logs {
            for (i, l) in b.logs.iter().enumerate() {
                self.reorder.push(Entry::new(l.time_ns, seq, Kind::Log, tsim_model::num::idx(i), slot));
                last_time = last_time.max(l.time_ns);
            }
            pending += tsim_model::num::idx(b.logs.len());
        }
        if self.wants.traces {
            let end = b.spans.iter().map(|s| s.end_ns).chain(b.logs.iter().map(|l| l.time_ns)).max().unwrap_or(0);
            self.reorder.push(Entry::new(end.max(last_time), seq, Kind::Trace, 0, slot));
            pending += 1;
        }
        if pending == 0 {
            self.free.push(slot);
            return;
        }
        self.latest = self.latest.max(last_time);
        let bytes = size_of::<InFlight>()
            + b.spans.len() * size_of::<tsim_model::Span>()
            + b.attrs.len() * size_of::<tsim_model::KeyValue>()
            + b.events.len() * size_of::<tsim_model::Event>()
            + b.logs.len() * size_of::<tsim_model::LogRecord>()
            + b.text.len()
            + pending as usize * size_of::<Entry>();
        *f = InFlight { buf: std::mem::take(&mut f.buf), resource, scenario, metrics, seq, pending, bytes, last: None };
        self.held += bytes;
        self.order.push_back((seq, slot));
        while self.held > self.budget && self.evict_oldest(t) {}
    }

    /// Items waiting.
    pub fn waiting(&self) -> usize {
        self.reorder.len()
    }

    /// Releases every item whose time is at or before `limit` (nothing earlier can come).
    /// Returns the time through which everything is out.
    pub fn release(&mut self, limit: u64, t: &mut Targets<'_, '_>) -> u64 {
        while let Some(e) = self.reorder.pop(limit) {
            self.deliver(e, t);
        }
        let through = if self.reorder.len() == 0 { limit } else { limit.min(self.reorder.released_through()) };
        for o in t.outputs.iter_mut() {
            o.flush_due(through, t.resources, t.out);
        }
        if let Some(m) = t.metrics.as_mut()
            && limit != u64::MAX
        {
            m.advance_before(t.resources, through, t.out);
        }
        through
    }

    /// When a paced run should next wake up to release an item, if before `until`.
    pub fn next_due_before(&self, until: u64) -> Option<u64> {
        self.reorder.next_due_before(until)
    }

    fn deliver(&mut self, e: Entry, t: &mut Targets<'_, '_>) {
        let f = &mut self.pool[e.slot as usize];
        if f.seq != e.seq || f.pending == 0 {
            return; // its trace was exported whole (evicted)
        }
        f.last = Some((e.time, e.kind(), e.index()));
        emit(f, e.kind(), e.index(), e.time, t);
        f.pending -= 1;
        if f.pending == 0 {
            self.held -= f.bytes;
            self.free.push(e.slot);
        }
    }

    /// Exports the oldest trace in flight whole, now: its remaining items in their order.
    fn evict_oldest(&mut self, t: &mut Targets<'_, '_>) -> bool {
        while let Some((seq, slot)) = self.order.pop_front() {
            let f = &mut self.pool[slot as usize];
            if f.seq != seq || f.pending == 0 {
                continue;
            }
            let mut items: Vec<(u64, Kind, u32)> = Vec::new();
            let b = &f.buf;
            if self.wants.spans || f.metrics {
                items.extend(b.spans.iter().enumerate().map(|(i, s)| (s.end_ns, Kind::Span, tsim_model::num::idx(i))));
            }
            if self.wants.logs {
                items.extend(b.logs.iter().enumerate().map(|(i, l)| (l.time_ns, Kind::Log, tsim_model::num::idx(i))));
            }
            if self.wants.traces {
                items.push((u64::MAX, Kind::Trace, 0));
            }
            items.sort_unstable_by_key(|(time, kind, i)| (*time, *kind as u8, *i));
            let after = f.last;
            let mut n = 0;
            for (time, kind, i) in items {
                if after.is_some_and(|l| (l.0, l.1 as u8, l.2) >= (time, kind as u8, i)) {
                    continue;
                }
                emit(f, kind, i, time, t);
                n += 1;
            }
            self.forced.traces += 1;
            self.forced.items += n;
            f.pending = 0;
            self.held -= f.bytes;
            self.free.push(slot);
            return true;
        }
        false
    }

    /// Releases everything still waiting, in order.
    pub fn drain(&mut self, t: &mut Targets<'_, '_>) {
        self.release(u64::MAX, t);
    }
}

/// Hands one item of trace `f` to the outputs that take its kind, and a span to the metrics.
fn emit(f: &InFlight<'_>, kind: Kind, index: u32, time: u64, t: &mut Targets<'_, '_>) {
    let items = match kind {
        Kind::Span => {
            if f.metrics
                && let Some(m) = t.metrics.as_mut()
            {
                m.observe_span(t.resources, f.resource, f.scenario, &f.buf, index as usize, t.out);
            }
            Items::Spans
        }
        Kind::Log => Items::Logs,
        Kind::Trace => Items::Traces,
    };
    for o in t.outputs.iter_mut() {
        if o.items == items {
            o.add_item(t.resources, f.resource, &f.buf, Pick::One(index), time, t.out);
        }
    }
}
