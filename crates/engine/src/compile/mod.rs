//! Scenario → flat tables the builder walks: names resolved, samplers built, templates bound.
//! The table types are in [`tables`], the values' compilation in [`values`].

mod tables;
mod values;

pub(crate) use tables::*;
use tsim_model::num::{f64_of, idx, u64_sat};
use values::*;

use crate::error::CompileError;
use tsim_scenario::{CountSpec, Literal, Mode, Scenario, SpanSpec};

use crate::rng::cumulative;
use crate::sample::Sampler;

/// Median of the latency used for a leaf span that declares none, in ms.
pub const DEFAULT_LEAF_MEDIAN_MS: f64 = 10.0;

/// A scenario ready for generation.
#[derive(Debug)]
pub struct CompiledScenario {
    pub(crate) name: Box<str>,
    /// The node table when the scenario has no variants (empty otherwise).
    pub(crate) nodes: Vec<CNode>,
    pub(crate) default_leaf: Sampler,
    pub(crate) emit_logs: bool,
    pub(crate) emit_metrics: bool,
    /// Most spans one trace may have (`max_spans_per_trace`).
    pub(crate) max_spans: usize,
    pub(crate) pricing: Vec<tsim_model::metrics::Price>,
    pub(crate) metrics: Vec<tsim_scenario::MetricSpec>,
    pub(crate) variants: Vec<Variant>,
    pub(crate) variant_cum: Vec<f64>,
}

/// One variant's node table.
#[derive(Debug)]
pub(crate) struct Variant {
    pub nodes: Vec<CNode>,
    pub count: Option<u64>,
    pub weight: f64,
}

/// The span tree with a variant's overrides applied to the nodes whose type matches.
fn apply_overrides(spec: &SpanSpec, overrides: &[tsim_scenario::OverrideSpec]) -> SpanSpec {
    let mut out = spec.clone();
    for o in overrides.iter().filter(|o| crate::declared::glob(&o.span, &spec.span_type)) {
        if let Some(e) = &o.error {
            out.error = e.clone();
        }
        if let Some(l) = &o.latency {
            out.latency = Some(l.clone());
        }
        if let Some(p) = o.probability {
            out.probability = p;
        }
        for (k, v) in &o.attributes {
            match out.attributes.iter_mut().find(|(ok, _)| ok == k) {
                Some(slot) => slot.1 = v.clone(),
                None => out.attributes.push((k.clone(), v.clone())),
            }
        }
    }
    out.children = spec.children.iter().map(|c| apply_overrides(c, overrides)).collect();
    out
}

fn node(
    spec: &SpanSpec,
    is_root: bool,
    nodes: &mut Vec<CNode>,
    scenario: &str,
    vars: &[(String, Literal)],
    trace: &[String],
) -> Result<u32, CompileError> {
    let ctx = format!("scenario `{scenario}`, span `{}` (line {})", spec.span_type, spec.line);
    let idx = idx(nodes.len());
    let latency = match &spec.latency {
        Some(d) => Some(Sampler::new(d, Some(0.0)).map_err(|e| dist_err(&ctx, "latency".into(), e))?),
        None => None,
    };
    let count = match &spec.count {
        CountSpec::Fixed(n) => CCount::Fixed(*n),
        CountSpec::Uniform { min, max } => CCount::Uniform { min: *min, span: max - min + 1 },
        CountSpec::Poisson { lambda, min, max } => CCount::Poisson {
            sampler: Sampler::new(&tsim_scenario::NumDist::new(tsim_scenario::Dist::Poisson { lambda: *lambda }), None)
                .map_err(|e| dist_err(&ctx, "count".into(), e))?,
            min: *min,
            max: *max,
        },
    };
    let (error_types, weights): (Vec<Box<str>>, Vec<f64>) = if spec.error.types.is_empty() {
        (vec!["_OTHER".into()], vec![1.0])
    } else {
        spec.error.types.iter().map(|(t, w)| (t.as_str().into(), *w)).unzip()
    };
    let retry = spec.retry.as_ref().filter(|r| r.enabled).map(|r| CRetry {
        max_attempts: r.max_attempts.max(1),
        force_initial_failure: r.force_initial_failure,
        backoff_base_ms: r.backoff_base_ms,
        backoff_multiplier: r.backoff_multiplier,
        backoff_jitter: r.backoff_jitter,
        success: if r.success_rate_per_attempt.is_empty() {
            vec![1.0 - spec.error.rate]
        } else {
            r.success_rate_per_attempt.clone()
        },
        retryable: error_types
            .iter()
            .map(|t| match &spec.error.retryable_types {
                Some(list) => list.iter().any(|r| **r == **t),
                None => tsim_scenario::DEFAULT_RETRYABLE.contains(&&**t),
            })
            .collect(),
    });
    let (name, name_parts): (Box<str>, _) = match spec.name.as_deref() {
        None => (spec.span_type.as_str().into(), None),
        Some(n) => {
            let mut parts = template_parts(&tsim_scenario::parse_template(n), vars, &ctx)?;
            match parts.as_mut_slice() {
                [] => ("".into(), None),
                [NPart::Text(t)] => (std::mem::take(t), None),
                _ => (spec.span_type.as_str().into(), Some(parts)),
            }
        }
    };
    let artifact = match &spec.artifact {
        Some(a) => Some(CArtifact {
            artifact_type: a.artifact_type.as_str().into(),
            path: template_parts(&a.path, vars, &ctx)?,
            added: Sampler::new(&a.added_lines, Some(0.0))
                .map_err(|e| dist_err(&ctx, "artifact added_lines".into(), e))?,
            removed: Sampler::new(&a.removed_lines, Some(0.0))
                .map_err(|e| dist_err(&ctx, "artifact removed_lines".into(), e))?,
            sections: a.changed_sections.iter().map(|s| s.as_str().into()).collect(),
            review: a.review.iter().map(|(r, _)| r.as_str().into()).collect(),
            review_cum: cumulative(a.review.iter().map(|(_, w)| *w)),
            probability: a.probability,
        }),
        None => None,
    };
    nodes.push(CNode {
        name_parts,
        artifact,
        trace_attrs: Vec::new(),
        attempt_name: format!("{}.attempt", spec.span_type).into(),
        name,
        kind: kind(spec.kind.unwrap_or(if is_root {
            tsim_scenario::SpanKind::Server
        } else {
            tsim_scenario::SpanKind::Internal
        })),
        latency,
        error_rate: spec.error.rate,
        error_types,
        error_cum: cumulative(weights),
        from_parent: spec.error.from_parent,
        cascade: spec.error.cascade_to_siblings,
        from_child: spec.error.from_child,
        error_attrs: attrs(&spec.error.attributes, &ctx, vars, trace)?,
        exceptions: spec
            .error
            .exceptions
            .iter()
            .map(|(t, e, m)| (t.as_str().into(), e.as_str().into(), m.as_deref().map(Into::into)))
            .collect(),
        attrs: attrs(&spec.attributes, &ctx, vars, trace)?,
        events: spec
            .events
            .iter()
            .map(|e| {
                Ok(CEvent {
                    name: e.name.as_str().into(),
                    probability: e.probability,
                    at: e.at,
                    attrs: attrs(&e.attributes, &ctx, vars, trace)?,
                })
            })
            .collect::<Result<_, CompileError>>()?,
        children: Vec::new(),
        parallel: spec.mode == Mode::Parallel,
        probability: spec.probability,
        count,
        retry,
        logs: spec
            .logs
            .iter()
            .map(|l| {
                Ok(CLog {
                    on: l.on,
                    severity: l.severity.0,
                    severity_text: l.severity.1,
                    message: log_parts(&l.message, vars, &ctx)?,
                    logger: l.logger.as_deref().map(Into::into),
                    probability: l.probability,
                    attrs: attrs(&l.attributes, &ctx, vars, trace)?,
                })
            })
            .collect::<Result<_, CompileError>>()?,
        decision: spec.decision.as_ref().map(|d| CDecision {
            decision_type: d.decision_type.as_str().into(),
            results: d
                .results
                .iter()
                .map(|(r, _)| {
                    let reason = d.reasons.iter().find(|(k, _)| k == r).map(|(_, v)| v.clone()).unwrap_or_else(|| {
                        match r.as_str() {
                            "allow" => "Policy check passed".into(),
                            "deny" => "Policy violation".into(),
                            _ => "Approval required".into(),
                        }
                    });
                    (r.as_str().into(), reason.into())
                })
                .collect(),
            cum: cumulative(d.results.iter().map(|(_, w)| *w)),
            policy_name: d.policy_name.as_deref().map(Into::into),
            tool_name: d.tool_name.as_deref().map(Into::into),
            agent_id: d.agent_id.as_deref().map(Into::into),
            context_json: d.context_json.as_deref().map(Into::into),
            deny_fails_span: d.deny_fails_span,
            deny_error: d.deny_error.as_str().into(),
        }),
    });
    let mut children = Vec::with_capacity(spec.children.len());
    for c in &spec.children {
        children.push(node(c, false, nodes, scenario, vars, trace)?);
    }
    nodes[idx as usize].children = children;
    Ok(idx)
}

impl CompiledScenario {
    /// Compiles a scenario. Fails only on parameters the scenario crate could not check.
    pub fn new(s: &Scenario) -> Result<Self, CompileError> {
        // With variants every trace uses one of their tables: the plain tree is not needed.
        let mut nodes = Vec::new();
        let trace_ctx = format!("scenario `{}`, trace_attributes", s.name);
        let trace_keys: Vec<String> = s.trace_attributes.iter().map(|(k, _)| k.clone()).collect();
        if s.variants.is_empty() {
            node(&s.root, true, &mut nodes, &s.name, &[], &trace_keys)?;
            nodes[0].trace_attrs = attrs(&s.trace_attributes, &trace_ctx, &[], &[])?;
        }
        let mut variants = Vec::new();
        for v in &s.variants {
            let root = apply_overrides(&s.root, &v.overrides);
            let mut vnodes = Vec::new();
            node(&root, true, &mut vnodes, &format!("{}` variant `{}", s.name, v.name), &v.vars, &trace_keys)?;
            vnodes[0].trace_attrs = attrs(&s.trace_attributes, &trace_ctx, &v.vars, &[])?;
            variants.push(Variant { nodes: vnodes, count: v.count, weight: v.weight });
        }
        let default_leaf = Sampler::new(
            &tsim_scenario::NumDist::new(tsim_scenario::Dist::LogNormal {
                mu: DEFAULT_LEAF_MEDIAN_MS.ln(),
                sigma: 0.5,
            }),
            Some(0.0),
        )
        .map_err(|e| dist_err(&s.name, "the default leaf latency".into(), e))?;
        Ok(Self {
            name: s.name.as_str().into(),
            nodes,
            default_leaf,
            emit_logs: s.emit_logs,
            max_spans: usize::try_from(s.max_spans).unwrap_or(usize::MAX),
            emit_metrics: s.emit_metrics,
            pricing: s.pricing.clone(),
            metrics: s.metrics.clone(),
            variant_cum: cumulative(variants.iter().map(|v| v.weight)),
            variants,
        })
    }

    /// The scenario's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Traces per variant for a run of `count` traces: the declared counts scaled to `count`
    /// (largest remainder), or, without counts, the weights' shares likewise.
    pub fn variant_counts(&self, count: u64) -> Vec<u64> {
        let shares: Vec<f64> = self.variants.iter().map(|v| v.count.map(f64_of).unwrap_or(v.weight)).collect();
        let total: f64 = shares.iter().sum();
        if shares.is_empty() || total <= 0.0 {
            return Vec::new();
        }
        let exact: Vec<f64> = shares.iter().map(|s| s * f64_of(count) / total).collect();
        let mut out: Vec<u64> = exact.iter().map(|e| u64_sat(e.floor())).collect();
        let mut left = count - out.iter().sum::<u64>();
        let mut order: Vec<usize> = (0..exact.len()).collect();
        order
            .sort_by(|a, b| (exact[*b] - exact[*b].floor()).total_cmp(&(exact[*a] - exact[*a].floor())).then(a.cmp(b)));
        for i in order {
            if left == 0 {
                break;
            }
            out[i] += 1;
            left -= 1;
        }
        out
    }

    /// Metrics declared by the scenario.
    pub fn metrics(&self) -> &[tsim_scenario::MetricSpec] {
        &self.metrics
    }

    /// Token prices declared by the scenario: (model, USD per million input, output tokens).
    pub fn pricing(&self) -> &[tsim_model::metrics::Price] {
        &self.pricing
    }

    /// Whether metrics are derived from this scenario's spans.
    pub fn emit_metrics(&self) -> bool {
        self.emit_metrics
    }
}
