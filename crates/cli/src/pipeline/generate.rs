//! The generation loop: the engine's traces in schedule order, paced; their spans and
//! records released in time order through the reorder stage (or whole, `--export-order
//! trace`), encoded per output format and handed to the sinks' queues in batches.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;
use tsim_engine::Scratch;
use tsim_model::otlp_json::JsonTraceEncoder;
use tsim_model::otlp_proto::ProtoTraceEncoder;
use tsim_model::text::{Detail, TextTraceEncoder};
use tsim_model::{Items, Resources, TraceBuf, TraceEncoder};
use tsim_sinks::{Batch, Format, Signal, SinkStats};

use super::export::MetricsExport;
use super::plan::{ExportOrder, FILE_BATCH, LATE_NS, Plan, WhenFull, now_ns};
use super::stage::{self, Stage};
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
    /// Time of the first item (trace start, `--export-order trace`) in the open batch.
    pub(super) batch_start: Option<u64>,
    /// What its encoder takes.
    pub(super) items: Items,
    pub(super) when_full: WhenFull,
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
        let items = encoder.items();
        Self {
            signal,
            format,
            shared,
            encoder,
            targets: vec![target],
            fixed,
            max_spans,
            max_ns,
            batch_start: None,
            items,
            when_full: plan.when_full,
        }
    }

    /// Sends the open batch, if it holds anything.
    pub(super) fn flush(&mut self, resources: &Resources, out: &mut Vec<u8>) {
        self.batch_start = None;
        let items = self.encoder.spans() as u64;
        if items == 0 {
            return;
        }
        self.encoder.finish(resources, out);
        let payload = Bytes::from(std::mem::replace(out, Vec::with_capacity(out.capacity())));
        send(&self.targets, Batch { payload, items }, self.when_full);
    }

    /// Adds a piece its encoder wrote earlier, holding `items` items of time `time` (time
    /// order), as an SDK's batch processor does: the batch is sent before an item that comes
    /// `max_ns` after its first one, and when it is full.
    pub(super) fn add_piece(
        &mut self,
        resources: &Resources,
        resource: u32,
        piece: &[u8],
        items: usize,
        time: u64,
        out: &mut Vec<u8>,
    ) {
        if self.batch_start.is_some_and(|first| time.saturating_sub(first) >= self.max_ns) {
            self.flush(resources, out);
        }
        self.encoder.add_encoded(resource, piece, items);
        self.batch_start.get_or_insert(time);
        if self.encoder.spans() >= self.max_spans {
            self.flush(resources, out);
        }
    }

    /// Sends the open batch once everything up to `through` is out and its time is up (a
    /// later item would have closed it the same way: the content does not depend on when).
    pub(super) fn flush_due(&mut self, through: u64, resources: &Resources, out: &mut Vec<u8>) {
        if self.batch_start.is_some_and(|first| through >= first.saturating_add(self.max_ns)) {
            self.flush(resources, out);
        }
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

/// Where released items go, borrowed anew at each use.
macro_rules! targets {
    ($resources:expr, $outputs:expr, $metrics:expr, $out:expr) => {
        &mut stage::Targets { resources: $resources, outputs: &mut *$outputs, metrics: &mut *$metrics, out: &mut *$out }
    };
}

/// Sleeps until the clock reaches `until` (or the stage is empty, with `until_empty`, or
/// `stop`), releasing what comes due meanwhile. Returns the time it woke at last.
fn wait(
    until: u64,
    until_empty: bool,
    mut stage: Option<&mut Stage<'_>>,
    t: &mut stage::Targets<'_, '_>,
    stop: &AtomicBool,
) -> u64 {
    const MAX_SLEEP_NS: u64 = 50_000_000;
    const MIN_SLEEP_NS: u64 = 200_000;
    loop {
        let now = now_ns();
        if let Some(m) = t.metrics.as_mut() {
            m.serve_scrapes(t.resources, t.out);
        }
        if let Some(st) = stage.as_deref_mut() {
            st.release(now.min(until), t);
            if until_empty && st.waiting() == 0 {
                return now;
            }
        }
        if now >= until || stop.load(Ordering::Relaxed) {
            return now;
        }
        let mut wake = until;
        if let Some(st) = stage.as_deref() {
            if let Some(due) = st.next_due_before(wake) {
                wake = wake.min(due.saturating_add(1));
            }
            for o in t.outputs.iter() {
                if let Some(first) = o.batch_start {
                    wake = wake.min(first.saturating_add(o.max_ns));
                }
            }
            if let Some(m) = t.metrics.as_ref()
                && m.interval_ns > 0
            {
                wake = wake.min(m.next_ns.saturating_add(1));
            }
        }
        let nap = if wake > now { (wake - now).min(MAX_SLEEP_NS) } else { MIN_SLEEP_NS };
        std::thread::sleep(Duration::from_nanos(nap));
    }
}

/// What an incident hit in one window: traces, spans, error spans.
pub(super) type WindowHits = (u64, u64, u64);

/// What the incidents hit, per (incident, window).
pub(super) type IncidentTally = std::collections::BTreeMap<(u16, u64), WindowHits>;

/// What the generation loop did besides its counters.
pub(super) struct Generated {
    /// Traces per scenario.
    pub per_scenario: Vec<u64>,
    /// Stopped by Ctrl-C.
    pub interrupted: bool,
    /// What the incidents hit.
    pub incidents: IncidentTally,
    /// Start of the last trace.
    pub last_start: Option<u64>,
}

/// The generation loop (runs on its own thread).
pub(super) fn generate(
    plan: &Plan,
    outputs: &mut [Output],
    metrics: &mut Option<MetricsExport>,
    stop: &AtomicBool,
    counters: &Counters,
) -> Generated {
    // What the incidents hit, per window, with each incident's latest row at hand (a run
    // passes through an incident's windows in order).
    let mut rows: Vec<((u16, u64), WindowHits)> = Vec::new();
    let mut latest_row = [usize::MAX; tsim_engine::MAX_INCIDENTS];
    let mut last_start = None;
    let engine = &plan.engine;
    let resources = engine.resources();
    let mut per_scenario = vec![0u64; engine.scenarios().len()];
    let mut buf = TraceBuf::default();
    let mut scratch = Scratch::default();
    let mut out = Vec::new();
    let mut interrupted = false;
    let mut stage =
        (plan.export_order == ExportOrder::End).then(|| Stage::new(plan.schedule.start_ns, plan.reorder_budget));

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
    // Their items leave as the clock reaches them once the run is paced; before, as soon
    // as no earlier item can come.
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
            let caught_up = !on_time && now_ns() < at;
            on_time |= caught_up;
            let now = wait(at, false, stage.as_mut(), targets!(resources, outputs, metrics, &mut out), stop);
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
        let (g, staged) = match stage.as_mut() {
            Some(st) => {
                // Everything before this trace's start is final: no later trace starts earlier.
                st.release(at, targets!(resources, outputs, metrics, &mut out));
                (engine.generate(i, at, st.buffer(), &mut scratch), true)
            }
            None => {
                if let Some(m) = metrics.as_mut() {
                    m.advance(resources, at, &mut out);
                }
                (engine.generate(i, at, &mut buf, &mut scratch), false)
            }
        };
        let emit_metrics = engine.scenarios()[g.scenario].emit_metrics();
        {
            let b = match stage.as_mut() {
                Some(st) => &*st.buffer(),
                None => &buf,
            };
            if let Some(m) = metrics.as_mut()
                && emit_metrics
            {
                m.declared.observe_starts(g.scenario, b);
                if !staged {
                    m.count_trace(g.resource, g.scenario, b);
                }
            }
            counters.spans.fetch_add(b.spans.len() as u64, Ordering::Relaxed);
            counters.errors.fetch_add(b.error_spans() as u64, Ordering::Relaxed);
            counters.logs.fetch_add(b.logs.len() as u64, Ordering::Relaxed);
        }
        per_scenario[g.scenario] += 1;
        last_start = Some(at);
        for a in scratch.incident_hits() {
            if a.spans > 0 || a.traffic_only {
                let key = (a.incident, a.occurrence);
                let k = a.incident as usize;
                let r = match latest_row[k] {
                    r if rows.get(r).is_some_and(|row| row.0 == key) => r,
                    _ => rows.iter().position(|row| row.0 == key).unwrap_or_else(|| {
                        rows.push((key, (0, 0, 0)));
                        rows.len() - 1
                    }),
                };
                latest_row[k] = r;
                let e = &mut rows[r].1;
                e.0 += 1;
                e.1 += a.spans;
                e.2 += a.errors;
            }
        }
        if g.cut {
            counters.cut.fetch_add(1, Ordering::Relaxed);
        }
        counters.traces.fetch_add(1, Ordering::Relaxed);
        let from = *rate_from.get_or_insert_with(|| (Instant::now(), generated));
        generated += 1;
        if generated.is_multiple_of(256) || generated - from.1 == 2 {
            store_rate(counters, from, generated);
        }
        current = next_own();
        if let Some(m) = metrics.as_mut() {
            m.serve_scrapes(resources, &mut out);
        }
        match stage.as_mut() {
            Some(st) => {
                let feeds = emit_metrics && metrics.is_some();
                st.admit(g.resource, g.scenario, feeds, targets!(resources, outputs, metrics, &mut out));
                counters.waiting.store(st.waiting() as u64, Ordering::Relaxed);
                counters.ahead_budget.store(st.ahead, Ordering::Relaxed);
            }
            None => {
                // Batches close on size or on simulated time, never on the wall clock, so that the
                // file output is the same whatever the machine's speed.
                let next_at = current.map(|(_, t)| t);
                for o in outputs.iter_mut() {
                    o.encoder.add(resources, g.resource, &buf);
                    let opened = *o.batch_start.get_or_insert(at);
                    if o.encoder.spans() >= o.max_spans || next_at.is_none_or(|t| t.saturating_sub(opened) >= o.max_ns)
                    {
                        o.flush(resources, &mut out);
                    }
                }
            }
        }
    }
    if let Some(from) = rate_from
        && generated - from.1 >= 2
    {
        store_rate(counters, from, generated);
    }
    if let Some(st) = stage.as_mut() {
        // A paced run sends the last spans as they end; a backfill, at once.
        if on_time && !interrupted && st.waiting() > 0 {
            let now = now_ns();
            if plan.notes && st.latest > now + 2_000_000_000 {
                say!(
                    "note: the traces started last end in {} s; their spans are sent as they end \
                     (Ctrl-C sends them now; --export-order trace sends whole traces at their start)",
                    (st.latest - now) / 1_000_000_000
                );
            }
            wait(u64::MAX, true, Some(&mut *st), targets!(resources, outputs, metrics, &mut out), stop);
            interrupted |= stop.load(Ordering::Relaxed);
        }
        if on_time && interrupted {
            counters.ahead_interrupted.fetch_add(st.waiting() as u64, Ordering::Relaxed);
        }
        st.drain(targets!(resources, outputs, metrics, &mut out));
        counters.ahead_budget.store(st.ahead, Ordering::Relaxed);
        counters.waiting.store(0, Ordering::Relaxed);
    }
    for o in outputs.iter_mut() {
        o.flush(resources, &mut out);
    }
    if let Some(m) = metrics.as_mut() {
        m.close(resources, &mut out);
    }
    Generated { per_scenario, interrupted, incidents: rows.into_iter().collect(), last_start }
}
