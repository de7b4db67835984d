//! File sink: one payload per line, e.g. `traces.jsonl` with one OTLP/JSON
//! `ExportTraceServiceRequest` per line (what the collector's `file` exporter writes and
//! its `otlpjsonfile` receiver reads). A line is counted delivered once it is in the file;
//! a failed write is rolled back and its batch dropped with the OS reason.

use std::path::{Path, PathBuf};

use crate::linefile::{FILE_LOST, LineFile, off_thread};
use crate::{Batch, BoxFuture, Delivery, Format, Signal, Sink, SinkBuildError, SinkError};

/// Writes each batch as one line.
pub struct FileSink {
    path: PathBuf,
    file: Option<LineFile>,
    format: Format,
    signal: Signal,
}

impl FileSink {
    /// Creates (truncates) `dir/name`, creating `dir` if needed.
    pub async fn create(dir: &Path, name: &str, signal: Signal, format: Format) -> Result<Self, SinkBuildError> {
        let path = dir.join(name);
        let file = LineFile::open_off_thread(&path, false).await?;
        Ok(Self { path, file: Some(file), format, signal })
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

    fn cancellable(&self) -> bool {
        false
    }

    fn send(&mut self, batch: Batch) -> BoxFuture<'_, Delivery> {
        Box::pin(async move {
            let items = batch.items;
            let payload = batch.payload;
            match off_thread(&mut self.file, move |f| f.append(&[&payload, b"\n"])).await {
                Some(Ok(())) => Delivery::ok(items),
                Some(Err(e)) => Delivery::dropped(items, e.to_string()),
                None => Delivery::dropped(items, FILE_LOST),
            }
        })
    }

    fn close(&mut self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async move { off_thread(&mut self.file, LineFile::sync).await.unwrap_or(Ok(())) })
    }
}
