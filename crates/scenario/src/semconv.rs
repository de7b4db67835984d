//! Semantic-convention schemas (the OpenTelemetry model YAML, v1 `groups:` and v2
//! `file_format: definition/2`): checking scenarios against them and filling in the
//! required attributes a scenario leaves out.
//!
//! v1: `groups:` with `id`, `type` (`span`, `attribute_group`, …), optional `prefix`,
//! `extends` and `attributes:` — each an `id` with `type`, `examples`, `requirement_level`,
//! or a `ref:` to an attribute defined elsewhere. v2: top-level `attributes:` (each a `key`)
//! and `spans:` (each a `type` with `attributes:` of `ref:` + `requirement_level`).
//!
//! A span node follows a span group when its `semconv:` names the group, or when its type
//! equals the group's id (with or without a leading `span.`) or the v2 span `type`.

use std::path::Path;

use crate::diag::{Diagnostic, Diagnostics, Reporter};
use crate::spec::{AttrSpec, Literal, NumType, Scenario, SpanSpec};
use crate::yaml::{self, Node, Value};

/// The type an attribute has in the schema.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // each variant's doc names its fields
pub enum AttrType {
    /// `string`.
    Str,
    /// `int`.
    Int,
    /// `double`.
    Double,
    /// `boolean`.
    Bool,
    /// An array or template type: not checked.
    Other(String),
    /// An enum: its member values (as text) and whether other values are allowed.
    Enum { values: Vec<String>, open: bool },
}

/// An attribute the schema defines.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrDef {
    /// Full key (`gen_ai.request.model`).
    pub key: String,
    /// Type.
    pub ty: AttrType,
    /// First example, if any.
    pub example: Option<Literal>,
}

/// A span group: which attributes it requires.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanGroup {
    /// Group id (v1) or span type (v2).
    pub id: String,
    /// Keys with requirement level `required`.
    pub required: Vec<String>,
}

/// A loaded schema.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schema {
    /// Where it came from.
    pub file: String,
    /// Every attribute defined anywhere in the file.
    pub attributes: Vec<AttrDef>,
    /// Span groups.
    pub spans: Vec<SpanGroup>,
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Reported; validation still passes.
    Warning,
    /// Validation fails.
    Error,
}

/// One finding of [`Schema::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Warning or error.
    pub severity: Severity,
    /// Where and what.
    pub diagnostic: Diagnostic,
}

fn literal(n: &Node) -> Option<Literal> {
    Some(match &n.value {
        Value::Str(s) => Literal::Str(s.clone()),
        Value::Int(i) => Literal::Int(*i),
        Value::Float(f) => Literal::Double(*f),
        Value::Bool(b) => Literal::Bool(*b),
        Value::Seq(items) => return items.first().and_then(literal),
        _ => return None,
    })
}

fn attr_type(n: Option<&Node>) -> AttrType {
    let Some(n) = n else { return AttrType::Other("unspecified".into()) };
    match &n.value {
        Value::Str(s) => match s.as_str() {
            "string" => AttrType::Str,
            "int" => AttrType::Int,
            "double" => AttrType::Double,
            "boolean" => AttrType::Bool,
            other => AttrType::Other(other.into()),
        },
        Value::Map(_) => {
            let values = n
                .get("members")
                .and_then(|m| match &m.value {
                    Value::Seq(items) => Some(items),
                    _ => None,
                })
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|m| m.get("value"))
                        .filter_map(|v| match &v.value {
                            Value::Str(s) => Some(s.clone()),
                            Value::Int(i) => Some(i.to_string()),
                            Value::Float(f) => Some(f.to_string()),
                            Value::Bool(b) => Some(b.to_string()),
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default();
            let open = matches!(n.get("allow_custom_values").map(|v| &v.value), Some(Value::Bool(true)));
            AttrType::Enum { values, open }
        }
        _ => AttrType::Other(n.value.type_name().into()),
    }
}

fn is_required(n: &Node) -> bool {
    match n.get("requirement_level").map(|r| &r.value) {
        Some(Value::Str(s)) => s == "required",
        Some(Value::Map(m)) => m.iter().any(|(k, _)| k.as_str() == Some("required")),
        _ => false,
    }
}

fn seq(n: Option<&Node>) -> &[Node] {
    match n.map(|n| &n.value) {
        Some(Value::Seq(items)) => items,
        _ => &[],
    }
}

impl Schema {
    /// Reads a schema file.
    pub fn load(path: &Path) -> Result<Schema, Diagnostics> {
        let (name, src) = crate::diag::read_source(path)?;
        Self::parse(&src, &name)
    }

    /// Parses a schema from YAML text; `file` names it in diagnostics.
    pub fn parse(src: &str, file: &str) -> Result<Schema, Diagnostics> {
        let mut rep = Reporter::new(file, src);
        let Some(root) = yaml::parse(src, &mut rep) else { return Err(Diagnostics(rep.diags)) };
        let mut schema = Schema { file: file.into(), ..Default::default() };
        let v2 = root.get("file_format").and_then(Node::as_str).is_some_and(|f| f.starts_with("definition/2"));
        if v2 {
            for a in seq(root.get("attributes")) {
                if let Some(key) = a.get("key").and_then(Node::as_str) {
                    schema.define(key, a);
                }
            }
            for s in seq(root.get("spans")) {
                let Some(ty) = s.get("type").and_then(Node::as_str) else { continue };
                let mut group = SpanGroup { id: ty.into(), required: Vec::new() };
                for a in seq(s.get("attributes")) {
                    if let Some(key) = a.get("ref").or(a.get("key")).and_then(Node::as_str) {
                        if a.get("key").is_some() {
                            schema.define(key, a);
                        }
                        if is_required(a) {
                            group.required.push(key.into());
                        }
                    }
                }
                schema.spans.push(group);
            }
        } else if let Some(groups) = root.get("groups") {
            // Attributes first (refs may point forward), then span groups with `extends`.
            let list = seq(Some(groups));
            let key_of = |g: &Node, a: &Node| -> Option<String> {
                let id = a.get("id").and_then(Node::as_str)?;
                Some(match g.get("prefix").and_then(Node::as_str) {
                    Some(p) if !p.is_empty() && !id.starts_with(&format!("{p}.")) => format!("{p}.{id}"),
                    _ => id.to_string(),
                })
            };
            for g in list {
                for a in seq(g.get("attributes")) {
                    if let Some(key) = key_of(g, a) {
                        schema.define(&key, a);
                    }
                }
            }
            let required_of = |g: &Node| -> Vec<String> {
                seq(g.get("attributes"))
                    .iter()
                    .filter(|a| is_required(a))
                    .filter_map(|a| a.get("ref").and_then(Node::as_str).map(str::to_string).or_else(|| key_of(g, a)))
                    .collect()
            };
            for g in list {
                if g.get("type").and_then(Node::as_str) != Some("span") {
                    continue;
                }
                let Some(id) = g.get("id").and_then(Node::as_str) else { continue };
                let mut required = required_of(g);
                // One level of `extends` (attribute groups holding required refs).
                if let Some(base) = g.get("extends").and_then(Node::as_str)
                    && let Some(b) = list.iter().find(|x| x.get("id").and_then(Node::as_str) == Some(base))
                {
                    required.extend(required_of(b));
                }
                required.dedup();
                schema.spans.push(SpanGroup { id: id.into(), required });
            }
        } else {
            rep.error(
                root.line,
                root.col,
                "not a semantic-conventions file: expected `groups:` (v1) or `file_format: definition/2` (v2)",
                None,
            );
            return Err(Diagnostics(rep.diags));
        }
        Ok(schema)
    }

    fn define(&mut self, key: &str, a: &Node) {
        if self.attributes.iter().any(|d| d.key == key) {
            return;
        }
        let example = a.get("examples").and_then(literal);
        self.attributes.push(AttrDef { key: key.into(), ty: attr_type(a.get("type")), example });
    }

    /// The definition of `key`.
    pub fn attribute(&self, key: &str) -> Option<&AttrDef> {
        self.attributes.iter().find(|d| d.key == key)
    }

    /// The span group a node follows.
    pub fn group_of(&self, span: &SpanSpec) -> Option<&SpanGroup> {
        let wanted = span.semconv.as_deref();
        self.spans.iter().find(|g| match wanted {
            Some(w) => g.id == w,
            None => g.id == span.span_type || g.id.strip_prefix("span.") == Some(span.span_type.as_str()),
        })
    }

    /// Checks a scenario: unknown attributes (warnings), missing required attributes and
    /// wrong types or enum values (errors), each at the scenario's file:line:col.
    pub fn check(&self, s: &Scenario, src: &str) -> Vec<Finding> {
        let mut out = Vec::new();
        let lines: Vec<&str> = src.lines().collect();
        let mut push = |severity: Severity, line: u32, col: u32, message: String, help: Option<String>| {
            let source_line = lines.get(line.saturating_sub(1) as usize).map(|l| l.trim_end().to_string());
            out.push(Finding {
                severity,
                diagnostic: Diagnostic { file: s.source.clone(), line, col, message, help, source_line },
            });
        };
        let mut stack: Vec<&SpanSpec> = vec![&s.root];
        while let Some(span) = stack.pop() {
            stack.extend(span.children.iter().rev());
            let group = self.group_of(span);
            if let Some(w) = &span.semconv
                && group.is_none()
            {
                push(
                    Severity::Error,
                    span.line,
                    1,
                    format!("span `{}` names semconv group `{w}`, which {} does not define", span.span_type, self.file),
                    None,
                );
            }
            for (i, (key, spec)) in span.attributes.iter().enumerate() {
                let (line, col) = span.attr_pos.get(i).copied().unwrap_or((span.line, 1));
                let Some(def) = self.attribute(key) else {
                    let known = self.attributes.iter().map(|d| d.key.as_str());
                    push(
                        Severity::Warning,
                        line,
                        col,
                        format!("attribute `{key}` is not defined in {}", self.file),
                        crate::diag::did_you_mean(key, known).map(|k| format!("did you mean `{k}`?")),
                    );
                    continue;
                };
                if let Some(problem) = type_problem(&def.ty, spec) {
                    push(Severity::Error, line, col, format!("attribute `{key}`: {problem}"), None);
                }
            }
            if let Some(g) = group {
                for req in &g.required {
                    if !span.attributes.iter().any(|(k, _)| k == req)
                        && !s.trace_attributes.iter().any(|(k, _)| k == req)
                    {
                        push(
                            Severity::Error,
                            span.line,
                            1,
                            format!("span `{}` lacks `{req}`, required by `{}`", span.span_type, g.id),
                            self.attribute(req).and_then(|d| d.example.as_ref()).map(|e| match e {
                                Literal::Str(s) => format!("e.g. {req}: {s:?}"),
                                other => format!("e.g. {req}: {other}"),
                            }),
                        );
                    }
                }
            }
        }
        out
    }

    /// Adds to every span node the required attributes of its group that it leaves out,
    /// from the schema's first example (or a value of the attribute's type). Returns how
    /// many were added.
    pub fn fill_required(&self, s: &mut Scenario) -> usize {
        fn walk(schema: &Schema, span: &mut SpanSpec, trace: &[String]) -> usize {
            let mut n = 0;
            if let Some(g) = schema.group_of(span) {
                for req in &g.required {
                    if span.attributes.iter().any(|(k, _)| k == req) || trace.contains(req) {
                        continue;
                    }
                    let def = schema.attribute(req);
                    let value = def.and_then(|d| d.example.clone()).unwrap_or_else(|| match def.map(|d| &d.ty) {
                        Some(AttrType::Int) => Literal::Int(0),
                        Some(AttrType::Double) => Literal::Double(0.0),
                        Some(AttrType::Bool) => Literal::Bool(false),
                        Some(AttrType::Enum { values, .. }) if !values.is_empty() => Literal::Str(values[0].clone()),
                        _ => Literal::Str(format!("{req}-example")),
                    });
                    span.attributes.push((req.clone(), AttrSpec::Literal(value)));
                    span.attr_pos.push((span.line, 1));
                    n += 1;
                }
            }
            span.children.iter_mut().map(|c| walk(schema, c, trace)).sum::<usize>() + n
        }
        let trace: Vec<String> = s.trace_attributes.iter().map(|(k, _)| k.clone()).collect();
        walk(self, &mut s.root, &trace)
    }
}

/// What is wrong with a scenario attribute against its schema type, if anything.
fn type_problem(ty: &AttrType, spec: &AttrSpec) -> Option<String> {
    fn lit_type(l: &Literal) -> &'static str {
        match l {
            Literal::Str(_) => "string",
            Literal::Int(_) => "int",
            Literal::Double(_) => "double",
            Literal::Bool(_) => "boolean",
        }
    }
    let produced: Vec<(&'static str, Option<String>)> = match spec {
        AttrSpec::Literal(l) => vec![(lit_type(l), Some(l.to_string()))],
        AttrSpec::Categorical(values) => values.iter().map(|(l, _)| (lit_type(l), Some(l.to_string()))).collect(),
        AttrSpec::Number { as_type: NumType::Int, .. } | AttrSpec::Sequence { .. } => vec![("int", None)],
        AttrSpec::Number { as_type: NumType::Double, .. } => vec![("double", None)],
        AttrSpec::Number { as_type: NumType::Str, .. } | AttrSpec::Uuid | AttrSpec::Template(_) => {
            vec![("string", None)]
        }
    };
    for (t, value) in produced {
        let want = match ty {
            AttrType::Str => "string",
            AttrType::Int => "int",
            AttrType::Double => "double",
            AttrType::Bool => "boolean",
            AttrType::Other(_) => return None,
            AttrType::Enum { values, open } => {
                if let Some(v) = &value
                    && !open
                    && !values.is_empty()
                    && !values.contains(v)
                {
                    return Some(format!("`{v}` is not one of the enum's values: {}", values.join(", ")));
                }
                continue;
            }
        };
        // An int is a fine double.
        if t != want && !(want == "double" && t == "int") {
            return Some(format!("the schema's type is {want}, the scenario gives {t}"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "groups:
  - id: registry.demo
    type: attribute_group
    prefix: demo
    attributes:
      - id: model
        type: string
        examples: [gpt-4o]
      - id: tokens
        type: int
      - id: op
        type:
          members:
            - {id: chat, value: chat}
            - {id: embeddings, value: embeddings}
  - id: span.demo.call
    type: span
    attributes:
      - ref: demo.model
        requirement_level: required
      - ref: demo.op
        requirement_level: {conditionally_required: if known}
";

    #[test]
    fn reads_v1_with_prefix_enums_and_required_refs() {
        let s = Schema::parse(V1, "v1.yaml").unwrap();
        assert_eq!(s.attribute("demo.model").unwrap().example, Some(Literal::Str("gpt-4o".into())));
        assert_eq!(s.attribute("demo.tokens").unwrap().ty, AttrType::Int);
        assert!(
            matches!(&s.attribute("demo.op").unwrap().ty, AttrType::Enum { values, open: false } if values.len() == 2)
        );
        assert_eq!(s.spans, vec![SpanGroup { id: "span.demo.call".into(), required: vec!["demo.model".into()] }]);
    }

    #[test]
    fn reads_v2() {
        let src = "file_format: definition/2
attributes:
  - key: demo.model
    type: string
    examples: [gpt-4o]
spans:
  - type: demo.call
    kind: client
    attributes:
      - ref: demo.model
        requirement_level: required
";
        let s = Schema::parse(src, "v2.yaml").unwrap();
        assert_eq!(s.spans[0].required, vec!["demo.model".to_string()]);
        assert!(Schema::parse("foo: 1\n", "x.yaml").is_err());
    }

    #[test]
    fn types_and_enums() {
        assert!(type_problem(&AttrType::Int, &AttrSpec::Literal(Literal::Str("x".into()))).is_some());
        assert!(type_problem(&AttrType::Double, &AttrSpec::Literal(Literal::Int(3))).is_none());
        let e = AttrType::Enum { values: vec!["chat".into()], open: false };
        assert!(type_problem(&e, &AttrSpec::Literal(Literal::Str("chat".into()))).is_none());
        assert!(type_problem(&e, &AttrSpec::Literal(Literal::Str("nope".into()))).is_some());
    }
}
