//! What the join compares of a span, a log record and a metric point, read alike from both
//! sides: from the rows of a store (what arrived) or from the rows the store's own conversion
//! makes of the run generated again (expected). Strings become 64-bit digests; the names a
//! report shows (attribute keys, span and event names) are kept in a [`Dict`]. A span's
//! events and links and a point's exemplars are kept compact: a (name or reference, content
//! digest) pair each.

use super::spill::{Dec, Enc};
use crate::scan::{Batch, Column};
use crate::stats::{FastMap, fast_map};

/// aHash with fixed seeds: the same digests in every thread.
fn seeds() -> &'static ahash::RandomState {
    static SEEDS: std::sync::OnceLock<ahash::RandomState> = std::sync::OnceLock::new();
    SEEDS.get_or_init(|| ahash::RandomState::with_seeds(5, 6, 7, 8))
}

/// A 64-bit digest of bytes.
pub fn hash(b: &[u8]) -> u64 {
    seeds().hash_one(b)
}

/// An id's hex digits as a number (up to 32 digits), 0 for an empty id.
pub fn id_of_hex(hex: &[u8]) -> u128 {
    hex.iter().take(32).fold(0u128, |h, c| h << 4 | u128::from((*c as char).to_digit(16).unwrap_or(0)))
}

/// An id's bytes as a number (up to 16 bytes): the number of its hex form.
pub fn id_of_bytes(id: &[u8]) -> u128 {
    id.iter().take(16).fold(0u128, |h, b| h << 8 | u128::from(*b))
}

/// The strings behind digests, for the report.
#[derive(Default)]
pub struct Dict(FastMap<u64, String>);

impl Dict {
    /// The digest of `b`, remembering its text.
    pub fn id(&mut self, b: &[u8]) -> u64 {
        let h = hash(b);
        self.0.entry(h).or_insert_with(|| String::from_utf8_lossy(b).into_owned());
        h
    }

    /// The text of a digest.
    pub fn name(&self, h: u64) -> &str {
        self.0.get(&h).map_or("", String::as_str)
    }

    /// Adds another dictionary's strings.
    pub fn merge(&mut self, o: Dict) {
        for (k, v) in o.0 {
            self.0.entry(k).or_insert(v);
        }
    }
}

/// A map's entries as (key digest, value digest), sorted by key.
pub type Entries = Vec<(u64, u64)>;

/// One row's columns, by their place in the list the row was read with.
pub trait Fields {
    /// The row's time (a span's start, a record's time, a point's time).
    fn time(&self) -> i64;
    /// An id column.
    fn id(&self, k: usize) -> u128;
    /// A string column's digest (that of "" when null).
    fn text(&self, k: usize) -> u64;
    /// A string column's digest, its text kept in `d`.
    fn name(&self, k: usize, d: &mut Dict) -> u64;
    /// An integer column.
    fn int(&self, k: usize) -> Option<i64>;
    /// A float column.
    fn float(&self, k: usize) -> Option<f64>;
    /// A map column's entries, keys kept in `d`.
    fn entries(&mut self, k: usize, d: &mut Dict) -> Entries;
    /// A list column of integers (timestamps).
    fn ints(&mut self, k: usize) -> Vec<i64>;
    /// A list column of floats.
    fn floats(&mut self, k: usize) -> Vec<f64>;
    /// A list column of strings, as digests (their texts kept in `d` when given).
    fn texts(&mut self, k: usize, d: Option<&mut Dict>) -> Vec<u64>;
    /// A list column of maps, each as its sorted entries (keys as digests, not kept).
    fn maps(&mut self, k: usize) -> Vec<Entries>;
}

/// Row `.1` of a batch read from a store.
pub struct At<'a>(pub &'a Batch, pub usize);

impl Fields for At<'_> {
    fn time(&self) -> i64 {
        self.0.time(self.1)
    }
    fn id(&self, k: usize) -> u128 {
        id_of_hex(self.0.cols[k].bytes(self.1).unwrap_or(b""))
    }
    fn text(&self, k: usize) -> u64 {
        hash(self.0.cols[k].bytes(self.1).unwrap_or(b""))
    }
    fn name(&self, k: usize, d: &mut Dict) -> u64 {
        d.id(self.0.cols[k].bytes(self.1).unwrap_or(b""))
    }
    fn int(&self, k: usize) -> Option<i64> {
        self.0.cols[k].int(self.1)
    }
    fn float(&self, k: usize) -> Option<f64> {
        self.0.cols[k].float(self.1)
    }
    fn entries(&mut self, k: usize, d: &mut Dict) -> Entries {
        let Column::Map { starts, keys, values } = &self.0.cols[k] else { return Vec::new() };
        let i = self.1;
        let mut v: Entries =
            (starts[i]..starts[i + 1]).map(|e| (d.id(keys[e].data()), hash(values[e].data()))).collect();
        v.sort_unstable();
        v
    }
    fn ints(&mut self, k: usize) -> Vec<i64> {
        match self.0.cols[k].list(self.1) {
            Some((Column::Int(v), r)) => v[r].iter().map(|x| x.unwrap_or(0)).collect(),
            _ => Vec::new(),
        }
    }
    fn floats(&mut self, k: usize) -> Vec<f64> {
        match self.0.cols[k].list(self.1) {
            Some((Column::Float(v), r)) => v[r].iter().map(|x| x.unwrap_or(f64::NAN)).collect(),
            _ => Vec::new(),
        }
    }
    fn texts(&mut self, k: usize, mut d: Option<&mut Dict>) -> Vec<u64> {
        let Some((Column::Str { values, .. }, r)) = self.0.cols[k].list(self.1) else { return Vec::new() };
        values[r]
            .iter()
            .map(|b| match d.as_deref_mut() {
                Some(d) => d.id(b.data()),
                None => hash(b.data()),
            })
            .collect()
    }
    fn maps(&mut self, k: usize) -> Vec<Entries> {
        let Some((Column::Map { starts, keys, values }, r)) = self.0.cols[k].list(self.1) else { return Vec::new() };
        r.map(|m| {
            let mut v: Entries =
                (starts[m]..starts[m + 1]).map(|e| (hash(keys[e].data()), hash(values[e].data()))).collect();
            v.sort_unstable();
            v
        })
        .collect()
    }
}

/// The digest of some digests and entries, hashed as they come (no buffer).
fn digest(parts: &[u64], entries: &[(u64, u64)]) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = seeds().build_hasher();
    for p in parts {
        h.write_u64(*p);
    }
    for (k, v) in entries {
        h.write_u64(*k);
        h.write_u64(*v);
    }
    h.finish()
}

/// A resource map column read once per distinct resource: its digest, its entries kept in
/// `resources` (items carry the digest; the entries are looked up when two differ).
fn resource_of(f: &mut impl Fields, k: usize, d: &mut Dict, resources: &mut Resources) -> u64 {
    let e = f.entries(k, d);
    let h = digest(&[], &e);
    resources.entry(h).or_insert(e);
    h
}

/// Compares two sorted entry lists, calling `each(key, how)` per difference; whether they
/// differ.
pub fn diff_entries(want: &[(u64, u64)], got: &[(u64, u64)], mut each: impl FnMut(u64, Change)) -> bool {
    let (mut i, mut j, mut differ) = (0, 0, false);
    while i < want.len() || j < got.len() {
        match (want.get(i), got.get(j)) {
            (Some(a), Some(b)) if a.0 == b.0 => {
                if a.1 != b.1 {
                    each(a.0, Change::Changed);
                    differ = true;
                }
                i += 1;
                j += 1;
            }
            (Some(a), b) if b.is_none_or(|b| a.0 < b.0) => {
                each(a.0, Change::Dropped);
                differ = true;
                i += 1;
            }
            (_, Some(b)) => {
                each(b.0, Change::Added);
                differ = true;
                j += 1;
            }
            _ => break,
        }
    }
    differ
}

/// Per key of two sorted lists of (key, content digest) pairs where a key may repeat (a
/// span's events by name, its links, a point's exemplars): after the pairs found on both sides
/// are set aside, how many of the key's are left on the expected side only (dropped), on the
/// received side only (added), and of those how many pair up (changed: as many as the smaller
/// side has). Calls `each(key, dropped, added, changed)` per key that differs; whether any does.
pub fn diff_multi(want: &[(u64, u64)], got: &[(u64, u64)], mut each: impl FnMut(u64, u64, u64, u64)) -> bool {
    let (mut i, mut j, mut differ) = (0, 0, false);
    while i < want.len() || j < got.len() {
        let key = match (want.get(i), got.get(j)) {
            (Some(a), Some(b)) => a.0.min(b.0),
            (Some(a), None) => a.0,
            (None, Some(b)) => b.0,
            (None, None) => break,
        };
        let (wi, gj) = (i, j);
        while want.get(i).is_some_and(|a| a.0 == key) {
            i += 1;
        }
        while got.get(j).is_some_and(|b| b.0 == key) {
            j += 1;
        }
        let (w, g) = (&want[wi..i], &got[gj..j]);
        // Pairs on both sides (both sorted by digest within the key).
        let (mut x, mut y, mut same) = (0, 0, 0u64);
        while x < w.len() && y < g.len() {
            match w[x].1.cmp(&g[y].1) {
                std::cmp::Ordering::Equal => {
                    same += 1;
                    x += 1;
                    y += 1;
                }
                std::cmp::Ordering::Less => x += 1,
                std::cmp::Ordering::Greater => y += 1,
            }
        }
        let (left, right) = (w.len() as u64 - same, g.len() as u64 - same);
        if left + right > 0 {
            let changed = left.min(right);
            each(key, left - changed, right - changed, changed);
            differ = true;
        }
    }
    differ
}

/// How an attribute differs.
#[derive(Debug, Clone, Copy)]
pub enum Change {
    /// The received item lacks it.
    Dropped,
    /// Only the received item has it.
    Added,
    /// Its value differs.
    Changed,
}

/// The columns a span is read with, in this order.
pub const SPAN_COLUMNS: [&str; 18] = [
    "TraceId",
    "SpanId",
    "ParentSpanId",
    "SpanName",
    "SpanKind",
    "ServiceName",
    "Duration",
    "StatusCode",
    "SpanAttributes",
    "ResourceAttributes",
    "ReceivedTime",
    "Events.Timestamp",
    "Events.Name",
    "Events.Attributes",
    "Links.TraceId",
    "Links.SpanId",
    "Links.TraceState",
    "Links.Attributes",
];

/// A span's events (from column `k`: times, names, attributes) as (name digest, digest of its
/// time from the span's start and its attributes), sorted; names kept in `d`. An event's time
/// is taken from its span's start, so a span moved whole is only a moved span.
fn events(f: &mut impl Fields, k: usize, start: i64, d: &mut Dict) -> Entries {
    let names = f.texts(k + 1, Some(d));
    if names.is_empty() {
        return Vec::new();
    }
    let (times, attrs) = (f.ints(k), f.maps(k + 2));
    let mut v: Entries = names
        .iter()
        .enumerate()
        .map(|(i, &name)| {
            let at = times.get(i).map_or(0, |t| t.wrapping_sub(start).cast_unsigned());
            (name, digest(&[at], attrs.get(i).map_or(&[][..], Vec::as_slice)))
        })
        .collect();
    v.sort_unstable();
    v
}

/// A span's links (from column `k`: trace ids, span ids, trace states, attributes) as (digest
/// of the linked trace and span id, digest of its trace state and attributes), sorted.
fn links(f: &mut impl Fields, k: usize) -> Entries {
    let traces = f.texts(k, None);
    if traces.is_empty() {
        return Vec::new();
    }
    let (spans, states, attrs) = (f.texts(k + 1, None), f.texts(k + 2, None), f.maps(k + 3));
    let mut v: Entries = traces
        .iter()
        .enumerate()
        .map(|(i, &trace)| {
            let to = digest(&[trace, spans.get(i).copied().unwrap_or(0)], &[]);
            (to, digest(&[states.get(i).copied().unwrap_or(0)], attrs.get(i).map_or(&[][..], Vec::as_slice)))
        })
        .collect();
    v.sort_unstable();
    v
}

/// A span: its trace and span ids are its key.
pub struct Span {
    pub trace: u128,
    pub span: u64,
    pub name: u64,
    pub kind: u64,
    pub service: u64,
    pub status: u64,
    pub parent: u64,
    pub start: i64,
    pub duration: i64,
    pub attrs: Entries,
    /// Its resource's digest (see [`Resources`]).
    pub resource: u64,
    /// When the receiver got it (received spans only).
    pub received: Option<i64>,
    /// How often the received side had it (expected spans).
    pub seen: u32,
    /// Its events: (name digest, content digest), sorted.
    pub events: Entries,
    /// Its links: (linked ids' digest, content digest), sorted.
    pub links: Entries,
}

impl Span {
    /// Reads a row of [`SPAN_COLUMNS`].
    pub fn read(f: &mut impl Fields, d: &mut Dict, resources: &mut Resources) -> Span {
        let start = f.time();
        Span {
            trace: f.id(0),
            span: f.id(1) as u64,
            parent: f.id(2) as u64,
            name: f.name(3, d),
            kind: f.text(4),
            service: f.text(5),
            duration: f.int(6).unwrap_or(0),
            status: f.text(7),
            attrs: f.entries(8, d),
            resource: resource_of(f, 9, d, resources),
            received: f.int(10),
            start,
            seen: 0,
            events: events(f, 11, start, d),
            links: links(f, 14),
        }
    }

    /// The join key.
    pub fn key(&self) -> (u128, u64) {
        (self.trace, self.span)
    }

    pub fn encode(&self, e: &mut Enc) {
        e.0.clear();
        e.u128(self.trace).u64(self.span).u64(self.name).u64(self.kind).u64(self.service).u64(self.status);
        e.u64(self.parent).i64(self.start).i64(self.duration).i64(self.received.unwrap_or(i64::MIN));
        e.u64(self.resource).entries(&self.attrs).entries(&self.events).entries(&self.links);
    }

    pub fn decode(b: &[u8]) -> Span {
        let mut d = Dec::new(b);
        let (trace, span, name, kind, service, status) = (d.u128(), d.u64(), d.u64(), d.u64(), d.u64(), d.u64());
        let (parent, start, duration, received) = (d.u64(), d.i64(), d.i64(), d.i64());
        Span {
            trace,
            span,
            name,
            kind,
            service,
            status,
            parent,
            start,
            duration,
            received: (received != i64::MIN).then_some(received),
            resource: d.u64(),
            attrs: d.entries(),
            seen: 0,
            events: d.entries(),
            links: d.entries(),
        }
    }
}

/// The columns a log record is read with, in this order.
pub const LOG_COLUMNS: [&str; 7] =
    ["TraceId", "SpanId", "ServiceName", "SeverityNumber", "Body", "LogAttributes", "ResourceAttributes"];

/// Which records a log record is numbered among: (trace, span, service when without ids).
pub type LogGroup = (u128, u64, u64);

/// A log record, keyed by its group and its ordinal in it.
pub struct Log {
    pub group: LogGroup,
    pub time: i64,
    pub severity: i64,
    pub body: u64,
    pub attrs: Entries,
    /// Its resource's digest.
    pub resource: u64,
    pub seen: u32,
}

impl Log {
    /// Reads a row of [`LOG_COLUMNS`].
    pub fn read(f: &mut impl Fields, d: &mut Dict, resources: &mut Resources) -> Log {
        let (trace, span) = (f.id(0), f.id(1) as u64);
        // Records without a span are told apart by their service.
        let service = if trace == 0 && span == 0 { f.text(2) } else { 0 };
        Log {
            group: (trace, span, service),
            time: f.time(),
            severity: f.int(3).unwrap_or(0),
            body: f.text(4),
            attrs: f.entries(5, d),
            resource: resource_of(f, 6, d, resources),
            seen: 0,
        }
    }

    pub fn encode(&self, e: &mut Enc) {
        e.0.clear();
        e.u128(self.group.0).u64(self.group.1).u64(self.group.2).i64(self.time).i64(self.severity).u64(self.body);
        e.u64(self.resource).entries(&self.attrs);
    }

    pub fn decode(b: &[u8]) -> Log {
        let mut d = Dec::new(b);
        Log {
            group: (d.u128(), d.u64(), d.u64()),
            time: d.i64(),
            severity: d.i64(),
            body: d.u64(),
            resource: d.u64(),
            attrs: d.entries(),
            seen: 0,
        }
    }
}

/// The columns a metric point is read with, in this order.
pub const METRIC_COLUMNS: [&str; 14] = [
    "MetricName",
    "ServiceName",
    "Attributes",
    "MetricType",
    "Value",
    "Count",
    "Sum",
    "StartTimeUnix",
    "ResourceAttributes",
    "Exemplars.TimeUnix",
    "Exemplars.Value",
    "Exemplars.SpanId",
    "Exemplars.TraceId",
    "Exemplars.FilteredAttributes",
];

/// A point's exemplars (from column `k`: times, values, span ids, trace ids, filtered
/// attributes) as (digest of the span and trace id they refer to, digest of time, value and
/// attributes), sorted.
fn exemplars(f: &mut impl Fields, k: usize) -> Entries {
    let times = f.ints(k);
    if times.is_empty() {
        return Vec::new();
    }
    let (values, spans, traces, attrs) = (f.floats(k + 1), f.texts(k + 2, None), f.texts(k + 3, None), f.maps(k + 4));
    let mut v: Entries = times
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            let to = digest(&[traces.get(i).copied().unwrap_or(0), spans.get(i).copied().unwrap_or(0)], &[]);
            let value = values.get(i).map_or(0, |x| x.to_bits());
            (to, digest(&[t.cast_unsigned(), value], attrs.get(i).map_or(&[][..], Vec::as_slice)))
        })
        .collect();
    v.sort_unstable();
    v
}

/// A metric point: its series (with and without its resource), time, value and resource.
pub struct Point {
    pub series: u64,
    pub loose: u64,
    pub time: i64,
    pub value: u64,
    pub resource: u64,
    /// Its exemplars: (referred ids' digest, content digest), sorted.
    pub exemplars: Entries,
}

/// Resource digest → its attributes (to name what changed in a resource).
pub type Resources = FastMap<u64, Entries>;

/// A new, empty [`Resources`].
pub fn resources() -> Resources {
    fast_map()
}

impl Point {
    /// Reads a row of [`METRIC_COLUMNS`].
    pub fn read(f: &mut impl Fields, d: &mut Dict, resources: &mut Resources) -> Point {
        let attrs = f.entries(2, d);
        let loose = digest(&[f.text(0), f.text(3)], &attrs);
        let res_entries = f.entries(8, d);
        let resource = digest(&[f.text(1)], &res_entries);
        resources.entry(resource).or_insert(res_entries);
        let value = digest(
            &[
                f.int(7).unwrap_or(0).cast_unsigned(),
                f.float(4).unwrap_or(f64::NAN).to_bits(),
                f.int(5).unwrap_or(-1).cast_unsigned(),
                f.float(6).unwrap_or(f64::NAN).to_bits(),
            ],
            &[],
        );
        let exemplars = exemplars(f, 9);
        Point { series: loose ^ resource.rotate_left(17), loose, time: f.time(), value, resource, exemplars }
    }
}

#[cfg(test)]
mod tests {
    use super::diff_multi;

    #[test]
    fn a_repeated_key_is_diffed_as_a_multiset() {
        let all = |w: &[(u64, u64)], g: &[(u64, u64)]| {
            let mut v = Vec::new();
            let differ = diff_multi(w, g, |k, d, a, c| v.push((k, d, a, c)));
            (differ, v)
        };
        // Key 1: one of two pairs lost; key 2: one changed, one added; key 3: gone; 4: new.
        let want = [(1, 10), (1, 11), (2, 20), (3, 30)];
        let got = [(1, 11), (2, 21), (2, 22), (4, 40)];
        assert_eq!(all(&want, &got), (true, vec![(1, 1, 0, 0), (2, 0, 1, 1), (3, 1, 0, 0), (4, 0, 1, 0)]));
        assert_eq!(all(&want, &want), (false, vec![]));
        assert_eq!(all(&[], &[]), (false, vec![]));
    }
}
