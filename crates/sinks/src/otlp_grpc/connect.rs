//! The TLS connector of `https://` gRPC endpoints: TCP, then a rustls handshake with the
//! run's client configuration (ALPN h2; the CA file, client certificate or insecure mode of
//! the settings), the server name taken from the endpoint's host. tonic's channel runs
//! HTTP/2 over it and bounds the whole connection, handshake included, by its connect
//! timeout.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
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
        Ok(Self { config, name, host, port: uri.port_u16().unwrap_or(443) })
    }
}

type Connecting = Pin<Box<dyn Future<Output = Result<TokioIo<TlsStream<TcpStream>>, std::io::Error>> + Send>>;

impl tower_service::Service<Uri> for TlsConnector {
    type Response = TokioIo<TlsStream<TcpStream>>;
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
            Ok(TokioIo::new(tls))
        })
    }
}
