//! `list`: the scenarios, grouped by system, in aligned columns.

use std::process::ExitCode;

use anyhow::Result;
use tsim_scenario::{Catalog, Scenario};

/// Prints the listed scenarios of `cat` (name, tags, whole description).
pub fn list(cat: &Catalog) -> Result<ExitCode> {
    let w = cat.listed().map(|s| s.name.len()).max().unwrap_or(4).max(4);
    let tags = |s: &Scenario| format!("[{}]", s.tags.join(", "));
    let tw = cat.listed().map(|s| tags(s).chars().count()).max().unwrap_or(2);
    // Grouped by system, in order of first appearance.
    let mut systems: Vec<&str> = Vec::new();
    for s in cat.listed() {
        if !systems.contains(&s.system.as_str()) {
            systems.push(&s.system);
        }
    }
    for (i, system) in systems.iter().enumerate() {
        if i > 0 {
            out!();
        }
        out!("{system}");
        for s in cat.listed().filter(|s| s.system == *system) {
            // Columns line up; the description is whole (on one line).
            let desc = s.description.split_whitespace().collect::<Vec<_>>().join(" ");
            let t = tags(s);
            let pad = tw - t.chars().count();
            out!("  {:<w$}  {t}{:pad$}  {desc}", s.name, "");
        }
    }
    Ok(ExitCode::SUCCESS)
}
