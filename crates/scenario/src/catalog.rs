//! Finding scenarios: built-ins compiled into the binary plus YAML files from folders.

use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Diagnostics, Reporter};
use crate::read::Reader;
use crate::spec::Scenario;
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
    parse_file_text(src, file, prefix, false).map(|s| s.expect("not skipped"))
}

/// Whether a parsed YAML file is clearly something else (a semantic-convention schema, a
/// logging configuration, a compose file): a mapping with neither `name:` nor `root:`.
fn not_a_scenario(node: &yaml::Node) -> bool {
    matches!(node.value, yaml::Value::Map(_)) && node.get("name").is_none() && node.get("root").is_none()
}

/// [`parse_scenario`]; with `skip_others`, `Ok(None)` for a file that is clearly not a scenario.
fn parse_file_text(src: &str, file: &str, prefix: &str, skip_others: bool) -> Result<Option<Scenario>, Diagnostics> {
    let mut rep = Reporter::new(file, src);
    let node = yaml::parse(src, &mut rep);
    if skip_others && node.as_ref().is_some_and(not_a_scenario) {
        return Ok(None);
    }
    let scenario = node.and_then(|node| Reader { rep: &mut rep, prefix, trace_keys: Vec::new() }.scenario(&node, file));
    match scenario {
        Some(mut s) if rep.diags.is_empty() => {
            rep.warnings.sort_by_key(|d| (d.line, d.col));
            s.warnings = rep.warnings;
            Ok(Some(s))
        }
        _ => {
            if rep.diags.is_empty() {
                rep.error(1, 1, "scenario could not be read", None);
            }
            Err(Diagnostics(rep.diags))
        }
    }
}

/// What a folder scan found: the scenario files to read, in sorted order, and the entries
/// skipped (not regular files, directories seen before) or unreadable.
#[derive(Debug, Default)]
pub struct Scan {
    /// Regular `*.yaml` / `*.yml` files.
    pub files: Vec<PathBuf>,
    /// Entries skipped, with why (FIFOs, sockets, devices, a directory reached twice).
    pub warnings: Vec<Diagnostic>,
    /// Paths that could not be read.
    pub errors: Vec<Diagnostic>,
}

/// Finds the scenario files under `path` (a file, or a folder read recursively). Only
/// regular files are read (a FIFO or a device would block the reader); each real directory
/// is visited once, so a symlink loop ends at its first repeat.
pub fn scan(path: &Path) -> Scan {
    let mut scan = Scan::default();
    let mut seen = std::collections::HashSet::new();
    scan_into(path, true, &mut scan, &mut seen);
    scan
}

fn scan_into(path: &Path, named: bool, scan: &mut Scan, seen: &mut std::collections::HashSet<PathBuf>) {
    let name = path.display().to_string();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            scan.errors.push(file_error(&name, "no such file or folder".into()));
            return;
        }
        Err(e) => {
            scan.errors.push(file_error(&name, format!("cannot read: {e}")));
            return;
        }
    };
    if meta.is_file() {
        scan.files.push(path.to_path_buf());
        return;
    }
    if !meta.is_dir() {
        let what = if named { "is not a regular file or a folder" } else { "skipped: not a regular file" };
        let d = file_error(&name, what.into());
        if named {
            scan.errors.push(d)
        } else {
            scan.warnings.push(d)
        }
        return;
    }
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if !seen.insert(real.clone()) {
        scan.warnings.push(file_error(&name, format!("skipped: folder {} was read already", real.display())));
        return;
    }
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            scan.errors.push(file_error(&name, format!("cannot read folder: {e}")));
            return;
        }
    };
    entries.sort();
    for p in entries {
        // Sub-folders, and the scenario files (or FIFOs etc. named like them, to warn about).
        if p.is_dir() || matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            scan_into(&p, false, scan, seen);
        }
    }
}

/// Reads and parses one scenario file (a regular file under [`yaml::MAX_FILE_BYTES`], UTF-8).
/// `Ok(None)`: the file is clearly not a scenario (a YAML mapping with neither `name:` nor
/// `root:`, such as a semantic-convention schema), to be skipped with a warning.
pub fn load_file(path: &Path, prefix: &str) -> Result<Option<Scenario>, Diagnostics> {
    use std::io::Read;
    let name = path.display().to_string();
    let one = |m: String| Diagnostics(vec![file_error(&name, m)]);
    let f = std::fs::File::open(path).map_err(|e| one(format!("cannot read: {e}")))?;
    let mut bytes = Vec::new();
    // One byte past the limit tells a file that is too large without reading all of it.
    f.take(yaml::MAX_FILE_BYTES as u64 + 1).read_to_end(&mut bytes).map_err(|e| one(format!("cannot read: {e}")))?;
    if bytes.len() > yaml::MAX_FILE_BYTES {
        return Err(one(format!("file is over the limit of {} bytes", yaml::MAX_FILE_BYTES)));
    }
    let src = String::from_utf8(bytes).map_err(|_| one("file is not UTF-8 text".into()))?;
    parse_file_text(&src, &name, prefix, true)
}

/// Reads every scenario file under `path` (see [`scan`]), returning all scenarios or every
/// problem found; two scenarios with one name are an error. Entries skipped (not regular files,
/// folders seen twice, YAML that is no scenario) are added to `warnings`.
pub fn load_path(path: &Path, prefix: &str, warnings: &mut Vec<Diagnostic>) -> Result<Vec<Scenario>, Diagnostics> {
    let scan = scan(path);
    warnings.extend(scan.warnings);
    let mut diags = scan.errors;
    let mut out: Vec<Scenario> = Vec::new();
    for f in scan.files {
        match load_file(&f, prefix) {
            Ok(None) => warnings.push(not_scenario_warning(&f)),
            Ok(Some(s)) => match out.iter().find(|o| o.name == s.name) {
                Some(o) => diags
                    .push(file_error(&s.source, format!("scenario name `{}` is also used by {}", s.name, o.source))),
                None => out.push(s),
            },
            Err(d) => diags.extend(d.0),
        }
    }
    if diags.is_empty() { Ok(out) } else { Err(Diagnostics(diags)) }
}

/// The warning for a file skipped as not a scenario.
pub fn not_scenario_warning(path: &Path) -> Diagnostic {
    file_error(&path.display().to_string(), "skipped: not a scenario (it has neither `name:` nor `root:`)".into())
}

fn file_error(file: &str, message: String) -> Diagnostic {
    Diagnostic { file: file.to_string(), line: 0, col: 0, message, help: None, source_line: None }
}

/// All scenarios available to a run.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Scenarios in load order: built-ins first, then folders.
    pub scenarios: Vec<Scenario>,
    /// Folder entries skipped while loading (not regular files, folders seen twice).
    pub warnings: Vec<Diagnostic>,
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
        let mut warnings = Vec::new();
        let builtin_count = scenarios.len();
        for dir in dirs {
            match load_path(dir, prefix, &mut warnings) {
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
        if diags.is_empty() { Ok(Catalog { scenarios, warnings }) } else { Err(Diagnostics(diags)) }
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
