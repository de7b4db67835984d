//! The OTLP receiver of telemetry-simulator, embeddable without the command line: gRPC
//! (tonic) and HTTP (axum) servers, TLS optional, that store what they acknowledge — durable
//! in the store's write-ahead log before the answer (group commit), converted to Parquet
//! within the flush interval — with its own counters on `/metrics` and a shutdown that
//! answers what is in flight and converts everything pending.
//!
//! ```no_run
//! # async fn run() -> Result<(), tsim_receive::ReceiveError> {
//! let running = tsim_receive::Receiver::start(tsim_receive::ReceiverConfig::new("store")).await?;
//! println!("OTLP/HTTP on http://{}", running.http_addr());
//! let summary = running.shutdown().await?;
//! assert!(!summary.unconverted());
//! # Ok(()) }
//! ```

mod codec;
mod config;
mod error;
mod grpc;
mod http;
mod ingest;
mod notice;
mod payload;
mod run;
mod stats;
mod tls;

pub use config::ReceiverConfig;
pub use error::ReceiveError;
pub use notice::{Listener, Notice, Notify};
pub use run::{Receiver, Running, Summary};
pub use stats::{Counts, SignalCounts};
pub use tsim_store::Table;
