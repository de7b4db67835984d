//! InfluxDB line-protocol sink: metrics POSTed as text to `/api/v2/write` (InfluxDB 2,
//! VictoriaMetrics and other stores that accept the protocol). 5xx and 429 are retried
//! (with `Retry-After`), other 4xx drop the batch after one attempt.

use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};

use crate::otlp::RetryPolicy;
use crate::otlp::response::retry_after;
use crate::otlp::retry::Outcome;
use crate::{Batch, BoxFuture, Delivery, Format, Signal, Sink};

/// Writes metrics as InfluxDB line protocol.
pub struct InfluxSink {
    url: String,
    client: reqwest::Client,
    headers: HeaderMap,
    policy: RetryPolicy,
}

impl InfluxSink {
    /// A client for `url` (e.g. `http://127.0.0.1:8428/api/v2/write`; InfluxDB 2 also wants
    /// `?org=…&bucket=…` and an `Authorization: Token …` header).
    pub fn new(
        url: &str,
        headers: &[(String, String)],
        timeout: std::time::Duration,
        policy: RetryPolicy,
    ) -> Result<Self, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder().timeout(timeout).build().map_err(|e| format!("HTTP client: {e}"))?;
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        for (k, v) in headers {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| format!("`{k}` is not a header name"))?;
            h.insert(name, HeaderValue::from_str(v).map_err(|_| format!("header `{k}` has an invalid value"))?);
        }
        Ok(Self { url: url.to_string(), client, headers: h, policy })
    }
}

impl Sink for InfluxSink {
    fn name(&self) -> String {
        format!("influx {}", self.url)
    }

    fn format(&self) -> Format {
        Format::InfluxLine
    }

    fn signal(&self) -> Signal {
        Signal::Metrics
    }

    fn send(&mut self, batch: Batch) -> BoxFuture<'_, Delivery> {
        Box::pin(async move {
            let items = batch.items;
            let policy = self.policy;
            policy
                .run(items, || {
                    let req = self.client.post(&self.url).headers(self.headers.clone()).body(batch.payload.clone());
                    async move {
                        let resp = match req.send().await {
                            Ok(r) => r,
                            Err(e) => return Outcome::Retry { reason: format!("influx: {e}"), after: None },
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
