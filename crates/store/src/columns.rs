//! Columns of a store table: their Parquet types, and a row group being built (each leaf
//! column's values with its definition and repetition levels, as Parquet's column writer
//! takes them).

use std::sync::Arc;

use bytes::Bytes;
use parquet::basic::{LogicalType, Repetition, TimeUnit, Type as Physical};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
use parquet::file::writer::SerializedRowGroupWriter;
use parquet::schema::types::{Type, TypePtr};

use crate::StoreError;

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Nanoseconds since the Unix epoch (Parquet `TIMESTAMP(NANOS, UTC)`).
    Time,
    /// An unsigned 64-bit integer.
    U64,
    /// A signed 64-bit integer.
    I64,
    /// A signed 32-bit integer.
    I32,
    /// A 64-bit float.
    F64,
    /// A boolean.
    Bool,
    /// A UTF-8 string.
    Str,
    /// A map of strings to strings (Parquet `MAP`), like the ClickHouse exporter's
    /// `Map(LowCardinality(String), String)`.
    Map,
    /// A list of timestamps.
    TimeList,
    /// A list of strings.
    StrList,
    /// A list of maps.
    MapList,
    /// A list of unsigned 64-bit integers.
    U64List,
    /// A list of 64-bit floats.
    F64List,
}

/// One column of a table.
#[derive(Debug, Clone, Copy)]
pub struct Col {
    /// Its name, as the OpenTelemetry Collector's ClickHouse exporter names it.
    pub name: &'static str,
    /// What it holds.
    pub kind: Kind,
    /// Whether a row may leave it empty (null); maps and lists are never null, only empty.
    pub optional: bool,
}

impl Col {
    /// A column that every row fills.
    pub const fn new(name: &'static str, kind: Kind) -> Self {
        Self { name, kind, optional: false }
    }

    /// A column a row may leave null.
    pub const fn optional(name: &'static str, kind: Kind) -> Self {
        Self { name, kind, optional: true }
    }

    /// Its leaf columns in Parquet (a map has two: keys and values).
    pub fn leaves(&self) -> usize {
        match self.kind {
            Kind::Map | Kind::MapList => 2,
            _ => 1,
        }
    }
}

fn primitive(name: &str, kind: Kind, repetition: Repetition) -> Result<Type, StoreError> {
    let (physical, logical) = match kind {
        Kind::Time | Kind::TimeList => (Physical::INT64, Some(LogicalType::timestamp(true, TimeUnit::NANOS))),
        Kind::U64 | Kind::U64List => (Physical::INT64, Some(LogicalType::integer(64, false))),
        Kind::I64 => (Physical::INT64, None),
        Kind::I32 => (Physical::INT32, None),
        Kind::F64 | Kind::F64List => (Physical::DOUBLE, None),
        Kind::Bool => (Physical::BOOLEAN, None),
        Kind::Str | Kind::StrList | Kind::Map | Kind::MapList => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
    };
    Ok(Type::primitive_type_builder(name, physical).with_repetition(repetition).with_logical_type(logical).build()?)
}

fn group(
    name: &str,
    repetition: Repetition,
    logical: Option<LogicalType>,
    fields: Vec<Type>,
) -> Result<Type, StoreError> {
    Ok(Type::group_type_builder(name)
        .with_repetition(repetition)
        .with_logical_type(logical)
        .with_fields(fields.into_iter().map(Arc::new).collect())
        .build()?)
}

/// `MAP<STRING, STRING>` as the Parquet spec lays it out.
fn map(name: &str, repetition: Repetition) -> Result<Type, StoreError> {
    let kv = group(
        "key_value",
        Repetition::REPEATED,
        None,
        vec![primitive("key", Kind::Str, Repetition::REQUIRED)?, primitive("value", Kind::Str, Repetition::REQUIRED)?],
    )?;
    group(name, repetition, Some(LogicalType::Map), vec![kv])
}

/// `LIST<element>` in the spec's three-level layout.
fn list(name: &str, element: Type) -> Result<Type, StoreError> {
    group(
        name,
        Repetition::REQUIRED,
        Some(LogicalType::List),
        vec![group("list", Repetition::REPEATED, None, vec![element])?],
    )
}

/// The Parquet schema of a table.
pub fn schema(table: &str, cols: &[Col]) -> Result<TypePtr, StoreError> {
    let mut fields = Vec::with_capacity(cols.len());
    for c in cols {
        let rep = if c.optional { Repetition::OPTIONAL } else { Repetition::REQUIRED };
        fields.push(match c.kind {
            Kind::Map => map(c.name, Repetition::REQUIRED)?,
            Kind::MapList => list(c.name, map("element", Repetition::REQUIRED)?)?,
            Kind::TimeList | Kind::StrList | Kind::U64List | Kind::F64List => {
                list(c.name, primitive("element", c.kind, Repetition::REQUIRED)?)?
            }
            k => primitive(c.name, k, rep)?,
        });
    }
    Ok(Arc::new(group(table, Repetition::REQUIRED, None, fields)?))
}

/// A leaf column's values.
#[derive(Debug)]
enum Values {
    I64(Vec<i64>),
    I32(Vec<i32>),
    F64(Vec<f64>),
    Bool(Vec<bool>),
    /// Strings, end to end in one buffer (one allocation for the whole column).
    Bytes {
        data: Vec<u8>,
        ends: Vec<usize>,
    },
}

fn push_i64(x: &mut Values, v: i64) {
    if let Values::I64(x) = x {
        x.push(v);
    }
}

fn push_f64(x: &mut Values, v: f64) {
    if let Values::F64(x) = x {
        x.push(v);
    }
}

fn push_str(x: &mut Values, v: &str) {
    if let Values::Bytes { data, ends } = x {
        data.extend_from_slice(v.as_bytes());
        ends.push(data.len());
    }
}

/// A leaf column being built.
#[derive(Debug)]
struct Leaf {
    values: Values,
    def: Vec<i16>,
    rep: Vec<i16>,
    /// Whether it has levels at all (a required scalar has none).
    levels: bool,
}

impl Leaf {
    fn new(kind: Kind, optional: bool) -> Self {
        let values = match kind {
            Kind::Time | Kind::U64 | Kind::I64 | Kind::TimeList | Kind::U64List => Values::I64(Vec::new()),
            Kind::I32 => Values::I32(Vec::new()),
            Kind::F64 | Kind::F64List => Values::F64(Vec::new()),
            Kind::Bool => Values::Bool(Vec::new()),
            Kind::Str | Kind::StrList | Kind::Map | Kind::MapList => {
                Values::Bytes { data: Vec::new(), ends: Vec::new() }
            }
        };
        let levels = optional
            || !matches!(kind, Kind::Time | Kind::U64 | Kind::I64 | Kind::I32 | Kind::F64 | Kind::Bool | Kind::Str);
        Self { values, def: Vec::new(), rep: Vec::new(), levels }
    }

    fn level(&mut self, def: i16, rep: i16) {
        self.def.push(def);
        self.rep.push(rep);
    }

    fn clear(&mut self) {
        match &mut self.values {
            Values::I64(v) => v.clear(),
            Values::I32(v) => v.clear(),
            Values::F64(v) => v.clear(),
            Values::Bool(v) => v.clear(),
            Values::Bytes { data, ends } => {
                data.clear();
                ends.clear();
            }
        }
        self.def.clear();
        self.rep.clear();
    }

    fn bytes(&self) -> usize {
        let v = match &self.values {
            Values::I64(v) => v.len() * 8,
            Values::I32(v) => v.len() * 4,
            Values::F64(v) => v.len() * 8,
            Values::Bool(v) => v.len(),
            Values::Bytes { data, ends } => data.len() + ends.len() * 8,
        };
        v + self.def.len() * 4
    }
}

/// A row group being built: rows are added column by column, in the table's column order.
#[derive(Debug)]
pub struct RowGroup {
    cols: &'static [Col],
    leaves: Vec<Leaf>,
    /// The first leaf of each column.
    first: Vec<usize>,
    /// The column the row being added is at.
    at: usize,
    rows: usize,
}

impl RowGroup {
    /// An empty row group of a table with these columns.
    pub fn new(cols: &'static [Col]) -> Self {
        let mut leaves = Vec::new();
        let mut first = Vec::new();
        for c in cols {
            first.push(leaves.len());
            for _ in 0..c.leaves() {
                leaves.push(Leaf::new(c.kind, c.optional));
            }
        }
        Self { cols, leaves, first, at: 0, rows: 0 }
    }

    /// Rows added.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// About how much memory the values hold.
    pub fn bytes(&self) -> usize {
        self.leaves.iter().map(Leaf::bytes).sum()
    }

    /// The next column of the row, checked against what it is given.
    fn next(&mut self, kind: Kind) -> (usize, bool) {
        let c = self.cols[self.at];
        debug_assert_eq!(c.kind, kind, "column {} takes {:?}", c.name, c.kind);
        let leaf = self.first[self.at];
        self.at += 1;
        if self.at == self.cols.len() {
            self.at = 0;
            self.rows += 1;
        }
        (leaf, c.optional)
    }

    /// A scalar of the next column (`kind`): its value and, if the column may be null, its
    /// definition level; a null is a level alone.
    fn scalar<T>(&mut self, kind: Kind, v: Option<T>, put: impl FnOnce(&mut Values, T)) {
        let (l, optional) = self.next(kind);
        let leaf = &mut self.leaves[l];
        match v {
            Some(v) => {
                put(&mut leaf.values, v);
                if optional {
                    leaf.level(1, 0);
                }
            }
            None => leaf.level(0, 0),
        }
    }

    /// A timestamp (ns since the epoch).
    pub fn time(&mut self, ns: u64) {
        self.scalar(Kind::Time, Some(ns.cast_signed()), push_i64);
    }

    /// A timestamp, or null.
    pub fn time_or_null(&mut self, ns: Option<u64>) {
        self.scalar(Kind::Time, ns.map(u64::cast_signed), push_i64);
    }

    /// An unsigned integer, stored in Parquet's signed INT64 with the UINT_64 annotation.
    pub fn u64(&mut self, v: u64) {
        self.scalar(Kind::U64, Some(v.cast_signed()), push_i64);
    }

    /// A signed integer, or null.
    pub fn i64(&mut self, v: Option<i64>) {
        self.scalar(Kind::I64, v, push_i64);
    }

    /// A 32-bit integer.
    pub fn i32(&mut self, v: i32) {
        self.scalar(Kind::I32, Some(v), |x, v| {
            if let Values::I32(x) = x {
                x.push(v);
            }
        });
    }

    /// A float, or null.
    pub fn f64(&mut self, v: Option<f64>) {
        self.scalar(Kind::F64, v, |x, v| {
            if let Values::F64(x) = x {
                x.push(v);
            }
        });
    }

    /// A boolean, or null.
    pub fn bool(&mut self, v: Option<bool>) {
        self.scalar(Kind::Bool, v, |x, v| {
            if let Values::Bool(x) = x {
                x.push(v);
            }
        });
    }

    /// A string, or null.
    pub fn str(&mut self, v: Option<&str>) {
        self.scalar(Kind::Str, v, push_str);
    }

    /// An id as lower-case hex (empty for an empty id), written straight into the column.
    pub fn hex(&mut self, id: &[u8]) {
        let (l, _) = self.next(Kind::Str);
        if let Values::Bytes { data, ends } = &mut self.leaves[l].values {
            tsim_model::hex::push_hex(data, id);
            ends.push(data.len());
        }
    }

    /// A map of strings.
    pub fn map<'a>(&mut self, entries: impl IntoIterator<Item = (&'a str, &'a str)>) {
        let (l, _) = self.next(Kind::Map);
        let (keys, values) = pair(&mut self.leaves, l);
        map_entries(keys, values, entries, 1, 0);
    }

    /// A list of maps of strings.
    pub fn map_list<'a, M>(&mut self, maps: impl IntoIterator<Item = M>)
    where
        M: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let (l, _) = self.next(Kind::MapList);
        let (keys, values) = pair(&mut self.leaves, l);
        let mut any = false;
        for m in maps {
            map_entries(keys, values, m, 2, if any { 1 } else { 0 });
            any = true;
        }
        if !any {
            keys.level(0, 0);
            values.level(0, 0);
        }
    }

    /// A list of timestamps.
    pub fn time_list(&mut self, v: impl IntoIterator<Item = u64>) {
        self.list(Kind::TimeList, v, |x, t| push_i64(x, t.cast_signed()));
    }

    /// A list of unsigned integers.
    pub fn u64_list(&mut self, v: impl IntoIterator<Item = u64>) {
        self.list(Kind::U64List, v, |x, n| push_i64(x, n.cast_signed()));
    }

    /// A list of floats.
    pub fn f64_list(&mut self, v: impl IntoIterator<Item = f64>) {
        self.list(Kind::F64List, v, push_f64);
    }

    /// A list of strings.
    pub fn str_list<'a>(&mut self, v: impl IntoIterator<Item = &'a str>) {
        self.list(Kind::StrList, v, push_str);
    }

    fn list<T>(&mut self, kind: Kind, v: impl IntoIterator<Item = T>, mut put: impl FnMut(&mut Values, T)) {
        let (l, _) = self.next(kind);
        let leaf = &mut self.leaves[l];
        let mut rep = 0;
        for x in v {
            put(&mut leaf.values, x);
            leaf.level(1, rep);
            rep = 1;
        }
        if rep == 0 {
            leaf.level(0, 0);
        }
    }

    /// Writes the rows as one row group, and empties it for the next.
    pub fn write<W: std::io::Write + Send>(
        &mut self,
        mut rg: SerializedRowGroupWriter<'_, W>,
    ) -> Result<(), StoreError> {
        debug_assert_eq!(self.at, 0, "a row is half added");
        let mut i = 0;
        while let Some(mut col) = rg.next_column()? {
            let leaf = &mut self.leaves[i];
            let (def, rep) = if leaf.levels { (Some(&leaf.def[..]), Some(&leaf.rep[..])) } else { (None, None) };
            match &mut leaf.values {
                Values::I64(v) => {
                    col.typed::<Int64Type>().write_batch(v, def, rep)?;
                }
                Values::I32(v) => {
                    col.typed::<Int32Type>().write_batch(v, def, rep)?;
                }
                Values::F64(v) => {
                    col.typed::<DoubleType>().write_batch(v, def, rep)?;
                }
                Values::Bool(v) => {
                    col.typed::<BoolType>().write_batch(v, def, rep)?;
                }
                Values::Bytes { data, ends } => {
                    // The values are slices of one buffer, handed over without a copy.
                    let all = Bytes::from(std::mem::take(data));
                    let mut start = 0;
                    let v: Vec<ByteArray> = ends
                        .iter()
                        .map(|&end| {
                            let b = ByteArray::from(all.slice(start..end));
                            start = end;
                            b
                        })
                        .collect();
                    col.typed::<ByteArrayType>().write_batch(&v, def, rep)?;
                }
            }
            col.close()?;
            i += 1;
        }
        rg.close()?;
        for leaf in &mut self.leaves {
            leaf.clear();
        }
        self.rows = 0;
        Ok(())
    }
}

/// The key and value leaves of a map column.
fn pair(leaves: &mut [Leaf], l: usize) -> (&mut Leaf, &mut Leaf) {
    let (a, b) = leaves[l..].split_at_mut(1);
    (&mut a[0], &mut b[0])
}

/// A map's entries at definition level `def` (one more than an empty map's); the first
/// entry repeats at `first_rep`, the others at `def`.
fn map_entries<'a>(
    keys: &mut Leaf,
    values: &mut Leaf,
    entries: impl IntoIterator<Item = (&'a str, &'a str)>,
    def: i16,
    first_rep: i16,
) {
    let mut rep = first_rep;
    let mut any = false;
    for (k, v) in entries {
        push_str(&mut keys.values, k);
        push_str(&mut values.values, v);
        keys.level(def, rep);
        values.level(def, rep);
        rep = def;
        any = true;
    }
    if !any {
        keys.level(def - 1, first_rep);
        values.level(def - 1, first_rep);
    }
}
