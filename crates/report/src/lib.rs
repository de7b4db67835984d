//! Reports of telemetry-simulator over a store of Parquet files (or the files of a run):
//! the daily summary, one agent, slow operations, error rates per window, recent errors,
//! one trace as a waterfall, message flows, LLM cost, artifacts, activity. Each streams the
//! columns it needs in flat memory; percentiles come from a DDSketch (relative error ≤ 1 %).

pub mod activity;
pub mod agent;
pub mod artifacts;
pub mod chart;
pub mod cost;
pub mod error_rate;
pub mod errors;
pub mod flows;
pub mod render;
pub mod scan;
pub mod slow;
pub mod stats;
pub mod summary;
pub mod trace;
pub mod verify;

use std::path::PathBuf;

pub use chart::Chart;
pub use render::{Format, Report, Section};
pub use scan::Filter;

/// What can go wrong in a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file or folder could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A Parquet file could not be read.
    #[error("{path}: {source}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// Why.
        source: parquet::errors::ParquetError,
    },
    /// A file lacks a column the report needs (not a store of this version).
    #[error("no column {0} in the store's files")]
    NoColumn(String),
    /// The store's log could not be read.
    #[error(transparent)]
    Store(#[from] tsim_store::StoreError),
    /// The expected telemetry (a run generated again) could not be read.
    #[error("{0}")]
    Expected(String),
}

impl From<parquet::errors::ParquetError> for ReportError {
    fn from(source: parquet::errors::ParquetError) -> Self {
        Self::Parquet { path: PathBuf::new(), source }
    }
}
