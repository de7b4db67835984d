//! `--manifest FILE`: what makes a run again exactly — the tool's version, the seed, the start
//! and end, every flag that shapes the data (as given on the command line or read from the
//! environment), the variables read outside the flags, the contents of the scenario and
//! schema files with their SHA-256 — and what the run generated. `verify` regenerates the
//! expected telemetry from it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result};
use clap::ArgMatches;
use clap::parser::ValueSource;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The version of the manifest's layout.
pub const VERSION: u32 = 1;

/// Flags outside the "Data" heading that shape the data nonetheless: the metrics' interval,
/// and the export order with its budget (metrics count a span when it leaves).
const ALSO_DATA: &[&str] = &["metrics_interval", "export_order", "reorder_budget"];
/// Flags never recorded: written out from the run's resolved values instead (the seed, the
/// start and end: a backfill's window is relative to the time of the run), or meaning
/// nothing to the data (help), or verify's own (the stop).
const NOT_RECORDED: &[&str] = &["seed", "start_time", "end", "backfill", "help", "strict", "stop_after", "manifest"];
/// Variables read outside the flags that shape the data.
pub const DATA_ENV: &[&str] = &[
    "OTEL_RESOURCE_ATTRIBUTES",
    "VENDOR",
    "TELEMETRY_SIMULATOR_VENDOR_NAME",
    "SEMCONV",
    "TENANT_WEIGHTS",
    "TELEMETRY_TENANT_UUIDS",
    "TENANT_UUID",
    "JOB_COMPLETION_INDEX",
    "JOB_COMPLETION_COUNT",
];

/// A file the run read its scenarios or schema from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct File {
    /// Which `--scenarios-dir` it is in (0 for the first; 0 for `--schema-path`).
    pub dir: usize,
    /// Its path inside the folder (for `--scenarios-dir`), or its name (`--schema-path`).
    pub path: String,
    /// `sha256:` and the hex digest of its bytes.
    pub sha256: String,
    /// Its text.
    pub contents: String,
}

/// What a run generated, per signal.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Traces.
    pub traces: u64,
    /// Spans.
    pub spans: u64,
    /// Log records.
    pub log_records: u64,
    /// Metric data points, as handed to the sinks.
    pub metric_points: u64,
}

/// The manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// [`VERSION`].
    pub manifest_version: u32,
    /// `telemetry-simulator`.
    pub tool: String,
    /// The tool's version; another version may generate other data.
    pub tool_version: String,
    /// The subcommand (`run` or `scenario`).
    pub command: String,
    /// The data-shaping flags, each `--name=value` (or `--name` for a switch).
    pub args: Vec<String>,
    /// The variables of [`DATA_ENV`] that were set.
    pub env: BTreeMap<String, String>,
    /// The seed.
    pub seed: u64,
    /// The start (RFC 3339, to the nanosecond).
    pub start_time: String,
    /// The end of the window, when the run had one.
    pub end_time: Option<String>,
    /// This run's shard, when sharded: (index, count).
    pub shard: Option<(u64, u64)>,
    /// The files of `--scenarios-dir`.
    pub scenarios: Vec<File>,
    /// The `--schema-path` file.
    pub schema: Option<File>,
    /// The `--incidents` files (a shipped incident file, given by name, has none), in order:
    /// `dir` is the flag's position among the `--incidents` flags.
    #[serde(default)]
    pub incidents: Vec<File>,
    /// Whether Ctrl-C stopped the run (then `counts.traces` says how far it got).
    pub interrupted: bool,
    /// What the run generated.
    pub counts: Counts,
}

/// The data-shaping flags of the command line, captured once at start.
static ARGS: OnceLock<(String, Vec<String>)> = OnceLock::new();

/// Records the data-shaping flags of `matches` (the whole command line, parsed by `cmd`);
/// called only when the run writes a manifest.
pub fn capture(cmd: &clap::Command, matches: &ArgMatches) {
    let Some((name, sub)) = matches.subcommand() else { return };
    let Some(sub_cmd) = cmd.find_subcommand(name) else { return };
    let mut out = Vec::new();
    let own: Vec<&str> = sub_cmd.get_arguments().map(|a| a.get_id().as_str()).collect();
    let globals = cmd.get_arguments().filter(|a| a.is_global_set());
    for arg in sub_cmd.get_arguments().chain(globals) {
        let id = arg.get_id().as_str();
        let heading = arg.get_help_heading().unwrap_or("");
        let data =
            heading.starts_with("Data") || ALSO_DATA.contains(&id) || (!arg.is_global_set() && own.contains(&id));
        if !data || NOT_RECORDED.contains(&id) || out.iter().any(|(i, _)| i == id) {
            continue;
        }
        // A global's value is in the subcommand's matches when it follows the subcommand,
        // in the top level's when it precedes it.
        let m = [sub, matches].into_iter().find(|m| {
            m.try_get_raw(id).ok().flatten().is_some()
                && !matches!(m.value_source(id), None | Some(ValueSource::DefaultValue))
        });
        let Some(m) = m else { continue };
        let Some(long) = arg.get_long() else { continue };
        let mut flags = Vec::new();
        if arg.get_action().takes_values() {
            for v in m.get_raw(id).into_iter().flatten() {
                flags.push(format!("--{long}={}", v.to_string_lossy()));
            }
        } else if m.get_flag(id) {
            flags.push(format!("--{long}"));
        }
        out.push((id.to_owned(), flags));
    }
    let _ = ARGS.set((name.to_owned(), out.into_iter().flat_map(|(_, f)| f).collect()));
}

/// `sha256:` and the hex digest of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    let mut s = String::from("sha256:");
    for b in d {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn read_file(path: &Path, dir: usize, name: String) -> Result<File> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(File { dir, path: name, sha256: sha256(&bytes), contents: String::from_utf8_lossy(&bytes).into_owned() })
}

/// The scenario files of the `index`-th `--scenarios-dir` (the files the catalog reads: its
/// own scan), by path inside it.
fn folder(index: usize, dir: &Path) -> Result<Vec<File>> {
    tsim_scenario::scan(dir)
        .files
        .iter()
        .map(|p| read_file(p, index, p.strip_prefix(dir).unwrap_or(p).to_string_lossy().into_owned()))
        .collect()
}

/// What the manifest of a run needs from it.
pub struct RunFacts<'a> {
    /// The seed.
    pub seed: u64,
    /// The start, RFC 3339 to the nanosecond.
    pub start: String,
    /// The window's end, if any.
    pub end: Option<String>,
    /// The shard, when sharded.
    pub shard: Option<(u64, u64)>,
    /// `--scenarios-dir`, each.
    pub scenarios_dirs: &'a [PathBuf],
    /// `--schema-path`.
    pub schema_path: Option<&'a Path>,
    /// `--incidents`, each.
    pub incidents: &'a [String],
    /// Stopped by Ctrl-C.
    pub interrupted: bool,
    /// What it generated.
    pub counts: Counts,
}

/// Writes the manifest of a finished run to `path`.
pub fn write(path: &Path, f: RunFacts<'_>) -> Result<()> {
    let (command, args) = ARGS.get().cloned().unwrap_or_default();
    let env = DATA_ENV.iter().filter_map(|k| crate::resolve::env(k).map(|v| ((*k).to_owned(), v))).collect();
    let m = Manifest {
        manifest_version: VERSION,
        tool: "telemetry-simulator".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        command,
        args,
        env,
        seed: f.seed,
        start_time: f.start,
        end_time: f.end,
        shard: f.shard,
        scenarios: f
            .scenarios_dirs
            .iter()
            .enumerate()
            .map(|(i, d)| folder(i, d))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect(),
        schema: f
            .schema_path
            .map(|p| read_file(p, 0, p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()))
            .transpose()?,
        incidents: f
            .incidents
            .iter()
            .enumerate()
            .filter(|(_, a)| Path::new(a).exists())
            .map(|(i, a)| read_file(Path::new(a), i, a.clone()))
            .collect::<Result<_>>()?,
        interrupted: f.interrupted,
        counts: f.counts,
    };
    let text = serde_json::to_string_pretty(&m)?;
    std::fs::write(path, format!("{text}\n")).with_context(|| format!("writing the manifest {}", path.display()))
}

/// Reads a manifest.
pub fn read(path: &Path) -> Result<Manifest> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading the manifest {}", path.display()))?;
    let m: Manifest = serde_json::from_str(&text).with_context(|| format!("{}: not a manifest", path.display()))?;
    if m.manifest_version != VERSION {
        anyhow::bail!("{}: manifest version {} (this tool reads {VERSION})", path.display(), m.manifest_version);
    }
    Ok(m)
}

/// The run's `--run-id`, if it had one.
pub fn run_id(m: &Manifest) -> Option<String> {
    m.args.iter().find_map(|a| a.strip_prefix("--run-id=")).map(str::to_owned)
}

/// The command line that generates the manifest's run again as frames on stdout (no other
/// output), with its files written under `dir`; its environment is the manifest's `env` alone.
pub fn replay_args(m: &Manifest, dir: &Path) -> Result<Vec<String>> {
    let mut args = Vec::new();
    let scenario_dir = |i: usize| dir.join(format!("scenarios-{i}"));
    let dirs = m.args.iter().filter(|a| a.starts_with("--scenarios-dir=")).count();
    for i in 0..dirs {
        std::fs::create_dir_all(scenario_dir(i))?;
    }
    for f in &m.scenarios {
        let p = scenario_dir(f.dir).join(&f.path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&p, &f.contents)?;
    }
    let mut next_dir = 0;
    let schema = match &m.schema {
        Some(f) => {
            let p = dir.join(&f.path);
            std::fs::write(&p, &f.contents)?;
            Some(p)
        }
        None => None,
    };
    let mut incident_files = Vec::new();
    for f in &m.incidents {
        let p = dir.join(format!("incidents-{}.yaml", f.dir));
        std::fs::write(&p, &f.contents)?;
        incident_files.push((f.dir, p));
    }
    let mut next_incidents = 0;
    args.push(m.command.clone());
    for a in &m.args {
        if a.starts_with("--incidents=") {
            match incident_files.iter().find(|(i, _)| *i == next_incidents) {
                Some((_, p)) => args.push(format!("--incidents={}", p.display())),
                None => args.push(a.clone()),
            }
            next_incidents += 1;
            continue;
        }
        if a.starts_with("--scenarios-dir=") {
            args.push(format!("--scenarios-dir={}", scenario_dir(next_dir).display()));
            next_dir += 1;
        } else if a.starts_with("--schema-path=") {
            if let Some(p) = &schema {
                args.push(format!("--schema-path={}", p.display()));
            }
        } else {
            args.push(a.clone());
        }
    }
    args.push(format!("--seed={}", m.seed));
    args.push(format!("--start-time={}", m.start_time));
    if let Some(e) = &m.end_time
        && !m.args.iter().any(|a| a.starts_with("--duration="))
    {
        args.push(format!("--end={e}"));
    }
    args.push(format!("--stop-after={}", m.counts.traces));
    args.extend(["--verify-frames".into(), "--quiet".into()]);
    Ok(args)
}
