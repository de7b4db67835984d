//! Sinks of telemetry-simulator: where encoded batches go.
//!
//! Every sink implements [`Sink`]: it takes one encoded [`Batch`] at a time (never
//! concurrently), owns its retries, and answers with a [`Delivery`] that accounts for every
//! item: delivered, or dropped with a reason. [`run_sink`] drives a sink from a bounded
//! queue and keeps its [`SinkStats`], so a run can always show
//! `generated = delivered + dropped{reason}` per sink.

pub mod applog;
pub mod discard;
pub mod elasticsearch;
mod error;
pub mod file;
pub mod http;
mod linefile;
pub mod otlp;
pub mod otlp_grpc;
pub mod otlp_http;
pub mod prometheus;
pub mod remote_write;
pub mod stdout;
pub mod tls;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
pub use error::{ConfigError, SinkBuildError, SinkError};
pub use http::check_url;

/// A boxed future, for object-safe async methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The payload formats sinks consume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// `ExportTraceServiceRequest`, protobuf.
    OtlpProto,
    /// `ExportTraceServiceRequest`, OTLP/JSON.
    OtlpJson,
    /// One text line per trace.
    TextLine,
    /// Every span as text.
    TextFull,
    /// Application log lines (JSON, one per log record).
    AppJson,
    /// Decision log lines (JSON, one per policy decision).
    DecisionJson,
    /// Artifact-diff lines (JSON, one per artifact a span wrote).
    ArtifactJson,
    /// Prometheus remote-write `WriteRequest` (protobuf; the sink compresses it).
    RemoteWrite,
    /// Elasticsearch `_bulk` NDJSON (action and document lines).
    EsBulk,
    /// Lines of the n-th logger of a logging configuration.
    Logger(u16),
    /// Bytes made by an encoder the output owns (never shared with another sink).
    Own,
}

/// The signal a sink carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    /// Traces (items are spans).
    Traces,
    /// Logs (items are log records).
    Logs,
    /// Metrics (items are data points).
    Metrics,
}

impl Signal {
    /// Lowercase name, as in `OTEL_EXPORTER_OTLP_<SIGNAL>_*` and `/v1/<signal>`.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Logs => "logs",
            Signal::Metrics => "metrics",
        }
    }

    /// What one item of this signal is called.
    pub fn item(self) -> &'static str {
        match self {
            Signal::Traces => "spans",
            Signal::Logs => "log records",
            Signal::Metrics => "data points",
        }
    }

    /// The gRPC method that exports this signal.
    pub fn grpc_path(self) -> &'static str {
        match self {
            Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        }
    }

    /// The OTLP/JSON name of the partial-success counter.
    pub fn rejected_json_field(self) -> &'static str {
        match self {
            Signal::Traces => "rejectedSpans",
            Signal::Logs => "rejectedLogRecords",
            Signal::Metrics => "rejectedDataPoints",
        }
    }
}

/// One encoded batch.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Encoded bytes (shared between sinks of the same format).
    pub payload: Bytes,
    /// Items (spans) in the batch.
    pub items: u64,
}

/// What happened to the items of one batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Items the peer accepted.
    pub delivered: u64,
    /// Items lost, by reason.
    pub dropped: Vec<(String, u64)>,
    /// Retries made (requests beyond the first).
    pub retries: u64,
    /// Requests made.
    pub requests: u64,
}

impl Delivery {
    /// Everything delivered in one request.
    pub fn ok(items: u64) -> Self {
        Self { delivered: items, dropped: Vec::new(), retries: 0, requests: 1 }
    }

    /// A partial success: `rejected` of `items` refused by the peer (never retried).
    pub fn partial(items: u64, partial: Option<(u64, String)>) -> Self {
        match partial {
            Some((rejected, msg)) => {
                let rejected = rejected.min(items);
                Self {
                    delivered: items - rejected,
                    dropped: vec![(format!("partial success: {msg}"), rejected)],
                    ..Self::default()
                }
            }
            None => Self::ok(items),
        }
    }

    /// Everything dropped for `reason`.
    pub fn dropped(items: u64, reason: impl Into<String>) -> Self {
        Self { delivered: 0, dropped: vec![(reason.into(), items)], retries: 0, requests: 0 }
    }
}

/// A destination for batches.
pub trait Sink: Send {
    /// A name for summaries, e.g. `otlp-grpc http://127.0.0.1:4317`.
    fn name(&self) -> String;
    /// The payload format this sink takes.
    fn format(&self) -> Format;
    /// The signal this sink carries.
    fn signal(&self) -> Signal {
        Signal::Traces
    }
    /// What the insecure mode (`--insecure`) does to this sink when it is on — plain text,
    /// or TLS without verifying the server's certificate — for the summary to say.
    fn insecure(&self) -> Option<String> {
        None
    }
    /// Whether drops here make the run fail (false for views such as stdout).
    fn counts_for_exit(&self) -> bool {
        true
    }
    /// Whether this sink's batches have a fixed size (spans, simulated time) whatever the
    /// export batch flags, so that its output is the same bytes for the same seed (files).
    fn fixed_batches(&self) -> bool {
        false
    }
    /// A copy that can deliver at the same time as this one (its own connection), for
    /// several requests in flight; `None` (the default) when batches must go one by one,
    /// as for files.
    fn fork(&self) -> Option<Box<dyn Sink>> {
        None
    }
    /// Whether a delivery in progress may be abandoned at shutdown (a network request:
    /// its outcome is then unknown). Files say no: a write is finished, so that what was
    /// counted is what is on disk.
    fn cancellable(&self) -> bool {
        true
    }
    /// For a pull endpoint: the requests of a fresh payload made at each scrape, answered by
    /// the generator with the values as of then (`None`, the default: push on its interval).
    fn demand(&self) -> Option<std::sync::Arc<Demand>> {
        None
    }
    /// Delivers one batch, retrying as the protocol allows. Never called concurrently on
    /// one value (forks run side by side).
    fn send(&mut self, batch: Batch) -> BoxFuture<'_, Delivery>;
    /// Flushes and closes.
    fn close(&mut self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async { Ok(()) })
    }
}

/// Counters of one sink, shared with the progress display and the summary.
#[derive(Debug, Default)]
pub struct SinkStats {
    /// Items handed to the sink.
    pub generated: AtomicU64,
    /// Items the peer accepted.
    pub delivered: AtomicU64,
    /// Requests made.
    pub requests: AtomicU64,
    /// Retries made.
    pub retries: AtomicU64,
    /// Payload bytes handed to the sink.
    pub bytes: AtomicU64,
    /// Items waiting in the queue or in flight.
    pub queued: AtomicU64,
    dropped: Mutex<BTreeMap<String, u64>>,
}

impl SinkStats {
    /// Adds dropped items under `reason`.
    pub fn add_dropped(&self, reason: &str, n: u64) {
        if n > 0 {
            *self.dropped.lock().unwrap_or_else(|e| e.into_inner()).entry(reason.to_string()).or_default() += n;
        }
    }

    /// Dropped items by reason.
    pub fn dropped(&self) -> BTreeMap<String, u64> {
        self.dropped.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Total dropped items.
    pub fn dropped_total(&self) -> u64 {
        self.dropped().values().sum()
    }

    /// Records a batch entering the queue.
    pub fn enqueued(&self, batch: &Batch) {
        self.generated.fetch_add(batch.items, Ordering::Relaxed);
        self.queued.fetch_add(batch.items, Ordering::Relaxed);
        self.bytes.fetch_add(batch.payload.len() as u64, Ordering::Relaxed);
    }
}

/// Set to `true` when pending deliveries must stop: what is in flight is then dropped as
/// `shutdown (outcome unknown)`, what is still queued as `shutdown`.
pub type Shutdown = tokio::sync::watch::Receiver<bool>;

/// Resolves once `shutdown` is set (never, if its sender is gone while unset).
async fn shut(shutdown: &mut Shutdown) {
    if shutdown.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Drives `sink` from `rx` until the queue closes, then closes the sink. With
/// `in_flight` > 1 and a sink that forks, that many copies take batches from the queue
/// side by side. Once `shutdown` is set, the batches left are dropped as `shutdown`.
pub async fn run_sink(
    sink: Box<dyn Sink>,
    rx: tokio::sync::mpsc::Receiver<Batch>,
    stats: std::sync::Arc<SinkStats>,
    in_flight: usize,
    shutdown: Shutdown,
) -> Result<(), SinkError> {
    let mut copies = vec![sink];
    while copies.len() < in_flight {
        match copies[0].fork() {
            Some(f) => copies.push(f),
            None => break,
        }
    }
    let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
    let mut workers = tokio::task::JoinSet::new();
    for sink in copies {
        workers.spawn(drain(sink, rx.clone(), stats.clone(), shutdown.clone()));
    }
    let mut result = Ok(());
    while let Some(r) = workers.join_next().await {
        let r = r.unwrap_or_else(|e| Err(SinkError::Task(e.to_string())));
        if result.is_ok() {
            result = r;
        }
    }
    result
}

/// One worker of [`run_sink`]: takes batches until the queue closes, then closes its sink.
async fn drain(
    mut sink: Box<dyn Sink>,
    rx: std::sync::Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<Batch>>>,
    stats: std::sync::Arc<SinkStats>,
    mut shutdown: Shutdown,
) -> Result<(), SinkError> {
    loop {
        let Some(batch) = rx.lock().await.recv().await else { break };
        let items = batch.items;
        let d = if *shutdown.borrow() {
            Delivery::dropped(items, "shutdown")
        } else if sink.cancellable() {
            tokio::select! {
                d = sink.send(batch) => d,
                () = shut(&mut shutdown) => Delivery::dropped(items, "shutdown (outcome unknown)"),
            }
        } else {
            sink.send(batch).await
        };
        let accounted = d.delivered + d.dropped.iter().map(|(_, n)| n).sum::<u64>();
        debug_assert_eq!(accounted, items);
        stats.delivered.fetch_add(d.delivered, Ordering::Relaxed);
        stats.requests.fetch_add(d.requests, Ordering::Relaxed);
        stats.retries.fetch_add(d.retries, Ordering::Relaxed);
        for (reason, n) in &d.dropped {
            stats.add_dropped(reason, *n);
        }
        // Whatever the peer said, every item is now accounted for.
        if accounted < items {
            stats.add_dropped("unaccounted", items - accounted);
        }
        stats.queued.fetch_sub(items, Ordering::Relaxed);
    }
    if sink.cancellable() {
        tokio::select! {
            r = sink.close() => r,
            () = shut(&mut shutdown) => Ok(()),
        }
    } else {
        sink.close().await
    }
}

/// A pull endpoint's request for a fresh payload: a scrape raises it, the generator answers
/// with the values as of then (through the sink's queue), and the scrape waits for that.
#[derive(Debug, Default)]
pub struct Demand {
    wanted: std::sync::atomic::AtomicBool,
    closed: std::sync::atomic::AtomicBool,
    /// Payloads received (a scrape waits for it to move).
    version: AtomicU64,
    fresh: tokio::sync::Notify,
}

impl Demand {
    /// Asks for a fresh payload; returns the version to wait past.
    pub fn ask(&self) -> u64 {
        let v = self.version.load(Ordering::Acquire);
        self.wanted.store(true, Ordering::Release);
        v
    }

    /// Whether a payload was asked for since the last call (the generator's side).
    pub fn take(&self) -> bool {
        self.wanted.swap(false, Ordering::AcqRel)
    }

    /// A payload arrived (the sink's side).
    pub fn arrived(&self) {
        self.version.fetch_add(1, Ordering::AcqRel);
        self.fresh.notify_waiters();
    }

    /// No more answers will come (generation ended): scrapes stop waiting.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.fresh.notify_waiters();
    }

    /// Waits, at most `patience`, for a payload newer than `since` (none once closed).
    pub async fn wait_past(&self, since: u64, patience: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let notified = self.fresh.notified();
            if self.version.load(Ordering::Acquire) > since || self.closed.load(Ordering::Acquire) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }
}
