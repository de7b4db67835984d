//! Diagnostics for scenario files: `file:line:col: message`, a source snippet and a hint.

use std::fmt;

/// One problem found in a scenario file, located by line and column (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// File the problem is in (a path, or `builtin:<name>` for built-in scenarios).
    pub file: String,
    /// 1-based line; 0 for a problem of the whole file (missing, unreadable, skipped).
    pub line: u32,
    /// 1-based column.
    pub col: u32,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when we can tell (e.g. "did you mean `latency`?").
    pub help: Option<String>,
    /// The offending source line, for display.
    pub source_line: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Line 0: about the file as a whole (missing, unreadable, skipped), no position.
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)?;
        } else {
            write!(f, "{}:{}:{}: {}", self.file, self.line, self.col, self.message)?;
        }
        if let Some(src) = &self.source_line {
            let gutter = self.line.to_string();
            write!(f, "\n {gutter} | {src}")?;
            let pad = " ".repeat(gutter.len());
            let caret_pad: String = src
                .chars()
                .take(self.col.saturating_sub(1) as usize)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "\n {pad} | {caret_pad}^")?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// All problems found while loading one or more scenario files.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// Reads a text file: (its name for diagnostics, its text), or a located "cannot read".
pub(crate) fn read_source(path: &std::path::Path) -> Result<(String, String), Diagnostics> {
    let name = path.display().to_string();
    // Only a regular file: reading a FIFO or a device would block or never end.
    let read = match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => Err("is not a regular file".to_string()),
        Ok(_) => std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err("no such file".to_string()),
        Err(e) => Err(format!("cannot read: {e}")),
    };
    read.map(|src| (name.clone(), src)).map_err(|message| {
        Diagnostics(vec![Diagnostic { file: name, line: 0, col: 0, message, help: None, source_line: None }])
    })
}

/// Collects diagnostics for one source text.
pub(crate) struct Reporter<'a> {
    pub file: &'a str,
    pub src: &'a str,
    pub diags: Vec<Diagnostic>,
    /// What is accepted but worth saying (a duplicate key); `--strict` makes these errors.
    pub warnings: Vec<Diagnostic>,
}

impl<'a> Reporter<'a> {
    pub fn new(file: &'a str, src: &'a str) -> Self {
        Self { file, src, diags: Vec::new(), warnings: Vec::new() }
    }

    fn located(&self, line: u32, col: u32, message: String, help: Option<String>) -> Diagnostic {
        let source_line = self.src.lines().nth(line.saturating_sub(1) as usize).map(|l| l.trim_end().to_string());
        Diagnostic { file: self.file.to_string(), line: line.max(1), col: col.max(1), message, help, source_line }
    }

    pub fn error(&mut self, line: u32, col: u32, message: impl Into<String>, help: Option<String>) {
        let d = self.located(line, col, message.into(), help);
        self.diags.push(d);
    }

    pub fn warn(&mut self, line: u32, col: u32, message: impl Into<String>) {
        let d = self.located(line, col, message.into(), None);
        self.warnings.push(d);
    }
}

/// The closest candidate to `word`, if it is close enough to be a plausible typo.
pub fn did_you_mean<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        let keys = ["latency", "children", "attributes", "probability"];
        assert_eq!(did_you_mean("latncy", keys), Some("latency"));
        assert_eq!(did_you_mean("chidlren", keys), Some("children"));
        assert_eq!(did_you_mean("zzz", keys), None);
    }

    #[test]
    fn renders_location_snippet_and_help() {
        let mut r = Reporter::new("s.yaml", "name: x\nroot:\n  latncy: 3\n");
        r.error(3, 3, "unknown key `latncy`", Some("did you mean `latency`?".into()));
        let text = r.diags[0].to_string();
        assert!(text.starts_with("s.yaml:3:3: unknown key `latncy`"), "{text}");
        assert!(text.contains(" 3 |   latncy: 3"), "{text}");
        assert!(text.contains("help: did you mean `latency`?"), "{text}");
    }
}
