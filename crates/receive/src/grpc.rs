//! OTLP/gRPC: the `Export` methods of TraceService, LogsService and MetricsService, over
//! tonic, with gzip; the payload stays the bytes received. Statuses as the OpenTelemetry
//! Collector answers: INVALID_ARGUMENT for a payload that does not decode, RESOURCE_EXHAUSTED
//! over 4 MiB (tonic says OUT_OF_RANGE, which the OTLP spec makes retryable forever),
//! UNAUTHENTICATED without the token, UNAVAILABLE (retryable) while the writer is behind or
//! the disk fails.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use tonic::body::Body;
use tonic::codec::CompressionEncoding;
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};
use tsim_store::Table;

use crate::codec::RawCodec;
use crate::ingest::Ingest;
use crate::payload::{GRPC_MAX, authorized, protobuf};

/// What every service shares.
pub(crate) struct Shared {
    /// Where requests go.
    pub ingest: Ingest,
    /// The bearer token, if one is required.
    pub token: Option<String>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// One `Export` call.
struct Export {
    shared: Arc<Shared>,
    table: Table,
}

impl UnaryService<Bytes> for Export {
    type Response = Bytes;
    type Future = BoxFuture<Result<Response<Bytes>, Status>>;

    fn call(&mut self, req: Request<Bytes>) -> Self::Future {
        let (shared, table) = (self.shared.clone(), self.table);
        Box::pin(async move {
            let checked = protobuf(table, req.into_inner()).map_err(|e| {
                shared.ingest.stats.of(table).refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Status::invalid_argument(format!("the payload does not decode: {e}"))
            })?;
            shared
                .ingest
                .store(table, checked.payload, checked.items)
                .await
                .map_err(|r| Status::unavailable(r.to_string()))?;
            // An empty Export*ServiceResponse: everything was stored (no partial success).
            Ok(Response::new(Bytes::new()))
        })
    }
}

async fn handle(
    shared: Arc<Shared>,
    table: Table,
    path: &'static str,
    req: http::Request<Body>,
) -> http::Response<Body> {
    if req.uri().path() != path {
        return Status::unimplemented(format!("no method {}", req.uri().path())).into_http();
    }
    let auth = req.headers().get(http::header::AUTHORIZATION).map(http::HeaderValue::as_bytes);
    if !authorized(shared.token.as_deref(), auth) {
        shared.ingest.stats.of(table).refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Status::unauthenticated("a bearer token is required (Authorization: Bearer …)").into_http();
    }
    let mut grpc = Grpc::new(RawCodec)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(GRPC_MAX);
    let mut resp = grpc.unary(Export { shared: shared.clone(), table }, req).await;
    // tonic refuses an oversized message with OUT_OF_RANGE before calling us; we never send
    // that code ourselves.
    if resp.headers().get("grpc-status").is_some_and(|v| v == "11") {
        shared.ingest.stats.of(table).refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let h = resp.headers_mut();
        h.insert("grpc-status", http::HeaderValue::from_static("8"));
        h.insert(
            "grpc-message",
            http::HeaderValue::from_static("the%20message%20is%20larger%20than%20the%204%20MiB%20limit"),
        );
    }
    resp
}

macro_rules! service {
    ($ty:ident, $name:literal, $table:expr) => {
        /// An OTLP gRPC service.
        #[derive(Clone)]
        pub(crate) struct $ty(pub Arc<Shared>);

        impl NamedService for $ty {
            const NAME: &'static str = $name;
        }

        impl tower_service::Service<http::Request<Body>> for $ty {
            type Response = http::Response<Body>;
            type Error = Infallible;
            type Future = BoxFuture<Result<Self::Response, Infallible>>;

            fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
                Poll::Ready(Ok(()))
            }

            fn call(&mut self, req: http::Request<Body>) -> Self::Future {
                let shared = self.0.clone();
                Box::pin(async move { Ok(handle(shared, $table, concat!("/", $name, "/Export"), req).await) })
            }
        }
    };
}

service!(TraceService, "opentelemetry.proto.collector.trace.v1.TraceService", Table::Traces);
service!(LogsService, "opentelemetry.proto.collector.logs.v1.LogsService", Table::Logs);
service!(MetricsService, "opentelemetry.proto.collector.metrics.v1.MetricsService", Table::Metrics);

/// Serves the three services on the connections of `incoming` (plain TCP, or TLS streams
/// whose handshake is done) until `stop` resolves.
pub(crate) async fn serve<IO, IE>(
    shared: Arc<Shared>,
    incoming: impl tokio_stream::Stream<Item = Result<IO, IE>>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error>
where
    IO: tonic::transport::server::Connected + tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    IE: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tonic::transport::Server::builder()
        .add_service(TraceService(shared.clone()))
        .add_service(LogsService(shared.clone()))
        .add_service(MetricsService(shared))
        .serve_with_incoming_shutdown(incoming, stop)
        .await
}
