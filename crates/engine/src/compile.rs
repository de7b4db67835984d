//! Scenario → flat tables the builder walks: names resolved, samplers built, templates bound.

use crate::error::CompileError;
use tsim_model::SpanKind;
use tsim_scenario::{AttrSpec, CountSpec, Literal, LogOn, Mode, NumType, Scenario, SpanSpec, TemplatePart};

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
    pub(crate) pricing: Vec<tsim_scenario::ModelPrice>,
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

#[derive(Debug)]
pub(crate) struct CNode {
    pub name: Box<str>,
    pub attempt_name: Box<str>,
    pub kind: SpanKind,
    pub latency: Option<Sampler>,
    pub error_rate: f64,
    pub error_types: Vec<Box<str>>,
    pub error_cum: Vec<f64>,
    pub from_parent: f64,
    pub cascade: f64,
    pub from_child: f64,
    /// Attributes added when the span fails.
    pub error_attrs: Vec<CAttr>,
    /// Error type → (exception type, message).
    pub exceptions: Vec<Exception>,
    pub attrs: Vec<CAttr>,
    pub events: Vec<CEvent>,
    pub children: Vec<u32>,
    pub parallel: bool,
    pub probability: f64,
    pub count: CCount,
    pub retry: Option<CRetry>,
    pub logs: Vec<CLog>,
    pub decision: Option<CDecision>,
    /// A span name made from the span's attributes (`chat {gen_ai.request.model}`).
    pub name_parts: Option<Vec<NPart>>,
    pub artifact: Option<CArtifact>,
    /// Root only: attributes sampled once per trace, put on every span and record.
    pub trace_attrs: Vec<CAttr>,
}

/// An error type's exception: (error type, exception type, message).
pub(crate) type Exception = (Box<str>, Box<str>, Option<Box<str>>);

/// A piece of a span-name template.
#[derive(Debug)]
pub(crate) enum NPart {
    Text(Box<str>),
    Builtin(Builtin),
    SpanAttr(Box<str>),
}

#[derive(Debug)]
pub(crate) struct CArtifact {
    pub artifact_type: Box<str>,
    pub path: Vec<NPart>,
    pub added: Sampler,
    pub removed: Sampler,
    pub sections: Vec<Box<str>>,
    pub review: Vec<Box<str>>,
    pub review_cum: Vec<f64>,
    pub probability: f64,
}

#[derive(Debug)]
pub(crate) struct CDecision {
    pub decision_type: Box<str>,
    /// Results and their reasons.
    pub results: Vec<(Box<str>, Box<str>)>,
    pub cum: Vec<f64>,
    pub policy_name: Option<Box<str>>,
    pub tool_name: Option<Box<str>>,
    pub agent_id: Option<Box<str>>,
    pub context_json: Option<Box<str>>,
    pub deny_fails_span: bool,
    pub deny_error: Box<str>,
}

#[derive(Debug)]
pub(crate) struct CLog {
    pub on: LogOn,
    pub severity: u8,
    pub severity_text: &'static str,
    pub message: Vec<LPart>,
    pub logger: Option<Box<str>>,
    pub probability: f64,
    pub attrs: Vec<CAttr>,
}

/// A piece of a log message, resolved against the span when the record is made.
#[derive(Debug)]
pub(crate) enum LPart {
    Text(Box<str>),
    Builtin(Builtin),
    SpanAttr(Box<str>),
    DurationMs,
    SpanName,
    Status,
    ErrorType,
    Success,
}

#[derive(Debug)]
pub(crate) struct CEvent {
    pub name: Box<str>,
    pub probability: f64,
    pub at: Option<f64>,
    pub attrs: Vec<CAttr>,
}

#[derive(Debug)]
pub(crate) enum CCount {
    Fixed(u64),
    Uniform { min: u64, span: u64 },
    Poisson { sampler: Sampler, min: u64, max: u64 },
}

#[derive(Debug)]
pub(crate) struct CRetry {
    pub max_attempts: u32,
    pub force_initial_failure: bool,
    pub backoff_base_ms: f64,
    pub backoff_multiplier: f64,
    pub backoff_jitter: f64,
    /// Success chance per attempt (the last repeats).
    pub success: Vec<f64>,
}

#[derive(Debug)]
pub(crate) struct CAttr {
    pub key: Box<str>,
    pub value: Gen,
}

#[derive(Debug)]
pub(crate) enum Lit {
    Str(Box<str>),
    Int(i64),
    Double(f64),
    Bool(bool),
}

#[derive(Debug)]
pub(crate) enum Gen {
    Lit(Lit),
    Num { sampler: Sampler, as_type: NumType },
    Cat { values: Vec<Lit>, cum: Vec<f64> },
    Uuid,
    Seq { start: i64, step: i64 },
    Template(Vec<Part>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Builtin {
    TraceId,
    SpanId,
    ParentSpanId,
    TraceIndex,
    CopyIndex,
    Attempt,
    Scenario,
    Tenant,
    Uuid,
    TraceUuid,
    DurationMs,
    Success,
    ErrorType,
}

#[derive(Debug)]
pub(crate) enum Part {
    Text(Box<str>),
    Attr(usize),
    /// The i-th trace attribute.
    Trace(usize),
    Builtin(Builtin),
}

fn builtin(name: &str) -> Option<Builtin> {
    Some(match name {
        "trace_id" => Builtin::TraceId,
        "span_id" => Builtin::SpanId,
        "parent_span_id" => Builtin::ParentSpanId,
        "trace_index" => Builtin::TraceIndex,
        "copy_index" => Builtin::CopyIndex,
        "attempt" => Builtin::Attempt,
        "scenario" => Builtin::Scenario,
        "tenant" => Builtin::Tenant,
        "uuid" => Builtin::Uuid,
        "trace_uuid" => Builtin::TraceUuid,
        "duration_ms" => Builtin::DurationMs,
        "success" => Builtin::Success,
        "error_type" => Builtin::ErrorType,
        _ => return None,
    })
}

/// A distribution error at `ctx` (the scenario and span) for `what`.
fn dist_err(ctx: &str, what: String, reason: crate::error::SamplerError) -> CompileError {
    CompileError::Distribution { at: ctx.to_string(), what, reason }
}

/// The value of a `{var.NAME}` reference: `None` when `r` is no variable reference, an error
/// when the variant gives the variable no value.
fn var<'v>(r: &str, vars: &'v [(String, Literal)], ctx: &str) -> Result<Option<&'v Literal>, CompileError> {
    let Some(name) = r.strip_prefix("var.") else { return Ok(None) };
    match vars.iter().find(|(k, _)| k == name) {
        Some((_, v)) => Ok(Some(v)),
        None => Err(CompileError::UnsetVar { at: ctx.to_string(), reference: r.to_string(), var: name.to_string() }),
    }
}

fn log_parts(parts: &[TemplatePart], vars: &[(String, Literal)], ctx: &str) -> Result<Vec<LPart>, CompileError> {
    parts
        .iter()
        .map(|p| {
            Ok(match p {
                TemplatePart::Text(t) => LPart::Text(t.as_str().into()),
                TemplatePart::Ref(r) => match (var(r, vars, ctx)?, r.as_str()) {
                    (Some(v), _) => LPart::Text(v.to_string().into()),
                    (None, "duration_ms") => LPart::DurationMs,
                    (None, "span_name") => LPart::SpanName,
                    (None, "status") => LPart::Status,
                    (None, "success") => LPart::Success,
                    (None, "error_type" | "error.type") => LPart::ErrorType,
                    (None, other) => {
                        builtin(other).map(LPart::Builtin).unwrap_or_else(|| LPart::SpanAttr(other.into()))
                    }
                },
            })
        })
        .collect()
}

/// A name or path template: `{var.*}` resolved now, built-ins and span attributes later.
fn template_parts(parts: &[TemplatePart], vars: &[(String, Literal)], ctx: &str) -> Result<Vec<NPart>, CompileError> {
    let mut out: Vec<NPart> = Vec::new();
    for p in parts {
        let part = match p {
            TemplatePart::Text(t) => NPart::Text(t.as_str().into()),
            TemplatePart::Ref(r) => match var(r, vars, ctx)? {
                Some(v) => NPart::Text(v.to_string().into()),
                None => builtin(r).map(NPart::Builtin).unwrap_or_else(|| NPart::SpanAttr(r.as_str().into())),
            },
        };
        // Adjacent texts merge, so a name that only used vars becomes one static text.
        match (out.last_mut(), &part) {
            (Some(NPart::Text(prev)), NPart::Text(t)) => *prev = format!("{prev}{t}").into(),
            _ => out.push(part),
        }
    }
    Ok(out)
}

fn lit(l: &Literal) -> Lit {
    match l {
        Literal::Str(s) => Lit::Str(s.as_str().into()),
        Literal::Int(i) => Lit::Int(*i),
        Literal::Double(d) => Lit::Double(*d),
        Literal::Bool(b) => Lit::Bool(*b),
    }
}

fn kind(k: tsim_scenario::SpanKind) -> SpanKind {
    match k {
        tsim_scenario::SpanKind::Internal => SpanKind::Internal,
        tsim_scenario::SpanKind::Server => SpanKind::Server,
        tsim_scenario::SpanKind::Client => SpanKind::Client,
        tsim_scenario::SpanKind::Producer => SpanKind::Producer,
        tsim_scenario::SpanKind::Consumer => SpanKind::Consumer,
    }
}

/// Compiles attributes. `trace` holds the keys of the scenario's trace attributes, which
/// templates may reference besides earlier attributes of the same list.
pub(crate) fn attrs(
    list: &[(String, AttrSpec)],
    ctx: &str,
    vars: &[(String, Literal)],
    trace: &[String],
) -> Result<Vec<CAttr>, CompileError> {
    let mut out: Vec<CAttr> = Vec::with_capacity(list.len());
    for (key, spec) in list {
        let value = match spec {
            AttrSpec::Literal(l) => Gen::Lit(lit(l)),
            AttrSpec::Number { dist, as_type } => Gen::Num {
                sampler: Sampler::new(dist, None).map_err(|e| dist_err(ctx, format!("attribute `{key}`"), e))?,
                as_type: *as_type,
            },
            AttrSpec::Categorical(values) => Gen::Cat {
                values: values.iter().map(|(l, _)| lit(l)).collect(),
                cum: cumulative(values.iter().map(|(_, w)| *w)),
            },
            AttrSpec::Uuid => Gen::Uuid,
            AttrSpec::Sequence { start, step } => Gen::Seq { start: *start, step: *step },
            AttrSpec::Template(parts) => match parts.as_slice() {
                [TemplatePart::Ref(r)] if let Some(v) = var(r, vars, ctx)? => {
                    // A template that is just one `{var.x}` keeps the variable's type.
                    Gen::Lit(lit(v))
                }
                _ => Gen::Template(
                    parts
                        .iter()
                        .map(|p| match p {
                            TemplatePart::Text(t) => Ok(Part::Text(t.as_str().into())),
                            TemplatePart::Ref(r) => {
                                if let Some(v) = var(r, vars, ctx)? {
                                    return Ok(Part::Text(v.to_string().into()));
                                }
                                if let Some(i) = out.iter().position(|a| &*a.key == r.as_str()) {
                                    return Ok(Part::Attr(i));
                                }
                                if let Some(i) = trace.iter().position(|k| k == r) {
                                    return Ok(Part::Trace(i));
                                }
                                builtin(r).map(Part::Builtin).ok_or_else(|| CompileError::UnknownReference {
                                    at: ctx.to_string(),
                                    reference: r.to_string(),
                                })
                            }
                        })
                        .collect::<Result<_, CompileError>>()?,
                ),
            },
        };
        out.push(CAttr { key: key.as_str().into(), value });
    }
    Ok(out)
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
    let idx = nodes.len() as u32;
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
    });
    let (error_types, weights): (Vec<Box<str>>, Vec<f64>) = if spec.error.types.is_empty() {
        (vec!["_OTHER".into()], vec![1.0])
    } else {
        spec.error.types.iter().map(|(t, w)| (t.as_str().into(), *w)).unzip()
    };
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
        let shares: Vec<f64> = self.variants.iter().map(|v| v.count.map(|c| c as f64).unwrap_or(v.weight)).collect();
        let total: f64 = shares.iter().sum();
        if shares.is_empty() || total <= 0.0 {
            return Vec::new();
        }
        let exact: Vec<f64> = shares.iter().map(|s| s * count as f64 / total).collect();
        let mut out: Vec<u64> = exact.iter().map(|e| e.floor() as u64).collect();
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
    pub fn pricing(&self) -> &[tsim_scenario::ModelPrice] {
        &self.pricing
    }

    /// Whether metrics are derived from this scenario's spans.
    pub fn emit_metrics(&self) -> bool {
        self.emit_metrics
    }
}
