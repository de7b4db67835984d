//! `verify --manifest FILE --store DIR`: generates the manifest's run again into a temporary
//! store (this program, run with the manifest's flags and its environment alone, writing
//! nothing else) and compares the store the telemetry arrived in with it.

use std::process::{Command, ExitCode};

use anyhow::{Context, Result};
use tsim_report::Format;
use tsim_report::verify::Verdict;

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
    let expected = work.0.join("expected");
    let args = manifest::replay_args(&m, &work.0, &expected)?;
    let mut cmd = Command::new(std::env::current_exe().context("finding this program")?);
    cmd.args(&args).env_clear().envs(&m.env);
    for k in KEEP_ENV {
        if let Some(v) = std::env::var_os(k) {
            cmd.env(k, v);
        }
    }
    let out = cmd.output().context("running the regeneration")?;
    if !out.status.success() {
        anyhow::bail!(
            "generating the run again failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let (received, _temp) = super::open_source(store)?;
    let (verdict, report) = tsim_report::verify::compare(&expected, &received, &work.0.join("spill"), per)?;
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
