//! The one backoff policy: how many attempts, and how long to wait after each failure — a base
//! delay doubled per failure, capped, spread by jitter so that many waiting callers do not all
//! retry at the same instant. The Huawei API clients and the outbox use it with their own
//! figures; what a caller does with a server's `Retry-After` beyond [`Backoff::max_wait`]
//! (wait that long or give up for now) is the caller's decision.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Backoff {
    /// Attempts in total, the first included.
    pub(crate) attempts: u32,
    /// Delay after the first failure; doubled for each further one.
    pub(crate) base: Duration,
    /// The longest delay, before jitter.
    pub(crate) max: Duration,
    /// The delay is multiplied by a random factor in `low..=high` (`1.0, 1.0`: none).
    pub(crate) jitter: (f64, f64),
    /// The longest wait a server's `Retry-After` is given.
    pub(crate) max_wait: Duration,
}

impl Backoff {
    /// Whether another attempt is allowed after `failed` failed attempts.
    pub(crate) fn allows_retry(&self, failed: u32) -> bool {
        failed < self.attempts
    }

    /// How long to wait after the `failed`-th failed attempt (1-based), jitter included.
    pub(crate) fn delay(&self, failed: u32) -> Duration {
        let exponent = failed.saturating_sub(1).min(16);
        let delay = self.base.saturating_mul(1u32 << exponent).min(self.max);
        let (low, high) = self.jitter;
        let factor = if low < high {
            rand::random_range(low..=high)
        } else {
            low
        };
        Duration::try_from_secs_f64(delay.as_secs_f64() * factor).unwrap_or(self.max)
    }

    /// [`delay`](Self::delay), or what the server asked for, at most [`max_wait`](Self::max_wait).
    pub(crate) fn delay_or_capped(&self, failed: u32, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(wait) => wait.min(self.max_wait),
            None => self.delay(failed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(jitter: (f64, f64)) -> Backoff {
        Backoff {
            attempts: 3,
            base: Duration::from_millis(300),
            max: Duration::from_secs(1),
            jitter,
            max_wait: Duration::from_secs(15),
        }
    }

    #[test]
    fn delays_double_up_to_the_cap_with_bounded_jitter() {
        let exact = policy((1.0, 1.0));
        assert_eq!(exact.delay(1), Duration::from_millis(300));
        assert_eq!(exact.delay(2), Duration::from_millis(600));
        assert_eq!(exact.delay(3), Duration::from_secs(1));
        assert_eq!(exact.delay(40), Duration::from_secs(1));
        let spread = policy((0.8, 1.2));
        for _ in 0..50 {
            let d = spread.delay(2);
            assert!(d >= Duration::from_millis(480) && d <= Duration::from_millis(720));
        }
    }

    #[test]
    fn attempts_and_retry_after() {
        let p = policy((1.0, 1.0));
        assert!(p.allows_retry(2));
        assert!(!p.allows_retry(3));
        assert_eq!(
            p.delay_or_capped(1, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(
            p.delay_or_capped(1, Some(Duration::from_secs(3600))),
            p.max_wait
        );
        assert_eq!(p.delay_or_capped(1, None), Duration::from_millis(300));
    }
}
