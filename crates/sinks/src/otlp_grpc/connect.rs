//! The TLS connector of `https://` gRPC endpoints: TCP, then a rustls handshake with the
//! run's client configuration (ALPN h2; the CA file, client certificate or insecure mode of
//! the settings), the server name taken from the endpoint's host. tonic's channel runs
//! HTTP/2 over it and bounds the whole connection, handshake included, by its connect
//! timeout.
//!
//! A TLS 1.3 server refuses a client certificate after the client's side of the handshake,
//! with an alert read later on the connection: requests queued on it then fail as merely
//! cancelled. The connector keeps the last such alert ([`TlsConnector::refused`]) so that
//! the sink can drop those batches with the real reason instead of retrying them.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use http::Uri;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::SinkBuildError;

/// Connects to one host and port over TLS, whatever URI tonic asks for.
#[derive(Clone)]
pub(crate) struct TlsConnector {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
    host: String,
    port: u16,
    /// The last TLS error read on a connection after its handshake (a refused certificate).
    alert: Arc<Mutex<Option<String>>>,
}

impl TlsConnector {
    /// A connector to the host and port of `url` (`https://host:port`, default port 443).
    pub(crate) fn new(url: &str, config: Arc<ClientConfig>) -> Result<Self, SinkBuildError> {
        let bad = |why: &str| SinkBuildError::Client(format!("gRPC endpoint `{url}`: {why}"));
        let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
        let host = uri.host().ok_or_else(|| bad("no host"))?;
        // An IPv6 literal comes bracketed in a URL, bare in a socket address or server name.
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let name = ServerName::try_from(host.clone()).map_err(|_| bad("the host is not a valid TLS server name"))?;
        Ok(Self { config, name, host, port: uri.port_u16().unwrap_or(443), alert: Arc::default() })
    }

    /// The TLS error that ended a connection after its handshake, since the last answer.
    pub(crate) fn refused(&self) -> Option<String> {
        self.alert.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Forgets it: the peer answered.
    pub(crate) fn answered(&self) {
        *self.alert.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }
}

/// A TLS stream that notes the TLS errors read on it.
pub(crate) struct Watched {
    inner: TlsStream<TcpStream>,
    alert: Arc<Mutex<Option<String>>>,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Err(e)) = &r
            && let Some(t) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            *self.alert.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(t.to_string());
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

type Connecting = Pin<Box<dyn Future<Output = Result<TokioIo<Watched>, std::io::Error>> + Send>>;

impl tower_service::Service<Uri> for TlsConnector {
    type Response = TokioIo<Watched>;
    type Error = std::io::Error;
    type Future = Connecting;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        let c = self.clone();
        Box::pin(async move {
            let tcp = TcpStream::connect((c.host.as_str(), c.port)).await?;
            tcp.set_nodelay(true)?;
            let tls = tokio_rustls::TlsConnector::from(c.config).connect(c.name, tcp).await?;
            Ok(TokioIo::new(Watched { inner: tls, alert: c.alert }))
        })
    }
}
