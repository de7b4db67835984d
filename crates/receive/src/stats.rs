//! The receiver's counters: atomics updated by the servers and the writer, and [`Counts`],
//! a copy of them taken at one moment for the caller (a live line, a summary).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tsim_store::Table;

/// Counters of one signal.
#[derive(Debug, Default)]
pub(crate) struct SignalStats {
    /// Requests acknowledged.
    pub requests: AtomicU64,
    /// Items (spans, log records, points) acknowledged: durable in the log.
    pub acked: AtomicU64,
    /// Items converted into Parquet.
    pub stored: AtomicU64,
    /// Requests refused (bad input, limits, token, busy, failed).
    pub refused: AtomicU64,
}

/// What the receiver has done, for `/metrics` and [`Counts`].
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Per signal, in `Table` order.
    pub signals: [SignalStats; 3],
    /// Items acknowledged per (signal, service).
    pub services: Mutex<BTreeMap<(Table, String), u64>>,
    /// Bytes appended to the log.
    pub wal_bytes: AtomicU64,
    /// Group commits (syncs).
    pub syncs: AtomicU64,
    /// TLS handshakes refused, on either listener.
    pub tls_refused: AtomicU64,
}

impl Stats {
    /// The counters of a signal.
    pub fn of(&self, t: Table) -> &SignalStats {
        &self.signals[t as usize]
    }

    /// A copy of every counter.
    pub fn counts(&self) -> Counts {
        let signal = |t: Table| {
            let s = self.of(t);
            SignalCounts {
                requests: s.requests.load(Ordering::Relaxed),
                acked: s.acked.load(Ordering::Relaxed),
                stored: s.stored.load(Ordering::Relaxed),
                refused: s.refused.load(Ordering::Relaxed),
            }
        };
        Counts {
            signals: Table::ALL.map(signal),
            services: self.services.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone(),
            wal_bytes: self.wal_bytes.load(Ordering::Relaxed),
            syncs: self.syncs.load(Ordering::Relaxed),
            tls_refused: self.tls_refused.load(Ordering::Relaxed),
        }
    }
}

/// The counters of one signal at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignalCounts {
    /// Requests acknowledged (durable in the log).
    pub requests: u64,
    /// Items (spans, log records, metric points) acknowledged.
    pub acked: u64,
    /// Items converted into Parquet.
    pub stored: u64,
    /// Requests refused (bad payload, limit, token, writer behind or failing, closing).
    pub refused: u64,
}

/// Every counter of the receiver at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Per signal, in [`Table::ALL`] order; see [`Counts::of`].
    pub signals: [SignalCounts; 3],
    /// Items acknowledged per (signal, `service.name`).
    pub services: BTreeMap<(Table, String), u64>,
    /// Bytes appended to the write-ahead log.
    pub wal_bytes: u64,
    /// Group commits (one sync each).
    pub syncs: u64,
    /// TLS handshakes refused (always 0 without TLS).
    pub tls_refused: u64,
}

impl Counts {
    /// The counters of one signal.
    pub fn of(&self, t: Table) -> &SignalCounts {
        &self.signals[t as usize]
    }

    /// Whether some acknowledged items are not in Parquet (still in the log).
    pub fn unconverted(&self) -> bool {
        self.signals.iter().any(|s| s.acked != s.stored)
    }
}
