//! Typed reading of located YAML nodes: mappings with known keys, numbers, ranges.

use crate::diag::{Reporter, did_you_mean};
use crate::yaml::{Node, Value};

/// A mapping whose keys were checked against the allowed set.
pub(crate) struct Fields<'n> {
    entries: &'n [(Node, Node)],
}

impl<'n> Fields<'n> {
    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v)
    }

    /// The value of the first of `keys` present (for accepted spellings such as `median_ms`/`median`).
    pub fn get_any(&self, keys: &[&str]) -> Option<&'n Node> {
        keys.iter().find_map(|k| self.get(k))
    }
}

impl<'a> Reporter<'a> {
    /// Reads `node` as a mapping whose keys must be in `allowed`; unknown keys are errors
    /// with a "did you mean" hint.
    pub(crate) fn fields<'n>(&mut self, node: &'n Node, what: &str, allowed: &[&str]) -> Option<Fields<'n>> {
        let Some(entries) = node.as_map() else {
            self.error(
                node.line,
                node.col,
                format!("{what} must be a mapping, found {}", node.value.type_name()),
                None,
            );
            return None;
        };
        for (k, _) in entries {
            match k.as_str() {
                Some(key) if allowed.contains(&key) => {}
                Some(key) => {
                    let help = did_you_mean(key, allowed.iter().copied())
                        .map(|s| format!("did you mean `{s}`?"))
                        .or_else(|| Some(format!("allowed keys here: {}", allowed.join(", "))));
                    self.error(k.line, k.col, format!("unknown key `{key}` in {what}"), help);
                }
                None => self.error(k.line, k.col, format!("keys of {what} must be strings"), None),
            }
        }
        Some(Fields { entries })
    }

    /// Reads a number (integer or float), finite.
    pub(crate) fn number(&mut self, node: &Node, what: &str) -> Option<f64> {
        match node.value {
            Value::Int(i) => Some(i as f64),
            Value::Float(f) if f.is_finite() => Some(f),
            Value::Float(_) => {
                self.error(node.line, node.col, format!("{what} must be a finite number"), None);
                None
            }
            _ => {
                self.error(
                    node.line,
                    node.col,
                    format!("{what} must be a number, found {}", node.value.type_name()),
                    None,
                );
                None
            }
        }
    }

    /// Reads a number that must satisfy `ok`, described by `rule` (e.g. "> 0").
    pub(crate) fn number_where(
        &mut self,
        node: &Node,
        what: &str,
        rule: &str,
        ok: impl Fn(f64) -> bool,
    ) -> Option<f64> {
        let v = self.number(node, what)?;
        if ok(v) {
            Some(v)
        } else {
            self.error(node.line, node.col, format!("{what} must be {rule}, found {v}"), None);
            None
        }
    }

    /// Reads a probability in [0, 1].
    pub(crate) fn probability(&mut self, node: &Node, what: &str) -> Option<f64> {
        self.number_where(node, what, "between 0 and 1", |v| (0.0..=1.0).contains(&v))
    }

    /// Reads a non-negative integer.
    pub(crate) fn count(&mut self, node: &Node, what: &str) -> Option<u64> {
        match node.value {
            Value::Int(i) if i >= 0 => Some(i as u64),
            Value::Float(f) if f >= 0.0 && f.fract() == 0.0 && f < 9.0e18 => Some(f as u64),
            _ => {
                self.error(
                    node.line,
                    node.col,
                    format!("{what} must be a whole number >= 0, found {}", describe(node)),
                    None,
                );
                None
            }
        }
    }

    /// Reads a string.
    pub(crate) fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            _ => {
                self.error(
                    node.line,
                    node.col,
                    format!("{what} must be a string, found {}", node.value.type_name()),
                    None,
                );
                None
            }
        }
    }

    /// Reads a boolean.
    pub(crate) fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.value {
            Value::Bool(b) => Some(b),
            _ => {
                self.error(
                    node.line,
                    node.col,
                    format!("{what} must be true or false, found {}", describe(node)),
                    None,
                );
                None
            }
        }
    }

    /// Reads a list.
    pub(crate) fn list<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Node]> {
        match &node.value {
            Value::Seq(s) => Some(s),
            _ => {
                self.error(
                    node.line,
                    node.col,
                    format!("{what} must be a list, found {}", node.value.type_name()),
                    None,
                );
                None
            }
        }
    }

    /// Reads one of a fixed set of words.
    pub(crate) fn choice<'c>(&mut self, node: &Node, what: &str, choices: &[&'c str]) -> Option<&'c str> {
        let s = self.string(node, what)?;
        if let Some(c) = choices.iter().find(|c| c.eq_ignore_ascii_case(&s)) {
            return Some(c);
        }
        let help = did_you_mean(&s.to_ascii_lowercase(), choices.iter().copied())
            .map(|c| format!("did you mean `{c}`?"))
            .or_else(|| Some(format!("one of: {}", choices.join(", "))));
        self.error(node.line, node.col, format!("unknown {what} `{s}`"), help);
        None
    }
}

/// A short rendering of a scalar node for messages.
pub(crate) fn describe(node: &Node) -> String {
    match &node.value {
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Str(s) => format!("\"{s}\""),
        Value::Bool(b) => b.to_string(),
        other => other.type_name().to_string(),
    }
}
