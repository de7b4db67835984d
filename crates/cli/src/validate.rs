//! `validate`: every file on its own (`ok` or its errors, sorted by line), names unique
//! across files, checked against a semantic-convention schema when one is given.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use tsim_engine::{Engine, EngineConfig};
use tsim_scenario::Scenario;
use tsim_scenario::semconv::{Schema, Severity};

use crate::args::Global;
use crate::load_catalog;

/// The source text of a scenario (a file, or a built-in).
fn source_of(s: &Scenario) -> String {
    match s.source.strip_prefix("builtin:") {
        Some(name) => tsim_scenario::BUILTINS.iter().find(|(n, _)| *n == name).map(|(_, t)| t.to_string()),
        None => std::fs::read_to_string(&s.source).ok(),
    }
    .unwrap_or_default()
}

/// Checks `paths` (or, with none, the built-ins and --scenarios-dir); exit 1 on any error.
pub fn validate(paths: &[PathBuf], g: &Global, schema: Option<&Schema>, show: &crate::show::Show) -> Result<ExitCode> {
    if show.show_schema && schema.is_none() {
        usage!(
            "--show-schema needs a schema: --schema-path FILE (or --semconv, SEMCONV, TELEMETRY_SIMULATOR_SCHEMA_PATH)"
        );
    }
    let mut failed = false;
    let mut scenarios: Vec<Scenario> = Vec::new();
    if paths.is_empty() {
        scenarios = load_catalog(g)?.scenarios;
    }
    for p in paths {
        let scan = tsim_scenario::scan(p);
        for w in &scan.warnings {
            say!("warning: {w}");
        }
        for e in &scan.errors {
            failed = true;
            say!("{e}");
        }
        if scan.files.is_empty() && scan.errors.is_empty() {
            failed = true;
            say!("{}: no scenario files (*.yaml, *.yml) here", p.display());
        }
        for f in &scan.files {
            match tsim_scenario::load_file(f, &g.attr_prefix) {
                Ok(None) => say!("warning: {}", tsim_scenario::not_scenario_warning(f)),
                Ok(Some(s)) if g.strict && !s.warnings.is_empty() => {
                    failed = true;
                    for w in &s.warnings {
                        say!("error (--strict): {w}");
                    }
                    out!("invalid {}: {} warning(s), errors with --strict", f.display(), s.warnings.len());
                }
                Ok(Some(s)) => match scenarios.iter().find(|o| o.name == s.name) {
                    Some(o) => {
                        failed = true;
                        out!("invalid {}: scenario name `{}` is also used by {}", s.source, s.name, o.source);
                    }
                    None => scenarios.push(s),
                },
                Err(mut d) => {
                    failed = true;
                    d.0.sort_by_key(|d| (d.line, d.col));
                    say!("{d}");
                    out!("invalid {}: {} error(s)", f.display(), d.0.len());
                }
            }
        }
    }
    if let (true, Some(schema)) = (show.show_schema, schema) {
        out!("{}", crate::show::schema(schema).trim_end());
    }
    let valid: Vec<&Scenario> = scenarios.iter().collect();
    if show.show_spans {
        out!("{}", crate::show::spans(&valid).trim_end());
    }
    if show.show_metrics {
        out!("{}", crate::show::metrics(&valid).trim_end());
    }
    for s in scenarios {
        for w in &s.warnings {
            say!("warning: {w}");
        }
        let mut errors = 0;
        if let Some(schema) = schema {
            for f in schema.check(&s, &source_of(&s)) {
                let kind = match f.severity {
                    Severity::Warning => "warning",
                    Severity::Error => {
                        errors += 1;
                        "error"
                    }
                };
                say!("{kind}: {}", f.diagnostic);
            }
        }
        match Engine::new(&[&s], &EngineConfig::default()) {
            Ok(_) if errors == 0 => out!("ok      {} ({})", s.source, s.name),
            Ok(_) => {
                failed = true;
                out!("invalid {} ({}): {errors} error(s) against the schema", s.source, s.name);
            }
            Err(e) => {
                failed = true;
                out!("invalid {}: {e}", s.source);
            }
        }
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
