//! The expected side of a verify: the OTLP requests of the run generated again, read as
//! frames from the generating process, turned into rows by the store's own conversion
//! ([`tsim_store::otlp`]) and captured column by column, so that an expected span is exactly
//! what the store would have held had it received it.

use std::io::{Read, Write};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use tsim_store::Table;
use tsim_store::otlp::{Row, Sink};

use super::items::{Dict, Entries, Fields, hash, id_of_bytes};
use crate::ReportError;

/// Writes one frame: the table's byte (0 spans, 1 log records, 2 metric points), the
/// payload's length (u32, little-endian), then the OTLP protobuf request.
pub fn write_frame(w: &mut impl Write, table: Table, payload: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(payload.len()).map_err(std::io::Error::other)?;
    w.write_all(&[table_byte(table)])?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(payload)
}

fn table_byte(t: Table) -> u8 {
    match t {
        Table::Traces => 0,
        Table::Logs => 1,
        Table::Metrics => 2,
    }
}

/// Reads the next frame into `buf`; its table, or `None` at the end of the stream.
pub fn read_frame(r: &mut impl Read, buf: &mut Vec<u8>) -> Result<Option<Table>, ReportError> {
    let mut head = [0u8; 5];
    match r.read_exact(&mut head[..1]) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(frame_error(e.to_string())),
    }
    r.read_exact(&mut head[1..]).map_err(|e| frame_error(e.to_string()))?;
    let table = match head[0] {
        0 => Table::Traces,
        1 => Table::Logs,
        2 => Table::Metrics,
        b => return Err(frame_error(format!("unknown signal byte {b}"))),
    };
    let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
    buf.clear();
    buf.resize(len, 0);
    r.read_exact(buf).map_err(|e| frame_error(e.to_string()))?;
    Ok(Some(table))
}

fn frame_error(why: String) -> ReportError {
    ReportError::Expected(format!("reading the regenerated run: {why}"))
}

/// A captured column value.
enum Val {
    Id(u128),
    Text(u64),
    Int(Option<i64>),
    Float(Option<f64>),
    Map(Entries),
    Ints(Vec<i64>),
    Floats(Vec<f64>),
    Texts(Vec<u64>),
    Maps(Vec<Entries>),
    None,
}

/// Takes the rows of one table's requests, keeping the columns asked for.
pub struct Capture {
    /// Per table column: its place among the columns asked for.
    slots: Vec<Option<usize>>,
    /// Per column asked for: whether its text is kept in the dictionary.
    named: Vec<bool>,
    width: usize,
    at: usize,
    vals: Vec<Val>,
    times: Vec<i64>,
    /// Keys and names seen.
    pub dict: Dict,
}

impl Capture {
    /// Captures `columns` of `table` (by name); the texts of `names` are kept.
    pub fn new(table: Table, columns: &[&str], names: &[&str]) -> Self {
        let slots = table.columns().iter().map(|c| columns.iter().position(|n| *n == c.name)).collect();
        Self {
            slots,
            named: columns.iter().map(|c| names.contains(c)).collect(),
            width: columns.len(),
            at: 0,
            vals: Vec::new(),
            times: Vec::new(),
            dict: Dict::default(),
        }
    }

    /// Converts a request of this capture's table; calls `each` with each row.
    pub fn decode(
        &mut self,
        table: Table,
        payload: &[u8],
        mut each: impl FnMut(&mut Captured<'_>, &mut Dict),
    ) -> Result<(), ReportError> {
        self.vals.clear();
        self.times.clear();
        let bad = |e: prost::DecodeError| frame_error(format!("an OTLP request that does not decode: {e}"));
        match table {
            Table::Traces => {
                tsim_store::otlp::spans(&ExportTraceServiceRequest::decode(payload).map_err(bad)?, None, self);
            }
            Table::Logs => {
                tsim_store::otlp::logs(&ExportLogsServiceRequest::decode(payload).map_err(bad)?, None, self);
            }
            Table::Metrics => {
                tsim_store::otlp::metrics(&ExportMetricsServiceRequest::decode(payload).map_err(bad)?, None, self);
            }
        }
        let mut vals = std::mem::take(&mut self.vals);
        for (row, time) in vals.chunks_mut(self.width.max(1)).zip(&self.times) {
            each(&mut Captured { vals: row, time: *time }, &mut self.dict);
        }
        vals.clear();
        self.vals = vals;
        Ok(())
    }

    /// Sets the next column of the row being added, if it is asked for (`v` is told whether
    /// its text is to be kept).
    fn put(&mut self, v: impl FnOnce(bool, &mut Dict) -> Val) {
        let slot = self.slots[self.at];
        self.at = (self.at + 1) % self.slots.len();
        if let Some(k) = slot {
            let v = v(self.named[k], &mut self.dict);
            let base = self.vals.len() - self.width;
            self.vals[base + k] = v;
        }
    }
}

/// One captured row.
pub struct Captured<'a> {
    vals: &'a mut [Val],
    time: i64,
}

impl Fields for Captured<'_> {
    fn time(&self) -> i64 {
        self.time
    }
    fn id(&self, k: usize) -> u128 {
        match self.vals[k] {
            Val::Id(v) => v,
            _ => 0,
        }
    }
    fn text(&self, k: usize) -> u64 {
        match self.vals[k] {
            Val::Text(v) => v,
            _ => hash(b""),
        }
    }
    fn name(&self, k: usize, _: &mut Dict) -> u64 {
        self.text(k)
    }
    fn int(&self, k: usize) -> Option<i64> {
        match self.vals[k] {
            Val::Int(v) => v,
            _ => None,
        }
    }
    fn float(&self, k: usize) -> Option<f64> {
        match self.vals[k] {
            Val::Float(v) => v,
            _ => None,
        }
    }
    fn entries(&mut self, k: usize, _: &mut Dict) -> Entries {
        match &mut self.vals[k] {
            Val::Map(e) => std::mem::take(e),
            _ => Vec::new(),
        }
    }
    fn ints(&mut self, k: usize) -> Vec<i64> {
        match &mut self.vals[k] {
            Val::Ints(v) => std::mem::take(v),
            _ => Vec::new(),
        }
    }
    fn floats(&mut self, k: usize) -> Vec<f64> {
        match &mut self.vals[k] {
            Val::Floats(v) => std::mem::take(v),
            _ => Vec::new(),
        }
    }
    fn texts(&mut self, k: usize, _: Option<&mut Dict>) -> Vec<u64> {
        match &mut self.vals[k] {
            Val::Texts(v) => std::mem::take(v),
            _ => Vec::new(),
        }
    }
    fn maps(&mut self, k: usize) -> Vec<Entries> {
        match &mut self.vals[k] {
            Val::Maps(v) => std::mem::take(v),
            _ => Vec::new(),
        }
    }
}

/// A map's entries as sorted (key digest, value digest), keys kept in `d` when given.
fn entries_of<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>, mut d: Option<&mut Dict>) -> Entries {
    let mut v: Entries = entries
        .into_iter()
        .map(|(k, v)| {
            let k = match d.as_deref_mut() {
                Some(d) => d.id(k.as_bytes()),
                None => hash(k.as_bytes()),
            };
            (k, hash(v.as_bytes()))
        })
        .collect();
    v.sort_unstable();
    v
}

impl Sink for Capture {
    type Row = Capture;

    fn rows(&mut self, time_ns: u64) -> &mut Capture {
        self.times.push(time_ns.cast_signed());
        self.vals.extend((0..self.width).map(|_| Val::None));
        self
    }
}

impl Row for Capture {
    fn time(&mut self, ns: u64) {
        self.put(|_, _| Val::Int(Some(ns.cast_signed())));
    }
    fn time_or_null(&mut self, ns: Option<u64>) {
        self.put(|_, _| Val::Int(ns.map(u64::cast_signed)));
    }
    fn u64(&mut self, v: u64) {
        self.put(|_, _| Val::Int(Some(v.cast_signed())));
    }
    fn i64(&mut self, v: Option<i64>) {
        self.put(|_, _| Val::Int(v));
    }
    fn i32(&mut self, v: i32) {
        self.put(|_, _| Val::Int(Some(i64::from(v))));
    }
    fn f64(&mut self, v: Option<f64>) {
        self.put(|_, _| Val::Float(v));
    }
    fn bool(&mut self, v: Option<bool>) {
        self.put(|_, _| Val::Int(v.map(i64::from)));
    }
    fn str(&mut self, v: Option<&str>) {
        let b = v.unwrap_or("").as_bytes();
        self.put(|named, d| Val::Text(if named { d.id(b) } else { hash(b) }));
    }
    fn hex(&mut self, id: &[u8]) {
        self.put(|_, _| Val::Id(id_of_bytes(id)));
    }
    fn map<'a>(&mut self, entries: impl IntoIterator<Item = (&'a str, &'a str)>) {
        self.put(|_, d| Val::Map(entries_of(entries, Some(d))));
    }
    fn map_list<'a, M>(&mut self, maps: impl IntoIterator<Item = M>)
    where
        M: IntoIterator<Item = (&'a str, &'a str)>,
    {
        self.put(|_, _| Val::Maps(maps.into_iter().map(|m| entries_of(m, None)).collect()));
    }
    fn time_list(&mut self, v: impl IntoIterator<Item = u64>) {
        self.put(|_, _| Val::Ints(v.into_iter().map(u64::cast_signed).collect()));
    }
    fn u64_list(&mut self, v: impl IntoIterator<Item = u64>) {
        self.put(|_, _| Val::Ints(v.into_iter().map(u64::cast_signed).collect()));
    }
    fn f64_list(&mut self, v: impl IntoIterator<Item = f64>) {
        self.put(|_, _| Val::Floats(v.into_iter().collect()));
    }
    fn str_list<'a>(&mut self, v: impl IntoIterator<Item = &'a str>) {
        self.put(|named, d| {
            Val::Texts(v.into_iter().map(|s| if named { d.id(s.as_bytes()) } else { hash(s.as_bytes()) }).collect())
        });
    }
}
