//! Incidents measured from the output: error rates inside and outside a window within 3σ
//! of the configured ones, the latency ratio near the multiplier, outage spans all failed
//! fast without children, tokens and arrivals multiplied, marks only where asked and exactly
//! on the spans that start in a window (whatever their trace's start: both edges, and traces
//! that start before a window and end after it), the summary's counts equal to the marked
//! spans, and traces outside the windows unchanged.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use crate::common::{bin, tempdir};
use serde_json::Value;

const START_NS: u64 = 1_794_614_400_000_000_000; // 2026-11-14T00:00:00Z
const MIN: u64 = 60_000_000_000;

const SCENARIO: &str = r#"
name: incident_probe
root:
  type: turn
  latency: {mean_ms: 20, variance: 0.2}
  children:
    - type: llm
      name: "chat {gen_ai.request.model}"
      latency: {mean_ms: 200, variance: 0.2}
      attributes:
        gen_ai.operation.name: chat
        gen_ai.request.model: {distribution: categorical, values: {gpt-4o: 1, gpt-4o-mini: 1}}
        gen_ai.usage.input_tokens: {distribution: log_normal, median: 500, sigma: 0.3}
    - type: tool
      latency: {mean_ms: 50, variance: 0.2}
      error: {rate: 0.05}
      attributes:
        gen_ai.operation.name: execute_tool
        gen_ai.tool.name: {distribution: categorical, values: {search: 1, fetch: 1}}
      children:
        - type: db
          latency: {mean_ms: 5, variance: 0.1}
"#;

const INCIDENTS: &str = r#"
incidents:
  - name: search_errors
    after: 10m
    duration: 10m
    attributes: {gen_ai.tool.name: search}
    error: {rate: 0.4, type: upstream_5xx}
  - name: mini_slow
    after: 30m
    duration: 10m
    spans: "chat gpt-4o-mini"
    latency: {multiply: 5}
  - name: fetch_down
    after: 50m
    duration: 5m
    spans: tool
    attributes: {gen_ai.tool.name: fetch}
    outage: {type: connection_refused}
  - name: token_surge
    after: 60m
    duration: 10m
    spans: "chat *"
    tokens: {multiply: 4}
  - name: rush
    after: 80m
    duration: 10m
    traffic: {multiply: 3}
"#;

/// One span of the output.
#[derive(Debug, Clone, PartialEq)]
struct S {
    trace: String,
    id: String,
    parent: String,
    name: String,
    start: u64,
    end: u64,
    error: bool,
    attrs: BTreeMap<String, String>,
}

fn spans(path: &Path) -> Vec<S> {
    let mut out = Vec::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        for rs in v["resourceSpans"].as_array().unwrap() {
            for ss in rs["scopeSpans"].as_array().unwrap() {
                for sp in ss["spans"].as_array().unwrap() {
                    let attrs = sp["attributes"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|kv| {
                                    let val = kv["value"].as_object().unwrap().values().next().unwrap();
                                    let text = val.as_str().map(str::to_string).unwrap_or_else(|| val.to_string());
                                    (kv["key"].as_str().unwrap().to_string(), text)
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    let n = |k: &str| sp[k].as_str().unwrap().parse::<u64>().unwrap();
                    out.push(S {
                        trace: sp["traceId"].as_str().unwrap().into(),
                        id: sp["spanId"].as_str().unwrap().into(),
                        parent: sp["parentSpanId"].as_str().unwrap_or("").into(),
                        name: sp["name"].as_str().unwrap().into(),
                        start: n("startTimeUnixNano"),
                        end: n("endTimeUnixNano"),
                        error: sp["status"]["code"].as_u64() == Some(2),
                        attrs,
                    });
                }
            }
        }
    }
    out
}

/// Runs the probe scenario (traces only, OTLP/JSON) into `dir`, with `extra` flags.
fn run(dir: &Path, extra: &[&str]) -> Value {
    std::fs::create_dir_all(dir.join("scenarios")).unwrap();
    std::fs::write(dir.join("scenarios/probe.yaml"), SCENARIO).unwrap();
    std::fs::write(dir.join("incidents.yaml"), INCIDENTS).unwrap();
    let out = Command::new(bin())
        .current_dir(dir)
        .args(["--scenarios-dir", "scenarios", "--signals", "traces", "--seed", "11"])
        .args(["--start-time", "2026-11-14T00:00:00Z", "--summary-json", "summary.json", "--quiet"])
        .args(extra)
        .args(["scenario", "--name", "incident_probe", "--rate", "5", "--duration", "100m"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

/// The start of each trace (its root's start).
fn trace_starts(all: &[S]) -> BTreeMap<String, u64> {
    all.iter().filter(|s| s.parent.is_empty()).map(|s| (s.trace.clone(), s.start)).collect()
}

fn within(from_min: u64, to_min: u64) -> impl Fn(u64) -> bool {
    move |t| t >= START_NS + from_min * MIN && t < START_NS + to_min * MIN
}

/// Error fraction of `spans` and whether it is within 3σ of `p`.
fn check_rate(what: &str, spans: &[&S], p: f64) {
    let n = spans.len() as f64;
    assert!(n > 500.0, "{what}: only {n} spans");
    let got = spans.iter().filter(|s| s.error).count() as f64 / n;
    let sigma = (p * (1.0 - p) / n).sqrt();
    assert!((got - p).abs() <= 3.0 * sigma, "{what}: error rate {got:.4}, configured {p} (3σ = {:.4})", 3.0 * sigma);
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = xs.collect();
    assert!(v.len() > 500, "only {} values", v.len());
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn incident_effects_measure_as_configured() {
    let dir = tempdir("incidents");
    let summary = run(&dir.join("with"), &["--incidents", "incidents.yaml", "--mark-incidents"]);
    let all = spans(&dir.join("with/telemetry-out/traces.jsonl"));
    let starts = trace_starts(&all);
    // An incident acts on a span by the span's own start.
    let at = |s: &S| s.start;
    fn tool(name: &'static str) -> impl Fn(&&S) -> bool {
        move |s| s.name == "tool" && s.attrs.get("gen_ai.tool.name").map(String::as_str) == Some(name)
    }

    // Error burst: 40 % of search calls fail in the window, 5 % outside; fetch is untouched.
    let burst = within(10, 20);
    let search: Vec<&S> = all.iter().filter(tool("search")).collect();
    check_rate("search in the window", &search.iter().copied().filter(|s| burst(at(s))).collect::<Vec<_>>(), 0.4);
    check_rate("search before it", &search.iter().copied().filter(|s| within(0, 10)(at(s))).collect::<Vec<_>>(), 0.05);
    let fetch: Vec<&S> = all.iter().filter(tool("fetch")).collect();
    check_rate("fetch in the window", &fetch.iter().copied().filter(|s| burst(at(s))).collect::<Vec<_>>(), 0.05);
    assert!(search.iter().filter(|s| burst(at(s)) && s.error).all(|s| s.attrs["error.type"] == "upstream_5xx"));

    // Latency spike on a templated span name: gpt-4o-mini five times as slow, gpt-4o not.
    let slow = within(30, 40);
    let dur = |model: &'static str, inside: bool| {
        mean(
            all.iter()
                .filter(|s| s.name == format!("chat {model}") && slow(at(s)) == inside && within(0, 80)(at(s)))
                .map(|s| (s.end - s.start) as f64),
        )
    };
    let ratio = dur("gpt-4o-mini", true) / dur("gpt-4o-mini", false);
    assert!((ratio - 5.0).abs() < 0.25, "latency ratio {ratio}, multiplier 5");
    let other = dur("gpt-4o", true) / dur("gpt-4o", false);
    assert!((other - 1.0).abs() < 0.05, "untargeted latency ratio {other}");
    // Parents cover their children: the turns of the window got slower too.
    let turn = |inside: bool| {
        mean(
            all.iter()
                .filter(|s| s.name == "turn" && slow(at(s)) == inside && within(0, 80)(at(s)))
                .map(|s| (s.end - s.start) as f64),
        )
    };
    assert!(turn(true) > 2.0 * turn(false), "turns in the spike {} vs {}", turn(true), turn(false));

    // Outage: every fetch call fails fast with no children; before it, fetch calls query the db.
    let down = within(50, 55);
    let parents: BTreeSet<(&str, &str)> = all.iter().map(|s| (s.trace.as_str(), s.parent.as_str())).collect();
    let out: Vec<&S> = fetch.iter().copied().filter(|s| down(at(s))).collect();
    assert!(out.len() > 300, "{} fetch spans in the outage", out.len());
    for s in &out {
        assert!(s.error && s.attrs["error.type"] == "connection_refused", "{s:?}");
        assert!(!parents.contains(&(s.trace.as_str(), s.id.as_str())), "a refused call has no children: {s:?}");
        assert!(s.end - s.start < 50_000_000, "fails fast: {} ns", s.end - s.start);
    }
    let before: Vec<&S> = fetch.iter().copied().filter(|s| within(40, 50)(at(s))).collect();
    assert!(before.iter().all(|s| parents.contains(&(s.trace.as_str(), s.id.as_str()))));
    check_rate(
        "fetch after the outage",
        &fetch.iter().copied().filter(|s| within(55, 80)(at(s))).collect::<Vec<_>>(),
        0.05,
    );

    // Token surge: four times the input tokens.
    let tokens = |inside: bool| {
        mean(
            all.iter()
                .filter(|s| s.name.starts_with("chat ") && within(60, 70)(at(s)) == inside && within(0, 80)(at(s)))
                .map(|s| s.attrs["gen_ai.usage.input_tokens"].parse::<f64>().unwrap()),
        )
    };
    let t = tokens(true) / tokens(false);
    assert!((t - 4.0).abs() < 0.2, "token ratio {t}");

    // Traffic: three times the arrivals in the rush, the rate elsewhere (constant arrivals).
    let count = |a, b| starts.values().filter(|t| within(a, b)(**t)).count() as i64;
    assert!((count(80, 90) - 3 * 3000).abs() <= 2, "rush: {}", count(80, 90));
    assert!((count(70, 80) - 3000).abs() <= 1 && (count(90, 100) - 3000).abs() <= 1);
    assert_eq!(summary["traces"].as_u64().unwrap() as usize, starts.len());

    // Marks: exactly the hit spans; the summary's counts are theirs.
    let rows = summary["incidents"].as_array().unwrap();
    assert_eq!(rows.len(), 5, "{rows:?}");
    for row in rows {
        let name = row["name"].as_str().unwrap();
        let marked: Vec<&S> = all
            .iter()
            .filter(|s| s.attrs.get("incident.name").is_some_and(|n| n.split(',').any(|x| x == name)))
            .collect();
        if name == "rush" {
            assert!(marked.is_empty());
            assert_eq!(row["traces"].as_i64().unwrap(), count(80, 90), "{row}");
            continue;
        }
        assert_eq!(row["spans"].as_u64().unwrap() as usize, marked.len(), "{row}");
        assert_eq!(row["errors"].as_u64().unwrap() as usize, marked.iter().filter(|s| s.error).count(), "{row}");
        let traces: BTreeSet<&str> = marked.iter().map(|s| s.trace.as_str()).collect();
        assert_eq!(row["traces"].as_u64().unwrap() as usize, traces.len(), "{row}");
    }
    assert_eq!(rows[2]["name"], "fetch_down");
    assert_eq!(rows[2]["start"], "2026-11-14T00:50:00.000000Z");
    assert_eq!(rows[2]["end"], "2026-11-14T00:55:00.000000Z");

    // The rule at the edges: a targeted span is marked exactly when its own start is in the
    // window, also in traces that started before the window or end after it (the short
    // windows of the next test have many of those).
    type Target = Box<dyn Fn(&S) -> bool>;
    let windows: [(&str, u64, u64, Target); 4] = [
        ("search_errors", 10, 20, Box::new(|s: &S| tool("search")(&s))),
        ("mini_slow", 30, 40, Box::new(|s: &S| s.name == "chat gpt-4o-mini")),
        ("fetch_down", 50, 55, Box::new(|s: &S| tool("fetch")(&s))),
        ("token_surge", 60, 70, Box::new(|s: &S| s.name.starts_with("chat "))),
    ];
    let marked_by = |s: &S, name: &str| s.attrs.get("incident.name").is_some_and(|n| n.split(',').any(|x| x == name));
    for (name, from, to, target) in &windows {
        let (a, b) = (START_NS + from * MIN, START_NS + to * MIN);
        for s in all.iter().filter(|s| target(s)) {
            let inside = (a..b).contains(&s.start);
            assert_eq!(marked_by(s, name), inside, "{name}: span starting at {} (window {a}..{b}): {s:?}", s.start);
        }
    }

    // Without --mark-incidents nothing says so; traces with no span in a window (before the
    // rush, which moves later arrivals) are the same as without incidents; same flags, same
    // bytes.
    run(&dir.join("plain"), &["--incidents", "incidents.yaml"]);
    let plain = spans(&dir.join("plain/telemetry-out/traces.jsonl"));
    assert!(plain.iter().all(|s| !s.attrs.contains_key("incident.name")));
    run(&dir.join("none"), &[]);
    let none = spans(&dir.join("none/telemetry-out/traces.jsonl"));
    let quiet = |t: u64| {
        !(within(10, 20)(t) || within(30, 40)(t) || within(50, 55)(t) || within(60, 70)(t) || t >= START_NS + 80 * MIN)
    };
    let touched: BTreeSet<&str> = plain.iter().filter(|s| !quiet(s.start)).map(|s| s.trace.as_str()).collect();
    let outside = |list: &[S]| -> Vec<S> {
        let st = trace_starts(list);
        list.iter().filter(|s| quiet(st[&s.trace]) && !touched.contains(s.trace.as_str())).cloned().collect()
    };
    let (a, b) = (outside(&plain), outside(&none));
    assert!(a.len() > 40_000, "{}", a.len());
    assert!(a == b, "traces outside the windows differ from a run without incidents");
    run(&dir.join("again"), &["--incidents", "incidents.yaml"]);
    let x = std::fs::read(dir.join("plain/telemetry-out/traces.jsonl")).unwrap();
    let y = std::fs::read(dir.join("again/telemetry-out/traces.jsonl")).unwrap();
    assert!(x == y, "same seed and flags, different bytes");
}

/// Windows shorter than a trace: traces that start before a window and end after it have
/// exactly their spans that start inside hit, the others not, and the summary counts them.
#[test]
fn windows_shorter_than_a_trace_hit_the_spans_that_start_inside() {
    let dir = tempdir("incidents-blips");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("blips.yaml"),
        "incidents:\n  - name: blip\n    after: 1m\n    every: 1m\n    duration: 120ms\n    spans: tool\n    \
         latency: {multiply: 3}\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("scenarios")).unwrap();
    std::fs::write(dir.join("scenarios/probe.yaml"), SCENARIO).unwrap();
    let out = Command::new(bin())
        .current_dir(&dir)
        .args(["--scenarios-dir", "scenarios", "--signals", "traces", "--seed", "5", "--incidents", "blips.yaml"])
        .args(["--mark-incidents", "--start-time", "2026-11-14T00:00:00Z", "--summary-json", "summary.json"])
        .args(["--quiet", "scenario", "--name", "incident_probe", "--rate", "20", "--duration", "40m"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let all = spans(&dir.join("telemetry-out/traces.jsonl"));
    let roots: BTreeMap<&str, (u64, u64)> =
        all.iter().filter(|s| s.parent.is_empty()).map(|s| (s.trace.as_str(), (s.start, s.end))).collect();
    let window = |t: u64| -> Option<(u64, u64)> {
        let k = t.checked_sub(START_NS + MIN)? / MIN;
        let a = START_NS + MIN + k * MIN;
        (t < a + 120_000_000).then_some((a, a + 120_000_000))
    };
    let (mut hit, mut straddling, mut left_untouched) = (0, 0, 0);
    for s in all.iter().filter(|s| s.name == "tool") {
        let marked = s.attrs.get("incident.name").is_some_and(|n| n == "blip");
        assert_eq!(marked, window(s.start).is_some(), "tool span starting at {}: {s:?}", s.start);
        let (t0, t1) = roots[s.trace.as_str()];
        if let Some((a, b)) = window(s.start) {
            hit += 1;
            straddling += usize::from(t0 < a && t1 > b);
        } else if window(t0).is_some() {
            left_untouched += 1;
        }
    }
    assert!(straddling > 0, "no trace that starts before a window and ends after it ({hit} spans hit)");
    assert!(left_untouched > 0, "no untouched tool span of a trace that began in a window");
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let spans_counted: u64 =
        summary["incidents"].as_array().unwrap().iter().map(|r| r["spans"].as_u64().unwrap()).sum();
    assert_eq!(spans_counted as usize, hit, "{summary}");
}

#[test]
fn validate_locates_incident_errors_and_warns_about_targets_that_match_nothing() {
    let dir = tempdir("incidents-validate");
    std::fs::write(
        dir.join("inc.yaml"),
        "incidents:\n  - name: nothing\n    after: 1m\n    duration: 1m\n    spans: \"no such span *\"\n    latency: {multiply: 2}\n  - name: typo\n    after: 1m\n    duration: 1m\n    scenarios: [vos_event_flw]\n    traffic: {multiply: 2}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("bad.yaml"),
        "incidents:\n  - name: x\n    at: yesterday\n    duration: 1m\n    error: {rate: 0.5}\n",
    )
    .unwrap();
    let out = Command::new(bin()).current_dir(&dir).args(["validate", "inc.yaml", "bad.yaml"]).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("ok      inc.yaml (2 incident(s))"), "{stdout}");
    assert!(stderr.contains("bad.yaml:3:9: at `yesterday` is not an RFC 3339 time"), "{stderr}");
    assert!(stderr.contains("warning: inc.yaml:5:12: incident `nothing`: `spans: no such span *`"), "{stderr}");
    assert!(stderr.contains("no scenario named `vos_event_flw` (did you mean `vos_event_flow`?)"), "{stderr}");

    // The shipped incident files hit the built-ins: no warning at all.
    let shipped = ["tool_outage", "llm_latency_spike", "error_burst", "cost_surge"];
    let mut cmd = Command::new(bin());
    for s in shipped {
        cmd.args(["--incidents", s]);
    }
    let out = cmd.arg("validate").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");

    // A run with an incident file that does not read fails before generating, naming the place.
    let out = Command::new(bin())
        .current_dir(&dir)
        .args(["--incidents", "bad.yaml", "run", "--count", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.yaml:3:9"));
    let out =
        Command::new(bin()).current_dir(&dir).args(["--incidents", "no_such", "run", "--count", "1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("tool_outage, llm_latency_spike"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_outage_drives_its_gauges_and_a_scenario_may_carry_its_own_incidents() {
    let dir = tempdir("incidents-gauges");
    let out = Command::new(bin())
        .current_dir(&dir)
        .args(["--incidents", "tool_outage", "--seed", "3", "--start-time", "2026-11-14T00:00:00Z", "--quiet"])
        .args(["--signals", "metrics", "--metrics-interval", "30s"])
        .args(["scenario", "--name", "vos_event_flow", "--rate", "2", "--duration", "50m"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // (time, value) of a gauge series from the OTLP/JSON metrics lines.
    let series = |metric: &str, label: (&str, &str)| -> Vec<(u64, f64)> {
        let mut out = Vec::new();
        for line in std::fs::read_to_string(dir.join("telemetry-out/metrics.jsonl")).unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            for rm in v["resourceMetrics"].as_array().unwrap() {
                for sm in rm["scopeMetrics"].as_array().unwrap() {
                    for m in sm["metrics"].as_array().unwrap().iter().filter(|m| m["name"] == metric) {
                        for p in m["gauge"]["dataPoints"].as_array().unwrap() {
                            let has = p["attributes"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .any(|kv| kv["key"] == label.0 && kv["value"]["stringValue"] == label.1);
                            if has {
                                let t: u64 = p["timeUnixNano"].as_str().unwrap().parse().unwrap();
                                let x = p["asDouble"]
                                    .as_f64()
                                    .or_else(|| p["asInt"].as_str().and_then(|s| s.parse().ok()))
                                    .unwrap();
                                out.push((t, x));
                            }
                        }
                    }
                }
            }
        }
        out
    };
    let down = within(20, 30);
    let health = series("health_status", ("service", "weaviate"));
    assert!(health.len() > 80, "{}", health.len());
    assert!(health.iter().filter(|(t, _)| down(*t)).all(|(_, v)| *v == 0.0), "{health:?}");
    let up_outside = health.iter().filter(|(t, _)| !down(*t)).filter(|(_, v)| *v == 1.0).count() as f64;
    let outside = health.iter().filter(|(t, _)| !down(*t)).count() as f64;
    assert!(up_outside / outside > 0.9, "{up_outside}/{outside}");
    // Other dependencies stay up as usual.
    let db = series("health_status", ("service", "database"));
    assert!(db.iter().filter(|(t, _)| down(*t)).any(|(_, v)| *v == 1.0));
    // The notes queue grows through the outage (12 a minute) and drains after it.
    let q = series("queue_depth", ("queue_name", "notes_agent_queue"));
    let at = |min: u64| q.iter().find(|(t, _)| *t >= START_NS + min * MIN).unwrap().1;
    assert!(at(29) > at(20) + 60.0, "queue {} → {}", at(20), at(29));
    assert!(at(35) < at(30) - 60.0, "drains: {} → {}", at(30), at(35));

    // An incident written in a scenario acts on that scenario's own traces.
    let sc = SCENARIO.replace("name: incident_probe", "name: incident_probe\nincidents:\n  - {name: own, after: 0s, duration: 1h, spans: db, outage: {type: timeout}}");
    std::fs::create_dir_all(dir.join("s")).unwrap();
    std::fs::write(dir.join("s/p.yaml"), sc).unwrap();
    let out = Command::new(bin())
        .current_dir(&dir)
        .args([
            "--scenarios-dir",
            "s",
            "--signals",
            "traces",
            "--output",
            "own",
            "--summary-json",
            "own.json",
            "--quiet",
        ])
        .args(["scenario", "--name", "incident_probe", "--count", "200"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let all = spans(&dir.join("own/traces.jsonl"));
    let db: Vec<&S> = all.iter().filter(|s| s.name == "db").collect();
    assert!(!db.is_empty() && db.iter().all(|s| s.error && s.attrs["error.type"] == "timeout"));
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("own.json")).unwrap()).unwrap();
    assert_eq!(summary["incidents"][0]["spans"].as_u64().unwrap() as usize, db.len());
}
