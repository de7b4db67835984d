//! Compiling values: literals, samplers, templates bound to attribute indexes, variables
//! and built-ins.

use tsim_model::SpanKind;
use tsim_scenario::{AttrSpec, Literal, TemplatePart};

use super::tables::*;
use crate::error::CompileError;
use crate::rng::cumulative;
use crate::sample::Sampler;

pub(super) fn builtin(name: &str) -> Option<Builtin> {
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
pub(super) fn dist_err(ctx: &str, what: String, reason: crate::error::SamplerError) -> CompileError {
    CompileError::Distribution { at: ctx.to_string(), what, reason }
}

/// The value of a `{var.NAME}` reference: `None` when `r` is no variable reference, an error
/// when the variant gives the variable no value.
pub(super) fn var<'v>(r: &str, vars: &'v [(String, Literal)], ctx: &str) -> Result<Option<&'v Literal>, CompileError> {
    let Some(name) = r.strip_prefix("var.") else { return Ok(None) };
    match vars.iter().find(|(k, _)| k == name) {
        Some((_, v)) => Ok(Some(v)),
        None => Err(CompileError::UnsetVar { at: ctx.to_string(), reference: r.to_string(), var: name.to_string() }),
    }
}

pub(super) fn log_parts(
    parts: &[TemplatePart],
    vars: &[(String, Literal)],
    ctx: &str,
) -> Result<Vec<LPart>, CompileError> {
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
pub(super) fn template_parts(
    parts: &[TemplatePart],
    vars: &[(String, Literal)],
    ctx: &str,
) -> Result<Vec<NPart>, CompileError> {
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

pub(super) fn lit(l: &Literal) -> Lit {
    match l {
        Literal::Str(s) => Lit::Str(s.as_str().into()),
        Literal::Int(i) => Lit::Int(*i),
        Literal::Double(d) => Lit::Double(*d),
        Literal::Bool(b) => Lit::Bool(*b),
    }
}

pub(super) fn kind(k: tsim_scenario::SpanKind) -> SpanKind {
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
