//! The health of one account/project's polls: `poll_failed` after so many failures in a
//! row, `poll_recovered` once it works again.

use super::*;
use crate::model::{Alert, AlertKind, DecisionKey, PollErrorInfo, Scope, Severity};
use chrono::{DateTime, Utc};

/// The outcome of one poll of one account/project for its health.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HealthEvaluation {
    pub(crate) health: PollHealth,
    pub(crate) alerts: Vec<Alert>,
}

/// Counts consecutive failed polls of `scope`; after `failure_alert_after` of them one
/// `poll_failed` (to the receivers of every matching rule), and one `poll_recovered` on the
/// next success.
pub(crate) fn evaluate_poll(
    rules: &RuleSet,
    scope: &Scope,
    previous: Option<&PollHealth>,
    outcome: Result<(), &PollErrorInfo>,
    failure_alert_after: u32,
    now: DateTime<Utc>,
) -> HealthEvaluation {
    let mut health = previous.cloned().unwrap_or_default();
    health.last_attempt_at = Some(now);
    let mut alerts = Vec::new();
    match outcome {
        Err(info) => {
            if health.consecutive_failures == 0 || health.failing_since.is_none() {
                health.failing_since = Some(now);
            }
            health.consecutive_failures = health.consecutive_failures.saturating_add(1);
            let error = PollErrorInfo {
                consecutive_failures: health.consecutive_failures,
                ..info.clone()
            };
            if !health.failing_notified && health.consecutive_failures >= failure_alert_after.max(1)
            {
                let summary = format!(
                    "polling {scope} failed {} times in a row: {}",
                    health.consecutive_failures,
                    describe_poll_error(&error)
                );
                for rule in rules.matching_scope(scope) {
                    let mut alert = scope_alert(
                        rule,
                        scope,
                        AlertKind::PollFailed,
                        Severity::Critical,
                        episode_id(rule, scope, AlertKind::PollFailed, health.failing_since),
                        summary.clone(),
                        now,
                    );
                    alert.error = Some(error.clone());
                    alerts.push(alert);
                }
                // With no rule to tell, keep watching: a rule added later still hears of it.
                health.failing_notified = !alerts.is_empty();
            }
            health.last_error = Some(error);
        }
        Ok(()) => {
            if health.failing_notified {
                let summary = format!(
                    "polling {scope} works again after {} failed attempts",
                    health.consecutive_failures
                );
                for rule in rules.matching_scope(scope) {
                    alerts.push(scope_alert(
                        rule,
                        scope,
                        AlertKind::PollRecovered,
                        Severity::Info,
                        episode_id(rule, scope, AlertKind::PollRecovered, health.failing_since),
                        summary.clone(),
                        now,
                    ));
                }
            }
            health = PollHealth {
                consecutive_failures: 0,
                failing_notified: false,
                last_error: None,
                last_success_at: Some(now),
                last_attempt_at: Some(now),
                failing_since: None,
                // Not about polls: the funds check of the scope keeps or ends it.
                funds_at_risk: health.funds_at_risk.take(),
            };
        }
    }
    HealthEvaluation {
        health,
        alerts: merge_shared(alerts),
    }
}

/// The id of a decision about an episode of a scope's poll failures.
fn episode_id(
    rule: &Rule,
    scope: &Scope,
    kind: AlertKind,
    failing_since: Option<DateTime<Utc>>,
) -> String {
    DecisionKey::Scope {
        scope,
        rule: rule_in_id(rule, kind),
        kind,
        failing_since,
    }
    .id()
}

/// Alerts about a scope rather than a package (`poll_failed`, `poll_recovered`,
/// `project_removed`), with the decision's id.
pub(super) fn scope_alert(
    rule: &Rule,
    scope: &Scope,
    kind: AlertKind,
    severity: Severity,
    id: String,
    summary: String,
    now: DateTime<Utc>,
) -> Alert {
    Alert {
        id,
        kind,
        severity,
        rule: rule.name().to_string(),
        account: scope.account.clone(),
        project_id: scope.project_id.clone(),
        source: scope.source,
        package: None,
        resource_id: None,
        service_type: None,
        package_status: None,
        resource: Default::default(),
        package_status_name: None,
        remain_days: None,
        threshold: None,
        next_action_url: None,
        summary,
        raised_at: now,
        previous_status: None,
        reminder: false,
        error: None,
        receivers: rule.receivers().to_vec(),
    }
}

/// A readable one-line account of a failed poll: HTTP status, code, message, request id.
pub(super) fn describe_poll_error(error: &PollErrorInfo) -> String {
    let mut parts = Vec::new();
    if let Some(status) = error.http_status {
        parts.push(format!("HTTP {status}"));
    }
    if let Some(code) = &error.error_code {
        parts.push(code.clone());
    }
    if !error.error_msg.is_empty() {
        parts.push(error.error_msg.clone());
    }
    let mut text = if parts.is_empty() {
        "unknown error".to_string()
    } else {
        parts.join(" ")
    };
    if let Some(request_id) = &error.request_id {
        text.push_str(&format!(" (request id {request_id})"));
    }
    text
}
