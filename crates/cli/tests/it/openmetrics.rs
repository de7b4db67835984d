//! OpenMetrics over the pull endpoint: a real Prometheus (Debian package) started with
//! exemplar storage scrapes `/metrics` in OpenMetrics and keeps the histograms' exemplars,
//! which name spans of the run's own traces file; the exposition passes an OpenMetrics parser
//! we did not write (prometheus_client's) and holds the samples of the text format, which a
//! client without `Accept` still gets and `promtool check metrics` accepts.
//!
//! promtool's `check metrics` reads only the text format (it stops at an exemplar's `#`, and
//! OpenMetrics names counter families without `_total`; prometheus/prometheus#8932), so the
//! OpenMetrics exposition is checked by prometheus_client's parser and by Prometheus' own
//! scrape of it (the target is up, with no error).

use std::collections::HashSet;
use std::process::{Command, Stdio};

use crate::common::*;

/// What Prometheus 3 sends (Prometheus 2 asks for OpenMetrics 1.0.0 at q=1).
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.5,\
    application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

#[test]
fn prometheus_keeps_exemplars_that_point_at_the_run_s_spans() {
    let port = free_port();
    let prom = Prometheus::start(&[port], &["--enable-feature=exemplar-storage"]);
    let dir = tempdir("om-scrape");
    let mut sim = Command::new(bin())
        .args(["--prometheus-listen", &format!("127.0.0.1:{port}"), "--linger", "--output"])
        .arg(dir.join("out"))
        .args(["run", "--count", "400", "--interval", "0", "-q"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_final_export(port, 400);
    let spans = spans_of(&decode_json_file(&dir.join("out/traces.jsonl")));
    let run: HashSet<(String, String)> = spans.iter().map(|s| (s[0].clone(), s[1].clone())).collect();

    // Prometheus reads exemplars only from OpenMetrics: any at all show it negotiated it.
    let mut exemplars = Vec::new();
    wait_until("exemplars of duration_seconds_bucket in Prometheus", || {
        exemplars = prom.exemplars("duration_seconds_bucket");
        !exemplars.is_empty()
    });
    for e in &exemplars {
        assert!(run.contains(e), "exemplar of a span the run did not make: {e:?}");
    }
    wait_until("exemplars of the GenAI histograms", || !prom.exemplars("gen_ai_client_token_usage_bucket").is_empty());
    assert!(prom.exemplars("gen_ai_client_token_usage_bucket").iter().all(|e| run.contains(e)));
    let spans_n = spans.len() as f64;
    assert_eq!(prom.wait_for("sum(calls_total)", spans_n), Some(spans_n));
    // `_created` samples reach it too (one per counter and histogram series).
    assert!(prom.query("count(calls_created)").unwrap() >= 1.0);
    for (health, error) in prom.targets() {
        assert_eq!((health.as_str(), error.as_str()), ("up", ""), "Prometheus' scrape of /metrics");
    }

    // The exposition itself, as Prometheus asks for it, then without `Accept`.
    let (status, content_type, om) = http_get_accept(port, "/metrics", Some(PROMETHEUS_ACCEPT));
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/openmetrics-text; version=1.0.0; charset=utf-8");
    let (status, content_type, text) = http_get_accept(port, "/metrics", None);
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let _ = sim.kill();
    let _ = sim.wait();

    assert!(om.ends_with("\n# EOF\n"));
    assert!(om.contains("# TYPE calls counter\n") && om.contains("\ncalls_total{"));
    assert!(om.contains("# TYPE duration_seconds histogram\n") && om.contains("\nduration_seconds_created{"));
    let report = check_openmetrics(&om, Some(&text));
    assert_eq!(report["text_mismatches"], serde_json::json!([]), "the two expositions differ: {report}");
    assert_eq!(report["types"]["calls"], "counter");
    assert!(report["created"].as_u64().unwrap() > 0);
    let listed = report["exemplars"].as_array().unwrap();
    assert!(!listed.is_empty());
    for e in listed {
        let id = (e[1].as_str().unwrap().to_string(), e[2].as_str().unwrap().to_string());
        assert!(run.contains(&id), "exemplar of a span the run did not make: {e}");
        // On the bucket its value falls in.
        let le = e[4].as_str().unwrap();
        assert!(le == "+Inf" || e[3].as_f64().unwrap() <= le.parse::<f64>().unwrap(), "{e}");
    }

    // The text format, as before: no OpenMetrics in it, and promtool accepts it.
    assert!(!text.contains("# EOF") && !text.contains("_created") && !text.contains(" # {"));
    assert!(text.contains("# TYPE calls_total counter\n"));
    promtool_check(&text);
}

#[test]
fn an_openmetrics_0_0_1_client_gets_the_same_exposition_with_its_version() {
    let port = free_port();
    let dir = tempdir("om-legacy");
    let mut sim = Command::new(bin())
        .current_dir(&dir)
        .args(["--signals", "metrics", "--prometheus-listen", &format!("127.0.0.1:{port}"), "--linger"])
        .args(["scenario", "--name", "multi_tool_turn", "--count", "50", "--interval", "0", "-q"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_final_export(port, 50);
    let (_, legacy_type, legacy) =
        http_get_accept(port, "/metrics", Some("application/openmetrics-text;version=0.0.1,text/plain;q=0.5"));
    let (_, current_type, current) = http_get_accept(port, "/metrics", Some("application/openmetrics-text"));
    let (_, text_type, _) = http_get_accept(port, "/metrics", Some("application/openmetrics-text;q=0.2,text/plain"));
    let _ = sim.kill();
    let _ = sim.wait();
    assert_eq!(legacy_type, "application/openmetrics-text; version=0.0.1; charset=utf-8");
    assert_eq!(current_type, "application/openmetrics-text; version=1.0.0; charset=utf-8");
    assert_eq!(text_type, "text/plain; version=0.0.4; charset=utf-8");
    // The lingering endpoint serves the last export: the same bytes either way (the
    // simulator's own families aside, read anew at each request).
    let sim_part = |s: &str| s.lines().filter(|l| !l.contains("telemetry_simulator")).collect::<Vec<_>>().join("\n");
    assert_eq!(sim_part(&legacy), sim_part(&current));
    check_openmetrics(&legacy, None);
}
