//! How decisions are named and said: the parts of their ids and their summaries.

use super::*;
use crate::model::{package_status_name, Alert, AlertKind, Severity};
use chrono::{DateTime, SecondsFormat, Utc};

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
    )
}

/// The rule's part of a decision id: none for shared kinds, so every rule makes the same id.
pub(super) fn rule_in_id(rule: &Rule, kind: AlertKind) -> &str {
    if is_shared_kind(kind) {
        ""
    } else {
        rule.name()
    }
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
pub(super) fn reminder_detail(detail: String, progress: &RuleProgress, reminder: bool) -> String {
    if reminder {
        format!(
            "{detail}:reminder:{}",
            progress.reminders_sent.saturating_add(1)
        )
    } else {
        detail
    }
}

pub(super) fn reminder_summary(summary: String, reminder: bool) -> String {
    if reminder {
        format!("Reminder: {summary}")
    } else {
        summary
    }
}

pub(super) fn episode_key(failing_since: Option<DateTime<Utc>>) -> String {
    match failing_since {
        Some(t) => format!("failing_since:{}", timestamp_id(t)),
        None => "failing_since:unknown".to_string(),
    }
}

pub(super) fn timestamp_id(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

pub(super) fn status_id(status: Option<i64>) -> String {
    status.map_or_else(|| "none".to_string(), |s| s.to_string())
}

/// A status as shown to people: the name where known and the raw number always.
pub(super) fn status_label(status: Option<i64>) -> String {
    match status {
        Some(s) => format!("{} ({s})", package_status_name(status)),
        None => package_status_name(None).to_string(),
    }
}

/// The lifecycle phase of an expired status, for summaries.
pub(super) fn expired_phase(status: i64) -> Option<&'static str> {
    match status {
        5 => Some("grace period"),
        4 => Some("retention period"),
        3 => Some("deleted"),
        99 => Some("frozen for violations"),
        _ => None,
    }
}

/// Back to active is good news; anything else unusual deserves a look.
pub(super) fn status_change_severity(status: Option<i64>) -> Severity {
    if status == Some(STATUS_ACTIVE) {
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
