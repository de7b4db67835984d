//! Properties of generated traces: determinism, nesting, retries, and the statistics the
//! scenario asked for.

#![allow(clippy::unwrap_used)] // a test fails loudly where its assumption breaks

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;
use tsim_engine::{Engine, EngineConfig, Scratch};
use tsim_model::otlp_proto::ProtoTraceEncoder;
use tsim_model::{AnyValue, StatusCode, TraceBuf, TraceEncoder};
use tsim_scenario::{Catalog, Scenario, parse_scenario};

const START: u64 = 1_766_577_600_000_000_000;

fn catalog() -> Catalog {
    Catalog::load(&[], "vendor").unwrap()
}

fn engine(s: &[&Scenario], seed: u64) -> Engine {
    Engine::new(s, &EngineConfig { seed, tenant_key: "vendor.tenant.id".into(), ..Default::default() }).unwrap()
}

fn encode(e: &Engine, seed_start: u64, n: u64) -> Vec<u8> {
    let mut enc = ProtoTraceEncoder::new();
    let mut buf = TraceBuf::default();
    let mut scratch = Scratch::default();
    for i in 0..n {
        let g = e.generate(i, seed_start + i * 1_000_000, &mut buf, &mut scratch);
        enc.add(e.resources(), g.resource, &buf);
    }
    let mut out = Vec::new();
    enc.finish(e.resources(), &mut out);
    out
}

fn check_nesting(t: &TraceBuf<'_>) -> Result<(), String> {
    let mut by_id: HashMap<[u8; 8], usize> = HashMap::new();
    let mut ids = HashSet::new();
    if t.trace_id == [0; 16] {
        return Err("zero trace id".into());
    }
    for (i, s) in t.spans.iter().enumerate() {
        if s.span_id == [0; 8] || !ids.insert(s.span_id) {
            return Err(format!("bad or duplicate span id at {i}"));
        }
        if s.end_ns < s.start_ns {
            return Err(format!("span {i} ends before it starts"));
        }
        by_id.insert(s.span_id, i);
    }
    for (i, s) in t.spans.iter().enumerate() {
        if i == 0 {
            if !s.is_root() {
                return Err("first span is not the root".into());
            }
            continue;
        }
        let p = &t.spans[*by_id.get(&s.parent_span_id).ok_or(format!("span {i}: parent missing"))?];
        if !(p.start_ns < s.start_ns && s.end_ns < p.end_ns) {
            return Err(format!(
                "span {} [{}, {}] not strictly inside parent {} [{}, {}]",
                t.str(&s.name),
                s.start_ns,
                s.end_ns,
                t.str(&p.name),
                p.start_ns,
                p.end_ns
            ));
        }
        for e in t.events_of(s.events) {
            if e.time_ns < s.start_ns || e.time_ns > s.end_ns {
                return Err(format!("event outside span {i}"));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes(seed in any::<u64>()) {
        let cat = catalog();
        let all: Vec<&Scenario> = cat.scenarios.iter().collect();
        let a = encode(&engine(&all, seed), START, 20);
        let b = encode(&engine(&all, seed), START, 20);
        prop_assert_eq!(&a, &b);
        let c = encode(&engine(&all, seed ^ 1), START, 20);
        prop_assert_ne!(a, c);
    }

    #[test]
    fn every_child_inside_its_parent(seed in any::<u64>(), start in 0u64..(1u64 << 62)) {
        let cat = catalog();
        let fan_out = single(concat!(
            "name: fan\nroot:\n  type: r\n  mode: parallel\n  latency: 5\n  children:\n",
            "    - type: p\n      count: {min: 0, max: 5}\n      latency: {distribution: pareto, scale: 1, shape: 1.2}\n",
            "      retry: {max_attempts: 3, success_rate_per_attempt: [0.3]}\n",
            "      children: [{type: leaf, count: 3, mode: parallel}]\n",
            "    - type: q\n      latency: 0\n",
        ));
        let mut all: Vec<&Scenario> = cat.scenarios.iter().collect();
        all.push(&fan_out);
        let e = engine(&all, seed);
        let mut buf = TraceBuf::default();
        let mut scratch = Scratch::default();
        for i in 0..30 {
            e.generate(i, start, &mut buf, &mut scratch);
            prop_assert!(check_nesting(&buf).is_ok(), "{:?}", check_nesting(&buf));
            prop_assert_eq!(buf.spans[0].start_ns, start);
        }
    }

    #[test]
    fn retry_attempts_are_ordered_with_gaps_at_least_the_backoff(seed in any::<u64>()) {
        let cat = catalog();
        let e = engine(&[cat.find("tool_retry").unwrap()], seed);
        let mut buf = TraceBuf::default();
        let mut scratch = Scratch::default();
        for i in 0..50 {
            e.generate(i, START, &mut buf, &mut scratch);
            let attempts: Vec<_> = buf.spans.iter().filter(|s| buf.str(&s.name) == "vendor.mcp.tool.execute.attempt").collect();
            prop_assert!(!attempts.is_empty() && attempts.len() <= 3);
            // The first attempt is forced to fail.
            prop_assert_eq!(attempts[0].status, StatusCode::Error);
            for (k, a) in attempts.iter().enumerate() {
                let attrs = buf.attrs_of(a.attrs);
                prop_assert_eq!(attrs[0].value, AnyValue::Int(k as i64 + 1));
                prop_assert_eq!(attrs[1].value, AnyValue::Bool(k > 0));
                let has_error_type = attrs.iter().any(|kv| kv.key == "error.type");
                prop_assert_eq!(has_error_type, a.status == StatusCode::Error);
                if k > 0 {
                    // base 150 ms × 2^(k-1), jitter ±25 %: the gap is at least 75 % of that.
                    let min_gap = (150e6 * 2f64.powi(k as i32 - 1) * 0.75) as u64;
                    prop_assert!(a.start_ns >= attempts[k - 1].end_ns + min_gap);
                    prop_assert_eq!(attempts[k - 1].status, StatusCode::Error, "retry after success");
                }
            }
        }
    }
}

fn single(src: &str) -> Scenario {
    parse_scenario(src, "t.yaml", "vendor").unwrap()
}

fn durations_ms(s: &Scenario, n: u64, seed: u64) -> Vec<f64> {
    let e = engine(&[s], seed);
    let mut buf = TraceBuf::default();
    let mut scratch = Scratch::default();
    (0..n)
        .map(|i| {
            e.generate(i, START, &mut buf, &mut scratch);
            (buf.spans[0].end_ns - buf.spans[0].start_ns) as f64 / 1e6
        })
        .collect()
}

/// erf with |error| < 1.2e-7 (Numerical Recipes erfc).
fn erf(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.26551223
            + t * (1.00002368
                + t * (0.37409196
                    + t * (0.09678418
                        + t * (-0.18628806
                            + t * (0.27886807
                                + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
            .exp();
    if x >= 0.0 { 1.0 - r } else { r - 1.0 }
}

fn ks_statistic(mut xs: Vec<f64>, cdf: impl Fn(f64) -> f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len() as f64;
    xs.iter()
        .enumerate()
        .map(|(i, x)| {
            let f = cdf(*x);
            (f - i as f64 / n).abs().max(((i + 1) as f64 / n - f).abs())
        })
        .fold(0.0, f64::max)
}

#[test]
fn log_normal_latencies_pass_a_ks_test() {
    let s = single("name: ln\nroot:\n  type: x\n  latency: {distribution: log_normal, median_ms: 200, sigma: 0.8}\n");
    let n = 4000;
    let crit = 1.63 / (n as f64).sqrt(); // alpha = 0.01
    let cdf = |x: f64| 0.5 * (1.0 + erf((x.ln() - 200f64.ln()) / (0.8 * std::f64::consts::SQRT_2)));
    for seed in 1..=5 {
        let d = ks_statistic(durations_ms(&s, n, seed), cdf);
        assert!(d < crit, "seed {seed}: D = {d} >= {crit}");
    }
    // And the test can fail: the same samples against a different median are rejected.
    let wrong = |x: f64| 0.5 * (1.0 + erf((x.ln() - 230f64.ln()) / (0.8 * std::f64::consts::SQRT_2)));
    assert!(ks_statistic(durations_ms(&s, n, 1), wrong) > crit);
}

#[test]
fn p50_p99_fit_reproduces_the_percentiles() {
    let s = single("name: pp\nroot:\n  type: x\n  latency: {distribution: log_normal, p50: 100, p99: 1000}\n");
    let mut d = durations_ms(&s, 20_000, 7);
    d.sort_by(f64::total_cmp);
    let p50 = d[10_000];
    let p99 = d[19_800];
    assert!((p50 / 100.0 - 1.0).abs() < 0.05, "p50 {p50}");
    assert!((p99 / 1000.0 - 1.0).abs() < 0.12, "p99 {p99}");
}

#[test]
fn rates_probabilities_and_counts_follow_the_scenario() {
    let s = single(
        "name: r\nroot:\n  type: root\n  children:\n    - type: a\n      error: {rate: 0.3, types: {timeout: 3, upstream_5xx: 1}}\n    - type: b\n      probability: 0.25\n    - type: c\n      count: {distribution: poisson, lambda: 2.0, min: 1, max: 6}\n",
    );
    let e = engine(&[&s], 42);
    let mut buf = TraceBuf::default();
    let mut scratch = Scratch::default();
    let n = 4000;
    let (mut a_err, mut b, mut c, mut c_min, mut c_max, mut timeouts) = (0, 0, 0, u64::MAX, 0, 0);
    for i in 0..n {
        e.generate(i, START, &mut buf, &mut scratch);
        let mut cs = 0;
        for sp in &buf.spans {
            match buf.str(&sp.name) {
                "a" if sp.status == StatusCode::Error => {
                    a_err += 1;
                    if buf.str(&sp.status_message) == "timeout" {
                        timeouts += 1;
                    }
                }
                "b" => b += 1,
                "c" => cs += 1,
                _ => {}
            }
        }
        c += cs;
        c_min = c_min.min(cs);
        c_max = c_max.max(cs);
    }
    let frac = |k: u64| k as f64 / n as f64;
    assert!((frac(a_err) - 0.3).abs() < 0.03, "error rate {}", frac(a_err));
    assert!((timeouts as f64 / a_err as f64 - 0.75).abs() < 0.05);
    assert!((frac(b) - 0.25).abs() < 0.03, "probability {}", frac(b));
    assert!(c_min >= 1 && c_max <= 6, "count bounds {c_min}..{c_max}");
    // E[clamp(Poisson(2), 1, 6)] = 2 + P(X=0) ≈ 2.135 (the upper clamp is negligible).
    assert!((frac(c) - 2.135).abs() < 0.08, "mean count {}", frac(c));
}

#[test]
fn errors_propagate_from_parent_and_siblings() {
    let s = single(
        "name: p\nroot:\n  type: root\n  error: {rate: 0.5}\n  children:\n    - type: a\n      error: {propagation: {from_parent: 1.0}}\n    - type: b\n      error: {propagation: {cascade_to_siblings: 1.0}}\n",
    );
    let e = engine(&[&s], 3);
    let mut buf = TraceBuf::default();
    let mut scratch = Scratch::default();
    for i in 0..500 {
        e.generate(i, START, &mut buf, &mut scratch);
        let failed: Vec<bool> = buf.spans.iter().map(|s| s.status == StatusCode::Error).collect();
        assert_eq!(failed[1], failed[0], "child a follows its parent");
        assert_eq!(failed[2], failed[1], "b follows its failed sibling a (and nothing else)");
        if failed[0] {
            let ev = buf.events_of(buf.spans[0].events);
            assert_eq!(buf.str(&ev.last().unwrap().name), "exception");
        }
    }
}

#[test]
fn attribute_generators() {
    let s = single(concat!(
        "name: g\nroot:\n  type: root\n  attributes:\n",
        "    id: {distribution: uuid}\n",
        "    seq: {distribution: sequence, start: 100, step: 2}\n",
        "    tokens: {distribution: log_normal, median: 400, sigma: 0.5}\n",
        "    model: {distribution: categorical, values: {a: 1, b: 0}}\n",
        "    label: {template: \"{model}-{seq}-{trace_index}\"}\n",
    ));
    let e = engine(&[&s], 9);
    let mut buf = TraceBuf::default();
    let mut scratch = Scratch::default();
    e.generate(5, START, &mut buf, &mut scratch);
    let a = buf.attrs_of(buf.spans[0].attrs);
    let AnyValue::Str(id) = a[0].value else { panic!() };
    let id = buf.str(&id);
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "4");
    assert_eq!(a[1].value, AnyValue::Int(110));
    assert!(matches!(a[2].value, AnyValue::Int(_)));
    let AnyValue::Str(m) = a[3].value else { panic!() };
    assert_eq!(buf.str(&m), "a");
    let AnyValue::Str(l) = a[4].value else { panic!() };
    assert_eq!(buf.str(&l), "a-110-5");
}

#[test]
fn mixed_runs_follow_weights_and_tenants() {
    let a = single("name: a\nweight: 3\nroot: {type: a}\n");
    let b = single("name: b\nweight: 1\nroot: {type: b}\n");
    let cfg = EngineConfig {
        seed: 1,
        tenants: vec![("t1".into(), 1.0), ("t2".into(), 1.0)],
        tenant_key: "vendor.tenant.id".into(),
        ..Default::default()
    };
    let e = Engine::new(&[&a, &b], &cfg).unwrap();
    let mut buf = TraceBuf::default();
    let mut scratch = Scratch::default();
    let mut counts = [[0u32; 2]; 2];
    for i in 0..4000 {
        let g = e.generate(i, START, &mut buf, &mut scratch);
        counts[g.scenario][g.tenant.unwrap()] += 1;
        let r = &e.resources().list[g.resource as usize];
        assert_eq!(r.get_str("vendor.tenant.id"), Some(["t1", "t2"][g.tenant.unwrap()]));
    }
    let a_share = (counts[0][0] + counts[0][1]) as f64 / 4000.0;
    assert!((a_share - 0.75).abs() < 0.03, "{a_share}");
    let t1_share = (counts[0][0] + counts[1][0]) as f64 / 4000.0;
    assert!((t1_share - 0.5).abs() < 0.03, "{t1_share}");
}

#[test]
fn log_records_follow_their_rules_and_spans() {
    let s = single(concat!(
        "name: l\nroot:\n  type: root\n  attributes: {user: ana}\n  error: {rate: 0.5}\n",
        "  logs:\n",
        "    - {on: start, message: \"hello {user}\", logger: app}\n",
        "    - {on: end, level: warn, message: \"{span_name} took {duration_ms} ms ({status})\"}\n",
        "    - {on: error, message: \"failed: {error_type}\"}\n",
        "    - {on: end, probability: 0.0, message: never}\n",
    ));
    let e = engine(&[&s], 5);
    let mut buf = TraceBuf::default();
    let mut scratch = Scratch::default();
    let mut failed_seen = false;
    for i in 0..200 {
        e.generate(i, START, &mut buf, &mut scratch);
        let root = buf.spans[0];
        let failed = root.status == StatusCode::Error;
        failed_seen |= failed;
        let bodies: Vec<(&str, u8, u64)> = buf.logs.iter().map(|l| (buf.str(&l.body), l.severity, l.time_ns)).collect();
        let dur = format!("{:.3}", (root.end_ns - root.start_ns) as f64 / 1e6);
        let mut want = vec![("hello ana".to_string(), 9, root.start_ns)];
        want.push((format!("root took {dur} ms ({})", if failed { "ERROR" } else { "OK" }), 13, root.end_ns));
        if failed {
            want.push(("failed: _OTHER".to_string(), 17, root.end_ns));
            want.push(("simulated _OTHER in root".to_string(), 17, root.end_ns));
        }
        let got: Vec<(String, u8, u64)> = bodies.iter().map(|(b, s, t)| (b.to_string(), *s, *t)).collect();
        assert_eq!(got, want);
        assert!(buf.logs.iter().all(|l| l.span == 0));
        assert_eq!(buf.str(&buf.logs[0].logger), "app");
    }
    assert!(failed_seen);
    let quiet = single("name: q\nemit_logs: false\nroot: {type: r, error: {rate: 1.0}, logs: [{message: x}]}\n");
    let e = engine(&[&quiet], 1);
    e.generate(0, START, &mut buf, &mut scratch);
    assert!(buf.logs.is_empty(), "emit_logs: false silences every record");
}

#[test]
fn variants_get_exact_counts_spread_over_the_run() {
    let s = single(concat!(
        "name: v\nrepeat_count: 100\nvariants:\n",
        "  - {name: big, count: 50, vars: {model: gpt-4o}}\n",
        "  - name: small\n    count: 30\n    vars: {model: gpt-4o-mini}\n",
        "    overrides: [{span: \"tool.*\", error: {rate: 1.0, types: [TOOL_TIMEOUT]}}]\n",
        "  - {name: rest, count: 20, vars: {model: other}}\n",
        "root:\n  type: wf\n  attributes: {model: {template: \"m-{var.model}\"}}\n  children: [{type: tool.call}]\n",
    ));
    let mut e = engine(&[&s], 1);
    e.plan_exact_counts(100);
    let mut buf = TraceBuf::default();
    let mut scratch = Scratch::default();
    let mut counts = HashMap::new();
    for i in 0..100 {
        e.generate(i, START, &mut buf, &mut scratch);
        let AnyValue::Str(m) = buf.attrs_of(buf.spans[0].attrs)[0].value else { panic!() };
        let model = buf.str(&m).to_string();
        let tool_failed = buf.spans[1].status == StatusCode::Error;
        assert_eq!(tool_failed, model == "m-gpt-4o-mini", "the override applies to its variant only");
        *counts.entry(model).or_insert(0) += 1;
        // Spread: within any 10 consecutive traces, the 50 % variant appears 4 to 6 times.
        if i >= 9 {
            let window = (i - 9..=i).filter(|k| e.variant_of(*k) == Some(0)).count();
            assert!((4..=6).contains(&window), "at {i}: {window}");
        }
    }
    assert_eq!(counts["m-gpt-4o"], 50);
    assert_eq!(counts["m-gpt-4o-mini"], 30);
    assert_eq!(counts["m-other"], 20);
    // Another count scales by largest remainder: 7 × (50, 30, 20) % → 3.5, 2.1, 1.4 → 4, 2, 1.
    assert_eq!(e.scenarios()[0].variant_counts(7), vec![4, 2, 1]);
    e.plan_exact_counts(7);
    let got: Vec<usize> = (0..7).map(|i| e.variant_of(i).unwrap()).collect();
    assert_eq!(got.iter().filter(|v| **v == 0).count(), 4);
    // Same seed, same layout and bytes.
    assert_eq!(e.variant_of(3), {
        let mut f = engine(&[&s], 1);
        f.plan_exact_counts(7);
        f.variant_of(3)
    });
}

#[test]
fn a_var_without_a_value_is_an_error() {
    let s = single("name: v\nroot:\n  type: wf\n  attributes: {m: {template: \"{var.model}\"}}\n");
    let err = Engine::new(&[&s], &EngineConfig::default()).unwrap_err();
    assert!(matches!(&err, tsim_engine::CompileError::UnsetVar { var, .. } if var == "model"), "{err}");
    assert!(err.to_string().contains("{var.model}"), "{err}");
}

#[test]
fn a_variable_without_a_value_is_an_error_everywhere_templates_are() {
    let head = "name: v\nvariants: [{name: a, count: 1, vars: {model: gpt-4o}}]\nroot:\n  type: r\n";
    for body in [
        "  attributes: {m: {template: \"{var.modle}\"}}\n",
        "  name: \"chat {var.modle}\"\n",
        "  logs: [{message: \"on {var.modle}\"}]\n",
    ] {
        let s = parse_scenario(&format!("{head}{body}"), "t.yaml", "vendor").unwrap();
        let e = Engine::new(&[&s], &EngineConfig::default()).unwrap_err().to_string();
        assert!(e.contains("no `vars: {modle: …}` gives it a value"), "{body}: {e}");
    }
    let ok =
        parse_scenario(&format!("{head}  logs: [{{message: \"on {{var.model}}\"}}]\n"), "t.yaml", "vendor").unwrap();
    assert!(Engine::new(&[&ok], &EngineConfig::default()).is_ok());
}
