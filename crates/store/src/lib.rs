//! The telemetry store of telemetry-simulator: OTLP requests in, Hive-partitioned Parquet
//! files out (one documented schema per signal, columns named as the OpenTelemetry
//! Collector's ClickHouse exporter names them), readable by any engine — DuckDB, Spark,
//! Trino, ClickHouse, DataFusion — and by the reports.

pub mod columns;
pub mod otlp;
pub mod otlp_json;
pub mod snapshot;
pub mod store;
pub mod tables;
pub mod wal;
pub mod write;

use std::path::{Path, PathBuf};

pub use snapshot::Snapshot;
pub use store::{Converted, Store};
pub use tables::Table;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Parquet could not encode or decode.
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// Another process has the store open.
    #[error("{0}: the store is open in another process (one writer at a time)")]
    InUse(PathBuf),
    /// An OTLP payload did not decode.
    #[error("OTLP payload: {0}")]
    Decode(#[from] prost::DecodeError),
}

impl StoreError {
    /// An I/O error at `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io { path: path.to_owned(), source }
    }
}
