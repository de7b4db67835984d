//! The Grafana dashboards of the local stack (`deploy/compose/grafana/dashboards`): every
//! panel's PromQL runs against a real Prometheus that scraped simulator runs of the built-ins,
//! and returns data; the test fails naming each empty panel. The dashboards' structure is
//! checked as Grafana reads it: unique panel ids, the provisioned datasource, a grid of 24.

use std::process::{Command, Stdio};
use std::time::Instant;

use crate::common::*;

/// One query of a panel: (dashboard, panel, refId, PromQL as written).
type Query = (String, String, String, String);

fn dashboards() -> Vec<(String, serde_json::Value)> {
    let dir = repo().join("deploy/compose/grafana/dashboards");
    let mut out: Vec<(String, serde_json::Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.file_name().unwrap().to_string_lossy().into_owned(), v)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn queries() -> Vec<Query> {
    let mut out = Vec::new();
    for (file, d) in dashboards() {
        let title = d["title"].as_str().unwrap().to_string();
        for p in d["panels"].as_array().unwrap() {
            for t in p["targets"].as_array().into_iter().flatten() {
                out.push((
                    title.clone(),
                    p["title"].as_str().unwrap().to_string(),
                    t["refId"].as_str().unwrap().to_string(),
                    t["expr"].as_str().unwrap_or_else(|| panic!("{file}: a target without expr")).to_string(),
                ));
            }
        }
    }
    out
}

#[test]
fn the_dashboards_are_well_formed_for_grafana() {
    let datasources =
        std::fs::read_to_string(repo().join("deploy/compose/grafana/provisioning/datasources/datasources.yaml"))
            .unwrap();
    let list = dashboards();
    assert!(list.len() >= 3, "{} dashboards", list.len());
    let mut uids = Vec::new();
    for (file, d) in &list {
        let uid = d["uid"].as_str().unwrap_or_else(|| panic!("{file}: no uid"));
        assert!(!uids.contains(&uid), "{file}: uid {uid} twice");
        uids.push(uid);
        assert!(d["schemaVersion"].as_u64().unwrap() >= 36, "{file}: schemaVersion");
        let mut ids = Vec::new();
        for p in d["panels"].as_array().unwrap() {
            let name = p["title"].as_str().unwrap();
            let id = p["id"].as_u64().unwrap();
            assert!(!ids.contains(&id), "{file}: panel id {id} twice");
            ids.push(id);
            let g = &p["gridPos"];
            let (x, w) = (g["x"].as_u64().unwrap(), g["w"].as_u64().unwrap());
            assert!(x + w <= 24 && g["h"].as_u64().unwrap() > 0, "{file}: panel {name} leaves the grid");
            if p["type"] == "row" {
                continue;
            }
            assert!(!p["description"].as_str().unwrap_or("").is_empty(), "{file}: panel {name} has no description");
            let ds = p["datasource"]["uid"].as_str().unwrap();
            assert!(datasources.contains(&format!("uid: {ds}")), "{file}: panel {name} uses datasource {ds}");
            assert!(!p["targets"].as_array().unwrap().is_empty(), "{file}: panel {name} has no query");
        }
    }
}

/// Grafana's variables in a query, as this test's Prometheus (scraping each second) wants them.
fn expand(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m").replace("$__range", "10m").replace("$__interval", "15s")
}

#[test]
fn every_dashboard_panel_returns_data_from_a_prometheus_that_scraped_the_built_ins() {
    let dir = tempdir("dashboards");
    // The mixed workload of every built-in: the last ten minutes at once, then live, so that
    // counters grow while Prometheus scrapes.
    let live = free_port();
    let child = Command::new(bin())
        .current_dir(&dir)
        .args(["--discard", "--seed", "16", "--metrics-interval", "2", "--quiet"])
        .args(["--prometheus-listen", &format!("127.0.0.1:{live}")])
        .args(["run", "--backfill", "10m", "--follow", "--rate", "20"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _live = Peer { child };
    // A run whose collector is down, so that the simulator's dropped counter has a series.
    let failing = free_port();
    let dead = free_port();
    let child = Command::new(bin())
        .current_dir(&dir)
        .args(["--endpoint", &format!("http://127.0.0.1:{dead}"), "--retry-max-elapsed", "0", "--quiet"])
        .args(["--signals", "traces", "--prometheus-listen", &format!("127.0.0.1:{failing}"), "--linger"])
        .args(["--seed", "3", "--start-time", START, "run", "--count", "20"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _failing = Peer { child };
    wait_port(live);
    wait_port(failing);
    let prom = Prometheus::start(&[live, failing], &[]);

    let all = queries();
    assert!(all.len() >= 30, "{} queries", all.len());
    let start = Instant::now();
    let mut empty: Vec<String>;
    loop {
        empty = Vec::new();
        for (dash, panel, ref_id, expr) in &all {
            match prom.instant(&expand(expr)) {
                Err(e) => panic!("{dash} / {panel} / {ref_id}: Prometheus rejects `{expr}`: {e}"),
                Ok(r) if r.iter().any(|(_, v)| v.is_finite()) => {}
                Ok(r) => empty.push(format!("{dash} / {panel} / {ref_id} ({} series, none finite): {expr}", r.len())),
            }
        }
        if empty.is_empty() || start.elapsed() > PATIENCE {
            break;
        }
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
    assert!(empty.is_empty(), "panels without data:\n{}", empty.join("\n"));

    // What the panels show is what the run made: the models the cost panel lists are the
    // models the run priced, and every policy result appears.
    let models = prom.instant("sum by (gen_ai_request_model) (llm_cost_total)").unwrap();
    assert!(models.len() >= 4, "{models:?}");
    let results = prom.instant("sum by (policy_decision_result) (policy_decisions_total)").unwrap();
    let names: Vec<&str> = results.iter().filter_map(|(m, _)| m["policy_decision_result"].as_str()).collect();
    assert!(names.contains(&"allow") && names.contains(&"deny"), "{names:?}");
    let dropped = prom.instant("sum(telemetry_simulator_sink_dropped_total)").unwrap();
    assert!(dropped.first().is_some_and(|(_, v)| *v > 0.0), "{dropped:?}");
}
