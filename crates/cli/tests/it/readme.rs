//! The README tells the truth: every sample shown as `$ telemetry-simulator …` followed by
//! its output is run, and its output must match what the README shows (a `…` line stands
//! for any lines; the timing of the first summary line varies and is not compared).

use crate::common::*;

/// The `$ telemetry-simulator …` samples of the README: (command words, shown output lines).
fn samples(readme: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let mut out = Vec::new();
    let mut lines = readme.lines();
    while let Some(l) = lines.next() {
        if !l.starts_with("```") {
            continue;
        }
        let block: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("```")).collect();
        if let Some(cmd) = block.first().and_then(|f| f.strip_prefix("$ telemetry-simulator ")) {
            let words = cmd.split_whitespace().map(str::to_string).collect();
            out.push((words, block[1..].iter().map(|s| s.to_string()).collect()));
        }
    }
    out
}

/// The summary's first line with its timing masked.
fn masked(line: &str) -> String {
    match (line.find(" generated in "), line.find(" spans/s)")) {
        (Some(a), Some(b)) if a < b => format!("{} generated in _{}", &line[..a], &line[b + " spans/s)".len()..]),
        _ => line.to_string(),
    }
}

/// Whether `got` matches `want`, where a `…` line in `want` stands for any lines.
fn matches(want: &[String], got: &[String]) -> bool {
    match want.split_first() {
        None => got.is_empty(),
        Some((w, rest)) if w.trim() == "…" => (0..=got.len()).any(|k| matches(rest, &got[k..])),
        Some((w, rest)) => got.first().is_some_and(|g| masked(g) == masked(w)) && matches(rest, &got[1..]),
    }
}

#[test]
fn the_readme_samples_are_what_the_binary_prints() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let found = samples(&readme);
    assert!(!found.is_empty(), "no `$ telemetry-simulator` sample in the README");
    for (words, want) in found {
        let dir = tempdir("readme");
        let out = std::process::Command::new(bin())
            .current_dir(&dir)
            .args(&words)
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let got: Vec<String> = text.lines().map(str::to_string).collect();
        assert!(
            matches(&want, &got),
            "README sample `telemetry-simulator {}` differs; it now prints:\n{text}",
            words.join(" ")
        );
    }
}

#[test]
fn an_ellipsis_stands_for_any_lines_and_timing_is_masked() {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert!(matches(&s(&["a", "…", "d"]), &s(&["a", "b", "c", "d"])));
    assert!(matches(&s(&["a", "…", "d"]), &s(&["a", "d"])));
    assert!(!matches(&s(&["a", "…", "d"]), &s(&["a", "b"])));
    assert!(matches(
        &s(&["3 traces generated in 0.00 s (9 spans/s)"]),
        &s(&["3 traces generated in 1.25 s (77 spans/s)"])
    ));
    assert!(!matches(
        &s(&["3 traces generated in 0.00 s (9 spans/s)"]),
        &s(&["4 traces generated in 0.00 s (9 spans/s)"])
    ));
}
