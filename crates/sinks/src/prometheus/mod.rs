//! Prometheus endpoint sink: serves the metrics exposition at `/metrics` for Prometheus to
//! scrape, as of the scrape during the run (each scrape asks the generator for the values
//! of the moment) and, with a linger time, the last one after it. A scrape that prefers
//! OpenMetrics ([`accept`]) gets that exposition, with `_created` samples and exemplars;
//! any other the text format 0.0.4.

mod accept;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::http::header::{ACCEPT, CONTENT_TYPE, VARY};
use axum::routing::get;
use bytes::Bytes;

pub use accept::{CONTENT_TYPE_OPENMETRICS, CONTENT_TYPE_OPENMETRICS_0_0_1, CONTENT_TYPE_TEXT, Exposition, negotiate};

use crate::{Batch, BoxFuture, Delivery, Demand, Format, Signal, Sink, SinkBuildError, SinkError};

/// Writes the live families (the simulator's own counters) in the given exposition at each
/// scrape.
pub type LiveFn = Arc<dyn Fn(&mut String, Exposition) + Send + Sync>;

/// The payload this sink takes: both expositions of the same values, framed as the text
/// exposition's length (8 bytes, little-endian), the text exposition, then the OpenMetrics
/// families (without `# EOF`: the endpoint adds its own families and ends it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expositions {
    /// The text format 0.0.4.
    pub text: Bytes,
    /// OpenMetrics families.
    pub openmetrics: Bytes,
}

impl Expositions {
    /// Frames both expositions into `out` (cleared first).
    pub fn pack(text: &[u8], openmetrics: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.reserve(8 + text.len() + openmetrics.len());
        out.extend_from_slice(&(text.len() as u64).to_le_bytes());
        out.extend_from_slice(text);
        out.extend_from_slice(openmetrics);
    }

    /// The two expositions of a payload made by [`Expositions::pack`]; a payload without
    /// the frame is taken as text alone.
    pub fn unpack(payload: &Bytes) -> Self {
        let len = payload
            .get(..8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .and_then(|b| usize::try_from(u64::from_le_bytes(b)).ok())
            .filter(|n| n.checked_add(8).is_some_and(|end| end <= payload.len()));
        match len {
            Some(n) => Self { text: payload.slice(8..8 + n), openmetrics: payload.slice(8 + n..) },
            None => Self { text: payload.clone(), openmetrics: Bytes::new() },
        }
    }
}

/// The body of a scrape: the latest exposition of the generator, then the live families.
fn body(latest: &Expositions, e: Exposition, live: &LiveFn) -> Vec<u8> {
    let mut own = String::new();
    live(&mut own, e);
    let ours = match e {
        Exposition::Text => &latest.text,
        Exposition::OpenMetrics { .. } => &latest.openmetrics,
    };
    let mut body = Vec::with_capacity(ours.len() + own.len() + 8);
    body.extend_from_slice(ours);
    if !ours.is_empty() && !ours.ends_with(b"\n") {
        body.push(b'\n');
    }
    body.extend_from_slice(own.as_bytes());
    if let Exposition::OpenMetrics { .. } = e {
        body.extend_from_slice(b"# EOF\n");
    }
    body
}

/// How long the endpoint stays up after the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linger {
    /// Stop with the run.
    No,
    /// Stay up this long (Ctrl-C ends it sooner).
    For(Duration),
    /// Stay up until Ctrl-C.
    UntilInterrupted,
}

/// How long a scrape waits for the generator's answer before serving the last exposition.
const SCRAPE_PATIENCE: Duration = Duration::from_secs(2);

/// Serves the exposition it is sent.
pub struct PrometheusSink {
    addr: SocketAddr,
    latest: Arc<RwLock<Expositions>>,
    demand: Arc<Demand>,
    server: tokio::task::JoinHandle<()>,
    linger: Linger,
}

impl PrometheusSink {
    /// Binds `addr` and starts serving: at each scrape, a fresh exposition asked of the
    /// generator (or, when it does not answer in time or has finished, the latest one sent;
    /// empty before any), followed by what `live` writes (the simulator's own counters).
    pub async fn bind(addr: &str, linger: Linger, live: LiveFn) -> Result<Self, SinkBuildError> {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|error| SinkBuildError::Listen {
            what: "--prometheus-listen",
            addr: addr.to_string(),
            error,
        })?;
        let addr = listener.local_addr().map_err(|error| SinkBuildError::Listen {
            what: "--prometheus-listen",
            addr: addr.to_string(),
            error,
        })?;
        let latest = Arc::new(RwLock::new(Expositions::default()));
        let demand = Arc::new(Demand::default());
        let (state, asked) = (latest.clone(), demand.clone());
        let app = Router::new().route(
            "/metrics",
            get(move |headers: HeaderMap| {
                let (state, asked, live) = (state.clone(), asked.clone(), live.clone());
                async move {
                    let e = negotiate(headers.get(ACCEPT).and_then(|v| v.to_str().ok()));
                    let since = asked.ask();
                    asked.wait_past(since, SCRAPE_PATIENCE).await;
                    let latest = state.read().map(|b| b.clone()).unwrap_or_default();
                    ([(CONTENT_TYPE, e.content_type()), (VARY, "Accept")], body(&latest, e, &live))
                }
            }),
        );
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, latest, demand, server, linger })
    }

    /// The address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Sink for PrometheusSink {
    fn name(&self) -> String {
        format!("prometheus http://{}/metrics", self.addr)
    }

    fn format(&self) -> Format {
        Format::Own
    }

    fn signal(&self) -> Signal {
        Signal::Metrics
    }

    fn demand(&self) -> Option<Arc<Demand>> {
        Some(self.demand.clone())
    }

    fn send(&mut self, batch: Batch) -> BoxFuture<'_, Delivery> {
        Box::pin(async move {
            if let Ok(mut l) = self.latest.write() {
                *l = Expositions::unpack(&batch.payload);
            }
            self.demand.arrived();
            Delivery::ok(batch.items)
        })
    }

    fn close(&mut self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async move {
            self.demand.close();
            let wait = match self.linger {
                Linger::No => None,
                Linger::For(d) => Some(d),
                Linger::UntilInterrupted => Some(Duration::MAX),
            };
            if let Some(d) = wait {
                use std::io::Write as _;
                let _ =
                    writeln!(std::io::stderr(), "serving http://{}/metrics after the run (Ctrl-C to stop)", self.addr);
                tokio::select! {
                    _ = tokio::time::sleep(d.min(Duration::from_secs(100 * 365 * 86_400))) => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            self.server.abort();
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_expositions_travel_in_one_payload() {
        let mut out = Vec::new();
        Expositions::pack(b"a_total 1\n", b"# TYPE a counter\na_total 1\n", &mut out);
        let e = Expositions::unpack(&Bytes::from(out));
        assert_eq!(&e.text[..], b"a_total 1\n");
        assert_eq!(&e.openmetrics[..], b"# TYPE a counter\na_total 1\n");
        // Not framed (or cut short): all of it is the text exposition.
        for raw in [&b"x 1\n"[..], &[200, 0, 0, 0, 0, 0, 0, 0, b'x'][..]] {
            let e = Expositions::unpack(&Bytes::copy_from_slice(raw));
            assert_eq!((&e.text[..], e.openmetrics.is_empty()), (raw, true));
        }
    }

    #[test]
    fn a_scrape_gets_the_generator_s_exposition_then_the_live_families() {
        let latest =
            Expositions { text: Bytes::from_static(b"a 1"), openmetrics: Bytes::from_static(b"# TYPE a gauge\na 1\n") };
        let live: LiveFn = Arc::new(|out: &mut String, e| {
            out.push_str(if e == Exposition::Text { "own_text 2\n" } else { "own_om 2\n" });
        });
        assert_eq!(body(&latest, Exposition::Text, &live), b"a 1\nown_text 2\n");
        let om = body(&latest, Exposition::OpenMetrics { legacy: false }, &live);
        assert_eq!(om, b"# TYPE a gauge\na 1\nown_om 2\n# EOF\n");
        let empty = body(&Expositions::default(), Exposition::OpenMetrics { legacy: true }, &live);
        assert_eq!(empty, b"own_om 2\n# EOF\n");
    }
}
