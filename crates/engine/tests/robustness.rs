//! What the scenario reader accepts, the engine runs: built-in scenarios mutated at random
//! (numbers made negative, huge, NaN or text; lines dropped or repeated; values swapped for
//! lists and maps) never panic the reader, and whatever it accepts generates and encodes
//! traces without a panic and within the span budget; what it refuses it locates at
//! `file:line:col`.

#![allow(clippy::unwrap_used)] // a test fails loudly where its assumption breaks

use proptest::prelude::*;
use tsim_engine::{Engine, EngineConfig, Scratch};
use tsim_model::applog::AppLogEncoder;
use tsim_model::otlp_json::JsonTraceEncoder;
use tsim_model::otlp_proto::ProtoTraceEncoder;
use tsim_model::{Items, Lines, TraceBuf, TraceEncoder};
use tsim_scenario::{BUILTINS, parse_scenario};

const START: u64 = 1_766_577_600_000_000_000;

/// Replacements for a value: out of range, of the wrong type, or odd YAML.
const VALUES: &[&str] = &[
    "-1",
    "0",
    "-0.5",
    "99999999999",
    "1e308",
    "-1e308",
    "1e-320",
    ".nan",
    ".inf",
    "-.inf",
    "\"text\"",
    "[1, 2]",
    "{a: 1}",
    "~",
    "true",
    "18446744073709551616",
];

/// One edit of a YAML text, chosen by `pick` (line, what, value).
fn mutate(src: &str, (line, what, value): (usize, u8, usize)) -> String {
    let mut lines: Vec<String> = src.lines().map(str::to_string).collect();
    if lines.is_empty() {
        return String::new();
    }
    let i = line % lines.len();
    match what % 6 {
        // A number inside the line (also within an inline map) replaced.
        4 => {
            let l = lines[i].clone();
            let starts: Vec<usize> = l
                .char_indices()
                .filter(|&(p, c)| c.is_ascii_digit() && (p == 0 || !l.as_bytes()[p - 1].is_ascii_alphanumeric()))
                .map(|(p, _)| p)
                .collect();
            if !starts.is_empty() {
                let p = starts[value % starts.len()];
                let end = l[p..].find(|c: char| !(c.is_ascii_digit() || c == '.')).map_or(l.len(), |e| p + e);
                lines[i] = format!("{}{}{}", &l[..p], VALUES[(value / 7) % VALUES.len()], &l[end..]);
            }
        }
        // A clamp or count key added to an inline map (one of the lines that have one).
        5 => {
            let maps: Vec<usize> = (0..lines.len()).filter(|&k| lines[k].contains('{')).collect();
            let i = if maps.is_empty() { i } else { maps[line % maps.len()] };
            if let Some(p) = lines[i].find('{') {
                let v = VALUES[(value / 7) % VALUES.len()];
                let text = match value % 7 {
                    // Both clamps at once, the lower one possibly above the upper.
                    6 => format!("min: {v}, max: {}, ", VALUES[(value / 3) % VALUES.len()]),
                    k => format!("{}: {v}, ", ["min", "max", "count", "lambda", "variance", "mean_ms"][k]),
                };
                lines[i].insert_str(p + 1, &text);
            }
        }
        // The value after `key:` (or after `- `) replaced.
        0 | 1 => {
            let l = &lines[i];
            if let Some(p) = l.find(": ") {
                lines[i] = format!("{}: {}", &l[..p], VALUES[value % VALUES.len()]);
            } else if let Some(p) = l.find("- ") {
                lines[i] = format!("{}- {}", &l[..p], VALUES[value % VALUES.len()]);
            }
        }
        // A line dropped.
        2 => {
            lines.remove(i);
        }
        // A line repeated (a duplicated key, or a list item twice).
        _ => {
            let l = lines[i].clone();
            lines.insert(i, l);
        }
    }
    lines.join("\n")
}

/// Whether every diagnostic line of a refusal starts with `mutated.yaml:line:col:`.
fn located(e: &str) -> bool {
    let starts = |l: &str| {
        let mut p = l.splitn(4, ':');
        let num = |s: Option<&str>| s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
        p.next() == Some("mutated.yaml") && num(p.next()) && num(p.next()) && p.next().is_some()
    };
    e.lines().next().is_some_and(starts)
}

/// Parses, compiles and runs `src` for 5 traces; panics only on a bug. A refusal of the
/// reader is located at `file:line:col`.
fn run_if_accepted(src: &str) {
    let s = match parse_scenario(src, "mutated.yaml", "vendor") {
        Ok(s) => s,
        Err(e) => {
            let e = e.to_string();
            assert!(located(&e), "a refusal without file:line:col: {e}\n{src}");
            return;
        }
    };
    let cfg = EngineConfig { seed: 3, tenant_key: "vendor.tenant.id".into(), ..Default::default() };
    let Ok(engine) = Engine::new(&[&s], &cfg) else { return };
    let mut buf = TraceBuf::default();
    let mut scratch = Scratch::default();
    let mut proto = ProtoTraceEncoder::new();
    let mut json = JsonTraceEncoder::for_items(Items::Logs);
    let mut app = Lines::new(AppLogEncoder::new());
    for i in 0..5 {
        let g = engine.generate(i, START + i * 1_000_000_000, &mut buf, &mut scratch);
        assert!(
            buf.spans.len() as u64 <= s.max_spans + 200,
            "{} spans over the budget {}",
            buf.spans.len(),
            s.max_spans
        );
        proto.add(engine.resources(), g.resource, &buf);
        json.add(engine.resources(), g.resource, &buf);
        app.add(engine.resources(), g.resource, &buf);
    }
    let mut out = Vec::new();
    proto.finish(engine.resources(), &mut out);
    json.finish(engine.resources(), &mut out);
    app.finish(engine.resources(), &mut out);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_builtins_never_panic(which in 0usize..64, edits in proptest::collection::vec((0usize..4096, 0u8..6, 0usize..1024), 1..4)) {
        let (_, src) = BUILTINS[which % BUILTINS.len()];
        let mut text = src.to_string();
        for e in edits {
            text = mutate(&text, e);
        }
        run_if_accepted(&text);
    }
}

#[test]
fn every_value_on_every_line_of_one_builtin() {
    // Exhaustive for the smallest built-in: each line's value, and each clamp added to each
    // inline map, with every value.
    let (_, src) = BUILTINS.iter().min_by_key(|(_, s)| s.len()).unwrap();
    for line in 0..src.lines().count() {
        for v in 0..VALUES.len() {
            run_if_accepted(&mutate(src, (line, 0, v)));
        }
    }
    let maps = src.lines().filter(|l| l.contains('{')).count();
    for line in 0..maps {
        for v in 0..7 * VALUES.len() {
            run_if_accepted(&mutate(src, (line, 5, v)));
        }
    }
}

#[test]
fn a_trace_over_the_span_budget_is_cut_and_reported() {
    let src = "name: wide\nroot:\n  type: turn\n  children:\n    - type: step\n      count: 50\n      children:\n        - type: leaf\n          count: 50\n";
    let mut s = parse_scenario(src, "wide.yaml", "vendor").unwrap();
    assert_eq!(s.max_spans, 100_000);
    // The reader checks the worst case (2,551 spans here); a lower budget set afterwards
    // is what the engine enforces while it builds.
    s.max_spans = 100;
    let engine = Engine::new(&[&s], &EngineConfig { seed: 1, ..Default::default() }).unwrap();
    let mut buf = TraceBuf::default();
    let g = engine.generate(0, START, &mut buf, &mut Scratch::default());
    assert!(g.cut);
    assert!(buf.spans.len() <= 100 + 2, "{} spans", buf.spans.len());
    s.max_spans = 100_000;
    let engine = Engine::new(&[&s], &EngineConfig { seed: 1, ..Default::default() }).unwrap();
    let g = engine.generate(0, START, &mut buf, &mut Scratch::default());
    assert!(!g.cut);
    assert_eq!(buf.spans.len(), 1 + 50 + 50 * 50);
}

#[test]
fn the_reader_refuses_a_tree_over_the_budget_naming_the_nodes() {
    let src = "name: huge\nroot:\n  type: turn\n  children:\n    - type: step\n      count: {min: 1, max: 99999999999}\n      children:\n        - type: leaf\n          count: 3\n";
    let e = parse_scenario(src, "huge.yaml", "vendor").unwrap_err().to_string();
    assert!(e.starts_with("huge.yaml:5:7: a trace may have up to 399999999997 spans"), "{e}");
    assert!(e.contains("`step` (line 5): count up to 99999999999"), "{e}");
    assert!(e.contains("`leaf` (line 8): count up to 3"), "{e}");
    let ok =
        "max_spans_per_trace: 20\nname: small\nroot:\n  type: turn\n  children:\n    - type: step\n      count: 19\n";
    assert_eq!(parse_scenario(ok, "s.yaml", "vendor").unwrap().max_spans, 20);
    let over = ok.replace("count: 19", "count: 20");
    let e = parse_scenario(&over, "s.yaml", "vendor").unwrap_err().to_string();
    assert!(e.contains("up to 21 spans, over the budget of 20"), "{e}");
}

#[test]
fn bounds_that_cannot_hold_are_refused_where_they_are_written() {
    let bad = [
        (
            "latency: {mean_ms: 80, variance: 0.1, min: 99999999999, max: 0}",
            "3:12: latency: min (99999999999) is greater than max (0)",
        ),
        ("latency: {mean_ms: 80, max: -5}", "3:31: max must be >= 0, found -5"),
        (
            "latency: {distribution: normal, mean_ms: 5, stddev_ms: 1, min: 9, max: 2}",
            "3:12: latency: min (9) is greater than max (2)",
        ),
        ("latency: {distribution: poisson, lambda: 1e300}", "3:44: lambda must be"),
    ];
    for (latency, want) in bad {
        let src = format!("name: b\nroot:\n  {latency}\n  type: t\n");
        let e = parse_scenario(&src, "b.yaml", "vendor").unwrap_err().to_string();
        assert!(e.starts_with(&format!("b.yaml:{want}")), "{latency}: {e}");
    }
}
