//! `verify`: what a pipeline did to a run's telemetry — the run generated again (expected,
//! read as OTLP requests from the generating process) joined with the store of what arrived
//! (received) on the items' ids: spans by trace and span id, log records by trace, span and
//! ordinal, metric points by series and time. Per signal: delivered, missing, duplicated,
//! unexpected; per attribute key how many items had it dropped, added or changed; likewise
//! span events (per name), span links and exemplars; renamed spans, shifted timestamps;
//! which traces were kept (whole or in part; error and slow traces apart); how late spans
//! arrived.
//!
//! Both sides are read once, at the same time (the expected stream on one thread, received
//! spans and records on others), into buckets by trace id: one bucket in memory when a side
//! holds at most `per` items, else bucket files of about `per` items each. The buckets are
//! then joined pairwise on two threads, so memory holds two buckets of each side at a time.

use std::io::Read;
use std::path::Path;
use tsim_store::Snapshot;

use tsim_store::Table;

mod capture;
mod items;
mod join;
mod output;
mod spill;
mod tally;

pub use capture::write_frame;

use capture::{Capture, read_frame};
use items::{At, Dict, Log, Point, Span, hash};
use join::WantedPoints;
use spill::{Bucket, Buckets, Enc};
use tally::{SpanResult, Tally};

use crate::scan::{Batch, rows};
use crate::stats::Durations;
use crate::{Filter, Report, ReportError};

/// Expected spans or records a bucket holds by default.
pub const PASS_ITEMS: u64 = 1_000_000;

/// How many items of each signal the expected run holds (its manifest's counts): they size
/// the buckets before the run is read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    /// Spans.
    pub spans: u64,
    /// Log records.
    pub log_records: u64,
    /// Metric data points.
    pub metric_points: u64,
}

/// The buckets for `items` items of a side, `per` a bucket.
fn buckets(items: u64, per: u64) -> usize {
    usize::try_from(items.div_ceil(per.max(1)).max(1)).unwrap_or(usize::MAX)
}

/// The slow-trace threshold (ns): the expected roots' 90th percentile.
fn threshold(roots: &Durations) -> u64 {
    (roots.quantile_s(0.9) * 1e9) as u64
}

/// What the expected stream gave.
struct ExpectedSide {
    spans: Vec<Bucket>,
    logs: Vec<Bucket>,
    points: WantedPoints,
    counts: Counts,
    roots: Durations,
    dict: Dict,
}

/// Reads the regenerated run's frames: spans and records into their buckets, points kept.
fn read_expected(
    mut frames: impl Read,
    (span_buckets, log_buckets): (Buckets, Buckets),
    resources: &mut items::Resources,
) -> Result<ExpectedSide, ReportError> {
    let mut caps = [
        Capture::new(Table::Traces, &items::SPAN_COLUMNS, &["SpanName", "Events.Name"]),
        Capture::new(Table::Logs, &items::LOG_COLUMNS, &[]),
        Capture::new(Table::Metrics, &items::METRIC_COLUMNS, &[]),
    ];
    let (mut sb, mut lb) = (span_buckets, log_buckets);
    let (mut roots, mut points, mut counts) = (Durations::default(), WantedPoints::default(), Counts::default());
    let (mut e, mut buf, mut failed) = (Enc::default(), Vec::new(), None);
    while let Some(table) = read_frame(&mut frames, &mut buf)? {
        match table {
            Table::Traces => caps[0].decode(table, &buf, |row, d| {
                let s = Span::read(row, d, resources);
                if s.parent == 0 {
                    roots.add(s.duration.cast_unsigned(), false);
                }
                counts.spans += 1;
                s.encode(&mut e);
                if let Err(err) = sb.put(s.trace, &e.0) {
                    failed.get_or_insert(err);
                }
            })?,
            Table::Logs => caps[1].decode(table, &buf, |row, d| {
                let l = Log::read(row, d, resources);
                counts.log_records += 1;
                l.encode(&mut e);
                if let Err(err) = lb.put(l.group.0, &e.0) {
                    failed.get_or_insert(err);
                }
            })?,
            Table::Metrics => caps[2].decode(table, &buf, |row, d| {
                points.add(Point::read(row, d, resources));
                counts.metric_points += 1;
            })?,
        }
        if let Some(err) = failed.take() {
            return Err(err);
        }
    }
    let mut dict = Dict::default();
    for c in caps {
        dict.merge(c.dict);
    }
    Ok(ExpectedSide { spans: sb.finish()?, logs: lb.finish()?, points, counts, roots, dict })
}

/// Reads `table` under `root` once, encoding each row (`encode` writes it and returns its
/// trace id, or `None` to leave it out) into the bucket of its trace id; the buckets.
fn spill_table(
    root: &Snapshot,
    table: Table,
    columns: &[&str],
    mut out: Buckets,
    mut encode: impl FnMut(&Batch, usize, &mut Enc) -> Option<u128>,
) -> Result<Vec<Bucket>, ReportError> {
    let (mut e, mut failed) = (Enc::default(), None);
    rows(root, table, &Filter::default(), columns, |b, i| {
        if let Some(trace) = encode(b, i, &mut e)
            && let Err(err) = out.put(trace, &e.0)
        {
            failed.get_or_insert(err);
        }
    })?;
    match failed {
        Some(err) => Err(err),
        None => out.finish(),
    }
}

/// A thread's result (its panic, carried on).
fn joined<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> T {
    h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// Which received items belong to another run: those whose resource names another run id
/// (when the run has one).
struct RunFilter {
    key: u64,
    id: Option<u64>,
}

impl RunFilter {
    fn other(&self, resource: Option<&items::Entries>) -> bool {
        self.id.is_some_and(|id| resource.is_some_and(|r| r.iter().any(|&(k, v)| k == self.key && v != id)))
    }
}

/// One join of the second phase.
enum Task {
    Spans(Bucket, Bucket),
    Logs(Bucket, Bucket),
    Metrics(WantedPoints, Vec<Point>),
}

/// What one worker of the second phase found.
struct Found {
    spans: SpanResult,
    logs: Tally,
    metrics: Tally,
}

fn run_tasks(
    tasks: &std::sync::Mutex<Vec<Task>>,
    threshold_ns: u64,
    resources: &items::Resources,
) -> Result<Found, ReportError> {
    let mut f = Found { spans: SpanResult::new(threshold_ns), logs: Tally::default(), metrics: Tally::default() };
    let error = hash(b"Error");
    loop {
        let task = tasks.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
        match task {
            None => return Ok(f),
            Some(Task::Spans(w, g)) => {
                let (w, g) = (w.take()?, g.take()?);
                join::spans(
                    spill::all_records(&w).map(Span::decode),
                    spill::all_records(&g).map(Span::decode),
                    (error, resources),
                    &mut f.spans,
                );
            }
            Some(Task::Logs(w, g)) => {
                let want = spill::all_records(&w.take()?).map(Log::decode).collect();
                let got = spill::all_records(&g.take()?).map(Log::decode).collect();
                join::logs(want, got, resources, &mut f.logs);
            }
            Some(Task::Metrics(w, g)) => f.metrics.merge(join::metrics(w, g, resources)),
        }
    }
}

/// Compares the store `received` with the run generated again, read as frames (see
/// [`write_frame`]) from `expected`; `counts` (the run's manifest's) size the buckets, `per`
/// items a bucket ([`PASS_ITEMS`] by default), spilled under `scratch` when there are several.
/// With `run` (the run's `--run-id`), received items of another run are counted apart.
pub fn compare(
    expected: impl Read + Send,
    counts: Counts,
    run: Option<&str>,
    received: &Snapshot,
    scratch: &Path,
    per: u64,
) -> Result<(Verdict, Report), ReportError> {
    let got_spans = crate::scan::row_count(received, Table::Traces)?;
    let got_logs = crate::scan::row_count(received, Table::Logs)?;
    let (nspans, nlogs) = (buckets(counts.spans.max(got_spans), per), buckets(counts.log_records.max(got_logs), per));
    let (sdir, ldir) = (scratch.join("spans"), scratch.join("logs"));
    let mut want_resources = items::resources();
    // First phase: each side read once, at the same time.
    let run = RunFilter { key: hash(tsim_model::RUN_ID_KEY.as_bytes()), id: run.map(|r| hash(r.as_bytes())) };
    let run = &run;
    let (want, got_span_buckets, (got_log_buckets, got_points, mut resources, got_dict, other)) =
        std::thread::scope(|sc| {
            let want_resources = &mut want_resources;
            let (sdir, ldir) = (&sdir, &ldir);
            let want = sc.spawn(move || {
                let b = (Buckets::create(sdir, "expected", nspans)?, Buckets::create(ldir, "expected", nlogs)?);
                read_expected(expected, b, want_resources)
            });
            let got_spans = sc.spawn(move || {
                let (mut d, mut other, mut res) = (Dict::default(), 0, items::resources());
                let out = Buckets::create(sdir, "received", nspans)?;
                let b = spill_table(received, Table::Traces, &items::SPAN_COLUMNS, out, |b, i, e| {
                    let s = Span::read(&mut At(b, i), &mut d, &mut res);
                    if run.other(res.get(&s.resource)) {
                        other += 1;
                        return None;
                    }
                    s.encode(e);
                    Some(s.trace)
                })?;
                Ok::<_, ReportError>((b, d, other, res))
            });
            let got_rest = sc.spawn(move || {
                let (mut d, mut other, mut res) = (Dict::default(), [0, 0], items::resources());
                let out = Buckets::create(ldir, "received", nlogs)?;
                let b = spill_table(received, Table::Logs, &items::LOG_COLUMNS, out, |b, i, e| {
                    let l = Log::read(&mut At(b, i), &mut d, &mut res);
                    if run.other(res.get(&l.resource)) {
                        other[0] += 1;
                        return None;
                    }
                    l.encode(e);
                    Some(l.group.0)
                })?;
                let mut points = Vec::new();
                rows(received, Table::Metrics, &Filter::default(), &items::METRIC_COLUMNS, |b, i| {
                    let p = Point::read(&mut At(b, i), &mut d, &mut res);
                    if run.other(res.get(&p.resource)) {
                        other[1] += 1;
                    } else {
                        points.push(p);
                    }
                })?;
                Ok::<_, ReportError>((b, points, res, d, other))
            });
            let (want, got_spans, got_rest) = (joined(want), joined(got_spans), joined(got_rest));
            Ok::<_, ReportError>((want?, got_spans?, got_rest?))
        })?;
    let (got_span_buckets, span_dict, other_spans, span_resources) = got_span_buckets;
    resources.extend(span_resources);
    let mut dict = want.dict;
    dict.merge(span_dict);
    dict.merge(got_dict);
    resources.extend(want_resources);
    let slow_threshold_ns = threshold(&want.roots);
    // Second phase: the buckets joined pairwise, on two threads.
    let mut tasks: Vec<Task> = want.spans.into_iter().zip(got_span_buckets).map(|(w, g)| Task::Spans(w, g)).collect();
    tasks.extend(want.logs.into_iter().zip(got_log_buckets).map(|(w, g)| Task::Logs(w, g)));
    tasks.push(Task::Metrics(want.points, got_points));
    let tasks = std::sync::Mutex::new(tasks);
    let found = std::thread::scope(|sc| {
        let workers: Vec<_> = (0..2).map(|_| sc.spawn(|| run_tasks(&tasks, slow_threshold_ns, &resources))).collect();
        workers.into_iter().map(joined).collect::<Result<Vec<_>, _>>()
    })?;
    let mut s = SpanResult::new(slow_threshold_ns);
    let (mut l, mut m) = (Tally::default(), Tally::default());
    for f in found {
        s.merge(f.spans);
        l.merge(f.logs);
        m.merge(f.metrics);
    }
    s.tally.expected = want.counts.spans;
    l.expected = want.counts.log_records;
    m.expected = want.counts.metric_points;
    (s.tally.other_runs, l.other_runs, m.other_runs) = (other_spans, other[0], other[1]);
    Ok(output::render(&s, &l, &m, &dict))
}

/// The verdict: whether the received store holds exactly what was generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing lost, duplicated, unexpected or altered.
    Identical,
    /// Some difference.
    Differences,
}
