//! What the receiver reports while it runs without failing: a segment it could not convert,
//! a refused TLS handshake, a server that ended with an error. Each goes to the caller's
//! [`Notify`] callback; its `Display` is the line the command-line tool prints.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use tsim_store::StoreError;

/// The callback that receives every [`Notice`]; called from the receiver's threads and
/// tasks, so it must be quick.
pub type Notify = Arc<dyn Fn(Notice) + Send + Sync>;

/// One of the two listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// OTLP/gRPC.
    Grpc,
    /// OTLP/HTTP and `/metrics`.
    Http,
}

impl fmt::Display for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Grpc => "gRPC",
            Self::Http => "HTTP",
        })
    }
}

/// Something the receiver reports while it runs.
#[derive(Debug)]
#[non_exhaustive]
pub enum Notice {
    /// A closed log segment did not convert into Parquet; it stays for the next start.
    ConvertFailed {
        /// The segment.
        seq: u64,
        /// Why.
        error: StoreError,
    },
    /// Closing or rolling back a log segment failed.
    SegmentFailed {
        /// What was being done.
        what: &'static str,
        /// Why.
        error: StoreError,
    },
    /// A client's TLS handshake was refused (plain text, no or an unknown certificate, or
    /// nothing within the time allowed); the client was dropped.
    HandshakeRefused {
        /// Where.
        listener: Listener,
        /// From whom.
        peer: SocketAddr,
        /// Why.
        why: String,
        /// Handshakes refused so far, this one included.
        count: u64,
    },
    /// A server ended with an error while stopping.
    ServerFailed {
        /// Which.
        listener: Listener,
        /// Its error.
        error: String,
    },
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ConvertFailed { seq, error } => {
                write!(f, "error: converting log segment {seq} (kept for the next start): {error}")
            }
            Self::SegmentFailed { what, error } => write!(f, "error: {what}: {error}"),
            Self::HandshakeRefused { listener, peer, why, .. } => {
                write!(f, "refused a TLS handshake on the {listener} listener from {peer}: {why}")
            }
            Self::ServerFailed { listener, error } => write!(f, "error: the {listener} server: {error}"),
        }
    }
}

/// Hands `n` to `notify`, if there is one.
pub(crate) fn tell(notify: Option<&Notify>, n: Notice) {
    if let Some(f) = notify {
        f(n);
    }
}
