//! The reorder stage of span-end export: items of the traces in flight (spans, log records,
//! a trace's completion) leave in the order of their time, once nothing earlier can come.
//!
//! Items wait in a timing wheel of fixed-width slots (about 262 µs of simulated time each)
//! that covers the next 4.3 s; later items wait in coarse buckets and move into the wheel
//! when it reaches them. A slot is sorted when it is released, by (time, trace, item), so
//! the order is total and the same whatever the threads, batch sizes or machine speed.
//! Pushing is O(1); releasing costs a sort of one slot.

use std::collections::BTreeMap;

/// log₂ of a slot's width in nanoseconds (2^18 ns ≈ 262 µs).
const SHIFT: u32 = 18;
/// log₂ of the wheel's slot count (16384 slots: 2^32 ns ≈ 4.3 s ahead).
const LOG_SLOTS: u32 = 14;
const SLOTS: usize = 1 << LOG_SLOTS;
const MASK: u64 = (SLOTS as u64) - 1;

/// Bits of [`Entry::item`] that hold the index; the kind is above them.
const KIND_SHIFT: u32 = 30;

/// What an item is. At equal times within a trace: log records, then spans, then the
/// trace's completion (a record written at a span's end is written before the span ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A log record (index into the trace's records).
    Log = 0,
    /// A span (index into the trace's spans).
    Span = 1,
    /// The trace is complete (for whole-trace views).
    Trace = 2,
}

/// One waiting item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Entry {
    /// Its time: a span's end, a record's timestamp, a trace's last time (Unix ns).
    pub time: u64,
    /// The trace's place in generation order (ties between traces).
    pub seq: u64,
    /// Kind and index (ties within a trace).
    item: u32,
    /// Where the trace waits.
    pub slot: u32,
}

impl Entry {
    /// An item of the trace generated `seq`-th, waiting in `slot`.
    pub fn new(time: u64, seq: u64, kind: Kind, index: u32, slot: u32) -> Self {
        debug_assert!(index < 1 << KIND_SHIFT);
        Self { time, seq, item: (kind as u32) << KIND_SHIFT | index, slot }
    }

    /// What it is.
    pub fn kind(&self) -> Kind {
        match self.item >> KIND_SHIFT {
            0 => Kind::Log,
            1 => Kind::Span,
            _ => Kind::Trace,
        }
    }

    /// Its index among the trace's spans or records.
    pub fn index(&self) -> u32 {
        self.item & ((1 << KIND_SHIFT) - 1)
    }

    fn key(&self) -> (u64, u64, u32) {
        (self.time, self.seq, self.item)
    }
}

/// Items waiting for their time, released in (time, trace, item) order.
#[derive(Debug)]
pub(super) struct Reorder {
    wheel: Vec<Vec<Entry>>,
    /// Slot number (time >> SHIFT) held by `wheel[base & MASK]`.
    base: u64,
    in_wheel: usize,
    /// Items beyond the wheel, by coarse bucket (slot >> LOG_SLOTS).
    far: BTreeMap<u64, Vec<Entry>>,
    /// The slot being released, sorted, from `next` on.
    ready: Vec<Entry>,
    next: usize,
    len: usize,
}

impl Reorder {
    /// An empty stage whose first items are at or after `start_ns`.
    pub fn new(start_ns: u64) -> Self {
        Self {
            wheel: (0..SLOTS).map(|_| Vec::new()).collect(),
            base: start_ns >> SHIFT,
            in_wheel: 0,
            far: BTreeMap::new(),
            ready: Vec::new(),
            next: 0,
            len: 0,
        }
    }

    /// Items waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Adds an item. Its time must not be before the watermark of the last release (trace
    /// starts are monotonic, and no item of a trace is before its start).
    pub fn push(&mut self, e: Entry) {
        self.len += 1;
        // An item of the slot being released (or of one before it) goes into the next slot
        // to be released: every item released so far is at or before its time.
        let slot = (e.time >> SHIFT).max(self.base);
        if slot < self.base + SLOTS as u64 {
            self.wheel[(slot & MASK) as usize].push(e);
            self.in_wheel += 1;
        } else {
            self.far.entry(slot >> LOG_SLOTS).or_default().push(e);
        }
    }

    /// The next item in order whose slot is complete at watermark `limit` (every item at or
    /// before `limit` has been pushed), or `None`. `u64::MAX` releases everything.
    pub fn pop(&mut self, limit: u64) -> Option<Entry> {
        // Slots before this one are complete.
        let complete = if limit == u64::MAX { u64::MAX } else { (limit + 1) >> SHIFT };
        loop {
            if let Some(e) = self.ready.get(self.next).copied() {
                self.next += 1;
                self.len -= 1;
                return Some(e);
            }
            if self.len == 0 || self.base >= complete {
                return None;
            }
            if self.in_wheel == 0 {
                // Jump over empty slots, to the first coarse bucket at most.
                let to = self.far.keys().next().map_or(complete, |c| (c << LOG_SLOTS).min(complete));
                if to > self.base {
                    self.base = to;
                    self.pull();
                    continue;
                }
            }
            self.ready.clear();
            self.next = 0;
            std::mem::swap(&mut self.ready, &mut self.wheel[(self.base & MASK) as usize]);
            self.in_wheel -= self.ready.len();
            self.ready.sort_unstable_by_key(Entry::key);
            self.base += 1;
            self.pull();
        }
    }

    /// Moves the coarse bucket the wheel just reached into it.
    fn pull(&mut self) {
        if self.base & MASK == 0
            && let Some(items) = self.far.remove(&(self.base >> LOG_SLOTS))
        {
            self.in_wheel += items.len();
            for e in items {
                self.wheel[((e.time >> SHIFT) & MASK) as usize].push(e);
            }
        }
    }

    /// The earliest time before `until` at which an item may be released (the end of the
    /// first slot that holds one), if any: when a paced run needs to wake up.
    pub fn next_due_before(&self, until: u64) -> Option<u64> {
        if let Some(e) = self.ready.get(self.next) {
            return Some(e.time);
        }
        let last = (until >> SHIFT).min(self.base + SLOTS as u64 - 1);
        (self.base..=last)
            .find(|s| !self.wheel[(s & MASK) as usize].is_empty())
            .map(|s| ((s + 1) << SHIFT) - 1)
            .or_else(|| self.far.keys().next().map(|c| (c << LOG_SLOTS) << SHIFT).filter(|t| *t < until))
    }

    /// Everything before this time has been released.
    pub fn released_through(&self) -> u64 {
        match self.ready.get(self.next) {
            Some(e) => e.time.saturating_sub(1),
            None => (self.base << SHIFT).saturating_sub(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tsim_engine::rng::splitmix64;

    /// A small seeded generator: uniform below `n`, and a coin of probability `p`.
    struct Draw(u64);
    impl Draw {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = splitmix64(self.0);
            if n == 0 { 0 } else { self.0 % n }
        }
        fn coin(&mut self, p: f64) -> bool {
            (self.below(1 << 20) as f64) < p * f64::from(1u32 << 20)
        }
    }

    /// Traces start in order; their items come at or after their start; releases follow a
    /// watermark at the next start. What comes out is every item, in key order.
    fn check(seed: u64, traces: u64, gap_ns: u64, spread_ns: u64) {
        let mut rng = Draw(seed);
        let start = 1_700_000_000_000_000_000u64;
        let mut r = Reorder::new(start);
        let mut all = Vec::new();
        let mut out = Vec::new();
        let mut at = start;
        for seq in 0..traces {
            while let Some(e) = r.pop(at) {
                assert!(e.time <= at);
                out.push(e);
            }
            for k in 0..1 + rng.below(11) as u32 {
                let kind = [Kind::Log, Kind::Span, Kind::Trace][rng.below(3) as usize];
                let time = at + if rng.coin(0.2) { 0 } else { rng.below(spread_ns) };
                let e = Entry::new(time, seq, kind, k, (seq % 7) as u32);
                all.push(e);
                r.push(e);
            }
            at += rng.below(gap_ns);
        }
        while let Some(e) = r.pop(u64::MAX) {
            out.push(e);
        }
        assert_eq!(r.len(), 0);
        all.sort_by_key(Entry::key);
        assert_eq!(out.len(), all.len());
        assert!(out == all, "released out of order");
    }

    #[test]
    fn releases_in_key_order() {
        check(1, 20_000, 50_000, 3_000_000); // dense: many per slot
        check(2, 5_000, 2_000_000, 600_000_000_000); // minutes-long traces: the coarse buckets
        check(3, 2_000, 40_000_000_000, 10_000_000); // sparse: long jumps
        check(4, 3_000, 0, 9_000_000_000); // one instant: all behind one watermark
    }

    #[test]
    fn waits_for_the_watermark_and_says_when_to_wake() {
        let t0 = 1_000u64 << SHIFT;
        let mut r = Reorder::new(t0);
        r.push(Entry::new(t0 + 5_000_000, 0, Kind::Span, 0, 0));
        r.push(Entry::new(t0 + 10_000_000_000, 0, Kind::Span, 1, 0));
        assert_eq!(r.pop(t0 + 4_000_000), None);
        let due = r.next_due_before(u64::MAX).unwrap();
        assert!(due >= t0 + 5_000_000 && due < t0 + 5_000_000 + (1 << SHIFT));
        assert_eq!(r.pop(due).map(|e| e.index()), Some(0));
        assert!(r.released_through() >= t0 + 5_000_000);
        assert_eq!(r.pop(t0 + 9_000_000_000), None);
        assert!(r.next_due_before(t0 + 9_000_000_000).is_none());
        // An item at the watermark itself comes after those released before it.
        r.push(Entry::new(t0 + 9_000_000_000, 1, Kind::Log, 0, 0));
        assert_eq!(r.pop(u64::MAX).map(|e| e.kind()), Some(Kind::Log));
        assert_eq!(r.pop(u64::MAX).map(|e| e.index()), Some(1));
    }
}
