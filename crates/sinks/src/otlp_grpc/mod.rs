//! OTLP/gRPC sink: `TraceService/Export` or `LogsService/Export` over tonic, sending our
//! pre-encoded protobuf as is.
//!
//! `https://` endpoints connect through [`connect`] with the run's TLS; a handshake that
//! fails for good (a certificate refused by either side) drops the batch at once.
//!
//! Retryable codes follow the OTLP specification: CANCELLED, DEADLINE_EXCEEDED, ABORTED,
//! OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS, and RESOURCE_EXHAUSTED only when the server sends
//! a `RetryInfo`, whose delay is honoured. Everything else drops the batch with the status.

mod connect;

use bytes::{Buf, BufMut, Bytes};
use http::uri::PathAndQuery;
use tonic::client::Grpc;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use crate::otlp::response::{grpc_retry_delay, partial_success_proto};
use crate::otlp::retry::Outcome;
use crate::otlp::{Compression, OtlpConfig, RetryPolicy};
use crate::tls::{ClientTls, handshake_failure};
use crate::{Batch, BoxFuture, ConfigError, Delivery, Format, Signal, Sink, SinkBuildError};

/// A codec that passes bytes through: the payload is already protobuf.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// HTTP/2 flow-control window: a 512-span batch (~140 KB) fits without waiting for a
/// WINDOW_UPDATE round trip (the 64 KiB default costs milliseconds per request).
const WINDOW: u32 = 4 << 20;

/// Exports traces over OTLP/gRPC.
pub struct GrpcSink {
    cfg: OtlpConfig,
    signal: Signal,
    endpoint: Endpoint,
    grpc: Grpc<Channel>,
    metadata: MetadataMap,
    policy: RetryPolicy,
    tls: Option<connect::TlsConnector>,
    insecure: Option<String>,
    /// `host:port`, naming the peer in messages.
    peer: String,
}

impl GrpcSink {
    /// Prepares a lazily connecting channel to `cfg.url`, over `tls` for `https://`.
    pub fn new(cfg: OtlpConfig, signal: Signal, policy: RetryPolicy, tls: &ClientTls) -> Result<Self, SinkBuildError> {
        let invalid =
            |e: &dyn std::fmt::Display| SinkBuildError::Client(format!("invalid gRPC endpoint `{}`: {e}", cfg.url));
        let (url, connector) = match cfg.url.strip_prefix("https://") {
            // tonic sees a plain channel (its own TLS knows no insecure mode); the connector
            // speaks TLS and the origin puts `https` back into each request.
            Some(rest) => (format!("http://{rest}"), Some(connect::TlsConnector::new(&cfg.url, tls.grpc_config())?)),
            None => (cfg.url.clone(), None),
        };
        let mut ep = Endpoint::from_shared(url)
            .map_err(|e| invalid(&e))?
            .connect_timeout(cfg.timeout)
            .tcp_nodelay(true)
            .initial_stream_window_size(Some(WINDOW))
            .initial_connection_window_size(Some(WINDOW * 2));
        if connector.is_some() {
            ep = ep.origin(cfg.url.parse().map_err(|e| invalid(&e))?);
        }
        let grpc = connect(&ep, cfg.compression, connector.as_ref());
        let mut metadata = MetadataMap::new();
        for (k, v) in &cfg.headers {
            let key = MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes())
                .map_err(|_| ConfigError::Header(format!("`{k}`: not a valid gRPC metadata key")))?;
            let value = MetadataValue::try_from(v.as_str())
                .map_err(|_| ConfigError::Header(format!("`{k}` has an invalid value")))?;
            metadata.insert(key, value);
        }
        let insecure = tls.insecure_note(&cfg.url);
        let peer = ep.uri().authority().map_or_else(|| cfg.url.clone(), ToString::to_string);
        Ok(Self { cfg, signal, endpoint: ep, grpc, metadata, policy, tls: connector, insecure, peer })
    }
}

/// A lazily connecting client over its own HTTP/2 connection (TLS through `tls`).
fn connect(ep: &Endpoint, compression: Compression, tls: Option<&connect::TlsConnector>) -> Grpc<Channel> {
    let channel = match tls {
        Some(c) => ep.connect_with_connector_lazy(c.clone()),
        None => ep.connect_lazy(),
    };
    let grpc = Grpc::new(channel);
    match compression {
        Compression::Gzip => {
            grpc.send_compressed(CompressionEncoding::Gzip).accept_compressed(CompressionEncoding::Gzip)
        }
        Compression::None => grpc,
    }
}

fn classify(st: &Status, peer: &str) -> Outcome {
    if let Some(why) = handshake_failure(st, peer) {
        return Outcome::Fail(format!("grpc: {why}"));
    }
    let reason = format!("grpc {:?}: {}", st.code(), st.message());
    let delay = grpc_retry_delay(st.details());
    match st.code() {
        // The peer's deadline passed while it worked: it may have stored the batch.
        Code::DeadlineExceeded => Outcome::Unanswered(reason),
        Code::Cancelled | Code::Aborted | Code::OutOfRange | Code::Unavailable | Code::DataLoss => {
            Outcome::Retry { reason, after: delay }
        }
        Code::ResourceExhausted if delay.is_some() => Outcome::Retry { reason, after: delay },
        // A status the peer sent has no source; one with a source was made on our side from
        // a transport error (connection refused or broken mid-request): a connection
        // failure, retried like one.
        Code::Unknown if std::error::Error::source(st).is_some() => Outcome::Retry { reason, after: delay },
        _ => Outcome::Fail(reason),
    }
}

impl Sink for GrpcSink {
    fn name(&self) -> String {
        format!("otlp-grpc {}", self.cfg.url)
    }

    fn insecure(&self) -> Option<String> {
        self.insecure.clone()
    }

    fn signal(&self) -> Signal {
        self.signal
    }

    fn format(&self) -> Format {
        Format::OtlpProto
    }

    fn fork(&self) -> Option<Box<dyn Sink>> {
        // Its own connection: requests in flight on one connection share its flow-control
        // window, which the server sets.
        Some(Box::new(Self {
            cfg: self.cfg.clone(),
            signal: self.signal,
            endpoint: self.endpoint.clone(),
            grpc: connect(&self.endpoint, self.cfg.compression, self.tls.as_ref()),
            metadata: self.metadata.clone(),
            policy: self.policy,
            tls: self.tls.clone(),
            insecure: self.insecure.clone(),
            peer: self.peer.clone(),
        }))
    }

    fn send(&mut self, batch: Batch) -> BoxFuture<'_, Delivery> {
        Box::pin(async move {
            let items = batch.items;
            let policy = self.policy;
            let path = self.signal.grpc_path();
            policy
                .run(items, || {
                    let mut grpc = self.grpc.clone();
                    let metadata = self.metadata.clone();
                    let payload = batch.payload.clone();
                    let timeout = self.cfg.timeout;
                    let peer = self.peer.as_str();
                    let tls = self.tls.as_ref();
                    async move {
                        if let Err(e) = grpc.ready().await {
                            if let Some(why) = handshake_failure(&e, peer) {
                                return Outcome::Fail(format!("grpc: {why}"));
                            }
                            return Outcome::Retry { reason: format!("grpc unavailable: {e}"), after: None };
                        }
                        let mut req = tonic::Request::new(payload);
                        *req.metadata_mut() = metadata;
                        // The deadline goes to the peer as `grpc-timeout`; past it, unanswered.
                        req.set_timeout(timeout);
                        let call = grpc.unary(req, PathAndQuery::from_static(path), RawCodec);
                        match tokio::time::timeout(timeout, call).await {
                            Ok(Ok(resp)) => {
                                tls.inspect(|t| t.answered());
                                Outcome::Done(Delivery::partial(items, partial_success_proto(&resp.into_inner())))
                            }
                            Ok(Err(st)) => match (classify(&st, peer), tls.and_then(|t| t.refused())) {
                                // Cancelled with the connection a TLS alert ended.
                                (Outcome::Retry { .. }, Some(why)) => {
                                    Outcome::Fail(format!("grpc: TLS handshake with {peer} failed: {why}"))
                                }
                                (o, _) => o,
                            },
                            Err(_) => Outcome::Unanswered(format!("grpc: no answer within {timeout:?}")),
                        }
                    }
                })
                .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_failures_are_retried_and_peer_statuses_are_not() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let p = "h:4317";
        assert!(matches!(classify(&Status::from_error(Box::new(refused)), p), Outcome::Retry { .. }));
        assert!(matches!(classify(&Status::unknown("peer says no"), p), Outcome::Fail(_)));
        assert!(matches!(classify(&Status::invalid_argument("bad"), p), Outcome::Fail(_)));
        assert!(matches!(classify(&Status::unavailable("later"), p), Outcome::Retry { .. }));
        let refused = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        match classify(&Status::from_error(Box::new(refused)), p) {
            Outcome::Fail(why) => assert!(why.contains("TLS handshake with h:4317 failed"), "{why}"),
            o => panic!("{o:?}"),
        }
    }
}
