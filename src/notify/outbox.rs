//! The outbox driver: the one place where deliveries are attempted, retried and given up on.
//! Notifiers make one attempt per call; this module decides what happens next.
//!
//! Guarantees (with the state store): a delivery is pending from the transaction that decided it
//! until a receiver accepted it; an attempt is counted before it is made, so a crash mid-send
//! leaves it pending and the next run sends it again (at most one duplicate, with the same alert
//! ids); transient failures are retried with exponential backoff and jitter until the delivery is
//! older than `max_delivery_age`, then it is abandoned with an error-level `notify.abandoned`.

use super::{Digest, Notifiers, NotifyError};
use crate::backoff::Backoff;
use crate::state::{Delivery, Offer, QueueLedger, StateError, StateStore};
use chrono::{DateTime, Utc};
use futures::stream::{FuturesUnordered, StreamExt};
use serde::Serialize;
use std::collections::hash_map::{Entry, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// Who is told what: each decision goes to each of its receivers once, ever. A decision an
/// earlier cycle recorded (the same id: the same package, stage and epoch) is queued only for
/// receivers it was not queued for then — one added since (a rule added by a reload while a
/// package stays vanished) gets it once, and is remembered. A decision a silence holds back
/// is queued for nobody: it waits in the store for the silence to end ([`release_held`]).
/// The state store calls this inside the transaction that records the batch
/// (`StateStore::record_batch_with`).
pub fn tell_once(ledger: &QueueLedger<'_>, offers: &[Offer<'_>]) -> Result<(), StateError> {
    // The receivers of each earlier decision, read once per batch and kept up to date.
    let mut told_before: HashMap<&str, Option<Vec<String>>> = HashMap::new();
    for offer in offers {
        let (receiver, alert_id) = (offer.receiver, offer.alert_id);
        let told = match told_before.entry(alert_id) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(ledger.earlier_receivers(receiver, alert_id)?),
        };
        if let Some(told) = told {
            if told.iter().any(|r| r == receiver) {
                tracing::debug!(
                    event = "state.delivery_skipped",
                    receiver,
                    alert_id,
                    "this decision was queued for this receiver before"
                );
                continue;
            }
            // Told now, or held for it: either way it is this receiver's once.
            told.push(receiver.to_string());
            ledger.set_receivers(alert_id, told)?;
        }
        // Held back by a silence: queued for nobody, it waits for the silence to end.
        if let Some(silence) = offer.silenced_by {
            tracing::info!(
                event = "alert.silenced",
                receiver,
                alert_id,
                silence_id = silence,
                "held back by a silence; delivered when it ends, if still due"
            );
            ledger.hold(receiver, alert_id, silence)?;
            continue;
        }
        ledger.enqueue(receiver, alert_id)?;
    }
    Ok(())
}

/// What [`release_held`] did with the decisions whose silence ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReleaseReport {
    /// Queued for their receivers in this cycle: still due.
    pub released: usize,
    /// Forgotten: a renewal, a recovery or a later stage replaced them while they were held.
    pub dropped: usize,
    /// Held on: another silence in force now matches them.
    pub held_on: usize,
}

/// Decisions held back by a silence that has ended: what is still due is queued in `cycle`'s
/// outbox (delivered with the cycle's digest), what a later decision replaced is dropped, and
/// what another silence in force matches (`silenced_now`) stays held under that one.
pub(crate) fn release_held(
    store: &mut StateStore,
    cycle: crate::state::CycleId,
    now: DateTime<Utc>,
    silenced_now: impl Fn(&crate::model::Alert) -> Option<i64>,
) -> Result<ReleaseReport, StateError> {
    let held = store.held_after_silence(now)?;
    if held.is_empty() {
        return Ok(ReleaseReport::default());
    }
    store.with_queue_ledger(cycle, |ledger| {
        let mut report = ReleaseReport::default();
        for h in &held {
            let (receiver, alert_id) = (h.receiver.as_str(), h.alert.id.as_str());
            let outcome = if h.superseded {
                ledger.unhold(receiver, alert_id)?;
                report.dropped += 1;
                "dropped"
            } else if let Some(silence) = silenced_now(&h.alert) {
                ledger.hold(receiver, alert_id, silence)?;
                report.held_on += 1;
                continue;
            } else {
                ledger.enqueue(receiver, alert_id)?;
                ledger.unhold(receiver, alert_id)?;
                report.released += 1;
                "released"
            };
            tracing::info!(
                event = "alert.unsilenced",
                receiver,
                alert_id,
                silence_id = h.silence_id,
                outcome,
                "a silence ended: still due, it goes out now (released), or replaced meanwhile (dropped)"
            );
        }
        Ok(report)
    })
}

/// How hard to try a delivery. Defaults suit production; tests shorten the waits.
#[derive(Debug, Clone)]
pub(crate) struct DeliveryPolicy {
    /// Attempts within one run (a cycle or a retry pass): 500 ms, then doubled, no jitter. A
    /// `Retry-After` longer than its `max_wait` is not waited for within the run: the delivery
    /// stays pending for a later pass instead.
    pub(crate) in_run: Backoff,
    /// Delay before the next pass after a run's attempts failed: doubled per failed run,
    /// capped, with ±20% jitter so that many pending deliveries do not all fire at once.
    pub(crate) between_runs: Backoff,
    /// Older than this and still undelivered: abandoned.
    pub(crate) max_age: Duration,
}

impl DeliveryPolicy {
    pub(crate) fn new(max_age: Duration) -> Self {
        DeliveryPolicy {
            in_run: Backoff {
                attempts: 3,
                base: Duration::from_millis(500),
                max: Duration::MAX,
                jitter: (1.0, 1.0),
                max_wait: Duration::from_secs(30),
            },
            between_runs: Backoff {
                // Bounded by `max_age`, not by a count.
                attempts: u32::MAX,
                base: Duration::from_secs(60),
                max: Duration::from_secs(3600),
                jitter: (0.8, 1.2),
                max_wait: Duration::MAX,
            },
            max_age,
        }
    }

    /// When to try again after `attempts` failed attempts.
    pub(crate) fn next_attempt_at(&self, now: DateTime<Utc>, attempts: u32) -> DateTime<Utc> {
        let delay = self.between_runs.delay(attempts);
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
    pub(crate) abandoned: usize,
}

/// Which deliveries a pass takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Selection {
    /// Those whose backoff has elapsed (the daemon between cycles, and after a cycle).
    Due,
    /// Every pending one, backoff or not (`once` starts with these).
    AllPending,
}

/// Delivers the deliveries whose next attempt is due now.
pub(crate) async fn deliver_due(
    store: &mut StateStore,
    notifiers: &Notifiers,
    policy: &DeliveryPolicy,
    tz: chrono_tz::Tz,
    hooks: &DeliveryHooks,
) -> Result<DeliveryReport, StateError> {
    deliver(store, notifiers, policy, tz, Selection::Due, hooks).await
}

/// One delivery pass.
pub(crate) async fn deliver(
    store: &mut StateStore,
    notifiers: &Notifiers,
    policy: &DeliveryPolicy,
    tz: chrono_tz::Tz,
    selection: Selection,
    hooks: &DeliveryHooks,
) -> Result<DeliveryReport, StateError> {
    let now = Utc::now();
    let deliveries = match selection {
        Selection::Due => store.due_deliveries(now)?,
        Selection::AllPending => store.pending_deliveries()?,
    };
    let mut report = DeliveryReport::default();
    let mut to_send = Vec::new();
    for delivery in deliveries {
        let receiver_configured = notifiers.get(&delivery.receiver).is_some();
        // Given up only once it was tried at least once (a tiny max_delivery_age or a slow
        // cycle must not drop what was never sent), or when its receiver is gone for that long.
        let tried_or_orphaned = delivery.attempts > 0 || !receiver_configured;
        if tried_or_orphaned && is_too_old(&delivery, policy, now) {
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
            hooks.observe(&delivery.receiver, Outcome::Abandoned);
            report.abandoned += 1;
            continue;
        }
        if !receiver_configured {
            // Renamed or removed by a reload, or another config on the same state file: keep it
            // pending (a rename back delivers it) until max_delivery_age abandons it, loudly.
            tracing::warn!(
                event = "notify.no_receiver",
                receiver = %delivery.receiver,
                delivery_id = %delivery.id,
                alert_ids = %alert_ids(&delivery),
                "pending delivery for a receiver that is not configured; kept pending"
            );
            report.pending += 1;
            continue;
        }
        // Counted before the attempt: a crash while sending leaves a visible, pending attempt.
        store.record_attempt_started(delivery.id, now)?;
        to_send.push(delivery);
    }

    // Every digest of this pass mentions the silences that end within a day.
    let silences = if to_send.is_empty() {
        Vec::new()
    } else {
        super::SilenceEnding::within_a_day(&store.silences(now)?, now)
    };
    let silences = &silences;

    // Different receivers are tried at the same time, so one slow server does not hold up the
    // rest; each outcome is recorded as soon as it is known, not after the slowest one.
    let mut in_flight: FuturesUnordered<_> = to_send
        .iter()
        .map(|delivery| async move {
            let outcome = send_with_retries(notifiers, delivery, silences, policy, tz, hooks).await;
            (delivery, outcome)
        })
        .collect();
    while let Some((delivery, outcome)) = in_flight.next().await {
        match record_outcome(store, policy, delivery, outcome, &mut report, hooks) {
            // The writer lock keeps other renewd processes out, but not everything (an older
            // renewd during an upgrade, the sqlite3 tool, a filesystem without flock). What was
            // recorded first stands, and the outcomes still in flight are recorded as usual.
            Err(StateError::DeliveryNotPending { status, .. }) => tracing::warn!(
                event = "notify.recorded_elsewhere",
                receiver = %delivery.receiver,
                delivery_id = %delivery.id,
                status = ?status,
                "delivery was already recorded by another writer"
            ),
            other => other?,
        }
    }
    Ok(report)
}

/// Records what one delivery's attempts came to, and logs it.
fn record_outcome(
    store: &mut StateStore,
    policy: &DeliveryPolicy,
    delivery: &Delivery,
    outcome: Result<super::Receipt, NotifyError>,
    report: &mut DeliveryReport,
    hooks: &DeliveryHooks,
) -> Result<(), StateError> {
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
            hooks.observe(&delivery.receiver, Outcome::Delivered);
            report.delivered += 1;
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
            hooks.observe(&delivery.receiver, Outcome::Failed);
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
            hooks.observe(&delivery.receiver, Outcome::Retrying);
            report.pending += 1;
        }
    }
    Ok(())
}

fn is_too_old(delivery: &Delivery, policy: &DeliveryPolicy, now: DateTime<Utc>) -> bool {
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

/// Up to `in_run.attempts` attempts, waiting between transient failures (and for a short
/// `Retry-After`). The message is rebuilt from the same alerts each time: same ids.
async fn send_with_retries(
    notifiers: &Notifiers,
    delivery: &Delivery,
    silences: &[super::SilenceEnding],
    policy: &DeliveryPolicy,
    tz: chrono_tz::Tz,
    hooks: &DeliveryHooks,
) -> Result<super::Receipt, NotifyError> {
    let Some(notifier) = notifiers.get(&delivery.receiver) else {
        return Err(NotifyError::Permanent {
            receiver: delivery.receiver.clone(),
            message: "receiver is not configured".into(),
        });
    };
    let mut attempt = 1;
    loop {
        let digest = Digest::new(
            delivery.receiver.clone(),
            delivery.alerts.clone(),
            Utc::now(),
            tz,
        )
        .styled(notifiers.style(&delivery.receiver, tz))
        .with_silences_ending(silences.to_vec());
        match send_unless_shutdown(notifier, &digest, hooks).await {
            Err(NotifyError::Transient {
                message,
                retry_after,
                receiver,
            }) if policy.in_run.allows_retry(attempt) => {
                let wait = retry_after.unwrap_or_else(|| policy.in_run.delay(attempt));
                if wait > policy.in_run.max_wait {
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
                // Shutting down: no more attempts in this run; the delivery stays pending.
                if !sleep_unless_shutdown(wait, hooks).await {
                    return Err(NotifyError::Transient {
                        message,
                        retry_after,
                        receiver,
                    });
                }
                attempt += 1;
            }
            other => return other,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Daemon hooks: a shutdown deadline for in-flight deliveries, and an outcome counter (metrics)
// ---------------------------------------------------------------------------------------------

/// How one delivery pass ended for one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Delivered,
    /// A transient failure: still pending, retried later.
    Retrying,
    Failed,
    Abandoned,
}

impl Outcome {
    pub(crate) const ALL: [Outcome; 4] = [
        Outcome::Delivered,
        Outcome::Retrying,
        Outcome::Failed,
        Outcome::Abandoned,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Retrying => "retrying",
            Outcome::Failed => "failed",
            Outcome::Abandoned => "abandoned",
        }
    }
}

/// Told of every delivery outcome (the daemon's metrics).
pub(crate) trait OutcomeObserver: Send + Sync {
    fn observe(&self, receiver: &str, outcome: Outcome);

    /// Told how the refresh of a receiver that keeps alerts open went (`notify::refresh`).
    fn refreshed(&self, receiver: &str, ok: bool) {
        let _ = (receiver, ok);
    }
}

/// What the daemon lends to the cycles and delivery passes it runs: a way to cut sends short
/// at shutdown, and an observer of outcomes (its metrics). `once` and the tests pass
/// [`DeliveryHooks::default`]: deliveries are then never cut short nor counted.
#[derive(Clone, Default)]
pub(crate) struct DeliveryHooks {
    /// `None` until shutdown starts; then the instant at which sends still in flight are cut
    /// short. Once it is set, no new attempt starts within the run.
    pub(crate) shutdown: Option<tokio::sync::watch::Receiver<Option<tokio::time::Instant>>>,
    pub(crate) observer: Option<Arc<dyn OutcomeObserver>>,
}

impl std::fmt::Debug for DeliveryHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryHooks")
            .field("shutdown", &self.shutdown.is_some())
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

impl DeliveryHooks {
    fn observe(&self, receiver: &str, outcome: Outcome) {
        if let Some(observer) = &self.observer {
            observer.observe(receiver, outcome);
        }
    }

    /// The shutdown deadline once shutdown has started; pending for ever without one.
    pub(crate) async fn shutdown_deadline(&self) -> tokio::time::Instant {
        if let Some(mut watch) = self.shutdown.clone() {
            if let Ok(deadline) = watch.wait_for(Option::is_some).await {
                if let Some(deadline) = *deadline {
                    return deadline;
                }
            }
        }
        std::future::pending().await
    }
}

/// One attempt, cut short when the shutdown deadline passes first: the delivery then stays
/// pending (the receiver may have the message; the retry carries the same alert ids).
async fn send_unless_shutdown(
    notifier: &dyn super::Notifier,
    digest: &Digest,
    hooks: &DeliveryHooks,
) -> Result<super::Receipt, NotifyError> {
    tokio::select! {
        outcome = notifier.send(digest) => outcome,
        _ = async { tokio::time::sleep_until(hooks.shutdown_deadline().await).await } => {
            Err(NotifyError::transient(
                &digest.receiver,
                "interrupted: renewd is shutting down; the delivery stays pending",
            ))
        }
    }
}

/// Waits `wait`; false when shutdown started first.
async fn sleep_unless_shutdown(wait: Duration, hooks: &DeliveryHooks) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(wait) => true,
        _ = hooks.shutdown_deadline() => false,
    }
}
