//! The generation loop: the engine's traces, in schedule order and paced, encoded per
//! output format and handed to the sinks' queues in batches.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;
use tsim_engine::Scratch;
use tsim_model::otlp_json::JsonTraceEncoder;
use tsim_model::otlp_proto::ProtoTraceEncoder;
use tsim_model::text::{Detail, TextTraceEncoder};
use tsim_model::{Items, TraceBuf, TraceEncoder};
use tsim_sinks::{Batch, Format, Signal, SinkStats};

use super::export::MetricsExport;
use super::plan::{FILE_BATCH, LATE_NS, Plan, WhenFull, now_ns};
use crate::live::Counters;

/// One encoder and the sinks it feeds, with its batching.
pub(super) struct Output {
    pub(super) signal: Signal,
    pub(super) format: Format,
    /// The encoder is the format's shared one (other sinks of the format may join).
    pub(super) shared: bool,
    pub(super) encoder: Box<dyn TraceEncoder + Send>,
    pub(super) targets: Targets,
    /// Batches of [`FILE_BATCH`] whatever the flags (file sinks).
    pub(super) fixed: bool,
    /// Most spans per batch.
    pub(super) max_spans: usize,
    /// Longest simulated time per batch.
    pub(super) max_ns: u64,
    /// Start time of the first trace in the open batch.
    pub(super) batch_start: Option<u64>,
}

impl Output {
    /// An output of `signal` in `format` with its first target; `shared` when other sinks of
    /// the format may join its encoder.
    pub(super) fn new(
        signal: Signal,
        format: Format,
        fixed: bool,
        encoder: Box<dyn TraceEncoder + Send>,
        shared: bool,
        target: (mpsc::Sender<Batch>, Arc<SinkStats>),
        plan: &Plan,
    ) -> Self {
        let (max_spans, max_ns) = if fixed { FILE_BATCH } else { (plan.batch_size, plan.batch_timeout_ns) };
        Self { signal, format, shared, encoder, targets: vec![target], fixed, max_spans, max_ns, batch_start: None }
    }
}

/// The encoder of a format several outputs share (`None`: the format's output brings its own).
pub(super) fn shared_encoder(signal: Signal, format: Format, plan: &Plan) -> Option<Box<dyn TraceEncoder + Send>> {
    let tenant_key = plan.tenant_key.as_str();
    let items = match signal {
        Signal::Traces | Signal::Metrics => Items::Spans,
        Signal::Logs => Items::Logs,
    };
    Some(match format {
        Format::OtlpProto => Box::new(ProtoTraceEncoder::for_items(items)),
        Format::OtlpJson => Box::new(JsonTraceEncoder::for_items(items)),
        Format::TextLine => Box::new(TextTraceEncoder::new(Detail::Line, tenant_key)),
        Format::TextFull => Box::new(TextTraceEncoder::new(Detail::Full, tenant_key)),
        _ => return None,
    })
}

/// The queues (and counters) of the sinks fed by one encoder.
pub(super) type Targets = Vec<(mpsc::Sender<Batch>, Arc<SinkStats>)>;

/// Sends a payload to every target of an output.
pub(super) fn send(targets: &Targets, batch: Batch, when_full: WhenFull) {
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

/// Publishes the achieved rate: traces after the one at `from` over the time since it.
fn store_rate(counters: &Counters, (since, before): (Instant, u64), generated: u64) {
    let rate = (generated - before - 1) as f64 / since.elapsed().as_secs_f64().max(1e-9);
    counters.rate_bits.store(rate.to_bits(), Ordering::Relaxed);
}

/// The generation loop (runs on its own thread). Returns traces per scenario and whether
/// it was interrupted.
pub(super) fn generate(
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
