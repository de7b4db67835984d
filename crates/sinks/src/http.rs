//! What the HTTP-based sinks share (here and in outputs that own their sink): the client,
//! headers, one POST, and the reading of an answer as done, retryable (with the peer's
//! `Retry-After`) or permanent.

use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};

use crate::Delivery;
use crate::otlp::RetryPolicy;
use crate::otlp::response::retry_after;
use crate::otlp::retry::Outcome;
use crate::tls::{ClientTls, handshake_failure};
use crate::{ConfigError, SinkBuildError};

/// An HTTP client with the run's TLS (rustls, ring) and the simulator's user agent.
pub(crate) fn client(timeout: Duration, tls: &ClientTls) -> Result<reqwest::Client, SinkBuildError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .tls_backend_preconfigured(tls.http_config().clone())
        .user_agent(concat!("telemetry-simulator/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| SinkBuildError::Client(format!("HTTP client: {e}")))
}

/// Fixed headers plus user-given `key=value` ones (which may replace them).
pub(crate) fn headers(
    fixed: &[(HeaderName, &'static str)],
    extra: &[(String, String)],
) -> Result<HeaderMap, ConfigError> {
    let mut h = HeaderMap::new();
    for (k, v) in fixed {
        h.insert(k.clone(), HeaderValue::from_static(v));
    }
    for (k, v) in extra {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| ConfigError::Header(format!("`{k}`: not a valid name")))?;
        h.insert(
            name,
            HeaderValue::from_str(v).map_err(|_| ConfigError::Header(format!("`{k}` has an invalid value")))?,
        );
    }
    Ok(h)
}

/// The error and its causes, on one line.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// A peer's answer.
pub(crate) struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Bytes,
}

/// A request that got no answer.
pub(crate) struct NoAnswer {
    /// What went wrong, with its causes.
    pub message: String,
    /// The request was sent and timed out: the peer may have taken it.
    pub timed_out: bool,
    /// A TLS handshake that failed for good (a certificate refused): its reason.
    pub tls_failure: Option<String>,
}

impl NoAnswer {
    /// The retry outcome: a timeout leaves the peer's side unknown; a refused certificate
    /// is permanent.
    pub fn outcome(self, label: &str) -> Outcome {
        if let Some(reason) = self.tls_failure {
            return Outcome::Fail(format!("{label}: {reason}"));
        }
        let reason = format!("{label}: {}", self.message);
        if self.timed_out { Outcome::Unanswered(reason) } else { Outcome::Retry { reason, after: None } }
    }
}

/// `host:port` of a request's URL, naming the peer in messages.
fn peer(url: Option<&reqwest::Url>) -> String {
    match url {
        Some(u) => format!("{}:{}", u.host_str().unwrap_or("?"), u.port_or_known_default().unwrap_or(0)),
        None => "the peer".into(),
    }
}

/// Sends `req`; a connection failure or a timeout is a [`NoAnswer`].
pub(crate) async fn post(req: reqwest::RequestBuilder) -> Result<Answer, NoAnswer> {
    let resp = req.send().await.map_err(|e| NoAnswer {
        message: error_chain(&e),
        timed_out: e.is_timeout(),
        tls_failure: handshake_failure(&e, &peer(e.url())),
    })?;
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| retry_after(v, jiff::Timestamp::now().as_second()));
    let body = resp.bytes().await.unwrap_or_default();
    Ok(Answer { status, retry_after, body })
}

impl Answer {
    /// Done (as `success` says) on 2xx; retried when `retryable(status)`; dropped otherwise,
    /// with the status and the start of the body as the reason.
    pub fn outcome(self, retryable: fn(u16) -> bool, success: impl FnOnce(&Bytes) -> Delivery) -> Outcome {
        if (200..300).contains(&self.status) {
            return Outcome::Done(success(&self.body));
        }
        let snippet: String = String::from_utf8_lossy(&self.body).chars().take(160).collect();
        let reason = format!("http {}: {}", self.status, snippet.trim());
        if retryable(self.status) { Outcome::Retry { reason, after: self.retry_after } } else { Outcome::Fail(reason) }
    }
}

/// Retry on 5xx and 429 (line protocol).
pub fn server_error_or_throttled(status: u16) -> bool {
    status >= 500 || status == 429
}

/// Retry on 5xx only: remote write 1.0 never retries a 4xx.
pub fn server_error(status: u16) -> bool {
    status >= 500
}

/// Retry on what the OTLP specification lists: 429, 502, 503, 504.
pub fn otlp_retryable(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// A URL to POST batches to, with its client, headers and retry policy. Clones share the
/// client's connection pool.
#[derive(Clone)]
pub struct Endpoint {
    /// Where batches go.
    pub url: String,
    client: reqwest::Client,
    headers: HeaderMap,
    policy: RetryPolicy,
    insecure: Option<String>,
}

impl Endpoint {
    /// An endpoint with `fixed` headers plus the user's `extra` ones, over `tls`.
    pub fn new(
        url: &str,
        fixed: &[(HeaderName, &'static str)],
        extra: &[(String, String)],
        timeout: Duration,
        policy: RetryPolicy,
        tls: &ClientTls,
    ) -> Result<Self, SinkBuildError> {
        Ok(Self {
            url: url.to_string(),
            client: client(timeout, tls)?,
            headers: headers(fixed, extra)?,
            policy,
            insecure: tls.insecure_note(url),
        })
    }

    /// What the insecure mode does to this endpoint, when it is on (for the summary).
    pub fn insecure(&self) -> Option<String> {
        self.insecure.clone()
    }

    /// POSTs `body` until it is done, retrying what `retryable` allows within the policy;
    /// `success` reads a 2xx answer (partial success, …). `label` prefixes connection errors.
    pub async fn deliver(
        &self,
        body: Bytes,
        items: u64,
        label: &str,
        retryable: fn(u16) -> bool,
        success: impl Fn(&Bytes) -> Delivery,
    ) -> Delivery {
        self.policy
            .run(items, || {
                let req = self.client.post(&self.url).headers(self.headers.clone()).body(body.clone());
                let success = &success;
                async move {
                    match post(req).await {
                        Err(e) => e.outcome(label),
                        Ok(a) => a.outcome(retryable, success),
                    }
                }
            })
            .await
    }
}

/// Checks that `url` is an `http://` or `https://` URL with a host, before any request:
/// the error names `source` (the flag or variable it came from) and says what is wrong.
pub fn check_url(source: &str, url: &str) -> Result<(), ConfigError> {
    let bad = |why: &str| {
        Err(ConfigError::Url { source_name: source.to_string(), url: url.to_string(), why: why.to_string() })
    };
    if url.split_once("://").is_some_and(|(_, rest)| rest.is_empty() || rest.starts_with(['/', ':'])) {
        return bad("has no host");
    }
    let Ok(uri) = url.parse::<http::Uri>() else { return bad("is not a URL") };
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => return bad(&format!("has scheme `{other}`; only http and https are supported")),
        None => return bad("has no scheme"),
    }
    if uri.host().is_none_or(str::is_empty) {
        return bad("has no host");
    }
    if uri.port().is_some_and(|p| p.as_u16() == 0) {
        return bad("has port 0");
    }
    Ok(())
}

#[cfg(test)]
mod url_tests {
    use super::check_url;

    #[test]
    fn endpoints_are_checked_before_any_request() {
        assert!(check_url("--endpoint", "http://127.0.0.1:4318/v1/traces").is_ok());
        assert!(check_url("--endpoint", "https://collector.example:443").is_ok());
        for bad in ["ftp://x:21", "::not a url::", "http://", "http://:4318", "localhost:4318x"] {
            let e = check_url("--endpoint", bad).unwrap_err().to_string();
            assert!(e.starts_with("--endpoint `"), "{e}");
        }
    }
}
