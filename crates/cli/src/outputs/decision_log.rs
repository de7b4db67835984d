//! `--decision-log FILE`: policy decisions appended as JSON lines (the TaskPilot guide's
//! `decision_logs.jsonl` format).

use tsim_model::decision::DecisionEncoder;
use tsim_sinks::Format;

use super::app_log::line_file;
use super::{Built, Ctx};

/// The flag of the decision log.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Flags {
    /// Append policy decisions (the TaskPilot guide's `decision_logs.jsonl` format) to this file.
    #[arg(
        help_heading = "Files",
        long,
        global = true,
        hide_env_values = true,
        env = "TELEMETRY_SIMULATOR_DECISION_LOG",
        value_name = "FILE"
    )]
    pub decision_log: Option<std::path::PathBuf>,
}

pub(super) fn build<'a>(c: &'a Ctx<'a>, f: &'a Flags) -> Built<'a> {
    line_file(c, f.decision_log.as_deref(), "--decision-log", Format::DecisionJson, None, DecisionEncoder::new())
}
