//! The line-protocol sink: metrics POSTed as text to `/api/v2/write` (InfluxDB 2,
//! VictoriaMetrics and other stores that accept the protocol). 5xx and 429 are retried
//! (with `Retry-After`), other 4xx drop the batch after one attempt.

use http::header::CONTENT_TYPE;
use tsim_sinks::http::{Endpoint, server_error_or_throttled};
use tsim_sinks::otlp::RetryPolicy;
use tsim_sinks::tls::ClientTls;
use tsim_sinks::{Batch, BoxFuture, Delivery, Format, Signal, Sink, SinkBuildError};

/// Writes metrics as InfluxDB line protocol.
pub(super) struct InfluxSink {
    endpoint: Endpoint,
}

impl InfluxSink {
    /// A client for `url` (e.g. `http://127.0.0.1:8428/api/v2/write`; InfluxDB 2 also wants
    /// `?org=…&bucket=…` and an `Authorization: Token …` header).
    pub(super) fn new(
        url: &str,
        extra: &[(String, String)],
        timeout: std::time::Duration,
        policy: RetryPolicy,
        tls: &ClientTls,
    ) -> Result<Self, SinkBuildError> {
        let fixed = [(CONTENT_TYPE, "text/plain; charset=utf-8")];
        let endpoint = Endpoint::new(url, &fixed, extra, timeout, policy, tls)?;
        Ok(Self { endpoint })
    }
}

impl Sink for InfluxSink {
    fn name(&self) -> String {
        format!("influx {}", self.endpoint.url)
    }

    fn insecure(&self) -> Option<String> {
        self.endpoint.insecure()
    }

    fn format(&self) -> Format {
        Format::Own
    }

    fn signal(&self) -> Signal {
        Signal::Metrics
    }

    fn send(&mut self, batch: Batch) -> BoxFuture<'_, Delivery> {
        let items = batch.items;
        Box::pin(
            self.endpoint
                .deliver(batch.payload, items, "influx", server_error_or_throttled, move |_| Delivery::ok(items)),
        )
    }
}
