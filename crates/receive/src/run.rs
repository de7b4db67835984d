//! Starting and stopping: open the store (converting what the last run left in its log),
//! bind both listeners, start the writer threads and both servers; on shutdown, stop taking
//! connections, answer what is in flight, then convert everything pending.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::server::TcpIncoming;
use tsim_store::{Converted, Store};

use crate::config::ReceiverConfig;
use crate::error::ReceiveError;
use crate::grpc::{self, Shared};
use crate::http;
use crate::ingest::{self, Writer};
use crate::notice::{Listener, Notice, Notify, tell};
use crate::stats::{Counts, Stats};
use crate::tls::ServerTls;

/// The OTLP receiver; see [`Receiver::start`].
#[derive(Debug)]
pub struct Receiver;

/// A started receiver: serving until [`Running::shutdown`]. Dropping it without a shutdown
/// leaves the servers running until the tokio runtime ends, and what is pending in the log
/// is converted at the next start.
pub struct Running {
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    replayed: Vec<Converted>,
    stats: Arc<Stats>,
    stop: watch::Sender<bool>,
    grpc: Served<tonic::transport::Error>,
    http: Served<std::io::Error>,
    writer: Writer,
    notify: Option<Notify>,
}

/// What a receiver did, once stopped.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Every counter, after everything pending was converted.
    pub counts: Counts,
}

impl Summary {
    /// Whether some acknowledged items are still in the log (a conversion failed); they
    /// are converted at the next start.
    pub fn unconverted(&self) -> bool {
        self.counts.unconverted()
    }
}

type Served<E> = JoinHandle<Result<(), E>>;

async fn bind(listener: Listener, addr: &str) -> Result<(TcpListener, SocketAddr), ReceiveError> {
    let l = TcpListener::bind(addr).await.map_err(|source| ReceiveError::Bind {
        listener,
        addr: addr.to_owned(),
        source,
    })?;
    let local = l.local_addr().map_err(ReceiveError::LocalAddr)?;
    Ok((l, local))
}

impl Receiver {
    /// Opens the store (converting the log segments a previous run left), binds both
    /// listeners and starts serving; returns once both are bound. Must be called within a
    /// tokio runtime with I/O and time enabled; the store is opened on the calling thread.
    pub async fn start(config: ReceiverConfig) -> Result<Running, ReceiveError> {
        let ReceiverConfig { store, grpc_listen, http_listen, token, flush_interval, tls, notify } = config;
        let (handle, replayed) =
            Store::open(&store).map_err(|source| ReceiveError::Store { path: store.clone(), source })?;
        let (grpc_l, grpc_addr) = bind(Listener::Grpc, &grpc_listen).await?;
        let (http_l, http_addr) = bind(Listener::Http, &http_listen).await?;
        let stats = Arc::new(Stats::default());
        let age = flush_interval.max(Duration::from_millis(1));
        let (ingest, writer) =
            ingest::start(handle, store, age, stats.clone(), notify.clone()).map_err(ReceiveError::Thread)?;
        let shared = Arc::new(Shared { ingest, token });
        let tls = tls.map(|c| ServerTls::new(c, stats.clone(), notify.clone()));
        let (stop, stop_rx) = watch::channel(false);
        let (grpc, http) = serve(&shared, (grpc_l, http_l, http_addr), tls.as_ref(), &stop_rx);
        Ok(Running { grpc_addr, http_addr, replayed, stats, stop, grpc, http, writer, notify })
    }
}

/// Starts both servers, over TLS when `tls` is given; they stop once `stop` turns true.
fn serve(
    shared: &Arc<Shared>,
    (grpc_l, http_l, http_addr): (TcpListener, TcpListener, SocketAddr),
    tls: Option<&ServerTls>,
    stop: &watch::Receiver<bool>,
) -> (Served<tonic::transport::Error>, Served<std::io::Error>) {
    let wait = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let router = http::router(shared.clone());
    match tls {
        None => (
            tokio::spawn(grpc::serve(shared.clone(), TcpIncoming::from(grpc_l), wait(stop.clone()))),
            tokio::spawn(axum::serve(http_l, router).with_graceful_shutdown(wait(stop.clone())).into_future()),
        ),
        Some(t) => (
            tokio::spawn(grpc::serve(shared.clone(), t.grpc(grpc_l), wait(stop.clone()))),
            tokio::spawn(
                axum::serve(t.http(http_l, http_addr), router).with_graceful_shutdown(wait(stop.clone())).into_future(),
            ),
        ),
    }
}

impl Running {
    /// Where OTLP/gRPC is served.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// Where OTLP/HTTP and `/metrics` are served.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The log segments a previous run left, converted when the store was opened.
    pub fn replayed(&self) -> &[Converted] {
        &self.replayed
    }

    /// Every counter, now.
    pub fn stats(&self) -> Counts {
        self.stats.counts()
    }

    /// Stops taking connections, answers the requests in flight, then closes the log and
    /// converts everything pending into Parquet; returns the final counters. A server that
    /// ends with an error is reported ([`Notice::ServerFailed`]), not returned.
    pub async fn shutdown(self) -> Result<Summary, ReceiveError> {
        let Self { stats, stop, grpc, http, writer, notify, .. } = self;
        let _ = stop.send(true);
        if let Ok(Err(e)) = grpc.await {
            tell(notify.as_ref(), Notice::ServerFailed { listener: Listener::Grpc, error: e.to_string() });
        }
        if let Ok(Err(e)) = http.await {
            tell(notify.as_ref(), Notice::ServerFailed { listener: Listener::Http, error: e.to_string() });
        }
        match tokio::task::spawn_blocking(move || writer.finish()).await {
            Ok(Ok(())) => {}
            Ok(Err(thread)) => return Err(ReceiveError::Panicked(thread)),
            Err(_) => return Err(ReceiveError::Panicked("shutdown")),
        }
        Ok(Summary { counts: stats.counts() })
    }
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running").field("grpc_addr", &self.grpc_addr).field("http_addr", &self.http_addr).finish()
    }
}
