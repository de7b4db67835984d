//! What a join counts: per signal, delivered / missing / duplicated / unexpected / altered
//! items with the keys, fields, events, links and exemplars that changed; for spans, which
//! traces were kept and how late spans arrived. Tallies of buckets joined apart are merged.

use std::collections::BTreeMap;

use super::items::{Change, diff_entries, diff_multi};
use crate::stats::{Durations, FastMap, fast_map};

/// Per attribute key: items that lost it, gained it, or had its value changed.
#[derive(Debug, Default, Clone, Copy)]
pub struct KeyDiff {
    pub dropped: u64,
    pub added: u64,
    pub changed: u64,
}

impl KeyDiff {
    fn count(&mut self, how: Change) {
        match how {
            Change::Dropped => self.dropped += 1,
            Change::Added => self.added += 1,
            Change::Changed => self.changed += 1,
        }
    }

    /// Counts an item once for each way it differs (`dropped`, `added`, `changed`: how many of
    /// its events, links or exemplars did).
    fn item(&mut self, dropped: u64, added: u64, changed: u64) {
        self.dropped += u64::from(dropped > 0);
        self.added += u64::from(added > 0);
        self.changed += u64::from(changed > 0);
    }

    /// Whether nothing is counted.
    pub fn is_empty(&self) -> bool {
        self.dropped + self.added + self.changed == 0
    }

    fn merge(&mut self, o: &KeyDiff) {
        self.dropped += o.dropped;
        self.added += o.added;
        self.changed += o.changed;
    }
}

/// Expected and received entries of one map.
pub type EntryPair<'a> = (&'a [(u64, u64)], &'a [(u64, u64)]);

/// Counts of one signal.
#[derive(Debug)]
pub struct Tally {
    pub expected: u64,
    pub delivered: u64,
    pub missing: u64,
    pub duplicated: u64,
    pub unexpected: u64,
    pub altered: u64,
    /// Received items of other runs (set aside).
    pub other_runs: u64,
    /// Per key digest.
    pub attrs: FastMap<u64, KeyDiff>,
    pub resource: FastMap<u64, KeyDiff>,
    /// Items whose time moved, and the largest move (ns).
    pub shifted: u64,
    pub max_shift: u64,
    /// Other fields: name → count (status, kind, parent, duration, body, severity, value…).
    pub fields: BTreeMap<&'static str, u64>,
    /// Per event name digest: spans that lost, gained, or had changed an event of that name.
    pub events: FastMap<u64, KeyDiff>,
    /// Spans that lost, gained, or had changed a link.
    pub links: KeyDiff,
    /// Points that lost, gained, or had changed an exemplar.
    pub exemplars: KeyDiff,
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
            other_runs: 0,
            attrs: fast_map(),
            resource: fast_map(),
            shifted: 0,
            max_shift: 0,
            fields: BTreeMap::new(),
            events: fast_map(),
            links: KeyDiff::default(),
            exemplars: KeyDiff::default(),
        }
    }
}

/// Counts an item in `d` by how its list (links, exemplars: sorted (reference, content)
/// pairs) differs; whether it does.
fn diff_list(d: &mut KeyDiff, want: &[(u64, u64)], got: &[(u64, u64)]) -> bool {
    let mut n = KeyDiff::default();
    let differ = diff_multi(want, got, |_, dropped, added, changed| {
        n.dropped += dropped;
        n.added += added;
        n.changed += changed;
    });
    d.item(n.dropped, n.added, n.changed);
    differ
}

impl Tally {
    /// Counts a changed field.
    pub fn field(&mut self, name: &'static str) {
        *self.fields.entry(name).or_default() += 1;
    }

    /// Counts a moved time; whether it moved.
    pub fn shift(&mut self, want: i64, got: i64) -> bool {
        if want == got {
            return false;
        }
        self.shifted += 1;
        self.max_shift = self.max_shift.max(want.abs_diff(got));
        true
    }

    /// Counts the differences of two resources' attributes; whether they differ.
    pub fn diff_resource(&mut self, want: &[(u64, u64)], got: &[(u64, u64)]) -> bool {
        let r = &mut self.resource;
        diff_entries(want, got, |k, how| r.entry(k).or_default().count(how))
    }

    /// Counts the differences of a span's events (per name) and links (each expected and
    /// received); whether they differ.
    pub fn diff_events_links(&mut self, events: EntryPair<'_>, links: EntryPair<'_>) -> bool {
        let ev = &mut self.events;
        let differ = diff_multi(events.0, events.1, |name, d, a, c| ev.entry(name).or_default().item(d, a, c));
        diff_list(&mut self.links, links.0, links.1) | differ
    }

    /// Counts the differences of a point's exemplars; whether they differ.
    pub fn diff_exemplars(&mut self, want: &[(u64, u64)], got: &[(u64, u64)]) -> bool {
        diff_list(&mut self.exemplars, want, got)
    }

    /// Counts a delivered item's changed fields (`(name, same)`) and its attribute and resource
    /// differences; it is altered if any differ or `differ` already says so.
    pub fn alter(
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
        let a = &mut self.attrs;
        differ |= diff_entries(attrs.0, attrs.1, |k, how| a.entry(k).or_default().count(how));
        differ |= self.diff_resource(resource.0, resource.1);
        self.altered += u64::from(differ);
    }

    /// Items that differ in any way.
    pub fn differences(&self) -> u64 {
        self.missing + self.duplicated + self.unexpected + self.altered
    }

    /// Adds another bucket's counts.
    pub fn merge(&mut self, o: Tally) {
        self.expected += o.expected;
        self.delivered += o.delivered;
        self.missing += o.missing;
        self.duplicated += o.duplicated;
        self.unexpected += o.unexpected;
        self.altered += o.altered;
        for (mine, theirs) in
            [(&mut self.attrs, o.attrs), (&mut self.resource, o.resource), (&mut self.events, o.events)]
        {
            for (k, d) in theirs {
                mine.entry(k).or_default().merge(&d);
            }
        }
        self.shifted += o.shifted;
        self.max_shift = self.max_shift.max(o.max_shift);
        for (k, n) in o.fields {
            *self.fields.entry(k).or_default() += n;
        }
        self.links.merge(&o.links);
        self.exemplars.merge(&o.exemplars);
    }
}

/// Per trace: spans expected and delivered, and whether it failed or was slow.
#[derive(Default)]
pub struct TraceKept {
    pub spans: u32,
    pub delivered: u32,
    pub error: bool,
    pub root_ns: Option<i64>,
}

/// Which traces were kept, by kind.
#[derive(Debug, Default, Clone, Copy)]
pub struct Kept {
    pub expected: u64,
    pub kept: u64,
    pub whole: u64,
}

impl Kept {
    /// Counts a trace.
    pub fn add(&mut self, t: &TraceKept) {
        self.expected += 1;
        self.kept += u64::from(t.delivered > 0);
        self.whole += u64::from(t.delivered >= t.spans);
    }

    fn merge(&mut self, o: &Kept) {
        self.expected += o.expected;
        self.kept += o.kept;
        self.whole += o.whole;
    }

    /// As `verify --format json` writes it.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "expected": self.expected,
            "kept": self.kept,
            "whole": self.whole,
            "partial": self.kept - self.whole,
            "keptFraction": if self.expected == 0 { 0.0 } else { self.kept as f64 / self.expected as f64 },
        })
    }
}

/// Renamed spans: (expected name, received name) → count.
pub type Renames = FastMap<(u64, u64), u64>;

/// What the span join found.
pub struct SpanResult {
    pub tally: Tally,
    pub renames: Renames,
    pub all: Kept,
    pub errors: Kept,
    pub slow: Kept,
    pub slow_threshold_ns: u64,
    /// Receive time minus span end, of the delivered spans with a receive time.
    pub delay: Durations,
    /// Of those, spans received before they ended (a clock ahead, or a sender that does
    /// not wait for the end).
    pub early: u64,
}

impl SpanResult {
    /// Nothing yet, with this slow-trace threshold.
    pub fn new(slow_threshold_ns: u64) -> Self {
        Self {
            tally: Tally::default(),
            renames: fast_map(),
            all: Kept::default(),
            errors: Kept::default(),
            slow: Kept::default(),
            slow_threshold_ns,
            delay: Durations::default(),
            early: 0,
        }
    }

    /// Adds another bucket's findings.
    pub fn merge(&mut self, o: SpanResult) {
        self.tally.merge(o.tally);
        for (k, n) in o.renames {
            *self.renames.entry(k).or_default() += n;
        }
        self.all.merge(&o.all);
        self.errors.merge(&o.errors);
        self.slow.merge(&o.slow);
        self.delay.merge(&o.delay);
        self.early += o.early;
    }
}
