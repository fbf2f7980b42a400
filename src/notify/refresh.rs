//! After each cycle, every receiver that keeps alerts open (`alertmanager_api`) is given the
//! alerts that still hold for it ([`StateStore::active_alerts`]): it posts them again, so that
//! they stay open while the package is not renewed, and ends what no longer holds.
//!
//! A refresh is best effort: a failure is logged (`notify.refresh_failed`) and counted, never
//! a failed cycle, and nothing is queued for it: the next cycle posts everything that holds
//! again, and what is not posted again lapses at its `endsAt` by design. Like the outbox, this
//! is a driver that reads the state and calls receivers; it sends nothing a receiver was not
//! routed by the rules.

use super::outbox::DeliveryHooks;
use super::{Digest, Notifiers};
use crate::state::StateStore;
use chrono::Utc;

/// Refreshes every receiver that keeps alerts open, one after the other; stops early (and
/// quietly: the next start refreshes again) once shutdown has started.
pub(crate) async fn refresh_open_alerts(
    store: &StateStore,
    notifiers: &Notifiers,
    tz: chrono_tz::Tz,
    hooks: &DeliveryHooks,
) {
    for name in notifiers.names() {
        let Some(notifier) = notifiers.get(name) else {
            continue;
        };
        if !notifier.keeps_alerts_open() {
            continue;
        }
        let alerts = match store.active_alerts(name) {
            Ok(alerts) => alerts,
            Err(e) => {
                failed(hooks, name, &crate::error_chain(&e));
                continue;
            }
        };
        let count = alerts.len();
        let digest = Digest::new(name, alerts, Utc::now(), tz).styled(notifiers.style(name, tz));
        let outcome = tokio::select! {
            outcome = notifier.refresh(&digest) => outcome,
            _ = async { tokio::time::sleep_until(hooks.shutdown_deadline().await).await } => {
                tracing::info!(
                    event = "notify.refresh_failed",
                    receiver = %name,
                    error = "interrupted: renewd is shutting down",
                    "refresh cut short by shutdown; the next start refreshes again"
                );
                return;
            }
        };
        match outcome {
            Ok(receipt) => {
                if let Some(observer) = &hooks.observer {
                    observer.refreshed(name, true);
                }
                tracing::info!(
                    event = "notify.refreshed",
                    receiver = %name,
                    alerts = count,
                    response = %receipt.detail,
                    "alerts that still hold posted again"
                );
            }
            Err(e) => failed(hooks, name, e.message()),
        }
    }
}

fn failed(hooks: &DeliveryHooks, receiver: &str, error: &str) {
    if let Some(observer) = &hooks.observer {
        observer.refreshed(receiver, false);
    }
    tracing::warn!(
        event = "notify.refresh_failed",
        receiver = %receiver,
        error = %error,
        "refreshing open alerts failed; the cycle is not affected and the next one tries again"
    );
}
