//! The run's live state, shared by generation, the progress line and the self-telemetry
//! that `--prometheus-listen` serves next to the simulated metrics.

use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tsim_sinks::prometheus::Exposition;
use tsim_sinks::{Signal, SinkStats};

/// Live counters, shared with the progress line and the self-telemetry.
#[derive(Default)]
pub struct Counters {
    /// Traces generated.
    pub traces: AtomicU64,
    /// Spans generated.
    pub spans: AtomicU64,
    /// Error spans generated.
    pub errors: AtomicU64,
    /// Log records generated.
    pub logs: AtomicU64,
    /// Paced traces started late.
    pub late: AtomicU64,
    /// Largest lag behind schedule, ns.
    pub max_lag_ns: AtomicU64,
    /// Achieved traces per second (f64 bits), updated as generation goes.
    pub rate_bits: AtomicU64,
    /// Traces cut at their scenario's span budget.
    pub cut: AtomicU64,
    /// Some trace waited for its time (the run was paced, not only caught up).
    pub paced: AtomicBool,
    /// Spans and records released before their time because the reorder budget was full.
    pub ahead_budget: AtomicU64,
    /// Items waiting in the reorder stage for their time.
    pub waiting: AtomicU64,
    /// Spans and records of started traces released at once by Ctrl-C, before their time.
    pub ahead_interrupted: AtomicU64,
}

/// Counters of the generator and of every sink, readable while the run goes on.
#[derive(Default)]
pub struct Live {
    /// Generator counters.
    pub counters: Counters,
    /// Every sink with its counters (filled in when the sinks start).
    pub sinks: Mutex<Vec<LiveSink>>,
    /// Traces per second this shard aims at (`None`: as fast as possible).
    pub target_rate: Option<f64>,
    /// (index, count) of this shard.
    pub shard: (u64, u64),
    /// The run seed.
    pub seed: u64,
}

/// One sink of the run and its counters.
pub struct LiveSink {
    /// Name, as in the summary.
    pub name: String,
    /// Signal carried.
    pub signal: Signal,
    /// Whether drops here fail the run.
    pub counts_for_exit: bool,
    /// Counters, updated by the sink's task.
    pub stats: Arc<SinkStats>,
}

/// Escapes a Prometheus label value.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Live {
    /// Achieved traces per second so far.
    pub fn achieved_rate(&self) -> f64 {
        f64::from_bits(self.counters.rate_bits.load(Ordering::Relaxed))
    }

    /// Mean spans per trace so far (0 before the first trace).
    pub fn spans_per_trace(&self) -> f64 {
        let c = &self.counters;
        c.spans.load(Ordering::Relaxed) as f64 / c.traces.load(Ordering::Relaxed).max(1) as f64
    }

    /// The self-telemetry (names `telemetry_simulator_*`) in the text format, or in
    /// OpenMetrics (a counter's family is named without its `_total`, its samples with it).
    pub fn render(&self, out: &mut String, exposition: Exposition) {
        let c = &self.counters;
        let openmetrics = matches!(exposition, Exposition::OpenMetrics { .. });
        let mut family = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
            if openmetrics {
                let family = if kind == "counter" { name.strip_suffix("_total").unwrap_or(name) } else { name };
                let _ = writeln!(out, "# TYPE {family} {kind}\n# HELP {family} {help}");
            } else {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            }
            for (labels, v) in samples {
                let _ = writeln!(out, "{name}{labels} {v}");
            }
        };
        let one = |v: f64| vec![(String::new(), v)];
        family(
            "telemetry_simulator_info",
            "gauge",
            "The simulator's version, seed and shard.",
            &[(
                format!(
                    "{{version=\"{}\",seed=\"{}\",shard=\"{}\",shards=\"{}\"}}",
                    env!("CARGO_PKG_VERSION"),
                    self.seed,
                    self.shard.0,
                    self.shard.1
                ),
                1.0,
            )],
        );
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
        family("telemetry_simulator_traces_generated_total", "counter", "Traces generated.", &one(load(&c.traces)));
        family("telemetry_simulator_spans_generated_total", "counter", "Spans generated.", &one(load(&c.spans)));
        family(
            "telemetry_simulator_log_records_generated_total",
            "counter",
            "Log records generated.",
            &one(load(&c.logs)),
        );
        family(
            "telemetry_simulator_late_traces_total",
            "counter",
            "Paced traces that started more than 100 ms after their scheduled time.",
            &one(load(&c.late)),
        );
        family(
            "telemetry_simulator_schedule_lag_max_seconds",
            "gauge",
            "Largest delay of a paced trace behind its scheduled time.",
            &one(load(&c.max_lag_ns) / 1e9),
        );
        family(
            "telemetry_simulator_reorder_waiting_items",
            "gauge",
            "Spans and records (per output) generated and waiting for their time.",
            &one(load(&c.waiting)),
        );
        family(
            "telemetry_simulator_items_ahead_of_time_total",
            "counter",
            "Spans and records (per output) sent before their time, by reason.",
            &[
                ("{reason=\"reorder_budget\"}".to_string(), load(&c.ahead_budget)),
                ("{reason=\"interrupted\"}".to_string(), load(&c.ahead_interrupted)),
            ],
        );
        family(
            "telemetry_simulator_achieved_traces_per_second",
            "gauge",
            "Traces per second achieved so far.",
            &one(self.achieved_rate()),
        );
        if let Some(t) = self.target_rate {
            family(
                "telemetry_simulator_target_traces_per_second",
                "gauge",
                "Traces per second this shard aims at.",
                &one(t),
            );
        }
        let sinks = self.sinks.lock().unwrap_or_else(|e| e.into_inner());
        let labels = |k: &LiveSink| format!("sink=\"{}\",signal=\"{}\"", label(&k.name), k.signal.as_str());
        let per_sink = |f: fn(&SinkStats) -> &AtomicU64| -> Vec<(String, f64)> {
            sinks.iter().map(|k| (format!("{{{}}}", labels(k)), load(f(&k.stats)))).collect()
        };
        family(
            "telemetry_simulator_sink_generated_total",
            "counter",
            "Items (spans, log records, data points) handed to a sink.",
            &per_sink(|s| &s.generated),
        );
        family(
            "telemetry_simulator_sink_delivered_total",
            "counter",
            "Items a sink's peer accepted.",
            &per_sink(|s| &s.delivered),
        );
        family("telemetry_simulator_sink_requests_total", "counter", "Requests made.", &per_sink(|s| &s.requests));
        family("telemetry_simulator_sink_retries_total", "counter", "Retried requests.", &per_sink(|s| &s.retries));
        family(
            "telemetry_simulator_sink_queue_items",
            "gauge",
            "Items waiting in a sink's queue or in flight.",
            &per_sink(|s| &s.queued),
        );
        let dropped: Vec<(String, f64)> = sinks
            .iter()
            .flat_map(|k| {
                let labels = labels(k);
                k.stats
                    .dropped()
                    .into_iter()
                    .map(move |(reason, v)| (format!("{{{labels},reason=\"{}\"}}", label(&reason)), v as f64))
            })
            .collect();
        family("telemetry_simulator_sink_dropped_total", "counter", "Items a sink lost, by reason.", &dropped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_labels() {
        let live = Live { shard: (2, 4), seed: 9, target_rate: Some(250.0), ..Live::default() };
        live.counters.traces.store(10, Ordering::Relaxed);
        let stats = Arc::new(SinkStats::default());
        stats.add_dropped("queue \"full\"", 3);
        live.sinks.lock().unwrap().push(LiveSink {
            name: "otlp-grpc http://x:4317".into(),
            signal: Signal::Traces,
            counts_for_exit: true,
            stats,
        });
        let mut s = String::new();
        live.render(&mut s, Exposition::Text);
        assert!(s.contains("telemetry_simulator_traces_generated_total 10\n"), "{s}");
        assert!(s.contains("shard=\"2\",shards=\"4\""));
        assert!(s.contains("telemetry_simulator_target_traces_per_second 250\n"));
        assert!(s.contains(
            "telemetry_simulator_sink_dropped_total{sink=\"otlp-grpc http://x:4317\",signal=\"traces\",reason=\"queue \\\"full\\\"\"} 3"
        ));
        let mut om = String::new();
        live.render(&mut om, Exposition::OpenMetrics { legacy: false });
        assert!(om.contains(
            "# TYPE telemetry_simulator_traces_generated counter\n# HELP telemetry_simulator_traces_generated Traces generated.\ntelemetry_simulator_traces_generated_total 10\n"
        ), "{om}");
        assert!(om.contains("# TYPE telemetry_simulator_target_traces_per_second gauge\n"));
    }
}
