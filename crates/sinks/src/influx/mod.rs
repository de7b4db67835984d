//! InfluxDB line-protocol sink: metrics POSTed as text to `/api/v2/write` (InfluxDB 2,
//! VictoriaMetrics and other stores that accept the protocol). 5xx and 429 are retried
//! (with `Retry-After`), other 4xx drop the batch after one attempt.

use http::header::{CONTENT_TYPE, HeaderMap};

use crate::http::{client, headers, post, server_error_or_throttled};
use crate::otlp::RetryPolicy;
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
        extra: &[(String, String)],
        timeout: std::time::Duration,
        policy: RetryPolicy,
    ) -> Result<Self, String> {
        let h = headers(&[(CONTENT_TYPE, "text/plain; charset=utf-8")], extra)?;
        Ok(Self { url: url.to_string(), client: client(timeout)?, headers: h, policy })
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
                        match post(req).await {
                            Err(e) => Outcome::Retry { reason: format!("influx: {e}"), after: None },
                            Ok(a) => a.outcome(server_error_or_throttled, |_| Delivery::ok(items)),
                        }
                    }
                })
                .await
        })
    }
}
