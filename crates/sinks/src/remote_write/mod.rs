//! Prometheus remote-write sink (protocol 1.0): a snappy-compressed (block format)
//! protobuf `WriteRequest` per export, with the v1 headers. 5xx answers are retried (with
//! `Retry-After`); any 4xx, 429 included, drops the batch after one attempt.

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, HeaderName};

use crate::http::{client, headers, post, server_error};
use crate::otlp::RetryPolicy;
use crate::otlp::retry::Outcome;
use crate::{Batch, BoxFuture, Delivery, Format, Signal, Sink};

/// Sends metrics to a remote-write receiver.
pub struct RemoteWriteSink {
    url: String,
    client: reqwest::Client,
    headers: HeaderMap,
    policy: RetryPolicy,
}

impl RemoteWriteSink {
    /// A client for `url` (e.g. `http://127.0.0.1:9090/api/v1/write`).
    pub fn new(
        url: &str,
        extra: &[(String, String)],
        timeout: std::time::Duration,
        policy: RetryPolicy,
    ) -> Result<Self, String> {
        let h = headers(
            &[
                (CONTENT_TYPE, "application/x-protobuf"),
                (CONTENT_ENCODING, "snappy"),
                (HeaderName::from_static("x-prometheus-remote-write-version"), "0.1.0"),
            ],
            extra,
        )?;
        let client = client(timeout)?;
        Ok(Self { url: url.to_string(), client, headers: h, policy })
    }
}

impl Sink for RemoteWriteSink {
    fn name(&self) -> String {
        format!("remote-write {}", self.url)
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
            let policy = self.policy;
            policy
                .run(items, || {
                    let req = self.client.post(&self.url).headers(self.headers.clone()).body(body.clone());
                    async move {
                        match post(req).await {
                            Err(e) => Outcome::Retry { reason: format!("remote write: {e}"), after: None },
                            Ok(a) => a.outcome(server_error, |_| Delivery::ok(items)),
                        }
                    }
                })
                .await
        })
    }
}
