//! The outbox driver: the one place where deliveries are attempted, retried and given up on.
//! Notifiers make one attempt per call; this module decides what happens next.
//!
//! Guarantees (with the state store): a delivery is pending from the transaction that decided it
//! until a receiver accepted it; an attempt is counted before it is made, so a crash mid-send
//! leaves it pending and the next run sends it again (at most one duplicate, with the same alert
//! ids); transient failures are retried with exponential backoff and jitter until the delivery is
//! older than `max_delivery_age`, then it is abandoned with an error-level `notify.abandoned`.

use super::{Digest, Notifiers, NotifyError};
use crate::state::{Delivery, StateError, StateStore};
use chrono::{DateTime, Utc};
use rand::Rng;
use serde::Serialize;
use std::time::Duration;

/// How hard to try. Defaults suit production; tests shorten the waits.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per delivery within one run (a cycle or a retry pass).
    pub attempts_per_run: u32,
    /// Wait before the second attempt within a run; doubled each time.
    pub first_delay: Duration,
    /// A `Retry-After` longer than this is not waited for within the run: the delivery stays
    /// pending for a later pass instead.
    pub max_in_run_wait: Duration,
    /// Delay before the next pass after a run's attempts failed; doubled per failed run.
    pub between_runs_base: Duration,
    pub between_runs_max: Duration,
    /// Older than this and still undelivered: abandoned.
    pub max_age: Duration,
}

impl RetryPolicy {
    pub fn new(max_age: Duration) -> Self {
        RetryPolicy {
            attempts_per_run: 3,
            first_delay: Duration::from_millis(500),
            max_in_run_wait: Duration::from_secs(30),
            between_runs_base: Duration::from_secs(60),
            between_runs_max: Duration::from_secs(3600),
            max_age,
        }
    }

    /// When to try again after `attempts` failed attempts: exponential, capped, with ±20% jitter
    /// so that many pending deliveries do not all fire at the same instant.
    pub fn next_attempt_at(&self, now: DateTime<Utc>, attempts: u32) -> DateTime<Utc> {
        let exp = attempts.saturating_sub(1).min(16);
        let base = self
            .between_runs_base
            .saturating_mul(1u32 << exp)
            .min(self.between_runs_max);
        let jitter = rand::rng().random_range(0.8..1.2);
        let delay = base.mul_f64(jitter);
        now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(1))
    }
}

/// What a delivery pass achieved.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct DeliveryReport {
    pub delivered: usize,
    /// Still pending after this pass (will be retried).
    pub pending: usize,
    /// Refused for good (e.g. HTTP 4xx, SMTP 5xx).
    pub failed: usize,
    pub abandoned: usize,
}

impl DeliveryReport {
    fn add(&mut self, other: DeliveryReport) {
        self.delivered += other.delivered;
        self.pending += other.pending;
        self.failed += other.failed;
        self.abandoned += other.abandoned;
    }
}

/// Which deliveries a pass takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Those whose backoff has elapsed (the daemon between cycles, and after a cycle).
    Due,
    /// Every pending one, backoff or not (`once` starts with these).
    AllPending,
}

/// Delivers the deliveries whose next attempt is due now.
pub async fn deliver_due(
    store: &mut StateStore,
    notifiers: &Notifiers,
    policy: &RetryPolicy,
    tz: chrono_tz::Tz,
) -> Result<DeliveryReport, StateError> {
    deliver(store, notifiers, policy, tz, Selection::Due).await
}

/// One delivery pass.
pub async fn deliver(
    store: &mut StateStore,
    notifiers: &Notifiers,
    policy: &RetryPolicy,
    tz: chrono_tz::Tz,
    selection: Selection,
) -> Result<DeliveryReport, StateError> {
    let now = Utc::now();
    let deliveries = match selection {
        Selection::Due => store.due_deliveries(now)?,
        Selection::AllPending => store.pending_deliveries()?,
    };
    let mut report = DeliveryReport::default();
    let mut to_send = Vec::new();
    for delivery in deliveries {
        if is_too_old(&delivery, policy, now) {
            let reason = delivery
                .last_error
                .clone()
                .unwrap_or_else(|| "never attempted".into());
            tracing::error!(
                event = "notify.abandoned",
                receiver = %delivery.receiver,
                delivery_id = %delivery.id,
                attempts = delivery.attempts,
                alerts = delivery.alerts.len(),
                alert_ids = %alert_ids(&delivery),
                created_at = %delivery.created_at,
                last_error = %reason,
                "delivery abandoned after max_delivery_age"
            );
            store.mark_abandoned(delivery.id, &reason, now)?;
            report.abandoned += 1;
            continue;
        }
        if notifiers.get(&delivery.receiver).is_none() {
            let reason = format!("receiver {:?} is no longer configured", delivery.receiver);
            tracing::error!(
                event = "notify.failed",
                receiver = %delivery.receiver,
                delivery_id = %delivery.id,
                alert_ids = %alert_ids(&delivery),
                error = %reason,
                "delivery failed"
            );
            store.mark_failed(delivery.id, &reason, now)?;
            report.failed += 1;
            continue;
        }
        // Counted before the attempt: a crash while sending leaves a visible, pending attempt.
        store.record_attempt_started(delivery.id, now)?;
        to_send.push(delivery);
    }

    // Different receivers are tried at the same time, so one slow server does not hold up the rest.
    let outcomes = futures::future::join_all(
        to_send
            .iter()
            .map(|delivery| send_with_retries(notifiers, delivery, policy, tz)),
    )
    .await;

    for (delivery, outcome) in to_send.iter().zip(outcomes) {
        let now = Utc::now();
        let attempts = delivery.attempts + 1;
        match outcome {
            Ok(receipt) => {
                tracing::info!(
                    event = "notify.delivered",
                    receiver = %delivery.receiver,
                    delivery_id = %delivery.id,
                    alerts = delivery.alerts.len(),
                    alert_ids = %alert_ids(delivery),
                    attempts,
                    response = %receipt.detail,
                    "delivered"
                );
                store.mark_delivered(delivery.id, now)?;
                report.add(DeliveryReport {
                    delivered: 1,
                    ..Default::default()
                });
            }
            Err(NotifyError::Permanent { message, .. }) => {
                tracing::error!(
                    event = "notify.failed",
                    receiver = %delivery.receiver,
                    delivery_id = %delivery.id,
                    alert_ids = %alert_ids(delivery),
                    attempts,
                    error = %message,
                    "delivery refused; not retried"
                );
                store.mark_failed(delivery.id, &message, now)?;
                report.failed += 1;
            }
            Err(NotifyError::Transient {
                message,
                retry_after,
                ..
            }) => {
                let mut next = policy.next_attempt_at(now, attempts);
                if let Some(after) = retry_after {
                    let honoured = now + chrono::Duration::from_std(after).unwrap_or_default();
                    next = next.max(honoured);
                }
                tracing::warn!(
                    event = "notify.retrying",
                    receiver = %delivery.receiver,
                    delivery_id = %delivery.id,
                    alert_ids = %alert_ids(delivery),
                    attempts,
                    next_attempt_at = %next,
                    error = %message,
                    "delivery failed; will retry"
                );
                store.mark_retry(delivery.id, &message, next)?;
                report.pending += 1;
            }
        }
    }
    Ok(report)
}

fn is_too_old(delivery: &Delivery, policy: &RetryPolicy, now: DateTime<Utc>) -> bool {
    let age = now.signed_duration_since(delivery.created_at);
    age.to_std().map(|a| a > policy.max_age).unwrap_or(false)
}

fn alert_ids(delivery: &Delivery) -> String {
    delivery
        .alerts
        .iter()
        .map(|a| a.id.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Up to `attempts_per_run` attempts, waiting between transient failures (and for a short
/// `Retry-After`). The message is rebuilt from the same alerts each time: same ids.
async fn send_with_retries(
    notifiers: &Notifiers,
    delivery: &Delivery,
    policy: &RetryPolicy,
    tz: chrono_tz::Tz,
) -> Result<super::Receipt, NotifyError> {
    let Some(notifier) = notifiers.get(&delivery.receiver) else {
        return Err(NotifyError::Permanent {
            receiver: delivery.receiver.clone(),
            message: "receiver is not configured".into(),
        });
    };
    let mut delay = policy.first_delay;
    let mut attempt = 1;
    loop {
        let digest = Digest {
            receiver: delivery.receiver.clone(),
            alerts: delivery.alerts.clone(),
            sent_at: Utc::now(),
            timezone: tz,
        };
        match notifier.send(&digest).await {
            Err(NotifyError::Transient {
                message,
                retry_after,
                receiver,
            }) if attempt < policy.attempts_per_run => {
                let wait = retry_after.unwrap_or(delay);
                if wait > policy.max_in_run_wait {
                    return Err(NotifyError::Transient {
                        message,
                        retry_after,
                        receiver,
                    });
                }
                tracing::debug!(
                    event = "notify.retrying",
                    receiver = %delivery.receiver,
                    delivery_id = %delivery.id,
                    attempt,
                    wait_ms = wait.as_millis() as u64,
                    error = %message,
                    "transient failure; retrying within this run"
                );
                tokio::time::sleep(wait).await;
                delay = delay.saturating_mul(2);
                attempt += 1;
            }
            other => return other,
        }
    }
}
