//! A report's result and how it is shown: aligned tables for a terminal, Markdown, or JSON
//! (the report's own document, whose fields the README documents).

use std::fmt::Write as _;

/// How to show a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns, for a terminal.
    Table,
    /// Markdown tables.
    Markdown,
    /// The report's JSON document.
    Json,
}

/// A titled table of a report.
#[derive(Debug, Clone, Default)]
pub struct Section {
    /// Its title.
    pub title: String,
    /// Column headers.
    pub headers: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
}

impl Section {
    /// A section with these headers.
    pub fn new(title: impl Into<String>, headers: &[&str]) -> Self {
        Self { title: title.into(), headers: headers.iter().map(|h| (*h).to_owned()).collect(), rows: Vec::new() }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }
}

/// A report: tables to show, and the same content as a JSON document.
#[derive(Debug, Clone)]
pub struct Report {
    /// Its title (first line of the table and Markdown forms).
    pub title: String,
    /// Its tables.
    pub sections: Vec<Section>,
    /// Its JSON document.
    pub json: serde_json::Value,
}

fn numeric(s: &str) -> bool {
    let t = s.trim_end_matches(['%', 's']).trim_start_matches('-');
    !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
}

impl Report {
    /// The report in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Json => {
                let mut s = serde_json::to_string_pretty(&self.json).unwrap_or_default();
                s.push('\n');
                s
            }
            Format::Table => self.table(),
            Format::Markdown => self.markdown(),
        }
    }

    fn table(&self) -> String {
        let mut out = format!("{}\n", self.title);
        for s in &self.sections {
            let _ = writeln!(out, "\n{}", s.title);
            if s.rows.is_empty() {
                out.push_str("  (none)\n");
                continue;
            }
            let n = s.headers.len();
            let mut w: Vec<usize> = s.headers.iter().map(|h| h.chars().count()).collect();
            for r in &s.rows {
                for (i, c) in r.iter().enumerate().take(n) {
                    w[i] = w[i].max(c.chars().count());
                }
            }
            let line = |cells: &[String], out: &mut String| {
                let mut l = String::from(" ");
                for (i, c) in cells.iter().enumerate().take(n) {
                    let pad = w[i] - c.chars().count();
                    l.push(' ');
                    if numeric(c) && i > 0 {
                        l.push_str(&" ".repeat(pad));
                        l.push_str(c);
                    } else {
                        l.push_str(c);
                        l.push_str(&" ".repeat(pad));
                    }
                    l.push(' ');
                }
                out.push_str(l.trim_end());
                out.push('\n');
            };
            line(&s.headers, &mut out);
            for r in &s.rows {
                line(r, &mut out);
            }
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!("# {}\n", self.title);
        for s in &self.sections {
            let _ = writeln!(out, "\n## {}\n", s.title);
            if s.rows.is_empty() {
                out.push_str("(none)\n");
                continue;
            }
            let esc = |c: &str| c.replace('|', "\\|");
            let _ = writeln!(out, "| {} |", s.headers.iter().map(|h| esc(h)).collect::<Vec<_>>().join(" | "));
            let _ = writeln!(
                out,
                "|{}|",
                s.headers
                    .iter()
                    .enumerate()
                    .map(|(i, _)| if i == 0 { " --- " } else { " ---: " })
                    .collect::<Vec<_>>()
                    .join("|")
            );
            for r in &s.rows {
                let _ = writeln!(out, "| {} |", r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | "));
            }
        }
        out
    }
}

/// Seconds, shown to the millisecond.
pub fn secs(s: f64) -> String {
    format!("{s:.3}")
}

/// A share, shown as a percentage.
pub fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// A timestamp (Unix ns) in RFC 3339, UTC, to the millisecond.
pub fn time(ns: i64) -> String {
    jiff::Timestamp::from_nanosecond(i128::from(ns))
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}
