//! A package's observation against the rules that match it: stages, expiry, renewal, status
//! changes, vanishing and reminders.

use super::*;
use crate::model::{
    Alert, AlertKind, AutoRenewMode, DecisionKey, Detail, Item, Lifecycle, ResourceFacts, Severity,
};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// What one successful poll says about one known or new package.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Observation<'a> {
    Seen(&'a Item),
    /// Absent from a successful response of its scope.
    Missing,
}

/// The outcome of evaluating one package: its next state and the alerts to deliver.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Evaluation {
    pub(crate) state: ItemState,
    pub(crate) alerts: Vec<Alert>,
}

/// One package, one poll. `previous` is None the first time the package is seen.
/// Returns None only for `Missing` with no previous state (nothing known, nothing to say).
pub(crate) fn evaluate(
    rules: &RuleSet,
    previous: Option<&ItemState>,
    observation: Observation<'_>,
    now: DateTime<Utc>,
) -> Option<Evaluation> {
    match observation {
        Observation::Seen(package) => Some(evaluate_seen(rules, previous, package, now)),
        Observation::Missing => previous.map(|prev| evaluate_missing(rules, prev, now)),
    }
}

pub(super) fn evaluate_seen(
    rules: &RuleSet,
    previous: Option<&ItemState>,
    package: &Item,
    now: DateTime<Utc>,
) -> Evaluation {
    let renewed = previous.is_some_and(|prev| is_renewal(&prev.last, package));
    let epoch = previous.map_or(0, |prev| {
        if renewed {
            prev.epoch.saturating_add(1)
        } else {
            prev.epoch
        }
    });
    // (previous status, when the package was last seen): the latter tells repeated identical
    // changes apart in their ids.
    let status_change = previous
        .filter(|prev| prev.last.status_code() != package.status_code())
        .map(|prev| (prev.last.status_code(), prev.last_seen));
    // An auto-renewing item is past its end only once its term is over (its last day is when
    // it renews); past it, with the term not moved, the renewal failed.
    let auto_renews = package.auto_renews();
    let renewal_failed = auto_renews && package.term_ended(now);
    let expired = if auto_renews {
        renewal_failed || package.lifecycle() == Some(Lifecycle::Expired)
    } else {
        is_expired(package)
    };
    let ctx = PackageContext {
        package,
        epoch,
        now,
    };

    let mut alerts = Vec::new();
    let mut progress_by_rule = BTreeMap::new();
    for rule in rules.matching_package(package) {
        let old = previous
            .and_then(|prev| prev.rules.get(rule.name()))
            .cloned()
            .unwrap_or_default();
        let mut progress = if renewed {
            RuleProgress::default()
        } else {
            old.clone()
        };
        progress.vanished_notified = false;
        // `quiet`: the item renews itself; its coming end is no news.
        let quiet = auto_renews && rule.auto_renew() == AutoRenewMode::Quiet;

        if renewed && old.alerted && rule.notify_renewed {
            alerts.push(ctx.alert(
                rule,
                AlertKind::Renewed,
                Severity::Info,
                Detail::Renewed,
                format!(
                    "{} was renewed: {}",
                    package.key,
                    days_left(package.remain_days)
                ),
            ));
        }

        let mut raised_condition = false;
        let mut raised_expired = false;
        if expired {
            let new_expired_status = package.status_code().filter(|s| {
                package.scope.source.lifecycle(*s) == Lifecycle::Expired
                    && !progress.expired_sent_for(*s)
            });
            if !progress.expired_notified || new_expired_status.is_some() {
                // The failed renewal is the first word on the end of the term; a later
                // expired status is news of its own.
                if renewal_failed && !progress.expired_notified {
                    alerts.push(ctx.renewal_failed_alert(rule, &progress, false));
                } else {
                    alerts.push(ctx.expired_alert(rule, &progress, false));
                }
                progress.expired_notified = true;
                progress.expired_status = package.status_code();
                if let Some(status) = package.status_code() {
                    if !progress.expired_statuses.contains(&status) {
                        progress.expired_statuses.push(status);
                    }
                }
                raised_condition = true;
                raised_expired = true;
            }
        } else if !progress.expired_notified && !quiet {
            // Once `expired` went out in this cycle, no `expiring` may follow it: expired is the
            // most urgent stage there is.
            if let Some(stage) = rule.stage(package.remain_days) {
                if progress.notified_threshold.is_none_or(|sent| stage < sent) {
                    alerts.push(ctx.expiring_alert(rule, &progress, stage, false));
                    progress.notified_threshold = Some(stage);
                    raised_condition = true;
                }
            }
        }
        if raised_condition {
            progress.alerted = true;
            progress.last_alert_at = Some(now);
        }

        if let Some((previous_status, previous_seen)) = status_change {
            // An `expired` alert for the new status already reports the change.
            if !raised_expired {
                let mut alert = ctx.alert(
                    rule,
                    AlertKind::StatusChanged,
                    status_change_severity(package.lifecycle()),
                    Detail::StatusChange {
                        from: previous_status,
                        to: package.status_code(),
                        last_seen: previous_seen,
                    },
                    format!(
                        "{} status changed from {} to {}",
                        package.key,
                        status_label(package.scope.source, previous_status),
                        status_label(package.scope.source, package.status_code())
                    ),
                );
                alert.previous_status = previous_status;
                alerts.push(alert);
            }
        }

        // Quiet: no `expiring` reminders either (an expired one is still reminded of).
        if !raised_condition
            && (expired || !quiet)
            && reminder_due(rule, &progress, package, expired, now)
        {
            let alert = if renewal_failed {
                ctx.renewal_failed_alert(rule, &progress, true)
            } else if expired {
                ctx.expired_alert(rule, &progress, true)
            } else {
                let stage = rule
                    .stage(package.remain_days)
                    .or(progress.notified_threshold);
                match stage {
                    Some(stage) => ctx.expiring_alert(rule, &progress, stage, true),
                    None => ctx.expiring_reminder_without_stage(rule, &progress),
                }
            };
            alerts.push(alert);
            progress.reminders_sent = progress.reminders_sent.saturating_add(1);
            progress.last_alert_at = Some(now);
        }

        progress_by_rule.insert(rule.name().to_string(), progress);
    }

    let state = ItemState {
        last: package.clone(),
        epoch,
        vanished: false,
        first_seen: previous.map_or(now, |prev| prev.first_seen),
        last_seen: now,
        rules: progress_by_rule,
    };
    Evaluation {
        state,
        alerts: merge_shared(alerts),
    }
}

pub(super) fn evaluate_missing(
    rules: &RuleSet,
    prev: &ItemState,
    now: DateTime<Utc>,
) -> Evaluation {
    let package = &prev.last;
    let ctx = PackageContext {
        package,
        epoch: prev.epoch,
        now,
    };
    // The time it was last seen names this disappearance: a later one gets another id.
    let detail = Detail::Vanished {
        last_seen: prev.last_seen,
    };
    let mut alerts = Vec::new();
    let mut progress_by_rule = BTreeMap::new();
    for rule in rules.matching_package(package) {
        let mut progress = prev.rules.get(rule.name()).cloned().unwrap_or_default();
        if !progress.vanished_notified {
            progress.vanished_notified = true;
            alerts.push(ctx.alert(
                rule,
                AlertKind::Vanished,
                Severity::Warning,
                detail,
                format!("{} is no longer reported by the API", package.key),
            ));
        }
        progress_by_rule.insert(rule.name().to_string(), progress);
    }
    let state = ItemState {
        vanished: true,
        rules: progress_by_rule,
        ..prev.clone()
    };
    Evaluation {
        state,
        alerts: merge_shared(alerts),
    }
}

/// Expired by days or by status.
pub(super) fn is_expired(package: &Item) -> bool {
    package.remain_days <= 0 || package.lifecycle() == Some(Lifecycle::Expired)
}

/// A renewal adds at least a month: a rise of 2 days or more. A rise of one day can be a clock
/// boundary, unless the package also left an expired status for active.
pub(super) fn is_renewal(previous: &Item, current: &Item) -> bool {
    let rise = current.remain_days.saturating_sub(previous.remain_days);
    rise >= 2
        || (rise >= 1
            && previous.lifecycle() == Some(Lifecycle::Expired)
            && current.lifecycle() == Some(Lifecycle::Active))
}

pub(super) fn reminder_due(
    rule: &Rule,
    progress: &RuleProgress,
    package: &Item,
    expired: bool,
    now: DateTime<Utc>,
) -> bool {
    let every = if expired {
        rule.expired_every
    } else {
        rule.repeat
            .filter(|r| package.remain_days <= r.below)
            .map(|r| r.every)
    };
    let (Some(every), Some(last)) = (every, progress.last_alert_at) else {
        return false;
    };
    let slack = REMINDER_SLACK.min(every / 100);
    progress.alerted && now - last + slack >= every
}

/// Builds the alerts of one package evaluation.
pub(super) struct PackageContext<'a> {
    package: &'a Item,
    epoch: u32,
    now: DateTime<Utc>,
}

impl PackageContext<'_> {
    pub(super) fn alert(
        &self,
        rule: &Rule,
        kind: AlertKind,
        severity: Severity,
        detail: Detail,
        summary: String,
    ) -> Alert {
        let p = self.package;
        let id = DecisionKey::Item {
            item: &p.identity(),
            rule: rule_in_id(rule, kind),
            kind,
            detail,
            epoch: self.epoch,
        }
        .id();
        Alert {
            id,
            kind,
            severity,
            rule: rule.name().to_string(),
            account: p.scope.account.clone(),
            project_id: p.scope.project_id.clone(),
            source: p.scope.source,
            package: Some(p.key.clone()),
            resource_id: Some(p.resource_id.clone()),
            service_type: p.service_type.clone(),
            package_status: p.status_code(),
            resource: ResourceFacts::of(p),
            package_status_name: Some(p.status_name().to_string()),
            remain_days: Some(p.remain_days),
            threshold: None,
            next_action_url: p.next_action_url.clone(),
            summary,
            raised_at: self.now,
            previous_status: None,
            reminder: false,
            error: None,
            receivers: rule.receivers().to_vec(),
        }
    }

    pub(super) fn expiring_alert(
        &self,
        rule: &Rule,
        progress: &RuleProgress,
        stage: i64,
        reminder: bool,
    ) -> Alert {
        let summary = format!(
            "{} expires in {}",
            self.package.key,
            plural_days(self.package.remain_days)
        );
        let mut alert = self.alert(
            rule,
            AlertKind::Expiring,
            rule.condition_severity(Severity::for_remain_days(self.package.remain_days)),
            Detail::Threshold {
                stage: Some(stage),
                reminder: reminder_number(progress, reminder),
            },
            reminder_summary(summary, reminder),
        );
        alert.threshold = Some(stage);
        alert.reminder = reminder;
        alert
    }

    /// A reminder at or below `repeat_below` after the package left its stage by a one-day rise.
    pub(super) fn expiring_reminder_without_stage(
        &self,
        rule: &Rule,
        progress: &RuleProgress,
    ) -> Alert {
        let summary = format!(
            "{} expires in {}",
            self.package.key,
            plural_days(self.package.remain_days)
        );
        let mut alert = self.alert(
            rule,
            AlertKind::Expiring,
            rule.condition_severity(Severity::for_remain_days(self.package.remain_days)),
            Detail::Threshold {
                stage: None,
                reminder: reminder_number(progress, true),
            },
            reminder_summary(summary, true),
        );
        alert.reminder = true;
        alert
    }

    /// `auto_renew_failed`: the term of an auto-renewing item ended and did not move.
    pub(super) fn renewal_failed_alert(
        &self,
        rule: &Rule,
        progress: &RuleProgress,
        reminder: bool,
    ) -> Alert {
        let p = self.package;
        let expire_time = p.details.as_deref().and_then(|d| d.expire_time);
        let name = p
            .details
            .as_deref()
            .and_then(|d| d.name.as_deref())
            .map_or_else(|| p.key.clone(), |n| format!("{n} ({})", p.key));
        let summary = match expire_time {
            Some(t) => format!(
                "{name} was due to renew itself but did not: its term ended {}",
                t.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            None => format!("{name} was due to renew itself but did not: its term ended"),
        };
        let mut alert = self.alert(
            rule,
            AlertKind::AutoRenewFailed,
            rule.condition_severity(Severity::Critical),
            Detail::TermEnd {
                expire_time,
                reminder: reminder_number(progress, reminder),
            },
            reminder_summary(summary, reminder),
        );
        alert.reminder = reminder;
        alert
    }

    pub(super) fn expired_alert(
        &self,
        rule: &Rule,
        progress: &RuleProgress,
        reminder: bool,
    ) -> Alert {
        let p = self.package;
        let summary = match p
            .status_code()
            .and_then(|s| p.scope.source.expired_phase(s))
        {
            Some(phase) => format!("{} expired ({phase})", p.key),
            None if p.remain_days < 0 => {
                format!("{} expired {} ago", p.key, plural_days(-p.remain_days))
            }
            None => format!("{} expired (0 days left)", p.key),
        };
        let mut alert = self.alert(
            rule,
            AlertKind::Expired,
            rule.condition_severity(Severity::Critical),
            Detail::Status {
                status: p.status_code(),
                reminder: reminder_number(progress, reminder),
            },
            reminder_summary(summary, reminder),
        );
        alert.reminder = reminder;
        alert
    }
}
