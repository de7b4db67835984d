//! Why a sink could not be configured, set up or closed.

use std::path::PathBuf;

use thiserror::Error;

/// A sink setting (flag or environment variable) that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An OTLP protocol other than grpc, http/protobuf, http/json.
    #[error("unknown OTLP protocol `{0}` (grpc, http/protobuf or http/json)")]
    Protocol(String),
    /// A compression other than gzip or none.
    #[error("unknown compression `{0}` (gzip or none)")]
    Compression(String),
    /// A header that is not `key=value`, or whose name or value HTTP or gRPC cannot carry.
    #[error("header {0}")]
    Header(String),
    /// An endpoint URL that no request could be sent to.
    #[error("{source_name} `{url}` {why} (e.g. http://127.0.0.1:4318)")]
    Url {
        /// The flag or variable it came from.
        source_name: String,
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// A boolean variable that is neither `true` nor `false`.
    #[error("{name} `{value}` is not true or false")]
    Bool {
        /// The variable.
        name: String,
        /// Its value.
        value: String,
    },
    /// A timeout that is not a number of milliseconds above 0.
    #[error("{name} `{value}` is not a number of milliseconds above 0")]
    Timeout {
        /// The variable.
        name: String,
        /// Its value.
        value: String,
    },
}

/// A sink that could not be set up.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SinkBuildError {
    /// A setting that cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A file or its folder that cannot be created or opened.
    #[error("cannot open {path}: {error}")]
    Open {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// An address that cannot be listened on.
    #[error("{what} {addr}: cannot listen: {error}")]
    Listen {
        /// What listens (`--prometheus-listen`).
        what: &'static str,
        /// The address.
        addr: String,
        /// The OS error.
        error: std::io::Error,
    },
    /// A TLS file or setting that cannot be used.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The HTTP or gRPC client (TLS setup, endpoint) could not be built.
    #[error("{0}")]
    Client(String),
}

/// A sink that could not finish.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SinkError {
    /// Flushing or syncing a file at close failed: what was written may not be on disk.
    #[error("{path}: {error}")]
    Close {
        /// The file.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// The sink's task ended abnormally.
    #[error("sink task failed: {0}")]
    Task(String),
}

/// A write of complete lines to a file that failed; its text is the drop reason of the
/// lines' items.
#[derive(Debug, Error)]
pub(crate) enum WriteError {
    /// The write failed; the file is back at its last complete line.
    #[error("write error: {0}")]
    Write(std::io::Error),
    /// The write failed, and so did cutting the file back to its last complete line.
    #[error("write error: {error} (and the rollback failed: {rollback})")]
    Rollback {
        /// Why the write failed.
        error: std::io::Error,
        /// Why the rollback failed.
        rollback: std::io::Error,
    },
    /// Moving the rotated files along failed.
    #[error("rotation failed: {0}")]
    Rotate(std::io::Error),
    /// The fresh file after a rotation could not be opened.
    #[error("rotation failed: {0}")]
    Reopen(SinkBuildError),
}
