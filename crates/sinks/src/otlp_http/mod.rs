//! OTLP/HTTP sink: POST of protobuf (`application/x-protobuf`) or OTLP/JSON
//! (`application/json`) bodies, optionally gzip-compressed.
//!
//! Retryable answers follow the OTLP specification: 429, 502, 503, 504 and connection
//! failures, honouring `Retry-After`. Any other non-2xx status drops the batch after one
//! attempt, with the status and the start of the body as the reason.

use std::io::Write;

use bytes::Bytes;
use flate2::Compression as GzLevel;
use flate2::write::GzEncoder;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};

use crate::http::{Endpoint, otlp_retryable};
use crate::otlp::response::{partial_success_json, partial_success_proto};
use crate::otlp::{Compression, OtlpConfig, Protocol, RetryPolicy};
use crate::tls::ClientTls;
use crate::{Batch, BoxFuture, Delivery, Format, Signal, Sink, SinkBuildError};

/// Exports traces over OTLP/HTTP.
#[derive(Clone)]
pub struct HttpSink {
    cfg: OtlpConfig,
    signal: Signal,
    endpoint: Endpoint,
}

impl HttpSink {
    /// A client for `cfg` (protocol http/protobuf or http/json).
    pub fn new(cfg: OtlpConfig, signal: Signal, policy: RetryPolicy, tls: &ClientTls) -> Result<Self, SinkBuildError> {
        let ct = if cfg.protocol == Protocol::HttpJson { "application/json" } else { "application/x-protobuf" };
        let mut fixed = vec![(CONTENT_TYPE, ct)];
        if cfg.compression == Compression::Gzip {
            fixed.push((CONTENT_ENCODING, "gzip"));
        }
        let endpoint = Endpoint::new(&cfg.url, &fixed, &cfg.headers, cfg.timeout, policy, tls)?;
        Ok(Self { cfg, signal, endpoint })
    }
}

fn gzip(data: &[u8]) -> Bytes {
    let mut enc = GzEncoder::new(Vec::with_capacity(data.len() / 4), GzLevel::fast());
    enc.write_all(data).expect("writing to a Vec cannot fail");
    Bytes::from(enc.finish().expect("writing to a Vec cannot fail"))
}

impl Sink for HttpSink {
    fn name(&self) -> String {
        format!("otlp-{} {}", self.cfg.protocol.as_str(), self.cfg.url)
    }

    fn insecure(&self) -> Option<String> {
        self.endpoint.insecure()
    }

    fn signal(&self) -> Signal {
        self.signal
    }

    fn format(&self) -> Format {
        if self.cfg.protocol == Protocol::HttpJson { Format::OtlpJson } else { Format::OtlpProto }
    }

    fn fork(&self) -> Option<Box<dyn Sink>> {
        // The client's pool opens a connection per concurrent request.
        Some(Box::new(self.clone()))
    }

    fn send(&mut self, batch: Batch) -> BoxFuture<'_, Delivery> {
        Box::pin(async move {
            let items = batch.items;
            let body = if self.cfg.compression == Compression::Gzip { gzip(&batch.payload) } else { batch.payload };
            let json = self.cfg.protocol == Protocol::HttpJson;
            let field = self.signal.rejected_json_field();
            self.endpoint
                .deliver(body, items, "http", otlp_retryable, |body| {
                    let partial = if json { partial_success_json(body, field) } else { partial_success_proto(body) };
                    Delivery::partial(items, partial)
                })
                .await
        })
    }
}
