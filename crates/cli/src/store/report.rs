//! `report`: the reports over a store, or over a run's output folder (read into a temporary
//! store first), filtered and shown as a table, JSON or Markdown.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use tsim_report::{Filter, Format};

use crate::args::{ReportArgs, ReportCommand, parse_duration_ms};
use crate::resolve::parse_time;

/// The error-rate window of the HTML summary page.
const FIVE_MINUTES_MS: u64 = 300_000;
/// Flows on the HTML summary page.
const HTML_FLOWS: usize = 15;

/// A time flag: RFC 3339, or a duration before now.
fn when(flag: &str, s: &Option<String>) -> Result<Option<u64>> {
    let Some(s) = s else { return Ok(None) };
    if let Ok(ms) = parse_duration_ms(s) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let now = u64::try_from(now).unwrap_or(u64::MAX);
        return Ok(Some(now.saturating_sub(ms.saturating_mul(1_000_000))));
    }
    parse_time(flag, s).map(Some)
}

/// The prices of `report cost`: the example prices, with a scenario's `pricing:` over them.
fn prices(scenario: Option<&str>, g: &crate::args::Global) -> Result<Vec<tsim_model::metrics::Price>> {
    let mut prices = tsim_model::metrics::default_prices();
    if let Some(name) = scenario {
        let cat = crate::load_catalog(g)?;
        let Some(s) = cat.scenarios.iter().find(|s| s.name == name) else {
            usage!("--pricing {name}: no such scenario (`telemetry-simulator list` shows them)");
        };
        for p in &s.pricing {
            prices.retain(|q| q.model != p.model);
            prices.push(p.clone());
        }
    }
    Ok(prices)
}

/// The default source: ./telemetry-store when it is a store, else ./telemetry-out (a run's
/// default output folder).
fn default_source() -> PathBuf {
    let store = PathBuf::from(super::DEFAULT_STORE);
    if super::is_store(&store) { store } else { PathBuf::from("telemetry-out") }
}

/// Runs a report.
pub fn report(cmd: &ReportCommand, a: &ReportArgs, g: &crate::args::Global) -> Result<ExitCode> {
    let source = g.outputs.store.store.as_deref().map_or_else(default_source, Path::to_path_buf);
    let filter = Filter {
        since: when("--since", &a.since)?,
        until: when("--until", &a.until)?,
        service: a.service.clone(),
        tenant: a.tenant.clone(),
        scenario: a.scenario.clone(),
    };
    let format = match a.format.as_str() {
        "json" => Format::Json,
        "markdown" => Format::Markdown,
        "html" => Format::Html,
        _ => Format::Table,
    };
    let src = super::open_source(&source)?;
    let root = &src.snapshot;
    let mut r = match cmd {
        ReportCommand::Summary => tsim_report::summary::report(root, &filter)?,
        ReportCommand::Agent { name } => tsim_report::agent::report(root, &filter, name)?,
        ReportCommand::Slow { threshold, limit } => {
            tsim_report::slow::report(root, &filter, threshold.saturating_mul(1_000_000), *limit)?
        }
        ReportCommand::Errors { limit } => tsim_report::errors::report(root, &filter, *limit)?,
        ReportCommand::Trace { id } => tsim_report::trace::report(root, &filter, id)?,
        ReportCommand::Flows { limit } => tsim_report::flows::report(root, &filter, *limit)?,
        ReportCommand::Activity { limit } => tsim_report::activity::report(root, &filter, *limit)?,
        ReportCommand::Artifacts { path, limit } => {
            tsim_report::artifacts::report(root, &filter, path.as_deref(), *limit)?
        }
        ReportCommand::Cost { pricing } => tsim_report::cost::report(root, &filter, &prices(pricing.as_deref(), g)?)?,
        ReportCommand::ErrorRate { window, above } => {
            tsim_report::error_rate::report(root, &filter, window.saturating_mul(1_000_000), *above)?
        }
    };
    if format == Format::Html && matches!(cmd, ReportCommand::Summary) {
        // The page of the day: the summary with the error rate over time, the cost by model
        // and the flows.
        // (The error rate's chart only: its table has a row per window and service.)
        r.charts.extend(tsim_report::error_rate::report(root, &filter, FIVE_MINUTES_MS * 1_000_000, None)?.charts);
        r.append(tsim_report::cost::report(root, &filter, &prices(None, g)?)?);
        r.append(tsim_report::flows::report(root, &filter, HTML_FLOWS)?);
    }
    out!("{}", r.render(format).trim_end());
    Ok(ExitCode::SUCCESS)
}
