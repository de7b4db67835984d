//! Command-line arguments as typed (the first stage); `main` resolves them into a plan.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use tsim_engine::{Arrivals, Traffic};

use crate::pipeline::WhenFull;

/// Generates realistic, correlated OpenTelemetry telemetry for AI-agent systems from YAML
/// scenarios, and ships it to OTLP collectors or files.
#[derive(Debug, Parser)]
#[command(name = "telemetry-simulator", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options accepted before or after the subcommand.
#[derive(Debug, Args, Clone)]
pub struct Global {
    /// OTLP endpoint (base URL; `/v1/traces` is added for HTTP). Without one (and without the
    /// OTEL_EXPORTER_OTLP_* / OTLP_HTTP_ENDPOINT variables) output goes to files.
    #[arg(help_heading = "Delivery (OTLP, batching, retries)", long, global = true, value_name = "URL")]
    pub endpoint: Option<String>,

    /// OTLP protocol: grpc, http/protobuf (default) or http/json.
    #[arg(help_heading = "Delivery (OTLP, batching, retries)", long, global = true, value_name = "PROTOCOL")]
    pub protocol: Option<String>,

    /// Extra OTLP request header (gRPC metadata), repeatable: `--header api-key=secret`.
    #[arg(
        help_heading = "Delivery (OTLP, batching, retries)",
        long = "header",
        global = true,
        value_name = "KEY=VALUE"
    )]
    pub headers: Vec<String>,

    /// OTLP body compression: gzip or none.
    #[arg(help_heading = "Delivery (OTLP, batching, retries)", long, global = true, value_name = "gzip|none")]
    pub compression: Option<String>,

    /// OTLP per-request timeout in milliseconds (default 10000; 1 to 3600000).
    #[arg(help_heading = "Delivery (OTLP, batching, retries)", long, global = true, value_name = "MS", value_parser = ranged::<1, 3_600_000>)]
    pub timeout: Option<u64>,

    /// CA certificates (PEM) that `https://` servers must chain to, instead of the Web PKI
    /// roots (also OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE); every network output.
    #[arg(help_heading = "Delivery (OTLP, batching, retries)", long, global = true, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,

    /// Client certificate (PEM) for mutual TLS, with --client-key (also
    /// OTEL_EXPORTER_OTLP_[TRACES_]CLIENT_CERTIFICATE).
    #[arg(help_heading = "Delivery (OTLP, batching, retries)", long, global = true, value_name = "FILE")]
    pub client_cert: Option<PathBuf>,

    /// Private key (PEM) of --client-cert (also OTEL_EXPORTER_OTLP_[TRACES_]CLIENT_KEY).
    #[arg(help_heading = "Delivery (OTLP, batching, retries)", long, global = true, value_name = "FILE")]
    pub client_key: Option<PathBuf>,

    /// Plain text to endpoints without a scheme; TLS without verifying the server's
    /// certificate to `https://` ones. Said in the summary.
    #[arg(help_heading = "Delivery (OTLP, batching, retries)", long, global = true)]
    pub insecure: bool,

    /// Give up on a batch after retrying this long (e.g. 30s, 2m; 0 = no retries; at most 1d).
    #[arg(help_heading = "Delivery (OTLP, batching, retries)", long, global = true, value_name = "DURATION", default_value = "60s", value_parser = duration_at_most::<86_400_000>)]
    pub retry_max_elapsed: u64,

    /// After Ctrl-C, how long deliveries still queued or in flight may take (e.g. 5s, 0);
    /// what is left then is dropped as `shutdown`. A second Ctrl-C ends the wait at once.
    #[arg(help_heading = "Delivery (OTLP, batching, retries)", long, global = true, value_name = "DURATION", default_value = "5s", value_parser = duration_at_most::<3_600_000>)]
    pub shutdown_timeout: u64,

    /// `service.name` of the generated telemetry (default: the scenario's, else telemetry-simulator).
    #[arg(
        help_heading = "Data (scenarios, seed, time, tenants)",
        long,
        global = true,
        hide_env_values = true,
        env = "OTEL_SERVICE_NAME",
        value_name = "NAME"
    )]
    pub service_name: Option<String>,

    /// Semantic-conventions YAML (OpenTelemetry model, v1 `groups:` or v2 `definition/2`; also SEMCONV):
    /// `validate` checks scenarios against it; runs fill in required attributes from it.
    #[arg(
        help_heading = "Data (scenarios, seed, time, tenants)",
        long,
        visible_alias = "semconv",
        global = true,
        hide_env_values = true,
        env = "TELEMETRY_SIMULATOR_SCHEMA_PATH",
        value_name = "FILE"
    )]
    pub schema_path: Option<PathBuf>,

    /// Add OpenInference attributes (`openinference.span.kind`, `llm.model_name`,
    /// `llm.token_count.*`, …) next to the GenAI ones, for Phoenix and Arize.
    #[arg(
        help_heading = "Data (scenarios, seed, time, tenants)",
        long,
        global = true,
        hide_env_values = true,
        env = "TELEMETRY_SIMULATOR_OPENINFERENCE"
    )]
    pub openinference: bool,

    /// Name each resource's scenario in the resource attribute `telemetry_simulator.scenario`
    /// (real telemetry has no such attribute; `report --scenario` filters on it).
    #[arg(
        help_heading = "Data (scenarios, seed, time, tenants)",
        long,
        global = true,
        hide_env_values = true,
        env = "TELEMETRY_SIMULATOR_MARK_SCENARIO"
    )]
    pub mark_scenario: bool,

    /// Incidents on a schedule (latency spikes, error bursts, outages, traffic or token
    /// surges): an incident file, or a shipped one by name (tool_outage, llm_latency_spike,
    /// error_burst, cost_surge); repeatable. They add to those written in the scenarios.
    #[arg(help_heading = "Data (scenarios, seed, time, tenants)", long, global = true, value_name = "FILE|NAME")]
    pub incidents: Vec<String>,

    /// Put the span attribute `incident.name` on the spans an incident hit (real telemetry
    /// has no such attribute).
    #[arg(help_heading = "Data (scenarios, seed, time, tenants)", long, global = true)]
    pub mark_incidents: bool,

    /// Name the run in the resource attribute `telemetry_simulator.run.id` (off unless
    /// given). `verify` then compares only the items of this run, so that one store can
    /// receive several runs; items of other runs are counted apart.
    #[arg(help_heading = "Data (scenarios, seed, time, tenants)", long, global = true, value_name = "ID")]
    pub run_id: Option<String>,

    /// Prefix that replaces `vendor.` in span types and attribute keys (also from
    /// TELEMETRY_SIMULATOR_VENDOR_NAME or VENDOR when TELEMETRY_SIMULATOR_ATTR_PREFIX is unset).
    #[arg(
        help_heading = "Data (scenarios, seed, time, tenants)",
        long,
        visible_alias = "vendor",
        global = true,
        hide_env_values = true,
        env = "TELEMETRY_SIMULATOR_ATTR_PREFIX",
        default_value = "vendor",
        value_name = "PREFIX"
    )]
    pub attr_prefix: String,

    /// Folder of scenario YAML files, added to the built-ins (repeatable).
    #[arg(
        help_heading = "Data (scenarios, seed, time, tenants)",
        long,
        global = true,
        hide_env_values = true,
        env = "SCENARIOS_DIR",
        value_name = "DIR"
    )]
    pub scenarios_dir: Vec<PathBuf>,

    /// Seed of the random generator (random when absent; printed in the summary).
    #[arg(
        help_heading = "Data (scenarios, seed, time, tenants)",
        long,
        global = true,
        value_name = "N",
        allow_hyphen_values = true
    )]
    pub seed: Option<u64>,

    /// Simulated start time of the first trace, RFC 3339 (default: now). A past start runs
    /// at CPU speed until it reaches now, then in real time.
    #[arg(
        help_heading = "Data (scenarios, seed, time, tenants)",
        long,
        visible_alias = "start",
        global = true,
        value_name = "RFC3339"
    )]
    pub start_time: Option<String>,

    /// Folder for file output. Default `./telemetry-out` when no OTLP endpoint is set; with an
    /// endpoint, files are written only when this is given.
    #[arg(help_heading = "Files", long, global = true, value_name = "DIR")]
    pub output: Option<PathBuf>,

    /// Tenant ids, comma-separated, one chosen per trace (falls back to TENANT_UUID).
    #[arg(
        help_heading = "Data (scenarios, seed, time, tenants)",
        long,
        global = true,
        hide_env_values = true,
        env = "TELEMETRY_TENANT_UUIDS",
        value_name = "IDS"
    )]
    pub tenants: Option<String>,

    /// One tenant id (the Python telemetry-simulator's flag): the same as `--tenants ID`.
    #[arg(
        help_heading = "Data (scenarios, seed, time, tenants)",
        long,
        global = true,
        hide_env_values = true,
        env = "TELEMETRY_SIMULATOR_TENANT_ID",
        value_name = "ID"
    )]
    pub tenant_id: Option<String>,

    /// Weights of --tenants, comma-separated (default: equal; also TENANT_WEIGHTS).
    #[arg(
        help_heading = "Data (scenarios, seed, time, tenants)",
        long,
        global = true,
        hide_env_values = true,
        env = "TELEMETRY_TENANT_WEIGHTS",
        value_name = "WEIGHTS",
        allow_hyphen_values = true
    )]
    pub tenant_weights: Option<String>,

    /// Most spans per export batch (1 to 1000000).
    #[arg(help_heading = "Delivery (OTLP, batching, retries)", long, global = true, hide_env_values = true, env = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", default_value_t = 512, value_name = "N",
          value_parser = ranged::<1, 1_000_000>)]
    pub batch_size: u64,

    /// Longest stretch of simulated time one batch covers, in milliseconds (0 to 86400000).
    #[arg(help_heading = "Delivery (OTLP, batching, retries)", long, global = true, hide_env_values = true, env = "OTEL_BSP_SCHEDULE_DELAY", default_value_t = 1000, value_name = "MS",
          value_parser = ranged::<0, 86_400_000>)]
    pub batch_timeout: u64,

    /// When spans and records leave: `end` (a span when it ends, a record at its time, in
    /// time order across traces, as a service's SDK exports) or `trace` (each trace whole,
    /// at its start). Default: end; trace when every trace starts at once (--interval 0).
    #[arg(help_heading = "Delivery (OTLP, batching, retries)", long, global = true, value_name = "end|trace", value_parser = parse_export_order)]
    pub export_order: Option<crate::pipeline::ExportOrder>,

    /// Most memory the traces in flight may hold while their spans wait for their end
    /// (`512MiB`, `4GiB`); past it, new traces leave whole at their start, counted in the summary.
    #[arg(help_heading = "Delivery (OTLP, batching, retries)", long, global = true, default_value = "1GiB", value_name = "SIZE", value_parser = parse_size)]
    pub reorder_budget: u64,

    /// Batches each sink may have queued before generation waits (1 to 65536).
    #[arg(help_heading = "Delivery (OTLP, batching, retries)", long, global = true, default_value_t = 64, value_name = "N", value_parser = ranged::<1, 65_536>)]
    pub queue_size: u64,

    /// Requests each network sink (OTLP gRPC/HTTP) keeps in flight at once, each on its own
    /// connection; batches may then arrive out of order (1 to 256).
    #[arg(help_heading = "Delivery (OTLP, batching, retries)", long, global = true, default_value_t = 4, value_name = "N", value_parser = ranged::<1, 256>)]
    pub max_in_flight: u64,

    /// Worker threads for the sinks (network, files, compression); generation runs on its
    /// own thread. Output does not depend on it (1 to 256).
    #[arg(help_heading = "Delivery (OTLP, batching, retries)", long, global = true, default_value_t = 2, value_name = "N", value_parser = ranged::<1, 256>)]
    pub threads: u64,

    /// Signals to produce, comma-separated: traces, logs, metrics.
    #[arg(
        help_heading = "Data (scenarios, seed, time, tenants)",
        long,
        global = true,
        default_value = "traces,logs,metrics",
        value_name = "LIST"
    )]
    pub signals: String,

    /// Simulated time between cumulative metric exports (a final export closes the run).
    #[arg(help_heading = "Metrics", long, global = true, default_value = "10s", value_name = "DURATION", value_parser = parse_duration_ms)]
    pub metrics_interval: u64,

    /// Every output's own flags (`--app-log`, `--prometheus-listen`, `--es-url`, …).
    #[command(flatten)]
    pub outputs: crate::outputs::Flags,

    /// Leave metrics out (the same as --signals without `metrics`).
    #[arg(help_heading = "Data (scenarios, seed, time, tenants)", long, global = true)]
    pub no_metrics: bool,

    /// Leave logs out (the same as --signals without `logs`).
    #[arg(help_heading = "Data (scenarios, seed, time, tenants)", long, global = true)]
    pub no_logs: bool,

    /// `schema_url` of every resource (traces, logs, metrics).
    #[arg(
        help_heading = "Data (scenarios, seed, time, tenants)",
        long,
        global = true,
        hide_env_values = true,
        env = "TELEMETRY_SIMULATOR_RESOURCE_SCHEMA_URL",
        value_name = "URL"
    )]
    pub resource_schema_url: Option<String>,

    /// Treat warnings about scenario files (a key given twice) as errors.
    #[arg(help_heading = "Data (scenarios, seed, time, tenants)", long, global = true)]
    pub strict: bool,

    /// Also write the run summary as JSON to this file.
    #[arg(help_heading = "Report", long, global = true, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,

    /// Write what regenerates this run exactly (seed, times, data flags, scenario files with
    /// their SHA-256) and what it generated, as JSON, for `verify`. For `verify`: the manifest
    /// to read.
    #[arg(help_heading = "Report", long, global = true, value_name = "FILE")]
    pub manifest: Option<PathBuf>,

    /// Stop after this many traces (what `verify` uses to regenerate a run that stopped early).
    #[arg(long, global = true, hide = true, value_name = "N")]
    pub stop_after: Option<u64>,

    /// No progress bar and no summary (errors are still printed).
    #[arg(help_heading = "Report", long, short, global = true)]
    pub quiet: bool,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the available scenarios (built-ins and --scenarios-dir).
    List,
    /// Check scenario files or folders; exits 1 with located errors if any is invalid.
    Validate {
        /// Files or folders (recursively, *.yaml / *.yml); none: the built-ins and --scenarios-dir.
        paths: Vec<PathBuf>,
        #[command(flatten)]
        show: crate::show::Show,
    },
    /// Run one scenario.
    Scenario {
        /// Scenario name (see `list`).
        #[arg(long)]
        name: String,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Run a mixed workload of all listed scenarios, chosen per trace by weight.
    Run {
        #[command(flatten)]
        run: RunArgs,
        /// Only the scenarios with at least one of these tags, comma-separated.
        #[arg(long, value_name = "TAG[,TAG…]")]
        tags: Option<String>,
        /// Each scenario (of --tags) exactly once, in `list` order, instead of --count picks by weight.
        #[arg(long, conflicts_with = "count")]
        each_once: bool,
    },
    /// Report on what a store holds (or a run's output folder): the daily summary, one
    /// agent, slow operations, error rates.
    Report {
        #[command(subcommand)]
        report: ReportCommand,
        #[command(flatten)]
        with: ReportArgs,
    },
    /// Receive OTLP (gRPC and HTTP) into a store: durable before acknowledged, converted
    /// into Parquet; Ctrl-C stops.
    Receive {
        #[command(flatten)]
        args: crate::store::receive::ReceiveArgs,
    },
    /// Check what a pipeline did to a run: regenerate it from its --manifest and compare with
    /// the --store it arrived in (missing, duplicated, unexpected, altered, sampled). Exit 0:
    /// identical; 4: differences; 1: an error.
    Verify {
        /// table (aligned, for a terminal), json, or markdown.
        #[arg(long, value_name = "FORMAT", default_value = "table", value_parser = ["table", "json", "markdown"])]
        format: String,
        /// Spans (or records) a bucket holds: a side with more is spilled to bucket files by
        /// trace id; two buckets of each side are joined at once.
        #[arg(long, value_name = "N", default_value_t = tsim_report::verify::PASS_ITEMS)]
        memory_items: u64,
    },
    /// Load OTLP/JSON lines (the simulator's traces.jsonl, logs.jsonl, metrics.jsonl, or any
    /// OTLP/JSON lines file) into a store of Parquet files.
    Import {
        /// Output folders of the simulator (their traces.jsonl, logs.jsonl, metrics.jsonl)
        /// or OTLP/JSON lines files (the signal is read from each line).
        #[arg(required = true, value_name = "DIR|FILE")]
        paths: Vec<PathBuf>,
    },
}

/// What every report takes: where the data is, which of it, and how to show it.
#[derive(Debug, Args, Clone)]
pub struct ReportArgs {
    /// Only data from this time on: RFC 3339, or a duration before now (`24h`, `30m`).
    #[arg(long, global = true, value_name = "TIME|AGO")]
    pub since: Option<String>,
    /// Only data before this time: RFC 3339, or a duration before now.
    #[arg(long, global = true, value_name = "TIME|AGO")]
    pub until: Option<String>,
    /// Only this service (`service.name`).
    #[arg(long, global = true, value_name = "NAME")]
    pub service: Option<String>,
    /// Only this tenant (`tenant.id`, or `PREFIX.tenant.id`).
    #[arg(long, global = true, value_name = "ID")]
    pub tenant: Option<String>,
    /// Only this scenario: data of runs made with --mark-scenario (the resource attribute
    /// `telemetry_simulator.scenario`).
    #[arg(long, global = true, value_name = "NAME")]
    pub scenario: Option<String>,
    /// table (aligned, for a terminal), json, markdown, or html (one self-contained page with
    /// charts; for `summary`, with the error rate, cost and flows too).
    #[arg(long, global = true, value_name = "FORMAT", default_value = "table", value_parser = ["table", "json", "markdown", "html"])]
    pub format: String,
}

/// The reports.
#[derive(Debug, Subcommand, Clone)]
pub enum ReportCommand {
    /// The daily summary: runs, success rate, average duration, active workflows; per agent
    /// runs, success rate, average and p95 duration; errors by type.
    Summary,
    /// One agent's runs: count, success rate, duration percentiles, errors, latest runs.
    Agent {
        /// The agent (`gen_ai.agent.name`, `agent_name` or `agent.name`).
        name: String,
    },
    /// Slow operations: per agent and span name, mean and longest duration and count, where
    /// the mean is at least the threshold.
    Slow {
        /// Mean duration from which an operation is slow.
        #[arg(long, default_value = "1s", value_parser = parse_duration_ms, value_name = "DURATION")]
        threshold: u64,
        /// At most this many operations.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// The latest errors with their context: error spans and ERROR log records.
    Errors {
        /// At most this many of each.
        #[arg(long, default_value_t = 10)]
        limit: usize,
    },
    /// One trace as a tree with timings (a terminal waterfall); or every trace of a workflow.
    Trace {
        /// A trace id (32 hex digits), or a workflow id (`workflow.id`).
        id: String,
    },
    /// Paths through the system (components in order, per trace) with frequency and mean
    /// duration.
    Flows {
        /// At most this many paths.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// What is going on: runs in progress (spans stored, root not yet), the latest runs,
    /// the latest warnings.
    Activity {
        /// At most this many rows per section.
        #[arg(long, default_value_t = 10)]
        limit: usize,
    },
    /// Artifact diffs (the paper-writing workflow's `artifactDiff` records): with a path,
    /// its version history, newest first; without, every artifact with its latest version
    /// and review status.
    Artifacts {
        /// An artifact's path, or a pattern where `*` stands for any characters
        /// (`'output-drafts/sections/*'`).
        path: Option<String>,
        /// At most this many diffs of the history.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// LLM tokens and their cost in USD, by model and by agent.
    Cost {
        /// Take the prices of this scenario's `pricing:` (see `list`; with --scenarios-dir,
        /// yours) over the example prices.
        #[arg(long, value_name = "SCENARIO")]
        pricing: Option<String>,
    },
    /// Error rate per time window and service.
    ErrorRate {
        /// The window.
        #[arg(long, default_value = "5m", value_parser = parse_duration_ms, value_name = "DURATION")]
        window: u64,
        /// Only windows whose error rate is above this percentage.
        #[arg(long, value_name = "PERCENT")]
        above: Option<f64>,
    },
}

/// How much to generate, when and how fast.
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// Traces to generate, e.g. 500 or 10k (default: the scenario's repeat_count, else 100;
    /// unbounded with --duration, --end, --backfill or --follow). Sharded runs split it.
    #[arg(long, short = 'n', value_parser = parse_count, allow_hyphen_values = true)]
    pub count: Option<u64>,

    /// Traces per second (`200`, `10k`, `600/m`), or spans per second with the unit
    /// (`50k spans/s`, `50k/s spans`). The mean rate; all shards together.
    #[arg(long, value_name = "RATE", value_parser = parse_rate, allow_hyphen_values = true)]
    pub rate: Option<Rate>,

    /// Time between trace starts: `10ms`, `1s`, or milliseconds (0 = all at once).
    #[arg(long, conflicts_with = "rate", value_name = "DURATION", value_parser = parse_interval_ms, allow_hyphen_values = true)]
    pub interval: Option<f64>,

    /// Generate for this long of simulated time from the start (`30s`, `10m`, `2h`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms, conflicts_with_all = ["count", "end", "backfill"])]
    pub duration: Option<u64>,

    /// No trace starts at or after this time (RFC 3339), e.g. 2026-11-21T00:00:00Z.
    #[arg(long, value_name = "RFC3339", conflicts_with = "backfill")]
    pub end: Option<String>,

    /// Generate the last DURATION of history up to now (`7d`, `12h`) at CPU speed, with
    /// past timestamps. Same as --start-time now−DURATION --end now.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub backfill: Option<u64>,

    /// Keep going past --end / the backfill, in real time, until Ctrl-C (or --count).
    #[arg(long, conflicts_with = "duration")]
    pub follow: bool,

    /// How trace starts are spaced: constant (evenly) or poisson (exponential gaps).
    #[arg(long, default_value = "constant", value_name = "constant|poisson", value_parser = parse_arrivals)]
    pub arrivals: Arrivals,

    /// Shape of the rate over time (UTC): flat, diurnal (peak 14:00, 1.6× the mean; low
    /// 02:00, 0.4×) or weekly (diurnal, weekends at 0.75×). The mean stays --rate.
    #[arg(long, default_value = "flat", value_name = "flat|diurnal|weekly", value_parser = parse_traffic)]
    pub traffic: Traffic,

    /// When a sink's queue is full: block (wait; paced traces may start late, counted) or
    /// drop (drop that sink's batch, counted as `queue full`, and keep the schedule).
    #[arg(long, default_value = "block", value_name = "block|drop", value_parser = parse_when_full)]
    pub when_full: WhenFull,

    /// Run shard I of N (`--shard 0/4`): traces whose index is I modulo N, so that N shards
    /// together are one unsharded run. Default from JOB_COMPLETION_INDEX and
    /// JOB_COMPLETION_COUNT (a Kubernetes Indexed Job). Needs --seed.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<(u64, u64)>,
}

/// A `--rate`: a number per second, of traces or of spans.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Per second.
    pub per_second: f64,
    /// Counted in spans (else traces).
    pub spans: bool,
}

/// Parses `200`, `10k`, `10k/s`, `600/m`, `2/h`, `50k spans/s`, `50k/s spans`, `1M traces/s`.
pub fn parse_rate(s: &str) -> Result<Rate, String> {
    let bad = || format!("`{s}` is not a rate (examples: 200, 10k/s, 600/m, 50k spans/s)");
    let mut t = s.trim().to_ascii_lowercase().replace(['_', ' '], "");
    let mut spans = false;
    for (word, is_spans) in [("spans", true), ("span", true), ("traces", false), ("trace", false)] {
        if let Some(p) = t.find(word) {
            t.replace_range(p..p + word.len(), "");
            spans = is_spans;
            break;
        }
    }
    let (num, per) = match t.split_once('/') {
        Some((n, unit)) => {
            let secs = match unit {
                "s" | "sec" | "" => 1.0,
                "m" | "min" => 60.0,
                "h" => 3600.0,
                _ => return Err(bad()),
            };
            (n.to_string(), secs)
        }
        None => (t.clone(), 1.0),
    };
    let (digits, mult) = match num.chars().last() {
        Some('k') => (&num[..num.len() - 1], 1e3),
        Some('m') => (&num[..num.len() - 1], 1e6),
        Some('g') => (&num[..num.len() - 1], 1e9),
        _ => (num.as_str(), 1.0),
    };
    let v: f64 = digits.parse().map_err(|_| bad())?;
    let per_second = v * mult / per;
    if !(per_second > 0.0 && per_second.is_finite()) {
        return Err(format!("`{s}`: the rate must be above 0"));
    }
    Ok(Rate { per_second, spans })
}

/// Parses `10ms`, `1s`, `2m`, or a plain number of milliseconds.
pub fn parse_interval_ms(s: &str) -> Result<f64, String> {
    let ms = match s.trim().parse::<f64>() {
        Ok(ms) => ms,
        Err(_) => tsim_scenario::units::parse_duration_secs(s)
            .map(|secs| secs * 1e3)
            .ok_or_else(|| format!("`{s}` is not an interval (examples: 10ms, 1s, or 10 for milliseconds)"))?,
    };
    if !(ms >= 0.0 && ms.is_finite()) {
        return Err(format!("`{s}`: the interval must be 0 or more"));
    }
    Ok(ms)
}

/// Parses `--arrivals`.
pub fn parse_arrivals(s: &str) -> Result<Arrivals, String> {
    match s.to_ascii_lowercase().as_str() {
        "constant" => Ok(Arrivals::Constant),
        "poisson" => Ok(Arrivals::Poisson),
        _ => Err(format!("`{s}`: arrivals are constant or poisson")),
    }
}

/// Parses `--traffic`.
pub fn parse_traffic(s: &str) -> Result<Traffic, String> {
    match s.to_ascii_lowercase().as_str() {
        "flat" | "constant" => Ok(Traffic::Flat),
        "diurnal" | "daily" => Ok(Traffic::Diurnal),
        "weekly" => Ok(Traffic::Weekly),
        _ => Err(format!("`{s}`: traffic is flat, diurnal or weekly")),
    }
}

/// Parses `--when-full`.
pub fn parse_when_full(s: &str) -> Result<WhenFull, String> {
    match s.to_ascii_lowercase().as_str() {
        "block" => Ok(WhenFull::Block),
        "drop" => Ok(WhenFull::Drop),
        _ => Err(format!("`{s}`: --when-full is block or drop")),
    }
}

/// Parses `I/N` with `I < N`.
pub fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let bad = || format!("`{s}` is not a shard (I/N with 0 <= I < N, e.g. 0/4)");
    let (i, n) = s.trim().split_once('/').ok_or_else(bad)?;
    let (i, n): (u64, u64) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// Parses a whole number in `LO..=HI`, naming the range when it is outside.
pub fn ranged<const LO: u64, const HI: u64>(s: &str) -> Result<u64, String> {
    let v: u64 =
        s.trim().replace('_', "").parse().map_err(|_| format!("`{s}` is not a whole number ({LO} to {HI})"))?;
    if !(LO..=HI).contains(&v) {
        return Err(format!("{v} is out of range: {LO} to {HI}"));
    }
    Ok(v)
}

/// Parses `500`, `10k`, `2.5M`, `1_000`.
pub fn parse_count(s: &str) -> Result<u64, String> {
    let t = s.trim().replace('_', "");
    let (num, mult) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1e3),
        Some('m' | 'M') => (&t[..t.len() - 1], 1e6),
        Some('g' | 'G' | 'b' | 'B') => (&t[..t.len() - 1], 1e9),
        _ => (t.as_str(), 1.0),
    };
    let v: f64 = num.parse().map_err(|_| format!("`{s}` is not a count (examples: 500, 10k, 2M)"))?;
    let n = v * mult;
    if !(0.0..=1e15).contains(&n) || n.fract() != 0.0 {
        return Err(format!("`{s}` is not a whole count"));
    }
    Ok(n as u64)
}

/// Parses `end` or `trace` (`--export-order`).
pub fn parse_export_order(s: &str) -> Result<crate::pipeline::ExportOrder, String> {
    match s {
        "end" => Ok(crate::pipeline::ExportOrder::End),
        "trace" => Ok(crate::pipeline::ExportOrder::Trace),
        _ => Err(format!("`{s}`: the export order is `end` or `trace`")),
    }
}

/// Parses `10MB`, `512KiB`, `1GB`, `4096` into bytes (KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    match tsim_scenario::units::parse_size(s) {
        Some(n) if n < 1_000_000_000_000_000 => Ok(n),
        Some(_) => Err(format!("`{s}` is out of range")),
        None => Err(format!("`{s}` is not a size (examples: 10MB, 512KiB; units B, KB, MB, GB, KiB, MiB, GiB)")),
    }
}

/// [`parse_duration_ms`], at most `MAX_MS` milliseconds.
pub fn duration_at_most<const MAX_MS: u64>(s: &str) -> Result<u64, String> {
    let ms = parse_duration_ms(s)?;
    if ms > MAX_MS {
        return Err(format!("`{s}` is over the limit of {} s", MAX_MS / 1000));
    }
    Ok(ms)
}

/// Parses `500ms`, `30s`, `2m`, `1h`, `1d`, or plain seconds, into milliseconds.
pub fn parse_duration_ms(s: &str) -> Result<u64, String> {
    match tsim_scenario::units::parse_duration_secs(s).map(|secs| secs * 1e3) {
        Some(ms) if (0.0..1e15).contains(&ms) => Ok(ms.round() as u64),
        Some(_) => Err(format!("`{s}` is out of range")),
        None => Err(format!("`{s}` is not a duration (examples: 500ms, 30s, 2m; units ms, s, m, h, d)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        assert_eq!(parse_count("10k"), Ok(10_000));
        assert_eq!(parse_count("2.5M"), Ok(2_500_000));
        assert!(parse_count("1.5").is_err());
        assert_eq!(parse_duration_ms("30s"), Ok(30_000));
        assert_eq!(parse_duration_ms("2m"), Ok(120_000));
        assert_eq!(parse_duration_ms("250ms"), Ok(250));
        assert!(parse_duration_ms("3 fortnights").is_err());
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert_eq!(parse_size("512KiB"), Ok(524_288));
        assert!(parse_size("lots").is_err());
        assert_eq!(parse_interval_ms("10ms"), Ok(10.0));
        assert_eq!(parse_interval_ms("2.5"), Ok(2.5));
        assert!(parse_interval_ms("-1").is_err());
    }

    #[test]
    fn rates_in_traces_or_spans() {
        assert_eq!(parse_rate("200"), Ok(Rate { per_second: 200.0, spans: false }));
        assert_eq!(parse_rate("10k/s"), Ok(Rate { per_second: 10_000.0, spans: false }));
        assert_eq!(parse_rate("600/m"), Ok(Rate { per_second: 10.0, spans: false }));
        assert_eq!(parse_rate("50k/s spans"), Ok(Rate { per_second: 50_000.0, spans: true }));
        assert_eq!(parse_rate("50k spans/s"), Ok(Rate { per_second: 50_000.0, spans: true }));
        assert_eq!(parse_rate("1M traces/s"), Ok(Rate { per_second: 1e6, spans: false }));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("5/fortnight").is_err());
        assert_eq!(parse_shard("2/4"), Ok((2, 4)));
        assert!(parse_shard("4/4").is_err());
        assert!(parse_shard("1/0").is_err());
    }

    #[test]
    fn globals_work_before_and_after_the_subcommand() {
        let a = Cli::try_parse_from(["t", "--endpoint", "http://x:4318", "scenario", "--name", "s", "--seed", "7"])
            .unwrap();
        assert_eq!(a.global.endpoint.as_deref(), Some("http://x:4318"));
        assert_eq!(a.global.seed, Some(7));
        let b =
            Cli::try_parse_from(["t", "run", "--count", "5", "--protocol", "grpc", "--attr-prefix", "acme"]).unwrap();
        assert_eq!(b.global.protocol.as_deref(), Some("grpc"));
        assert_eq!(b.global.attr_prefix, "acme");
    }
}
