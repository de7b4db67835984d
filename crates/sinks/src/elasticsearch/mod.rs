//! Elasticsearch / OpenSearch `_bulk` sink. Per-item results are handled as Filebeat does:
//! items answered 429 or 5xx are retried (alone, with backoff), a 409 on `create` means the
//! document is already there and counts as delivered, any other 4xx drops the item with its
//! error type as the reason. Whole-request 429/5xx and connection failures retry the chunk;
//! other whole-request errors drop it.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};

use crate::otlp::RetryPolicy;
use crate::tls::ClientTls;
use crate::{Batch, BoxFuture, ConfigError, Delivery, Format, Signal, Sink, SinkBuildError};

/// Credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // each variant's doc names its fields
pub enum EsAuth {
    /// `Authorization: Basic …`.
    Basic { user: String, password: String },
    /// `Authorization: ApiKey …` (the encoded key as Elasticsearch gives it).
    ApiKey(String),
}

/// Settings of the sink.
#[derive(Debug, Clone)]
pub struct EsConfig {
    /// Base URL, e.g. `http://127.0.0.1:9200`.
    pub url: String,
    /// Credentials.
    pub auth: Option<EsAuth>,
    /// Most documents per `_bulk` request.
    pub max_docs: usize,
    /// Most body bytes per `_bulk` request (a single larger document still goes alone).
    pub max_bytes: usize,
    /// Per-request timeout.
    pub timeout: std::time::Duration,
}

/// Indexes documents with `_bulk`.
pub struct EsSink {
    cfg: EsConfig,
    client: reqwest::Client,
    headers: HeaderMap,
    policy: RetryPolicy,
    insecure: Option<String>,
}

impl EsSink {
    /// A client for `cfg`.
    pub fn new(cfg: EsConfig, policy: RetryPolicy, tls: &ClientTls) -> Result<Self, SinkBuildError> {
        let client = crate::http::client(cfg.timeout, tls)?;
        let insecure = tls.insecure_note(&cfg.url);
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
        // Basic credentials are added per request by the client (`basic_auth`).
        if let Some(EsAuth::ApiKey(k)) = &cfg.auth {
            headers.insert(
                AUTHORIZATION,
                HeaderValue::from_str(&format!("ApiKey {k}"))
                    .map_err(|_| ConfigError::Header("`authorization`: the API key has an invalid value".into()))?,
            );
        }
        Ok(Self { cfg, client, headers, policy, insecure })
    }

    /// Delivers one chunk of (action, document) pairs, retrying what may be retried.
    async fn chunk(&self, items: &[(&[u8], &[u8])], d: &mut Delivery) {
        let url = format!("{}/_bulk", self.cfg.url.trim_end_matches('/'));
        let mut pending: Vec<usize> = (0..items.len()).collect();
        let mut backoff = self.policy.backoff();
        let mut dropped: BTreeMap<String, u64> = BTreeMap::new();
        let mut unanswered = false;
        loop {
            let mut body = Vec::new();
            for &i in &pending {
                body.extend_from_slice(items[i].0);
                body.push(b'\n');
                body.extend_from_slice(items[i].1);
                body.push(b'\n');
            }
            d.requests += 1;
            let mut req = self.client.post(&url).headers(self.headers.clone()).body(Bytes::from(body));
            if let Some(EsAuth::Basic { user, password }) = &self.cfg.auth {
                req = req.basic_auth(user, Some(password));
            }
            let (retry, after, reason): (Vec<usize>, _, String) = match crate::http::post(req).await {
                Err(crate::http::NoAnswer { tls_failure: Some(why), .. }) => {
                    *dropped.entry(format!("es: {why}")).or_default() += pending.len() as u64;
                    break;
                }
                Err(e) => {
                    unanswered |= e.timed_out;
                    (pending.clone(), None, format!("es: {}", e.message))
                }
                Ok(crate::http::Answer { status, retry_after: after, body: text }) => {
                    if status == 429 || status >= 500 {
                        (pending.clone(), after, format!("es {status}"))
                    } else if !(200..300).contains(&status) {
                        let snippet: String = String::from_utf8_lossy(&text).chars().take(120).collect();
                        *dropped.entry(format!("es {status}: {}", snippet.trim())).or_default() += pending.len() as u64;
                        break;
                    } else {
                        match per_item(&text, pending.len()) {
                            Err(e) => {
                                *dropped.entry(e.to_string()).or_default() += pending.len() as u64;
                                break;
                            }
                            Ok(results) => {
                                let mut retry = Vec::new();
                                let mut last = String::new();
                                for (k, r) in results.into_iter().enumerate() {
                                    match r {
                                        ItemResult::Delivered => d.delivered += 1,
                                        ItemResult::Retry(why) => {
                                            retry.push(pending[k]);
                                            last = why;
                                        }
                                        ItemResult::Dropped(why) => *dropped.entry(why).or_default() += 1,
                                    }
                                }
                                (retry, after, last)
                            }
                        }
                    }
                }
            };
            if retry.is_empty() {
                break;
            }
            match backoff.next_wait(after) {
                Some(wait) => {
                    d.retries += 1;
                    tokio::time::sleep(wait).await;
                    pending = retry;
                }
                None => {
                    let reason = if unanswered {
                        crate::otlp::retry::TIMEOUT_UNKNOWN.to_string()
                    } else {
                        format!("retries exhausted: {reason}")
                    };
                    *dropped.entry(reason).or_default() += retry.len() as u64;
                    break;
                }
            }
        }
        for (reason, n) in dropped {
            d.dropped.push((reason, n));
        }
    }
}

enum ItemResult {
    Delivered,
    Retry(String),
    Dropped(String),
}

/// A `_bulk` answer of status 2xx that does not say what became of each document; its text
/// is the drop reason of the batch.
#[derive(Debug, thiserror::Error)]
enum BulkAnswerError {
    /// Not JSON.
    #[error("es: unreadable _bulk answer: {0}")]
    Unreadable(serde_json::Error),
    /// JSON without an `items` list.
    #[error("es: _bulk answer without items")]
    NoItems,
    /// Not one item per document sent.
    #[error("es: _bulk answered {got} items for {expected} documents")]
    Count {
        /// Items in the answer.
        got: usize,
        /// Documents sent.
        expected: usize,
    },
}

/// Reads the `items` of a `_bulk` answer: one result per document sent, in order.
fn per_item(body: &[u8], expected: usize) -> Result<Vec<ItemResult>, BulkAnswerError> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(BulkAnswerError::Unreadable)?;
    let items = v.get("items").and_then(|i| i.as_array()).ok_or(BulkAnswerError::NoItems)?;
    if items.len() != expected {
        return Err(BulkAnswerError::Count { got: items.len(), expected });
    }
    Ok(items
        .iter()
        .map(|it| {
            let (op, r) =
                it.as_object().and_then(|o| o.iter().next()).map(|(k, v)| (k.as_str(), v)).unwrap_or(("", it));
            let status = r.get("status").and_then(|s| s.as_u64()).unwrap_or(0);
            let ty = r.pointer("/error/type").and_then(|t| t.as_str()).unwrap_or("error");
            match status {
                200..=299 => ItemResult::Delivered,
                409 if op == "create" => ItemResult::Delivered,
                429 | 500..=599 => ItemResult::Retry(format!("es {status}: {ty}")),
                _ => ItemResult::Dropped(format!("es {status}: {ty}")),
            }
        })
        .collect())
}

impl Sink for EsSink {
    fn name(&self) -> String {
        format!("elasticsearch {}", self.cfg.url)
    }

    fn insecure(&self) -> Option<String> {
        self.insecure.clone()
    }

    fn format(&self) -> Format {
        Format::EsBulk
    }

    fn signal(&self) -> Signal {
        Signal::Logs
    }

    fn send(&mut self, batch: Batch) -> BoxFuture<'_, Delivery> {
        Box::pin(async move {
            let lines: Vec<&[u8]> = batch.payload.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
            let mut d = Delivery::default();
            if !lines.len().is_multiple_of(2) || lines.len() as u64 / 2 != batch.items {
                return Delivery::dropped(batch.items, "es: malformed bulk payload");
            }
            let items: Vec<(&[u8], &[u8])> = lines.chunks(2).map(|c| (c[0], c[1])).collect();
            let mut start = 0;
            while start < items.len() {
                let mut end = start;
                let mut bytes = 0;
                while end < items.len() && end - start < self.cfg.max_docs.max(1) {
                    let size = items[end].0.len() + items[end].1.len() + 2;
                    if end > start && bytes + size > self.cfg.max_bytes {
                        break;
                    }
                    bytes += size;
                    end += 1;
                }
                self.chunk(&items[start..end], &mut d).await;
                start = end;
            }
            d
        })
    }
}
