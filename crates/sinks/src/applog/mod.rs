//! Application (and decision) log file sink: JSON lines appended to a file such as `logs/taskpilot.log`,
//! never truncated, each batch of complete lines written at once (or, after a failed write,
//! rolled back to the last complete line), rotated by size.
//!
//! Rotation renames `file` → `file.1` → `file.2` … keeping `max_files` old files, the way
//! logrotate and Python's `RotatingFileHandler` do, so tailers (Filebeat, the collector's
//! `filelog` receiver) follow it by inode without losing or repeating lines.

use std::path::{Path, PathBuf};

use crate::error::WriteError;
use crate::linefile::{FILE_LOST, LineFile, off_thread};
use crate::{Batch, BoxFuture, Delivery, Format, Signal, Sink, SinkBuildError, SinkError};

/// Size rotation settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate before a write would take the file past this many bytes.
    pub max_bytes: u64,
    /// Old files kept (`file.1` … `file.N`).
    pub max_files: u32,
}

/// Appends application log lines to a file.
pub struct AppLogSink {
    format: Format,
    path: PathBuf,
    log: Option<RotatingLog>,
}

/// The file and its rotation, used from a blocking thread.
struct RotatingLog {
    path: PathBuf,
    /// `None` after a rotation that could not reopen the file.
    file: Option<LineFile>,
    rotation: Option<Rotation>,
    retention: Option<std::time::Duration>,
}

impl AppLogSink {
    /// Opens `path` for appending (creating it and its folder); `format` is
    /// [`Format::AppJson`] (application log) or [`Format::DecisionJson`] (decision log).
    pub async fn open(path: &Path, format: Format, rotation: Option<Rotation>) -> Result<Self, SinkBuildError> {
        let file = LineFile::open_off_thread(path, true).await?;
        let log = RotatingLog { path: path.to_path_buf(), file: Some(file), rotation, retention: None };
        Ok(Self { format, path: path.to_path_buf(), log: Some(log) })
    }

    /// Deletes rotated files (`FILE.N`) older than `age`, now and after every rotation.
    pub async fn with_retention(mut self, age: std::time::Duration) -> Self {
        off_thread(&mut self.log, move |l| {
            l.retention = Some(age);
            l.prune();
        })
        .await;
        self
    }
}

impl RotatingLog {
    fn prune(&self) {
        let Some(age) = self.retention else { return };
        let (Some(dir), Some(name)) = (self.path.parent(), self.path.file_name().and_then(|n| n.to_str())) else {
            return;
        };
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        let prefix = format!("{name}.");
        for e in rd.flatten() {
            let fname = e.file_name();
            let Some(f) = fname.to_str() else { continue };
            let rotated = f.strip_prefix(&prefix).is_some_and(|n| n.parse::<u32>().is_ok());
            let old = e
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|a| a > age);
            if rotated && old {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    fn rotated(&self, n: u32) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(format!(".{n}"));
        PathBuf::from(p)
    }

    fn rotate(&mut self, keep: u32) -> Result<(), WriteError> {
        let io = WriteError::Rotate;
        self.file = None;
        if keep == 0 {
            std::fs::remove_file(&self.path).map_err(io)?;
        } else {
            let _ = std::fs::remove_file(self.rotated(keep));
            for n in (1..keep).rev() {
                let from = self.rotated(n);
                if from.exists() {
                    std::fs::rename(&from, self.rotated(n + 1)).map_err(io)?;
                }
            }
            std::fs::rename(&self.path, self.rotated(1)).map_err(io)?;
        }
        self.file = Some(LineFile::open(&self.path, true).map_err(WriteError::Reopen)?);
        self.prune();
        Ok(())
    }

    /// Appends the complete lines of `payload`. Without rotation they go out in one write;
    /// with it, in runs of whole lines that fit, rotating before a line that would take the
    /// file past the limit. Returns the lines written, and the reason the rest were not.
    fn write(&mut self, payload: &[u8]) -> (u64, Option<String>) {
        let mut written = 0u64;
        let mut start = 0;
        while start < payload.len() {
            let Some(size) = self.file.as_ref().map(LineFile::len) else {
                return (written, Some("file closed after a failed rotation".into()));
            };
            let mut end = payload.len();
            if let Some(r) = self.rotation {
                let room = r.max_bytes.saturating_sub(size) as usize;
                if payload.len() - start > room {
                    // The longest run of whole lines that fits.
                    let fit = payload[start..start + room.min(payload.len() - start)].iter().rposition(|b| *b == b'\n');
                    match fit {
                        Some(i) => end = start + i + 1,
                        None if size > 0 => {
                            if let Err(e) = self.rotate(r.max_files) {
                                return (written, Some(e.to_string()));
                            }
                            continue;
                        }
                        // A line longer than the limit goes alone into a fresh file.
                        None => {
                            end = payload[start..]
                                .iter()
                                .position(|b| *b == b'\n')
                                .map_or(payload.len(), |i| start + i + 1)
                        }
                    }
                }
            }
            let run = &payload[start..end];
            // O_APPEND puts each run at the end whatever else writes to the file.
            if let Some(Err(e)) = self.file.as_mut().map(|f| f.append(&[run])) {
                return (written, Some(e.to_string()));
            }
            written += run.iter().filter(|b| **b == b'\n').count() as u64;
            start = end;
        }
        (written, None)
    }
}

impl Sink for AppLogSink {
    fn name(&self) -> String {
        let kind = match self.format {
            Format::DecisionJson => "decision-log",
            Format::ArtifactJson => "artifact-log",
            Format::Logger(_) => "logger",
            _ => "app-log",
        };
        format!("{kind} {}", self.path.display())
    }

    fn format(&self) -> Format {
        self.format
    }

    fn signal(&self) -> Signal {
        Signal::Logs
    }

    fn cancellable(&self) -> bool {
        false
    }

    fn send(&mut self, batch: Batch) -> BoxFuture<'_, Delivery> {
        Box::pin(async move {
            // One line per item: what was written of the batch is delivered, the rest dropped.
            let items = batch.items;
            let payload = batch.payload;
            let (written, reason) =
                off_thread(&mut self.log, move |l| l.write(&payload)).await.unwrap_or((0, Some(FILE_LOST.into())));
            let written = written.min(items);
            let mut d = Delivery::ok(written);
            if let Some(reason) = reason.filter(|_| written < items) {
                d.dropped.push((reason, items - written));
            }
            d
        })
    }

    fn close(&mut self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async move {
            off_thread(&mut self.log, |l| l.file.as_mut().map_or(Ok(()), LineFile::sync)).await.unwrap_or(Ok(()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[tokio::test]
    async fn appends_and_rotates_by_size() {
        let dir = std::env::temp_dir().join(format!("tsim-applog-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("logs/app.log");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "old line\n").unwrap();
        let mut sink =
            AppLogSink::open(&path, Format::AppJson, Some(Rotation { max_bytes: 30, max_files: 2 })).await.unwrap();
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        let line = |i: usize| format!("line {i} xxxxxxxxxx\n");
        for i in 0..6 {
            let d = sink.send(Batch { payload: Bytes::from(line(i)), items: 1 }).await;
            assert_eq!(d.delivered, 1);
            if i == 0 {
                // Appended, never truncated: 9 + 18 bytes fit in 30.
                assert_eq!(read(&path), format!("old line\n{}", line(0)));
            }
        }
        sink.close().await.unwrap();
        // 18-byte lines, 30 bytes a file: each later line rotated into a file of its own;
        // two old files kept, so lines 3 to 5 remain, newest in the live file.
        assert_eq!(read(&path), line(5));
        assert_eq!(read(&dir.join("logs/app.log.1")), line(4));
        assert_eq!(read(&dir.join("logs/app.log.2")), line(3));
        assert!(!dir.join("logs/app.log.3").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
