//! The in-memory shape of generated traces: an arena per trace, reused between traces.

use crate::num::idx;

/// Text that is either borrowed from the compiled scenario or generated into the trace arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text<'s> {
    /// Borrowed (scenario constants, fixed names).
    Static(&'s str),
    /// Generated: a range of [`TraceBuf::text`].
    Arena(u32, u32),
}

/// An attribute value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AnyValue<'s> {
    /// String.
    Str(Text<'s>),
    /// 64-bit integer.
    Int(i64),
    /// Double.
    Double(f64),
    /// Boolean.
    Bool(bool),
}

/// An attribute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeyValue<'s> {
    /// Key.
    pub key: &'s str,
    /// Value.
    pub value: AnyValue<'s>,
}

/// OTLP span kind (values as in the protocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SpanKind {
    /// Unspecified.
    Unspecified = 0,
    /// Internal.
    Internal = 1,
    /// Server.
    Server = 2,
    /// Client.
    Client = 3,
    /// Producer.
    Producer = 4,
    /// Consumer.
    Consumer = 5,
}

impl SpanKind {
    /// The name used in text output.
    pub fn as_str(self) -> &'static str {
        match self {
            SpanKind::Unspecified => "UNSPECIFIED",
            SpanKind::Internal => "INTERNAL",
            SpanKind::Server => "SERVER",
            SpanKind::Client => "CLIENT",
            SpanKind::Producer => "PRODUCER",
            SpanKind::Consumer => "CONSUMER",
        }
    }
}

/// OTLP status code (values as in the protocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum StatusCode {
    /// Unset.
    Unset = 0,
    /// Ok.
    Ok = 1,
    /// Error.
    Error = 2,
}

/// A span event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event<'s> {
    /// Name.
    pub name: Text<'s>,
    /// Unix nanoseconds.
    pub time_ns: u64,
    /// Range of [`TraceBuf::attrs`].
    pub attrs: (u32, u32),
}

/// A span.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span<'s> {
    /// Span id (never all zero).
    pub span_id: [u8; 8],
    /// Parent span id; all zero for the root.
    pub parent_span_id: [u8; 8],
    /// Name.
    pub name: Text<'s>,
    /// Kind.
    pub kind: SpanKind,
    /// Start, Unix nanoseconds.
    pub start_ns: u64,
    /// End, Unix nanoseconds.
    pub end_ns: u64,
    /// Range of [`TraceBuf::attrs`].
    pub attrs: (u32, u32),
    /// Range of [`TraceBuf::events`].
    pub events: (u32, u32),
    /// Status code.
    pub status: StatusCode,
    /// Status message (empty unless failed).
    pub status_message: Text<'s>,
    /// W3C trace flags and OTLP span flags (sampled, has-is-remote).
    pub flags: u32,
}

impl Span<'_> {
    /// Whether this span has no parent.
    pub fn is_root(&self) -> bool {
        self.parent_span_id == [0; 8]
    }
}

/// A log record tied to a span of the trace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogRecord<'s> {
    /// Unix nanoseconds (also used as the observed time).
    pub time_ns: u64,
    /// OTLP severity number (1–24; 9 = INFO, 13 = WARN, 17 = ERROR).
    pub severity: u8,
    /// Severity text (`INFO`, `ERROR`, …).
    pub severity_text: &'static str,
    /// The message.
    pub body: Text<'s>,
    /// Range of [`TraceBuf::attrs`].
    pub attrs: (u32, u32),
    /// Index of the span in [`TraceBuf::spans`] the record belongs to.
    pub span: u32,
    /// Logger name (application log files; in OTLP the attribute `logger.name`).
    pub logger: Text<'s>,
}

/// One trace, as an arena. `clear` keeps the capacity, so steady-state generation does not
/// allocate.
#[derive(Debug, Default, Clone)]
pub struct TraceBuf<'s> {
    /// Trace id (never all zero).
    pub trace_id: [u8; 16],
    /// Name of the scenario that produced it.
    pub scenario: &'s str,
    /// Spans in pre-order (a parent before its children; a subtree is contiguous).
    pub spans: Vec<Span<'s>>,
    /// Attributes of all spans and events.
    pub attrs: Vec<KeyValue<'s>>,
    /// Events of all spans.
    pub events: Vec<Event<'s>>,
    /// Generated text.
    pub text: String,
    /// Log records correlated with the spans.
    pub logs: Vec<LogRecord<'s>>,
}

impl<'s> TraceBuf<'s> {
    /// Empties the buffer, keeping its capacity.
    pub fn clear(&mut self) {
        self.spans.clear();
        self.attrs.clear();
        self.events.clear();
        self.text.clear();
        self.logs.clear();
    }

    /// Resolves a [`Text`].
    #[inline]
    pub fn str<'a>(&'a self, t: &Text<'s>) -> &'a str
    where
        's: 'a,
    {
        match *t {
            Text::Static(s) => s,
            Text::Arena(start, len) => &self.text[start as usize..(start + len) as usize],
        }
    }

    /// Stores generated text and returns a handle to it.
    pub fn push_text(&mut self, s: &str) -> Text<'s> {
        let start = idx(self.text.len());
        self.text.push_str(s);
        Text::Arena(start, idx(s.len()))
    }

    /// Marks the start of text written directly into [`TraceBuf::text`]; finish with
    /// [`TraceBuf::text_since`].
    pub fn text_mark(&self) -> u32 {
        idx(self.text.len())
    }

    /// The text written since `mark`.
    pub fn text_since(&self, mark: u32) -> Text<'s> {
        Text::Arena(mark, idx(self.text.len()) - mark)
    }

    /// Attributes in `range`.
    #[inline]
    pub fn attrs_of(&self, range: (u32, u32)) -> &[KeyValue<'s>] {
        &self.attrs[range.0 as usize..range.1 as usize]
    }

    /// Events in `range`.
    #[inline]
    pub fn events_of(&self, range: (u32, u32)) -> &[Event<'s>] {
        &self.events[range.0 as usize..range.1 as usize]
    }

    /// Number of spans with status ERROR.
    pub fn error_spans(&self) -> usize {
        self.spans.iter().filter(|s| s.status == StatusCode::Error).count()
    }

    /// The value of the first of `keys` (in order of preference) on span `i`, or else on its
    /// nearest ancestor that has one. With `dotted_suffix`, a key also matches an attribute
    /// ending in `.key` (`task.id` finds `vendor.task.id`).
    pub fn find_up(&self, mut i: usize, keys: &[&str], dotted_suffix: bool) -> Option<&AnyValue<'s>> {
        let matches = |attr: &str, k: &str| {
            attr == k
                || (dotted_suffix
                    && attr.len() > k.len()
                    && attr.ends_with(k)
                    && attr.as_bytes()[attr.len() - k.len() - 1] == b'.')
        };
        loop {
            let s = &self.spans[i];
            let attrs = self.attrs_of(s.attrs);
            for k in keys {
                if let Some(kv) = attrs.iter().find(|kv| matches(kv.key, k)) {
                    return Some(&kv.value);
                }
            }
            if s.is_root() {
                return None;
            }
            // Pre-order: a parent always comes before its children.
            i = self.spans[..i].iter().rposition(|p| p.span_id == s.parent_span_id)?;
        }
    }

    /// Appends `v` as plain text (strings unquoted).
    pub fn push_value_text(&self, v: &AnyValue<'s>, out: &mut String) {
        use std::fmt::Write;
        let _ = match v {
            AnyValue::Str(s) => {
                out.push_str(self.str(s));
                Ok(())
            }
            AnyValue::Int(i) => write!(out, "{i}"),
            AnyValue::Double(d) => write!(out, "{d}"),
            AnyValue::Bool(b) => write!(out, "{b}"),
        };
    }
}

/// An owned attribute value, for resources.
#[derive(Debug, Clone, PartialEq)]
pub enum OwnedValue {
    /// String.
    Str(String),
    /// 64-bit integer.
    Int(i64),
    /// Double.
    Double(f64),
    /// Boolean.
    Bool(bool),
}

/// A resource: the attributes that describe the producer of a set of spans.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resource {
    /// Attributes in order.
    pub attrs: Vec<(String, OwnedValue)>,
}

impl Resource {
    /// The string value of `key`, if any.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == key).and_then(|(_, v)| match v {
            OwnedValue::Str(s) => Some(s.as_str()),
            _ => None,
        })
    }
}

/// The instrumentation scope every span is reported under.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
}

impl Default for Scope {
    fn default() -> Self {
        Self { name: "telemetry-simulator".into(), version: env!("CARGO_PKG_VERSION").into() }
    }
}

/// The resources of a run, addressed by index, plus the scope.
#[derive(Debug, Clone, Default)]
pub struct Resources {
    /// Resources by id.
    pub list: Vec<Resource>,
    /// Scope of all spans.
    pub scope: Scope,
    /// `schema_url` of every resource (empty: none).
    pub schema_url: String,
}

impl Resources {
    /// For each resource id, the first id whose attributes are the same (in any order): what
    /// a backend takes for one producer. Two scenarios of one service without attributes of
    /// their own have alike resources, and their cumulative series must be one.
    pub fn first_alike(&self) -> Vec<u32> {
        let keys: Vec<Vec<&(String, OwnedValue)>> = self
            .list
            .iter()
            .map(|r| {
                let mut a: Vec<&(String, OwnedValue)> = r.attrs.iter().collect();
                a.sort_by(|x, y| x.0.cmp(&y.0));
                a
            })
            .collect();
        let mut out: Vec<u32> = Vec::with_capacity(keys.len());
        for (i, (id, k)) in (0u32..).zip(&keys).enumerate() {
            let first = keys[..i].iter().position(|o| o == k).map_or(id, |j| out[j]);
            out.push(first);
        }
        out
    }
}

/// Encoded spans grouped by resource, in order of first appearance, with buffers kept for
/// reuse between batches. Shared by the OTLP encoders.
#[derive(Debug, Default)]
pub struct ResourceBatches {
    /// (resource id, encoded spans) of the current batch.
    pub batches: Vec<(u32, Vec<u8>)>,
    spare: Vec<Vec<u8>>,
}

impl ResourceBatches {
    /// The span buffer of `resource` in the current batch.
    pub fn buffer(&mut self, resource: u32) -> &mut Vec<u8> {
        // Items come one at a time in span-end order: most often of the same resource.
        if let Some(last) = self.batches.len().checked_sub(1)
            && self.batches[last].0 == resource
        {
            return &mut self.batches[last].1;
        }
        let pos = match self.batches.iter().position(|(id, _)| *id == resource) {
            Some(p) => p,
            None => {
                let buf = self.spare.pop().unwrap_or_default();
                self.batches.push((resource, buf));
                self.batches.len() - 1
            }
        };
        &mut self.batches[pos].1
    }

    /// Takes the current batch; give it back with [`ResourceBatches::recycle`].
    pub fn take(&mut self) -> Vec<(u32, Vec<u8>)> {
        std::mem::take(&mut self.batches)
    }

    /// Returns the buffers of a finished batch for reuse.
    pub fn recycle(&mut self, batches: Vec<(u32, Vec<u8>)>) {
        for (_, mut buf) in batches {
            buf.clear();
            self.spare.push(buf);
        }
    }
}
