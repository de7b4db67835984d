//! Prometheus remote-write sink (protocol 1.0): a snappy-compressed (block format)
//! protobuf `WriteRequest` per export, with the v1 headers. 5xx answers are retried (with
//! `Retry-After`); any 4xx, 429 included, drops the batch after one attempt.

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderName};

use crate::http::{Endpoint, server_error};
use crate::otlp::RetryPolicy;
use crate::tls::ClientTls;
use crate::{Batch, BoxFuture, Delivery, Format, Signal, Sink, SinkBuildError};

/// Sends metrics to a remote-write receiver.
pub struct RemoteWriteSink {
    endpoint: Endpoint,
}

impl RemoteWriteSink {
    /// A client for `url` (e.g. `http://127.0.0.1:9090/api/v1/write`).
    pub fn new(
        url: &str,
        extra: &[(String, String)],
        timeout: std::time::Duration,
        policy: RetryPolicy,
        tls: &ClientTls,
    ) -> Result<Self, SinkBuildError> {
        let fixed = [
            (CONTENT_TYPE, "application/x-protobuf"),
            (CONTENT_ENCODING, "snappy"),
            (HeaderName::from_static("x-prometheus-remote-write-version"), "0.1.0"),
        ];
        Ok(Self { endpoint: Endpoint::new(url, &fixed, extra, timeout, policy, tls)? })
    }
}

impl Sink for RemoteWriteSink {
    fn name(&self) -> String {
        format!("remote-write {}", self.endpoint.url)
    }

    fn insecure(&self) -> Option<String> {
        self.endpoint.insecure()
    }

    fn format(&self) -> Format {
        Format::RemoteWrite
    }

    fn signal(&self) -> Signal {
        Signal::Metrics
    }

    fn send(&mut self, batch: Batch) -> BoxFuture<'_, Delivery> {
        Box::pin(async move {
            let items = batch.items;
            let body = match snap::raw::Encoder::new().compress_vec(&batch.payload) {
                Ok(b) => Bytes::from(b),
                Err(e) => return Delivery::dropped(items, format!("snappy: {e}")),
            };
            self.endpoint.deliver(body, items, "remote write", server_error, |_| Delivery::ok(items)).await
        })
    }
}
