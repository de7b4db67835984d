//! Rows into Hive-partitioned Parquet files (`signal=S/date=YYYY-MM-DD/hour=HH/NAME.parquet`),
//! zstd-compressed, in row groups sized for scans; each file is written under a temporary
//! name, synced, and renamed into place, so a reader (or a crash) never sees half a file.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use parquet::schema::types::TypePtr;

use crate::StoreError;
use crate::columns::{RowGroup, schema};
use crate::otlp::Sink;
use crate::tables::Table;

/// Rows per row group: DuckDB's own row group size, large enough for scans, small enough to
/// build in memory (tens of MB of spans).
pub const ROW_GROUP_ROWS: usize = 122_880;

const HOUR_NS: u64 = 3_600_000_000_000;

/// The columns whose row groups carry min/max statistics.
const STATISTICS: &[&str] =
    &["Timestamp", "TimeUnix", "Duration", "ServiceName", "SpanName", "MetricName", "StatusCode", "SeverityNumber"];

/// The partition directory of an hour (hours since the epoch), relative to the store.
pub fn partition_dir(table: Table, hour: u64) -> PathBuf {
    let secs = i64::try_from(hour * 3600).unwrap_or(i64::MAX);
    let date = jiff::Timestamp::from_second(secs)
        .map_or_else(|_| "9999-12-31".to_owned(), |t| t.strftime("%Y-%m-%d").to_string());
    PathBuf::from(format!("signal={}", table.signal()))
        .join(format!("date={date}"))
        .join(format!("hour={:02}", hour % 24))
}

/// A file being written.
struct Part {
    tmp: PathBuf,
    path: PathBuf,
    writer: SerializedFileWriter<BufWriter<File>>,
    rows: RowGroup,
    total: u64,
}

/// A written file: where, and how many rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Its path.
    pub path: PathBuf,
    /// Rows in it.
    pub rows: u64,
}

/// Writes one table's rows into one file per hour they fall in, all named `NAME.parquet`
/// (the same name again replaces a file: converting the same input twice gives the same
/// files, never duplicates).
pub struct Writer {
    root: PathBuf,
    table: Table,
    name: String,
    schema: TypePtr,
    props: Arc<WriterProperties>,
    parts: BTreeMap<u64, Part>,
    /// Where rows go when a file cannot be created (the error is returned by `finish`).
    spill: RowGroup,
    error: Option<StoreError>,
}

impl Writer {
    /// A writer of `table`'s rows under the store at `root`, into files named `NAME.parquet`.
    pub fn new(root: &Path, table: Table, name: &str) -> Result<Self, StoreError> {
        // Statistics where readers prune with them (times, durations, names); computing
        // min/max of every attribute key and value costs more than it saves.
        let mut props = WriterProperties::builder()
            .set_statistics_enabled(EnabledStatistics::None)
            .set_writer_version(WriterVersion::PARQUET_1_0)
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_created_by(concat!("telemetry-simulator ", env!("CARGO_PKG_VERSION")).to_owned());
        for name in STATISTICS {
            if table.column(name).is_some() {
                props = props.set_column_statistics_enabled(ColumnPath::from(*name), EnabledStatistics::Chunk);
            }
        }
        let props = props.build();
        Ok(Self {
            root: root.to_owned(),
            table,
            name: name.to_owned(),
            schema: schema(table.name(), table.columns())?,
            props: Arc::new(props),
            parts: BTreeMap::new(),
            spill: RowGroup::new(table.columns()),
            error: None,
        })
    }

    fn open(&self, hour: u64) -> Result<Part, StoreError> {
        let dir = self.root.join(partition_dir(self.table, hour));
        fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        let path = dir.join(format!("{}.parquet", self.name));
        let tmp = dir.join(format!(".{}.parquet.tmp", self.name));
        let file = File::create(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
        let writer = SerializedFileWriter::new(
            BufWriter::with_capacity(1 << 20, file),
            self.schema.clone(),
            self.props.clone(),
        )?;
        Ok(Part { tmp, path, writer, rows: RowGroup::new(self.table.columns()), total: 0 })
    }

    /// Writes every file's last row group, syncs the files and renames them into place.
    pub fn finish(mut self) -> Result<Vec<Written>, StoreError> {
        if let Some(e) = self.error.take() {
            self.abandon();
            return Err(e);
        }
        let mut done = Vec::new();
        let mut dirs = Vec::new();
        for (_, mut p) in std::mem::take(&mut self.parts) {
            if p.rows.rows() > 0 {
                let rg = p.writer.next_row_group()?;
                p.rows.write(rg)?;
            }
            let file = p.writer.into_inner()?.into_inner().map_err(|e| StoreError::io(&p.tmp, e.into_error()))?;
            file.sync_all().map_err(|e| StoreError::io(&p.tmp, e))?;
            fs::rename(&p.tmp, &p.path).map_err(|e| StoreError::io(&p.path, e))?;
            if let Some(d) = p.path.parent() {
                dirs.push(d.to_owned());
            }
            done.push(Written { path: p.path, rows: p.total });
        }
        for d in dirs {
            File::open(&d).and_then(|f| f.sync_all()).map_err(|e| StoreError::io(&d, e))?;
        }
        Ok(done)
    }

    /// Removes the temporary files.
    fn abandon(&mut self) {
        for (_, p) in std::mem::take(&mut self.parts) {
            drop(p.writer);
            let _ = fs::remove_file(&p.tmp);
        }
    }

    /// Writes the part's full row group, if it is full.
    fn flush_full(p: &mut Part) -> Result<(), StoreError> {
        if p.rows.rows() >= ROW_GROUP_ROWS {
            let rg = p.writer.next_row_group()?;
            p.rows.write(rg)?;
        }
        Ok(())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.abandon();
    }
}

impl Sink for Writer {
    type Row = RowGroup;

    fn rows(&mut self, time_ns: u64) -> &mut RowGroup {
        let hour = time_ns / HOUR_NS;
        if self.error.is_none() && !self.parts.contains_key(&hour) {
            match self.open(hour) {
                Ok(p) => {
                    self.parts.insert(hour, p);
                }
                Err(e) => self.error = Some(e),
            }
        }
        if self.error.is_some() {
            if self.spill.rows() >= 1024 {
                self.spill = RowGroup::new(self.table.columns());
            }
            return &mut self.spill;
        }
        let Some(p) = self.parts.get_mut(&hour) else { return &mut self.spill };
        if let Err(e) = Self::flush_full(p) {
            self.error = Some(e);
            return &mut self.spill;
        }
        p.total += 1;
        &mut p.rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span};
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::RowAccessor;

    fn kv(k: &str, v: any_value::Value) -> KeyValue {
        KeyValue { key: k.into(), value: Some(AnyValue { value: Some(v) }), ..Default::default() }
    }

    /// Spans in two hours land in two partitions; each file reads back with its rows.
    #[test]
    fn spans_land_in_their_hour_and_read_back() {
        let dir = std::env::temp_dir().join(format!("tsim-store-write-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let t0 = 1_764_590_400_000_000_000u64; // 2025-12-01T12:00:00Z
        let span = |i: u64, start: u64| Span {
            trace_id: vec![1; 16],
            span_id: i.to_be_bytes().to_vec(),
            name: format!("op{i}"),
            kind: 3,
            start_time_unix_nano: start,
            end_time_unix_nano: start + 1_500_000,
            attributes: vec![
                kv("gen_ai.agent.name", any_value::Value::StringValue("planner".into())),
                kv("gen_ai.usage.input_tokens", any_value::Value::IntValue(42)),
            ],
            events: vec![span::Event {
                time_unix_nano: start + 1,
                name: "retry".into(),
                attributes: vec![],
                ..Default::default()
            }],
            ..Default::default()
        };
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![span(1, t0), span(2, t0 + 10), span(3, t0 + HOUR_NS)],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let mut w = Writer::new(&dir, Table::Traces, "part-000001").expect("writer");
        assert_eq!(otlp::spans(&req, None, &mut w), 3);
        let files = w.finish().expect("finish");
        assert_eq!(files.len(), 2);
        assert!(files[0].path.ends_with("signal=traces/date=2025-12-01/hour=12/part-000001.parquet"), "{:?}", files[0]);
        assert_eq!((files[0].rows, files[1].rows), (2, 1));
        let r = SerializedFileReader::new(File::open(&files[0].path).expect("open")).expect("read");
        let rows: Vec<_> = r.get_row_iter(None).expect("rows").map(|x| x.expect("row")).collect();
        assert_eq!(rows.len(), 2);
        let duration = Table::Traces.column("Duration").expect("col");
        let agent = Table::Traces.column("AgentName").expect("col");
        let tokens = Table::Traces.column("InputTokens").expect("col");
        assert_eq!(rows[1].get_ulong(duration).expect("duration"), 1_500_000);
        assert_eq!(rows[1].get_string(agent).expect("agent"), "planner");
        assert_eq!(rows[1].get_long(tokens).expect("tokens"), 42);
        let _ = fs::remove_dir_all(&dir);
    }
}
