//! `import`: OTLP/JSON lines files (the simulator's output folder, or any) into a store.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use prost::Message;
use tsim_store::{Converted, Store, Table, otlp_json};

/// What the import stored, over all segments.
#[derive(Default)]
pub struct Totals {
    /// Lines read.
    pub lines: u64,
    /// Spans stored.
    pub spans: u64,
    /// Log records stored.
    pub logs: u64,
    /// Metric points stored.
    pub points: u64,
    /// Parquet files written.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

impl Totals {
    fn add(&mut self, c: &Converted) {
        self.spans += c.spans;
        self.logs += c.logs;
        self.points += c.points;
        self.files += c.files.len() as u64;
        self.bytes += c.files.iter().filter_map(|f| std::fs::metadata(&f.path).ok()).map(|m| m.len()).sum::<u64>();
    }
}

/// The files to read: a folder's signal files, or the file itself.
fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<_> = ["traces.jsonl", "logs.jsonl", "metrics.jsonl"]
                .iter()
                .map(|n| p.join(n))
                .filter(|f| f.is_file())
                .collect();
            if found.is_empty() {
                // Another writer's folder (the collector's file exporter): every JSON lines file.
                let rd = std::fs::read_dir(p).with_context(|| format!("{}", p.display()))?;
                found = rd
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|f| f.is_file() && f.extension().is_some_and(|x| x == "json" || x == "jsonl"))
                    .collect();
                found.sort();
            }
            if found.is_empty() {
                bail!(
                    "{}: no traces.jsonl, logs.jsonl, metrics.jsonl or other *.json / *.jsonl file in this folder",
                    p.display()
                );
            }
            out.extend(found);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            bail!("{}: no such file or folder", p.display());
        }
    }
    Ok(out)
}

/// The signal of an OTLP/JSON line, by its top-level key.
fn signal(line: &str) -> Option<Table> {
    let head = &line[..line.len().min(64)];
    if head.contains("\"resourceSpans\"") || head.contains("\"resource_spans\"") {
        Some(Table::Traces)
    } else if head.contains("\"resourceLogs\"") || head.contains("\"resource_logs\"") {
        Some(Table::Logs)
    } else if head.contains("\"resourceMetrics\"") || head.contains("\"resource_metrics\"") {
        Some(Table::Metrics)
    } else {
        None
    }
}

fn encode(table: Table, line: &[u8]) -> Result<Vec<u8>, otlp_json::JsonError> {
    Ok(match table {
        Table::Traces => otlp_json::traces(line)?.encode_to_vec(),
        Table::Logs => otlp_json::logs(line)?.encode_to_vec(),
        Table::Metrics => otlp_json::metrics(line)?.encode_to_vec(),
    })
}

/// Imports `paths` into the store at `store`.
pub fn import(paths: &[PathBuf], store: Option<&Path>, quiet: bool) -> Result<ExitCode> {
    let store = store.unwrap_or(Path::new(super::DEFAULT_STORE));
    let t = load(paths, store)?;
    if !quiet {
        say!(
            "imported {} lines into {}: {} spans, {} log records, {} metric points ({} Parquet files, {:.1} MB)",
            t.lines,
            store.display(),
            t.spans,
            t.logs,
            t.points,
            t.files,
            t.bytes as f64 / 1e6
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads `paths` into the store at `store`; what was read before an error is stored too.
pub fn load(paths: &[PathBuf], store: &Path) -> Result<Totals> {
    let files = files(paths)?;
    let (mut st, replayed) = Store::open(store).with_context(|| format!("opening the store {}", store.display()))?;
    let mut t = Totals::default();
    for c in &replayed {
        t.add(c);
    }
    let result = (|| -> Result<()> {
        for f in &files {
            let r = BufReader::new(File::open(f).with_context(|| format!("{}", f.display()))?);
            for (i, line) in r.lines().enumerate() {
                let line = line.with_context(|| format!("{}:{}", f.display(), i + 1))?;
                if line.trim().is_empty() {
                    continue;
                }
                let Some(table) = signal(&line) else {
                    bail!(
                        "{}:{}:1: not an OTLP/JSON line (no resourceSpans, resourceLogs or resourceMetrics)",
                        f.display(),
                        i + 1
                    );
                };
                let payload = encode(table, line.as_bytes())
                    .map_err(|e| anyhow::anyhow!("{}:{}: {}: {}", f.display(), i + 1, e.path, e.message))?;
                st.append(table, None, &payload)?;
                t.lines += 1;
                if st.full()
                    && let Some(c) = st.flush()?
                {
                    t.add(&c);
                }
            }
        }
        Ok(())
    })();
    // What was read before an error is stored all the same.
    if let Some(c) = st.flush()? {
        t.add(&c);
    }
    result?;
    Ok(t)
}
