//! What the OTLP sinks share: exporter configuration from flags and `OTEL_EXPORTER_OTLP_*`
//! variables, the retry policy of the OTLP specification, and response decoding.

pub mod config;
pub mod response;
pub mod retry;

pub use config::{Compression, OtlpConfig, Protocol};
pub use retry::RetryPolicy;
