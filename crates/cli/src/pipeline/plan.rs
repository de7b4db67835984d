//! The plan of a run: everything it needs, resolved from the command line.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tsim_engine::{Engine, Schedule};

/// Everything a run needs, resolved from the command line.
pub struct Plan {
    /// The engine (scenarios, tenants, seed).
    pub engine: Engine,
    /// Traces to generate (all shards together); `None`: until the end or Ctrl-C.
    pub count: Option<u64>,
    /// No trace starts at or after this time (Unix ns).
    pub end_ns: Option<u64>,
    /// When each trace starts.
    pub schedule: Schedule,
    /// This run's shard: traces whose index is `shard.0` modulo `shard.1`.
    pub shard: (u64, u64),
    /// What to do when a sink's queue is full.
    pub when_full: WhenFull,
    /// The run starts in the past: generate at CPU speed up to the present, then pace.
    pub catch_up: bool,
    /// Traces this shard is expected to generate (for progress), if bounded.
    pub expected: Option<u64>,
    /// Most spans per batch.
    pub batch_size: usize,
    /// Longest simulated time one batch covers.
    pub batch_timeout_ns: u64,
    /// Batches queued per sink before generation waits.
    pub queue_size: usize,
    /// Requests each network sink may have in flight at once.
    pub in_flight: usize,
    /// After Ctrl-C, how long queued and in-flight deliveries may still take.
    pub shutdown_timeout: Duration,
    /// Whether simulated metrics are produced (a metrics sink may serve only self-telemetry).
    pub metrics: bool,
    /// Draw a progress bar (on a terminal, after a second).
    pub progress: bool,
    /// Print notes on stderr as the run goes (not with --quiet).
    pub notes: bool,
    /// Resource attribute holding the tenant (for text views).
    pub tenant_key: String,
    /// Simulated time between metric exports (cumulative; a final export closes the run).
    pub metrics_interval_ns: u64,
    /// When spans and records leave: at their end (time order) or whole traces at the start.
    pub export_order: ExportOrder,
    /// Most bytes the traces in flight may hold before the oldest are exported whole.
    pub reorder_budget: usize,
}

/// When generated items leave for the outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportOrder {
    /// A span when it ends, a record at its time, in time order (as a real service's SDK).
    End,
    /// A whole trace at its start, in start order.
    Trace,
}

/// What generation does when a sink's queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Wait for room: nothing is lost, traces may start late (counted).
    Block,
    /// Drop the batch for that sink (counted as `queue full`) and keep the schedule.
    Drop,
}

/// A paced trace that starts this much after its scheduled time is counted late.
pub const LATE_NS: u64 = 100_000_000;

/// Longest simulated time (ns) and most spans in one line of a file sink, whatever the
/// export batch flags: file output depends only on the seed and the arguments that shape data.
pub const FILE_BATCH: (usize, u64) = (512, 10_000_000_000);

/// Unix time now, in nanoseconds (the driver reads the clock; the engine never does).
pub fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}
