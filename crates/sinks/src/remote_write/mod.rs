//! Prometheus remote-write sink (protocol 1.0): a snappy-compressed (block format)
//! protobuf `WriteRequest` per export, with the v1 headers. 5xx and 429 are retried (with
//! `Retry-After`), any other 4xx drops the batch after one attempt, as the protocol says.

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};

use crate::otlp::RetryPolicy;
use crate::otlp::response::retry_after;
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
        headers: &[(String, String)],
        timeout: std::time::Duration,
        policy: RetryPolicy,
    ) -> Result<Self, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder().timeout(timeout).build().map_err(|e| format!("HTTP client: {e}"))?;
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-protobuf"));
        h.insert(CONTENT_ENCODING, HeaderValue::from_static("snappy"));
        h.insert("X-Prometheus-Remote-Write-Version", HeaderValue::from_static("0.1.0"));
        h.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static(concat!("telemetry-simulator/", env!("CARGO_PKG_VERSION"))),
        );
        for (k, v) in headers {
            let name = http::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("`{k}` is not a header name"))?;
            h.insert(name, HeaderValue::from_str(v).map_err(|_| format!("header `{k}` has an invalid value"))?);
        }
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
                        let resp = match req.send().await {
                            Ok(r) => r,
                            Err(e) => return Outcome::Retry { reason: format!("remote write: {e}"), after: None },
                        };
                        let status = resp.status();
                        let after = resp
                            .headers()
                            .get(RETRY_AFTER)
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| retry_after(v, jiff::Timestamp::now().as_second()));
                        if status.is_success() {
                            return Outcome::Done(Delivery::ok(items));
                        }
                        let body = resp.bytes().await.unwrap_or_default();
                        let snippet: String = String::from_utf8_lossy(&body).chars().take(160).collect();
                        let reason = format!("http {}: {}", status.as_u16(), snippet.trim());
                        if status.is_server_error() || status.as_u16() == 429 {
                            Outcome::Retry { reason, after }
                        } else {
                            Outcome::Fail(reason)
                        }
                    }
                })
                .await
        })
    }
}
