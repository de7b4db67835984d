//! The README and `docs/*.md` tell the truth: every sample shown as `$ telemetry-simulator …`
//! followed by its output is run, and its output must match what the document shows (a `…`
//! line stands for any lines; the timing of the first summary line varies and is not
//! compared); and the flag tables of `docs/cli.md` name every long flag that `--help` of the
//! binary and of each subcommand prints, and no flag that does not exist.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::*;

/// The `$ telemetry-simulator …` samples of a document: (command words, shown output lines).
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

/// The documents whose samples are checked: the README and every `docs/*.md`, with their text.
fn documents() -> Vec<(String, String)> {
    let mut docs = vec![("README.md".to_string(), std::fs::read_to_string(repo().join("README.md")).unwrap())];
    let mut names: Vec<_> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .collect();
    names.sort();
    for n in names {
        let text = std::fs::read_to_string(repo().join("docs").join(&n)).unwrap();
        docs.push((format!("docs/{n}"), text));
    }
    docs
}

#[test]
fn the_documented_samples_are_what_the_binary_prints() {
    let mut checked = 0;
    for (doc, text) in documents() {
        for (words, want) in samples(&text) {
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
                "{doc}: sample `telemetry-simulator {}` differs; it now prints:\n{text}",
                words.join(" ")
            );
            checked += 1;
        }
    }
    assert!(checked >= 2, "expected the README's and docs/incidents.md's samples, found {checked}");
}

/// The long flags a `--help` text defines: the first flag of each option line, and its
/// aliases (`[alias: --semconv]`, `[aliases: --a, --b]`).
fn help_flags(help: &str) -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    for line in help.lines() {
        let t = line.trim_start();
        let t =
            t.strip_prefix('-').filter(|r| r.len() > 2 && r.as_bytes()[1] == b',').map_or(t, |r| r[2..].trim_start());
        if let Some(rest) = t.strip_prefix("--") {
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
            if !name.is_empty() && (line.starts_with("  ")) {
                flags.insert(format!("--{name}"));
            }
        }
    }
    let joined = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for part in joined.split("[alias").skip(1) {
        let list = part.split(']').next().unwrap_or("");
        flags.extend(long_flags(list));
    }
    flags
}

/// Every `--flag` named in a text (a flag's name: letters, digits and dashes).
fn long_flags(text: &str) -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(k) = text[i..].find("--") {
        let at = i + k;
        let before = at.checked_sub(1).map(|j| b[j]);
        let name: String = text[at + 2..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
        let word_start = before.is_none_or(|c| !(c.is_ascii_alphanumeric() || c == b'-'));
        if word_start && name.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
            flags.insert(format!("--{}", name.trim_end_matches('-')));
        }
        i = at + 2 + name.len();
    }
    flags
}

/// The subcommands a `--help` text lists under `Commands:` (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in help.lines() {
        if line == "Commands:" {
            inside = true;
        } else if inside && line.starts_with("  ") && !line.starts_with("   ") {
            let name = line.split_whitespace().next().unwrap_or("");
            if name != "help" {
                out.push(name.to_string());
            }
        } else if inside && !line.starts_with("   ") {
            inside = false;
        }
    }
    out
}

/// The `--help` of a command path: its text.
fn help_of(path: &[String]) -> String {
    let out = std::process::Command::new(bin()).args(path).arg("--help").output().unwrap();
    assert!(out.status.success(), "`telemetry-simulator {} --help` failed", path.join(" "));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_flag_tables_of_docs_cli_md_name_every_flag_and_only_real_ones() {
    let cli = std::fs::read_to_string(repo().join("docs/cli.md")).unwrap();
    let mut inside = false;
    let mut documented = BTreeSet::new();
    for line in cli.lines() {
        if line.starts_with("```") {
            inside = !inside;
        } else if !inside && line.starts_with('|') {
            documented.extend(long_flags(line));
        }
    }
    // Every command path: the binary, each subcommand, each of theirs.
    let mut pending: Vec<Vec<String>> = vec![vec![]];
    let mut printed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    while let Some(path) = pending.pop() {
        let help = help_of(&path);
        for sub in subcommands(&help) {
            let mut p = path.clone();
            p.push(sub);
            pending.push(p);
        }
        for flag in help_flags(&help) {
            printed.entry(flag).or_default().push(path.join(" "));
        }
    }
    assert!(printed.len() > 50, "too few flags read from --help: {printed:?}");
    let missing: Vec<_> = printed
        .iter()
        .filter(|(f, _)| !documented.contains(*f))
        .map(|(f, cmds)| format!("{f} (in `telemetry-simulator {} --help`)", cmds[0]))
        .collect();
    assert!(missing.is_empty(), "docs/cli.md's flag tables do not name: {missing:#?}");
    let unknown: Vec<_> = documented.iter().filter(|f| !printed.contains_key(*f)).collect();
    assert!(unknown.is_empty(), "docs/cli.md's flag tables name flags no --help prints: {unknown:#?}");
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

#[test]
fn help_flags_are_read_with_their_aliases() {
    let help = "Options:\n  -q, --quiet   No summary\n      --start-time <T>  Start (see --seed) [alias:\n                    --start]\n  -h, --help  Print help\n";
    let f = help_flags(help);
    assert_eq!(f.into_iter().collect::<Vec<_>>(), ["--help", "--quiet", "--start", "--start-time"]);
    assert_eq!(long_flags("`--linger[=D]`, `--a-b`, x--y, --").into_iter().collect::<Vec<_>>(), ["--a-b", "--linger"]);
}
