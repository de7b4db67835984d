//! `--output-file FILE`: the Python telemetry-simulator 1.x's file export — spans to FILE,
//! metrics to `FILE_metrics.jsonl` and logs to `FILE_logs.jsonl` (`.jsonl` replaced when FILE
//! ends with it), OTLP/JSON lines as in `--output`, instead of the default folder.

use std::path::{Path, PathBuf};

use tsim_sinks::file::FileSink;
use tsim_sinks::{Format, Signal};

use super::{Built, Ctx, Wired, none};

/// The flag of the single-file export.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Flags {
    /// Write spans to FILE, metrics and logs next to it (FILE_metrics.jsonl, FILE_logs.jsonl),
    /// OTLP/JSON lines, instead of the --output folder (the Python telemetry-simulator's flag).
    #[arg(help_heading = "Files", long, global = true, value_name = "FILE", conflicts_with = "output")]
    pub output_file: Option<PathBuf>,
}

/// The file of `signal` for `--output-file path`.
pub(super) fn path_of(path: &Path, signal: Signal) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = name.strip_suffix(".jsonl").unwrap_or(&name);
    match signal {
        Signal::Traces => path.to_path_buf(),
        other => path.with_file_name(format!("{stem}_{}.jsonl", other.as_str())),
    }
}

pub(super) fn build<'a>(c: &'a Ctx<'a>, f: &'a Flags) -> Built<'a> {
    let Some(path) = &f.output_file else { return none() };
    Ok(Box::pin(async move {
        let mut sinks = Vec::new();
        for &sig in c.signals {
            let p = path_of(path, sig);
            let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            sinks.push(Wired::shared(FileSink::create(dir, &name, sig, Format::OtlpJson).await?));
        }
        Ok(sinks)
    }))
}
