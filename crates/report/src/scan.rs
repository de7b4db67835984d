//! Reading a store table back, column by column: the files of the partitions a time range
//! touches, each row group's requested columns as vectors, rows filtered by time, service,
//! tenant and scenario.

use std::fs::File;
use std::path::{Path, PathBuf};

use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::{ByteArray, DataType};
use parquet::file::reader::{FileReader, RowGroupReader, SerializedFileReader};
use tsim_store::columns::Kind;
use tsim_store::{Snapshot, Table};

use crate::ReportError;

/// Which rows a report looks at.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// From this time on (Unix ns, inclusive).
    pub since: Option<u64>,
    /// Before this time (Unix ns, exclusive).
    pub until: Option<u64>,
    /// Only this service (`ServiceName`).
    pub service: Option<String>,
    /// Only this tenant (`TenantId`; spans and log records).
    pub tenant: Option<String>,
    /// Only this scenario (`Scenario`: the resource attribute `telemetry_simulator.scenario`
    /// of a run with `--mark-scenario`; spans and log records).
    pub scenario: Option<String>,
}

const HOUR_NS: u64 = 3_600_000_000_000;

/// The Parquet files of `table` in the store `root` sees (its files and its log's requests
/// not converted yet) whose hour can hold rows of the filter's range, in partition order.
pub fn files(root: &Snapshot, table: Table, f: &Filter) -> Result<Vec<PathBuf>, ReportError> {
    root.files(table, |h| {
        !(f.since.is_some_and(|s| (h + 1) * HOUR_NS <= s) || f.until.is_some_and(|u| h * HOUR_NS >= u))
    })
    .map_err(ReportError::from)
}

/// How many rows `table` holds under `root`, from the files' footers (no column is read).
pub fn row_count(root: &Snapshot, table: Table) -> Result<u64, ReportError> {
    let mut n = 0u64;
    for file in files(root, table, &Filter::default())? {
        let f = File::open(&file).map_err(|e| ReportError::Io { path: file.clone(), source: e })?;
        let reader =
            SerializedFileReader::new(f).map_err(|e| ReportError::Parquet { path: file.clone(), source: e })?;
        n += u64::try_from(reader.metadata().file_metadata().num_rows()).unwrap_or(0);
    }
    Ok(n)
}

/// One column of a row group, one entry per row.
#[derive(Debug)]
pub enum Column {
    /// Integers (and timestamps, booleans).
    Int(Vec<Option<i64>>),
    /// Floats.
    Float(Vec<Option<f64>>),
    /// Strings (bytes), and which rows have one (empty: every row).
    Str {
        /// One per row (an empty value where the row has none).
        values: Vec<ByteArray>,
        /// Per row, whether it has a value; empty when the column is required.
        valid: Vec<bool>,
    },
    /// Maps of strings: row `i`'s entries are `keys[starts[i]..starts[i + 1]]` and the
    /// values at the same places.
    Map {
        /// Where each row's entries start, one more than rows.
        starts: Vec<usize>,
        /// Every row's keys, one after another.
        keys: Vec<ByteArray>,
        /// The values of those keys.
        values: Vec<ByteArray>,
    },
    /// Lists: row `i`'s elements are `items[starts[i]..starts[i + 1]]`, where `items` is a
    /// column of its own, one entry per element (a list of maps: a [`Column::Map`] whose
    /// rows are the maps).
    List {
        /// Where each row's elements start, one more than rows.
        starts: Vec<usize>,
        /// Every row's elements, one after another.
        items: Box<Column>,
    },
}

impl Column {
    /// The integer of row `i`.
    pub fn int(&self, i: usize) -> Option<i64> {
        match self {
            Column::Int(v) => v[i],
            _ => None,
        }
    }

    /// The float of row `i`.
    pub fn float(&self, i: usize) -> Option<f64> {
        match self {
            Column::Float(v) => v[i],
            _ => None,
        }
    }

    /// The bytes of row `i`'s string.
    pub fn bytes(&self, i: usize) -> Option<&[u8]> {
        match self {
            Column::Str { values, valid } if valid.is_empty() || valid[i] => Some(values[i].data()),
            _ => None,
        }
    }

    /// The string of row `i`.
    pub fn str(&self, i: usize) -> Option<&str> {
        self.bytes(i).and_then(|b| std::str::from_utf8(b).ok())
    }

    /// Whether row `i` holds exactly `s`.
    pub fn is(&self, i: usize, s: &str) -> bool {
        self.bytes(i) == Some(s.as_bytes())
    }

    /// Row `i`'s list: the column of elements and where in it the row's are.
    pub fn list(&self, i: usize) -> Option<(&Column, std::ops::Range<usize>)> {
        match self {
            Column::List { starts, items } => Some((&**items, starts[i]..starts[i + 1])),
            _ => None,
        }
    }

    /// The value of `key` in row `i`'s map.
    pub fn get(&self, i: usize, key: &str) -> Option<&str> {
        match self {
            Column::Map { starts, keys, values } => (starts[i]..starts[i + 1])
                .find(|&e| keys[e].data() == key.as_bytes())
                .and_then(|e| std::str::from_utf8(values[e].data()).ok()),
            _ => None,
        }
    }
}

/// A row group's requested columns, in the order asked for, and its rows' times.
#[derive(Debug)]
pub struct Batch {
    /// Rows.
    pub rows: usize,
    /// The time of each row (Unix ns): a span's start, a record's time, a point's time.
    pub time: Vec<i64>,
    /// The columns.
    pub cols: Vec<Column>,
}

impl Batch {
    /// Row `i`'s time.
    pub fn time(&self, i: usize) -> i64 {
        self.time[i]
    }
}

/// A leaf's values with their definition and repetition levels (empty when not asked for).
type Leaf<V> = (Vec<V>, Vec<i16>, Vec<i16>);

/// Reads a leaf column's values of `rows` rows, with its definition levels if `def` (an
/// optional or repeated column) and its repetition levels if `rep` (a repeated one).
fn read_levels<T: DataType>(
    mut r: ColumnReaderImpl<T>,
    rows: usize,
    def: bool,
    rep: bool,
) -> Result<Leaf<T::T>, ReportError>
where
    T::T: Clone,
{
    let mut values = Vec::with_capacity(rows);
    let (mut defs, mut reps) = (Vec::new(), Vec::new());
    let mut records = 0;
    while records < rows {
        let (n, _, _) =
            r.read_records(rows - records, def.then_some(&mut defs), rep.then_some(&mut reps), &mut values)?;
        if n == 0 {
            break;
        }
        records += n;
    }
    Ok((values, defs, reps))
}

/// Reads a leaf column's values of `rows` rows, with their definition levels if optional.
fn read_values<T: DataType>(
    r: ColumnReaderImpl<T>,
    rows: usize,
    optional: bool,
) -> Result<(Vec<T::T>, Vec<i16>), ReportError>
where
    T::T: Clone,
{
    read_levels(r, rows, optional, false).map(|(v, d, _)| (v, d))
}

/// Scalars per row, `None` where the definition level says null.
fn spread<V, O>(values: Vec<V>, def: &[i16], optional: bool, conv: impl Fn(V) -> O) -> Vec<Option<O>> {
    if !optional {
        return values.into_iter().map(|v| Some(conv(v))).collect();
    }
    let mut it = values.into_iter();
    def.iter().map(|d| if *d > 0 { it.next().map(&conv) } else { None }).collect()
}

/// Reads a `MAP<STRING, STRING>` column (its key leaf, then its value leaf): a new row starts
/// at repetition level 0, and an entry is there when the definition level is 1.
fn read_map(rg: &dyn RowGroupReader, leaf: usize, rows: usize) -> Result<Column, ReportError> {
    let (keys, def, rep) = byte_leaf(rg, leaf, rows)?;
    let (values, _, _) = byte_leaf(rg, leaf + 1, rows)?;
    Ok(Column::Map { starts: row_starts(&def, &rep), keys, values })
}

/// The values and levels of a repeated byte-array leaf (a map's keys or values).
fn byte_leaf(rg: &dyn RowGroupReader, leaf: usize, rows: usize) -> Result<Leaf<ByteArray>, ReportError> {
    let ColumnReader::ByteArrayColumnReader(r) = rg.get_column_reader(leaf)? else {
        return Err(ReportError::NoColumn(format!("leaf {leaf}")));
    };
    read_levels(r, rows, true, true)
}

/// Where each row starts among the elements that `def` and `rep` (a list's or a map's levels) lay out:
/// a row starts at repetition level 0, and an element is there when the definition level is
/// 1. One more than rows.
fn row_starts(def: &[i16], rep: &[i16]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut n = 0;
    for (d, r) in def.iter().zip(rep) {
        if *r == 0 {
            starts.push(n);
        }
        n += usize::from(*d >= 1);
    }
    starts.push(n);
    starts
}

/// Reads a `LIST<element>` column of scalars (`LIST<MAP>`: see [`read_map_list`]).
fn read_list(rg: &dyn RowGroupReader, leaf: usize, rows: usize) -> Result<Column, ReportError> {
    let (starts, items) = match rg.get_column_reader(leaf)? {
        ColumnReader::Int64ColumnReader(r) => {
            let (v, def, rep) = read_levels(r, rows, true, true)?;
            (row_starts(&def, &rep), Column::Int(v.into_iter().map(Some).collect()))
        }
        ColumnReader::DoubleColumnReader(r) => {
            let (v, def, rep) = read_levels(r, rows, true, true)?;
            (row_starts(&def, &rep), Column::Float(v.into_iter().map(Some).collect()))
        }
        ColumnReader::ByteArrayColumnReader(r) => {
            let (v, def, rep) = read_levels(r, rows, true, true)?;
            (row_starts(&def, &rep), Column::Str { values: v, valid: Vec::new() })
        }
        _ => return Err(ReportError::NoColumn(format!("leaf {leaf}"))),
    };
    Ok(Column::List { starts, items: Box::new(items) })
}

/// Reads a `LIST<MAP<STRING, STRING>>` column (its key leaf, then its value leaf): a row
/// starts at repetition level 0, a map at 0 or 1 (when the definition level says the list
/// has one), an entry wherever the definition level is 2.
fn read_map_list(rg: &dyn RowGroupReader, leaf: usize, rows: usize) -> Result<Column, ReportError> {
    let (keys, def, rep) = byte_leaf(rg, leaf, rows)?;
    let (values, _, _) = byte_leaf(rg, leaf + 1, rows)?;
    let (mut starts, mut maps) = (Vec::with_capacity(rows + 1), Vec::new());
    let mut entry = 0;
    for (d, r) in def.iter().zip(&rep) {
        if *r == 0 {
            starts.push(maps.len());
        }
        if *r <= 1 && *d >= 1 {
            maps.push(entry);
        }
        entry += usize::from(*d >= 2);
    }
    starts.push(maps.len());
    maps.push(entry);
    Ok(Column::List { starts, items: Box::new(Column::Map { starts: maps, keys, values }) })
}

fn read_column(rg: &dyn RowGroupReader, leaf: usize, rows: usize, optional: bool) -> Result<Column, ReportError> {
    Ok(match rg.get_column_reader(leaf)? {
        ColumnReader::Int64ColumnReader(r) => {
            let (v, d) = read_values(r, rows, optional)?;
            Column::Int(spread(v, &d, optional, |x| x))
        }
        ColumnReader::Int32ColumnReader(r) => {
            let (v, d) = read_values(r, rows, optional)?;
            Column::Int(spread(v, &d, optional, i64::from))
        }
        ColumnReader::BoolColumnReader(r) => {
            let (v, d) = read_values(r, rows, optional)?;
            Column::Int(spread(v, &d, optional, i64::from))
        }
        ColumnReader::DoubleColumnReader(r) => {
            let (v, d) = read_values(r, rows, optional)?;
            Column::Float(spread(v, &d, optional, |x| x))
        }
        ColumnReader::ByteArrayColumnReader(r) => {
            let (v, d) = read_values(r, rows, optional)?;
            if optional {
                let valid: Vec<bool> = d.iter().map(|d| *d > 0).collect();
                let mut it = v.into_iter();
                let values = valid
                    .iter()
                    .map(|ok| if *ok { it.next().unwrap_or_default() } else { ByteArray::default() })
                    .collect();
                Column::Str { values, valid }
            } else {
                Column::Str { values: v, valid: Vec::new() }
            }
        }
        _ => return Err(ReportError::NoColumn(format!("leaf {leaf}"))),
    })
}

/// Reads `names` of `table` from each row group of `file`, calling `each` per row group.
pub fn scan_file(
    file: &Path,
    table: Table,
    names: &[&str],
    mut each: impl FnMut(Vec<Column>, usize) -> Result<(), ReportError>,
) -> Result<(), ReportError> {
    let f = File::open(file).map_err(|e| ReportError::Io { path: file.to_owned(), source: e })?;
    let pq = |e| ReportError::Parquet { path: file.to_owned(), source: e };
    let reader = SerializedFileReader::new(f).map_err(pq)?;
    let mut leaves = Vec::new();
    for n in names {
        let leaf = table.leaf(n).ok_or_else(|| ReportError::NoColumn((*n).to_owned()))?;
        let col = &table.columns()[table.column(n).unwrap_or(0)];
        leaves.push((leaf, col.optional, col.kind));
    }
    for g in 0..reader.num_row_groups() {
        let rg = reader.get_row_group(g).map_err(pq)?;
        let rows = usize::try_from(rg.metadata().num_rows()).unwrap_or(0);
        let mut cols = Vec::with_capacity(leaves.len());
        for &(leaf, optional, kind) in &leaves {
            let col = match kind {
                Kind::Map => read_map(&*rg, leaf, rows),
                Kind::MapList => read_map_list(&*rg, leaf, rows),
                Kind::TimeList | Kind::StrList | Kind::U64List | Kind::F64List => read_list(&*rg, leaf, rows),
                _ => read_column(&*rg, leaf, rows, optional),
            };
            cols.push(col.map_err(|e| match e {
                ReportError::Parquet { source, .. } => pq(source),
                e => e,
            })?);
        }
        each(cols, rows)?;
    }
    Ok(())
}

/// Reads a file's row groups, keeps the rows that pass the filter, and calls `each(batch,
/// row)` for each. The filter's own columns are read only when it needs them.
fn filtered_file(
    file: &Path,
    table: Table,
    f: &Filter,
    names: &[&str],
    each: &mut dyn FnMut(&Batch, usize),
) -> Result<(), ReportError> {
    let time_col = if table == Table::Metrics { "TimeUnix" } else { "Timestamp" };
    // Columns whose value a row must equal. Metric points have no tenant or scenario column.
    let mut wanted: Vec<(&str, &str)> = Vec::new();
    if let Some(s) = &f.service {
        wanted.push(("ServiceName", s));
    }
    if table != Table::Metrics {
        if let Some(t) = &f.tenant {
            wanted.push(("TenantId", t));
        }
        if let Some(s) = &f.scenario {
            wanted.push(("Scenario", s));
        }
    }
    let mut all: Vec<&str> = vec![time_col];
    all.extend(wanted.iter().map(|w| w.0));
    let own = all.len();
    all.extend_from_slice(names);
    scan_file(file, table, &all, |mut cols, rows| {
        let report = cols.split_off(own);
        let mut filter = cols.into_iter();
        let time: Vec<i64> = match filter.next() {
            Some(Column::Int(v)) => v.into_iter().map(|t| t.unwrap_or(0)).collect(),
            _ => vec![0; rows],
        };
        let checks: Vec<(Column, &str)> = filter.zip(wanted.iter().map(|w| w.1)).collect();
        let b = Batch { rows, time, cols: report };
        for i in 0..rows {
            let t = b.time[i].cast_unsigned();
            if f.since.is_some_and(|s| t < s) || f.until.is_some_and(|u| t >= u) {
                continue;
            }
            if checks.iter().all(|(c, want)| c.is(i, want)) {
                each(&b, i);
            }
        }
        Ok(())
    })
}

/// Calls `each(batch, row)` for every row of `table` under `root` that passes the filter,
/// file by file in partition order; the batch holds `names`, in that order.
pub fn rows(
    root: &Snapshot,
    table: Table,
    f: &Filter,
    names: &[&str],
    mut each: impl FnMut(&Batch, usize),
) -> Result<(), ReportError> {
    for file in files(root, table, f)? {
        filtered_file(&file, table, f, names, &mut each)?;
    }
    Ok(())
}

/// Like [`rows`], on every core: each thread folds the rows of its share of the files into
/// its own state (`init`), and the states are returned, to be merged.
pub fn fold<S: Send>(
    root: &Snapshot,
    table: Table,
    f: &Filter,
    names: &[&str],
    init: impl Fn() -> S + Sync,
    each: impl Fn(&mut S, &Batch, usize) + Sync,
) -> Result<Vec<S>, ReportError> {
    let files = files(root, table, f)?;
    let n = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(files.len()).max(1);
    std::thread::scope(|sc| {
        let handles: Vec<_> = (0..n)
            .map(|t| {
                let (files, init, each) = (&files, &init, &each);
                sc.spawn(move || -> Result<S, ReportError> {
                    let mut state = init();
                    for file in files.iter().skip(t).step_by(n) {
                        filtered_file(file, table, f, names, &mut |b, i| each(&mut state, b, i))?;
                    }
                    Ok(state)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
    })
}
