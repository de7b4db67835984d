//! What a run did, per sink and in all: what the summary and `--summary-json` show.

use std::time::Duration;

use tsim_sinks::Signal;

/// What one sink did.
#[derive(Debug, Clone)]
pub struct SinkReport {
    /// Sink name.
    pub name: String,
    /// Signal carried.
    pub signal: Signal,
    /// Items handed over.
    pub generated: u64,
    /// Items accepted by the peer.
    pub delivered: u64,
    /// Items lost, by reason.
    pub dropped: std::collections::BTreeMap<String, u64>,
    /// Requests made.
    pub requests: u64,
    /// Retries made.
    pub retries: u64,
    /// Payload bytes.
    pub bytes: u64,
    /// Whether drops here fail the run.
    pub counts_for_exit: bool,
}

/// One window of an incident and what it hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRow {
    /// The incident's name.
    pub name: String,
    /// Window start, Unix ns.
    pub start_ns: u64,
    /// Window end, Unix ns.
    pub end_ns: u64,
    /// Traces it hit (for a traffic incident: traces of its scenarios in the window).
    pub traces: u64,
    /// Spans it hit.
    pub spans: u64,
    /// Of those, spans that failed.
    pub errors: u64,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Each incident window the run covered, in time order.
    pub incidents: Vec<IncidentRow>,
    /// Traces generated.
    pub traces: u64,
    /// Spans generated.
    pub spans: u64,
    /// Spans with status ERROR.
    pub error_spans: u64,
    /// Log records generated.
    pub logs: u64,
    /// Traces per scenario name.
    pub per_scenario: Vec<(String, u64)>,
    /// Per sink.
    pub sinks: Vec<SinkReport>,
    /// Wall time.
    pub elapsed: Duration,
    /// Wall time of the generation (without the sinks' drain, close and --linger).
    pub generation: Duration,
    /// Traces cut at their scenario's span budget (`max_spans_per_trace`).
    pub cut: u64,
    /// Stopped by Ctrl-C.
    pub interrupted: bool,
    /// Sink errors at close (e.g. a file that could not be flushed).
    pub close_errors: Vec<String>,
    /// The sinks the insecure mode weakens (name, what it does: plain text or TLS without
    /// verifying the server).
    pub insecure: Vec<(String, String)>,
    /// Paced traces that started more than [`LATE_NS`] after their time.
    pub late: u64,
    /// Spans and records (output pieces and metric observations) released before their
    /// time because the reorder budget was full.
    pub ahead_budget: u64,
    /// Spans and records of started traces released at once by Ctrl-C, before their time.
    pub ahead_interrupted: u64,
    /// Largest delay of a paced trace behind its time.
    pub max_lag: Duration,
    /// Traces per second over the generation (first to last trace).
    pub achieved_rate: f64,
    /// Traces per second this shard was asked for (`None`: as fast as possible).
    pub target_rate: Option<f64>,
    /// Mean spans per trace of the run.
    pub spans_per_trace: f64,
    /// This run's shard, when sharded: (index, count).
    pub shard: Option<(u64, u64)>,
}
