//! The OpenMetrics file: each export's family blocks are appended to a part file per family
//! (a block whole or not at all), and at close the parts are joined into the file, family
//! after family, ending with `# EOF` — OpenMetrics allows no family to be interleaved. The
//! file appears (by rename) only once it is complete.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use tsim_sinks::{Batch, BoxFuture, Delivery, Format, Signal, Sink, SinkBuildError, SinkError};

/// One family: its header lines (from its first block) and its part file.
struct Family {
    name: String,
    header: String,
    part: File,
    len: u64,
}

/// The parts and where they end up.
struct Parts {
    path: PathBuf,
    dir: PathBuf,
    families: Vec<Family>,
}

impl Parts {
    /// Appends one export: its blocks, each to its family's part. Returns the samples
    /// written and, for blocks a write refused, the samples lost and why.
    fn append(&mut self, payload: &[u8]) -> (u64, Option<(u64, String)>) {
        let text = String::from_utf8_lossy(payload);
        let mut written = 0;
        let mut lost: Option<(u64, String)> = None;
        for block in blocks(&text) {
            let samples = block.samples.lines().count() as u64;
            match self.write_block(&block) {
                Ok(()) => written += samples,
                Err(e) => {
                    let l = lost.get_or_insert((0, e));
                    l.0 += samples;
                }
            }
        }
        (written, lost)
    }

    fn write_block(&mut self, b: &Block<'_>) -> Result<(), String> {
        let k = match self.families.iter().position(|f| f.name == b.family) {
            Some(k) => k,
            None => {
                let p = self.dir.join(format!("{}.part", self.families.len()));
                let part = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&p)
                    .map_err(|e| format!("write error: {}: {e}", p.display()))?;
                self.families.push(Family { name: b.family.to_string(), header: b.header.to_string(), part, len: 0 });
                self.families.len() - 1
            }
        };
        let f = &mut self.families[k];
        match f.part.write_all(b.samples.as_bytes()) {
            Ok(()) => {
                f.len += b.samples.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Back to the last whole block.
                let _ = f.part.set_len(f.len).and_then(|()| f.part.seek(SeekFrom::Start(f.len)).map(|_| ()));
                Err(format!("write error: {e}"))
            }
        }
    }

    /// Joins the parts into the file (through a temporary name) and removes them.
    fn finish(&mut self) -> std::io::Result<()> {
        let tmp = {
            let mut t = self.path.clone().into_os_string();
            t.push(".partial");
            PathBuf::from(t)
        };
        {
            let mut out = BufWriter::new(File::create(&tmp)?);
            for f in &mut self.families {
                out.write_all(f.header.as_bytes())?;
                f.part.seek(SeekFrom::Start(0))?;
                std::io::copy(&mut (&f.part).take(f.len), &mut out)?;
            }
            out.write_all(b"# EOF\n")?;
            out.into_inner().map_err(std::io::IntoInnerError::into_error)?.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        std::fs::remove_dir_all(&self.dir)
    }
}

/// One family's block of an export: `# TYPE`/`# HELP` lines, then samples.
struct Block<'a> {
    family: &'a str,
    header: &'a str,
    samples: &'a str,
}

/// The blocks of one export's text (each starts at a `# TYPE` line).
fn blocks(text: &str) -> Vec<Block<'_>> {
    let mut out = Vec::new();
    let mut starts: Vec<usize> = text.match_indices("# TYPE ").filter(|(i, _)| *i == 0 || text.as_bytes()[i - 1] == b'\n').map(|(i, _)| i).collect();
    starts.push(text.len());
    for w in starts.windows(2) {
        let block = &text[w[0]..w[1]];
        let family = block["# TYPE ".len()..].split_whitespace().next().unwrap_or("");
        // Header: the leading comment lines.
        let mut cut = 0;
        for line in block.split_inclusive('\n') {
            if !line.starts_with('#') {
                break;
            }
            cut += line.len();
        }
        out.push(Block { family, header: &block[..cut], samples: &block[cut..] });
    }
    out
}

/// `--openmetrics FILE`.
pub(super) struct OpenMetricsFile {
    name: String,
    parts: Option<Parts>,
}

impl OpenMetricsFile {
    /// Prepares `path` (its parts folder next to it); the file itself is written at close.
    pub(super) async fn create(path: &Path) -> Result<Self, SinkBuildError> {
        let path = path.to_path_buf();
        let dir = {
            let mut d = path.clone().into_os_string();
            d.push(".parts");
            PathBuf::from(d)
        };
        let open_err = |p: &Path, error| SinkBuildError::Open { path: p.to_path_buf(), error };
        if let Some(parent) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| open_err(parent, e))?;
        }
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| open_err(&dir, e))?;
        // The file must be writable: find out now, not at the end of a long run.
        File::create(&path).map_err(|e| open_err(&path, e))?;
        Ok(Self { name: format!("openmetrics {}", path.display()), parts: Some(Parts { path, dir, families: Vec::new() }) })
    }
}

impl Sink for OpenMetricsFile {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn format(&self) -> Format {
        Format::Own
    }

    fn signal(&self) -> Signal {
        Signal::Metrics
    }

    fn fixed_batches(&self) -> bool {
        true
    }

    fn cancellable(&self) -> bool {
        false
    }

    fn send(&mut self, batch: Batch) -> BoxFuture<'_, Delivery> {
        Box::pin(async move {
            let items = batch.items;
            let Some(mut parts) = self.parts.take() else {
                return Delivery { dropped: vec![("file closed after a failed write".into(), items)], ..Delivery::default() };
            };
            let r = tokio::task::spawn_blocking(move || {
                let r = parts.append(&batch.payload);
                (parts, r)
            })
            .await;
            match r {
                Ok((parts, (written, lost))) => {
                    self.parts = Some(parts);
                    let mut d = Delivery::ok(written);
                    if let Some((n, why)) = lost {
                        d.dropped.push((why, n));
                    }
                    d
                }
                Err(e) => Delivery { dropped: vec![(format!("write task failed: {e}"), items)], ..Delivery::default() },
            }
        })
    }

    fn close(&mut self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async move {
            let Some(mut parts) = self.parts.take() else { return Ok(()) };
            let path = parts.path.clone();
            tokio::task::spawn_blocking(move || parts.finish())
                .await
                .map_err(|e| SinkError::Task(e.to_string()))?
                .map_err(|error| SinkError::Close { path, error })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_of_two_exports_join_family_by_family() {
        let dir = std::env::temp_dir().join(format!("tsim-om-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("x.om.parts")).unwrap();
        let mut p = Parts { path: dir.join("x.om"), dir: dir.join("x.om.parts"), families: Vec::new() };
        let one = "# TYPE a counter\n# HELP a A\na_total 1 1.000\n# TYPE b gauge\n# HELP b B\nb 5 1.000\n";
        let two = "# TYPE a counter\n# HELP a A\na_total 2 2.000\n# TYPE b gauge\n# HELP b B\nb 6 2.000\n";
        assert_eq!(p.append(one.as_bytes()), (2, None));
        assert_eq!(p.append(two.as_bytes()), (2, None));
        p.finish().unwrap();
        let text = std::fs::read_to_string(dir.join("x.om")).unwrap();
        assert_eq!(
            text,
            "# TYPE a counter\n# HELP a A\na_total 1 1.000\na_total 2 2.000\n# TYPE b gauge\n# HELP b B\nb 5 1.000\nb 6 2.000\n# EOF\n"
        );
        assert!(!dir.join("x.om.parts").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
