//! The reorder stage of span-end export: items of the traces in flight (spans, log records,
//! a trace's completion) leave in the order of their time, once nothing earlier can come.
//!
//! Items wait as encoded pieces (each output's bytes of a span or record, written while the
//! trace was in cache) in a wheel of 64 slots of 67 ms of simulated time (4.3 s ahead);
//! later items wait in coarse buckets and move into the wheel when it reaches them. A slot
//! keeps its pieces' bytes together, and only a few slots are being filled at once, so both
//! writing and releasing stay in cache. The slot that holds the watermark is sorted once, by
//! (time, trace, item, output), and released item by item as the watermark (or a paced
//! run's clock) passes them; items that arrive for it later wait in a small heap beside it.
//! The order is total and the same whatever the threads, batch sizes or machine speed.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use tsim_model::num::idx;

/// log₂ of a slot's width in nanoseconds (2^26 ns ≈ 67 ms).
const SHIFT: u32 = 26;
/// log₂ of the wheel's slot count (64 slots: 2^32 ns ≈ 4.3 s ahead).
const LOG_SLOTS: u32 = 6;
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

/// Who an item is for: an output (by position), or the metrics.
pub(super) const METRICS: u16 = u16::MAX;

/// One waiting item: a piece of encoded bytes for one output, or a span for the metrics.
/// Ordered by (time, trace, item, output), which no two entries share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Entry {
    /// Its time: a span's end, a record's timestamp, a trace's last time (Unix ns).
    pub time: u64,
    /// The trace's place in generation order (ties between traces).
    pub seq: u64,
    /// Kind and index (ties within a trace).
    item: u32,
    /// The output it is for, or [`METRICS`].
    pub output: u16,
    /// The trace's resource.
    pub resource: u32,
    /// Where its piece is in the slot's bytes (for the metrics: the trace's place in the pool).
    off: u32,
    len: u32,
    /// Items the piece holds (spans, or log records).
    pub items: u32,
}

impl Entry {
    /// Its kind.
    #[cfg(test)]
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

    /// For the metrics: the trace's place in the pool.
    pub fn pool_slot(&self) -> u32 {
        self.off
    }
}

/// What an item to push is, besides its bytes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Item {
    pub time: u64,
    pub seq: u64,
    pub kind: Kind,
    pub index: u32,
    pub resource: u32,
    pub output: u16,
}

/// Entries and the bytes of their pieces.
#[derive(Debug, Default)]
struct Bucket {
    entries: Vec<Entry>,
    bytes: Vec<u8>,
}

impl Bucket {
    /// The room its vectors have reserved, in bytes.
    fn reserved(&self) -> usize {
        self.bytes.capacity() + self.entries.capacity() * size_of::<Entry>()
    }

    /// Empties it for reuse, keeping its room unless that is far more than it last needed
    /// (a burst, or a coarse bucket's share, would otherwise keep its memory for good).
    fn clear(&mut self) {
        const SLACK: usize = 64 << 10;
        let (used, entries) = (self.bytes.len(), self.entries.len());
        self.entries.clear();
        self.bytes.clear();
        if self.bytes.capacity() > 4 * used + SLACK {
            self.bytes.shrink_to(2 * used);
        }
        if self.entries.capacity() * size_of::<Entry>() > 4 * entries * size_of::<Entry>() + SLACK {
            self.entries.shrink_to(2 * entries);
        }
    }
}

/// Sorts entries by their full key: by time first (a cheap comparison of one number), then
/// the rare runs of equal times by the rest.
fn sort(v: &mut [Entry]) {
    v.sort_unstable_by_key(|e| e.time);
    let mut i = 0;
    while i < v.len() {
        let t = v[i].time;
        let j = i + v[i..].iter().take_while(|e| e.time == t).count();
        if j - i > 1 {
            v[i..j].sort_unstable();
        }
        i = j;
    }
}

/// Reads `bytes` once, in order, so that the pieces taken from it in time order (which jump
/// around it) come from the cache: a slot's pieces were written over seconds of generation.
fn warm(bytes: &[u8]) {
    let mut acc = 0u8;
    for line in bytes.chunks(64) {
        acc ^= line[0];
    }
    std::hint::black_box(acc);
}

/// Items waiting for their time, released in (time, trace, item, output) order.
#[derive(Debug)]
pub(super) struct Reorder {
    wheel: Vec<Bucket>,
    /// The next slot number (time >> SHIFT) to take, held by `wheel[base & MASK]`.
    base: u64,
    in_wheel: usize,
    /// Items beyond the wheel, by coarse bucket (slot >> LOG_SLOTS).
    far: BTreeMap<u64, Bucket>,
    /// The slot being released (`base - 1`), sorted, from `next` on; its bytes also hold
    /// the pieces of `late`.
    ready: Bucket,
    next: usize,
    /// Items that came for the slot being released after it was sorted.
    late: BinaryHeap<Reverse<Entry>>,
    len: usize,
    /// Bytes held by pieces and entries.
    held: usize,
    /// Of those, in the coarse buckets; and what those buckets have reserved (they grow by
    /// doubling and are freed when the wheel reaches them, so their slack is memory too).
    far_held: usize,
    far_reserved: usize,
}

impl Reorder {
    /// An empty stage whose first items are at or after `start_ns`.
    pub fn new(start_ns: u64) -> Self {
        Self {
            wheel: (0..SLOTS).map(|_| Bucket::default()).collect(),
            base: start_ns >> SHIFT,
            in_wheel: 0,
            far: BTreeMap::new(),
            ready: Bucket::default(),
            next: 0,
            late: BinaryHeap::new(),
            len: 0,
            held: 0,
            far_held: 0,
            far_reserved: 0,
        }
    }

    /// Items waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes held (pieces and entries; the coarse buckets' reserved room included).
    pub fn held(&self) -> usize {
        self.held - self.far_held + self.far_reserved
    }

    /// Adds an item whose piece `write` appends to the bytes it is given, returning how many
    /// items it holds (0: nothing to add; for the metrics, `pool_slot` is kept instead). Its
    /// time must not be before the last release's watermark (trace starts are monotonic, and
    /// no item of a trace is before its start).
    pub fn push(&mut self, it: Item, pool_slot: u32, write: impl FnOnce(&mut Vec<u8>) -> usize) {
        let slot = it.time >> SHIFT;
        // For the slot being released (or, after a release ahead of time, one before it).
        let current = slot < self.base;
        let far = !current && slot >= self.base + SLOTS as u64;
        let b = if current {
            &mut self.ready
        } else if !far {
            &mut self.wheel[(slot & MASK) as usize]
        } else {
            self.far.entry(slot >> LOG_SLOTS).or_default()
        };
        let reserved = b.reserved();
        let at = b.bytes.len();
        let items = write(&mut b.bytes);
        let metrics = it.output == METRICS;
        if metrics || items == 0 {
            b.bytes.truncate(at);
            if !metrics {
                return;
            }
        }
        let (off, len) = if metrics { (pool_slot, 0) } else { (idx(at), idx(b.bytes.len() - at)) };
        debug_assert!(it.index < 1 << KIND_SHIFT);
        let e = Entry {
            time: it.time,
            seq: it.seq,
            item: (it.kind as u32) << KIND_SHIFT | it.index,
            output: it.output,
            resource: it.resource,
            off,
            len,
            items: idx(items),
        };
        self.held += len as usize + size_of::<Entry>();
        self.len += 1;

        if current {
            self.late.push(Reverse(e));
        } else {
            b.entries.push(e);
            if slot < self.base + SLOTS as u64 {
                self.in_wheel += 1;
            }
        }
        if far {
            self.far_held += len as usize + size_of::<Entry>();
            self.far_reserved += b.reserved() - reserved;
        }
    }

    /// The next item in order (with its piece) if its time is at or before the watermark
    /// `limit` (every item at or before `limit` has been pushed), or `None`. `u64::MAX`
    /// releases everything, whatever the watermark.
    pub fn pop(&mut self, limit: u64) -> Option<(Entry, &[u8])> {
        loop {
            let head = self.ready.entries.get(self.next).copied();
            let late = self.late.peek().map(|r| r.0);
            let first = match (head, late) {
                (Some(h), Some(l)) => Some(h.min(l)),
                (h, l) => h.or(l),
            };
            if let Some(e) = first {
                if e.time > limit {
                    return None;
                }
                if late == Some(e) {
                    self.late.pop();
                } else {
                    self.next += 1;
                }
                self.len -= 1;
                self.held -= e.len as usize + size_of::<Entry>();
                let piece = match e.output {
                    METRICS => &[][..],
                    _ => &self.ready.bytes[e.off as usize..(e.off + e.len) as usize],
                };
                return Some((e, piece));
            }
            // The slot being released is done: take the next one once the watermark is in it.
            if self.len == 0 || (self.base << SHIFT) > limit {
                return None;
            }
            if self.in_wheel == 0 {
                // Jump over empty slots, to the first coarse bucket at most.
                let to = self.far.keys().next().map_or(u64::MAX, |c| c << LOG_SLOTS).min(limit >> SHIFT);
                if to > self.base {
                    self.base = to;
                    self.pull();
                    continue;
                }
            }
            self.ready.clear();
            self.next = 0;
            std::mem::swap(&mut self.ready, &mut self.wheel[(self.base & MASK) as usize]);
            self.in_wheel -= self.ready.entries.len();
            sort(&mut self.ready.entries);
            warm(&self.ready.bytes);
            self.base += 1;
            self.pull();
        }
    }

    /// Moves the coarse bucket the wheel just reached into it.
    fn pull(&mut self) {
        if self.base & MASK == 0
            && let Some(b) = self.far.remove(&(self.base >> LOG_SLOTS))
        {
            self.far_reserved -= b.reserved();
            self.far_held -= b.bytes.len() + b.entries.len() * size_of::<Entry>();
            self.in_wheel += b.entries.len();
            for mut e in b.entries {
                let slot = &mut self.wheel[((e.time >> SHIFT) & MASK) as usize];
                if e.output != METRICS {
                    let piece = &b.bytes[e.off as usize..(e.off + e.len) as usize];
                    e.off = idx(slot.bytes.len());
                    slot.bytes.extend_from_slice(piece);
                }
                slot.entries.push(e);
            }
        }
    }

    /// The earliest time before `until` at which an item may be released, if any (the start
    /// of the first slot that holds one, when it is not sorted yet): when a paced run needs
    /// to wake up.
    pub fn next_due_before(&self, until: u64) -> Option<u64> {
        let head = self.ready.entries.get(self.next).map(|e| e.time);
        let late = self.late.peek().map(|r| r.0.time);
        if let Some(t) = head.into_iter().chain(late).min() {
            return Some(t);
        }
        let last = (until >> SHIFT).min(self.base + SLOTS as u64 - 1);
        (self.base..=last)
            .find(|s| !self.wheel[(s & MASK) as usize].entries.is_empty())
            .map(|s| s << SHIFT)
            .or_else(|| self.far.keys().next().map(|c| (c << LOG_SLOTS) << SHIFT).filter(|t| *t < until))
    }

    /// Everything before this time has been released.
    pub fn released_through(&self) -> u64 {
        let head = self.ready.entries.get(self.next).map(|e| e.time);
        let late = self.late.peek().map(|r| r.0.time);
        match head.into_iter().chain(late).min() {
            Some(t) => t.saturating_sub(1),
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

    fn item(time: u64, seq: u64, kind: Kind, index: u32, output: u16) -> Item {
        Item { time, seq, kind, index, resource: 0, output }
    }

    /// Traces start in order; their items come at or after their start; releases follow a
    /// watermark at the next start. What comes out is every item, in key order, each with
    /// its own bytes.
    fn check(seed: u64, traces: u64, gap_ns: u64, spread_ns: u64) {
        let mut rng = Draw(seed);
        let start = 1_700_000_000_000_000_000u64;
        let mut r = Reorder::new(start);
        let mut all = Vec::new();
        let mut out = Vec::new();
        let mut at = start;
        let text = |time: u64, seq: u64, index: u32| format!("{time}/{seq}/{index}");
        let take = |r: &mut Reorder, limit: u64, out: &mut Vec<(u64, u64, u32, u16)>| {
            while let Some((e, piece)) = r.pop(limit) {
                assert!(limit == u64::MAX || e.time <= limit);
                if e.output != METRICS {
                    assert_eq!(piece, text(e.time, e.seq, e.index()).as_bytes());
                }
                out.push((e.time, e.seq, e.item, e.output));
            }
        };
        for seq in 0..traces {
            take(&mut r, at, &mut out);
            for k in 0..1 + rng.below(11) as u32 {
                let kind = [Kind::Log, Kind::Span, Kind::Trace][rng.below(3) as usize];
                let time = at + if rng.coin(0.2) { 0 } else { rng.below(spread_ns) };
                let output = if rng.coin(0.1) { METRICS } else { rng.below(3) as u16 };
                all.push((time, seq, (kind as u32) << KIND_SHIFT | k, output));
                r.push(item(time, seq, kind, k, output), 7, |b| {
                    b.extend_from_slice(text(time, seq, k).as_bytes());
                    1
                });
            }
            at += rng.below(gap_ns);
        }
        take(&mut r, u64::MAX, &mut out);
        assert_eq!((r.len(), r.held(), r.far_held, r.far_reserved), (0, 0, 0, 0));
        all.sort();
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
        let one = |b: &mut Vec<u8>| {
            b.push(b'x');
            1
        };
        r.push(item(t0 + 5_000_000, 0, Kind::Span, 0, 0), 0, one);
        r.push(item(t0 + 10_000_000_000, 0, Kind::Span, 1, 0), 0, one);
        r.push(item(t0 + 6_000_000, 0, Kind::Log, 0, 1), 0, |_| 0); // left out by its output
        assert_eq!(r.len(), 2);
        assert!(r.pop(t0 + 4_000_000).is_none());
        // The slot is sorted now: the wake-up is the item's own time.
        assert_eq!(r.next_due_before(u64::MAX), Some(t0 + 5_000_000));
        assert!(r.pop(t0 + 5_000_000 - 1).is_none());
        assert_eq!(r.pop(t0 + 5_000_000).map(|(e, _)| e.index()), Some(0));
        assert!(r.released_through() >= t0 + 5_000_000);
        assert!(r.pop(t0 + 9_000_000_000).is_none());
        assert!(r.next_due_before(t0 + 9_000_000_000).is_none());
        // An item at the watermark itself comes after those released before it.
        r.push(item(t0 + 9_000_000_000, 1, Kind::Log, 0, 0), 0, one);
        assert_eq!(r.pop(u64::MAX).map(|(e, _)| e.kind()), Some(Kind::Log));
        assert_eq!(r.pop(u64::MAX).map(|(e, _)| e.index()), Some(1));
    }
}
