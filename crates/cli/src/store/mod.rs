//! The receiving half: a store of Parquet files, and what fills it.

/// The store the commands use without `--store`.
pub const DEFAULT_STORE: &str = "telemetry-store";

pub mod import;
pub mod receive;
pub mod report;
