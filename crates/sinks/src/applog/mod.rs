//! Application (and decision) log file sink: JSON lines appended to a file such as `logs/taskpilot.log`,
//! never truncated, each batch of complete lines written at once, rotated by size.
//!
//! Rotation renames `file` → `file.1` → `file.2` … keeping `max_files` old files, the way
//! logrotate and Python's `RotatingFileHandler` do, so tailers (Filebeat, the collector's
//! `filelog` receiver) follow it by inode without losing or repeating lines.

use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;

use crate::{Batch, BoxFuture, Delivery, Format, Signal, Sink};

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
    file: Option<tokio::fs::File>,
    size: u64,
    rotation: Option<Rotation>,
    retention: Option<std::time::Duration>,
}

async fn open(path: &Path) -> std::io::Result<(tokio::fs::File, u64)> {
    let file = tokio::fs::OpenOptions::new().create(true).append(true).open(path).await?;
    let size = file.metadata().await?.len();
    Ok((file, size))
}

impl AppLogSink {
    /// Opens `path` for appending (creating it and its folder); `format` is
    /// [`Format::AppJson`] (application log) or [`Format::DecisionJson`] (decision log).
    pub async fn open(path: &Path, format: Format, rotation: Option<Rotation>) -> Result<Self, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir).await.map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let (file, size) = open(path).await.map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        Ok(Self { format, path: path.to_path_buf(), file: Some(file), size, rotation, retention: None })
    }

    /// Deletes rotated files (`FILE.N`) older than `age`, now and after every rotation.
    pub async fn with_retention(mut self, age: std::time::Duration) -> Self {
        self.retention = Some(age);
        self.prune().await;
        self
    }

    async fn prune(&self) {
        let Some(age) = self.retention else { return };
        let (Some(dir), Some(name)) = (self.path.parent(), self.path.file_name().and_then(|n| n.to_str())) else {
            return;
        };
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        let Ok(mut rd) = tokio::fs::read_dir(dir).await else { return };
        let prefix = format!("{name}.");
        while let Ok(Some(e)) = rd.next_entry().await {
            let fname = e.file_name();
            let Some(f) = fname.to_str() else { continue };
            let rotated = f.strip_prefix(&prefix).is_some_and(|n| n.parse::<u32>().is_ok());
            let old = e
                .metadata()
                .await
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|a| a > age);
            if rotated && old {
                let _ = tokio::fs::remove_file(e.path()).await;
            }
        }
    }

    fn rotated(&self, n: u32) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(format!(".{n}"));
        PathBuf::from(p)
    }

    async fn rotate(&mut self, keep: u32) -> std::io::Result<()> {
        if let Some(mut f) = self.file.take() {
            f.flush().await?;
        }
        if keep == 0 {
            tokio::fs::remove_file(&self.path).await?;
        } else {
            let _ = tokio::fs::remove_file(self.rotated(keep)).await;
            for n in (1..keep).rev() {
                let from = self.rotated(n);
                if tokio::fs::try_exists(&from).await.unwrap_or(false) {
                    tokio::fs::rename(&from, self.rotated(n + 1)).await?;
                }
            }
            tokio::fs::rename(&self.path, self.rotated(1)).await?;
        }
        let (file, size) = open(&self.path).await?;
        self.file = Some(file);
        self.size = size;
        self.prune().await;
        Ok(())
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

    fn send(&mut self, batch: Batch) -> BoxFuture<'_, Delivery> {
        Box::pin(async move {
            // Without rotation the batch goes out in one write; with it, in runs of whole
            // lines that fit, rotating before a line that would take the file past the limit.
            let payload = batch.payload;
            let mut start = 0;
            while start < payload.len() {
                let mut end = payload.len();
                if let Some(r) = self.rotation {
                    let room = r.max_bytes.saturating_sub(self.size) as usize;
                    if payload.len() - start > room {
                        // The longest run of whole lines that fits.
                        let fit =
                            payload[start..start + room.min(payload.len() - start)].iter().rposition(|b| *b == b'\n');
                        match fit {
                            Some(i) => end = start + i + 1,
                            None if self.size > 0 => {
                                if let Err(e) = self.rotate(r.max_files).await {
                                    self.file = None;
                                    return Delivery::dropped(batch.items, format!("rotation failed: {e}"));
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
                let Some(f) = self.file.as_mut() else {
                    return Delivery::dropped(batch.items, "file closed after a write error");
                };
                // O_APPEND puts each run at the end whatever else writes to the file.
                if let Err(e) = f.write_all(&payload[start..end]).await {
                    self.file = None;
                    return Delivery::dropped(batch.items, format!("write error: {e}"));
                }
                self.size += (end - start) as u64;
                start = end;
            }
            Delivery::ok(batch.items)
        })
    }

    fn close(&mut self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            if let Some(mut f) = self.file.take() {
                f.flush().await.map_err(|e| format!("{}: {e}", self.path.display()))?;
                f.sync_all().await.map_err(|e| format!("{}: {e}", self.path.display()))?;
            }
            Ok(())
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
        for i in 0..6 {
            let d = sink.send(Batch { payload: Bytes::from(format!("line {i} xxxxxxxxxx\n")), items: 1 }).await;
            assert_eq!(d.delivered, 1);
        }
        sink.close().await.unwrap();
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        let all = format!("{}{}{}", read(&dir.join("logs/app.log.2")), read(&dir.join("logs/app.log.1")), read(&path));
        // Never truncated: the first line survives in the oldest kept file, newest last.
        assert!(read(&path).ends_with("line 5 xxxxxxxxxx\n"), "{all}");
        assert!(all.lines().all(|l| l == "old line" || l.starts_with("line ")), "{all}");
        assert!(!dir.join("logs/app.log.3").exists());
        assert!(std::fs::metadata(&path).unwrap().len() <= 30);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
