//! `--verify-frames` (hidden): the run's OTLP protobuf requests as frames on stdout, for the
//! `verify` that runs this program to generate a run again and reads them as they come.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tsim_sinks::{Batch, BoxFuture, Delivery, Format, Signal, Sink, SinkError};

use super::store::table;
use super::{Built, Ctx, Wired, none};

/// The flag of the frames output.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Flags {
    /// Write the run's OTLP requests as frames on stdout (what `verify` reads).
    #[arg(long, global = true, hide = true)]
    pub verify_frames: bool,
}

/// One signal's frames, on the stdout all of them share.
struct FramesSink {
    out: Arc<Mutex<std::io::BufWriter<std::io::Stdout>>>,
    signal: Signal,
}

impl Sink for FramesSink {
    fn name(&self) -> String {
        "verify frames".into()
    }

    fn format(&self) -> Format {
        Format::OtlpProto
    }

    fn signal(&self) -> Signal {
        self.signal
    }

    fn cancellable(&self) -> bool {
        false
    }

    fn send(&mut self, batch: Batch) -> BoxFuture<'_, Delivery> {
        let (out, t) = (self.out.clone(), table(self.signal));
        Box::pin(async move {
            let items = batch.items;
            let written = tokio::task::spawn_blocking(move || {
                let mut w = out.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                tsim_report::verify::write_frame(&mut *w, t, &batch.payload)
            })
            .await;
            match written {
                Ok(Ok(())) => Delivery::ok(items),
                Ok(Err(e)) => Delivery::dropped(items, format!("verify frames: {e}")),
                Err(_) => Delivery::dropped(items, "verify frames: the writer stopped"),
            }
        })
    }

    fn close(&mut self) -> BoxFuture<'_, Result<(), SinkError>> {
        let out = self.out.clone();
        Box::pin(async move {
            let r = tokio::task::spawn_blocking(move || out.lock().unwrap_or_else(std::sync::PoisonError::into_inner).flush())
                .await;
            match r {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(SinkError::Close { path: "stdout".into(), error: e }),
                Err(_) => Err(SinkError::Task("the frames writer stopped".into())),
            }
        })
    }
}

pub(super) fn build<'a>(c: &'a Ctx<'a>, f: &'a Flags) -> Built<'a> {
    if !f.verify_frames {
        return none();
    }
    let out = Arc::new(Mutex::new(std::io::BufWriter::with_capacity(1 << 20, std::io::stdout())));
    let sinks = c.signals.iter().map(|&signal| Wired::shared(FramesSink { out: out.clone(), signal })).collect();
    Ok(Box::pin(async move { Ok(sinks) }))
}
