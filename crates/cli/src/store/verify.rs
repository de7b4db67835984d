//! `verify --manifest FILE --store DIR`: generates the manifest's run again (this program,
//! run with the manifest's flags and its environment alone, writing nothing but its OTLP
//! requests, as frames on a pipe) and compares the store the telemetry arrived in with it
//! as the requests come.

use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, Result};
use tsim_report::Format;
use tsim_report::verify::{Counts, Verdict};

use crate::args::Global;
use crate::manifest;

/// Exit status when the stores differ.
pub const EXIT_DIFFERENCES: u8 = 4;

/// Variables the regeneration keeps from this process (none of them shapes data).
const KEEP_ENV: &[&str] = &["PATH", "HOME", "TMPDIR", "LANG"];

/// Runs `verify`.
pub fn verify(g: &Global, format: &str, per: u64) -> Result<ExitCode> {
    let Some(path) = &g.manifest else {
        usage!("verify needs --manifest FILE (written by the run with --manifest FILE)");
    };
    let Some(store) = g.outputs.store.store.as_deref() else {
        usage!("verify needs --store DIR: the store the run's telemetry arrived in (or a folder of OTLP/JSON files)");
    };
    let m = manifest::read(path)?;
    if m.tool_version != env!("CARGO_PKG_VERSION") && !g.quiet {
        say!(
            "warning: {} was written by telemetry-simulator {}; this is {}, which may generate other data",
            path.display(),
            m.tool_version,
            env!("CARGO_PKG_VERSION")
        );
    }
    let work = super::temp("verify");
    std::fs::create_dir_all(&work.0)?;
    let received = super::open_source(store)?;
    let args = manifest::replay_args(&m, &work.0)?;
    let mut cmd = Command::new(std::env::current_exe().context("finding this program")?);
    cmd.args(&args).env_clear().envs(&m.env).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for k in KEEP_ENV {
        if let Some(v) = std::env::var_os(k) {
            cmd.env(k, v);
        }
    }
    let mut child = cmd.spawn().context("running the regeneration")?;
    let (Some(frames), Some(mut err)) = (child.stdout.take(), child.stderr.take()) else {
        anyhow::bail!("running the regeneration: no pipe to it");
    };
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let counts =
        Counts { spans: m.counts.spans, log_records: m.counts.log_records, metric_points: m.counts.metric_points };
    let run = manifest::run_id(&m);
    let compared =
        tsim_report::verify::compare(frames, counts, run.as_deref(), &received.snapshot, &work.0.join("spill"), per);
    let status = child.wait().context("waiting for the regeneration")?;
    let stderr = stderr.join().unwrap_or_default();
    // A comparison that failed stopped reading, which stops the generation too: its own
    // error is the one to tell.
    let (verdict, report) = compared?;
    if !status.success() {
        anyhow::bail!("generating the run again failed ({status}): {}", stderr.trim());
    }
    let format = match format {
        "json" => Format::Json,
        "markdown" => Format::Markdown,
        _ => Format::Table,
    };
    out!("{}", report.render(format).trim_end());
    Ok(match verdict {
        Verdict::Identical => ExitCode::SUCCESS,
        Verdict::Differences => ExitCode::from(EXIT_DIFFERENCES),
    })
}
