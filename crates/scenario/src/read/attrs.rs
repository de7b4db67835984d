//! Reading attribute values and templates (`{other.key}`, built-ins, `{var.x}`).

use super::*;
use crate::convert::describe;
use crate::dist::{self, Use};
use crate::spec::*;
use crate::yaml::{Node, Value};

impl Reader<'_, '_> {
    /// A template whose references are checked later (span attributes are known per span).
    pub(crate) fn template_open(&mut self, node: &Node, text: &str) -> Option<Vec<TemplatePart>> {
        let refs: Vec<String> = {
            let mut v = Vec::new();
            let mut rest = text;
            while let Some(i) = rest.find('{') {
                let after = &rest[i + 1..];
                if let Some(stripped) = after.strip_prefix('{') {
                    rest = stripped;
                    continue;
                }
                match after.find('}') {
                    Some(j) => {
                        v.push(normalize_prefix(after[..j].trim(), self.prefix));
                        rest = &after[j + 1..];
                    }
                    None => break,
                }
            }
            v
        };
        let known: Vec<&str> = refs.iter().map(String::as_str).collect();
        self.template(node, text, &known)
    }

    pub(crate) fn attributes(&mut self, node: &Node) -> Vec<(String, AttrSpec)> {
        self.attributes_at(node).0
    }

    /// Attributes with the (line, column) of each key.
    pub(crate) fn attributes_at(&mut self, node: &Node) -> (Attributes, Vec<(u32, u32)>) {
        let mut pos = Vec::new();
        let Some(entries) = node.as_map() else {
            self.rep.error(
                node.line,
                node.col,
                format!("attributes must be a mapping, found {}", node.value.type_name()),
                None,
            );
            return (Vec::new(), pos);
        };
        let mut out: Vec<(String, AttrSpec)> = Vec::new();
        for (k, v) in entries {
            let Some(key) = self.rep.string(k, "attribute key") else { continue };
            let key = normalize_prefix(&key, self.prefix);
            let earlier: Vec<&str> = out.iter().map(|(k, _)| k.as_str()).collect();
            if let Some(spec) = self.attr(v, &key, &earlier) {
                out.push((key, spec));
                pos.push((k.line, k.col));
            }
        }
        (out, pos)
    }

    pub(crate) fn attr(&mut self, node: &Node, key: &str, earlier: &[&str]) -> Option<AttrSpec> {
        let Value::Map(_) = node.value else {
            return self.literal(node, key).map(AttrSpec::Literal);
        };
        if let Some(t) = node.get("template") {
            self.rep.fields(node, "template attribute", &["template"])?;
            let text = self.rep.string(t, "template")?;
            return self.template(t, &text, earlier).map(AttrSpec::Template);
        }
        let Some(d) = node.get("distribution") else {
            self.rep.error(
                node.line,
                node.col,
                format!("attribute `{key}` is a mapping without `distribution:` or `template:`"),
                Some("a value is a literal, {distribution: …} or {template: \"…{other_key}…\"}".into()),
            );
            return None;
        };
        let mut names: Vec<&str> = dist::DISTRIBUTIONS.to_vec();
        names.extend(["categorical", "uuid", "sequence"]);
        match self.rep.choice(d, "distribution", &names)? {
            "categorical" => {
                let f = self.rep.fields(node, "categorical attribute", &["distribution", "values"])?;
                let Some(vals) = f.get("values") else {
                    self.rep.error(node.line, node.col, "categorical needs `values`", None);
                    return None;
                };
                let choices: Vec<(Literal, f64)> = match &vals.value {
                    Value::Map(entries) => entries
                        .iter()
                        .filter_map(|(k, w)| {
                            let lit = self.literal(k, key)?;
                            let w = self.rep.number_where(w, "weight", ">= 0", |v| v >= 0.0)?;
                            Some((lit, w))
                        })
                        .collect(),
                    Value::Seq(items) => items.iter().filter_map(|i| self.literal(i, key)).map(|l| (l, 1.0)).collect(),
                    _ => {
                        self.rep.error(
                            vals.line,
                            vals.col,
                            "values must be a mapping of value: weight, or a list",
                            None,
                        );
                        return None;
                    }
                };
                if choices.is_empty() || choices.iter().map(|(_, w)| w).sum::<f64>() <= 0.0 {
                    self.rep.error(vals.line, vals.col, "categorical needs values with a positive total weight", None);
                    return None;
                }
                Some(AttrSpec::Categorical(choices))
            }
            "uuid" => {
                self.rep.fields(node, "uuid attribute", &["distribution"])?;
                Some(AttrSpec::Uuid)
            }
            "sequence" => {
                let f = self.rep.fields(node, "sequence attribute", &["distribution", "start", "step"])?;
                let int = |r: &mut Self, k: &str, default: i64| match f.get(k) {
                    Some(n) => match n.value {
                        Value::Int(i) => Some(i),
                        _ => {
                            r.rep.error(n.line, n.col, format!("{k} must be an integer, found {}", describe(n)), None);
                            None
                        }
                    },
                    None => Some(default),
                };
                let start = int(self, "start", 1)?;
                let step = int(self, "step", 1)?;
                Some(AttrSpec::Sequence { start, step })
            }
            _ => {
                let as_type = match node.get("as") {
                    Some(a) => match self.rep.choice(a, "`as` type", &["int", "double", "string"])? {
                        "int" => NumType::Int,
                        "string" => NumType::Str,
                        _ => NumType::Double,
                    },
                    None => default_num_type(key, node),
                };
                let stripped = strip_key(node, "as");
                let dist = dist::parse(self.rep, &stripped, &format!("attribute `{key}`"), Use::Value)?;
                Some(AttrSpec::Number { dist, as_type })
            }
        }
    }

    pub(crate) fn template(&mut self, node: &Node, text: &str, earlier: &[&str]) -> Option<Vec<TemplatePart>> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    lit.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    lit.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    let mut closed = false;
                    for c in chars.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        name.push(c);
                    }
                    if !closed {
                        self.rep.error(node.line, node.col, format!("template `{text}` has an unclosed `{{`"), None);
                        return None;
                    }
                    let name = normalize_prefix(name.trim(), self.prefix);
                    let is_var = name.strip_prefix("var.").is_some_and(|v| !v.is_empty());
                    if !is_var
                        && !earlier.contains(&name.as_str())
                        && !TEMPLATE_BUILTINS.contains(&name.as_str())
                        && !self.trace_keys.contains(&name)
                    {
                        let mut known: Vec<&str> = earlier.to_vec();
                        known.extend(self.trace_keys.iter().map(String::as_str));
                        known.extend_from_slice(TEMPLATE_BUILTINS);
                        let help = crate::diag::did_you_mean(&name, known.iter().copied())
                            .map(|s| format!("did you mean `{{{s}}}`?"))
                            .or_else(|| Some(format!("known here: {}", known.join(", "))));
                        self.rep.error(
                            node.line,
                            node.col,
                            format!("template refers to `{name}`, which is neither an earlier attribute of this span, a trace attribute nor a built-in"),
                            help,
                        );
                        return None;
                    }
                    if !lit.is_empty() {
                        parts.push(TemplatePart::Text(std::mem::take(&mut lit)));
                    }
                    parts.push(TemplatePart::Ref(name));
                }
                '}' => {
                    self.rep.error(
                        node.line,
                        node.col,
                        format!("template `{text}` has a lone `}}` (write `}}}}`)"),
                        None,
                    );
                    return None;
                }
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            parts.push(TemplatePart::Text(lit));
        }
        Some(parts)
    }
}
