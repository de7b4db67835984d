//! telemetry-simulator: the command-line tool. Parses arguments, resolves them into a run
//! plan (scenarios, engine, schedule, sinks), runs it and reports.

/// `eprintln!` that never panics: with stderr closed (`2>&1 | true`) an error must stay
/// an error (exit 1), not become a crash.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

/// `eprint!` that never panics.
macro_rules! say_raw {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($t)*);
    }};
}

/// `println!` that never panics: a closed stdout (`| head`) ends the listing quietly.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// Returns a usage error (exit 2): the command line or the environment asks for something
/// that cannot be.
macro_rules! usage {
    ($($t:tt)*) => {
        return Err(anyhow::Error::new(crate::Usage(format!($($t)*))))
    };
}

/// A usage error as a value, for `map_err`.
macro_rules! usage_error {
    ($($t:tt)*) => {
        anyhow::Error::new(crate::Usage(format!($($t)*)))
    };
}

/// mimalloc: the run and `verify` allocate many small values (attribute lists, spans in
/// flight) on several threads; it is markedly faster at that than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod args;
mod compat;
mod human;
mod list;
mod live;
mod manifest;
mod outputs;
mod pipeline;
mod resolve;
mod show;
mod store;
mod summary;
mod validate;

use resolve::{env, rfc3339, rfc3339_exact, shard, signals, tenants, window};

use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use clap::{CommandFactory, FromArgMatches};
use tsim_engine::{Engine, EngineConfig, Schedule};
use tsim_scenario::semconv::Schema;
use tsim_scenario::{Catalog, Scenario};
use tsim_sinks::Signal;
use tsim_sinks::otlp::config::OtlpFlags;
use tsim_sinks::otlp::{OtlpConfig, RetryPolicy};
use tsim_sinks::tls::TlsCache;

use crate::args::{Cli, Command, Global, RunArgs};

/// A usage error: a flag, a combination of flags or an environment variable that cannot be
/// (exit status 2, as for the argument parser's own errors).
#[derive(Debug)]
struct Usage(String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// Exit status of a usage error.
const EXIT_USAGE: u8 = 2;
/// Exit status when the run finished but some data was dropped.
const EXIT_DROPPED: u8 = 3;
/// Exit status after Ctrl-C.
const EXIT_INTERRUPTED: u8 = 130;
/// Default milliseconds between trace starts.
const DEFAULT_INTERVAL_MS: f64 = 10.0;
/// Default trace count when neither --count nor repeat_count says.
const DEFAULT_COUNT: u64 = 100;

fn main() -> ExitCode {
    let mut cmd = Cli::command();
    let matches = cmd.get_matches_mut();
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    compat::fill_from_env(&mut cli.global, &matches);
    if cli.global.manifest.is_some() && !matches!(cli.command, Command::Verify { .. }) {
        manifest::capture(&cmd, &matches);
    }
    match real_main(cli) {
        Ok(code) => code,
        Err(e) => {
            say!("error: {e:#}");
            // A setting a sink cannot use (a bad URL, header, protocol) is a usage error too.
            let usage = e.downcast_ref::<Usage>().is_some()
                || e.downcast_ref::<tsim_sinks::ConfigError>().is_some()
                || matches!(e.downcast_ref(), Some(tsim_sinks::tls::TlsError::Unpaired { .. }));
            ExitCode::from(if usage { EXIT_USAGE } else { 1 })
        }
    }
}

fn load_catalog(g: &Global) -> Result<Catalog> {
    let cat = Catalog::load(&g.scenarios_dir, &g.attr_prefix).map_err(|d| {
        anyhow!(
            "invalid scenarios:\n{d}\nhelp: fix the file, or move it out of the --scenarios-dir folder \
             (`telemetry-simulator validate DIR` lists every problem)"
        )
    })?;
    let in_files: Vec<&tsim_scenario::Diagnostic> = cat.scenarios.iter().flat_map(|s| &s.warnings).collect();
    if !g.quiet || g.strict {
        for w in cat.warnings.iter().chain(in_files.iter().copied()) {
            say!("warning: {w}");
        }
    }
    if g.strict && !in_files.is_empty() {
        anyhow::bail!("--strict: {} warning(s) in scenario files are errors", in_files.len());
    }
    Ok(cat)
}

fn real_main(cli: Cli) -> Result<ExitCode> {
    let g = cli.global;
    let schema = match &g.schema_path {
        Some(p) => Some(Schema::load(p).map_err(|d| anyhow!("--schema-path:\n{d}"))?),
        None => None,
    };
    match cli.command {
        Command::List => list::list(&load_catalog(&g)?),
        Command::Receive { args } => store::receive::receive(&args, g.outputs.store.store.as_deref(), g.quiet),
        Command::Report { report, with } => store::report::report(&report, &with, &g),
        Command::Verify { format, memory_items } => store::verify::verify(&g, &format, memory_items),
        Command::Import { paths } => store::import::import(&paths, g.outputs.store.store.as_deref(), g.quiet),
        Command::Validate { paths, show } => validate::validate(&paths, &g, schema.as_ref(), &show),
        Command::Scenario { name, run } => {
            let cat = load_catalog(&g)?;
            let Some(s) = cat.find(&name) else {
                let names: Vec<&str> = cat.scenarios.iter().map(|s| s.name.as_str()).collect();
                let looks_like_a_file = name.contains('/') || name.ends_with(".yaml") || name.ends_with(".yml");
                let hint = if looks_like_a_file {
                    " (--name takes a scenario's `name:`; to run a file, pass its folder with \
                     --scenarios-dir DIR and the `name:` written in it)"
                        .to_string()
                } else {
                    tsim_scenario::did_you_mean(&name, names.iter().copied())
                        .map(|n| format!(" (did you mean `{n}`?)"))
                        .unwrap_or_default()
                };
                usage!("no scenario named `{name}`{hint}; `telemetry-simulator list` shows them");
            };
            let list = with_schema(vec![s.clone()], schema.as_ref(), g.quiet);
            execute(&g, &run, list, s.repeat_count, s.interval_ms, false)
        }
        Command::Run { run, tags, each_once } => {
            let cat = load_catalog(&g)?;
            let wanted: Vec<&str> = tags
                .as_deref()
                .map(|t| t.split(',').map(str::trim).filter(|t| !t.is_empty()).collect())
                .unwrap_or_default();
            let picked: Vec<Scenario> = cat
                .listed()
                .filter(|s| wanted.is_empty() || s.tags.iter().any(|t| wanted.contains(&t.as_str())))
                .cloned()
                .collect();
            if picked.is_empty() {
                usage!(
                    "--tags {}: no scenario has any of these tags (`telemetry-simulator list` shows them)",
                    wanted.join(",")
                );
            }
            let list = with_schema(picked, schema.as_ref(), g.quiet);
            let count = each_once.then_some(list.len() as u64);
            execute(&g, &run, list, count, None, each_once)
        }
    }
}

/// Fills in the required attributes of the schema's span groups that scenarios leave out.
fn with_schema(mut list: Vec<Scenario>, schema: Option<&Schema>, quiet: bool) -> Vec<Scenario> {
    if let Some(schema) = schema {
        for s in &mut list {
            let n = schema.fill_required(s);
            if n > 0 && !quiet {
                say!("note: {n} required attribute(s) of {} added to `{}` from their examples", schema.file, s.name);
            }
        }
    }
    list
}

/// The incidents of `--incidents` (files or shipped names), each file's problems located.
fn load_incident_files(args: &[String]) -> Result<Vec<tsim_scenario::IncidentSpec>> {
    let mut out = Vec::new();
    for a in args {
        out.extend(tsim_scenario::load_incidents(a).map_err(|d| usage_error!("--incidents {a}:\n{d}"))?);
    }
    Ok(out)
}

/// Mean spans per trace over the first traces of the run (the same on every shard).
fn spans_per_trace(engine: &Engine, start: u64) -> f64 {
    const SAMPLE: u64 = 4096;
    let mut buf = tsim_model::TraceBuf::default();
    let mut scratch = tsim_engine::Scratch::default();
    let mut spans = 0u64;
    for i in 0..SAMPLE {
        engine.generate(i, start, &mut buf, &mut scratch);
        spans += buf.spans.len() as u64;
    }
    spans as f64 / SAMPLE as f64
}

fn execute(
    g: &Global,
    run: &RunArgs,
    scenarios: Vec<Scenario>,
    repeat_count: Option<u64>,
    scenario_interval: Option<f64>,
    each_once: bool,
) -> Result<ExitCode> {
    let (shard_index, shards) = shard(run)?;
    if shards > 1 && g.seed.is_none() {
        usage!("a sharded run needs --seed, the same on every shard (and --start-time for identical data)");
    }
    let seed =
        g.seed.unwrap_or_else(|| tsim_engine::rng::splitmix64(pipeline::now_ns() ^ u64::from(std::process::id())));
    let signals = signals(g)?;
    let tenant_key = format!("{}.tenant.id", g.attr_prefix);
    let cfg = EngineConfig {
        seed,
        tenants: tenants(g)?,
        tenant_key: tenant_key.clone(),
        service_name: g.service_name.clone().filter(|s| !s.is_empty()),
        resource_attributes: env("OTEL_RESOURCE_ATTRIBUTES")
            .map(|s| tsim_sinks::otlp::config::parse_headers(&s))
            .transpose()
            .map_err(|e| usage_error!("OTEL_RESOURCE_ATTRIBUTES: {e}"))?
            .unwrap_or_default(),
        openinference: g.openinference,
        mark_scenario: g.mark_scenario,
        run_id: g.run_id.clone().filter(|s| !s.is_empty()),
        no_records: !signals.contains(&Signal::Logs),
        round_robin: each_once,
        schema_url: g.resource_schema_url.clone().filter(|s| !s.is_empty()),
        mark_incidents: g.mark_incidents,
    };
    let extra = load_incident_files(&g.incidents)?;
    let refs: Vec<&Scenario> = scenarios.iter().collect();
    let mut engine = Engine::new(&refs, &cfg)?;
    // A rate in spans is converted with the mean span count, sampled only then.
    let per_trace = run.rate.filter(|r| r.spans).map(|_| spans_per_trace(&engine, pipeline::now_ns()));
    // `now` is read once the engine is ready, so that a run starting now is on time.
    let now = pipeline::now_ns();
    let (start, end) = window(g, run, now)?;
    let rate = match (run.rate, run.interval.or(scenario_interval)) {
        (Some(r), _) => r.per_second / per_trace.unwrap_or(1.0).max(1e-9),
        (None, Some(ms)) if ms > 0.0 => 1e3 / ms,
        (None, Some(_)) => f64::INFINITY,
        (None, None) => 1e3 / DEFAULT_INTERVAL_MS,
    };
    engine.set_incidents(&extra, start)?;
    if !g.quiet {
        for (k, spec) in engine.incidents().iter().enumerate() {
            if engine.incident_reach(k) == 0 {
                say!(
                    "note: {}:{}:{}: incident `{}` hits nothing in this run (no span or scenario of it matches)",
                    spec.file,
                    spec.at.0,
                    spec.at.1,
                    spec.name
                );
            }
        }
    }
    let schedule = Schedule::new(start, rate, run.arrivals, run.traffic, seed);
    let schedule = if rate.is_finite() { schedule.with_surges(&engine.traffic_windows(start, end)) } else { schedule };
    // Bounds: a count; else the window's end; else (no window, no --follow) the default count.
    let end_ns = if run.follow { None } else { end };
    let count = match run.count {
        Some(c) => Some(c),
        None if end_ns.is_some() || run.follow => None,
        None => Some(repeat_count.unwrap_or(DEFAULT_COUNT)),
    };
    // What the run would make; the stop (verify's regeneration of a run that stopped early)
    // only ends it sooner.
    let planned = count;
    let count = match (count, g.stop_after) {
        (Some(c), Some(s)) => Some(c.min(s)),
        (c, s) => c.or(s),
    };
    if !rate.is_finite() && count.is_none() {
        usage!("a run bounded by time (--duration, --end, --backfill, --follow) needs --rate or an --interval above 0");
    }
    let expected_all = match (planned, end_ns) {
        (Some(c), Some(e)) => Some(c.min(schedule.expected_before(e))),
        (Some(c), None) => Some(c),
        (None, Some(e)) => Some(schedule.expected_before(e)),
        (None, None) => None,
    };
    if let Some(n) = expected_all {
        engine.plan_exact_counts(n);
    }
    let expected = expected_all.map(|n| n / shards + u64::from(n % shards > shard_index));
    // A target only when some of the run is paced (a backfill alone goes at CPU speed).
    let target_rate = (rate.is_finite() && end_ns.is_none_or(|e| e > now)).then(|| rate / shards as f64);
    let live =
        std::sync::Arc::new(live::Live { target_rate, shard: (shard_index, shards), seed, ..live::Live::default() });

    if rate.is_finite() && start > now + 1_000_000_000 && !g.quiet {
        say!(
            "note: the start ({}) is {} s from now; the first trace waits until then",
            rfc3339(start),
            (start - now) / 1_000_000_000
        );
    }
    let flags = OtlpFlags {
        endpoint: g.endpoint.clone(),
        protocol: g.protocol.clone(),
        headers: g.headers.clone(),
        compression: g.compression.clone(),
        timeout_ms: g.timeout,
        ca_cert: g.ca_cert.clone(),
        client_cert: g.client_cert.clone(),
        client_key: g.client_key.clone(),
        insecure: g.insecure,
    };
    // Each distinct TLS setting is loaded once, its files read and checked before any
    // connection (the flags' alone by the outputs that are not OTLP, when they need it).
    let tls = TlsCache::default();
    let mut otlp = Vec::new();
    for &sig in &signals {
        if let Some(c) = OtlpConfig::resolve(&flags, sig, &env)? {
            let t = tls.load(&c.tls)?;
            otlp.push((sig, c, t));
        }
    }
    let policy =
        RetryPolicy { max_elapsed: std::time::Duration::from_millis(g.retry_max_elapsed), ..RetryPolicy::default() };

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(g.threads as usize).enable_all().build()?;
    let report = rt.block_on(async {
        let ctx = outputs::Ctx {
            g,
            signals: &signals,
            otlp: &otlp,
            tls: &tls,
            flags_tls: flags.tls(),
            policy,
            live: live.clone(),
            expected,
        };
        let sinks = outputs::build_all(&ctx).await?;
        let plan = pipeline::Plan {
            engine,
            count,
            end_ns,
            schedule,
            shard: (shard_index, shards),
            when_full: run.when_full,
            catch_up: start.saturating_add(pipeline::LATE_NS) < now,
            expected,
            metrics: signals.contains(&Signal::Metrics),
            batch_size: g.batch_size as usize,
            batch_timeout_ns: g.batch_timeout.saturating_mul(1_000_000),
            queue_size: g.queue_size as usize,
            in_flight: g.max_in_flight as usize,
            shutdown_timeout: std::time::Duration::from_millis(g.shutdown_timeout),
            progress: !g.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
            notes: !g.quiet,
            tenant_key,
            metrics_interval_ns: g.metrics_interval.saturating_mul(1_000_000),
            // All at once has no timeline to follow: whole traces, unless asked.
            export_order: g.export_order.unwrap_or(if rate.is_finite() {
                pipeline::ExportOrder::End
            } else {
                pipeline::ExportOrder::Trace
            }),
            reorder_budget: usize::try_from(g.reorder_budget).unwrap_or(usize::MAX),
        };
        pipeline::run(plan, sinks, live.clone()).await
    })?;
    rt.shutdown_timeout(std::time::Duration::from_secs(1));

    // The flags that make the same run again: a backfill's window is written out (its
    // start and end were `now`), and so is a window that came from --duration.
    let mut replay = format!("--seed {seed} --start-time {}", rfc3339_exact(start));
    if let (Some(e), true) = (end, run.backfill.is_some()) {
        replay.push_str(&format!(" --end {}", rfc3339_exact(e)));
    }
    if !g.quiet {
        say_raw!("{}", summary::render(&report, seed, &rfc3339_exact(start), &replay));
    }
    if let Some(path) = &g.summary_json {
        let json = summary::to_json(&report, seed, &rfc3339_exact(start), &replay);
        std::fs::write(path, format!("{json:#}\n")).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &g.manifest {
        let points = report.sinks.iter().filter(|k| k.signal == Signal::Metrics).map(|k| k.generated).max();
        manifest::write(
            path,
            manifest::RunFacts {
                seed,
                start: rfc3339_exact(start),
                end: end.map(rfc3339_exact),
                shard: (shards > 1).then_some((shard_index, shards)),
                scenarios_dirs: &g.scenarios_dir,
                schema_path: g.schema_path.as_deref(),
                incidents: &g.incidents,
                interrupted: report.interrupted,
                counts: manifest::Counts {
                    traces: report.traces,
                    spans: report.spans,
                    log_records: report.logs,
                    metric_points: points.unwrap_or(0),
                },
            },
        )?;
    }
    let dropped = report.sinks.iter().any(|k| k.counts_for_exit && !k.dropped.is_empty());
    Ok(if report.interrupted {
        ExitCode::from(EXIT_INTERRUPTED)
    } else if dropped || !report.close_errors.is_empty() {
        ExitCode::from(EXIT_DROPPED)
    } else {
        ExitCode::SUCCESS
    })
}
