//! When and how long to wait before trying a request again: a bounded number of attempts with
//! exponential backoff and jitter, honouring `Retry-After` (capped). Only transient failures
//! (5xx, 429, timeouts, connection errors) are retried; authentication failures never are,
//! because the gateway locks an access key after repeated signature failures.

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Attempts in total, the first included.
    pub attempts: u32,
    /// Delay before the first retry; doubles for each further one, plus up to 50% jitter.
    pub base: Duration,
    /// The longest `Retry-After` honoured: a server asking for more gets this much.
    pub retry_after_cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            base: Duration::from_millis(300),
            retry_after_cap: Duration::from_secs(15),
        }
    }
}

impl RetryPolicy {
    /// Whether another attempt is allowed after `failed` failed attempts.
    pub fn allows_retry(&self, failed: u32) -> bool {
        failed < self.attempts
    }

    /// How long to wait after the `failed`-th failed attempt (1-based).
    pub fn delay(&self, failed: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.retry_after_cap);
        }
        let exponent = failed.saturating_sub(1).min(16);
        let backoff = self.base.saturating_mul(1u32 << exponent);
        let jitter_ms = u64::try_from(backoff.as_millis() / 2).unwrap_or(u64::MAX);
        let jitter = if jitter_ms == 0 {
            0
        } else {
            rand::random_range(0..=jitter_ms)
        };
        backoff.saturating_add(Duration::from_millis(jitter))
    }
}

/// Statuses worth another try: server errors and rate limiting.
pub(crate) fn is_transient(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// `Retry-After` in seconds (the HTTP-date form is not used by the gateway and is ignored).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_bounded_jitter() {
        let policy = RetryPolicy::default();
        for _ in 0..50 {
            let first = policy.delay(1, None);
            assert!(first >= Duration::from_millis(300) && first <= Duration::from_millis(450));
            let second = policy.delay(2, None);
            assert!(second >= Duration::from_millis(600) && second <= Duration::from_millis(900));
        }
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(3600))),
            policy.retry_after_cap
        );
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn three_attempts_in_total() {
        let policy = RetryPolicy::default();
        assert!(policy.allows_retry(1));
        assert!(policy.allows_retry(2));
        assert!(!policy.allows_retry(3));
    }

    #[test]
    fn only_server_errors_and_rate_limits_are_transient() {
        assert!(is_transient(StatusCode::INTERNAL_SERVER_ERROR));
        assert!(is_transient(StatusCode::TOO_MANY_REQUESTS));
        assert!(!is_transient(StatusCode::UNAUTHORIZED));
        assert!(!is_transient(StatusCode::FORBIDDEN));
        assert!(!is_transient(StatusCode::NOT_FOUND));
    }
}
