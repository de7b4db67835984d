//! Prometheus endpoint sink: serves the metrics exposition at `/metrics` for Prometheus to
//! scrape, as of the scrape during the run (each scrape asks the generator for the values
//! of the moment) and, with a linger time, the last one after it.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use bytes::Bytes;

use crate::{Batch, BoxFuture, Delivery, Demand, Format, Signal, Sink, SinkBuildError, SinkError};

/// Content type of the text exposition format 0.0.4.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Writes live text-format families at each scrape.
pub type LiveFn = Arc<dyn Fn(&mut String) + Send + Sync>;

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
    latest: Arc<RwLock<Bytes>>,
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
        let latest = Arc::new(RwLock::new(Bytes::new()));
        let demand = Arc::new(Demand::default());
        let (state, asked) = (latest.clone(), demand.clone());
        let app = Router::new().route(
            "/metrics",
            get(move || {
                let (state, asked, live) = (state.clone(), asked.clone(), live.clone());
                async move {
                    let since = asked.ask();
                    asked.wait_past(since, SCRAPE_PATIENCE).await;
                    let latest = state.read().map(|b| b.clone()).unwrap_or_default();
                    let mut own = String::new();
                    live(&mut own);
                    let mut body = Vec::with_capacity(latest.len() + own.len());
                    body.extend_from_slice(&latest);
                    if !latest.is_empty() && !latest.ends_with(b"\n") {
                        body.push(b'\n');
                    }
                    body.extend_from_slice(own.as_bytes());
                    ([(CONTENT_TYPE, CONTENT_TYPE_TEXT)], body)
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
        Format::PrometheusText
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
                *l = batch.payload;
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
