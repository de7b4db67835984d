//! A run: the engine on its own thread, encoders per payload format, a bounded queue per
//! sink, sink tasks on the async runtime, progress, Ctrl-C, and the final accounting.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

/// Everything a run needs, resolved from the command line.
pub struct Plan {
    /// The engine (scenarios, tenants, seed).
    pub engine: Engine,
    /// Traces to generate.
    pub count: u64,
    /// When each trace starts.
    pub schedule: Schedule,
    /// Most spans per batch.
    pub batch_size: usize,
    /// Longest simulated time one batch covers.
    pub batch_timeout_ns: u64,
    /// Batches queued per sink before generation waits.
    pub queue_size: usize,
    /// Requests each network sink may have in flight at once.
    pub in_flight: usize,
    /// Draw a progress bar (on a terminal, after a second).
    pub progress: bool,
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
    /// Stopped by Ctrl-C.
    pub interrupted: bool,
    /// Sink errors at close (e.g. a file that could not be flushed).
    pub close_errors: Vec<String>,
}

/// Unix time now, in nanoseconds (the driver reads the clock; the engine never does).
pub fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

struct Output {
    signal: Signal,
    format: Format,
    encoder: Box<dyn TraceEncoder + Send>,
    targets: Targets,
}

struct Counters {
    traces: AtomicU64,
    spans: AtomicU64,
    errors: AtomicU64,
    logs: AtomicU64,
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
fn send(targets: &Targets, batch: Batch) {
    for (tx, stats) in targets {
        stats.enqueued(&batch);
        let items = batch.items;
        if tx.blocking_send(batch.clone()).is_err() {
            stats.add_dropped("sink stopped", items);
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
    outputs: Vec<(Format, Targets)>,
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
            send(targets, Batch { payload, items });
        }
    }

    /// Exports every boundary passed before `at`.
    fn advance(&mut self, resources: &tsim_model::Resources, at: u64, out: &mut Vec<u8>) {
        while self.interval_ns > 0 && at >= self.next_ns {
            let t = self.next_ns;
            self.export(resources, t, out);
            self.next_ns += self.interval_ns;
        }
    }
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
    let mut last_end = plan.schedule.start_ns;
    let mut per_scenario = vec![0u64; engine.scenarios().len()];
    let mut buf = TraceBuf::default();
    let mut scratch = Scratch::default();
    let mut out = Vec::new();
    let mut batch_start: Option<u64> = None;
    let mut interrupted = false;

    let flush = |outputs: &mut [Output], out: &mut Vec<u8>| {
        for o in outputs.iter_mut() {
            let items = o.encoder.spans() as u64;
            if items == 0 {
                continue;
            }
            o.encoder.finish(resources, out);
            let payload = Bytes::from(std::mem::replace(out, Vec::with_capacity(out.capacity())));
            send(&o.targets, Batch { payload, items });
        }
    };

    for i in 0..plan.count {
        if stop.load(Ordering::Relaxed) {
            interrupted = true;
            break;
        }
        let at = plan.schedule.at(i);
        // Pacing: the i-th trace starts at its scheduled time; a past time runs at once.
        loop {
            let now = now_ns();
            if now >= at || stop.load(Ordering::Relaxed) {
                break;
            }
            std::thread::sleep(Duration::from_nanos((at - now).min(50_000_000)));
        }
        if stop.load(Ordering::Relaxed) {
            interrupted = true;
            break;
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
        }
        last_end = last_end.max(buf.spans.first().map(|s| s.end_ns).unwrap_or(at));
        per_scenario[g.scenario] += 1;
        counters.traces.fetch_add(1, Ordering::Relaxed);
        counters.spans.fetch_add(buf.spans.len() as u64, Ordering::Relaxed);
        counters.errors.fetch_add(buf.error_spans() as u64, Ordering::Relaxed);
        counters.logs.fetch_add(buf.logs.len() as u64, Ordering::Relaxed);
        for o in outputs.iter_mut() {
            o.encoder.add(resources, g.resource, &buf);
        }
        let first = *batch_start.get_or_insert(at);
        let spans = outputs.iter().map(|o| o.encoder.spans()).max().unwrap_or(0);
        // Batches close on size or on simulated time, never on the wall clock, so that the
        // file output is the same whatever the machine's speed.
        let next = plan.schedule.at(i + 1);
        if spans >= plan.batch_size || next.saturating_sub(first) >= plan.batch_timeout_ns {
            flush(outputs, &mut out);
            batch_start = None;
        }
    }
    flush(outputs, &mut out);
    if let Some(m) = metrics.as_mut() {
        // The final export: everything, as of the end of the last span.
        m.export(resources, last_end.max(m.start_ns + 1), &mut out);
    }
    (per_scenario, interrupted)
}

/// Runs `plan` to completion (or Ctrl-C) and reports.
pub async fn run(plan: Plan, sinks: Vec<Box<dyn Sink>>) -> Report {
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.store(true, Ordering::Relaxed);
                eprintln!("\ninterrupted: stopping generation, flushing queued batches (Ctrl-C again to quit now)");
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
    }

    // One encoder per format; each sink gets a bounded queue and a task.
    let mut outputs: Vec<Output> = Vec::new();
    let mut metric_outputs: Vec<(Format, Targets)> = Vec::new();
    let mut tasks = Vec::new();
    let mut reports_meta = Vec::new();
    for sink in sinks {
        let (tx, rx) = mpsc::channel(plan.queue_size.max(1));
        let stats = Arc::new(SinkStats::default());
        reports_meta.push((sink.name(), sink.signal(), sink.counts_for_exit(), stats.clone()));
        let (signal, format) = (sink.signal(), sink.format());
        if signal == Signal::Metrics {
            match metric_outputs.iter_mut().find(|(f, _)| *f == format) {
                Some((_, t)) => t.push((tx, stats.clone())),
                None => metric_outputs.push((format, vec![(tx, stats.clone())])),
            }
            tasks.push(tokio::spawn(run_sink(sink, rx, stats, plan.in_flight)));
            continue;
        }
        match outputs.iter_mut().find(|o| o.format == format && o.signal == signal) {
            Some(o) => o.targets.push((tx, stats.clone())),
            None => outputs.push(Output {
                signal,
                format,
                encoder: encoder(signal, format, &plan),
                targets: vec![(tx, stats.clone())],
            }),
        }
        tasks.push(tokio::spawn(run_sink(sink, rx, stats, plan.in_flight)));
    }

    let counters = Arc::new(Counters {
        traces: AtomicU64::new(0),
        spans: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        logs: AtomicU64::new(0),
    });
    let count = plan.count;
    let show_progress = plan.progress;
    let plan = Arc::new(plan);
    let generation = {
        let (plan, stop, counters) = (plan.clone(), stop.clone(), counters.clone());
        let start_ns = plan.schedule.start_ns;
        let mut agg = MetricsAgg::new();
        for sc in plan.engine.scenarios() {
            for (model, input, output) in sc.pricing() {
                agg.set_price(tsim_model::metrics::Price {
                    model: model.clone(),
                    input_per_million: *input,
                    output_per_million: *output,
                });
            }
        }
        let declared = DeclaredMetrics::new(&plan.engine, &mut agg, start_ns);
        let mut metrics = (!metric_outputs.is_empty()).then(|| MetricsExport {
            agg,
            declared,
            start_ns,
            next_ns: start_ns + plan.metrics_interval_ns,
            interval_ns: plan.metrics_interval_ns,
            outputs: metric_outputs,
        });
        tokio::task::spawn_blocking(move || {
            let mut outputs = outputs;
            let r = generate(&plan, &mut outputs, &mut metrics, &stop, &counters);
            drop(metrics);
            r
            // `outputs` (and with it every sender) is dropped here: the sinks drain and close.
        })
    };

    let bar = ProgressBar::with_draw_target(Some(count), ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} traces  {msg}  [{elapsed_precise}, eta {eta}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut generation = generation;
    let (per_scenario, interrupted) = loop {
        tokio::select! {
            r = &mut generation => break r.unwrap_or_else(|_| (Vec::new(), true)),
            _ = tick.tick() => {
                if show_progress && bar.is_hidden() && started.elapsed() > Duration::from_secs(1) {
                    bar.set_draw_target(ProgressDrawTarget::stderr());
                }
                let t = counters.traces.load(Ordering::Relaxed);
                bar.set_position(t);
                let secs = started.elapsed().as_secs_f64().max(1e-9);
                bar.set_message(format!("{} spans, {:.0} traces/s", counters.spans.load(Ordering::Relaxed), t as f64 / secs));
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
        sinks: reports_meta
            .into_iter()
            .map(|(name, signal, counts_for_exit, s)| SinkReport {
                name,
                signal,
                generated: s.generated.load(Ordering::Relaxed),
                delivered: s.delivered.load(Ordering::Relaxed),
                dropped: s.dropped(),
                requests: s.requests.load(Ordering::Relaxed),
                retries: s.retries.load(Ordering::Relaxed),
                bytes: s.bytes.load(Ordering::Relaxed),
                counts_for_exit,
            })
            .collect(),
        elapsed: started.elapsed(),
        interrupted,
        close_errors,
    }
}
