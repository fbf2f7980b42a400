//! When and how long to wait before trying a request again: a bounded number of attempts with
//! exponential backoff and jitter, honouring `Retry-After` (capped). Only transient failures
//! (5xx, 429, timeouts, connection errors) are retried; authentication failures never are,
//! because the gateway locks an access key after repeated signature failures.

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;
use std::time::Duration;

use crate::backoff::Backoff;

/// The API clients' backoff: three attempts, 300 ms then 600 ms plus up to 50% jitter, and a
/// `Retry-After` honoured up to 15 s (a server asking for more gets that much).
pub(crate) fn api_backoff() -> Backoff {
    Backoff {
        attempts: 3,
        base: Duration::from_millis(300),
        max: Duration::MAX,
        jitter: (1.0, 1.5),
        max_wait: Duration::from_secs(15),
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
        let policy = api_backoff();
        for _ in 0..50 {
            let first = policy.delay_or_capped(1, None);
            assert!(first >= Duration::from_millis(300) && first <= Duration::from_millis(450));
            let second = policy.delay_or_capped(2, None);
            assert!(second >= Duration::from_millis(600) && second <= Duration::from_millis(900));
        }
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let policy = api_backoff();
        assert_eq!(
            policy.delay_or_capped(1, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(
            policy.delay_or_capped(1, Some(Duration::from_secs(3600))),
            Duration::from_secs(15)
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
        let policy = api_backoff();
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
