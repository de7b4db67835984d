//! The seeded statistical engine of telemetry-simulator: scenarios → spans.
//!
//! Pure: no clock reads, no I/O. Trace `i` is a function of the run seed, `i`, its start
//! time and the scenarios, so runs replay byte for byte and any worker can build any trace.

// Numeric conversions that can lose value are visible: each one is fixed or carries its reason
// (tests, which compute statistics of what they check, are exempt).
#![cfg_attr(
    not(test),
    warn(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_possible_wrap,
        clippy::cast_precision_loss
    )
)]

use tsim_model::num::{f64_of, idx, usize_of};

mod build;
mod compile;
pub mod declared;
mod error;
mod incidents;
pub mod rng;
pub use error::{CompileError, SamplerError};
mod sample;
mod schedule;

pub use build::{EDGE_MIN_NS, SPAN_FLAGS, Scratch};
pub use compile::{CompiledScenario, DEFAULT_LEAF_MEDIAN_MS};
pub use incidents::{Active, MAX_INCIDENTS, Window};
pub use sample::Sampler;
pub use schedule::{Arrivals, Clock, Schedule, Traffic};

use rand::Rng;
use tsim_model::{OwnedValue, Resource, Resources, TraceBuf};
use tsim_scenario::{IncidentSpec, Literal, Scenario};

use crate::build::Builder;
use crate::rng::{cumulative, pick, splitmix64, trace_rng};

/// What the engine needs besides the scenarios.
#[derive(Debug, Clone, Default)]
pub struct EngineConfig {
    /// Run seed.
    pub seed: u64,
    /// Tenants with weights; empty: no tenant attribute.
    pub tenants: Vec<(String, f64)>,
    /// Resource attribute that carries the tenant (e.g. `vendor.tenant.id`).
    pub tenant_key: String,
    /// `service.name` set by the user; overrides the scenario's and the default.
    pub service_name: Option<String>,
    /// Resource attributes from the environment (`OTEL_RESOURCE_ATTRIBUTES`).
    pub resource_attributes: Vec<(String, String)>,
    /// Add OpenInference attributes (`openinference.span.kind`, `llm.*`) to GenAI spans.
    pub openinference: bool,
    /// Name each resource's scenario in [`tsim_model::SCENARIO_KEY`].
    pub mark_scenario: bool,
    /// The run's id, set on every resource as [`tsim_model::RUN_ID_KEY`].
    pub run_id: Option<String>,
    /// Build no log records (decisions, artifacts, logs): the run exports no logs. Spans
    /// are the same either way (records are drawn after them).
    pub no_records: bool,
    /// Trace `i` uses scenario `i mod n` (each scenario in turn) instead of a draw by weight.
    pub round_robin: bool,
    /// `schema_url` of every resource.
    pub schema_url: Option<String>,
    /// Put `incident.name` on the spans incidents hit.
    pub mark_incidents: bool,
}

/// Attribute keys naming a span's agent, in order of preference (the span, then ancestors).
pub const AGENT_KEYS: &[&str] = &["gen_ai.agent.name", "agent_name", "agent.name", "agent_id"];
/// Attribute keys naming a span's tool, in order of preference.
pub const TOOL_KEYS: &[&str] = &["gen_ai.tool.name", "tool_name", "tool.name", "tool_id"];

/// Default `service.name`.
pub const DEFAULT_SERVICE_NAME: &str = "telemetry-simulator";

/// Which scenario and tenant a generated trace used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generated {
    /// Index into the engine's scenarios.
    pub scenario: usize,
    /// Index into the tenants, if any.
    pub tenant: Option<usize>,
    /// Resource id in [`Engine::resources`].
    pub resource: u32,
    /// The trace reached its scenario's span budget (`max_spans_per_trace`) and was cut.
    pub cut: bool,
}

/// One build of a trace: what it was, from which node table, and the incidents that may act
/// on its spans.
struct Pass {
    g: Generated,
    table: usize,
    candidates: u64,
}

/// A set of compiled scenarios (mixed by weight) and tenants.
#[derive(Debug)]
pub struct Engine {
    scenarios: Vec<CompiledScenario>,
    scenario_cum: Vec<f64>,
    round_robin: bool,
    tenants: Vec<Box<str>>,
    tenant_cum: Vec<f64>,
    seed: u64,
    resources: Resources,
    /// Variant of each trace index of an exact-count run (single scenario).
    quota: Vec<u16>,
    openinference: bool,
    no_records: bool,
    /// Key of the trace-id bijection.
    id_key: u64,
    /// Scenario weights (traffic incidents reweigh them).
    weights: Vec<f64>,
    /// Incidents written in the scenarios (each scoped to its own scenario by default).
    own_incidents: Vec<IncidentSpec>,
    incidents: incidents::Incidents,
    mark_incidents: bool,
    fail_fast: Sampler,
}

/// Median duration of a call that fails fast (an outage's refused connection), in ms.
const FAIL_FAST_MEDIAN_MS: f64 = 2.0;

fn owned(l: &Literal) -> OwnedValue {
    match l {
        Literal::Str(s) => OwnedValue::Str(s.clone()),
        Literal::Int(i) => OwnedValue::Int(*i),
        Literal::Double(d) => OwnedValue::Double(*d),
        Literal::Bool(b) => OwnedValue::Bool(*b),
    }
}

fn set(attrs: &mut Vec<(String, OwnedValue)>, key: &str, v: OwnedValue) {
    match attrs.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = v,
        None => attrs.push((key.to_string(), v)),
    }
}

impl Engine {
    /// Compiles `scenarios` (at least one; weights must not all be zero when several).
    pub fn new(scenarios: &[&Scenario], cfg: &EngineConfig) -> Result<Self, CompileError> {
        if scenarios.is_empty() {
            return Err(CompileError::NoScenarios);
        }
        let weights: Vec<f64> = scenarios.iter().map(|s| s.weight).collect();
        if scenarios.len() > 1 && weights.iter().sum::<f64>() <= 0.0 {
            return Err(CompileError::NoWeight);
        }
        let tenant_total: f64 = cfg.tenants.iter().map(|(_, w)| *w).sum();
        if !cfg.tenants.is_empty()
            && (tenant_total <= 0.0 || cfg.tenants.iter().any(|(_, w)| *w < 0.0 || !w.is_finite()))
        {
            return Err(CompileError::TenantWeights);
        }
        let compiled = scenarios.iter().map(|s| CompiledScenario::new(s)).collect::<Result<Vec<_>, _>>()?;
        declared::check_names(scenarios.iter().flat_map(|s| s.metrics.iter().map(|m| (s.name.as_str(), m))))?;
        let tenants: Vec<Box<str>> = cfg.tenants.iter().map(|(t, _)| t.as_str().into()).collect();
        let mut resources =
            Resources { schema_url: cfg.schema_url.clone().unwrap_or_default(), ..Resources::default() };
        for s in scenarios {
            for t in 0..tenants.len().max(1) {
                let mut attrs: Vec<(String, OwnedValue)> = vec![
                    ("service.name".into(), OwnedValue::Str(DEFAULT_SERVICE_NAME.into())),
                    ("telemetry.sdk.name".into(), OwnedValue::Str("telemetry-simulator".into())),
                    ("telemetry.sdk.language".into(), OwnedValue::Str("rust".into())),
                    ("telemetry.sdk.version".into(), OwnedValue::Str(env!("CARGO_PKG_VERSION").into())),
                ];
                for (k, v) in &cfg.resource_attributes {
                    set(&mut attrs, k, OwnedValue::Str(v.clone()));
                }
                for (k, v) in &s.resource {
                    set(&mut attrs, k, owned(v));
                }
                if let Some(name) = &cfg.service_name {
                    set(&mut attrs, "service.name", OwnedValue::Str(name.clone()));
                }
                if let Some(tenant) = tenants.get(t) {
                    set(&mut attrs, &cfg.tenant_key, OwnedValue::Str(tenant.to_string()));
                }
                if cfg.mark_scenario {
                    set(&mut attrs, tsim_model::SCENARIO_KEY, OwnedValue::Str(s.name.clone()));
                }
                if let Some(id) = &cfg.run_id {
                    set(&mut attrs, tsim_model::RUN_ID_KEY, OwnedValue::Str(id.clone()));
                }
                resources.list.push(Resource { attrs });
            }
        }
        let own_incidents = scenarios
            .iter()
            .flat_map(|s| {
                s.incidents.iter().map(|i| {
                    let mut i = i.clone();
                    if i.target.scenarios.is_empty() {
                        i.target.scenarios.push(s.name.clone());
                    }
                    i
                })
            })
            .collect();
        let fail_fast = Sampler::new(
            &tsim_scenario::NumDist::new(tsim_scenario::Dist::LogNormal { mu: FAIL_FAST_MEDIAN_MS.ln(), sigma: 0.5 }),
            Some(0.0),
        )
        .map_err(|e| CompileError::Distribution {
            at: "incidents".into(),
            what: "fail-fast latency".into(),
            reason: e,
        })?;
        Ok(Engine {
            scenarios: compiled,
            scenario_cum: cumulative(weights.iter().copied()),
            weights,
            own_incidents,
            incidents: incidents::Incidents::default(),
            mark_incidents: cfg.mark_incidents,
            fail_fast,
            round_robin: cfg.round_robin,
            tenant_cum: cumulative(cfg.tenants.iter().map(|(_, w)| *w)),
            tenants,
            seed: cfg.seed,
            resources,
            quota: Vec::new(),
            openinference: cfg.openinference,
            no_records: cfg.no_records,
            id_key: splitmix64(cfg.seed ^ 0x7ACE_1D00_0000_0001),
        })
    }

    /// Most traces whose variants are laid out exactly (above, variants are drawn by share).
    pub const MAX_EXACT_TRACES: u64 = 10_000_000;

    /// For a single-scenario run of `count` traces with variants: fixes which trace uses
    /// which variant so that each gets exactly its count, spread evenly over the run (each
    /// variant's traces sit near the evenly spaced ideal positions; ties by declaration).
    pub fn plan_exact_counts(&mut self, count: u64) {
        self.quota.clear();
        if self.scenarios.len() != 1 || self.scenarios[0].variants.is_empty() || count > Self::MAX_EXACT_TRACES {
            return;
        }
        let counts = self.scenarios[0].variant_counts(count);
        let mut slots: Vec<(f64, u16)> = Vec::with_capacity(usize_of(count));
        for (v, c) in counts.iter().enumerate() {
            for k in 0..*c {
                slots.push(((f64_of(k) + 0.5) * f64_of(count) / f64_of(*c), u16::try_from(v).unwrap_or(u16::MAX)));
            }
        }
        slots.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        self.quota = slots.into_iter().map(|(_, v)| v).collect();
    }

    /// The variant trace `index` uses (for reports and tests).
    pub fn variant_of(&self, index: u64) -> Option<usize> {
        self.quota.get(usize_of(index)).map(|v| *v as usize)
    }

    /// Sets the run's incidents: those written in its scenarios and `extra` (from incident
    /// files), with the run starting at `start_ns` (for `after:`). Without a call, a run has
    /// no incidents.
    pub fn set_incidents(&mut self, extra: &[IncidentSpec], start_ns: u64) -> Result<(), CompileError> {
        let specs: Vec<IncidentSpec> = self.own_incidents.iter().chain(extra).cloned().collect();
        let tenants = self.tenants.len().max(1);
        self.incidents =
            incidents::Incidents::new(specs, &self.scenarios, &self.resources, |s| idx(s * tenants), start_ns)?;
        Ok(())
    }

    /// The run's incidents, in order (their index is [`Window::incident`]).
    pub fn incidents(&self) -> &[IncidentSpec] {
        &self.incidents.specs
    }

    /// The windows of the incidents that overlap `[from, to)`, in time order, at most
    /// `limit` per incident.
    pub fn incident_windows(&self, from: u64, to: u64, limit: usize) -> Vec<Window> {
        self.incidents.windows(from, to, limit)
    }

    /// When window `occurrence` of incident `k` starts (Unix ns).
    pub fn incident_window_start(&self, k: usize, occurrence: u64) -> u64 {
        let c = &self.incidents.list[k];
        c.start_ns.saturating_add(occurrence.saturating_mul(c.every_ns))
    }

    /// How many span nodes (over scenarios and variants) incident `k` may hit: 0 when its
    /// target matches nothing of this run.
    pub fn incident_reach(&self, k: usize) -> usize {
        let c = &self.incidents.list[k];
        if !c.on_spans() {
            return usize::from(c.scenarios.iter().any(|s| *s));
        }
        self.incidents.hit_nodes(k)
    }

    /// The gauges of incident `k`'s outage (their line and column) that drive no gauge of
    /// the scenarios it acts on.
    pub fn incident_idle_gauges(&self, k: usize) -> Vec<(u32, u32)> {
        let c = &self.incidents.list[k];
        let gauges: Vec<&tsim_scenario::MetricSpec> = self
            .scenarios
            .iter()
            .enumerate()
            .filter(|(si, _)| c.scenarios[*si])
            .flat_map(|(_, sc)| sc.metrics().iter().filter(|m| m.process.is_some()))
            .collect();
        c.gauges
            .iter()
            .filter(|e| {
                !gauges.iter().any(|m| declared::series_labels(m).iter().any(|l| declared::drives(e, &m.name, l)))
            })
            .map(|e| e.at)
            .collect()
    }

    /// The traffic incidents between `from` and `to` (unbounded: a long horizon) as windows
    /// of a rate multiplier, for [`Schedule::with_surges`].
    pub fn traffic_windows(&self, from: u64, to: Option<u64>) -> Vec<(u64, u64, f64)> {
        if self.incidents.list.iter().all(|c| c.traffic.is_none()) {
            return Vec::new();
        }
        let weights: Vec<f64> = if self.round_robin || self.scenarios.len() == 1 {
            vec![1.0; self.scenarios.len()]
        } else {
            self.weights.clone()
        };
        self.incidents.traffic_windows(&weights, from, to)
    }

    /// The run seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The resource id of `scenario` with `tenant` (the first tenant when `None`).
    pub fn resource_id(&self, scenario: usize, tenant: Option<usize>) -> u32 {
        idx(scenario * self.tenants.len().max(1) + tenant.unwrap_or(0))
    }

    /// The resources traces refer to.
    pub fn resources(&self) -> &Resources {
        &self.resources
    }

    /// The compiled scenarios.
    pub fn scenarios(&self) -> &[CompiledScenario] {
        &self.scenarios
    }

    /// Builds trace `index`, starting at `start_ns` (Unix nanoseconds), into `out`.
    ///
    /// An incident acts on each span whose own start is in its window. A span's start is
    /// known only once its parent has laid out its children, after the span was made, so the
    /// trace is first built as if every span started with the trace; when a span's actual
    /// start falls on the other side of a window's edge, the trace is built again with each
    /// span judged at the start it had (at most [`incidents::MAX_PASSES`] builds: effects
    /// move spans, so the times are followed until they stay on their side). A span whose
    /// own effect moves it across the edge (its parent's margins grow with it) never settles:
    /// the last build moves it to the nearest time on the side it was judged on.
    pub fn generate<'e>(
        &'e self,
        index: u64,
        start_ns: u64,
        out: &mut TraceBuf<'e>,
        scratch: &mut Scratch,
    ) -> Generated {
        scratch.hints.clear();
        let mut pass = self.generate_pass(index, start_ns, out, scratch, false);
        if pass.candidates != 0 {
            for p in 2..=incidents::MAX_PASSES {
                let hits = self.incidents.hits.get(pass.g.scenario).and_then(|t| t.get(pass.table));
                if !incidents::misjudged(&self.incidents.list, hits, pass.candidates, out, scratch) {
                    break;
                }
                scratch.hints.clear();
                scratch.hints.extend(out.spans.iter().map(|s| s.start_ns));
                pass = self.generate_pass(index, start_ns, out, scratch, p == incidents::MAX_PASSES);
            }
            incidents::tally(&self.incidents.list, start_ns, out, scratch);
        }
        pass.g
    }

    /// One build of trace `index`, each span judged by the incidents at its time in
    /// `scratch.hints` (the trace's start where there is none); with `settle`, the last.
    fn generate_pass<'e>(
        &'e self,
        index: u64,
        start_ns: u64,
        out: &mut TraceBuf<'e>,
        scratch: &mut Scratch,
        settle: bool,
    ) -> Pass {
        let mut rng = trace_rng(self.seed, index);
        let scenario = match self.scenarios.len() {
            1 => 0,
            n if self.round_robin => usize_of(index % n as u64),
            n if self.incidents.scoped_traffic => {
                // Traffic incidents of some scenarios change the mix while they last.
                self.incidents.mix_at(start_ns, &mut scratch.mix, n);
                if scratch.mix.iter().all(|m| *m == 1.0) {
                    pick(&mut rng, &self.scenario_cum)
                } else {
                    let cum = cumulative(self.weights.iter().zip(&scratch.mix).map(|(w, m)| w * m));
                    pick(&mut rng, &cum)
                }
            }
            _ => pick(&mut rng, &self.scenario_cum),
        };
        scratch.active.clear();
        // Incidents on arrivals count every trace that starts in their window; those on
        // spans may act on any span of the trace.
        let mut candidates = 0u64;
        for (k, c) in self.incidents.list.iter().enumerate() {
            if !c.scenarios[scenario] {
                continue;
            }
            if c.on_spans() {
                candidates |= 1u64 << k;
            } else if let Some((occurrence, s)) = c.window_at(start_ns) {
                let level = c.level(s, start_ns);
                if level > 0.0 {
                    let incident = u16::try_from(k).unwrap_or(u16::MAX);
                    scratch.active.push(Active::new(incident, occurrence, level, true));
                }
            }
        }
        scratch.span_hits.clear();
        let tenant = (!self.tenants.is_empty()).then(|| pick(&mut rng, &self.tenant_cum));
        let sc = &self.scenarios[scenario];
        let (table, nodes): (usize, &[compile::CNode]) = if sc.variants.is_empty() {
            (0, &sc.nodes)
        } else {
            let v = match self.quota.get(usize_of(index)) {
                Some(v) if self.scenarios.len() == 1 => *v as usize,
                _ => pick(&mut rng, &sc.variant_cum),
            };
            (v, &sc.variants[v].nodes)
        };
        let node_hits: &[Vec<incidents::NodeHit>] =
            self.incidents.hits.get(scenario).and_then(|t| t.get(table)).map_or(&[], Vec::as_slice);
        out.clear();
        out.scenario = &sc.name;
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&rng.next_u64().to_be_bytes());
        // The low half is a bijection of the index (keyed by the seed): trace ids never
        // repeat within a run, nor across the shards of one (each shard has its own indices).
        let _ = rng.next_u64();
        id[8..].copy_from_slice(&splitmix64(index.wrapping_add(self.id_key)).to_be_bytes());
        out.trace_id = id;
        let mut b = Builder {
            sc,
            nodes,
            rng,
            out,
            trace_index: index,
            tenant: tenant.map(|t| &*self.tenants[t]),
            kids: &mut scratch.kids,
            scratch: &mut scratch.text,
            weights: &mut scratch.weights,
            span_nodes: &mut scratch.span_nodes,
            decisions: &mut scratch.decisions,
            trace_attrs: (0, 0),
            openinference: self.openinference,
            cur_dur: 0,
            cur_error: None,
            cut: false,
            incidents: &self.incidents.list,
            node_hits,
            candidates,
            hints: &scratch.hints,
            trace_start: start_ns,
            settle,
            span_hits: &mut scratch.span_hits,
            pre: Vec::new(),
            mark_incidents: self.mark_incidents,
            fail_fast: &self.fail_fast,
        };
        b.run(start_ns, !self.no_records);
        let cut = b.cut;
        let resource = self.resource_id(scenario, tenant);
        Pass { g: Generated { scenario, tenant, resource, cut }, table, candidates }
    }
}
