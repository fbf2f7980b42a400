//! The pace of one account's requests: at most `max_requests_per_second`, shared by all of its
//! projects, and slower for a while after the gateway answers 429.
//!
//! Requests get evenly spaced slots (one every `1 / rate` seconds, handed out in call order), so
//! the rate holds over any second, not only on average. A 429 pauses the whole account for the
//! `Retry-After` the gateway asked for and halves its rate; each answered request then wins a
//! little of it back, up to the configured rate. Time is `tokio::time`, so tests drive it with a
//! paused clock.

use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// The pause after a 429 that says nothing about how long to wait.
const DEFAULT_THROTTLE_PAUSE: Duration = Duration::from_secs(1);
/// The longest pause a 429 can ask for.
const MAX_THROTTLE_PAUSE: Duration = Duration::from_secs(60);
/// After a 429 the rate never falls below this (requests a second).
const MIN_RATE: f64 = 0.5;
/// At most one halving in this time, however many requests come back throttled.
const CALM_WINDOW: Duration = Duration::from_secs(1);
/// The share of the configured rate each answered request wins back after a 429.
const RECOVERY_STEP: f64 = 0.02;

#[derive(Debug)]
pub(crate) struct Pacer {
    max_rate: f64,
    state: Mutex<PaceState>,
}

#[derive(Debug)]
struct PaceState {
    /// The rate in force now: `max_rate`, or less after a 429.
    rate: f64,
    /// The earliest instant the next request may go.
    next_slot: Instant,
    /// No halving again before this: the requests in flight when the gateway throttled come
    /// back throttled too, and they are one 429, not many.
    calm_until: Instant,
}

impl Pacer {
    /// A pacer allowing `max_rate` requests a second (validated positive by the config).
    pub(crate) fn new(max_rate: f64) -> Pacer {
        let now = Instant::now();
        Pacer {
            max_rate,
            state: Mutex::new(PaceState {
                rate: max_rate,
                next_slot: now,
                calm_until: now,
            }),
        }
    }

    /// Waits for this request's slot.
    pub(crate) async fn wait_turn(&self) {
        let slot = {
            let mut state = self.lock();
            let now = Instant::now();
            let slot = state.next_slot.max(now);
            state.next_slot = slot + Duration::from_secs_f64(1.0 / state.rate);
            slot
        };
        // A timer, even one already due, waits for the timer wheel's next turn (a
        // millisecond): only a slot that is really ahead is slept for.
        if slot > Instant::now() {
            tokio::time::sleep_until(slot).await;
        }
    }

    /// The gateway answered 429: nothing more goes for `retry_after` (or a second), and the
    /// rate halves. Returns the pause.
    pub(crate) fn throttled(&self, retry_after: Option<Duration>) -> Duration {
        let pause = retry_after
            .unwrap_or(DEFAULT_THROTTLE_PAUSE)
            .clamp(Duration::from_millis(100), MAX_THROTTLE_PAUSE);
        let mut state = self.lock();
        let now = Instant::now();
        if now >= state.calm_until {
            state.rate = (state.rate / 2.0).max(MIN_RATE.min(self.max_rate));
            state.calm_until = now + pause.max(CALM_WINDOW);
        }
        state.next_slot = state.next_slot.max(now + pause);
        pause
    }

    /// A request was answered (not throttled): the rate recovers a step.
    pub(crate) fn answered(&self) {
        let mut state = self.lock();
        if state.rate < self.max_rate {
            state.rate = (state.rate + self.max_rate * RECOVERY_STEP).min(self.max_rate);
        }
    }

    /// The rate in force now (requests a second).
    #[cfg(test)]
    fn rate(&self) -> f64 {
        self.lock().rate
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PaceState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn slots_are_evenly_spaced_at_the_rate() {
        let pacer = Pacer::new(100.0);
        let start = Instant::now();
        for _ in 0..201 {
            pacer.wait_turn().await;
        }
        // 201 requests at 100 a second: the last one goes 2 s after the first.
        assert_eq!(Instant::now() - start, Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_pauses_the_account_halves_the_rate_once_and_it_recovers() {
        let pacer = Pacer::new(100.0);
        pacer.wait_turn().await;
        let start = Instant::now();
        assert_eq!(
            pacer.throttled(Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        // The others in flight come back throttled too: still one halving.
        pacer.throttled(Some(Duration::from_secs(3)));
        pacer.throttled(None);
        assert_eq!(pacer.rate(), 50.0);
        pacer.wait_turn().await;
        assert_eq!(Instant::now() - start, Duration::from_secs(3));
        for _ in 0..100 {
            pacer.answered();
        }
        assert_eq!(pacer.rate(), 100.0, "recovered, never above the limit");
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_capped_and_the_rate_has_a_floor() {
        let pacer = Pacer::new(2.0);
        for _ in 0..10 {
            let pause = pacer.throttled(Some(Duration::from_secs(3600)));
            assert_eq!(pause, MAX_THROTTLE_PAUSE);
            tokio::time::advance(pause).await;
        }
        assert_eq!(pacer.rate(), MIN_RATE);
    }
}
