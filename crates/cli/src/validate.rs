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

/// Warns about incidents that hit nothing: a `spans:` glob or attributes that match no span
/// of the scenarios they act on (the built-ins and those validated), unknown scenarios,
/// outage gauges that drive no gauge. Accepted all the same: a run of other scenarios may
/// use them.
fn incident_warnings(validated: &[Scenario], files: &[tsim_scenario::IncidentSpec], g: &Global) {
    let own = validated.iter().any(|s| !s.incidents.is_empty());
    if files.is_empty() && !own {
        return;
    }
    // The built-ins and the validated scenarios, together (a validated one of the same name wins).
    let mut all: Vec<&Scenario> = validated.iter().collect();
    let catalog = load_catalog(&Global { quiet: true, strict: false, ..g.clone() }).ok();
    if let Some(c) = &catalog {
        all.extend(c.scenarios.iter().filter(|b| !validated.iter().any(|v| v.name == b.name)));
    }
    let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
    let warn = |spec: &tsim_scenario::IncidentSpec, (line, col): (u32, u32), what: String| {
        say!("warning: {}:{line}:{col}: incident `{}`: {what}", spec.file, spec.name);
    };
    let Ok(mut engine) = Engine::new(&all, &EngineConfig::default()) else { return };
    if engine.set_incidents(files, 0).is_err() {
        return;
    }
    for (k, spec) in engine.incidents().iter().enumerate() {
        for n in &spec.target.scenarios {
            if !names.contains(&n.as_str()) {
                let hint = tsim_scenario::did_you_mean(n, names.iter().copied())
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default();
                warn(spec, spec.at, format!("no scenario named `{n}`{hint}"));
            }
        }
        if engine.incident_reach(k) == 0 {
            let what = match &spec.target.spans {
                Some(g) => format!("`spans: {g}` with its other conditions matches no span of its scenarios"),
                None => "its conditions match no span of its scenarios".to_string(),
            };
            warn(spec, spec.spans_at, what);
        }
        for at in engine.incident_idle_gauges(k) {
            warn(spec, at, "this gauge matches no declared gauge series of its scenarios".into());
        }
    }
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
    // Incident files (given as paths or with --incidents), to check against the scenarios.
    let mut incidents: Vec<tsim_scenario::IncidentSpec> = Vec::new();
    if paths.is_empty() {
        scenarios = load_catalog(g)?.scenarios;
    }
    for a in &g.incidents {
        match tsim_scenario::load_incidents(a) {
            Ok(list) => {
                out!("ok      {a} ({} incident(s))", list.len());
                incidents.extend(list);
            }
            Err(d) => {
                failed = true;
                say!("{d}");
                out!("invalid {a}: {} error(s)", d.0.len());
            }
        }
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
            if let Ok(src) = std::fs::read_to_string(f)
                && tsim_scenario::is_incident_file(&src)
            {
                match tsim_scenario::parse_incidents(&src, &f.display().to_string()) {
                    Ok(list) => {
                        out!("ok      {} ({} incident(s))", f.display(), list.len());
                        incidents.extend(list);
                    }
                    Err(mut d) => {
                        failed = true;
                        d.0.sort_by_key(|d| (d.line, d.col));
                        say!("{d}");
                        out!("invalid {}: {} error(s)", f.display(), d.0.len());
                    }
                }
                continue;
            }
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
    incident_warnings(&scenarios, &incidents, g);
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
