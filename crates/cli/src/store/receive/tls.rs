//! TLS of `receive`'s two listeners (`--tls-cert`, `--tls-key`, `--tls-client-ca`): one
//! rustls server configuration (TLS 1.2 and 1.3; with a client CA, a client certificate
//! signed by it is required), and per listener an accept loop that runs each handshake in
//! its own task, bounded in time. A client that speaks plain text, sends no certificate or
//! an unknown one, or nothing at all, is dropped and counted; the others are served.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tsim_sinks::tls::{Sourced, describe, provider, read_certs, read_key, root_store};

use super::ReceiveArgs;

/// How long a client may take to finish its handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// Refused handshakes printed at most (all are counted).
const SAID: u64 = 10;

/// The loaded TLS of both listeners.
pub struct ServerTls {
    grpc: TlsAcceptor,
    http: TlsAcceptor,
    /// Whether client certificates are required.
    pub mutual: bool,
    /// Handshakes refused, on either listener.
    pub refused: Arc<AtomicU64>,
}

/// Reads the files of `--tls-cert`, `--tls-key`, `--tls-client-ca` (errors name the file and
/// its flag); `None` without `--tls-cert`.
pub fn load(a: &ReceiveArgs) -> Result<Option<ServerTls>> {
    let (Some(cert), Some(key)) = (&a.tls_cert, &a.tls_key) else { return Ok(None) };
    let flag = |p: &PathBuf, f: &str| Sourced::new(p.clone(), f);
    let (cert, key) = (flag(cert, "--tls-cert"), flag(key, "--tls-key"));
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .context("TLS versions")?;
    let builder = match &a.tls_client_ca {
        Some(ca) => {
            let ca = flag(ca, "--tls-client-ca");
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(root_store(&ca)?), provider)
                .build()
                .with_context(|| describe(&ca))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(read_certs(&cert)?, read_key(&key)?)
        .with_context(|| format!("{} with {}", describe(&cert), describe(&key)))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    let grpc = TlsAcceptor::from(Arc::new(config.clone()));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(ServerTls {
        grpc,
        http: TlsAcceptor::from(Arc::new(config)),
        mutual: a.tls_client_ca.is_some(),
        refused: Arc::new(AtomicU64::new(0)),
    }))
}

/// A connection whose handshake is done, and its peer.
type Accepted = (TlsStream<TcpStream>, SocketAddr);

impl ServerTls {
    /// The gRPC listener's connections, for tonic.
    pub fn grpc(
        &self,
        l: TcpListener,
    ) -> impl tokio_stream::Stream<Item = Result<TlsStream<TcpStream>, std::io::Error>> + use<> {
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(accept_loop(l, "gRPC", self.grpc.clone(), self.refused.clone(), tx));
        tokio_stream::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(rx), |(s, _)| Ok(s))
    }

    /// The HTTP listener's connections, for axum.
    pub fn http(&self, l: TcpListener) -> Result<TlsListener> {
        let local = l.local_addr()?;
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(accept_loop(l, "HTTP", self.http.clone(), self.refused.clone(), tx));
        Ok(TlsListener { rx, local })
    }
}

/// Accepts TCP connections and sends each to `tx` once its handshake is done; ends when
/// the server stops taking them.
async fn accept_loop(
    l: TcpListener,
    what: &'static str,
    acceptor: TlsAcceptor,
    refused: Arc<AtomicU64>,
    tx: mpsc::Sender<Accepted>,
) {
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
        let (acceptor, refused, tx) = (acceptor.clone(), refused.clone(), tx.clone());
        tokio::spawn(async move {
            let why = match tokio::time::timeout(HANDSHAKE, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => {
                    let _ = tx.send((s, peer)).await;
                    return;
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("no handshake within {} s", HANDSHAKE.as_secs()),
            };
            let n = refused.fetch_add(1, Ordering::Relaxed) + 1;
            if n <= SAID {
                let more = if n == SAID { " (further refused handshakes are counted, not printed)" } else { "" };
                say!("refused a TLS handshake on the {what} listener from {peer}: {why}{more}");
            }
        });
    }
}

/// The HTTP listener over TLS, for `axum::serve`.
pub struct TlsListener {
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
