//! What a receiver is started with.

use std::path::PathBuf;
use std::time::Duration;

use crate::notice::Notify;

/// How to start a [`Receiver`](crate::Receiver). Build it with [`ReceiverConfig::new`] and
/// set the fields that differ.
#[derive(Clone)]
pub struct ReceiverConfig {
    /// The store's root directory (created if missing; one receiver at a time).
    pub store: PathBuf,
    /// Where OTLP/gRPC is served (`HOST:PORT`; port 0: any free port).
    pub grpc_listen: String,
    /// Where OTLP/HTTP and the receiver's `/metrics` are served (`HOST:PORT`).
    pub http_listen: String,
    /// Require `Authorization: Bearer TOKEN` on every request when set.
    pub token: Option<String>,
    /// Close the log segment and convert it into Parquet at least this often (sooner at
    /// 64 MiB); at least 1 ms.
    pub flush_interval: Duration,
    /// Serve both listeners over TLS only with this configuration (its ALPN protocols are
    /// set per listener); a client certificate verifier in it makes it mutual TLS.
    pub tls: Option<rustls::ServerConfig>,
    /// Receives what the receiver reports while it runs; without one, nothing is reported.
    pub notify: Option<Notify>,
}

impl ReceiverConfig {
    /// Storing into `store`, both listeners on any free port of 127.0.0.1, no token, a
    /// 10 s flush interval, no TLS, nothing reported.
    pub fn new(store: impl Into<PathBuf>) -> Self {
        Self {
            store: store.into(),
            grpc_listen: "127.0.0.1:0".to_owned(),
            http_listen: "127.0.0.1:0".to_owned(),
            token: None,
            flush_interval: Duration::from_secs(10),
            tls: None,
            notify: None,
        }
    }
}

impl std::fmt::Debug for ReceiverConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is never shown.
        f.debug_struct("ReceiverConfig")
            .field("store", &self.store)
            .field("grpc_listen", &self.grpc_listen)
            .field("http_listen", &self.http_listen)
            .field("token", &self.token.as_ref().map(|_| "…"))
            .field("flush_interval", &self.flush_interval)
            .field("tls", &self.tls.is_some())
            .field("notify", &self.notify.is_some())
            .finish()
    }
}
