//! `--artifact-log FILE`: the artifacts spans wrote, appended as JSON lines (the
//! paper-writing workflow's spec `artifact_diffs.jsonl` records).

use tsim_model::artifact::ArtifactEncoder;
use tsim_sinks::Format;

use super::app_log::line_file;
use super::{Built, Ctx};

/// The flag of the artifact log.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Flags {
    /// Append artifact diffs (the paper-writing workflow's spec `artifact_diffs.jsonl` records) to this file.
    #[arg(
        help_heading = "Files",
        long,
        global = true,
        hide_env_values = true,
        env = "TELEMETRY_SIMULATOR_ARTIFACT_LOG",
        value_name = "FILE"
    )]
    pub artifact_log: Option<std::path::PathBuf>,
}

pub(super) fn build<'a>(c: &'a Ctx<'a>, f: &'a Flags) -> Built<'a> {
    line_file(c, f.artifact_log.as_deref(), "--artifact-log", Format::ArtifactJson, None, ArtifactEncoder::new())
}
