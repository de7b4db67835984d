//! What a reader of a store sees: its Parquet files plus every request of the write-ahead log
//! that is not Parquet yet, converted by the same code into a private folder, so a report or
//! `verify` started after the receiver acknowledged a request sees its items, whether the
//! receiver is still running, stopped, or was killed before it converted.
//!
//! The order of the steps makes the view consistent without a lock against the writer:
//! 1. list the log's segments;
//! 2. read each one (a segment the writer converted and removed in the meantime is gone, and
//!    then its Parquet files are all in place: the writer removes a segment only after);
//! 3. convert what was read into the private folder, as `part-SEQ.parquet` like the writer;
//! 4. list the store's Parquet files, leaving out `part-SEQ` of every segment read in step 2
//!    (the writer may have written some or all of them meanwhile: the private copy is whole).
//!
//! A request acknowledged before step 1 is in a segment listed in step 1, or in Parquet
//! files in place before step 4. Whatever was appended later may or may not be seen.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::StoreError;
use crate::store::{Converted, convert_records, part_name};
use crate::tables::Table;
use crate::wal;

/// A store as one reader sees it (the private folder is removed when it is dropped).
#[derive(Debug)]
pub struct Snapshot {
    root: PathBuf,
    /// Where the log's pending requests were converted (none when the log held none).
    overlay: Option<PathBuf>,
    /// The segments converted there: the store's own files of the same name are left out.
    shadowed: BTreeSet<String>,
    pending: Vec<Converted>,
}

/// Numbers the private folders of one process.
static NEXT: AtomicU64 = AtomicU64::new(0);

impl Snapshot {
    /// The store at `root` as it is now, with what its log holds that is not Parquet yet.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        Self::open_in(root, &std::env::temp_dir())
    }

    /// Like [`Snapshot::open`], converting the log's requests under `scratch`.
    pub fn open_in(root: &Path, scratch: &Path) -> Result<Self, StoreError> {
        let dir = root.join("wal");
        let mut snap = Self::plain(root);
        for seq in wal::segments(&dir)? {
            let records = match wal::read(&dir, seq) {
                Ok(r) => r,
                // Converted and removed since the listing: its Parquet files are in place.
                Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            if records.records.is_empty() {
                continue;
            }
            let overlay = match &snap.overlay {
                Some(o) => o.clone(),
                None => {
                    let n = NEXT.fetch_add(1, Ordering::Relaxed);
                    let o = scratch.join(format!("telemetry-simulator-snapshot-{}-{n}", std::process::id()));
                    let _ = fs::remove_dir_all(&o);
                    fs::create_dir_all(&o).map_err(|e| StoreError::io(&o, e))?;
                    snap.overlay.insert(o).clone()
                }
            };
            let (converted, _rejected) = convert_records(&overlay, seq, &records)?;
            snap.shadowed.insert(part_name(seq));
            snap.pending.push(converted);
        }
        Ok(snap)
    }

    /// A snapshot of a folder that has no log (a store just written and closed).
    pub fn plain(root: &Path) -> Self {
        Self { root: root.to_owned(), overlay: None, shadowed: BTreeSet::new(), pending: Vec::new() }
    }

    /// The store's folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// What the log held that was not Parquet yet, per segment (the items the reader sees
    /// before the writer converts them).
    pub fn pending(&self) -> &[Converted] {
        &self.pending
    }

    /// The Parquet files of `table` whose partition hour (hours since the epoch) `keep`
    /// accepts: the store's, then the log's, each in partition order.
    pub fn files(&self, table: Table, keep: impl Fn(u64) -> bool) -> Result<Vec<PathBuf>, StoreError> {
        let mut out = Vec::new();
        for (root, own) in std::iter::once((&self.root, true)).chain(self.overlay.iter().map(|o| (o, false))) {
            for file in partition_files(root, table, &keep)? {
                let shadowed =
                    own && file.file_stem().and_then(|s| s.to_str()).is_some_and(|s| self.shadowed.contains(s));
                if !shadowed {
                    out.push(file);
                }
            }
        }
        Ok(out)
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        if let Some(o) = &self.overlay {
            let _ = fs::remove_dir_all(o);
        }
    }
}

/// The entries of `dir`, sorted (none when it does not exist).
fn sorted(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let mut v: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(r) => r.filter_map(Result::ok).map(|e| e.path()).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(StoreError::io(dir, e)),
    };
    v.sort();
    Ok(v)
}

/// The hour (since the epoch) of a partition directory pair `date=…/hour=…`.
fn partition_hour(date: &Path, hour: &Path) -> Option<u64> {
    let name = |p: &Path| p.file_name().and_then(|n| n.to_str()).map(str::to_owned);
    let d: jiff::civil::Date = name(date)?.strip_prefix("date=")?.parse().ok()?;
    let h: u64 = name(hour)?.strip_prefix("hour=")?.parse().ok()?;
    let secs = d.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp().as_second();
    Some(u64::try_from(secs).ok()? / 3600 + h)
}

/// The Parquet files of `table` under `root` in the hours `keep` accepts, in partition order.
fn partition_files(root: &Path, table: Table, keep: &impl Fn(u64) -> bool) -> Result<Vec<PathBuf>, StoreError> {
    let mut out = Vec::new();
    for date in sorted(&root.join(format!("signal={}", table.signal())))? {
        for hour in sorted(&date)? {
            let Some(h) = partition_hour(&date, &hour) else { continue };
            if !keep(h) {
                continue;
            }
            out.extend(sorted(&hour)?.into_iter().filter(|f| f.extension().is_some_and(|x| x == "parquet")));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::tests::{request, stored_spans};

    fn rows(files: &[PathBuf]) -> u64 {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        files
            .iter()
            .map(|p| {
                let r = SerializedFileReader::new(fs::File::open(p).expect("open")).expect("parquet");
                u64::try_from(r.metadata().file_metadata().num_rows()).expect("rows")
            })
            .sum()
    }

    /// Every synced request is seen once: in the log, converted, or half converted (some of a
    /// segment's files in place, the segment still there), and after a crash.
    #[test]
    fn a_reader_sees_each_synced_request_once() {
        let root = std::env::temp_dir().join(format!("tsim-snapshot-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let t0 = 1_764_590_400_000_000_000u64;
        let (mut s, _) = Store::open(&root).expect("open");
        s.append(Table::Traces, Some(t0), &request(5, t0)).expect("append");
        s.sync().expect("sync");
        let snap = Snapshot::open(&root).expect("snapshot");
        assert_eq!(rows(&snap.files(Table::Traces, |_| true).expect("files")), 5, "in the open segment");
        assert_eq!(snap.pending().iter().map(Converted::items).sum::<u64>(), 5);
        assert_eq!(stored_spans(&root), 0, "the store itself is untouched");
        drop(snap);

        // Converted while the segment is still there (the writer's step before removing it).
        let seg = wal::segment_path(&root.join("wal"), 1);
        s.rotate().expect("rotate");
        let kept = fs::read(&seg).expect("segment");
        crate::store::convert(&root, 1).expect("convert");
        fs::write(&seg, kept).expect("restore");
        s.append(Table::Traces, None, &request(7, t0 + 4 * 3_600_000_000_000)).expect("append");
        s.sync().expect("sync");
        let snap = Snapshot::open(&root).expect("snapshot");
        assert_eq!(rows(&snap.files(Table::Traces, |_| true).expect("files")), 12);
        let hour = t0 / 3_600_000_000_000;
        assert_eq!(rows(&snap.files(Table::Traces, |h| h == hour).expect("files")), 5, "hours filter");
        drop(snap);

        // A crash before any conversion: a reader still sees everything.
        drop(s);
        assert_eq!(rows(&Snapshot::open(&root).expect("snapshot").files(Table::Traces, |_| true).expect("f")), 12);
        let (s, _) = Store::open(&root).expect("reopen converts");
        drop(s);
        let snap = Snapshot::open(&root).expect("snapshot");
        assert!(snap.pending().is_empty());
        assert_eq!(rows(&snap.files(Table::Traces, |_| true).expect("files")), 12);
        let _ = fs::remove_dir_all(&root);
    }
}
