//! A run: the engine on its own thread, encoders per payload format, a bounded queue per
//! sink, sink tasks on the async runtime, progress, Ctrl-C, and the final accounting.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc;
use tsim_engine::declared::DeclaredMetrics;
use tsim_engine::{Engine, Schedule, Scratch};
use tsim_model::applog::AppLogEncoder;
use tsim_model::artifact::ArtifactEncoder;
use tsim_model::decision::DecisionEncoder;
use tsim_model::esbulk::EsBulkEncoder;
use tsim_model::metrics::MetricsAgg;
use tsim_model::otlp_json::JsonTraceEncoder;
use tsim_model::otlp_proto::ProtoTraceEncoder;
use tsim_model::structlog::LoggerEncoder;
use tsim_model::text::{Detail, TextTraceEncoder};
use tsim_model::{Items, Lines, TraceBuf, TraceEncoder};
use tsim_sinks::{Batch, Format, Signal, Sink, SinkStats, run_sink};

use crate::live::{Counters, Live, LiveSink};

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
    /// Elasticsearch index templates: (logs, decisions).
    pub es_indexes: (String, String),
    /// Whether the application log also gets policy decisions.
    pub app_log_decisions: bool,
    /// Loggers of a logging configuration (`Format::Logger(i)` is the i-th).
    pub loggers: Vec<tsim_scenario::LoggerSpec>,
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

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Report {
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
    /// Paced traces that started more than [`LATE_NS`] after their time.
    pub late: u64,
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

/// Unix time now, in nanoseconds (the driver reads the clock; the engine never does).
pub fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// One encoder and the sinks it feeds, with its batching.
struct Output {
    signal: Signal,
    format: Format,
    encoder: Box<dyn TraceEncoder + Send>,
    targets: Targets,
    /// Batches of [`FILE_BATCH`] whatever the flags (file sinks).
    fixed: bool,
    /// Most spans per batch.
    max_spans: usize,
    /// Longest simulated time per batch.
    max_ns: u64,
    /// Start time of the first trace in the open batch.
    batch_start: Option<u64>,
}

fn encoder(signal: Signal, format: Format, plan: &Plan) -> Box<dyn TraceEncoder + Send> {
    let tenant_key = plan.tenant_key.as_str();
    let items = match signal {
        Signal::Traces | Signal::Metrics => Items::Spans,
        Signal::Logs => Items::Logs,
    };
    match format {
        Format::OtlpProto => Box::new(ProtoTraceEncoder::for_items(items)),
        Format::OtlpJson => Box::new(JsonTraceEncoder::for_items(items)),
        Format::TextLine => Box::new(TextTraceEncoder::new(Detail::Line, tenant_key)),
        Format::TextFull => Box::new(TextTraceEncoder::new(Detail::Full, tenant_key)),
        Format::AppJson if plan.app_log_decisions => Box::new(Lines::new(AppLogEncoder::new())),
        Format::AppJson => Box::new(Lines::new(AppLogEncoder::new().without_decisions())),
        Format::DecisionJson => Box::new(Lines::new(DecisionEncoder::new())),
        Format::ArtifactJson => Box::new(Lines::new(ArtifactEncoder::new())),
        Format::EsBulk => Box::new(Lines::new(EsBulkEncoder::new(&plan.es_indexes.0, &plan.es_indexes.1))),
        Format::Logger(i) => {
            let l = &plan.loggers[i as usize];
            Box::new(Lines::new(LoggerEncoder::new(&l.name, l.min_severity, &l.fields)))
        }
        Format::PrometheusText | Format::RemoteWrite | Format::InfluxLine => {
            unreachable!("metrics formats are encoded by the metrics export")
        }
    }
}

/// The generation loop (runs on its own thread). Returns traces per scenario and whether
/// it was interrupted.
/// The queues (and counters) of the sinks fed by one encoder.
type Targets = Vec<(mpsc::Sender<Batch>, Arc<SinkStats>)>;

/// Sends a payload to every target of an output.
fn send(targets: &Targets, batch: Batch, when_full: WhenFull) {
    for (tx, stats) in targets {
        stats.enqueued(&batch);
        let items = batch.items;
        let lost = match when_full {
            WhenFull::Block => tx.blocking_send(batch.clone()).err().map(|_| "sink stopped"),
            WhenFull::Drop => match tx.try_send(batch.clone()) {
                Ok(()) => None,
                Err(mpsc::error::TrySendError::Full(_)) => Some("queue full"),
                Err(mpsc::error::TrySendError::Closed(_)) => Some("sink stopped"),
            },
        };
        if let Some(reason) = lost {
            stats.add_dropped(reason, items);
            stats.queued.fetch_sub(items, Ordering::Relaxed);
        }
    }
}

/// Cumulative metrics, exported at simulated-time boundaries.
struct MetricsExport {
    agg: MetricsAgg,
    declared: DeclaredMetrics,
    start_ns: u64,
    next_ns: u64,
    interval_ns: u64,
    /// End of the latest span recorded.
    recorded_until: u64,
    /// Time of the latest export.
    last_export: u64,
    outputs: Vec<(Format, Targets)>,
    when_full: WhenFull,
}

impl MetricsExport {
    fn export(&mut self, resources: &tsim_model::Resources, time_ns: u64, out: &mut Vec<u8>) {
        self.declared.gauges_at(&mut self.agg, time_ns);
        let points = self.agg.points() as u64;
        if points == 0 {
            return;
        }
        for (format, targets) in &self.outputs {
            let items = match format {
                Format::OtlpProto => {
                    self.agg.encode_proto(resources, self.start_ns, time_ns, out);
                    points
                }
                Format::OtlpJson => {
                    self.agg.encode_json(resources, self.start_ns, time_ns, out);
                    points
                }
                Format::PrometheusText => {
                    self.agg.encode_prometheus(resources, out);
                    points
                }
                // Remote write and line protocol count samples: histograms flatten into
                // buckets, sum and count.
                Format::RemoteWrite => {
                    self.agg.encode_remote_write(resources, (time_ns / 1_000_000) as i64, out) as u64
                }
                Format::InfluxLine => self.agg.encode_influx(resources, time_ns, out) as u64,
                // Not metric formats: such sinks are never registered for metrics.
                Format::TextLine
                | Format::TextFull
                | Format::AppJson
                | Format::DecisionJson
                | Format::ArtifactJson
                | Format::EsBulk
                | Format::Logger(_) => {
                    continue;
                }
            };
            let payload = Bytes::from(std::mem::take(out));
            send(targets, Batch { payload, items }, self.when_full);
        }
    }

    /// Exports every boundary passed before `at`.
    /// Exports every boundary passed before `at`, on the interval grid. A trace is counted
    /// whole when it starts, so a point may include spans still running at its time.
    fn advance(&mut self, resources: &tsim_model::Resources, at: u64, out: &mut Vec<u8>) {
        while self.interval_ns > 0 && at >= self.next_ns {
            let t = self.next_ns;
            self.export(resources, t, out);
            self.last_export = t;
            self.next_ns += self.interval_ns;
        }
    }

    /// The final export: everything, as of the end of the last span.
    fn close(&mut self, resources: &tsim_model::Resources, out: &mut Vec<u8>) {
        let t = self.recorded_until.max(self.last_export + 1).max(self.start_ns + 1);
        self.export(resources, t, out);
    }
}

/// Publishes the achieved rate: traces after the one at `from` over the time since it.
fn store_rate(counters: &Counters, (since, before): (Instant, u64), generated: u64) {
    let rate = (generated - before - 1) as f64 / since.elapsed().as_secs_f64().max(1e-9);
    counters.rate_bits.store(rate.to_bits(), Ordering::Relaxed);
}

fn generate(
    plan: &Plan,
    outputs: &mut [Output],
    metrics: &mut Option<MetricsExport>,
    stop: &AtomicBool,
    counters: &Counters,
) -> (Vec<u64>, bool) {
    let engine = &plan.engine;
    let resources = engine.resources();
    let mut per_scenario = vec![0u64; engine.scenarios().len()];
    let mut buf = TraceBuf::default();
    let mut scratch = Scratch::default();
    let mut out = Vec::new();
    let mut interrupted = false;
    let when_full = plan.when_full;

    let flush = |o: &mut Output, out: &mut Vec<u8>| {
        o.batch_start = None;
        let items = o.encoder.spans() as u64;
        if items == 0 {
            return;
        }
        o.encoder.finish(resources, out);
        let payload = Bytes::from(std::mem::replace(out, Vec::with_capacity(out.capacity())));
        send(&o.targets, Batch { payload, items }, when_full);
    };

    // This shard's traces, in order: every index of the schedule, keeping ours.
    let mut clock = plan.schedule.clock();
    let (shard, shards) = plan.shard;
    let mut next_own = || loop {
        let (i, at) = clock.next_arrival();
        if plan.count.is_some_and(|c| i >= c) || plan.end_ns.is_some_and(|e| at >= e) {
            return None;
        }
        if i % shards == shard {
            return Some((i, at));
        }
    };
    // Traces due before the run began (a backfill) go at CPU speed without reading the
    // clock. Paced traces start at their time; one that starts over LATE_NS after it is
    // late — except while a backfill catches up with the present (until the first wait).
    let pacing = plan.schedule.rate.is_finite();
    let wall_start = now_ns();
    let mut on_time = pacing && !plan.catch_up;
    // Achieved rate: from the first trace, or from the first that had to wait after a backfill.
    let mut rate_from: Option<(Instant, u64)> = None;
    let mut generated = 0u64;
    let mut current = next_own();
    while let Some((i, at)) = current {
        if stop.load(Ordering::Relaxed) {
            interrupted = true;
            break;
        }
        if pacing && (on_time || at >= wall_start) {
            let mut now = now_ns();
            let caught_up = now < at && !on_time;
            on_time |= now < at;
            while now < at && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_nanos((at - now).min(50_000_000)));
                now = now_ns();
            }
            if stop.load(Ordering::Relaxed) {
                interrupted = true;
                break;
            }
            if on_time {
                counters.paced.store(true, Ordering::Relaxed);
                let lag = now.saturating_sub(at);
                if lag > LATE_NS {
                    counters.late.fetch_add(1, Ordering::Relaxed);
                }
                counters.max_lag_ns.fetch_max(lag, Ordering::Relaxed);
            }
            if caught_up {
                rate_from = Some((Instant::now(), generated));
                if plan.notes {
                    say!("note: caught up with the present after {generated} traces; paced from here on");
                }
            }
        }
        if let Some(m) = metrics.as_mut() {
            m.advance(resources, at, &mut out);
        }
        let g = engine.generate(i, at, &mut buf, &mut scratch);
        if let Some(m) = metrics.as_mut()
            && engine.scenarios()[g.scenario].emit_metrics()
        {
            m.agg.add(g.resource, &buf);
            m.declared.observe(&mut m.agg, g.scenario, g.resource, &buf);
            // The root covers its trace.
            m.recorded_until = m.recorded_until.max(buf.spans.first().map_or(at, |s| s.end_ns));
        }
        per_scenario[g.scenario] += 1;
        if g.cut {
            counters.cut.fetch_add(1, Ordering::Relaxed);
        }
        counters.traces.fetch_add(1, Ordering::Relaxed);
        counters.spans.fetch_add(buf.spans.len() as u64, Ordering::Relaxed);
        counters.errors.fetch_add(buf.error_spans() as u64, Ordering::Relaxed);
        counters.logs.fetch_add(buf.logs.len() as u64, Ordering::Relaxed);
        let from = *rate_from.get_or_insert_with(|| (Instant::now(), generated));
        generated += 1;
        if generated.is_multiple_of(256) || generated - from.1 == 2 {
            store_rate(counters, from, generated);
        }
        current = next_own();
        // Batches close on size or on simulated time, never on the wall clock, so that the
        // file output is the same whatever the machine's speed.
        let next_at = current.map(|(_, t)| t);
        for o in outputs.iter_mut() {
            o.encoder.add(resources, g.resource, &buf);
            let opened = *o.batch_start.get_or_insert(at);
            if o.encoder.spans() >= o.max_spans || next_at.is_none_or(|t| t.saturating_sub(opened) >= o.max_ns) {
                flush(o, &mut out);
            }
        }
    }
    if let Some(from) = rate_from
        && generated - from.1 >= 2
    {
        store_rate(counters, from, generated);
    }
    for o in outputs.iter_mut() {
        flush(o, &mut out);
    }
    if let Some(m) = metrics.as_mut() {
        m.close(resources, &mut out);
    }
    (per_scenario, interrupted)
}

/// Runs `plan` to completion (or Ctrl-C) and reports.
pub async fn run(plan: Plan, sinks: Vec<Box<dyn Sink>>, live: Arc<Live>) -> Report {
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    // Ctrl-C (or SIGTERM): generation stops; deliveries get the grace, then what is left is
    // dropped as `shutdown` (a second signal ends the grace at once, a third exits without a
    // summary). The handlers are installed here, before anything runs, and stay installed,
    // so that no signal falls between two waits.
    let (shutdown_tx, shutdown) = tokio::sync::watch::channel(false);
    match Interrupts::install() {
        Ok(mut signals) => {
            let stop = stop.clone();
            let grace = plan.shutdown_timeout;
            tokio::spawn(async move {
                signals.next().await;
                stop.store(true, Ordering::Relaxed);
                say!(
                    "\ninterrupted: generation stopped; pending deliveries have {:.1} s (--shutdown-timeout), \
                     Ctrl-C again to drop them now",
                    grace.as_secs_f64()
                );
                tokio::select! {
                    _ = tokio::time::sleep(grace) => {}
                    _ = signals.next() => {}
                }
                let _ = shutdown_tx.send(true);
                signals.next().await;
                std::process::exit(130);
            });
        }
        Err(e) => say!("warning: cannot handle Ctrl-C ({e}); it will end the run without a summary"),
    }

    // One encoder per format; each sink gets a bounded queue and a task.
    let mut outputs: Vec<Output> = Vec::new();
    let mut metric_outputs: Vec<(Format, Targets)> = Vec::new();
    let mut tasks = Vec::new();
    let mut idle = Vec::new();
    for sink in sinks {
        let (tx, rx) = mpsc::channel(plan.queue_size.max(1));
        let stats = Arc::new(SinkStats::default());
        live.sinks.lock().unwrap_or_else(|e| e.into_inner()).push(LiveSink {
            name: sink.name(),
            signal: sink.signal(),
            counts_for_exit: sink.counts_for_exit(),
            stats: stats.clone(),
        });
        let (signal, format, fixed) = (sink.signal(), sink.format(), sink.fixed_batches());
        if signal == Signal::Metrics && !plan.metrics {
            // Serves only the self-telemetry: no simulated metrics in this run. Its queue
            // stays open (and so the endpoint up) until generation ends.
            idle.push(tx);
            tasks.push(tokio::spawn(run_sink(sink, rx, stats, 1, shutdown.clone())));
            continue;
        }
        if signal == Signal::Metrics {
            match metric_outputs.iter_mut().find(|(f, _)| *f == format) {
                Some((_, t)) => t.push((tx, stats.clone())),
                None => metric_outputs.push((format, vec![(tx, stats.clone())])),
            }
            tasks.push(tokio::spawn(run_sink(sink, rx, stats, plan.in_flight, shutdown.clone())));
            continue;
        }
        match outputs.iter_mut().find(|o| o.format == format && o.signal == signal && o.fixed == fixed) {
            Some(o) => o.targets.push((tx, stats.clone())),
            None => {
                let (max_spans, max_ns) = if fixed { FILE_BATCH } else { (plan.batch_size, plan.batch_timeout_ns) };
                outputs.push(Output {
                    signal,
                    format,
                    encoder: encoder(signal, format, &plan),
                    targets: vec![(tx, stats.clone())],
                    fixed,
                    max_spans,
                    max_ns,
                    batch_start: None,
                })
            }
        }
        tasks.push(tokio::spawn(run_sink(sink, rx, stats, plan.in_flight, shutdown.clone())));
    }

    let expected = plan.expected;
    let show_progress = plan.progress;
    let plan = Arc::new(plan);
    let generation = {
        let (plan, stop, live) = (plan.clone(), stop.clone(), live.clone());
        let start_ns = plan.schedule.start_ns;
        let mut agg = MetricsAgg::new();
        for sc in plan.engine.scenarios() {
            for p in sc.pricing() {
                agg.set_price(tsim_model::metrics::Price {
                    model: p.model.clone(),
                    input_per_million: p.input_per_million,
                    output_per_million: p.output_per_million,
                });
            }
        }
        let declared = DeclaredMetrics::new(&plan.engine, &mut agg, start_ns);
        let mut metrics = (!metric_outputs.is_empty()).then(|| MetricsExport {
            agg,
            declared,
            start_ns,
            next_ns: start_ns + plan.metrics_interval_ns,
            recorded_until: start_ns,
            last_export: start_ns,
            interval_ns: plan.metrics_interval_ns,
            outputs: metric_outputs,
            when_full: plan.when_full,
        });
        tokio::task::spawn_blocking(move || {
            let _idle = idle;
            let mut outputs = outputs;
            let began = Instant::now();
            let r = generate(&plan, &mut outputs, &mut metrics, &stop, &live.counters);
            drop(metrics);
            (r, began.elapsed())
            // `outputs` (and with it every sender) is dropped here: the sinks drain and close.
        })
    };

    let bar = ProgressBar::with_draw_target(expected, ProgressDrawTarget::hidden());
    let template = if expected.is_some() {
        "{bar:30} {pos}/{len} traces  {msg}  [{elapsed_precise}, eta {eta}]"
    } else {
        "{spinner} {pos} traces  {msg}  [{elapsed_precise}]"
    };
    bar.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    let counters = &live.counters;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut generation = generation;
    let ((per_scenario, interrupted), generation_time) = loop {
        tokio::select! {
            r = &mut generation => break r.unwrap_or_else(|_| ((Vec::new(), true), started.elapsed())),
            _ = tick.tick() => {
                if show_progress && bar.is_hidden() && started.elapsed() > Duration::from_secs(1) {
                    bar.set_draw_target(ProgressDrawTarget::stderr());
                }
                bar.set_position(counters.traces.load(Ordering::Relaxed));
                bar.set_message(rate_line(&live));
            }
        }
    };
    let mut close_errors = Vec::new();
    for t in tasks {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => close_errors.push(e),
            Err(e) => close_errors.push(format!("sink task failed: {e}")),
        }
    }
    bar.finish_and_clear();

    let names: Vec<String> = plan.engine.scenarios().iter().map(|s| s.name().to_string()).collect();
    Report {
        traces: counters.traces.load(Ordering::Relaxed),
        spans: counters.spans.load(Ordering::Relaxed),
        error_spans: counters.errors.load(Ordering::Relaxed),
        logs: counters.logs.load(Ordering::Relaxed),
        per_scenario: names.into_iter().zip(per_scenario).filter(|(_, n)| *n > 0).collect(),
        sinks: live
            .sinks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|k| SinkReport {
                name: k.name.clone(),
                signal: k.signal,
                generated: k.stats.generated.load(Ordering::Relaxed),
                delivered: k.stats.delivered.load(Ordering::Relaxed),
                dropped: k.stats.dropped(),
                requests: k.stats.requests.load(Ordering::Relaxed),
                retries: k.stats.retries.load(Ordering::Relaxed),
                bytes: k.stats.bytes.load(Ordering::Relaxed),
                counts_for_exit: k.counts_for_exit,
            })
            .collect(),
        elapsed: started.elapsed(),
        generation: generation_time,
        cut: counters.cut.load(Ordering::Relaxed),
        interrupted,
        close_errors,
        late: counters.late.load(Ordering::Relaxed),
        max_lag: Duration::from_nanos(counters.max_lag_ns.load(Ordering::Relaxed)),
        achieved_rate: live.achieved_rate(),
        // A target only when some of the run was paced (not a backfill or a past start alone).
        target_rate: live.target_rate.filter(|_| counters.paced.load(Ordering::Relaxed)),
        spans_per_trace: live.spans_per_trace(),
        shard: (live.shard.1 > 1).then_some(live.shard),
    }
}

/// The progress message: spans so far, achieved against target rate, late traces.
fn rate_line(live: &Live) -> String {
    let c = &live.counters;
    let k = live.spans_per_trace();
    let mut s =
        format!("{} spans, {}/s", c.spans.load(Ordering::Relaxed), crate::summary::human(live.achieved_rate() * k));
    if let Some(t) = live.target_rate {
        s.push_str(&format!(" (target {}/s)", crate::summary::human(t * k)));
    }
    let late = c.late.load(Ordering::Relaxed);
    if late > 0 {
        s.push_str(&format!(", {late} late"));
    }
    s
}

/// SIGINT (Ctrl-C) and SIGTERM (what `kill` and Kubernetes send), installed once.
struct Interrupts {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Interrupts {
    #[cfg(unix)]
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self { int: signal(SignalKind::interrupt())?, term: signal(SignalKind::terminate())? })
    }

    #[cfg(not(unix))]
    fn install() -> std::io::Result<Self> {
        Ok(Self {})
    }

    /// The next interrupt (one received since the last call counts).
    async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
