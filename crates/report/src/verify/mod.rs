//! `verify`: what a pipeline did to a run's telemetry — the store of what the run generates
//! (expected) joined with the store of what arrived (received) on the items' ids: spans by
//! trace and span id, log records by trace, span and ordinal, metric points by series and
//! time. Per signal: delivered, missing, duplicated, unexpected; per attribute key how many
//! items had it dropped, added or changed; renamed spans, shifted timestamps; which traces
//! were kept (whole or in part; error and slow traces apart). Beyond [`PASS_ITEMS`] expected
//! items, both sides are spilled once to bucket files by trace id and joined bucket by bucket,
//! so memory holds one bucket at a time and each store is read once.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;
use tsim_store::Table;

mod spill;

use spill::{Buckets, Dec, Enc};

use crate::scan::{Batch, Column, rows};
use crate::stats::{Durations, FastMap, Names, fast_map};
use crate::{Filter, Report, ReportError, Section};

/// Expected spans or records held in memory at once by default (one bucket).
pub const PASS_ITEMS: u64 = 1_000_000;

/// A 64-bit digest of bytes (aHash with fixed seeds; both sides are hashed in one process).
fn hash(b: &[u8]) -> u64 {
    static SEEDS: std::sync::OnceLock<ahash::RandomState> = std::sync::OnceLock::new();
    SEEDS.get_or_init(|| ahash::RandomState::with_seeds(5, 6, 7, 8)).hash_one(b)
}

/// An id's bytes as a number (up to 32 hex digits), 0 for an empty id.
fn id128(hex: &[u8]) -> u128 {
    hex.iter().take(32).fold(0u128, |h, c| h << 4 | u128::from((*c as char).to_digit(16).unwrap_or(0)))
}

/// A map column's entries of row `i` as (key id, value hash), sorted by key.
fn entries(c: &Column, i: usize, keys: &mut Names) -> Vec<(u32, u64)> {
    let Column::Map { starts, keys: k, values } = c else { return Vec::new() };
    let mut v: Vec<(u32, u64)> = (starts[i]..starts[i + 1])
        .map(|e| (keys.id(&String::from_utf8_lossy(k[e].data())), hash(values[e].data())))
        .collect();
    v.sort_unstable();
    v
}

/// Per attribute key: items that lost it, gained it, or had its value changed.
#[derive(Debug, Default, Clone, Copy)]
struct KeyDiff {
    dropped: u64,
    added: u64,
    changed: u64,
}

/// Compares two sorted entry lists, adding per key to `out`; whether they differ.
fn diff_entries(want: &[(u32, u64)], got: &[(u32, u64)], out: &mut FastMap<u32, KeyDiff>) -> bool {
    let (mut i, mut j, mut differ) = (0, 0, false);
    while i < want.len() || j < got.len() {
        match (want.get(i), got.get(j)) {
            (Some(a), Some(b)) if a.0 == b.0 => {
                if a.1 != b.1 {
                    out.entry(a.0).or_default().changed += 1;
                    differ = true;
                }
                i += 1;
                j += 1;
            }
            (Some(a), b) if b.is_none_or(|b| a.0 < b.0) => {
                out.entry(a.0).or_default().dropped += 1;
                differ = true;
                i += 1;
            }
            (_, Some(b)) => {
                out.entry(b.0).or_default().added += 1;
                differ = true;
                j += 1;
            }
            _ => break,
        }
    }
    differ
}

/// Expected and received entries of one map.
type EntryPair<'a> = (&'a [(u32, u64)], &'a [(u32, u64)]);

/// Counts of one signal.
#[derive(Debug)]
struct Tally {
    expected: u64,
    delivered: u64,
    missing: u64,
    duplicated: u64,
    unexpected: u64,
    altered: u64,
    attrs: FastMap<u32, KeyDiff>,
    resource: FastMap<u32, KeyDiff>,
    /// Items whose time moved, and the largest move (ns).
    shifted: u64,
    max_shift: u64,
    /// Other fields: name → count (status, kind, parent, duration, body, severity, value…).
    fields: BTreeMap<&'static str, u64>,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            expected: 0,
            delivered: 0,
            missing: 0,
            duplicated: 0,
            unexpected: 0,
            altered: 0,
            attrs: fast_map(),
            resource: fast_map(),
            shifted: 0,
            max_shift: 0,
            fields: BTreeMap::new(),
        }
    }
}

impl Tally {
    fn field(&mut self, name: &'static str) {
        *self.fields.entry(name).or_default() += 1;
    }

    fn shift(&mut self, want: i64, got: i64) -> bool {
        if want == got {
            return false;
        }
        self.shifted += 1;
        self.max_shift = self.max_shift.max(want.abs_diff(got));
        true
    }

    /// Counts a delivered item's changed fields (`(name, same)`) and its attribute and resource
    /// differences; it is altered if any differ or `differ` already says so.
    fn alter(
        &mut self,
        mut differ: bool,
        fields: &[(&'static str, bool)],
        attrs: EntryPair<'_>,
        resource: EntryPair<'_>,
    ) {
        for &(field, same) in fields {
            if !same {
                self.field(field);
                differ = true;
            }
        }
        differ |= diff_entries(attrs.0, attrs.1, &mut self.attrs);
        differ |= diff_entries(resource.0, resource.1, &mut self.resource);
        self.altered += u64::from(differ);
    }

    fn differences(&self) -> u64 {
        self.missing + self.duplicated + self.unexpected + self.altered
    }
}

/// One expected span.
struct Span {
    trace: u128,
    name: u32,
    kind: u32,
    service: u32,
    status: u32,
    parent: u64,
    start: i64,
    duration: i64,
    attrs: Vec<(u32, u64)>,
    resource: Vec<(u32, u64)>,
    /// When the receiver got it (received spans only).
    received: Option<i64>,
    seen: u32,
}

impl Span {
    fn encode(&self, key: (u128, u64), e: &mut Enc) {
        e.0.clear();
        e.u128(key.0).u64(key.1).u32(self.name).u32(self.kind).u32(self.service).u32(self.status);
        e.u64(self.parent).i64(self.start).i64(self.duration).i64(self.received.unwrap_or(i64::MIN));
        e.entries(&self.attrs).entries(&self.resource);
    }

    fn decode(b: &[u8]) -> ((u128, u64), Span) {
        let mut d = Dec::new(b);
        let key = (d.u128(), d.u64());
        let (name, kind, service, status) = (d.u32(), d.u32(), d.u32(), d.u32());
        let (parent, start, duration, received) = (d.u64(), d.i64(), d.i64(), d.i64());
        let span = Span {
            trace: key.0,
            name,
            kind,
            service,
            status,
            parent,
            start,
            duration,
            received: (received != i64::MIN).then_some(received),
            attrs: d.entries(),
            resource: d.entries(),
            seen: 0,
        };
        (key, span)
    }
}

/// Per trace: spans expected and delivered, and whether it failed or was slow.
#[derive(Default)]
struct TraceKept {
    spans: u32,
    delivered: u32,
    error: bool,
    root_ns: Option<i64>,
}

/// Which traces were kept, by kind.
#[derive(Debug, Default, Clone, Copy)]
struct Kept {
    expected: u64,
    kept: u64,
    whole: u64,
}

impl Kept {
    fn add(&mut self, t: &TraceKept) {
        self.expected += 1;
        self.kept += u64::from(t.delivered > 0);
        self.whole += u64::from(t.delivered >= t.spans);
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "expected": self.expected,
            "kept": self.kept,
            "whole": self.whole,
            "partial": self.kept - self.whole,
            "keptFraction": if self.expected == 0 { 0.0 } else { self.kept as f64 / self.expected as f64 },
        })
    }
}

/// Renamed spans: (expected name, received name) → count.
type Renames = FastMap<(u32, u32), u64>;

const SPAN_COLUMNS: [&str; 11] = [
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
];

struct SpanPass<'a> {
    names: &'a mut Names,
    keys: &'a mut Names,
}

impl SpanPass<'_> {
    fn read(&mut self, b: &Batch, i: usize) -> ((u128, u64), Span) {
        let c = |k: usize| &b.cols[k];
        let s = |k: usize, n: &mut Names| n.id(c(k).str(i).unwrap_or(""));
        let key = (id128(c(0).bytes(i).unwrap_or(b"")), id128(c(1).bytes(i).unwrap_or(b"")) as u64);
        let span = Span {
            trace: key.0,
            name: s(3, self.names),
            kind: s(4, self.names),
            service: s(5, self.names),
            status: s(7, self.names),
            parent: id128(c(2).bytes(i).unwrap_or(b"")) as u64,
            start: b.time(i),
            duration: c(6).int(i).unwrap_or(0),
            attrs: entries(c(8), i, self.keys),
            resource: entries(c(9), i, self.keys),
            received: c(10).int(i),
            seen: 0,
        };
        (key, span)
    }
}

/// The shares of trace ids the join runs in, for `expected` items, `per` items a share.
fn passes(expected: u64, per: u64) -> u64 {
    expected.div_ceil(per.max(1)).max(1)
}

/// What the span join found.
struct SpanResult {
    tally: Tally,
    renames: Renames,
    all: Kept,
    errors: Kept,
    slow: Kept,
    slow_threshold_ns: u64,
    /// Receive time minus span end, of the delivered spans with a receive time.
    delay: Durations,
    /// Of those, spans received before they ended (a clock ahead, or a sender that does
    /// not wait for the end).
    early: u64,
}

fn spans(
    expected: &Path,
    received: &Path,
    (scratch, per): (&Path, u64),
    names: &mut Names,
    keys: &mut Names,
) -> Result<SpanResult, ReportError> {
    let f = Filter::default();
    let total = crate::scan::row_count(expected, Table::Traces)?;
    // Slow traces: a root span at or above the expected roots' 90th percentile (known once the
    // expected side is read, before any trace is judged).
    let mut roots = Durations::default();
    let mut root = |s: &Span| {
        if s.parent == 0 {
            roots.add(s.duration.cast_unsigned(), false);
        }
    };
    let mut r = SpanResult {
        tally: Tally { expected: total, ..Tally::default() },
        renames: fast_map(),
        all: Kept::default(),
        errors: Kept::default(),
        slow: Kept::default(),
        slow_threshold_ns: 0,
        delay: Durations::default(),
        early: 0,
    };
    let of = passes(total, per);
    let error = names.id("Error");
    if of == 1 {
        let mut want: FastMap<(u128, u64), Span> = fast_map();
        let mut p = SpanPass { names, keys };
        rows(expected, Table::Traces, &f, &SPAN_COLUMNS, |b, i| {
            let (k, s) = p.read(b, i);
            root(&s);
            want.insert(k, s);
        })?;
        r.slow_threshold_ns = threshold(&roots);
        rows(received, Table::Traces, &f, &SPAN_COLUMNS, |b, i| {
            let (k, got) = p.read(b, i);
            match_span(&mut want, k, &got, &mut r);
        })?;
        kept(&want, error, &mut r);
        return Ok(r);
    }
    // Spilled by trace id: each side read once, joined bucket by bucket.
    let buckets = usize::try_from(of).unwrap_or(usize::MAX);
    let mut p = SpanPass { names, keys };
    let mut spill_side = |store: &Path, tag: &str, mut each: Option<&mut dyn FnMut(&Span)>| {
        spill_table(store, Table::Traces, &SPAN_COLUMNS, Buckets::create(scratch, tag, buckets)?, |b, i, e| {
            let (k, s) = p.read(b, i);
            if let Some(f) = each.as_mut() {
                f(&s);
            }
            s.encode(k, e);
            k.0
        })
    };
    let want_files = spill_side(expected, "spans-expected", Some(&mut root))?;
    let got_files = spill_side(received, "spans-received", None)?;
    r.slow_threshold_ns = threshold(&roots);
    for (wf, gf) in want_files.iter().zip(&got_files) {
        let bytes = spill::take(wf)?;
        let mut want: FastMap<(u128, u64), Span> = spill::records(&bytes).map(Span::decode).collect_map();
        drop(bytes);
        let bytes = spill::take(gf)?;
        for rec in spill::records(&bytes) {
            let (k, got) = Span::decode(rec);
            match_span(&mut want, k, &got, &mut r);
        }
        kept(&want, error, &mut r);
    }
    Ok(r)
}

/// The slow-trace threshold (ns): the roots' 90th percentile.
fn threshold(roots: &Durations) -> u64 {
    (roots.quantile_s(0.9) * 1e9) as u64
}

/// Reads `table` under `root` once, encoding each row (`encode` writes it and returns its
/// trace id) into the bucket of its trace id; the bucket files.
fn spill_table(
    root: &Path,
    table: Table,
    columns: &[&str],
    mut out: Buckets,
    mut encode: impl FnMut(&Batch, usize, &mut Enc) -> u128,
) -> Result<Vec<std::path::PathBuf>, ReportError> {
    let n = out.len() as u64;
    let (mut e, mut failed) = (Enc::default(), None);
    rows(root, table, &Filter::default(), columns, |b, i| {
        let trace = encode(b, i, &mut e);
        if let Err(err) = out.put((trace as u64 % n) as usize, &e.0) {
            failed.get_or_insert(err);
        }
    })?;
    match failed {
        Some(err) => Err(err),
        None => out.finish(),
    }
}

/// Collects pairs into a [`FastMap`].
trait CollectMap<K, V> {
    fn collect_map(self) -> FastMap<K, V>;
}

impl<K: std::hash::Hash + Eq, V, I: Iterator<Item = (K, V)>> CollectMap<K, V> for I {
    fn collect_map(self) -> FastMap<K, V> {
        let mut m = fast_map();
        m.extend(self);
        m
    }
}

/// Joins one received span with the expected ones.
fn match_span(want: &mut FastMap<(u128, u64), Span>, k: (u128, u64), got: &Span, r: &mut SpanResult) {
    let t = &mut r.tally;
    let Some(w) = want.get_mut(&k) else {
        t.unexpected += 1;
        return;
    };
    w.seen += 1;
    if w.seen > 1 {
        t.duplicated += 1;
        return;
    }
    t.delivered += 1;
    if let Some(at) = got.received {
        let end = got.start.saturating_add(got.duration);
        if at < end {
            r.early += 1;
        }
        r.delay.add(at.saturating_sub(end).max(0).cast_unsigned(), false);
    }
    let mut differ = false;
    if w.name != got.name {
        *r.renames.entry((w.name, got.name)).or_default() += 1;
        differ = true;
    }
    differ |= t.shift(w.start, got.start);
    let fields = [
        ("duration", w.duration == got.duration),
        ("status", w.status == got.status),
        ("kind", w.kind == got.kind),
        ("parent", w.parent == got.parent),
        ("service", w.service == got.service),
    ];
    t.alter(differ, &fields, (&w.attrs, &got.attrs), (&w.resource, &got.resource));
}

/// After a share of the expected spans was joined: the missing ones, and which traces
/// were kept (whole traces are in one share: shares are by trace id).
fn kept(want: &FastMap<(u128, u64), Span>, error: u32, r: &mut SpanResult) {
    let mut traces: FastMap<u128, TraceKept> = fast_map();
    for s in want.values() {
        r.tally.missing += u64::from(s.seen == 0);
        let e = traces.entry(s.trace).or_default();
        e.spans += 1;
        e.delivered += u32::from(s.seen > 0);
        e.error |= s.status == error;
        if s.parent == 0 {
            e.root_ns = Some(s.duration);
        }
    }
    for tr in traces.values() {
        r.all.add(tr);
        if tr.error {
            r.errors.add(tr);
        }
        if tr.root_ns.is_some_and(|d| d.cast_unsigned() >= r.slow_threshold_ns) {
            r.slow.add(tr);
        }
    }
}

const LOG_COLUMNS: [&str; 8] =
    ["TraceId", "SpanId", "ServiceName", "SeverityNumber", "Body", "LogAttributes", "ResourceAttributes", "EventName"];

/// Which records a log record is numbered among: (trace, span, service when without ids).
type LogGroup = (u128, u64, u32);

/// One log record, keyed by its group and its ordinal in it.
struct Log {
    group: LogGroup,
    time: i64,
    severity: i64,
    body: u64,
    attrs: Vec<(u32, u64)>,
    resource: Vec<(u32, u64)>,
    seen: u32,
}

fn read_log(b: &Batch, i: usize, names: &mut Names, keys: &mut Names) -> Log {
    let c = |k: usize| &b.cols[k];
    let (trace, span) = (id128(c(0).bytes(i).unwrap_or(b"")), id128(c(1).bytes(i).unwrap_or(b"")) as u64);
    // Records without a span are told apart by their service.
    let service = if trace == 0 && span == 0 { names.id(c(2).str(i).unwrap_or("")) } else { 0 };
    Log {
        group: (trace, span, service),
        time: b.time(i),
        severity: c(3).int(i).unwrap_or(0),
        body: hash(c(4).bytes(i).unwrap_or(b"")),
        attrs: entries(c(5), i, keys),
        resource: entries(c(6), i, keys),
        seen: 0,
    }
}

/// Gives each record its ordinal in its group, in time order (ties by content).
fn ordinals(v: Vec<Log>) -> FastMap<(LogGroup, u32), Log> {
    let mut v = v;
    v.sort_by(|a, b| a.group.cmp(&b.group).then(a.time.cmp(&b.time)).then(a.body.cmp(&b.body)));
    let mut out = fast_map();
    out.reserve(v.len());
    let (mut last, mut n) = (None, 0u32);
    for l in v {
        if last != Some(l.group) {
            last = Some(l.group);
            n = 0;
        }
        out.insert((l.group, n), l);
        n += 1;
    }
    out
}

impl Log {
    fn encode(&self, e: &mut Enc) {
        e.0.clear();
        e.u128(self.group.0).u64(self.group.1).u32(self.group.2).i64(self.time).i64(self.severity).u64(self.body);
        e.entries(&self.attrs).entries(&self.resource);
    }

    fn decode(b: &[u8]) -> Log {
        let mut d = Dec::new(b);
        Log {
            group: (d.u128(), d.u64(), d.u32()),
            time: d.i64(),
            severity: d.i64(),
            body: d.u64(),
            attrs: d.entries(),
            resource: d.entries(),
            seen: 0,
        }
    }
}

fn logs(
    expected: &Path,
    received: &Path,
    (scratch, per): (&Path, u64),
    names: &mut Names,
    keys: &mut Names,
) -> Result<Tally, ReportError> {
    let f = Filter::default();
    let total = crate::scan::row_count(expected, Table::Logs)?;
    let mut t = Tally { expected: total, ..Tally::default() };
    let of = passes(total, per);
    if of == 1 {
        let mut read = |root: &Path| -> Result<Vec<Log>, ReportError> {
            let mut v = Vec::new();
            rows(root, Table::Logs, &f, &LOG_COLUMNS, |b, i| v.push(read_log(b, i, names, keys)))?;
            Ok(v)
        };
        let want = read(expected)?;
        let got = read(received)?;
        join_logs(want, got, &mut t);
        return Ok(t);
    }
    // Spilled by trace id: each side read once, joined bucket by bucket.
    let buckets = usize::try_from(of).unwrap_or(usize::MAX);
    let mut spill_side = |root: &Path, tag: &str| {
        spill_table(root, Table::Logs, &LOG_COLUMNS, Buckets::create(scratch, tag, buckets)?, |b, i, e| {
            let l = read_log(b, i, names, keys);
            l.encode(e);
            l.group.0
        })
    };
    let want_files = spill_side(expected, "logs-expected")?;
    let got_files = spill_side(received, "logs-received")?;
    for (wf, gf) in want_files.iter().zip(&got_files) {
        let want: Vec<Log> = spill::records(&spill::take(wf)?).map(Log::decode).collect();
        let got: Vec<Log> = spill::records(&spill::take(gf)?).map(Log::decode).collect();
        join_logs(want, got, &mut t);
    }
    Ok(t)
}

/// Joins the received records of a share of the groups with the expected ones.
fn join_logs(want: Vec<Log>, got: Vec<Log>, t: &mut Tally) {
    let mut want = ordinals(want);
    // Received records get ordinals the same way; a duplicate is the same content again.
    let mut got_sorted = got;
    got_sorted.sort_by(|a, b| a.group.cmp(&b.group).then(a.time.cmp(&b.time)).then(a.body.cmp(&b.body)));
    let (mut last, mut n, mut prev): (Option<LogGroup>, u32, Option<(i64, u64)>) = (None, 0, None);
    for g in got_sorted {
        if last != Some(g.group) {
            last = Some(g.group);
            n = 0;
            prev = None;
        }
        // The same record again, where the run had no such twin.
        let twin = want.get(&(g.group, n)).is_some_and(|w| (w.time, w.body) == (g.time, g.body));
        if !twin && prev == Some((g.time, g.body)) {
            t.duplicated += 1;
            continue;
        }
        prev = Some((g.time, g.body));
        let Some(w) = want.get_mut(&(g.group, n)) else {
            t.unexpected += 1;
            n += 1;
            continue;
        };
        n += 1;
        w.seen += 1;
        t.delivered += 1;
        let differ = t.shift(w.time, g.time);
        let fields = [("severity", w.severity == g.severity), ("body", w.body == g.body)];
        t.alter(differ, &fields, (&w.attrs, &g.attrs), (&w.resource, &g.resource));
    }
    t.missing += want.values().filter(|l| l.seen == 0).count() as u64;
}

const METRIC_COLUMNS: [&str; 9] = [
    "MetricName",
    "ServiceName",
    "Attributes",
    "MetricType",
    "Value",
    "Count",
    "Sum",
    "StartTimeUnix",
    "ResourceAttributes",
];

/// A metric point: its series (with and without its resource), time, value and resource.
struct Point {
    series: u64,
    loose: u64,
    time: i64,
    value: u64,
    resource: u64,
}

fn read_point(b: &Batch, i: usize, keys: &mut Names, resources: &mut FastMap<u64, Vec<(u32, u64)>>) -> Point {
    let c = |k: usize| &b.cols[k];
    let mut loose = Vec::new();
    loose.extend_from_slice(c(0).bytes(i).unwrap_or(b""));
    loose.push(0);
    loose.extend_from_slice(c(3).bytes(i).unwrap_or(b""));
    loose.push(0);
    for (k, v) in entries(c(2), i, keys) {
        loose.extend_from_slice(&k.to_le_bytes());
        loose.extend_from_slice(&v.to_le_bytes());
    }
    let mut res = Vec::new();
    res.extend_from_slice(c(1).bytes(i).unwrap_or(b""));
    res.push(0);
    let res_entries = entries(c(8), i, keys);
    for (k, v) in &res_entries {
        res.extend_from_slice(&k.to_le_bytes());
        res.extend_from_slice(&v.to_le_bytes());
    }
    let resource = hash(&res);
    resources.entry(resource).or_insert(res_entries);
    let loose = hash(&loose);
    let mut value = Vec::new();
    value.extend_from_slice(&c(7).int(i).unwrap_or(0).to_le_bytes());
    value.extend_from_slice(&c(4).float(i).unwrap_or(f64::NAN).to_bits().to_le_bytes());
    value.extend_from_slice(&c(5).int(i).unwrap_or(-1).to_le_bytes());
    value.extend_from_slice(&c(6).float(i).unwrap_or(f64::NAN).to_bits().to_le_bytes());
    Point { series: loose ^ resource.rotate_left(17), loose, time: b.time(i), value: hash(&value), resource }
}

/// An expected point: (value digest, times seen, series without resource, resource).
type Wanted = (u64, u32, u64, u64);

fn metrics(expected: &Path, received: &Path, keys: &mut Names) -> Result<Tally, ReportError> {
    let f = Filter::default();
    let mut t = Tally::default();
    let mut resources: FastMap<u64, Vec<(u32, u64)>> = fast_map();
    // Series and time → the points there: (value digest, seen, series without resource, resource).
    let mut want: FastMap<(u64, i64), Vec<Wanted>> = fast_map();
    rows(expected, Table::Metrics, &f, &METRIC_COLUMNS, |b, i| {
        let p = read_point(b, i, keys, &mut resources);
        want.entry((p.series, p.time)).or_default().push((p.value, 0, p.loose, p.resource));
        t.expected += 1;
    })?;
    // Received points matched as a multiset per series and time: resources with the same
    // attributes (scenarios sharing a service) give one series several points at one time.
    let mut unmatched: Vec<Point> = Vec::new();
    rows(received, Table::Metrics, &f, &METRIC_COLUMNS, |b, i| {
        let p = read_point(b, i, keys, &mut resources);
        let Some(group) = want.get_mut(&(p.series, p.time)) else {
            unmatched.push(p);
            return;
        };
        if let Some(w) = group.iter_mut().find(|w| w.0 == p.value && w.1 == 0) {
            w.1 = 1;
            t.delivered += 1;
        } else if group.iter().any(|w| w.0 == p.value) {
            t.duplicated += 1;
        } else {
            unmatched.push(p);
        }
    })?;
    // Second chance for the rest: the same series and time with another value (an altered
    // value), or the same point under another resource (altered resource attributes).
    let mut by_point: FastMap<(u64, i64, u64), Vec<u64>> = fast_map();
    for ((_, time), g) in &want {
        for w in g.iter().filter(|w| w.1 == 0) {
            by_point.entry((w.2, *time, w.0)).or_default().push(w.3);
        }
    }
    for p in unmatched {
        if let Some(res) = by_point.get_mut(&(p.loose, p.time, p.value)).and_then(Vec::pop) {
            if let Some(w) = want
                .get_mut(&(p.loose ^ res.rotate_left(17), p.time))
                .and_then(|g| g.iter_mut().find(|w| w.1 == 0 && w.0 == p.value && w.3 == res))
            {
                w.1 = 1;
            }
            t.delivered += 1;
            t.altered += 1;
            let (a, b) = (
                resources.get(&res).cloned().unwrap_or_default(),
                resources.get(&p.resource).cloned().unwrap_or_default(),
            );
            if !diff_entries(&a, &b, &mut t.resource) {
                t.field("service");
            }
            continue;
        }
        match want.get_mut(&(p.series, p.time)).and_then(|g| g.iter_mut().find(|w| w.1 == 0)) {
            Some(w) => {
                w.1 = 1;
                t.delivered += 1;
                t.altered += 1;
                t.field("value");
            }
            None => t.unexpected += 1,
        }
    }
    t.missing = want.values().flatten().filter(|w| w.1 == 0).count() as u64;
    Ok(t)
}

fn key_rows(d: &FastMap<u32, KeyDiff>, keys: &Names) -> Vec<(String, KeyDiff)> {
    let mut v: Vec<(String, KeyDiff)> = d.iter().map(|(k, x)| (keys.name(*k).to_owned(), *x)).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn tally_json(t: &Tally, keys: &Names) -> serde_json::Value {
    let per_key = |d: &FastMap<u32, KeyDiff>| {
        key_rows(d, keys)
            .into_iter()
            .map(|(k, x)| json!({"key": k, "dropped": x.dropped, "added": x.added, "changed": x.changed}))
            .collect::<Vec<_>>()
    };
    json!({
        "expected": t.expected,
        "delivered": t.delivered,
        "missing": t.missing,
        "duplicated": t.duplicated,
        "unexpected": t.unexpected,
        "altered": {
            "items": t.altered,
            "attributes": per_key(&t.attrs),
            "resourceAttributes": per_key(&t.resource),
            "timestampsShifted": {"items": t.shifted, "maxShiftSeconds": t.max_shift as f64 / 1e9},
            "fields": t.fields,
        },
    })
}

fn tally_sections(signal: &str, item: &str, t: &Tally, keys: &Names, out: &mut Vec<Section>) {
    let mut s = Section::new(
        format!("{signal}: {}", if t.differences() == 0 { "identical" } else { "differences" }),
        &["", item],
    );
    for (k, v) in [
        ("expected", t.expected),
        ("delivered", t.delivered),
        ("missing", t.missing),
        ("duplicated", t.duplicated),
        ("unexpected", t.unexpected),
        ("altered", t.altered),
        ("time shifted", t.shifted),
    ] {
        s.row(vec![k.to_owned(), v.to_string()]);
    }
    for (k, v) in &t.fields {
        s.row(vec![format!("{k} changed"), v.to_string()]);
    }
    out.push(s);
    for (title, d) in [("attributes", &t.attrs), ("resource attributes", &t.resource)] {
        if d.is_empty() {
            continue;
        }
        let mut a = Section::new(format!("{signal}: {title} altered"), &["key", "dropped", "added", "changed"]);
        for (k, x) in key_rows(d, keys) {
            a.row(vec![k, x.dropped.to_string(), x.added.to_string(), x.changed.to_string()]);
        }
        out.push(a);
    }
}

/// The verdict: whether the received store holds exactly what was generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing lost, duplicated, unexpected or altered.
    Identical,
    /// Some difference.
    Differences,
}

/// Compares the store `received` with the store `expected` (the run generated again), holding
/// at most `per` expected spans or records in memory: beyond, both sides are spilled to bucket
/// files under `scratch` ([`PASS_ITEMS`] is the default).
pub fn compare(expected: &Path, received: &Path, scratch: &Path, per: u64) -> Result<(Verdict, Report), ReportError> {
    // Spans on one core, log records then metric points on another; each with its own names.
    let ((s, names, keys), (l, log_keys), (m, metric_keys)) = std::thread::scope(|sc| {
        let spans_job = sc.spawn(|| {
            let (mut names, mut keys) = (Names::default(), Names::default());
            spans(expected, received, (&scratch.join("spans"), per), &mut names, &mut keys).map(|r| (r, names, keys))
        });
        let rest = sc.spawn(|| {
            let (mut names, mut keys, mut metric_keys) = (Names::default(), Names::default(), Names::default());
            let l = logs(expected, received, (&scratch.join("logs"), per), &mut names, &mut keys)?;
            let m = metrics(expected, received, &mut metric_keys)?;
            Ok::<_, ReportError>(((l, keys), (m, metric_keys)))
        });
        let s = spans_job.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?;
        let (l, m) = rest.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?;
        Ok::<_, ReportError>((s, l, m))
    })?;
    let differences = s.tally.differences() + l.differences() + m.differences();
    let verdict = if differences == 0 { Verdict::Identical } else { Verdict::Differences };
    let mut renames: Vec<(String, String, u64)> =
        s.renames.iter().map(|((a, b), n)| (names.name(*a).to_owned(), names.name(*b).to_owned(), *n)).collect();
    renames.sort();
    let mut traces = tally_json(&s.tally, &keys);
    traces["altered"]["renamed"] =
        json!(renames.iter().map(|(a, b, n)| json!({"from": a, "to": b, "spans": n})).collect::<Vec<_>>());
    traces["sampling"] = json!({
        "traces": s.all.json(),
        "errorTraces": s.errors.json(),
        "slowTraces": s.slow.json(),
        "slowThresholdSeconds": s.slow_threshold_ns as f64 / 1e9,
    });
    let d = &s.delay;
    traces["delay"] = if d.count == 0 {
        serde_json::Value::Null
    } else {
        json!({
            "spans": d.count,
            "early": s.early,
            "p50Seconds": d.quantile_s(0.5),
            "p95Seconds": d.quantile_s(0.95),
            "p99Seconds": d.quantile_s(0.99),
            "maxSeconds": d.max_s(),
        })
    };
    let json = json!({
        "verdict": match verdict { Verdict::Identical => "identical", Verdict::Differences => "differences" },
        "differences": differences,
        "signals": {"traces": traces, "logs": tally_json(&l, &log_keys), "metrics": tally_json(&m, &metric_keys)},
    });
    let mut sections = Vec::new();
    tally_sections("Spans", "spans", &s.tally, &keys, &mut sections);
    if !renames.is_empty() {
        let mut r = Section::new("Spans: renamed", &["from", "to", "spans"]);
        for (a, b, n) in &renames {
            r.row(vec![a.clone(), b.clone(), n.to_string()]);
        }
        sections.push(r);
    }
    let mut k = Section::new(
        format!("Traces kept (slow: root ≥ {:.3} s, the expected p90)", s.slow_threshold_ns as f64 / 1e9),
        &["traces", "expected", "kept", "whole", "partial", "kept %"],
    );
    for (name, x) in [("all", s.all), ("with an error", s.errors), ("slow", s.slow)] {
        let frac = if x.expected == 0 { 0.0 } else { x.kept as f64 / x.expected as f64 };
        k.row(vec![
            name.into(),
            x.expected.to_string(),
            x.kept.to_string(),
            x.whole.to_string(),
            (x.kept - x.whole).to_string(),
            format!("{:.1}", frac * 100.0),
        ]);
    }
    sections.push(k);
    if d.count > 0 {
        let mut dl = Section::new(
            format!("Delay: receive time minus span end, {} spans ({} received before their end)", d.count, s.early),
            &["p50 (s)", "p95 (s)", "p99 (s)", "max (s)"],
        );
        dl.row(vec![
            crate::render::secs(d.quantile_s(0.5)),
            crate::render::secs(d.quantile_s(0.95)),
            crate::render::secs(d.quantile_s(0.99)),
            crate::render::secs(d.max_s()),
        ]);
        sections.push(dl);
    }
    tally_sections("Log records", "records", &l, &log_keys, &mut sections);
    tally_sections("Metric points", "points", &m, &metric_keys, &mut sections);
    let title = match verdict {
        Verdict::Identical => "Verify: identical".to_owned(),
        Verdict::Differences => format!("Verify: {differences} differences"),
    };
    Ok((verdict, Report { title, sections, json, charts: Vec::new() }))
}
