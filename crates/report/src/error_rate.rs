//! `report error-rate --window W [--above P]`: per time window (aligned to the epoch, like
//! `time_bucket`) and service, spans, errors (status Error) and their rate in percent; with
//! `--above`, only the windows above that rate — the VOS guide's error-rate query.

use std::collections::BTreeMap;
use tsim_store::Snapshot;

use serde_json::json;
use tsim_store::Table;

use crate::render::time;
use crate::scan::rows;
use crate::{Filter, Report, ReportError, Section};

const COLUMNS: [&str; 2] = ["StatusCode", "ServiceName"];

/// Error rates per window of `window_ns`, those above `above` percent (all with `None`).
pub fn report(root: &Snapshot, f: &Filter, window_ns: u64, above: Option<f64>) -> Result<Report, ReportError> {
    let window_ns = window_ns.max(1);
    let mut by_service: BTreeMap<String, BTreeMap<u64, (u64, u64)>> = BTreeMap::new();
    rows(root, Table::Traces, f, &COLUMNS, |b, i| {
        let t = b.time(i).cast_unsigned();
        let start = t - t % window_ns;
        let service = b.cols[1].str(i).unwrap_or("");
        let windows = match by_service.get_mut(service) {
            Some(w) => w,
            None => by_service.entry(service.to_owned()).or_default(),
        };
        let e = windows.entry(start).or_default();
        e.0 += 1;
        e.1 += u64::from(b.cols[0].is(i, "Error"));
    })?;
    let rate = |(n, e): (u64, u64)| if n == 0 { 0.0 } else { e as f64 * 100.0 / n as f64 };
    // The chart: every window of each service, the busiest services first.
    let mut series: Vec<(u64, crate::chart::Series<i64>)> = by_service
        .iter()
        .map(|(svc, ws)| {
            let spans = ws.values().map(|v| v.0).sum();
            (spans, (svc.clone(), ws.iter().map(|(t, v)| (t.cast_signed(), rate(*v))).collect()))
        })
        .collect();
    series.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.0.cmp(&b.1.0)));
    let chart = crate::Chart::TimeLines {
        title: format!("Error rate per {} s window", window_ns / 1_000_000_000),
        y_label: "error rate %".into(),
        series: series.into_iter().map(|(_, s)| s).collect(),
    };
    let mut w: Vec<((u64, String), (u64, u64))> =
        by_service.into_iter().flat_map(|(svc, ws)| ws.into_iter().map(move |(t, v)| ((t, svc.clone()), v))).collect();
    w.sort_by(|a, b| a.0.cmp(&b.0));
    let kept: Vec<_> = w.into_iter().filter(|(_, v)| above.is_none_or(|a| rate(*v) > a)).collect();
    let title = match above {
        Some(a) => format!("Windows of {} s with an error rate above {a} %", window_ns / 1_000_000_000),
        None => format!("Windows of {} s", window_ns / 1_000_000_000),
    };
    let mut s = Section::new(title, &["window", "service", "spans", "errors", "error rate %"]);
    for ((start, svc), v) in &kept {
        s.row(vec![
            time(start.cast_signed()),
            svc.clone(),
            v.0.to_string(),
            v.1.to_string(),
            format!("{:.2}", rate(*v)),
        ]);
    }
    let json = json!({
        "windowSeconds": window_ns as f64 / 1e9,
        "above": above,
        "windows": kept.iter().map(|((start, svc), v)| json!({
            "window": time(start.cast_signed()), "service": svc, "spans": v.0, "errors": v.1, "errorRate": rate(*v),
        })).collect::<Vec<_>>(),
    });
    Ok(Report { title: "Error rate".into(), sections: vec![s], json, charts: vec![chart] })
}
