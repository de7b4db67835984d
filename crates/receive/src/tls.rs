//! TLS of the two listeners: the caller's rustls server configuration, with ALPN set per
//! listener (`h2` for gRPC, `http/1.1` for HTTP), and per listener an accept loop that runs
//! each handshake in its own task, bounded in time. A client that speaks plain text, sends
//! no certificate or an unknown one, or nothing at all, is dropped, counted and reported
//! ([`Notice::HandshakeRefused`]); the others are served.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::notice::{Listener, Notice, Notify, tell};
use crate::stats::Stats;

/// How long a client may take to finish its handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// The TLS of both listeners.
pub(crate) struct ServerTls {
    grpc: TlsAcceptor,
    http: TlsAcceptor,
    stats: Arc<Stats>,
    notify: Option<Notify>,
}

/// A connection whose handshake is done, and its peer.
type Accepted = (TlsStream<TcpStream>, SocketAddr);

impl ServerTls {
    /// Both listeners' acceptors from one configuration (its ALPN protocols are replaced).
    pub fn new(mut config: ServerConfig, stats: Arc<Stats>, notify: Option<Notify>) -> Self {
        config.alpn_protocols = vec![b"h2".to_vec()];
        let grpc = TlsAcceptor::from(Arc::new(config.clone()));
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Self { grpc, http: TlsAcceptor::from(Arc::new(config)), stats, notify }
    }

    fn accept(&self, l: TcpListener, listener: Listener, acceptor: &TlsAcceptor) -> mpsc::Receiver<Accepted> {
        let (tx, rx) = mpsc::channel(64);
        let refused = Refusals { listener, stats: self.stats.clone(), notify: self.notify.clone() };
        tokio::spawn(accept_loop(l, acceptor.clone(), refused, tx));
        rx
    }

    /// The gRPC listener's connections, for tonic.
    pub fn grpc(
        &self,
        l: TcpListener,
    ) -> impl tokio_stream::Stream<Item = Result<TlsStream<TcpStream>, std::io::Error>> + use<> {
        let rx = self.accept(l, Listener::Grpc, &self.grpc);
        tokio_stream::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(rx), |(s, _)| Ok(s))
    }

    /// The HTTP listener's connections (bound at `local`), for axum.
    pub fn http(&self, l: TcpListener, local: SocketAddr) -> TlsListener {
        TlsListener { rx: self.accept(l, Listener::Http, &self.http), local }
    }
}

/// Where a refused handshake is counted and told.
#[derive(Clone)]
struct Refusals {
    listener: Listener,
    stats: Arc<Stats>,
    notify: Option<Notify>,
}

impl Refusals {
    fn refused(&self, peer: SocketAddr, why: String) {
        let count = self.stats.tls_refused.fetch_add(1, Ordering::Relaxed) + 1;
        tell(self.notify.as_ref(), Notice::HandshakeRefused { listener: self.listener, peer, why, count });
    }
}

/// Accepts TCP connections and sends each to `tx` once its handshake is done; ends when
/// the server stops taking them.
async fn accept_loop(l: TcpListener, acceptor: TlsAcceptor, refusals: Refusals, tx: mpsc::Sender<Accepted>) {
    loop {
        let (tcp, peer) = tokio::select! {
            () = tx.closed() => return,
            c = l.accept() => match c {
                Ok(c) => c,
                // Out of file descriptors and the like: wait a little, as axum does.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, refusals, tx) = (acceptor.clone(), refusals.clone(), tx.clone());
        tokio::spawn(async move {
            let why = match tokio::time::timeout(HANDSHAKE, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => {
                    let _ = tx.send((s, peer)).await;
                    return;
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("no handshake within {} s", HANDSHAKE.as_secs()),
            };
            refusals.refused(peer, why);
        });
    }
}

/// The HTTP listener over TLS, for `axum::serve`.
pub(crate) struct TlsListener {
    rx: mpsc::Receiver<Accepted>,
    local: SocketAddr,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(a) => a,
            // The accept loop ended: nothing more comes.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}
