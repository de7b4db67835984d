//! `--store DIR`: the run's telemetry written into a store — its write-ahead log, converted
//! into Hive-partitioned Parquet by segment (and at the end) — so a backfill of a week lands
//! as compressed Parquet. A batch is delivered once written, like a file's; the store is
//! synced and converted when the run ends. `receive`, `import` and `report` take the same
//! flag.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use tsim_sinks::{Batch, BoxFuture, Delivery, Format, Signal, Sink, SinkError};
use tsim_store::{Store, Table};

use super::{Built, Ctx, Wired, none};

/// The flag of the store output (and of the store commands).
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Flags {
    /// A store folder (Parquet files by signal, date and hour). With a run: write its
    /// telemetry into it. With receive, import, report: the store they fill or read.
    #[arg(help_heading = "Output", long, global = true, value_name = "DIR")]
    pub store: Option<PathBuf>,
}

/// One signal's way into the store.
struct StoreSink {
    /// The store, shared by the sinks of the run's signals.
    store: Arc<Mutex<Store>>,
    signal: Signal,
    dir: PathBuf,
    /// Sinks of the store not closed yet: the last to close converts what is pending.
    open: Arc<AtomicUsize>,
}

/// The store table of a signal.
pub(super) fn table(s: Signal) -> Table {
    match s {
        Signal::Traces => Table::Traces,
        Signal::Logs => Table::Logs,
        Signal::Metrics => Table::Metrics,
    }
}

impl Sink for StoreSink {
    fn name(&self) -> String {
        format!("store {}", self.dir.display())
    }

    fn format(&self) -> Format {
        Format::OtlpProto
    }

    fn signal(&self) -> Signal {
        self.signal
    }

    fn fixed_batches(&self) -> bool {
        // The same seed gives the same log, hence the same Parquet files.
        true
    }

    fn cancellable(&self) -> bool {
        false
    }

    fn send(&mut self, batch: Batch) -> BoxFuture<'_, Delivery> {
        let store = self.store.clone();
        let t = table(self.signal);
        Box::pin(async move {
            let items = batch.items;
            let done = tokio::task::spawn_blocking(move || {
                let mut s = store.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let written = s.append(t, None, &batch.payload).and_then(|()| s.write_out());
                if let Err(e) = written {
                    let _ = s.rollback();
                    return Err(e.to_string());
                }
                if s.full() {
                    // A full segment becomes Parquet now (its items are delivered already:
                    // a failed conversion leaves the segment for the next open).
                    if let Err(e) = s.flush() {
                        say!("warning: converting a store segment (kept in its log): {e}");
                    }
                }
                Ok(())
            })
            .await;
            match done {
                Ok(Ok(())) => Delivery::ok(items),
                Ok(Err(why)) => Delivery::dropped(items, format!("store: {why}")),
                Err(_) => Delivery::dropped(items, "store: the writer stopped"),
            }
        })
    }

    fn close(&mut self) -> BoxFuture<'_, Result<(), SinkError>> {
        let store = self.store.clone();
        let last = self.open.fetch_sub(1, Ordering::AcqRel) == 1;
        Box::pin(async move {
            // The last sink to close converts what is pending: a conversion while another
            // signal still writes would split the Parquet files by how the sinks happened to
            // interleave, and the same run must give the same files.
            if !last {
                return Ok(());
            }
            let r = tokio::task::spawn_blocking(move || {
                store.lock().unwrap_or_else(std::sync::PoisonError::into_inner).flush().map(|_| ())
            })
            .await;
            let dir = self.dir.clone();
            match r {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(SinkError::Close { path: dir, error: std::io::Error::other(e.to_string()) }),
                Err(_) => Err(SinkError::Task("the store writer stopped".into())),
            }
        })
    }
}

pub(super) fn build<'a>(c: &'a Ctx<'a>, f: &'a Flags) -> Built<'a> {
    let Some(dir) = &f.store else { return none() };
    Ok(Box::pin(async move {
        let d = dir.clone();
        let (store, replayed) = tokio::task::spawn_blocking(move || Store::open(&d))
            .await
            .context("opening the store")?
            .with_context(|| format!("--store {}", dir.display()))?;
        if !replayed.is_empty() && !c.g.quiet {
            say!("note: --store {}: converted {} log segment(s) an earlier run left", dir.display(), replayed.len());
        }
        let store = Arc::new(Mutex::new(store));
        let open = Arc::new(AtomicUsize::new(c.signals.len()));
        Ok(c.signals
            .iter()
            .map(|&signal| {
                Wired::shared(StoreSink { store: store.clone(), signal, dir: dir.clone(), open: open.clone() })
            })
            .collect())
    }))
}
