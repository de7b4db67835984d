//! A report's result and how it is shown: aligned tables for a terminal, Markdown, JSON (the
//! report's own document, whose fields docs/store.md documents), or one self-contained HTML
//! page with the tables and the report's charts.

use std::fmt::Write as _;

use crate::chart::Chart;

/// How to show a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns, for a terminal.
    Table,
    /// Markdown tables.
    Markdown,
    /// The report's JSON document.
    Json,
    /// One HTML page: charts (inline SVG) and tables, nothing fetched from elsewhere.
    Html,
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
    /// Its charts (drawn only in the HTML form).
    pub charts: Vec<Chart>,
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
            Format::Html => self.html(),
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

    /// Another report's tables and charts after these (one page of several reports).
    pub fn append(&mut self, other: Report) {
        self.charts.extend(other.charts);
        self.sections.extend(other.sections.into_iter().map(|mut s| {
            s.title = format!("{}: {}", other.title, s.title);
            s
        }));
    }

    fn html(&self) -> String {
        let mut out = String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        let _ = writeln!(out, "<title>{}</title>", esc(&self.title));
        out.push_str(concat!(
            "<meta name=\"generator\" content=\"telemetry-simulator\">\n<style>\n",
            "body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}\n",
            "h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em}\n",
            "table{border-collapse:collapse;font-size:13px;margin:6px 0}\n",
            "th,td{border-bottom:1px solid #ddd;padding:3px 10px;text-align:left;white-space:nowrap}\n",
            "td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f4f4f4}\n",
            "figure{margin:12px 0}figure svg{max-width:100%;height:auto;border:1px solid #eee}\n",
            "</style>\n</head>\n<body>\n"
        ));
        let _ = writeln!(out, "<h1>{}</h1>", esc(&self.title));
        for c in &self.charts {
            let _ = writeln!(
                out,
                "<figure class=\"chart\" data-title=\"{}\" data-empty=\"{}\">",
                esc(c.title()),
                c.is_empty()
            );
            out.push_str(&c.svg());
            out.push_str("\n</figure>\n");
        }
        for s in &self.sections {
            let _ = writeln!(out, "<h2>{}</h2>", esc(&s.title));
            if s.rows.is_empty() {
                out.push_str("<p>(none)</p>\n");
                continue;
            }
            out.push_str("<table>\n<tr>");
            for h in &s.headers {
                let _ = write!(out, "<th>{}</th>", esc(h));
            }
            out.push_str("</tr>\n");
            for r in &s.rows {
                out.push_str("<tr>");
                for (i, c) in r.iter().enumerate() {
                    let class = if i > 0 && numeric(c) { " class=\"n\"" } else { "" };
                    let _ = write!(out, "<td{class}>{}</td>", esc(c));
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</table>\n");
        }
        out.push_str("</body>\n</html>\n");
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

/// Text made safe inside HTML elements and attribute values.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
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
