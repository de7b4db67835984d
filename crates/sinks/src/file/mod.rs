//! File sink: one payload per line, e.g. `traces.jsonl` with one OTLP/JSON
//! `ExportTraceServiceRequest` per line (what the collector's `file` exporter writes and
//! its `otlpjsonfile` receiver reads).

use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;

use crate::{Batch, BoxFuture, Delivery, Format, Signal, Sink};

/// Writes each batch as one line.
pub struct FileSink {
    path: PathBuf,
    file: Option<tokio::io::BufWriter<tokio::fs::File>>,
    format: Format,
    signal: Signal,
}

impl FileSink {
    /// Creates (truncates) `dir/name`, creating `dir` if needed.
    pub async fn create(dir: &Path, name: &str, signal: Signal, format: Format) -> Result<Self, String> {
        tokio::fs::create_dir_all(dir).await.map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let path = dir.join(name);
        let file =
            tokio::fs::File::create(&path).await.map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(Self { path, file: Some(tokio::io::BufWriter::with_capacity(1 << 20, file)), format, signal })
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Sink for FileSink {
    fn name(&self) -> String {
        format!("file {}", self.path.display())
    }

    fn format(&self) -> Format {
        self.format
    }

    fn signal(&self) -> Signal {
        self.signal
    }

    fn fixed_batches(&self) -> bool {
        true
    }

    fn send(&mut self, batch: Batch) -> BoxFuture<'_, Delivery> {
        Box::pin(async move {
            let Some(f) = self.file.as_mut() else {
                return Delivery::dropped(batch.items, "file closed after a write error");
            };
            // The line and its newline go out in one buffered write.
            let r = async {
                f.write_all(&batch.payload).await?;
                f.write_all(b"\n").await
            }
            .await;
            match r {
                Ok(()) => Delivery::ok(batch.items),
                Err(e) => {
                    self.file = None;
                    Delivery::dropped(batch.items, format!("write error: {e}"))
                }
            }
        })
    }

    fn close(&mut self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            if let Some(mut f) = self.file.take() {
                f.flush().await.map_err(|e| format!("{}: {e}", self.path.display()))?;
                f.into_inner().sync_all().await.map_err(|e| format!("{}: {e}", self.path.display()))?;
            }
            Ok(())
        })
    }
}
