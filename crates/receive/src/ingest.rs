//! From an accepted request to a durable one: requests queue (bounded) for one writer thread,
//! which appends what is waiting to the write-ahead log, syncs once for all of them (group
//! commit) and only then acknowledges each; closed segments go to a converter thread that
//! turns them into Parquet. A failed write or sync acknowledges nothing and rolls the
//! segment back to what was synced, so a client's retry never duplicates.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::oneshot;
use tsim_store::{Store, Table, store::convert};

use crate::notice::{Notice, Notify, tell};
use crate::stats::Stats;

/// Requests waiting for the writer at most (beyond: the client is told to retry).
const QUEUE: usize = 1024;
/// A group commit takes at most this many bytes of requests.
const GROUP_BYTES: usize = 16 << 20;

/// Why a request was not stored (every reason is one to retry later).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refused {
    /// The writer is behind (the queue is full).
    #[error("the receiver is behind writing its log; retry later")]
    Busy,
    /// Writing or syncing the log failed (e.g. a full disk).
    #[error("not stored (writing the log failed: {0}); retry later")]
    Failed(String),
    /// The receiver is shutting down.
    #[error("the receiver is shutting down")]
    Closing,
}

/// A request to store.
struct Job {
    table: Table,
    payload: Bytes,
    /// Items per service in it.
    items: Vec<(String, u64)>,
    /// When it arrived (ns since the epoch).
    received: u64,
    ack: oneshot::Sender<Result<(), Refused>>,
}

/// The receiving end of the writer: cheap to clone, one per connection.
#[derive(Clone)]
pub(crate) struct Ingest {
    tx: SyncSender<Job>,
    /// The counters.
    pub stats: Arc<Stats>,
}

impl Ingest {
    /// Stores a request (a serialized `Export*ServiceRequest`) holding `items` per service;
    /// returns once it is durable, or why not.
    pub async fn store(&self, table: Table, payload: Bytes, items: Vec<(String, u64)>) -> Result<(), Refused> {
        let (ack, done) = oneshot::channel();
        let received = now_ns();
        match self.tx.try_send(Job { table, payload, items, received, ack }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(Refused::Busy),
            Err(TrySendError::Disconnected(_)) => return Err(Refused::Closing),
        }
        done.await.unwrap_or(Err(Refused::Closing))
    }
}

/// Nanoseconds since the epoch, now.
fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The writer and converter threads; [`Writer::finish`] stops them once every sender is gone.
pub(crate) struct Writer {
    writer: JoinHandle<()>,
    converter: JoinHandle<()>,
}

/// Starts the threads for the store at `root` (opened by the caller: `store`), closing
/// segments at `segment_bytes` or `segment_age` after their first request; fails when a
/// thread cannot be started.
pub(crate) fn start(
    store: Store,
    root: PathBuf,
    segment_age: Duration,
    stats: Arc<Stats>,
    notify: Option<Notify>,
) -> std::io::Result<(Ingest, Writer)> {
    let (tx, rx) = sync_channel::<Job>(QUEUE);
    let (conv_tx, conv_rx) = std::sync::mpsc::channel::<u64>();
    let (s, n) = (stats.clone(), notify.clone());
    let converter = std::thread::Builder::new().name("receive-parquet".into()).spawn(move || {
        for seq in conv_rx {
            match convert(&root, seq) {
                Ok(c) => {
                    s.of(Table::Traces).stored.fetch_add(c.spans, Ordering::Relaxed);
                    s.of(Table::Logs).stored.fetch_add(c.logs, Ordering::Relaxed);
                    s.of(Table::Metrics).stored.fetch_add(c.points, Ordering::Relaxed);
                }
                Err(error) => tell(n.as_ref(), Notice::ConvertFailed { seq, error }),
            }
        }
    })?;
    let s = stats.clone();
    let writer = std::thread::Builder::new()
        .name("receive-wal".into())
        .spawn(move || write_loop(store, &rx, &conv_tx, &s, segment_age, notify.as_ref()))?;
    Ok((Ingest { tx, stats }, Writer { writer, converter }))
}

impl Writer {
    /// Waits for the writer to drain the queue and close its segment (once every
    /// [`Ingest`] is dropped), and for the converter to convert everything.
    /// Fails with the name of a thread that panicked.
    pub fn finish(self) -> Result<(), &'static str> {
        let writer = self.writer.join();
        let converter = self.converter.join();
        writer.map_err(|_| "log writer")?;
        converter.map_err(|_| "converter")
    }
}

fn write_loop(
    mut store: Store,
    rx: &Receiver<Job>,
    conv: &std::sync::mpsc::Sender<u64>,
    stats: &Stats,
    age: Duration,
    notify: Option<&Notify>,
) {
    let mut opened: Option<Instant> = None;
    let mut group: Vec<Job> = Vec::new();
    loop {
        let wait = opened.map_or(Duration::from_secs(3600), |t| age.saturating_sub(t.elapsed()));
        match rx.recv_timeout(wait) {
            Ok(j) => group.push(j),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let mut bytes: usize = group.iter().map(|j| j.payload.len()).sum();
        while bytes < GROUP_BYTES {
            match rx.try_recv() {
                Ok(j) => {
                    bytes += j.payload.len();
                    group.push(j);
                }
                Err(_) => break,
            }
        }
        if !group.is_empty() {
            opened.get_or_insert_with(Instant::now);
            commit(&mut store, &mut group, conv, stats, notify);
        }
        if store.full() || opened.is_some_and(|t| t.elapsed() >= age) {
            hand_over(store.rotate(), conv, "closing the log segment", notify);
            opened = None;
        }
    }
    hand_over(store.rotate(), conv, "closing the log segment (converted at the next start)", notify);
}

/// Hands a segment just closed (by a rotation or a rollback) to the converter.
fn hand_over(
    closed: Result<Option<u64>, tsim_store::StoreError>,
    conv: &std::sync::mpsc::Sender<u64>,
    what: &'static str,
    notify: Option<&Notify>,
) {
    match closed {
        Ok(Some(seq)) => {
            let _ = conv.send(seq);
        }
        Ok(None) => {}
        Err(error) => tell(notify, Notice::SegmentFailed { what, error }),
    }
}

/// Appends a group of requests, syncs once, and acknowledges them all (or none).
fn commit(
    store: &mut Store,
    group: &mut Vec<Job>,
    conv: &std::sync::mpsc::Sender<u64>,
    stats: &Stats,
    notify: Option<&Notify>,
) {
    let before = store.pending_bytes();
    let result =
        group.iter().try_for_each(|j| store.append(j.table, Some(j.received), &j.payload)).and_then(|()| store.sync());
    match result {
        Ok(()) => {
            stats.wal_bytes.fetch_add(store.pending_bytes().saturating_sub(before), Ordering::Relaxed);
            stats.syncs.fetch_add(1, Ordering::Relaxed);
            let mut services = stats.services.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            for j in group.drain(..) {
                let s = stats.of(j.table);
                s.requests.fetch_add(1, Ordering::Relaxed);
                for (svc, n) in &j.items {
                    s.acked.fetch_add(*n, Ordering::Relaxed);
                    *services.entry((j.table, svc.clone())).or_default() += n;
                }
                let _ = j.ack.send(Ok(()));
            }
        }
        Err(e) => {
            // Nothing of the group is acknowledged, so nothing of it may stay.
            hand_over(store.rollback(), conv, "rolling back the log segment", notify);
            let why = e.to_string();
            for j in group.drain(..) {
                stats.of(j.table).refused.fetch_add(1, Ordering::Relaxed);
                let _ = j.ack.send(Err(Refused::Failed(why.clone())));
            }
        }
    }
}
