//! A located YAML tree: every node knows its line and column, so validation can point at it.
//!
//! Parsing uses serde-saphyr with budgets (size, depth, nodes, aliases) so that a hostile
//! file fails fast with an error instead of hanging or exhausting memory.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::diag::Reporter;

/// The largest scenario file we accept.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;
/// The deepest nesting we accept (span trees nest a few levels per span).
pub const MAX_DEPTH: usize = 128;
/// The most YAML nodes we accept in one file.
pub const MAX_NODES: usize = 250_000;
/// The most aliases we accept in one file.
pub const MAX_ALIASES: usize = 1_000;

/// A YAML node with its 1-based position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
    /// The value.
    pub value: Value,
}

/// A YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`, `~` or empty.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order.
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// A short name of this value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

impl Node {
    /// The mapping entries, if this node is a mapping.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The string, if this node is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value of `key` in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v)
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Spanned::<Value>::deserialize(d)?;
        Ok(Node {
            line: u32::try_from(s.referenced.line()).unwrap_or(u32::MAX),
            col: u32::try_from(s.referenced.column()).unwrap_or(u32::MAX),
            value: s.value,
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map(Value::Int).unwrap_or(Value::Float(v as f64)))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Ok(i64::try_from(v).map(Value::Int).unwrap_or(Value::Float(v as f64)))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Ok(i64::try_from(v).map(Value::Int).unwrap_or(Value::Float(v as f64)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(n) = seq.next_element::<Node>()? {
            out.push(n);
        }
        Ok(Value::Seq(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(k) = map.next_key::<Node>()? {
            let v = map.next_value::<Node>()?;
            out.push((k, v));
        }
        Ok(Value::Map(out))
    }
}

/// Parses `src` into a located tree, reporting syntax errors and budget overruns.
pub(crate) fn parse(src: &str, rep: &mut Reporter<'_>) -> Option<Node> {
    if src.len() > MAX_FILE_BYTES {
        rep.error(1, 1, format!("file is {} bytes; the limit is {MAX_FILE_BYTES}", src.len()), None);
        return None;
    }
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: MAX_DEPTH,
            max_nodes: MAX_NODES,
            max_aliases: MAX_ALIASES,
            max_anchors: MAX_ALIASES,
            max_documents: 1,
            max_total_scalar_bytes: MAX_FILE_BYTES,
        },
        with_snippet: false,
        strict_booleans: true,
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
    };
    let mut options = options;
    options.alias_limits.max_total_replayed_events = 100_000;
    options.alias_limits.max_replay_stack_depth = 16;
    options.alias_limits.max_alias_expansions_per_anchor = 1_000;
    match serde_saphyr::from_str_with_options::<Node>(src, options) {
        Ok(mut n) => {
            last_key_wins(&mut n, rep);
            Some(n)
        }
        Err(e) => {
            let (line, col) = e.location().map(|l| (l.line() as u32, l.column() as u32)).unwrap_or((1, 1));
            let msg = plain_message(&e.without_snippet().to_string());
            rep.error(line, col, format!("invalid YAML: {msg}"), None);
            None
        }
    }
}

/// A key given twice in one mapping: the later value is used, as PyYAML (and with it the
/// Python telemetry-simulator 1.x) reads such files, with a warning at the earlier one.
/// Linear in the mapping's size (a hashed pass from the end), so a huge mapping cannot stall it.
fn last_key_wins(node: &mut Node, rep: &mut Reporter<'_>) {
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().for_each(|n| last_key_wins(n, rep)),
        Value::Map(entries) => {
            // From the end: the first time a key is seen is its last occurrence, the one used.
            let mut used: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
            let mut keep = vec![true; entries.len()];
            for (i, (k, _)) in entries.iter().enumerate().rev() {
                let key = match &k.value {
                    Value::Str(s) => s.clone(),
                    other => format!("\u{0}{other:?}"),
                };
                match used.get(&key) {
                    Some(line) => {
                        keep[i] = false;
                        let shown = key.trim_start_matches('\u{0}');
                        rep.warn(k.line, k.col, format!("duplicate key `{shown}`: the one on line {line} is used"));
                    }
                    None => {
                        used.insert(key, k.line);
                    }
                }
            }
            let mut keep = keep.into_iter();
            entries.retain(|_| keep.next().unwrap_or(true));
            entries.iter_mut().for_each(|(_, v)| last_key_wins(v, rep));
        }
        _ => {}
    }
}

/// The parser's message without what the diagnostic already says (the position) or what
/// speaks to a programmer of the library (which option would allow it).
fn plain_message(msg: &str) -> String {
    let mut m = msg.trim();
    if let Some(i) = m.find(", set DuplicateKeyPolicy") {
        m = &m[..i];
    }
    if let Some(i) = m.rfind(" at line ")
        && m[i + 9..].split(", column ").all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    {
        m = &m[..i];
    }
    match m.strip_prefix("duplicate mapping key: ") {
        Some(k) => format!("duplicate key `{k}` (each key may appear once in a mapping)"),
        None => m.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(src: &str) -> Node {
        let mut r = Reporter::new("t.yaml", src);
        let n = parse(src, &mut r);
        assert!(r.diags.is_empty(), "{:?}", r.diags);
        n.unwrap()
    }

    fn parse_err(src: &str) -> String {
        let mut r = Reporter::new("t.yaml", src);
        assert!(parse(src, &mut r).is_none());
        r.diags[0].to_string()
    }

    #[test]
    fn nodes_carry_positions() {
        let n = parse_ok("name: x\nroot:\n  type: a.b\n  count: 3\n  p: 0.5\n  ok: true\n");
        let root = n.get("root").unwrap();
        assert_eq!((root.line, root.col), (3, 3));
        let t = root.get("type").unwrap();
        assert_eq!(t.value, Value::Str("a.b".into()));
        assert_eq!((t.line, t.col), (3, 9));
        assert_eq!(root.get("count").unwrap().value, Value::Int(3));
        assert_eq!(root.get("p").unwrap().value, Value::Float(0.5));
        assert_eq!(root.get("ok").unwrap().value, Value::Bool(true));
    }

    #[test]
    fn syntax_errors_are_located() {
        let e = parse_err("name: x\nroot: [1, 2\n");
        assert!(e.starts_with("t.yaml:"), "{e}");
        assert!(e.contains("invalid YAML"), "{e}");
    }

    #[test]
    fn a_duplicate_key_keeps_the_last_value_with_a_warning_at_the_first() {
        let src = "name: x\nroot:\n  a: 1\n  b: 2\n  a: 3\nname: y\n";
        let mut r = Reporter::new("t.yaml", src);
        let n = parse(src, &mut r).unwrap();
        assert!(r.diags.is_empty(), "{:?}", r.diags);
        assert_eq!(n.get("name").unwrap().value, Value::Str("y".into()));
        let root = n.get("root").unwrap().as_map().unwrap();
        assert_eq!(root.len(), 2);
        assert_eq!(n.get("root").unwrap().get("a").unwrap().value, Value::Int(3));
        let w: Vec<String> = r.warnings.iter().map(|d| d.to_string()).collect();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w.iter().any(|d| d.starts_with("t.yaml:1:1: duplicate key `name`: the one on line 6 is used")),
            "{w:?}"
        );
        assert!(w.iter().any(|d| d.starts_with("t.yaml:3:3: duplicate key `a`: the one on line 5 is used")), "{w:?}");
    }

    #[test]
    fn alias_bomb_is_bounded() {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            src.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let start = std::time::Instant::now();
        let e = parse_err(&src);
        assert!(start.elapsed().as_secs() < 5);
        assert!(e.contains("invalid YAML"), "{e}");
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let src = "[".repeat(10_000) + &"]".repeat(10_000);
        let e = parse_err(&src);
        assert!(e.contains("invalid YAML"), "{e}");
    }
}
