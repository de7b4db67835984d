//! The telemetry model of telemetry-simulator and its encoders.
//!
//! The engine writes each trace into a reusable [`TraceBuf`] (an arena: spans, attributes,
//! events and generated text live in flat vectors that keep their capacity), and encoders
//! turn batches of traces into bytes: OTLP protobuf written directly into a reused buffer
//! ([`otlp_proto`]), OTLP/JSON ([`otlp_json`]) and human-readable text ([`text`]).

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

pub mod applog;
pub mod artifact;
pub mod decision;
pub mod esbulk;
pub mod hex;
pub mod metrics;
pub mod num;
pub mod otlp_json;
pub mod otlp_proto;
mod proto;
pub mod structlog;
pub mod text;
pub mod time;
mod trace;

/// The resource attribute that names a resource's scenario, when a run is asked to
/// (`--mark-scenario`); the store promotes it to the `Scenario` column.
pub const SCENARIO_KEY: &str = "telemetry_simulator.scenario";

/// The resource attribute that names the run, when a run is given one (`--run-id`): `verify`
/// then leaves the items of other runs in the same store aside.
pub const RUN_ID_KEY: &str = "telemetry_simulator.run.id";

/// Span attribute naming the incidents that hit a span (`--mark-incidents`; comma-separated
/// when several did).
pub const INCIDENT_KEY: &str = "incident.name";

pub use trace::{
    AnyValue, Event, KeyValue, LogRecord, OwnedValue, Resource, ResourceBatches, Resources, Scope, Span, SpanKind,
    StatusCode, Text, TraceBuf,
};

/// What an encoder takes from each trace buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Items {
    /// The spans, each on its own (exported when it ends).
    Spans,
    /// The log records, each on its own (written when it happens).
    Logs,
    /// Whole traces (a view of the trace as one thing, shown once it is complete).
    Traces,
}

impl Items {
    /// How many of these items `trace` holds.
    pub fn count(self, trace: &TraceBuf<'_>) -> usize {
        match self {
            Items::Spans => trace.spans.len(),
            Items::Logs => trace.logs.len(),
            Items::Traces => 1,
        }
    }
}

/// Which of a trace's items (of the kind an encoder takes) to add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// All of them, in order.
    All,
    /// The one at this index of [`TraceBuf::spans`] or [`TraceBuf::logs`].
    One(u32),
}

impl Pick {
    /// The indices picked among `n` items.
    #[inline]
    pub fn range(self, n: usize) -> std::ops::Range<usize> {
        match self {
            Pick::All => 0..n,
            Pick::One(i) => {
                let i = (i as usize).min(n);
                i..(i + 1).min(n)
            }
        }
    }
}

/// Turns batches of spans or log records (whole traces, or items encoded one at a time and
/// batched later) into one payload of bytes.
pub trait TraceEncoder {
    /// What it takes from a trace.
    fn items(&self) -> Items;
    /// Adds every item of a trace whose resource is `resources[resource]`.
    fn add(&mut self, resources: &Resources, resource: u32, trace: &TraceBuf<'_>);
    /// Appends item `index` (of the kind it takes; a whole trace for [`Items::Traces`]) to
    /// `out` as a piece that [`TraceEncoder::add_encoded`] puts into a batch later; returns
    /// how many items the piece holds (0: this encoder leaves the item out).
    fn encode_item(&mut self, res: &Resources, id: u32, trace: &TraceBuf<'_>, index: u32, out: &mut Vec<u8>) -> usize;
    /// Adds a piece [`TraceEncoder::encode_item`] wrote for `resource`, holding `items` items.
    fn add_encoded(&mut self, resource: u32, piece: &[u8], items: usize);
    /// Items (spans or log records) added since the last [`TraceEncoder::finish`].
    fn spans(&self) -> usize;
    /// Writes the payload for everything added into `out` (cleared first) and starts a new batch.
    fn finish(&mut self, resources: &Resources, out: &mut Vec<u8>);
}

/// Renders log records of a trace as lines (application log, decision log, bulk documents, …).
pub trait RenderLines {
    /// Appends the lines of the `pick`ed log records of `trace` to `out`; returns how many
    /// items they hold.
    fn render(&mut self, res: &Resources, id: u32, trace: &TraceBuf<'_>, pick: Pick, out: &mut Vec<u8>) -> usize;
}

/// Calls `write` on each `pick`ed log record of `trace`; `write` says whether it wrote a
/// line for it. Returns how many it wrote.
pub fn each_picked<'a, 's>(
    trace: &'a TraceBuf<'s>,
    pick: Pick,
    write: impl FnMut(&&'a LogRecord<'s>) -> bool,
) -> usize {
    trace.logs[pick.range(trace.logs.len())].iter().filter(write).count()
}

/// The item `index` of `trace` that an encoder of `items` takes.
#[derive(Debug, Clone, Copy)]
pub enum Picked<'a, 's> {
    /// A span.
    Span(&'a Span<'s>),
    /// A log record.
    Log(&'a LogRecord<'s>),
}

impl<'a, 's> Picked<'a, 's> {
    /// Span `index` (for [`Items::Spans`] and [`Items::Traces`]) or record `index`.
    pub fn of(items: Items, trace: &'a TraceBuf<'s>, index: u32) -> Option<Self> {
        let i = index as usize;
        match items {
            Items::Spans | Items::Traces => trace.spans.get(i).map(Picked::Span),
            Items::Logs => trace.logs.get(i).map(Picked::Log),
        }
    }
}

/// A [`TraceEncoder`] for line formats: batches what a [`RenderLines`] writes.
#[derive(Debug, Default)]
pub struct Lines<R> {
    render: R,
    out: Vec<u8>,
    items: usize,
}

impl<R: RenderLines> Lines<R> {
    /// Batches the lines of `render`.
    pub fn new(render: R) -> Self {
        Self { render, out: Vec::new(), items: 0 }
    }
}

impl<R: RenderLines> TraceEncoder for Lines<R> {
    fn items(&self) -> Items {
        Items::Logs
    }

    fn add(&mut self, resources: &Resources, resource: u32, trace: &TraceBuf<'_>) {
        self.items += self.render.render(resources, resource, trace, Pick::All, &mut self.out);
    }

    fn encode_item(&mut self, res: &Resources, id: u32, trace: &TraceBuf<'_>, index: u32, out: &mut Vec<u8>) -> usize {
        self.render.render(res, id, trace, Pick::One(index), out)
    }

    fn add_encoded(&mut self, _resource: u32, piece: &[u8], items: usize) {
        self.out.extend_from_slice(piece);
        self.items += items;
    }

    fn spans(&self) -> usize {
        self.items
    }

    fn finish(&mut self, _resources: &Resources, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.out);
        self.out.clear();
        self.items = 0;
    }
}
