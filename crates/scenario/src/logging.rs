//! the paper-writing workflow's spec's logging configuration: several loggers, each with its own file, level and
//! included fields, size rotation and retention by age (`loggingConfig:` YAML).

use std::path::{Path, PathBuf};

use crate::diag::{Diagnostics, Reporter};
use crate::yaml::{self, Node, Value};

/// One logger of the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggerSpec {
    /// Logger name (`agent`, `workflow`, `tool`, `error`, `audit`, …).
    pub name: String,
    /// Lowest OTLP severity number written.
    pub min_severity: u8,
    /// File written.
    pub path: PathBuf,
    /// Fields of each line, in order (camelCase names as in the seed: `runId`, `agentId`, …).
    pub fields: Vec<String>,
    /// Rotate before the file would pass this many bytes.
    pub max_bytes: Option<u64>,
    /// Rotated files kept.
    pub max_files: u32,
    /// Rotated files older than this many days are deleted.
    pub retention_days: Option<f64>,
}

/// The loggers of a logging configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoggingConfig {
    /// Loggers in file order.
    pub loggers: Vec<LoggerSpec>,
}

/// Where a logger's relative `output` goes: under `outputDir`, without repeating its last
/// component (`.paper/logs` + `logs/agent.log` → `.paper/logs/agent.log`).
fn resolve(output_dir: &Path, output: &str) -> PathBuf {
    let out = Path::new(output);
    if out.is_absolute() {
        return out.to_path_buf();
    }
    let mut comps = out.components();
    if let (Some(first), Some(last)) = (out.components().next(), output_dir.file_name())
        && first.as_os_str() == last
    {
        comps.next();
    }
    output_dir.join(comps.as_path())
}

fn severity(rep: &mut Reporter<'_>, n: &Node) -> Option<u8> {
    crate::spec::level(rep, n).map(|(number, _)| number)
}

/// Parses a logging configuration; `base` anchors a relative `outputDir`.
pub fn parse_logging_config(src: &str, file: &str, base: &Path) -> Result<LoggingConfig, Diagnostics> {
    let mut rep = Reporter::new(file, src);
    let out = yaml::parse(src, &mut rep).and_then(|root| read(&mut rep, &root, base));
    match out {
        Some(c) if rep.diags.is_empty() => Ok(c),
        _ => {
            if rep.diags.is_empty() {
                rep.error(1, 1, "logging configuration could not be read", None);
            }
            Err(Diagnostics(rep.diags))
        }
    }
}

fn read(rep: &mut Reporter<'_>, root: &Node, base: &Path) -> Option<LoggingConfig> {
    let top = rep.fields(root, "logging configuration", &["loggingConfig"])?;
    let Some(cfg) = top.get("loggingConfig") else {
        rep.error(root.line, root.col, "expected a `loggingConfig:` mapping", None);
        return None;
    };
    let f = rep.fields(cfg, "loggingConfig", &["version", "defaults", "loggers"])?;
    let mut level = 9;
    let mut output_dir = base.to_path_buf();
    let (mut retention, mut max_bytes, mut max_files) = (None, None, 10u32);
    if let Some(d) = f.get("defaults") {
        let df =
            rep.fields(d, "defaults", &["level", "format", "outputDir", "retentionDays", "maxFileSize", "maxFiles"])?;
        if let Some(n) = df.get("level") {
            level = severity(rep, n)?;
        }
        if let Some(n) = df.get("format") {
            rep.choice(n, "format", &["json"])?;
        }
        if let Some(n) = df.get("outputDir") {
            output_dir = base.join(rep.string(n, "outputDir")?);
        }
        if let Some(n) = df.get("retentionDays") {
            retention = Some(rep.number_where(n, "retentionDays", "> 0", |v| v > 0.0)?);
        }
        if let Some(n) = df.get("maxFileSize") {
            let s = match &n.value {
                Value::Str(s) => s.clone(),
                Value::Int(i) => i.to_string(),
                _ => String::new(),
            };
            match crate::units::parse_size(&s) {
                Some(b) => max_bytes = Some(b),
                None => {
                    rep.error(n.line, n.col, format!("maxFileSize `{s}` is not a size (10MB, 512KiB)"), None);
                    return None;
                }
            }
        }
        if let Some(n) = df.get("maxFiles") {
            max_files = rep.count(n, "maxFiles")? as u32;
        }
    }
    let mut loggers = Vec::new();
    let Some(ln) = f.get("loggers") else {
        rep.error(cfg.line, cfg.col, "loggingConfig needs `loggers`", None);
        return None;
    };
    let entries = ln.as_map().map(<[_]>::to_vec).unwrap_or_default();
    for (k, v) in &entries {
        let Some(name) = rep.string(k, "logger name") else { continue };
        let Some(lf) = rep.fields(v, "logger", &["level", "output", "includeFields"]) else { continue };
        let min_severity = match lf.get("level") {
            Some(n) => match severity(rep, n) {
                Some(s) => s,
                None => continue,
            },
            None => level,
        };
        let output = match lf.get("output").and_then(|n| rep.string(n, "output")) {
            Some(o) => o,
            None => format!("{name}.log"),
        };
        let fields = match lf.get("includeFields") {
            Some(n) => rep
                .list(n, "includeFields")
                .map(|l| l.iter().filter_map(|x| rep.string(x, "field")).collect())
                .unwrap_or_default(),
            None => vec!["timestamp".into(), "level".into(), "message".into()],
        };
        loggers.push(LoggerSpec {
            name,
            min_severity,
            path: resolve(&output_dir, &output),
            fields,
            max_bytes,
            max_files,
            retention_days: retention,
        });
    }
    Some(LoggingConfig { loggers })
}

/// Reads and parses a logging configuration file.
pub fn load_logging_config(path: &Path, base: &Path) -> Result<LoggingConfig, Diagnostics> {
    let (name, src) = crate::diag::read_source(path)?;
    parse_logging_config(&src, &name, base)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = r#"
loggingConfig:
  version: "1.0.0"
  defaults:
    level: "info"
    format: "json"
    outputDir: ".paper/logs"
    retentionDays: 30
    maxFileSize: "10MB"
    maxFiles: 10
  loggers:
    agent:
      level: "info"
      output: "logs/agent.log"
      includeFields: [timestamp, runId, agentId, action, duration, status, inputSummary, outputSummary]
    error:
      level: "error"
      output: "logs/error.log"
      includeFields: [timestamp, source, errorType, message, stackTrace, context]
"#;

    #[test]
    fn reads_the_seed_configuration() {
        let c = parse_logging_config(SEED, "l.yaml", Path::new("/w")).unwrap();
        assert_eq!(c.loggers.len(), 2);
        let a = &c.loggers[0];
        assert_eq!(a.path, Path::new("/w/.paper/logs/agent.log"));
        assert_eq!((a.min_severity, a.max_bytes, a.max_files, a.retention_days), (9, Some(10_000_000), 10, Some(30.0)));
        assert_eq!(a.fields[1], "runId");
        assert_eq!(c.loggers[1].min_severity, 17);
        let e = parse_logging_config("loggingConfig:\n  loggers:\n    x: {levle: info}\n", "l.yaml", Path::new("."))
            .unwrap_err();
        assert!(e.to_string().contains("l.yaml:3:9: unknown key `levle`"), "{e}");
    }
}
