//! How decisions are named and said: the parts of their ids and their summaries.

use super::*;
use crate::model::{Alert, AlertKind, Lifecycle, Severity, SourceKind};

/// Kinds that report a fact about the package or the scope rather than a rule's policy: each
/// is reported once, to the receivers of every rule that matches, not once per rule (two rules
/// sharing a receiver must not tell it twice that a poll failed).
pub(super) fn is_shared_kind(kind: AlertKind) -> bool {
    matches!(
        kind,
        AlertKind::StatusChanged
            | AlertKind::Vanished
            | AlertKind::PollFailed
            | AlertKind::PollRecovered
            | AlertKind::AutoRenewAtRisk
            | AlertKind::ProjectRemoved
    )
}

/// The rule's part of a decision id: none for shared kinds, so every rule makes the same id.
pub(super) fn rule_in_id(rule: &Rule, kind: AlertKind) -> Option<&str> {
    (!is_shared_kind(kind)).then(|| rule.name())
}

/// Folds the per-rule copies of a shared alert (same id) into the first one, whose `rule` is
/// the first matching rule and whose receivers become those of every copy, in order.
pub(super) fn merge_shared(alerts: Vec<Alert>) -> Vec<Alert> {
    let mut merged: Vec<Alert> = Vec::with_capacity(alerts.len());
    for alert in alerts {
        if is_shared_kind(alert.kind) {
            if let Some(first) = merged.iter_mut().find(|a| a.id == alert.id) {
                for receiver in alert.receivers {
                    if !first.receivers.contains(&receiver) {
                        first.receivers.push(receiver);
                    }
                }
                continue;
            }
        }
        merged.push(alert);
    }
    merged
}

/// Reminders are numbered within their cycle so each gets its own id.
/// The number of the reminder being sent (numbers a reminder's decision), `None` for the
/// alert itself.
pub(super) fn reminder_number(progress: &RuleProgress, reminder: bool) -> Option<u32> {
    reminder.then(|| progress.reminders_sent.saturating_add(1))
}

pub(super) fn reminder_summary(summary: String, reminder: bool) -> String {
    if reminder {
        format!("Reminder: {summary}")
    } else {
        summary
    }
}

/// A status as shown to people: the name where known (in the numbering of its source) and the
/// raw number always.
pub(super) fn status_label(source: SourceKind, status: Option<i64>) -> String {
    match status {
        Some(s) => format!("{} ({s})", source.status_name(status)),
        None => source.status_name(None).to_string(),
    }
}

/// Back to active is good news; anything else unusual deserves a look.
pub(super) fn status_change_severity(lifecycle: Option<Lifecycle>) -> Severity {
    if lifecycle == Some(Lifecycle::Active) {
        Severity::Info
    } else {
        Severity::Warning
    }
}

pub(super) fn plural_days(days: i64) -> String {
    if days == 1 {
        "1 day".to_string()
    } else {
        format!("{days} days")
    }
}

pub(super) fn days_left(days: i64) -> String {
    format!("{} left", plural_days(days))
}
