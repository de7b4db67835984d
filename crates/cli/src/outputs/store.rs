//! `--store DIR`: the run's telemetry written into a store — its write-ahead log, converted
//! into Hive-partitioned Parquet by segment (and at the end) — so a backfill of a week lands
//! as compressed Parquet. A batch is delivered once written, like a file's; the store is
//! synced and converted when the run ends. `receive`, `import` and `report` take the same
//! flag.

use std::path::PathBuf;
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

/// The store, shared by the sinks of the run's signals.
struct Shared {
    store: Store,
    /// Items converted so far (for a note at the end).
    stored: u64,
}

/// One signal's way into the store.
struct StoreSink {
    shared: Arc<Mutex<Shared>>,
    signal: Signal,
    dir: PathBuf,
}

fn table(s: Signal) -> Table {
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
        let shared = self.shared.clone();
        let t = table(self.signal);
        Box::pin(async move {
            let items = batch.items;
            let done = tokio::task::spawn_blocking(move || {
                let mut s = shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let written = s.store.append(t, &batch.payload).and_then(|()| s.store.write_out());
                if let Err(e) = written {
                    let _ = s.store.rollback();
                    return Err(e.to_string());
                }
                if s.store.full() {
                    // A full segment becomes Parquet now (its items are delivered already:
                    // a failed conversion leaves the segment for the next open).
                    match s.store.flush() {
                        Ok(c) => s.stored += c.map_or(0, |c| c.items()),
                        Err(e) => say!("warning: converting a store segment (kept in its log): {e}"),
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
        let shared = self.shared.clone();
        Box::pin(async move {
            // Every sink closes: the first converts what is pending, the others find little.
            let r = tokio::task::spawn_blocking(move || {
                let mut s = shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                s.store.flush().map(|c| s.stored += c.map_or(0, |c| c.items()))
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
        let shared = Arc::new(Mutex::new(Shared { store, stored: 0 }));
        Ok(c.signals
            .iter()
            .map(|&signal| Wired::shared(StoreSink { shared: shared.clone(), signal, dir: dir.clone() }))
            .collect())
    }))
}
