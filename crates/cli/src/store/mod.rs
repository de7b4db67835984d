//! The receiving half: a store of Parquet files, and what fills it.

/// The store the commands use without `--store`.
pub const DEFAULT_STORE: &str = "telemetry-store";

pub mod import;
pub mod receive;
pub mod report;
pub mod verify;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tsim_store::Snapshot;

/// Whether `dir` is a store (as opposed to an output folder of the simulator).
pub fn is_store(dir: &Path) -> bool {
    dir.join("wal").is_dir() || ["traces", "logs", "metrics"].iter().any(|s| dir.join(format!("signal={s}")).is_dir())
}

/// A temporary store, removed when dropped.
pub struct TempStore(pub PathBuf);

impl Drop for TempStore {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh temporary folder of this process, named by `tag`, removed when dropped.
pub fn temp(tag: &str) -> TempStore {
    let dir = std::env::temp_dir().join(format!("telemetry-simulator-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    TempStore(dir)
}

/// A store open for reading: what it holds in Parquet and in its log (see
/// [`tsim_store::snapshot`]), and the temporary store a folder of files was read into.
pub struct Source {
    /// What the reports and `verify` read.
    pub snapshot: Snapshot,
    /// Removed after the snapshot (fields drop in order).
    _temp: Option<TempStore>,
}

/// The store to read at `source`: itself when it is one (with every request its log holds
/// that is not Parquet yet, so whatever a receiver acknowledged is seen); a run's output
/// folder, or a folder of OTLP/JSON lines files (the collector's file exporter), read into a
/// temporary store (removed when the returned value is dropped).
pub fn open_source(source: &Path) -> Result<Source> {
    if is_store(source) {
        let snapshot = Snapshot::open(source).with_context(|| format!("reading the store {}", source.display()))?;
        return Ok(Source { snapshot, _temp: None });
    }
    let has_json = std::fs::read_dir(source).is_ok_and(|rd| {
        rd.filter_map(Result::ok).any(|e| e.path().extension().is_some_and(|x| x == "json" || x == "jsonl"))
    });
    if source.is_dir() && has_json {
        let t = temp("read");
        import::load(std::slice::from_ref(&source.to_path_buf()), &t.0)
            .with_context(|| format!("reading the OTLP/JSON files in {}", source.display()))?;
        return Ok(Source { snapshot: Snapshot::plain(&t.0), _temp: Some(t) });
    }
    usage!(
        "--store {}: neither a store nor a folder of OTLP/JSON lines (no signal=… folders, no traces.jsonl); \
         `telemetry-simulator import DIR --store STORE` makes one",
        source.display()
    )
}
