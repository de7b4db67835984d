//! Finding scenarios: built-ins compiled into the binary plus YAML files from folders.

use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Diagnostics, Reporter};
use crate::spec::{Reader, Scenario};
use crate::yaml;

/// Built-in scenarios: (file name, YAML text).
pub const BUILTINS: &[(&str, &str)] = &[
    ("successful_agent_turn", include_str!("builtin/successful_agent_turn.yaml")),
    ("tool_retry", include_str!("builtin/tool_retry.yaml")),
    ("multi_tool_turn", include_str!("builtin/multi_tool_turn.yaml")),
    ("agent_handoff_turn", include_str!("builtin/agent_handoff_turn.yaml")),
    ("taskpilot_workflow", include_str!("builtin/taskpilot_workflow.yaml")),
    ("cost_optimization", include_str!("builtin/cost_optimization.yaml")),
    ("performance_bottleneck", include_str!("builtin/performance_bottleneck.yaml")),
    ("policy_violation", include_str!("builtin/policy_violation.yaml")),
    ("error_pattern", include_str!("builtin/error_pattern.yaml")),
    ("agentproxy_task", include_str!("builtin/agentproxy_task.yaml")),
    ("write_paper", include_str!("builtin/write_paper.yaml")),
    ("vos_event_flow", include_str!("builtin/vos_event_flow.yaml")),
    ("example_scenario", include_str!("builtin/example_scenario.yaml")),
];

/// Built-in scenarios that are references: runnable by name, not listed, not in mixed runs.
pub const HIDDEN: &[&str] = &["example_scenario"];

/// Parses one scenario from YAML text. `file` names the source in diagnostics.
pub fn parse_scenario(src: &str, file: &str, prefix: &str) -> Result<Scenario, Diagnostics> {
    let mut rep = Reporter::new(file, src);
    let scenario = yaml::parse(src, &mut rep)
        .and_then(|node| Reader { rep: &mut rep, prefix, trace_keys: Vec::new() }.scenario(&node, file));
    match scenario {
        Some(s) if rep.diags.is_empty() => Ok(s),
        _ => {
            if rep.diags.is_empty() {
                rep.error(1, 1, "scenario could not be read", None);
            }
            Err(Diagnostics(rep.diags))
        }
    }
}

/// Reads every `*.yaml` / `*.yml` file under `path` (a file or a folder, recursively, in
/// sorted order), returning all scenarios or every problem found.
pub fn load_path(path: &Path, prefix: &str) -> Result<Vec<Scenario>, Diagnostics> {
    let mut files = Vec::new();
    let mut diags = Vec::new();
    collect_files(path, &mut files, &mut diags);
    let mut out = Vec::new();
    for f in files {
        let name = f.display().to_string();
        match std::fs::read(&f) {
            Ok(bytes) if bytes.len() > yaml::MAX_FILE_BYTES => diags.push(file_error(
                &name,
                format!("file is {} bytes; the limit is {}", bytes.len(), yaml::MAX_FILE_BYTES),
            )),
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(src) => match parse_scenario(&src, &name, prefix) {
                    Ok(s) => out.push(s),
                    Err(d) => diags.extend(d.0),
                },
                Err(_) => diags.push(file_error(&name, "file is not UTF-8 text".into())),
            },
            Err(e) => diags.push(file_error(&name, format!("cannot read: {e}"))),
        }
    }
    if diags.is_empty() { Ok(out) } else { Err(Diagnostics(diags)) }
}

fn file_error(file: &str, message: String) -> Diagnostic {
    Diagnostic { file: file.to_string(), line: 1, col: 1, message, help: None, source_line: None }
}

fn collect_files(path: &Path, files: &mut Vec<PathBuf>, diags: &mut Vec<Diagnostic>) {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            diags.push(file_error(&path.display().to_string(), format!("cannot read: {e}")));
            return;
        }
    };
    if meta.is_file() {
        files.push(path.to_path_buf());
        return;
    }
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            diags.push(file_error(&path.display().to_string(), format!("cannot read folder: {e}")));
            return;
        }
    };
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect_files(&p, files, diags);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            files.push(p);
        }
    }
}

/// All scenarios available to a run.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Scenarios in load order: built-ins first, then folders.
    pub scenarios: Vec<Scenario>,
}

impl Catalog {
    /// Built-ins plus every scenario under `dirs`. A folder scenario with the name of a
    /// built-in replaces it; two folder scenarios with one name are an error.
    pub fn load(dirs: &[PathBuf], prefix: &str) -> Result<Catalog, Diagnostics> {
        let mut scenarios: Vec<Scenario> = BUILTINS
            .iter()
            .map(|(name, src)| parse_scenario(src, &format!("builtin:{name}"), prefix))
            .collect::<Result<_, _>>()?;
        let mut diags = Vec::new();
        let builtin_count = scenarios.len();
        for dir in dirs {
            match load_path(dir, prefix) {
                Ok(list) => {
                    for s in list {
                        if let Some(i) = scenarios.iter().position(|o| o.name == s.name) {
                            if i < builtin_count && scenarios[i].source.starts_with("builtin:") {
                                scenarios[i] = s;
                            } else {
                                diags.push(file_error(
                                    &s.source,
                                    format!("scenario name `{}` is also used by {}", s.name, scenarios[i].source),
                                ));
                            }
                        } else {
                            scenarios.push(s);
                        }
                    }
                }
                Err(d) => diags.extend(d.0),
            }
        }
        if diags.is_empty() { Ok(Catalog { scenarios }) } else { Err(Diagnostics(diags)) }
    }

    /// The scenario called `name`.
    pub fn find(&self, name: &str) -> Option<&Scenario> {
        self.scenarios.iter().find(|s| s.name == name)
    }

    /// Whether a scenario is a hidden reference (not listed, not mixed).
    pub fn is_hidden(s: &Scenario) -> bool {
        s.source.starts_with("builtin:") && HIDDEN.contains(&s.name.as_str())
    }

    /// Scenarios shown by `list` and used by mixed runs.
    pub fn listed(&self) -> impl Iterator<Item = &Scenario> {
        self.scenarios.iter().filter(|s| !Self::is_hidden(s))
    }
}
