//! The OTLP retry policy: exponential backoff with jitter, `Retry-After` / `RetryInfo`
//! honoured, and a bound on the total time spent on one batch.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::Delivery;

/// How one request ended.
#[derive(Debug)]
#[allow(missing_docs)] // each variant's doc names its fields
pub enum Outcome {
    /// The peer answered; the delivery accounts for every item.
    Done(Delivery),
    /// A retryable failure; `after` is the peer's requested delay, if any.
    Retry { reason: String, after: Option<Duration> },
    /// A permanent failure: the items are dropped with this reason.
    Fail(String),
    /// Sent and not answered in time (retried): the peer may have stored the batch, so
    /// if the retries run out its items are dropped as [`TIMEOUT_UNKNOWN`].
    Unanswered(String),
}

/// The drop reason of a batch whose requests went unanswered: the peer may have stored it
/// (delivery is at least once, so a retry after a timeout can duplicate).
pub const TIMEOUT_UNKNOWN: &str = "timeout (outcome unknown)";

/// Backoff parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// First wait.
    pub initial: Duration,
    /// Largest wait.
    pub max_backoff: Duration,
    /// Growth per retry.
    pub multiplier: f64,
    /// Give up on a batch after this long (0: never retry).
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(500),
            max_backoff: Duration::from_secs(5),
            multiplier: 1.5,
            max_elapsed: Duration::from_secs(60),
        }
    }
}

/// A small, unseeded jitter source: retry timing does not affect generated data.
fn jitter_unit(state: &mut u64) -> f64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    (*state >> 11) as f64 / (1u64 << 53) as f64
}

/// Waits between the attempts of one batch: exponential with jitter, a peer's requested
/// delay when it gives one, and no more waiting once the policy's time bound would pass.
#[derive(Debug)]
pub struct Backoff {
    policy: RetryPolicy,
    started: Instant,
    next: Duration,
    seed: u64,
}

impl Backoff {
    /// The wait before the next attempt, or `None` when the time bound is spent.
    pub fn next_wait(&mut self, after: Option<Duration>) -> Option<Duration> {
        // Full jitter around the exponential step: wait in [step/2, step].
        let jittered = self.next.mul_f64(0.5 + 0.5 * jitter_unit(&mut self.seed));
        let wait = after.unwrap_or(jittered);
        if self.policy.max_elapsed.is_zero() || self.started.elapsed() + wait > self.policy.max_elapsed {
            return None;
        }
        self.next = self.next.mul_f64(self.policy.multiplier).min(self.policy.max_backoff);
        Some(wait)
    }
}

impl RetryPolicy {
    /// A backoff for one batch, starting now.
    pub fn backoff(&self) -> Backoff {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(7)
            ^ ((std::process::id() as u64) << 32)
            | 1;
        Backoff { policy: *self, started: Instant::now(), next: self.initial, seed }
    }

    /// Runs `attempt` until it is done, fails permanently, or the time bound is spent.
    /// `items` is the batch size, for the drop accounting.
    pub async fn run<F, Fut>(&self, items: u64, mut attempt: F) -> Delivery
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Outcome>,
    {
        let mut backoff = self.backoff();
        let mut requests = 0u64;
        let mut unanswered = false;
        loop {
            requests += 1;
            let outcome = attempt().await;
            let (reason, after) = match outcome {
                Outcome::Done(d) => break d.with_requests(requests),
                Outcome::Fail(reason) if unanswered => {
                    break Delivery::dropped(items, format!("{TIMEOUT_UNKNOWN}, then {reason}"))
                        .with_requests(requests);
                }
                Outcome::Fail(reason) => break Delivery::dropped(items, reason).with_requests(requests),
                Outcome::Retry { reason, after } => (reason, after),
                Outcome::Unanswered(reason) => {
                    unanswered = true;
                    (reason, None)
                }
            };
            match backoff.next_wait(after) {
                Some(wait) => tokio::time::sleep(wait).await,
                None if unanswered => break Delivery::dropped(items, TIMEOUT_UNKNOWN).with_requests(requests),
                None => break Delivery::dropped(items, format!("retries exhausted: {reason}")).with_requests(requests),
            }
        }
    }
}

impl Delivery {
    /// Sets the request and retry counts of a batch that took `requests` requests.
    fn with_requests(mut self, requests: u64) -> Self {
        self.requests = requests;
        self.retries = requests - 1;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn retries_until_done_and_counts_requests() {
        let p = RetryPolicy::default();
        let mut n = 0;
        let d = p
            .run(10, || {
                n += 1;
                let k = n;
                async move {
                    if k < 3 {
                        Outcome::Retry { reason: "503".into(), after: None }
                    } else {
                        Outcome::Done(Delivery::ok(10))
                    }
                }
            })
            .await;
        assert_eq!((d.delivered, d.requests, d.retries), (10, 3, 2));
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_failure_is_one_request() {
        let d = RetryPolicy::default().run(7, || async { Outcome::Fail("http 400".into()) }).await;
        assert_eq!(d.dropped, vec![("http 400".to_string(), 7)]);
        assert_eq!(d.requests, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_the_bound_and_honours_retry_after() {
        let p = RetryPolicy { max_elapsed: Duration::from_secs(10), ..RetryPolicy::default() };
        let start = tokio::time::Instant::now();
        let d =
            p.run(5, || async { Outcome::Retry { reason: "503".into(), after: Some(Duration::from_secs(3)) } }).await;
        assert_eq!(d.dropped, vec![("retries exhausted: 503".to_string(), 5)]);
        assert_eq!(d.requests, 4);
        assert_eq!(start.elapsed(), Duration::from_secs(9));
    }

    #[tokio::test(start_paused = true)]
    async fn an_unanswered_request_makes_the_outcome_unknown() {
        let p = RetryPolicy { max_elapsed: Duration::from_secs(3), ..RetryPolicy::default() };
        let mut n = 0;
        let d = p
            .run(4, || {
                n += 1;
                let k = n;
                async move {
                    if k == 1 {
                        Outcome::Unanswered("timed out".into())
                    } else {
                        Outcome::Retry { reason: "connection refused".into(), after: None }
                    }
                }
            })
            .await;
        assert_eq!(d.dropped, vec![(TIMEOUT_UNKNOWN.to_string(), 4)]);
        assert!(d.requests >= 2);
    }
}
