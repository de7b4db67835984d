//! A store directory: requests are appended to the write-ahead log (`wal/`), and each closed
//! segment is converted into Parquet files named after it (`part-SEQ.parquet` in every
//! partition it touches), then removed. Converting a segment again gives the same files
//! under the same names, so a crash at any point loses nothing synced and duplicates
//! nothing: on open, every segment still there is converted.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use crate::StoreError;
use crate::otlp;
use crate::tables::Table;
use crate::wal::{self, Segment};
use crate::write::{Writer, Written};

/// Segments close at this size (then convert).
pub const SEGMENT_BYTES: u64 = 64 << 20;

/// What converting a segment stored.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Converted {
    /// The segment.
    pub seq: u64,
    /// Spans, log records and metric data points stored.
    pub spans: u64,
    /// Log records stored.
    pub logs: u64,
    /// Metric data points stored.
    pub points: u64,
    /// The files written.
    pub files: Vec<Written>,
    /// Bytes of a torn tail cut off (a write a crash interrupted; never acknowledged). They
    /// are kept beside the log as `SEQ.torn`.
    pub torn: u64,
    /// Records whose payload did not decode (kept in `SEQ.rejected`; the receiver only logs
    /// requests it decoded, so this means the log was damaged).
    pub rejected: u64,
}

impl Converted {
    /// Items stored, of every signal.
    pub fn items(&self) -> u64 {
        self.spans + self.logs + self.points
    }
}

/// A store directory open for appending.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    wal: PathBuf,
    current: Option<Segment>,
    next_seq: u64,
    /// Held while the store is open: one process appends to a store at a time.
    _lock: File,
    /// The size at which [`Store::full`] says to rotate.
    pub segment_bytes: u64,
}

impl Store {
    /// Opens (or creates) the store at `root`, converting what a previous run left in its
    /// log; returns the store and what was converted.
    pub fn open(root: &Path) -> Result<(Self, Vec<Converted>), StoreError> {
        let wal = root.join("wal");
        fs::create_dir_all(&wal).map_err(|e| StoreError::io(&wal, e))?;
        let lock_path = wal.join("lock");
        let lock = File::create(&lock_path).map_err(|e| StoreError::io(&lock_path, e))?;
        if lock.try_lock().is_err() {
            return Err(StoreError::InUse(root.to_owned()));
        }
        let mut done = Vec::new();
        let seqs = wal::segments(&wal)?;
        for &seq in &seqs {
            done.push(convert(root, seq)?);
        }
        // Segment numbers name the Parquet files: they are never used twice, even once
        // every segment has been converted and removed.
        let next_seq = seqs.last().copied().max(last_seq(&wal)?).map_or(1, |s| s + 1);
        let store =
            Self { root: root.to_owned(), wal, current: None, next_seq, _lock: lock, segment_bytes: SEGMENT_BYTES };
        Ok((store, done))
    }

    /// Appends a request (a serialized `Export*ServiceRequest` of `table`'s signal) to the
    /// log; durable after [`Store::sync`].
    pub fn append(&mut self, table: Table, received: Option<u64>, payload: &[u8]) -> Result<(), StoreError> {
        if self.current.is_none() {
            set_last_seq(&self.wal, self.next_seq)?;
            self.current = Some(Segment::create(&self.wal, self.next_seq)?);
            self.next_seq += 1;
        }
        match self.current.as_mut() {
            Some(s) => s.append(table, received, payload),
            None => Ok(()),
        }
    }

    /// Makes everything appended durable.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.current.as_mut().map_or(Ok(()), Segment::sync)
    }

    /// Writes out what was appended (not synced; [`Store::rollback`] keeps it from now on).
    pub fn write_out(&mut self) -> Result<(), StoreError> {
        self.current.as_mut().map_or(Ok(()), Segment::write_out)
    }

    /// Whether the open segment is at its size.
    pub fn full(&self) -> bool {
        self.current.as_ref().is_some_and(|s| s.bytes >= self.segment_bytes)
    }

    /// Bytes in the open segment.
    pub fn pending_bytes(&self) -> u64 {
        self.current.as_ref().map_or(0, |s| s.bytes)
    }

    /// Closes the open segment (synced); returns its number, for [`convert`].
    pub fn rotate(&mut self) -> Result<Option<u64>, StoreError> {
        self.current.take().map(Segment::close).transpose()
    }

    /// After a failed append or sync: drops what was not synced or written out (it was never
    /// acknowledged) and closes the segment; returns its number, for [`convert`].
    pub fn rollback(&mut self) -> Result<Option<u64>, StoreError> {
        self.current.take().map(Segment::rollback).transpose()
    }

    /// Closes the open segment and converts it.
    pub fn flush(&mut self) -> Result<Option<Converted>, StoreError> {
        self.rotate()?.map(|seq| convert(&self.root, seq)).transpose()
    }
}

/// The name of the Parquet files segment `seq` becomes (in every partition it touches).
pub(crate) fn part_name(seq: u64) -> String {
    format!("part-{seq:012}")
}

/// Converts segment `seq` of the store at `root` into Parquet, then removes it.
pub fn convert(root: &Path, seq: u64) -> Result<Converted, StoreError> {
    let wal = root.join("wal");
    let r = wal::read(&wal, seq)?;
    if r.torn > 0 {
        keep_tail(&wal, seq, r.valid, "torn")?;
        wal::truncate(&wal, seq, r.valid)?;
    }
    let (out, rejected) = convert_records(root, seq, &r)?;
    if !rejected.is_empty() {
        let p = wal.join(format!("{seq:012}.rejected"));
        let mut seg = Vec::new();
        for x in rejected {
            seg.extend_from_slice(&(x.len() as u64).to_le_bytes());
            seg.extend_from_slice(&x);
        }
        fs::write(&p, seg).map_err(|e| StoreError::io(&p, e))?;
    }
    let p = wal::segment_path(&wal, seq);
    fs::remove_file(&p).map_err(|e| StoreError::io(&p, e))?;
    File::open(&wal).and_then(|d| d.sync_all()).map_err(|e| StoreError::io(&wal, e))?;
    Ok(out)
}

/// Writes the rows of segment `seq`'s records `r` as `part-SEQ.parquet` files under `root`
/// (the store's own conversion, and a reader's of what is not converted yet); returns what
/// was stored and the payloads that did not decode.
pub(crate) fn convert_records(
    root: &Path,
    seq: u64,
    r: &wal::Records,
) -> Result<(Converted, Vec<bytes::Bytes>), StoreError> {
    let mut out = Converted { seq, torn: r.torn, ..Converted::default() };
    let name = part_name(seq);
    let mut writers: [Option<Writer>; 3] = [None, None, None];
    let mut rejected = Vec::new();
    for (table, received, payload) in &r.records {
        let w = match &mut writers[*table as usize] {
            Some(w) => w,
            slot => slot.insert(Writer::new(root, *table, &name)?),
        };
        let n = match table {
            Table::Traces => ExportTraceServiceRequest::decode(payload.clone()).map(|q| otlp::spans(&q, *received, w)),
            Table::Logs => ExportLogsServiceRequest::decode(payload.clone()).map(|q| otlp::logs(&q, *received, w)),
            Table::Metrics => {
                ExportMetricsServiceRequest::decode(payload.clone()).map(|q| otlp::metrics(&q, *received, w))
            }
        };
        match (n, table) {
            (Ok(n), Table::Traces) => out.spans += n,
            (Ok(n), Table::Logs) => out.logs += n,
            (Ok(n), Table::Metrics) => out.points += n,
            (Err(_), _) => {
                out.rejected += 1;
                rejected.push(payload.clone());
            }
        }
    }
    for w in writers.into_iter().flatten() {
        out.files.extend(w.finish()?);
    }
    Ok((out, rejected))
}

/// The last segment number used, as recorded in `wal/last-seq`.
fn last_seq(wal: &Path) -> Result<Option<u64>, StoreError> {
    let p = wal.join("last-seq");
    match fs::read_to_string(&p) {
        Ok(s) => Ok(s.trim().parse().ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io(&p, e)),
    }
}

/// Records `seq` as used, durably, before a segment of that number exists.
fn set_last_seq(wal: &Path, seq: u64) -> Result<(), StoreError> {
    let tmp = wal.join("last-seq.tmp");
    let p = wal.join("last-seq");
    let write = || -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        std::io::Write::write_all(&mut f, format!("{seq}\n").as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, &p)
    };
    write().map_err(|e| StoreError::io(&p, e))
}

/// Copies the bytes of segment `seq` after `from` beside it, as `SEQ.EXT`.
fn keep_tail(wal: &Path, seq: u64, from: u64, ext: &str) -> Result<(), StoreError> {
    let src = wal::segment_path(wal, seq);
    let data = fs::read(&src).map_err(|e| StoreError::io(&src, e))?;
    let p = wal.join(format!("{seq:012}.{ext}"));
    let from = usize::try_from(from).unwrap_or(usize::MAX).min(data.len());
    fs::write(&p, &data[from..]).map_err(|e| StoreError::io(&p, e))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    pub(crate) fn request(n: u64, t0: u64) -> Vec<u8> {
        let spans = (0..n)
            .map(|i| Span {
                trace_id: vec![2; 16],
                span_id: i.to_be_bytes().to_vec(),
                start_time_unix_nano: t0 + i,
                end_time_unix_nano: t0 + i + 10,
                ..Default::default()
            })
            .collect();
        let scope = ScopeSpans { spans, ..Default::default() };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans { scope_spans: vec![scope], ..Default::default() }],
        }
        .encode_to_vec()
    }

    pub(crate) fn stored_spans(root: &Path) -> u64 {
        let mut n = 0;
        let mut dirs = vec![root.join("signal=traces")];
        while let Some(d) = dirs.pop() {
            for e in fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "parquet") {
                    use parquet::file::reader::{FileReader, SerializedFileReader};
                    let r = SerializedFileReader::new(File::open(&p).expect("open")).expect("parquet");
                    n += u64::try_from(r.metadata().file_metadata().num_rows()).expect("rows");
                }
            }
        }
        n
    }

    /// What was synced survives a crash (the store dropped with its segment open) and is
    /// stored once, however often the store is reopened; a torn tail is cut off and kept.
    #[test]
    fn synced_requests_survive_a_crash_exactly_once() {
        let root = std::env::temp_dir().join(format!("tsim-store-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let t0 = 1_764_590_400_000_000_000u64;
        let (mut s, done) = Store::open(&root).expect("open");
        assert!(done.is_empty());
        s.append(Table::Traces, None, &request(5, t0)).expect("append");
        s.sync().expect("sync");
        let first = wal::segment_path(&root.join("wal"), 1);
        let kept = fs::read(&first).expect("segment");
        assert_eq!(s.flush().expect("flush").map(|c| c.spans), Some(5));
        // A crash after the Parquet files were in place but before the segment was removed:
        // converting it again replaces them, it does not add to them.
        fs::write(&first, kept).expect("restore");
        s.append(Table::Traces, None, &request(7, t0)).expect("append");
        s.sync().expect("sync");
        drop(s); // a crash: the segment is still in the log
        let seg = wal::segment_path(&root.join("wal"), 2);
        let mut bytes = fs::read(&seg).expect("segment");
        bytes.extend_from_slice(&[3, 0, 0, 0]); // and a write the crash cut short
        fs::write(&seg, bytes).expect("write");
        let (mut s, done) = Store::open(&root).expect("reopen");
        let seen: Vec<_> = done.iter().map(|c| (c.seq, c.spans, c.torn)).collect();
        assert_eq!(seen, vec![(1, 5, 0), (2, 7, 4)]);
        assert!(root.join("wal/000000000002.torn").exists());
        assert_eq!(stored_spans(&root), 12);
        assert_eq!(s.flush().expect("flush"), None);
        assert!(matches!(Store::open(&root), Err(StoreError::InUse(_))), "one writer at a time");
        drop(s);
        let (mut s, done) = Store::open(&root).expect("reopen");
        assert!(done.is_empty());
        assert_eq!(stored_spans(&root), 12);
        // With the log empty, new segments still get new numbers (their files add, not replace).
        s.append(Table::Traces, None, &request(3, t0)).expect("append");
        assert_eq!(s.flush().expect("flush").map(|c| c.seq), Some(3));
        assert_eq!(stored_spans(&root), 15);
        let _ = fs::remove_dir_all(&root);
    }
}
