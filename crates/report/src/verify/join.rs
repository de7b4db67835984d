//! The joins of one bucket of expected items with the received ones of the same trace ids:
//! spans by trace and span id, log records by group and ordinal, metric points as a
//! multiset per series and time. Each adds what it finds to its signal's tallies.

use super::items::{Log, LogGroup, Point, Resources, Span};
use super::tally::{EntryPair, Kept, SpanResult, Tally, TraceKept};
use crate::stats::{FastMap, fast_map};

/// Joins one bucket of spans: `want` expected, `got` received (same trace ids).
pub fn spans(
    want: impl Iterator<Item = Span>,
    got: impl Iterator<Item = Span>,
    (error, resources): (u64, &Resources),
    r: &mut SpanResult,
) {
    let mut wanted: FastMap<(u128, u64), Span> = fast_map();
    wanted.extend(want.map(|s| (s.key(), s)));
    for g in got {
        match_span(&mut wanted, &g, resources, r);
    }
    kept(&wanted, error, r);
}

/// The entries of two resources, nothing when they are the same.
fn pair(resources: &Resources, want: u64, got: u64) -> EntryPair<'_> {
    if want == got {
        return (&[], &[]);
    }
    let of = |h| resources.get(&h).map_or(&[][..], Vec::as_slice);
    (of(want), of(got))
}

/// Joins one received span with the expected ones.
fn match_span(want: &mut FastMap<(u128, u64), Span>, got: &Span, resources: &Resources, r: &mut SpanResult) {
    let t = &mut r.tally;
    let Some(w) = want.get_mut(&got.key()) else {
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
    differ |= t.diff_events_links((&w.events, &got.events), (&w.links, &got.links));
    let fields = [
        ("duration", w.duration == got.duration),
        ("status", w.status == got.status),
        ("kind", w.kind == got.kind),
        ("parent", w.parent == got.parent),
        ("service", w.service == got.service),
    ];
    t.alter(differ, &fields, (&w.attrs, &got.attrs), pair(resources, w.resource, got.resource));
}

/// After a bucket was joined: the missing spans, and which traces were kept (a trace is
/// whole in one bucket: buckets are by trace id).
fn kept(want: &FastMap<(u128, u64), Span>, error: u64, r: &mut SpanResult) {
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
        let add = |k: &mut Kept| k.add(tr);
        add(&mut r.all);
        if tr.error {
            add(&mut r.errors);
        }
        if tr.root_ns.is_some_and(|d| d.cast_unsigned() >= r.slow_threshold_ns) {
            add(&mut r.slow);
        }
    }
}

/// Orders a group's records: by time, ties by content.
fn by_group_time(v: &mut [Log]) {
    v.sort_by(|a, b| a.group.cmp(&b.group).then(a.time.cmp(&b.time)).then(a.body.cmp(&b.body)));
}

/// Joins one bucket of log records.
pub fn logs(mut want: Vec<Log>, mut got: Vec<Log>, resources: &Resources, t: &mut Tally) {
    // Each record's ordinal in its group, in time order (ties by content).
    by_group_time(&mut want);
    let mut wanted: FastMap<(LogGroup, u32), Log> = fast_map();
    wanted.reserve(want.len());
    let (mut last, mut n) = (None, 0u32);
    for l in want {
        if last != Some(l.group) {
            last = Some(l.group);
            n = 0;
        }
        wanted.insert((l.group, n), l);
        n += 1;
    }
    // Received records get ordinals the same way; a duplicate is the same content again.
    by_group_time(&mut got);
    let (mut last, mut n, mut prev): (Option<LogGroup>, u32, Option<(i64, u64)>) = (None, 0, None);
    for g in got {
        if last != Some(g.group) {
            last = Some(g.group);
            n = 0;
            prev = None;
        }
        // The same record again, where the run had no such twin.
        let twin = wanted.get(&(g.group, n)).is_some_and(|w| (w.time, w.body) == (g.time, g.body));
        if !twin && prev == Some((g.time, g.body)) {
            t.duplicated += 1;
            continue;
        }
        prev = Some((g.time, g.body));
        let Some(w) = wanted.get_mut(&(g.group, n)) else {
            t.unexpected += 1;
            n += 1;
            continue;
        };
        n += 1;
        w.seen += 1;
        t.delivered += 1;
        let differ = t.shift(w.time, g.time);
        let fields = [("severity", w.severity == g.severity), ("body", w.body == g.body)];
        t.alter(differ, &fields, (&w.attrs, &g.attrs), pair(resources, w.resource, g.resource));
    }
    t.missing += wanted.values().filter(|l| l.seen == 0).count() as u64;
}

/// An expected point.
struct Wanted {
    /// Its value's digest.
    value: u64,
    /// Whether a received point took it.
    seen: bool,
    /// Its series without its resource, and its resource.
    loose: u64,
    resource: u64,
    exemplars: Box<[(u64, u64)]>,
}

/// The expected metric points: series and time → the points there.
#[derive(Default)]
pub struct WantedPoints {
    points: FastMap<(u64, i64), Vec<Wanted>>,
    count: u64,
}

impl WantedPoints {
    /// Adds an expected point.
    pub fn add(&mut self, p: Point) {
        let w = Wanted {
            value: p.value,
            seen: false,
            loose: p.loose,
            resource: p.resource,
            exemplars: p.exemplars.into_boxed_slice(),
        };
        self.points.entry((p.series, p.time)).or_default().push(w);
        self.count += 1;
    }
}

/// Takes the expected point a received one (same series and time) is: the first not taken
/// with its value, one with its exemplars too if there is one.
fn take<'a>(group: &'a mut [Wanted], p: &Point) -> Option<&'a mut Wanted> {
    let free = |w: &Wanted| !w.seen && w.value == p.value;
    let i =
        group.iter().position(|w| free(w) && *w.exemplars == *p.exemplars).or_else(|| group.iter().position(free))?;
    let w = &mut group[i];
    w.seen = true;
    Some(w)
}

/// Joins the received points with the expected ones, as a multiset per series and time:
/// resources with the same attributes (scenarios sharing a service) give one series several
/// points at one time.
pub fn metrics(mut want: WantedPoints, got: Vec<Point>, resources: &Resources) -> Tally {
    let mut t = Tally { expected: want.count, ..Tally::default() };
    let mut unmatched: Vec<Point> = Vec::new();
    for p in got {
        let Some(group) = want.points.get_mut(&(p.series, p.time)) else {
            unmatched.push(p);
            continue;
        };
        if let Some(w) = take(group, &p) {
            t.delivered += 1;
            t.altered += u64::from(t.diff_exemplars(&w.exemplars, &p.exemplars));
        } else if group.iter().any(|w| w.value == p.value) {
            t.duplicated += 1;
        } else {
            unmatched.push(p);
        }
    }
    // Second chance for the rest: the same series and time with another value (an altered
    // value), or the same point under another resource (altered resource attributes).
    let mut by_point: FastMap<(u64, i64, u64), Vec<u64>> = fast_map();
    for ((_, time), g) in &want.points {
        for w in g.iter().filter(|w| !w.seen) {
            by_point.entry((w.loose, *time, w.value)).or_default().push(w.resource);
        }
    }
    for p in unmatched {
        if let Some(res) = by_point.get_mut(&(p.loose, p.time, p.value)).and_then(Vec::pop) {
            if let Some(w) = want
                .points
                .get_mut(&(p.loose ^ res.rotate_left(17), p.time))
                .and_then(|g| g.iter_mut().find(|w| !w.seen && w.value == p.value && w.resource == res))
            {
                w.seen = true;
                t.diff_exemplars(&w.exemplars, &p.exemplars);
            }
            t.delivered += 1;
            t.altered += 1;
            let none = Vec::new();
            let (a, b) = (resources.get(&res).unwrap_or(&none), resources.get(&p.resource).unwrap_or(&none));
            if !t.diff_resource(a, b) {
                t.field("service");
            }
            continue;
        }
        match want.points.get_mut(&(p.series, p.time)).and_then(|g| g.iter_mut().find(|w| !w.seen)) {
            Some(w) => {
                w.seen = true;
                t.delivered += 1;
                t.altered += 1;
                t.field("value");
                t.diff_exemplars(&w.exemplars, &p.exemplars);
            }
            None => t.unexpected += 1,
        }
    }
    t.missing = want.points.values().flatten().filter(|w| !w.seen).count() as u64;
    t
}
