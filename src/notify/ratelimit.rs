//! Per-receiver rate limits: at most `max` messages in any window of `per`, as the chat
//! platforms count them. A message over the limit waits for its slot; it is never dropped.
//!
//! A sliding window (a log of the last `max` send times), not a token bucket: DingTalk counts
//! "20 per minute" and throttles a robot for minutes once it is exceeded, so a bucket that
//! refills one token every 3 s (21 messages within 60 s) would be refused. Time is
//! `tokio::time`, so tests drive it with a paused clock.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// At most `max` messages in any window of length `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quota {
    pub(crate) max: u32,
    pub(crate) per: Duration,
}

impl Quota {
    pub(crate) const fn per_second(max: u32) -> Quota {
        Quota {
            max,
            per: Duration::from_secs(1),
        }
    }

    pub(crate) const fn per_minute(max: u32) -> Quota {
        Quota {
            max,
            per: Duration::from_secs(60),
        }
    }
}

impl std::fmt::Display for Quota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.per.as_secs() {
            1 => write!(f, "{}/s", self.max),
            60 => write!(f, "{}/min", self.max),
            _ => write!(
                f,
                "{} per {}",
                self.max,
                humantime::format_duration(self.per)
            ),
        }
    }
}

/// Hands out send slots so that no quota is ever exceeded. Shared by concurrent senders.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    windows: Vec<Window>,
}

#[derive(Debug)]
struct Window {
    quota: Quota,
    /// The last `quota.max` slots handed out, oldest first (some may lie in the future).
    slots: Mutex<VecDeque<Instant>>,
}

impl RateLimiter {
    pub(crate) fn new(quotas: &[Quota]) -> RateLimiter {
        RateLimiter {
            windows: quotas
                .iter()
                .filter(|q| q.max > 0 && !q.per.is_zero())
                .map(|&quota| Window {
                    quota,
                    slots: Mutex::new(VecDeque::with_capacity(quota.max as usize)),
                })
                .collect(),
        }
    }

    pub(crate) fn quotas(&self) -> Vec<Quota> {
        self.windows.iter().map(|w| w.quota).collect()
    }

    /// Reserves the earliest slot that keeps every quota and returns how long to wait for it
    /// (zero when a slot is free now). Slots are handed out in call order.
    pub(crate) fn reserve(&self) -> Duration {
        let now = Instant::now();
        if self.windows.is_empty() {
            return Duration::ZERO;
        }
        // Lock every window (always in the same order) so the slot is consistent across them.
        let mut guards: Vec<_> = self
            .windows
            .iter()
            .map(|w| w.slots.lock().unwrap_or_else(|e| e.into_inner()))
            .collect();
        let mut slot = now;
        for (window, slots) in self.windows.iter().zip(guards.iter()) {
            if let Some(&last) = slots.back() {
                // Keep the order of earlier reservations.
                slot = slot.max(last);
            }
            if slots.len() >= window.quota.max as usize {
                if let Some(&oldest) = slots.front() {
                    // The window ending at `slot` must not hold `max` earlier sends.
                    slot = slot.max(oldest + window.quota.per);
                }
            }
        }
        for (window, slots) in self.windows.iter().zip(guards.iter_mut()) {
            slots.push_back(slot);
            while slots.len() > window.quota.max as usize {
                slots.pop_front();
            }
        }
        slot.saturating_duration_since(now)
    }

    /// Waits until a send is allowed. Cancel-safe in the sense that matters: a cancelled wait
    /// keeps its slot, which only makes later sends more conservative.
    #[cfg(test)]
    pub(crate) async fn acquire(&self) -> Duration {
        let wait = self.reserve();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn since(start: Instant) -> Duration {
        Instant::now() - start
    }

    fn platform_quotas(format: &str) -> Vec<Quota> {
        platform_quotas_or(format, None)
    }

    /// A format's quotas as a receiver with `rate_limit_per_minute = per_minute` has them.
    fn platform_quotas_or(format: &str, per_minute: Option<u32>) -> Vec<Quota> {
        crate::notify::webhook::find(format)
            .unwrap()
            .quotas(per_minute)
    }

    #[tokio::test(start_paused = true)]
    async fn twenty_per_minute_sends_twenty_then_waits_a_full_minute() {
        let limiter = RateLimiter::new(&platform_quotas("dingtalk"));
        let start = Instant::now();
        for _ in 0..20 {
            assert_eq!(limiter.acquire().await, Duration::ZERO);
        }
        assert_eq!(since(start), Duration::ZERO);
        // The 21st waits until the first send leaves the window: not 3 s (a token bucket).
        limiter.acquire().await;
        assert_eq!(since(start), Duration::from_secs(60));
        // The next 19 fit in the same second window; the 41st waits for the 21st.
        for _ in 0..19 {
            limiter.acquire().await;
        }
        assert_eq!(since(start), Duration::from_secs(60));
        limiter.acquire().await;
        assert_eq!(since(start), Duration::from_secs(120));
    }

    #[tokio::test(start_paused = true)]
    async fn no_window_ever_holds_more_than_the_quota() {
        let limiter = RateLimiter::new(&platform_quotas("feishu"));
        let start = Instant::now();
        let mut sent = Vec::new();
        for _ in 0..230 {
            limiter.acquire().await;
            sent.push(since(start));
        }
        for quota in limiter.quotas() {
            for (i, t) in sent.iter().enumerate() {
                let in_window = sent[i..].iter().filter(|s| **s < *t + quota.per).count();
                assert!(
                    in_window <= quota.max as usize,
                    "{in_window} sends within {quota} starting at {t:?}"
                );
            }
        }
        // 5/s alone would allow 230 in 46 s; 100/min makes it wait for the later minutes.
        assert!(sent[100] >= Duration::from_secs(60), "{:?}", sent[100]);
        assert!(sent[200] >= Duration::from_secs(120), "{:?}", sent[200]);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_senders_get_distinct_slots_in_order() {
        let limiter = std::sync::Arc::new(RateLimiter::new(&[Quota::per_second(1)]));
        let start = Instant::now();
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let limiter = limiter.clone();
                tokio::spawn(async move {
                    limiter.acquire().await;
                    since(start)
                })
            })
            .collect();
        let mut done = Vec::new();
        for t in tasks {
            done.push(t.await.unwrap());
        }
        done.sort();
        assert_eq!(
            done,
            [0, 1, 2, 3].map(Duration::from_secs).to_vec(),
            "one slot per second"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_configured_rate_replaces_the_platform_quota() {
        let quotas = platform_quotas_or("slack", Some(2));
        assert_eq!(quotas, vec![Quota::per_minute(2)]);
        let limiter = RateLimiter::new(&quotas);
        let start = Instant::now();
        limiter.acquire().await;
        limiter.acquire().await;
        limiter.acquire().await;
        assert_eq!(since(start), Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn json_and_alertmanager_are_unlimited_by_default() {
        for format in ["json", "alertmanager"] {
            let limiter = RateLimiter::new(&platform_quotas_or(format, None));
            let start = Instant::now();
            for _ in 0..1000 {
                limiter.acquire().await;
            }
            assert_eq!(since(start), Duration::ZERO);
        }
    }

    #[test]
    fn quotas_read_as_people_write_them() {
        assert_eq!(Quota::per_minute(20).to_string(), "20/min");
        assert_eq!(Quota::per_second(4).to_string(), "4/s");
    }
}
