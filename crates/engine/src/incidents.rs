//! Incidents compiled for a run: their windows in simulated time, which span nodes of which
//! scenario each may hit (decided now when the node's name and attributes are fixed, else
//! when the span's attributes are drawn), what they do there, and the traffic they add.

use tsim_model::num::{f64_of, u64_sat};
use tsim_scenario::{GaugeEffect, IncidentSpec, When};

use crate::compile::{CNode, CompiledScenario, Gen, Lit, NPart};
use crate::error::CompileError;
use crate::sample::Sampler;

/// Most incidents one run may have (each is one bit of a span's hit mask).
pub const MAX_INCIDENTS: usize = 64;
/// Most builds of one trace while its spans' starts settle on their side of window edges.
pub(crate) const MAX_PASSES: usize = 8;

/// Longest stretch of simulated time whose periodic windows are laid out for the traffic of
/// an unbounded run.
const TRAFFIC_HORIZON_NS: u64 = 400 * 86_400 * 1_000_000_000;
/// Most windows laid out for the traffic.
const MAX_TRAFFIC_WINDOWS: usize = 100_000;
/// Steps of a traffic ramp (each at the mean level of its step).
const RAMP_STEPS: u64 = 16;

/// An incident's index (at most [`MAX_INCIDENTS`]).
fn small(k: usize) -> u16 {
    u16::try_from(k).unwrap_or(u16::MAX)
}

/// When an incident's windows are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timing {
    pub start_ns: u64,
    /// 0: once.
    pub every_ns: u64,
    pub dur_ns: u64,
    pub ramp_ns: u64,
}

/// One compiled incident.
#[derive(Debug)]
pub(crate) struct CIncident {
    pub name: Box<str>,
    pub timing: Timing,
    /// Latency: multiplier, milliseconds added, replacement distribution.
    pub latency: Option<(f64, f64, Option<Sampler>)>,
    pub error: Option<(f64, Box<str>)>,
    pub outage: Option<Box<str>>,
    pub gauges: Vec<GaugeEffect>,
    pub traffic: Option<f64>,
    pub tokens: Option<f64>,
    /// Per scenario of the engine: whether it acts on that scenario's traces.
    pub scenarios: Vec<bool>,
}

impl std::ops::Deref for CIncident {
    type Target = Timing;
    fn deref(&self) -> &Timing {
        &self.timing
    }
}

impl Timing {
    /// The window containing `t`: its occurrence number and start.
    pub fn window_at(&self, t: u64) -> Option<(u64, u64)> {
        let (k, s) = self.last_start(t)?;
        (t < s.saturating_add(self.dur_ns)).then_some((k, s))
    }

    /// The latest window start at or before `t`.
    pub fn last_start(&self, t: u64) -> Option<(u64, u64)> {
        if t < self.start_ns {
            return None;
        }
        let k = (t - self.start_ns).checked_div(self.every_ns).unwrap_or(0);
        Some((k, self.start_ns + k * self.every_ns))
    }

    /// How strongly it acts at `t` in the window starting at `s` (0 to 1: the ramps).
    pub fn level(&self, s: u64, t: u64) -> f64 {
        if self.ramp_ns == 0 {
            return 1.0;
        }
        let into = f64_of(t.saturating_sub(s));
        let left = f64_of((s + self.dur_ns).saturating_sub(t));
        (into.min(left) / f64_of(self.ramp_ns)).min(1.0)
    }
}

impl Active {
    /// A window of incident `incident` that acts on a trace, with nothing counted yet.
    pub(crate) fn new(incident: u16, occurrence: u64, level: f64, traffic_only: bool) -> Self {
        Self { incident, occurrence, level, spans: 0, errors: 0, traffic_only }
    }
}

impl CIncident {
    /// How strongly it acts on a span starting at `t`: `None` outside its windows.
    pub fn level_at(&self, t: u64) -> Option<f64> {
        let (_, s) = self.window_at(t)?;
        Some(self.level(s, t)).filter(|l| *l > 0.0)
    }

    /// Whether it acts on spans (the traffic alone acts on arrivals).
    pub fn on_spans(&self) -> bool {
        self.latency.is_some() || self.error.is_some() || self.outage.is_some() || self.tokens.is_some()
    }
}

/// Where a match condition reads its value.
#[derive(Debug)]
pub(crate) enum Src {
    /// The node's attribute at this index (drawn early).
    Node(usize),
    /// The trace attribute at this index.
    Trace(usize),
}

/// An incident that may hit a node, and what must hold when the span is made.
#[derive(Debug)]
pub(crate) struct NodeHit {
    pub incident: u16,
    /// The span-name glob, when the name is made from attributes.
    pub name_glob: Option<Box<str>>,
    pub conds: Vec<(Src, Box<str>)>,
    /// The node's attributes must be drawn when the span starts.
    pub pre: bool,
}

/// One incident's window that overlaps a run, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Index of the incident.
    pub incident: u16,
    /// Which of its windows (0 for the first).
    pub occurrence: u64,
    /// Start, Unix ns.
    pub start_ns: u64,
    /// End, Unix ns.
    pub end_ns: u64,
}

/// A trace's active incident and what it hit (the summary's figures).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Active {
    /// Index of the incident.
    pub incident: u16,
    /// Which of its windows.
    pub occurrence: u64,
    /// Strength at the first span it hit in the trace (for incidents on arrivals: at the
    /// trace's start; the ramps).
    pub level: f64,
    /// Spans of the trace it hit.
    pub spans: u64,
    /// Of those, spans that failed.
    pub errors: u64,
    /// It acts on arrivals only (every trace of its scenarios in the window is its).
    pub traffic_only: bool,
}

fn lit_text(l: &Lit) -> String {
    match l {
        Lit::Str(s) => s.to_string(),
        Lit::Int(i) => i.to_string(),
        Lit::Double(d) => d.to_string(),
        Lit::Bool(b) => b.to_string(),
    }
}

/// Whether a value can be drawn when the span starts (it depends on nothing the span's
/// end decides).
pub(crate) fn early(g: &Gen) -> bool {
    matches!(g, Gen::Lit(_) | Gen::Num { .. } | Gen::Cat { .. } | Gen::Uuid | Gen::Seq { .. })
}

/// Whether a name made from `parts` can match `glob`: every name is tried when the
/// attributes it uses are drawn from lists (up to a few hundred names); else it may.
fn some_name_matches(glob: &str, parts: &[NPart], n: &CNode) -> bool {
    const MOST: usize = 256;
    let mut names = vec![String::new()];
    for p in parts {
        let options: Vec<String> = match p {
            NPart::Text(t) => vec![t.to_string()],
            NPart::SpanAttr(key) => match n.attrs.iter().find(|a| a.key == *key).map(|a| &a.value) {
                Some(Gen::Lit(l)) => vec![lit_text(l)],
                Some(Gen::Cat { values, .. }) => values.iter().map(lit_text).collect(),
                _ => return true,
            },
            NPart::Builtin(_) => return true,
        };
        if names.len() * options.len() > MOST {
            return true;
        }
        names = names.iter().flat_map(|a| options.iter().map(move |o| format!("{a}{o}"))).collect();
    }
    names.iter().any(|name| crate::declared::glob(glob, name))
}

/// What `spec` may do at `n`: `None` when it can never hit it.
fn node_hit(k: u16, spec: &IncidentSpec, n: &CNode, trace_keys: &[Box<str>]) -> Option<NodeHit> {
    let mut hit = NodeHit { incident: k, name_glob: None, conds: Vec::new(), pre: false };
    if let Some(g) = &spec.target.spans {
        match &n.name_parts {
            None => {
                if !crate::declared::glob(g, &n.name) {
                    return None;
                }
            }
            Some(parts) => {
                // A name made of text and the span's early attributes only.
                for p in parts {
                    match p {
                        NPart::Text(_) => {}
                        NPart::SpanAttr(key) => {
                            let a = n.attrs.iter().find(|a| a.key == *key)?;
                            if !early(&a.value) {
                                return None;
                            }
                            hit.pre = true;
                        }
                        NPart::Builtin(_) => return None,
                    }
                }
                if !some_name_matches(g, parts, n) {
                    return None;
                }
                hit.name_glob = Some(g.as_str().into());
            }
        }
    }
    for (key, want) in &spec.target.attributes {
        match n.attrs.iter().position(|a| &*a.key == key.as_str()) {
            Some(i) => match &n.attrs[i].value {
                Gen::Lit(l) => {
                    if lit_text(l) != *want {
                        return None;
                    }
                }
                g if early(g) => {
                    if let Gen::Cat { values, .. } = g
                        && !values.iter().any(|v| lit_text(v) == *want)
                    {
                        return None;
                    }
                    hit.conds.push((Src::Node(i), want.as_str().into()));
                    hit.pre = true;
                }
                _ => return None,
            },
            None => match trace_keys.iter().position(|t| &**t == key.as_str()) {
                Some(i) => hit.conds.push((Src::Trace(i), want.as_str().into())),
                None => return None,
            },
        }
    }
    Some(hit)
}

fn service_of(engine_resources: &tsim_model::Resources, rid: u32) -> Option<&str> {
    engine_resources.list.get(rid as usize)?.attrs.iter().find(|(k, _)| k == "service.name").and_then(
        |(_, v)| match v {
            tsim_model::OwnedValue::Str(s) => Some(s.as_str()),
            _ => None,
        },
    )
}

/// The compiled incidents of a run and the node tables' hits.
#[derive(Debug, Default)]
pub(crate) struct Incidents {
    pub list: Vec<CIncident>,
    pub specs: Vec<IncidentSpec>,
    /// [scenario][table][node] → the incidents that may hit it (table: the plain tree, or
    /// each variant's).
    pub hits: Vec<Vec<Vec<Vec<NodeHit>>>>,
    /// Some traffic incident is limited to some scenarios (arrivals change their mix).
    pub scoped_traffic: bool,
}

impl Incidents {
    /// Compiles `specs` for `scenarios` (names, services of their resources), with the run
    /// starting at `start_ns` (for `after:`).
    pub fn new(
        specs: Vec<IncidentSpec>,
        scenarios: &[CompiledScenario],
        resources: &tsim_model::Resources,
        resource_of: impl Fn(usize) -> u32,
        start_ns: u64,
    ) -> Result<Self, CompileError> {
        if specs.len() > MAX_INCIDENTS {
            return Err(CompileError::Incidents(format!(
                "{} incidents: a run may have at most {MAX_INCIDENTS}",
                specs.len()
            )));
        }
        let ns = |s: f64| u64_sat((s * 1e9).round());
        let mut list = Vec::with_capacity(specs.len());
        for spec in &specs {
            let start = match spec.when {
                When::At(t) => t,
                When::After(s) => start_ns.saturating_add(ns(s)),
            };
            let latency = match &spec.effects.latency {
                Some(l) => {
                    let dist = match &l.distribution {
                        Some(d) => Some(Sampler::new(d, Some(0.0)).map_err(|e| CompileError::Distribution {
                            at: format!("incident `{}`", spec.name),
                            what: "latency distribution".into(),
                            reason: e,
                        })?),
                        None => None,
                    };
                    Some((l.multiply, l.add_ms, dist))
                }
                None => None,
            };
            let scoped: Vec<bool> = scenarios
                .iter()
                .enumerate()
                .map(|(si, sc)| {
                    let named =
                        spec.target.scenarios.is_empty() || spec.target.scenarios.iter().any(|n| **n == *sc.name);
                    let service = spec
                        .target
                        .service
                        .as_ref()
                        .is_none_or(|want| service_of(resources, resource_of(si)) == Some(want.as_str()));
                    named && service
                })
                .collect();
            list.push(CIncident {
                name: spec.name.as_str().into(),
                timing: Timing {
                    start_ns: start,
                    every_ns: spec.every_s.map_or(0, ns),
                    dur_ns: ns(spec.duration_s),
                    ramp_ns: ns(spec.ramp_s),
                },
                latency,
                error: spec.effects.error.as_ref().map(|(r, t)| (*r, t.as_str().into())),
                outage: spec.effects.outage.as_ref().map(|(t, _)| t.as_str().into()),
                gauges: spec.effects.outage.as_ref().map(|(_, g)| g.clone()).unwrap_or_default(),
                traffic: spec.effects.traffic,
                tokens: spec.effects.tokens,
                scenarios: scoped,
            });
        }
        let mut hits = Vec::with_capacity(scenarios.len());
        for (si, sc) in scenarios.iter().enumerate() {
            let tables: Vec<&[CNode]> = if sc.variants.is_empty() {
                vec![&sc.nodes]
            } else {
                sc.variants.iter().map(|v| v.nodes.as_slice()).collect()
            };
            let trace_keys: Vec<Box<str>> = tables
                .first()
                .and_then(|t| t.first())
                .map(|r| r.trace_attrs.iter().map(|a| a.key.clone()).collect())
                .unwrap_or_default();
            let per_table = tables
                .iter()
                .map(|nodes| {
                    nodes
                        .iter()
                        .map(|n| {
                            specs
                                .iter()
                                .enumerate()
                                .filter(|(k, _)| list[*k].scenarios[si] && list[*k].on_spans())
                                .filter_map(|(k, spec)| node_hit(small(k), spec, n, &trace_keys))
                                .collect()
                        })
                        .collect()
                })
                .collect();
            hits.push(per_table);
        }
        let scoped_traffic = list.iter().any(|c| c.traffic.is_some() && c.scenarios.iter().any(|s| !s));
        Ok(Incidents { list, specs, hits, scoped_traffic })
    }

    /// Nodes each incident may hit, over every scenario and table.
    pub fn hit_nodes(&self, k: usize) -> usize {
        self.hits.iter().flatten().flatten().filter(|h| h.iter().any(|h| h.incident as usize == k)).count()
    }

    /// The windows of every incident that overlap `[from, to)`, in time order (at most
    /// `limit` per incident).
    pub fn windows(&self, from: u64, to: u64, limit: usize) -> Vec<Window> {
        let mut out = Vec::new();
        for (k, c) in self.list.iter().enumerate() {
            let first = match c.last_start(from) {
                Some((occ, s)) if from < s.saturating_add(c.dur_ns) => occ,
                Some((occ, _)) if c.every_ns > 0 => occ + 1,
                Some(_) => continue,
                None => 0,
            };
            let mut occ = first;
            let mut n = 0;
            loop {
                let s = c.start_ns.saturating_add(occ.saturating_mul(c.every_ns));
                if s >= to || n >= limit || (c.every_ns == 0 && occ > 0) {
                    break;
                }
                out.push(Window {
                    incident: small(k),
                    occurrence: occ,
                    start_ns: s,
                    end_ns: s.saturating_add(c.dur_ns),
                });
                n += 1;
                occ += 1;
            }
        }
        out.sort_by_key(|w| (w.start_ns, w.incident));
        out
    }

    /// The traffic incidents as rate multipliers over time (for [`crate::Schedule::with_surges`]):
    /// disjoint, in order, each factor the arrivals' weighted mean over the scenarios.
    pub fn traffic_windows(&self, weights: &[f64], from: u64, to: Option<u64>) -> Vec<(u64, u64, f64)> {
        let to = to.unwrap_or(from.saturating_add(TRAFFIC_HORIZON_NS));
        let total: f64 = weights.iter().sum();
        if total <= 0.0 {
            return Vec::new();
        }
        // Pieces of constant level: (from, to, incident, level).
        let mut pieces: Vec<(u64, u64, usize, f64)> = Vec::new();
        for w in self.windows(from, to, MAX_TRAFFIC_WINDOWS) {
            let c = &self.list[w.incident as usize];
            if c.traffic.is_none() {
                continue;
            }
            if c.ramp_ns == 0 {
                pieces.push((w.start_ns, w.end_ns, w.incident as usize, 1.0));
                continue;
            }
            let step = (c.ramp_ns / RAMP_STEPS).max(1);
            let mut t = w.start_ns;
            while t < w.end_ns {
                let in_ramp = t < w.start_ns + c.ramp_ns || t >= w.end_ns - c.ramp_ns;
                let next = if in_ramp { (t + step).min(w.end_ns) } else { (w.end_ns - c.ramp_ns).max(t + 1) };
                let mid = t + (next - t) / 2;
                pieces.push((t, next, w.incident as usize, c.level(w.start_ns, mid)));
                t = next;
            }
        }
        let mut cuts: Vec<u64> = pieces.iter().flat_map(|p| [p.0, p.1]).collect();
        cuts.sort_unstable();
        cuts.dedup();
        let mut out: Vec<(u64, u64, f64)> = Vec::new();
        for pair in cuts.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let mid = a + (b - a) / 2;
            let mut per: Vec<f64> = vec![1.0; weights.len()];
            for p in pieces.iter().filter(|p| p.0 <= mid && mid < p.1) {
                let c = &self.list[p.2];
                let m = 1.0 + (c.traffic.unwrap_or(1.0) - 1.0) * p.3;
                for (s, f) in per.iter_mut().enumerate() {
                    if c.scenarios[s] {
                        *f *= m;
                    }
                }
            }
            let factor = per.iter().zip(weights).map(|(f, w)| f * w).sum::<f64>() / total;
            if (factor - 1.0).abs() < 1e-12 {
                continue;
            }
            match out.last_mut() {
                Some(last) if last.1 == a && (last.2 - factor).abs() < 1e-12 => last.1 = b,
                _ => out.push((a, b, factor)),
            }
        }
        out
    }

    /// Each scenario's arrival multiplier at `t` (traffic incidents limited to scenarios).
    pub fn mix_at(&self, t: u64, out: &mut Vec<f64>, n: usize) {
        out.clear();
        out.resize(n, 1.0);
        for c in &self.list {
            let Some(m) = c.traffic else { continue };
            if let Some((_, s)) = c.window_at(t) {
                let f = 1.0 + (m - 1.0) * c.level(s, t);
                for (si, v) in out.iter_mut().enumerate() {
                    if c.scenarios[si] {
                        *v *= f;
                    }
                }
            }
        }
    }
}

/// The first incident that judged a span at `at` otherwise than its actual `start` asks:
/// its index (attempt spans of a retried call follow the call's span, so are not judged).
pub(crate) fn misjudged_by(
    list: &[CIncident],
    hits: &[NodeHit],
    candidates: u64,
    at: u64,
    start: u64,
) -> Option<usize> {
    hits.iter().filter(|h| candidates & (1u64 << h.incident) != 0).map(|h| h.incident as usize).find(|&k| {
        let c = &list[k];
        c.level_at(at).is_some() != c.level_at(start).is_some()
    })
}

/// Whether some span of the trace just built in `out` was judged at a time on the other side
/// of a window's edge than its actual start.
pub(crate) fn misjudged(
    list: &[CIncident],
    node_hits: Option<&Vec<Vec<NodeHit>>>,
    candidates: u64,
    out: &tsim_model::TraceBuf<'_>,
    scratch: &crate::build::Scratch,
) -> bool {
    let Some(node_hits) = node_hits else { return false };
    // On the first build every span was judged at the trace's start: when no window edge of
    // these incidents lies within the trace (its root covers every span), none is misjudged.
    if scratch.hints.is_empty()
        && let Some(root) = out.spans.first()
        && !crosses_edge(list, candidates, root.start_ns, root.end_ns)
    {
        return false;
    }
    out.spans.iter().enumerate().any(|(j, span)| {
        let node = scratch.span_nodes[j];
        let at = scratch.span_hits.get(j).map_or(span.start_ns, |h| h.1);
        !node.attempt
            && node_hits
                .get(node.node as usize)
                .is_some_and(|hits| misjudged_by(list, hits, candidates, at, span.start_ns).is_some())
    })
}

/// Whether a window of one of the `candidates` starts or ends within `(from, to]`, or its
/// ramp leaves nothing at `from` and something later.
fn crosses_edge(list: &[CIncident], candidates: u64, from: u64, to: u64) -> bool {
    let mut bits = candidates;
    while bits != 0 {
        let c = &list[bits.trailing_zeros() as usize];
        bits &= bits - 1;
        if c.last_start(from) != c.last_start(to) || c.level_at(from).is_some() != c.level_at(to).is_some() {
            return true;
        }
    }
    false
}

/// Counts, per incident window, the spans of the trace just built that it hit and how many
/// of them failed (into `scratch.active`, after the incidents on arrivals).
pub(crate) fn tally(
    list: &[CIncident],
    trace_start: u64,
    out: &tsim_model::TraceBuf<'_>,
    scratch: &mut crate::build::Scratch,
) {
    for (j, &(hit, at)) in scratch.span_hits.iter().enumerate() {
        let mut bits = hit;
        while bits != 0 {
            let k = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let Some((occurrence, s)) = list[k].window_at(at) else { continue };
            let failed = out.spans.get(j).is_some_and(|sp| sp.status == tsim_model::StatusCode::Error);
            let incident = small(k);
            let a = match scratch.active.iter().position(|a| a.incident == incident && a.occurrence == occurrence) {
                Some(i) => &mut scratch.active[i],
                None => {
                    let level = list[k].level(s, at.max(trace_start));
                    scratch.active.push(Active::new(incident, occurrence, level, false));
                    let last = scratch.active.len() - 1;
                    &mut scratch.active[last]
                }
            };
            a.spans += 1;
            a.errors += u64::from(failed);
        }
    }
}
