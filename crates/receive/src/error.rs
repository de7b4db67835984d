//! Why the receiver could not start or stop cleanly.

use std::path::PathBuf;

use tsim_store::StoreError;

use crate::notice::Listener;

/// Why [`Receiver::start`](crate::Receiver::start) or
/// [`Running::shutdown`](crate::Running::shutdown) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiveError {
    /// The store could not be opened (or replaying its log failed).
    #[error("opening the store {}", path.display())]
    Store {
        /// The store's root.
        path: PathBuf,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// A listener could not be bound.
    #[error("the {listener} listener {addr}: cannot listen")]
    Bind {
        /// Which.
        listener: Listener,
        /// The address asked for.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The address a listener is bound to could not be read.
    #[error(transparent)]
    LocalAddr(std::io::Error),
    /// A thread of the receiver could not be started.
    #[error("starting the receiver's threads")]
    Thread(#[source] std::io::Error),
    /// A thread of the receiver panicked while stopping (a bug); what it acknowledged is in
    /// the log and converted at the next start.
    #[error("the receiver's {0} thread panicked")]
    Panicked(&'static str),
}
