//! Reading a store table back, column by column: the files of the partitions a time range
//! touches, each row group's requested columns as vectors, rows filtered by time, service
//! and tenant.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::{ByteArray, DataType};
use parquet::file::reader::{FileReader, RowGroupReader, SerializedFileReader};
use tsim_store::Table;

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
    /// Only this tenant (`TenantId`, spans only).
    pub tenant: Option<String>,
}

const HOUR_NS: u64 = 3_600_000_000_000;

/// The hour (since the epoch) of a partition directory pair `date=…/hour=…`.
fn partition_hour(date: &str, hour: &str) -> Option<u64> {
    let d: jiff::civil::Date = date.strip_prefix("date=")?.parse().ok()?;
    let h: u64 = hour.strip_prefix("hour=")?.parse().ok()?;
    let secs = d.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp().as_second();
    Some(u64::try_from(secs).ok()? / 3600 + h)
}

/// The Parquet files of `table` under `root` whose hour can hold rows of the filter's range,
/// in partition order.
pub fn files(root: &Path, table: Table, f: &Filter) -> Result<Vec<PathBuf>, ReportError> {
    let base = root.join(format!("signal={}", table.signal()));
    let mut out = Vec::new();
    let list = |d: &Path| -> Result<Vec<PathBuf>, ReportError> {
        let mut v: Vec<PathBuf> = match fs::read_dir(d) {
            Ok(r) => r.filter_map(Result::ok).map(|e| e.path()).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(ReportError::Io { path: d.to_owned(), source: e }),
        };
        v.sort();
        Ok(v)
    };
    for date in list(&base)? {
        for hour in list(&date)? {
            let name = |p: &Path| p.file_name().and_then(|n| n.to_str()).unwrap_or("").to_owned();
            let Some(h) = partition_hour(&name(&date), &name(&hour)) else { continue };
            if f.since.is_some_and(|s| (h + 1) * HOUR_NS <= s) || f.until.is_some_and(|u| h * HOUR_NS >= u) {
                continue;
            }
            for file in list(&hour)? {
                if file.extension().is_some_and(|x| x == "parquet") {
                    out.push(file);
                }
            }
        }
    }
    Ok(out)
}

/// One column of a row group, one entry per row.
#[derive(Debug)]
pub enum Column {
    /// Integers (and timestamps).
    Int(Vec<Option<i64>>),
    /// Floats.
    Float(Vec<Option<f64>>),
    /// Strings (bytes).
    Str(Vec<Option<ByteArray>>),
}

impl Column {
    /// The integer of row `i`.
    pub fn int(&self, i: usize) -> Option<i64> {
        match self {
            Column::Int(v) => v[i],
            _ => None,
        }
    }

    /// The string of row `i`.
    pub fn str(&self, i: usize) -> Option<&str> {
        match self {
            Column::Str(v) => v[i].as_ref().and_then(|b| std::str::from_utf8(b.data()).ok()),
            _ => None,
        }
    }
}

/// A row group's requested columns, in the order asked for.
#[derive(Debug)]
pub struct Batch {
    /// Rows.
    pub rows: usize,
    /// The columns.
    pub cols: Vec<Column>,
}

fn read_all<T: DataType, O>(
    mut r: ColumnReaderImpl<T>,
    rows: usize,
    optional: bool,
    conv: impl Fn(&T::T) -> O,
) -> Result<Vec<Option<O>>, ReportError>
where
    T::T: Clone,
{
    let mut out = Vec::with_capacity(rows);
    let mut values = Vec::new();
    let mut def = Vec::new();
    while out.len() < rows {
        values.clear();
        def.clear();
        let (n, _, _) = r.read_records(rows - out.len(), optional.then_some(&mut def), None, &mut values)?;
        if n == 0 {
            break;
        }
        if optional {
            let mut it = values.iter();
            for d in &def {
                out.push(if *d > 0 { it.next().map(&conv) } else { None });
            }
        } else {
            out.extend(values.iter().map(|v| Some(conv(v))));
        }
    }
    Ok(out)
}

/// Reads `names` of `table` from each row group of `file`, calling `each` per row group.
pub fn scan_file(
    file: &Path,
    table: Table,
    names: &[&str],
    mut each: impl FnMut(Batch) -> Result<(), ReportError>,
) -> Result<(), ReportError> {
    let f = File::open(file).map_err(|e| ReportError::Io { path: file.to_owned(), source: e })?;
    let reader = SerializedFileReader::new(f).map_err(|e| ReportError::Parquet { path: file.to_owned(), source: e })?;
    let mut leaves = Vec::new();
    for n in names {
        let leaf = table.leaf(n).ok_or_else(|| ReportError::NoColumn((*n).to_owned()))?;
        let optional = table.columns()[table.column(n).unwrap_or(0)].optional;
        leaves.push((leaf, optional));
    }
    let pq = |e| ReportError::Parquet { path: file.to_owned(), source: e };
    for g in 0..reader.num_row_groups() {
        let rg = reader.get_row_group(g).map_err(pq)?;
        let rows = usize::try_from(rg.metadata().num_rows()).unwrap_or(0);
        let mut cols = Vec::with_capacity(leaves.len());
        for &(leaf, optional) in &leaves {
            cols.push(read_column(&*rg, leaf, rows, optional).map_err(|e| match e {
                ReportError::Parquet { source, .. } => pq(source),
                e => e,
            })?);
        }
        each(Batch { rows, cols })?;
    }
    Ok(())
}

fn read_column(rg: &dyn RowGroupReader, leaf: usize, rows: usize, optional: bool) -> Result<Column, ReportError> {
    let wrap = |e| ReportError::Parquet { path: PathBuf::new(), source: e };
    Ok(match rg.get_column_reader(leaf).map_err(wrap)? {
        ColumnReader::Int64ColumnReader(r) => Column::Int(read_all(r, rows, optional, |v| *v)?),
        ColumnReader::Int32ColumnReader(r) => Column::Int(read_all(r, rows, optional, |v| i64::from(*v))?),
        ColumnReader::DoubleColumnReader(r) => Column::Float(read_all(r, rows, optional, |v| *v)?),
        ColumnReader::ByteArrayColumnReader(r) => Column::Str(read_all(r, rows, optional, ByteArray::clone)?),
        ColumnReader::BoolColumnReader(r) => Column::Int(read_all(r, rows, optional, |v| i64::from(*v))?),
        _ => return Err(ReportError::NoColumn(format!("leaf {leaf}"))),
    })
}

/// Columns every filtered scan reads first: the filter's (`Timestamp`, `ServiceName`,
/// `TenantId`); a report's own columns follow them, from [`FIRST`] on.
const FILTER_COLUMNS: [&str; 3] = ["Timestamp", "ServiceName", "TenantId"];
/// The index of a report's first own column in a filtered scan's batches.
pub const FIRST: usize = FILTER_COLUMNS.len();

/// Calls `each(batch, row)` for every row of `table` under `root` that passes the filter;
/// the batch holds the filter's columns, then `names` (from index [`FIRST`]). `TenantId`
/// exists in spans and logs; for metrics the tenant filter is ignored.
pub fn rows(
    root: &Path,
    table: Table,
    f: &Filter,
    names: &[&str],
    mut each: impl FnMut(&Batch, usize),
) -> Result<(), ReportError> {
    let time_col = if table == Table::Metrics { "TimeUnix" } else { "Timestamp" };
    let tenant_col = if table == Table::Metrics { "ServiceName" } else { "TenantId" };
    let mut all: Vec<&str> = vec![time_col, FILTER_COLUMNS[1], tenant_col];
    all.extend_from_slice(names);
    let tenant = if table == Table::Metrics { None } else { f.tenant.as_deref() };
    for file in files(root, table, f)? {
        scan_file(&file, table, &all, |b| {
            for i in 0..b.rows {
                let t = b.cols[0].int(i).unwrap_or(0).cast_unsigned();
                if f.since.is_some_and(|s| t < s) || f.until.is_some_and(|u| t >= u) {
                    continue;
                }
                if f.service.as_deref().is_some_and(|s| b.cols[1].str(i) != Some(s)) {
                    continue;
                }
                if tenant.is_some_and(|s| b.cols[2].str(i) != Some(s)) {
                    continue;
                }
                each(&b, i);
            }
            Ok(())
        })?;
    }
    Ok(())
}
