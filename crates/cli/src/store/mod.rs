//! The receiving half: a store of Parquet files, and what fills it.

pub mod import;
pub mod receive;
pub mod report;
