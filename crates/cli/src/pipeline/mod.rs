//! A run: the engine on its own thread, encoders per payload format, a bounded queue per
//! sink, sink tasks on the async runtime, progress, Ctrl-C, and the final accounting.

mod export;
mod generate;
mod plan;
mod reorder;
mod report;
mod signals;
mod stage;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc;
use tsim_engine::declared::DeclaredMetrics;
use tsim_model::metrics::MetricsAgg;
use tsim_sinks::{Signal, SinkStats, run_sink};

use crate::live::{Live, LiveSink};
use crate::outputs::{Encoder, Wired};
use export::{MetricsEncoding, MetricsExport};
use generate::{Output, Targets, generate, shared_encoder};
pub use plan::{ExportOrder, LATE_NS, Plan, WhenFull, now_ns};
pub use report::{IncidentRow, Report, SinkReport};
use signals::Interrupts;

/// Runs `plan` to completion (or Ctrl-C) and reports. Fails before generating when a sink
/// has no encoder (an output that neither shares a format nor brings its own).
pub async fn run(plan: Plan, sinks: Vec<Wired>, live: Arc<Live>) -> anyhow::Result<Report> {
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
    let mut metric_outputs: Vec<(MetricsEncoding, Targets)> = Vec::new();
    let mut scrapes = Vec::new();
    let mut tasks = Vec::new();
    let mut idle = Vec::new();
    let mut insecure = Vec::new();
    for Wired { sink, encoder } in sinks {
        insecure.extend(sink.insecure().map(|what| (sink.name(), what)));
        let (tx, rx) = mpsc::channel(plan.queue_size.max(1));
        let stats = Arc::new(SinkStats::default());
        live.sinks.lock().unwrap_or_else(|e| e.into_inner()).push(LiveSink {
            name: sink.name(),
            signal: sink.signal(),
            counts_for_exit: sink.counts_for_exit(),
            stats: stats.clone(),
        });
        let (signal, format, fixed, demand) = (sink.signal(), sink.format(), sink.fixed_batches(), sink.demand());
        if signal == Signal::Metrics && !plan.metrics {
            if let Some(d) = &demand {
                d.close();
            }
            // Serves only the self-telemetry: no simulated metrics in this run. Its queue
            // stays open (and so the endpoint up) until generation ends.
            idle.push(tx);
            tasks.push(tokio::spawn(run_sink(sink, rx, stats, 1, shutdown.clone())));
            continue;
        }
        let target = (tx, stats.clone());
        let no_encoder =
            || anyhow::anyhow!("output `{}` has no encoder for its {} {format:?} format", sink.name(), signal.as_str());
        match (signal, encoder) {
            (Signal::Metrics, Encoder::Metrics(own)) => {
                metric_outputs.push((MetricsEncoding::Own(own), vec![target]));
                scrapes.extend(demand.map(|d| (d, metric_outputs.len() - 1)));
            }
            (Signal::Metrics, Encoder::Shared) => {
                let group = match metric_outputs
                    .iter_mut()
                    .position(|(e, _)| matches!(e, MetricsEncoding::Shared(f) if *f == format))
                {
                    Some(g) => {
                        metric_outputs[g].1.push(target);
                        g
                    }
                    None => {
                        metric_outputs.push((MetricsEncoding::shared(format).ok_or_else(no_encoder)?, vec![target]));
                        metric_outputs.len() - 1
                    }
                };
                scrapes.extend(demand.map(|d| (d, group)));
            }
            (Signal::Traces | Signal::Logs, Encoder::Traces(own)) => {
                outputs.push(Output::new(signal, format, fixed, own, false, target, &plan))
            }
            (Signal::Traces | Signal::Logs, Encoder::Shared) => {
                match outputs
                    .iter_mut()
                    .find(|o| o.shared && o.format == format && o.signal == signal && o.fixed == fixed)
                {
                    Some(o) => o.targets.push(target),
                    None => {
                        let encoder = shared_encoder(signal, format, &plan).ok_or_else(no_encoder)?;
                        outputs.push(Output::new(signal, format, fixed, encoder, true, target, &plan));
                    }
                }
            }
            _ => return Err(no_encoder()),
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
        agg.merge_alike_resources(plan.engine.resources());
        for sc in plan.engine.scenarios() {
            for p in sc.pricing() {
                agg.set_price(p.clone());
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
            scrapes,
            interval_exemplars: plan.export_order == ExportOrder::End,
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
    let (done, generation_time) = loop {
        tokio::select! {
            r = &mut generation => break r.unwrap_or_else(|_| {
                let g = generate::Generated { per_scenario: Vec::new(), interrupted: true, incidents: Default::default(), last_start: None };
                (g, started.elapsed())
            }),
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
            Ok(Err(e)) => close_errors.push(e.to_string()),
            Err(e) => close_errors.push(format!("sink task failed: {e}")),
        }
    }
    bar.finish_and_clear();

    let names: Vec<String> = plan.engine.scenarios().iter().map(|s| s.name().to_string()).collect();
    let generate::Generated { per_scenario, interrupted, incidents, last_start } = done;
    let incidents = incident_rows(&plan.engine, plan.schedule.start_ns, last_start, &incidents);
    Ok(Report {
        incidents,
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
        insecure,
        late: counters.late.load(Ordering::Relaxed),
        ahead_budget: counters.ahead_budget.load(Ordering::Relaxed),
        ahead_interrupted: counters.ahead_interrupted.load(Ordering::Relaxed),
        max_lag: Duration::from_nanos(counters.max_lag_ns.load(Ordering::Relaxed)),
        achieved_rate: live.achieved_rate(),
        // A target only when some of the run was paced (not a backfill or a past start alone).
        target_rate: live.target_rate.filter(|_| counters.paced.load(Ordering::Relaxed)),
        spans_per_trace: live.spans_per_trace(),
        shard: (live.shard.1 > 1).then_some(live.shard),
    })
}

/// The windows of the run's incidents between its start and its last trace, with what each
/// hit (windows the run covered that hit nothing are listed too).
fn incident_rows(
    engine: &tsim_engine::Engine,
    start: u64,
    last: Option<u64>,
    tally: &generate::IncidentTally,
) -> Vec<IncidentRow> {
    /// Windows listed per incident at most (the tally holds every one that hit).
    const LISTED: usize = 10_000;
    let specs = engine.incidents();
    if specs.is_empty() {
        return Vec::new();
    }
    // Spans start after their trace: a window after the last trace's start may hold some.
    let to = tally
        .iter()
        .filter(|(_, hits)| hits.1 > 0)
        .map(|((k, occ), _)| engine.incident_window_start(usize::from(*k), *occ).saturating_add(1))
        .fold(last.map_or(start, |l| l.saturating_add(1)), u64::max);
    let windows = engine.incident_windows(start, to, LISTED);
    windows
        .into_iter()
        .map(|w| {
            let (traces, spans, errors) = tally.get(&(w.incident, w.occurrence)).copied().unwrap_or_default();
            IncidentRow {
                name: specs[w.incident as usize].name.clone(),
                start_ns: w.start_ns,
                end_ns: w.end_ns,
                traces,
                spans,
                errors,
            }
        })
        .collect()
}

/// The progress message: spans so far, achieved against target rate, late traces.
fn rate_line(live: &Live) -> String {
    let c = &live.counters;
    let k = live.spans_per_trace();
    let mut s =
        format!("{} spans, {}/s", c.spans.load(Ordering::Relaxed), crate::human::human(live.achieved_rate() * k));
    if let Some(t) = live.target_rate {
        s.push_str(&format!(" (target {}/s)", crate::human::human(t * k)));
    }
    let late = c.late.load(Ordering::Relaxed);
    if late > 0 {
        s.push_str(&format!(", {late} late"));
    }
    s
}
