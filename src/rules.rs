//! The rules engine: a pure function from (package observation, previous state, now) to
//! decisions and the next state. No I/O, no clock: everything it needs is passed in.
//! Semantics: DESIGN.md, "Rules and their semantics".
//!
//! Every decision gets an id derived from what makes it unique (package identity, rule, kind,
//! stage or status, renewal cycle, and for repeatable decisions a counter or the time of the
//! observation that preceded it), so the same decision always carries the same id and two
//! different decisions never share one.

use crate::config::RuleConfig;
use crate::model::{
    decision_id, is_expired_status, package_status_name, Alert, AlertKind, Package, PollErrorInfo,
    Scope, Severity,
};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The status value the API uses for an active package.
const STATUS_ACTIVE: i64 = 2;

/// How much earlier than `repeat_every` a reminder may go out. Polls run on a schedule whose
/// start jitters by milliseconds to seconds; without this, a daily reminder on a daily schedule
/// would skip every day whose poll ran a moment earlier than the last one. Capped at 1% of the
/// interval, so a reminder is never noticeably early.
const REMINDER_SLACK: TimeDelta = TimeDelta::minutes(2);

/// What the engine remembers about one package between polls (stored as JSON by the state store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageState {
    /// The last snapshot seen in a successful response.
    pub last: Package,
    /// Renewal cycle counter: a renewal starts a new cycle, and ids of decisions include it.
    pub epoch: u32,
    /// The package was missing from the last successful response of its scope.
    #[serde(default)]
    pub vanished: bool,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Progress per rule name (only the rules that currently match the package).
    #[serde(default)]
    pub rules: BTreeMap<String, RuleProgress>,
}

/// What one rule has already said about one package in its current cycle. Fields at their
/// default are left out of the stored JSON (they read back as the default): a state is
/// written for every package at every cycle.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleProgress {
    /// The tightest threshold alerted in this cycle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notified_threshold: Option<i64>,
    /// The status for which `expired` was last sent in this cycle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_status: Option<i64>,
    /// Whether `expired` was sent in this cycle (also for remainDays <= 0 with an active status).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expired_notified: bool,
    /// An `expiring` or `expired` alert was sent in this cycle (a renewal then gets a `renewed`
    /// notice, and reminders may follow).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub alerted: bool,
    /// When the last `expiring`/`expired` alert or reminder went out (for `repeat_every`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_alert_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub vanished_notified: bool,
    /// Every status `expired` was sent for in this cycle: it is sent once per status, even when
    /// the status flaps back (grace -> retention -> grace).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expired_statuses: Vec<i64>,
    /// Reminders sent in this cycle; numbers each reminder's id.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reminders_sent: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl RuleProgress {
    fn expired_sent_for(&self, status: i64) -> bool {
        self.expired_status == Some(status) || self.expired_statuses.contains(&status)
    }
}

/// Poll health of one account/project, for `poll_failed` / `poll_recovered`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PollHealth {
    pub consecutive_failures: u32,
    /// `poll_failed` was sent and `poll_recovered` is owed.
    pub failing_notified: bool,
    pub last_error: Option<PollErrorInfo>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// First failure of the current run of failures; names the episode in decision ids.
    #[serde(default)]
    pub failing_since: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("rule {rule:?}: {field} glob {pattern:?} is invalid: {source}")]
    InvalidGlob {
        rule: String,
        field: &'static str,
        pattern: String,
        #[source]
        source: glob::PatternError,
    },
    #[error("rule {rule:?}: repeat_every {every:?} is out of range")]
    RepeatOutOfRange {
        rule: String,
        every: std::time::Duration,
    },
}

/// A list of globs (`*`, `?`, `[...]`); an empty list matches everything.
#[derive(Debug, Clone)]
struct GlobList {
    patterns: Vec<glob::Pattern>,
}

impl GlobList {
    fn compile(rule: &str, field: &'static str, patterns: &[String]) -> Result<Self, RulesError> {
        let patterns = patterns
            .iter()
            .map(|pattern| {
                glob::Pattern::new(pattern).map_err(|source| RulesError::InvalidGlob {
                    rule: rule.to_string(),
                    field,
                    pattern: pattern.to_string(),
                    source,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(GlobList { patterns })
    }

    fn matches(&self, candidate: &str) -> bool {
        self.patterns.is_empty() || self.patterns.iter().any(|p| p.matches(candidate))
    }
}

#[derive(Debug, Clone, Copy)]
struct Repeat {
    below: i64,
    every: TimeDelta,
}

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    name: String,
    accounts: GlobList,
    projects: GlobList,
    packages: GlobList,
    /// Ascending, without duplicates.
    thresholds: Vec<i64>,
    receivers: Vec<String>,
    repeat: Option<Repeat>,
    /// Interval of reminders while expired (`repeat_expired_every`, else `repeat_every`).
    expired_every: Option<TimeDelta>,
    notify_renewed: bool,
    severity: Option<Severity>,
}

impl Rule {
    fn compile(config: &RuleConfig) -> Result<Rule, RulesError> {
        let name = config.name.as_str();
        let mut thresholds = config.thresholds.clone();
        thresholds.sort_unstable();
        thresholds.dedup();
        let interval = |every: std::time::Duration| {
            TimeDelta::from_std(every).map_err(|_| RulesError::RepeatOutOfRange {
                rule: name.to_string(),
                every,
            })
        };
        let repeat = match (config.repeat_below, config.repeat_every) {
            (Some(below), Some(every)) => Some(Repeat {
                below,
                every: interval(every)?,
            }),
            // Config validation refuses one without the other; without both there is no repeat.
            _ => None,
        };
        let expired_every = match config.repeat_expired_every {
            Some(every) => Some(interval(every)?),
            None => repeat.map(|r| r.every),
        };
        Ok(Rule {
            name: name.to_string(),
            accounts: GlobList::compile(name, "accounts", &config.accounts)?,
            projects: GlobList::compile(name, "projects", &config.projects)?,
            packages: GlobList::compile(name, "packages", &config.packages)?,
            thresholds,
            receivers: config.receivers.clone(),
            repeat,
            expired_every,
            notify_renewed: config.notify_renewed,
            severity: config.severity,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn receivers(&self) -> &[String] {
        &self.receivers
    }

    /// The thresholds in days, ascending.
    pub fn thresholds(&self) -> &[i64] {
        &self.thresholds
    }

    pub fn notify_renewed(&self) -> bool {
        self.notify_renewed
    }

    /// The account and project globs match (the project of an account-level scope is "").
    pub fn matches_scope(&self, scope: &Scope) -> bool {
        self.accounts.matches(&scope.account) && self.projects.matches(scope.project_label())
    }

    pub fn matches_package(&self, package: &Package) -> bool {
        self.matches_scope(&package.scope) && self.packages.matches(&package.key)
    }

    /// The smallest threshold `t` with `remain_days <= t`, if any.
    pub fn stage(&self, remain_days: i64) -> Option<i64> {
        self.thresholds.iter().copied().find(|t| remain_days <= *t)
    }

    /// Severity of an `expiring`/`expired` alert: the rule's override or the default.
    fn condition_severity(&self, default: Severity) -> Severity {
        self.severity.unwrap_or(default)
    }
}

/// The compiled rules of one config.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
}

impl RuleSet {
    /// Compiles the rules' globs (config validation already checked them; this repeats the
    /// check so a `RuleSet` can never hold a rule it cannot evaluate).
    pub fn new(rules: &[RuleConfig]) -> Result<RuleSet, RulesError> {
        Ok(RuleSet {
            rules: rules.iter().map(Rule::compile).collect::<Result<_, _>>()?,
        })
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Rules whose account and project globs match a scope (for poll_failed routing).
    pub fn matching_scope<'a>(&'a self, scope: &'a Scope) -> impl Iterator<Item = &'a Rule> + 'a {
        self.rules.iter().filter(move |r| r.matches_scope(scope))
    }

    /// Rules whose account, project and package globs match a package.
    pub fn matching_package<'a>(
        &'a self,
        package: &'a Package,
    ) -> impl Iterator<Item = &'a Rule> + 'a {
        self.rules
            .iter()
            .filter(move |r| r.matches_package(package))
    }
}

/// What one successful poll says about one known or new package.
#[derive(Debug, Clone, Copy)]
pub enum Observation<'a> {
    Seen(&'a Package),
    /// Absent from a successful response of its scope.
    Missing,
}

/// The outcome of evaluating one package: its next state and the alerts to deliver.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub state: PackageState,
    pub alerts: Vec<Alert>,
}

/// One package, one poll. `previous` is None the first time the package is seen.
/// Returns None only for `Missing` with no previous state (nothing known, nothing to say).
pub fn evaluate(
    rules: &RuleSet,
    previous: Option<&PackageState>,
    observation: Observation<'_>,
    now: DateTime<Utc>,
) -> Option<Evaluation> {
    match observation {
        Observation::Seen(package) => Some(evaluate_seen(rules, previous, package, now)),
        Observation::Missing => previous.map(|prev| evaluate_missing(rules, prev, now)),
    }
}

/// The outcome of one poll of one account/project for its health.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthEvaluation {
    pub health: PollHealth,
    pub alerts: Vec<Alert>,
}

/// Counts consecutive failed polls of `scope`; after `failure_alert_after` of them one
/// `poll_failed` (to the receivers of every matching rule), and one `poll_recovered` on the
/// next success.
pub fn evaluate_poll(
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
                let episode = episode_key(health.failing_since);
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
                        &episode,
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
                let episode = episode_key(health.failing_since);
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
                        &episode,
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
            };
        }
    }
    HealthEvaluation {
        health,
        alerts: merge_shared(alerts),
    }
}

// ---------------------------------------------------------------------------------------------
// Package evaluation
// ---------------------------------------------------------------------------------------------

fn evaluate_seen(
    rules: &RuleSet,
    previous: Option<&PackageState>,
    package: &Package,
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
        .filter(|prev| prev.last.package_status != package.package_status)
        .map(|prev| (prev.last.package_status, prev.last_seen));
    let expired = is_expired(package);
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

        if renewed && old.alerted && rule.notify_renewed {
            alerts.push(ctx.alert(
                rule,
                AlertKind::Renewed,
                Severity::Info,
                "renewed",
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
            let new_expired_status = package
                .package_status
                .filter(|s| is_expired_status(Some(*s)) && !progress.expired_sent_for(*s));
            if !progress.expired_notified || new_expired_status.is_some() {
                alerts.push(ctx.expired_alert(rule, &progress, false));
                progress.expired_notified = true;
                progress.expired_status = package.package_status;
                if let Some(status) = package.package_status {
                    if !progress.expired_statuses.contains(&status) {
                        progress.expired_statuses.push(status);
                    }
                }
                raised_condition = true;
                raised_expired = true;
            }
        } else if !progress.expired_notified {
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
                    status_change_severity(package.package_status),
                    &format!(
                        "status:{}->{}:{}",
                        status_id(previous_status),
                        status_id(package.package_status),
                        timestamp_id(previous_seen)
                    ),
                    format!(
                        "{} status changed from {} to {}",
                        package.key,
                        status_label(previous_status),
                        status_label(package.package_status)
                    ),
                );
                alert.previous_status = previous_status;
                alerts.push(alert);
            }
        }

        if !raised_condition && reminder_due(rule, &progress, package, expired, now) {
            let alert = if expired {
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

    let state = PackageState {
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

fn evaluate_missing(rules: &RuleSet, prev: &PackageState, now: DateTime<Utc>) -> Evaluation {
    let package = &prev.last;
    let ctx = PackageContext {
        package,
        epoch: prev.epoch,
        now,
    };
    // The time it was last seen names this disappearance: a later one gets another id.
    let detail = format!("vanished:{}", timestamp_id(prev.last_seen));
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
                &detail,
                format!("{} is no longer reported by the API", package.key),
            ));
        }
        progress_by_rule.insert(rule.name().to_string(), progress);
    }
    let state = PackageState {
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
fn is_expired(package: &Package) -> bool {
    package.remain_days <= 0 || is_expired_status(package.package_status)
}

/// A renewal adds at least a month: a rise of 2 days or more. A rise of one day can be a clock
/// boundary, unless the package also left an expired status for active.
fn is_renewal(previous: &Package, current: &Package) -> bool {
    let rise = current.remain_days.saturating_sub(previous.remain_days);
    rise >= 2
        || (rise >= 1
            && is_expired_status(previous.package_status)
            && current.package_status == Some(STATUS_ACTIVE))
}

fn reminder_due(
    rule: &Rule,
    progress: &RuleProgress,
    package: &Package,
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
struct PackageContext<'a> {
    package: &'a Package,
    epoch: u32,
    now: DateTime<Utc>,
}

impl PackageContext<'_> {
    fn alert(
        &self,
        rule: &Rule,
        kind: AlertKind,
        severity: Severity,
        detail: &str,
        summary: String,
    ) -> Alert {
        let p = self.package;
        let id = decision_id(&[
            &p.scope.account,
            p.scope.project_label(),
            &p.key,
            &p.resource_id,
            rule_in_id(rule, kind),
            kind.as_str(),
            detail,
            &format!("epoch:{}", self.epoch),
        ]);
        Alert {
            id,
            kind,
            severity,
            rule: rule.name().to_string(),
            account: p.scope.account.clone(),
            project_id: p.scope.project_id.clone(),
            package: Some(p.key.clone()),
            resource_id: Some(p.resource_id.clone()),
            service_type: p.service_type.clone(),
            package_status: p.package_status,
            package_status_name: Some(package_status_name(p.package_status).to_string()),
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

    fn expiring_alert(
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
            &reminder_detail(format!("threshold:{stage}"), progress, reminder),
            reminder_summary(summary, reminder),
        );
        alert.threshold = Some(stage);
        alert.reminder = reminder;
        alert
    }

    /// A reminder at or below `repeat_below` after the package left its stage by a one-day rise.
    fn expiring_reminder_without_stage(&self, rule: &Rule, progress: &RuleProgress) -> Alert {
        let summary = format!(
            "{} expires in {}",
            self.package.key,
            plural_days(self.package.remain_days)
        );
        let mut alert = self.alert(
            rule,
            AlertKind::Expiring,
            rule.condition_severity(Severity::for_remain_days(self.package.remain_days)),
            &reminder_detail("threshold:none".to_string(), progress, true),
            reminder_summary(summary, true),
        );
        alert.reminder = true;
        alert
    }

    fn expired_alert(&self, rule: &Rule, progress: &RuleProgress, reminder: bool) -> Alert {
        let p = self.package;
        let summary = match p.package_status.and_then(expired_phase) {
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
            &reminder_detail(
                format!("status:{}", status_id(p.package_status)),
                progress,
                reminder,
            ),
            reminder_summary(summary, reminder),
        );
        alert.reminder = reminder;
        alert
    }
}

/// Kinds that report a fact about the package or the scope rather than a rule's policy: each
/// is reported once, to the receivers of every rule that matches, not once per rule (two rules
/// sharing a receiver must not tell it twice that a poll failed).
fn is_shared_kind(kind: AlertKind) -> bool {
    matches!(
        kind,
        AlertKind::StatusChanged
            | AlertKind::Vanished
            | AlertKind::PollFailed
            | AlertKind::PollRecovered
    )
}

/// The rule's part of a decision id: none for shared kinds, so every rule makes the same id.
fn rule_in_id(rule: &Rule, kind: AlertKind) -> &str {
    if is_shared_kind(kind) {
        ""
    } else {
        rule.name()
    }
}

/// Folds the per-rule copies of a shared alert (same id) into the first one, whose `rule` is
/// the first matching rule and whose receivers become those of every copy, in order.
fn merge_shared(alerts: Vec<Alert>) -> Vec<Alert> {
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

/// Alerts about a scope rather than a package (`poll_failed`, `poll_recovered`).
fn scope_alert(
    rule: &Rule,
    scope: &Scope,
    kind: AlertKind,
    severity: Severity,
    episode: &str,
    summary: String,
    now: DateTime<Utc>,
) -> Alert {
    let id = decision_id(&[
        &scope.account,
        scope.project_label(),
        "",
        "",
        rule_in_id(rule, kind),
        kind.as_str(),
        episode,
    ]);
    Alert {
        id,
        kind,
        severity,
        rule: rule.name().to_string(),
        account: scope.account.clone(),
        project_id: scope.project_id.clone(),
        package: None,
        resource_id: None,
        service_type: None,
        package_status: None,
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

/// Reminders are numbered within their cycle so each gets its own id.
fn reminder_detail(detail: String, progress: &RuleProgress, reminder: bool) -> String {
    if reminder {
        format!(
            "{detail}:reminder:{}",
            progress.reminders_sent.saturating_add(1)
        )
    } else {
        detail
    }
}

fn reminder_summary(summary: String, reminder: bool) -> String {
    if reminder {
        format!("Reminder: {summary}")
    } else {
        summary
    }
}

fn episode_key(failing_since: Option<DateTime<Utc>>) -> String {
    match failing_since {
        Some(t) => format!("failing_since:{}", timestamp_id(t)),
        None => "failing_since:unknown".to_string(),
    }
}

fn timestamp_id(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn status_id(status: Option<i64>) -> String {
    status.map_or_else(|| "none".to_string(), |s| s.to_string())
}

/// A status as shown to people: the name where known and the raw number always.
fn status_label(status: Option<i64>) -> String {
    match status {
        Some(s) => format!("{} ({s})", package_status_name(status)),
        None => package_status_name(None).to_string(),
    }
}

/// The lifecycle phase of an expired status, for summaries.
fn expired_phase(status: i64) -> Option<&'static str> {
    match status {
        5 => Some("grace period"),
        4 => Some("retention period"),
        3 => Some("deleted"),
        99 => Some("frozen for violations"),
        _ => None,
    }
}

/// Back to active is good news; anything else unusual deserves a look.
fn status_change_severity(status: Option<i64>) -> Severity {
    if status == Some(STATUS_ACTIVE) {
        Severity::Info
    } else {
        Severity::Warning
    }
}

fn plural_days(days: i64) -> String {
    if days == 1 {
        "1 day".to_string()
    } else {
        format!("{days} days")
    }
}

fn days_left(days: i64) -> String {
    format!("{} left", plural_days(days))
}

/// A readable one-line account of a failed poll: HTTP status, code, message, request id.
fn describe_poll_error(error: &PollErrorInfo) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::collections::HashSet;
    use std::time::Duration;

    const PROJECT: &str = "666666af0f00445f85dec483fbc97c78";

    fn rule(name: &str, thresholds: &[i64]) -> RuleConfig {
        RuleConfig {
            name: name.to_string(),
            accounts: vec![],
            projects: vec![],
            packages: vec![],
            thresholds: thresholds.to_vec(),
            receivers: vec![format!("{name}-receiver")],
            repeat_below: None,
            repeat_every: None,
            repeat_expired_every: None,
            notify_renewed: true,
            severity: None,
        }
    }

    fn default_rule() -> RuleConfig {
        rule("default", &[30, 14, 7, 3, 1, 0])
    }

    fn rules(configs: &[RuleConfig]) -> RuleSet {
        RuleSet::new(configs).expect("rules compile")
    }

    fn scope(account: &str, project: Option<&str>) -> Scope {
        Scope {
            account: account.to_string(),
            project_id: project.map(str::to_string),
        }
    }

    fn package(remain_days: i64, status: Option<i64>) -> Package {
        Package {
            scope: scope("prod", Some(PROJECT)),
            key: "codeartsStorageExtension".to_string(),
            resource_id: "7590809a5c9d42ae92b49b1190e94666".to_string(),
            service_type: Some("hws.resource.type.codearts.extension.storage".to_string()),
            package_status: status,
            remain_days,
            next_action_url: Some("https://account.huaweicloud.com/renew".to_string()),
        }
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 1, 0, 0)
            .single()
            .expect("valid time")
    }

    /// Drives one package through polls, one day apart unless told otherwise.
    struct Sim {
        rules: RuleSet,
        state: Option<PackageState>,
        now: DateTime<Utc>,
    }

    impl Sim {
        fn new(configs: &[RuleConfig]) -> Sim {
            Sim {
                rules: rules(configs),
                state: None,
                now: t0(),
            }
        }

        fn observe_after(&mut self, step: TimeDelta, observation: Observation<'_>) -> Vec<Alert> {
            self.now += step;
            match evaluate(&self.rules, self.state.as_ref(), observation, self.now) {
                Some(evaluation) => {
                    self.state = Some(evaluation.state);
                    evaluation.alerts
                }
                None => Vec::new(),
            }
        }

        fn see(&mut self, remain_days: i64, status: Option<i64>) -> Vec<Alert> {
            let p = package(remain_days, status);
            self.observe_after(TimeDelta::days(1), Observation::Seen(&p))
        }

        fn active(&mut self, remain_days: i64) -> Vec<Alert> {
            self.see(remain_days, Some(2))
        }

        fn missing(&mut self) -> Vec<Alert> {
            self.observe_after(TimeDelta::days(1), Observation::Missing)
        }

        fn state(&self) -> &PackageState {
            self.state.as_ref().expect("package state exists")
        }

        fn progress(&self, rule: &str) -> &RuleProgress {
            self.state().rules.get(rule).expect("progress of rule")
        }
    }

    fn kinds(alerts: &[Alert]) -> Vec<AlertKind> {
        alerts.iter().map(|a| a.kind).collect()
    }

    fn only(alerts: Vec<Alert>) -> Alert {
        assert_eq!(alerts.len(), 1, "expected exactly one alert: {alerts:#?}");
        alerts.into_iter().next().expect("one alert")
    }

    fn repeat_rule(below: i64, every_hours: u64) -> RuleConfig {
        RuleConfig {
            repeat_below: Some(below),
            repeat_every: Some(Duration::from_secs(every_hours * 3600)),
            ..default_rule()
        }
    }

    // --- stages ---------------------------------------------------------------------------

    #[test]
    fn first_seen_past_several_thresholds_sends_one_alert_for_the_tightest() {
        let mut sim = Sim::new(&[rule("default", &[30, 14, 7, 3])]);
        let alert = only(sim.active(5));
        assert_eq!(alert.kind, AlertKind::Expiring);
        assert_eq!(alert.threshold, Some(7));
        assert_eq!(alert.remain_days, Some(5));
        assert_eq!(alert.severity, Severity::Warning);
        assert!(!alert.reminder);
        assert_eq!(sim.progress("default").notified_threshold, Some(7));
    }

    #[test]
    fn each_stage_is_alerted_once_on_the_way_down() {
        let mut sim = Sim::new(&[default_rule()]);
        let mut thresholds = Vec::new();
        for remain in [40, 35, 30, 29, 20, 14, 13, 8, 6, 5, 3, 2, 1] {
            for alert in sim.active(remain) {
                assert_eq!(alert.kind, AlertKind::Expiring);
                thresholds.push((remain, alert.threshold));
            }
        }
        assert_eq!(
            thresholds,
            vec![
                (30, Some(30)),
                (14, Some(14)),
                (6, Some(7)),
                (3, Some(3)),
                (1, Some(1))
            ]
        );
    }

    #[test]
    fn nothing_is_sent_above_every_threshold() {
        let mut sim = Sim::new(&[default_rule()]);
        assert!(sim.active(365).is_empty());
        assert!(sim.active(31).is_empty());
        assert_eq!(sim.progress("default"), &RuleProgress::default());
    }

    #[test]
    fn a_one_day_rise_is_no_renewal_and_no_less_urgent_stage_is_sent() {
        let mut sim = Sim::new(&[default_rule()]);
        assert_eq!(only(sim.active(7)).threshold, Some(7));
        // 8 days is stage 14, less urgent than 7: said nothing, same cycle.
        assert!(sim.active(8).is_empty());
        assert_eq!(sim.state().epoch, 0);
        assert!(sim.active(7).is_empty());
        assert_eq!(only(sim.active(3)).threshold, Some(3));
    }

    #[test]
    fn expiring_summary_names_the_package_and_days() {
        let mut sim = Sim::new(&[default_rule()]);
        let alert = only(sim.active(11));
        assert_eq!(alert.summary, "codeartsStorageExtension expires in 11 days");
        let alert = only(sim.active(1));
        assert_eq!(alert.summary, "codeartsStorageExtension expires in 1 day");
    }

    // --- severity -------------------------------------------------------------------------

    #[test]
    fn severity_follows_remaining_days() {
        let mut sim = Sim::new(&[default_rule()]);
        assert_eq!(only(sim.active(30)).severity, Severity::Info);
        assert_eq!(only(sim.active(14)).severity, Severity::Info);
        assert_eq!(only(sim.active(7)).severity, Severity::Warning);
        assert_eq!(only(sim.active(3)).severity, Severity::Warning);
        assert_eq!(only(sim.active(1)).severity, Severity::Critical);
        assert_eq!(only(sim.active(0)).severity, Severity::Critical);
    }

    #[test]
    fn a_rule_severity_overrides_expiring_and_expired_but_not_renewed() {
        let mut sim = Sim::new(&[RuleConfig {
            severity: Some(Severity::Warning),
            ..default_rule()
        }]);
        assert_eq!(only(sim.active(30)).severity, Severity::Warning);
        let expired = only(sim.active(0));
        assert_eq!(expired.kind, AlertKind::Expired);
        assert_eq!(expired.severity, Severity::Warning);
        let renewed = only(sim.active(365));
        assert_eq!(renewed.kind, AlertKind::Renewed);
        assert_eq!(renewed.severity, Severity::Info);
    }

    // --- expired --------------------------------------------------------------------------

    #[test]
    fn expiry_by_days_replaces_the_expiring_alert_and_is_sent_once() {
        let mut sim = Sim::new(&[default_rule()]);
        assert_eq!(only(sim.active(2)).threshold, Some(3));
        let alert = only(sim.active(0));
        assert_eq!(alert.kind, AlertKind::Expired);
        assert_eq!(alert.severity, Severity::Critical);
        assert_eq!(alert.threshold, None);
        assert_eq!(
            alert.summary,
            "codeartsStorageExtension expired (0 days left)"
        );
        assert!(sim.active(0).is_empty());
        // A one-day rise back above 0 is no renewal and sends no expiring after expired.
        assert!(sim.active(1).is_empty());
        assert_eq!(sim.state().epoch, 0);
        assert!(sim.active(0).is_empty());
        assert!(sim.active(-1).is_empty());
    }

    #[test]
    fn first_seen_already_expired_sends_expired_only() {
        let mut sim = Sim::new(&[default_rule()]);
        let alert = only(sim.active(-3));
        assert_eq!(alert.kind, AlertKind::Expired);
        assert_eq!(alert.summary, "codeartsStorageExtension expired 3 days ago");
    }

    #[test]
    fn expiry_by_status_is_sent_once_per_status() {
        let mut sim = Sim::new(&[default_rule()]);
        let grace = only(sim.see(20, Some(5)));
        assert_eq!(grace.kind, AlertKind::Expired);
        assert_eq!(
            grace.summary,
            "codeartsStorageExtension expired (grace period)"
        );
        assert_eq!(grace.package_status, Some(5));
        assert_eq!(grace.package_status_name.as_deref(), Some("grace"));
        assert!(sim.see(19, Some(5)).is_empty());

        // Grace -> retention: another expired, and no status_changed on top of it.
        let retention = only(sim.see(18, Some(4)));
        assert_eq!(retention.kind, AlertKind::Expired);
        assert_eq!(
            retention.summary,
            "codeartsStorageExtension expired (retention period)"
        );
        assert_ne!(retention.id, grace.id);

        // Back to grace: expired for grace was sent in this cycle; the change is reported.
        let back = only(sim.see(17, Some(5)));
        assert_eq!(back.kind, AlertKind::StatusChanged);
        assert_eq!(back.previous_status, Some(4));
    }

    #[test]
    fn active_package_at_zero_days_then_grace_gets_a_second_expired() {
        let mut sim = Sim::new(&[default_rule()]);
        assert_eq!(only(sim.active(0)).kind, AlertKind::Expired);
        let grace = only(sim.see(0, Some(5)));
        assert_eq!(grace.kind, AlertKind::Expired);
        assert_eq!(grace.package_status, Some(5));
    }

    #[test]
    fn each_expired_status_counts() {
        for status in [3, 4, 5, 99] {
            let mut sim = Sim::new(&[default_rule()]);
            let alert = only(sim.see(100, Some(status)));
            assert_eq!(alert.kind, AlertKind::Expired, "status {status}");
        }
        for status in [1, 2, 7] {
            let mut sim = Sim::new(&[default_rule()]);
            assert!(sim.see(100, Some(status)).is_empty(), "status {status}");
        }
    }

    // --- renewal --------------------------------------------------------------------------

    #[test]
    fn renewal_after_an_alert_sends_renewed_and_resets_the_stages() {
        let mut sim = Sim::new(&[default_rule()]);
        assert_eq!(only(sim.active(6)).threshold, Some(7));
        let renewed = only(sim.active(365));
        assert_eq!(renewed.kind, AlertKind::Renewed);
        assert_eq!(renewed.severity, Severity::Info);
        assert_eq!(renewed.remain_days, Some(365));
        assert_eq!(
            renewed.summary,
            "codeartsStorageExtension was renewed: 365 days left"
        );
        assert_eq!(sim.state().epoch, 1);
        assert_eq!(sim.progress("default"), &RuleProgress::default());
        // The new cycle alerts its stages again.
        assert_eq!(only(sim.active(30)).threshold, Some(30));
        assert_eq!(only(sim.active(7)).threshold, Some(7));
    }

    #[test]
    fn renewal_without_an_earlier_alert_is_silent_but_starts_a_new_cycle() {
        let mut sim = Sim::new(&[default_rule()]);
        assert!(sim.active(40).is_empty());
        assert!(sim.active(400).is_empty());
        assert_eq!(sim.state().epoch, 1);
    }

    #[test]
    fn renewal_with_notify_renewed_off_is_silent_but_resets() {
        let mut sim = Sim::new(&[RuleConfig {
            notify_renewed: false,
            ..default_rule()
        }]);
        assert_eq!(only(sim.active(3)).threshold, Some(3));
        assert!(sim.active(100).is_empty());
        assert_eq!(sim.state().epoch, 1);
        assert_eq!(only(sim.active(30)).threshold, Some(30));
    }

    #[test]
    fn renewal_still_within_a_threshold_is_evaluated_at_once() {
        let mut sim = Sim::new(&[default_rule()]);
        assert_eq!(only(sim.active(2)).threshold, Some(3));
        let alerts = sim.active(12);
        assert_eq!(
            kinds(&alerts),
            vec![AlertKind::Renewed, AlertKind::Expiring]
        );
        assert_eq!(alerts[1].threshold, Some(14));
    }

    #[test]
    fn leaving_an_expired_status_for_active_with_one_more_day_is_a_renewal() {
        let mut sim = Sim::new(&[default_rule()]);
        assert_eq!(only(sim.see(0, Some(5))).kind, AlertKind::Expired);
        let alerts = sim.see(1, Some(2));
        assert_eq!(sim.state().epoch, 1);
        // Renewed, the new cycle at 1 day, and the status change.
        assert_eq!(
            kinds(&alerts),
            vec![
                AlertKind::Renewed,
                AlertKind::Expiring,
                AlertKind::StatusChanged
            ]
        );
    }

    #[test]
    fn expired_package_renewed_gets_renewed_and_status_change() {
        let mut sim = Sim::new(&[default_rule()]);
        assert_eq!(only(sim.see(-2, Some(5))).kind, AlertKind::Expired);
        let alerts = sim.see(365, Some(2));
        assert_eq!(
            kinds(&alerts),
            vec![AlertKind::Renewed, AlertKind::StatusChanged]
        );
        let change = &alerts[1];
        assert_eq!(change.previous_status, Some(5));
        assert_eq!(change.severity, Severity::Info);
        assert_eq!(
            change.summary,
            "codeartsStorageExtension status changed from grace (5) to active (2)"
        );
    }

    // --- status changes -------------------------------------------------------------------

    #[test]
    fn a_status_change_is_reported_once_and_unknown_statuses_are_kept() {
        let mut sim = Sim::new(&[default_rule()]);
        assert!(sim.active(100).is_empty());
        let change = only(sim.see(99, Some(7)));
        assert_eq!(change.kind, AlertKind::StatusChanged);
        assert_eq!(change.previous_status, Some(2));
        assert_eq!(change.package_status, Some(7));
        assert_eq!(change.package_status_name.as_deref(), Some("unknown"));
        assert_eq!(change.severity, Severity::Warning);
        assert_eq!(
            change.summary,
            "codeartsStorageExtension status changed from active (2) to unknown (7)"
        );
        assert!(sim.see(98, Some(7)).is_empty());
        assert_eq!(sim.state().last.package_status, Some(7));
        // Back and forth again: each change is its own decision.
        let back = only(sim.see(97, Some(2)));
        let again = only(sim.see(96, Some(7)));
        assert_ne!(change.id, again.id);
        assert_ne!(back.id, again.id);
    }

    #[test]
    fn a_status_missing_from_the_response_is_a_change_too() {
        let mut sim = Sim::new(&[default_rule()]);
        assert!(sim.active(100).is_empty());
        let change = only(sim.see(99, None));
        assert_eq!(change.kind, AlertKind::StatusChanged);
        assert_eq!(change.package_status_name.as_deref(), Some("missing"));
    }

    #[test]
    fn a_change_to_an_expired_status_is_reported_as_expired_only() {
        let mut sim = Sim::new(&[default_rule()]);
        assert!(sim.active(100).is_empty());
        let alert = only(sim.see(99, Some(99)));
        assert_eq!(alert.kind, AlertKind::Expired);
        assert_eq!(
            alert.summary,
            "codeartsStorageExtension expired (frozen for violations)"
        );
    }

    #[test]
    fn first_sight_is_no_status_change() {
        let mut sim = Sim::new(&[default_rule()]);
        assert!(sim.see(100, Some(1)).is_empty());
    }

    // --- vanished -------------------------------------------------------------------------

    #[test]
    fn missing_without_previous_state_is_nothing() {
        let rules = rules(&[default_rule()]);
        assert_eq!(evaluate(&rules, None, Observation::Missing, t0()), None);
    }

    #[test]
    fn a_vanished_package_is_reported_once_and_again_after_reappearing() {
        let mut sim = Sim::new(&[default_rule()]);
        assert!(sim.active(100).is_empty());
        let seen_at = sim.now;
        let first = only(sim.missing());
        assert_eq!(first.kind, AlertKind::Vanished);
        assert_eq!(first.severity, Severity::Warning);
        assert_eq!(first.remain_days, Some(100));
        assert_eq!(
            first.summary,
            "codeartsStorageExtension is no longer reported by the API"
        );
        assert!(sim.state().vanished);
        assert_eq!(sim.state().last_seen, seen_at);
        assert!(sim.missing().is_empty());
        assert!(sim.missing().is_empty());

        // Back: tracked again, nothing to say, and a later disappearance is news again.
        assert!(sim.active(97).is_empty());
        assert!(!sim.state().vanished);
        assert!(!sim.progress("default").vanished_notified);
        let second = only(sim.missing());
        assert_eq!(second.kind, AlertKind::Vanished);
        assert_ne!(first.id, second.id);
    }

    #[test]
    fn vanishing_keeps_the_cycle_progress() {
        let mut sim = Sim::new(&[default_rule()]);
        assert_eq!(only(sim.active(7)).threshold, Some(7));
        assert_eq!(only(sim.missing()).kind, AlertKind::Vanished);
        // Reappears one stage later: only the new stage, no repeat of 7.
        assert_eq!(only(sim.active(3)).threshold, Some(3));
    }

    #[test]
    fn vanished_is_reported_once_to_the_receivers_of_every_matching_rule() {
        let shared = RuleConfig {
            receivers: vec!["default-receiver".into(), "third-receiver".into()],
            ..rule("third", &[3])
        };
        let mut sim = Sim::new(&[default_rule(), rule("other", &[5]), shared]);
        assert!(sim.active(100).is_empty());
        let alert = only(sim.missing());
        assert_eq!(alert.kind, AlertKind::Vanished);
        assert_eq!(alert.rule, "default", "the first matching rule");
        assert_eq!(
            alert.receivers,
            ["default-receiver", "other-receiver", "third-receiver"],
            "each receiver once"
        );
        // Every rule remembers it: no second report next cycle.
        for name in ["default", "other", "third"] {
            assert!(sim.progress(name).vanished_notified, "{name}");
        }
        assert!(sim.missing().is_empty());
    }

    #[test]
    fn a_status_change_is_reported_once_however_many_rules_match() {
        let mut sim = Sim::new(&[default_rule(), rule("other", &[5])]);
        assert!(sim.active(100).is_empty());
        let alerts = sim.see(99, Some(1));
        let changes: Vec<_> = alerts
            .iter()
            .filter(|a| a.kind == AlertKind::StatusChanged)
            .collect();
        assert_eq!(changes.len(), 1, "{alerts:#?}");
        assert_eq!(changes[0].receivers, ["default-receiver", "other-receiver"]);
    }

    // --- reminders ------------------------------------------------------------------------

    #[test]
    fn reminders_fire_after_the_interval_and_not_before() {
        let mut sim = Sim::new(&[repeat_rule(7, 24)]);
        assert_eq!(only(sim.active(6)).threshold, Some(7));
        // Half a day later: too early.
        let p = package(6, Some(2));
        assert!(sim
            .observe_after(TimeDelta::hours(12), Observation::Seen(&p))
            .is_empty());
        // A day after the alert (12 h more): a reminder for the current stage.
        let reminder = only(sim.observe_after(TimeDelta::hours(12), Observation::Seen(&p)));
        assert_eq!(reminder.kind, AlertKind::Expiring);
        assert!(reminder.reminder);
        assert_eq!(reminder.threshold, Some(7));
        assert_eq!(
            reminder.summary,
            "Reminder: codeartsStorageExtension expires in 6 days"
        );
        // 23 hours later: too early again, the interval counts from the reminder.
        assert!(sim
            .observe_after(TimeDelta::hours(23), Observation::Seen(&p))
            .is_empty());
        let next = only(sim.observe_after(TimeDelta::hours(1), Observation::Seen(&p)));
        assert!(next.reminder);
        assert_ne!(next.id, reminder.id);
        assert_eq!(sim.progress("default").reminders_sent, 2);
    }

    #[test]
    fn a_poll_a_moment_early_still_gets_its_daily_reminder() {
        let mut sim = Sim::new(&[repeat_rule(7, 24)]);
        assert_eq!(only(sim.active(6)).threshold, Some(7));
        let p = package(5, Some(2));
        let early = TimeDelta::hours(24) - TimeDelta::seconds(3);
        assert!(only(sim.observe_after(early, Observation::Seen(&p))).reminder);
        // But not an hour early.
        let p = package(4, Some(2));
        assert!(sim
            .observe_after(TimeDelta::hours(23), Observation::Seen(&p))
            .is_empty());
    }

    #[test]
    fn a_new_stage_is_an_alert_not_a_reminder() {
        let mut sim = Sim::new(&[repeat_rule(7, 24)]);
        assert_eq!(only(sim.active(7)).threshold, Some(7));
        let alert = only(sim.active(3));
        assert!(!alert.reminder);
        assert_eq!(alert.threshold, Some(3));
        let reminder = only(sim.active(2));
        assert!(reminder.reminder);
        assert_eq!(reminder.threshold, Some(3));
    }

    #[test]
    fn no_reminders_above_repeat_below() {
        let mut sim = Sim::new(&[repeat_rule(7, 24)]);
        assert_eq!(only(sim.active(30)).threshold, Some(30));
        assert!(sim.active(29).is_empty());
        assert!(sim.active(28).is_empty());
        assert_eq!(only(sim.active(14)).threshold, Some(14));
        assert!(sim.active(13).is_empty());
        assert_eq!(only(sim.active(7)).threshold, Some(7));
        assert!(only(sim.active(6)).reminder);
    }

    #[test]
    fn no_reminder_without_an_alert_in_the_cycle() {
        // Thresholds below repeat_below: at 5 days nothing was sent, so nothing to repeat.
        let mut sim = Sim::new(&[RuleConfig {
            thresholds: vec![3],
            ..repeat_rule(7, 24)
        }]);
        assert!(sim.active(6).is_empty());
        assert!(sim.active(5).is_empty());
        assert!(!only(sim.active(3)).reminder);
        assert!(only(sim.active(3)).reminder);
    }

    #[test]
    fn expired_packages_are_reminded_as_expired() {
        let mut sim = Sim::new(&[repeat_rule(3, 24)]);
        assert_eq!(only(sim.see(-1, Some(5))).kind, AlertKind::Expired);
        let reminder = only(sim.see(-2, Some(5)));
        assert_eq!(reminder.kind, AlertKind::Expired);
        assert!(reminder.reminder);
        assert_eq!(reminder.severity, Severity::Critical);
        assert_eq!(
            reminder.summary,
            "Reminder: codeartsStorageExtension expired (grace period)"
        );
    }

    #[test]
    fn expired_reminders_follow_their_own_interval() {
        // Only expired packages are reminded (no repeat_below), every 12 hours.
        let mut sim = Sim::new(&[RuleConfig {
            repeat_expired_every: Some(Duration::from_secs(12 * 3600)),
            ..default_rule()
        }]);
        assert_eq!(only(sim.active(3)).threshold, Some(3));
        assert!(sim.active(2).is_empty(), "no reminder while expiring");
        assert_eq!(only(sim.see(0, Some(5))).kind, AlertKind::Expired);
        let p = package(0, Some(5));
        assert!(sim
            .observe_after(TimeDelta::hours(11), Observation::Seen(&p))
            .is_empty());
        let reminder = only(sim.observe_after(TimeDelta::hours(1), Observation::Seen(&p)));
        assert_eq!(
            (reminder.kind, reminder.reminder),
            (AlertKind::Expired, true)
        );

        // With both: expiring packages daily at or below 3 days, expired ones every 6 hours.
        let mut sim = Sim::new(&[RuleConfig {
            repeat_expired_every: Some(Duration::from_secs(6 * 3600)),
            ..repeat_rule(3, 24)
        }]);
        assert_eq!(only(sim.see(-1, Some(5))).kind, AlertKind::Expired);
        let p = package(-1, Some(5));
        assert!(only(sim.observe_after(TimeDelta::hours(6), Observation::Seen(&p))).reminder);
    }

    #[test]
    fn reminders_stop_at_renewal() {
        let mut sim = Sim::new(&[repeat_rule(7, 24)]);
        assert_eq!(only(sim.active(5)).threshold, Some(7));
        assert!(only(sim.active(4)).reminder);
        assert_eq!(only(sim.active(365)).kind, AlertKind::Renewed);
        for remain in 350..364 {
            assert!(sim.active(remain).is_empty());
        }
        assert_eq!(sim.progress("default").reminders_sent, 0);
    }

    // --- matching -------------------------------------------------------------------------

    #[test]
    fn rules_match_accounts_projects_and_packages_by_glob() {
        let configs = [
            RuleConfig {
                accounts: vec!["prod*".into()],
                ..rule("prod", &[30])
            },
            RuleConfig {
                accounts: vec!["staging".into()],
                ..rule("staging", &[30])
            },
            RuleConfig {
                projects: vec!["".into()],
                ..rule("account-level", &[30])
            },
            RuleConfig {
                projects: vec!["666666*".into()],
                ..rule("project", &[30])
            },
            RuleConfig {
                packages: vec!["*Storage*".into()],
                ..rule("storage", &[30])
            },
            RuleConfig {
                packages: vec!["*Traffic*".into(), "other".into()],
                ..rule("traffic", &[30])
            },
            rule("all", &[30]),
        ];
        let rules = rules(&configs);
        let p = package(10, Some(2));
        let evaluation = evaluate(&rules, None, Observation::Seen(&p), t0()).expect("seen");
        let matched: Vec<_> = evaluation.alerts.iter().map(|a| a.rule.as_str()).collect();
        assert_eq!(matched, vec!["prod", "project", "storage", "all"]);
        let tracked: Vec<_> = evaluation.state.rules.keys().map(String::as_str).collect();
        assert_eq!(tracked, vec!["all", "prod", "project", "storage"]);

        let account_level = Package {
            scope: scope("staging", None),
            key: "codeartsTrafficExtension".into(),
            ..package(10, Some(2))
        };
        let evaluation =
            evaluate(&rules, None, Observation::Seen(&account_level), t0()).expect("seen");
        let matched: Vec<_> = evaluation.alerts.iter().map(|a| a.rule.as_str()).collect();
        assert_eq!(matched, vec!["staging", "account-level", "traffic", "all"]);
        assert!(evaluation.alerts.iter().all(|a| a.project_id.is_none()));
    }

    #[test]
    fn a_package_matched_by_no_rule_is_still_tracked() {
        let rules = rules(&[RuleConfig {
            accounts: vec!["other".into()],
            ..default_rule()
        }]);
        let p = package(3, Some(2));
        let evaluation = evaluate(&rules, None, Observation::Seen(&p), t0()).expect("seen");
        assert!(evaluation.alerts.is_empty());
        assert_eq!(evaluation.state.last, p);
        assert!(evaluation.state.rules.is_empty());
        let later = t0() + TimeDelta::days(1);
        let gone = evaluate(&rules, Some(&evaluation.state), Observation::Missing, later)
            .expect("known package");
        assert!(gone.alerts.is_empty());
        assert!(gone.state.vanished);
    }

    #[test]
    fn matching_scope_uses_account_and_project_only() {
        let rules = rules(&[
            RuleConfig {
                packages: vec!["nothing-matches-this".into()],
                ..rule("any-package", &[30])
            },
            RuleConfig {
                projects: vec!["".into()],
                ..rule("account-level", &[30])
            },
            RuleConfig {
                accounts: vec!["dev".into()],
                ..rule("dev", &[30])
            },
        ]);
        let account = scope("prod", None);
        let names: Vec<_> = rules.matching_scope(&account).map(Rule::name).collect();
        assert_eq!(names, vec!["any-package", "account-level"]);
        let project = scope("prod", Some(PROJECT));
        let names: Vec<_> = rules.matching_scope(&project).map(Rule::name).collect();
        assert_eq!(names, vec!["any-package"]);
    }

    #[test]
    fn an_invalid_glob_is_refused_with_its_rule_and_field() {
        let err = RuleSet::new(&[RuleConfig {
            packages: vec!["a[".into()],
            ..default_rule()
        }])
        .expect_err("invalid glob");
        let text = err.to_string();
        assert!(text.contains("\"default\""), "{text}");
        assert!(text.contains("packages"), "{text}");
        assert!(text.contains("a["), "{text}");
    }

    #[test]
    fn thresholds_are_sorted_and_deduplicated() {
        let rules = rules(&[rule("r", &[7, 30, 7, 1])]);
        let r = &rules.rules()[0];
        assert_eq!(r.thresholds(), &[1, 7, 30]);
        assert_eq!(r.stage(31), None);
        assert_eq!(r.stage(30), Some(30));
        assert_eq!(r.stage(8), Some(30));
        assert_eq!(r.stage(2), Some(7));
        assert_eq!(r.stage(-5), Some(1));
    }

    // --- alert contents and ids -----------------------------------------------------------

    #[test]
    fn alerts_carry_every_package_field() {
        let mut sim = Sim::new(&[default_rule()]);
        let alert = only(sim.active(11));
        let p = package(11, Some(2));
        assert_eq!(alert.rule, "default");
        assert_eq!(alert.account, "prod");
        assert_eq!(alert.project_id.as_deref(), Some(PROJECT));
        assert_eq!(alert.package.as_deref(), Some(p.key.as_str()));
        assert_eq!(alert.resource_id.as_deref(), Some(p.resource_id.as_str()));
        assert_eq!(alert.service_type, p.service_type);
        assert_eq!(alert.package_status, Some(2));
        assert_eq!(alert.package_status_name.as_deref(), Some("active"));
        assert_eq!(alert.threshold, Some(14));
        assert_eq!(alert.next_action_url, p.next_action_url);
        assert_eq!(alert.raised_at, sim.now);
        assert_eq!(alert.receivers, vec!["default-receiver".to_string()]);
        assert_eq!(alert.error, None);
        assert_eq!(alert.previous_status, None);
        assert_eq!(alert.id.len(), 32);
    }

    #[test]
    fn the_same_decision_gets_the_same_id_and_different_ones_differ() {
        let rules = rules(&[default_rule(), rule("other", &[30, 14, 7])]);
        let p = package(10, Some(2));
        let a = evaluate(&rules, None, Observation::Seen(&p), t0()).expect("seen");
        // Same inputs at another moment (a retry after a crash): same ids.
        let b = evaluate(
            &rules,
            None,
            Observation::Seen(&p),
            t0() + TimeDelta::hours(1),
        )
        .expect("seen");
        let ids = |e: &Evaluation| e.alerts.iter().map(|a| a.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&a), ids(&b));
        // Two rules, two decisions.
        assert_eq!(a.alerts.len(), 2);
        assert_ne!(a.alerts[0].id, a.alerts[1].id);
        // Another package, another id.
        let q = Package {
            resource_id: "another".into(),
            ..p.clone()
        };
        let c = evaluate(&rules, None, Observation::Seen(&q), t0()).expect("seen");
        assert_ne!(ids(&a)[0], ids(&c)[0]);
    }

    #[test]
    fn ids_are_distinct_over_a_long_life() {
        let mut sim = Sim::new(&[repeat_rule(7, 24), rule("other", &[14, 3])]);
        let mut all = Vec::new();
        for _ in 0..3 {
            for remain in (-5..=20).rev() {
                all.extend(sim.active(remain));
            }
            all.extend(sim.see(-6, Some(5)));
            all.extend(sim.see(-7, Some(4)));
            all.extend(sim.missing());
            all.extend(sim.see(-8, Some(4)));
            all.extend(sim.active(365));
        }
        let ids: HashSet<_> = all.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(
            ids.len(),
            all.len(),
            "duplicate ids among {} alerts",
            all.len()
        );
        assert!(all.iter().any(|a| a.reminder));
        assert_eq!(sim.state().epoch, 3);
    }

    #[test]
    fn state_rows_written_before_new_fields_still_load() {
        let p = package(5, Some(2));
        let json = serde_json::json!({
            "last": p,
            "epoch": 2,
            "first_seen": t0(),
            "last_seen": t0(),
            "rules": {"default": {"notified_threshold": 7, "alerted": true}}
        });
        let state: PackageState = serde_json::from_value(json).expect("old row loads");
        assert_eq!(state.rules["default"].notified_threshold, Some(7));
        assert_eq!(state.rules["default"].reminders_sent, 0);
        let health: PollHealth = serde_json::from_value(serde_json::json!({
            "consecutive_failures": 2, "failing_notified": false, "last_error": null,
            "last_success_at": null, "last_attempt_at": null
        }))
        .expect("old health loads");
        assert_eq!(health.failing_since, None);
    }

    // --- poll health ----------------------------------------------------------------------

    fn poll_error() -> PollErrorInfo {
        PollErrorInfo {
            http_status: Some(401),
            error_code: Some("APIG.0301".into()),
            error_msg: "Incorrect IAM authentication information".into(),
            request_id: Some("req-1".into()),
            consecutive_failures: 0,
        }
    }

    struct Poller {
        rules: RuleSet,
        scope: Scope,
        health: Option<PollHealth>,
        now: DateTime<Utc>,
    }

    impl Poller {
        fn new(configs: &[RuleConfig]) -> Poller {
            Poller {
                rules: rules(configs),
                scope: scope("prod", Some(PROJECT)),
                health: None,
                now: t0(),
            }
        }

        fn poll(&mut self, outcome: Result<(), &PollErrorInfo>) -> Vec<Alert> {
            self.now += TimeDelta::days(1);
            let evaluation = evaluate_poll(
                &self.rules,
                &self.scope,
                self.health.as_ref(),
                outcome,
                3,
                self.now,
            );
            self.health = Some(evaluation.health);
            evaluation.alerts
        }

        fn health(&self) -> &PollHealth {
            self.health.as_ref().expect("health")
        }
    }

    #[test]
    fn poll_failed_after_n_failures_once_and_recovered_once() {
        let mut poller = Poller::new(&[
            default_rule(),
            rule("other", &[7]),
            RuleConfig {
                accounts: vec!["dev".into()],
                ..rule("dev", &[7])
            },
        ]);
        let error = poll_error();
        assert!(poller.poll(Err(&error)).is_empty());
        assert!(poller.poll(Err(&error)).is_empty());
        let failed = poller.poll(Err(&error));
        assert_eq!(failed.len(), 1, "once, not once per rule: {failed:#?}");
        let alert = &failed[0];
        assert_eq!(
            alert.receivers,
            ["default-receiver", "other-receiver"],
            "to every rule matching the scope, not the `dev` rule's"
        );
        assert_eq!(alert.kind, AlertKind::PollFailed);
        assert_eq!(alert.severity, Severity::Critical);
        assert_eq!(alert.account, "prod");
        assert_eq!(alert.project_id.as_deref(), Some(PROJECT));
        assert_eq!(alert.package, None);
        assert_eq!(alert.remain_days, None);
        assert_eq!(alert.package_status_name, None);
        let carried = alert.error.as_ref().expect("error filled");
        assert_eq!(carried.consecutive_failures, 3);
        assert_eq!(carried.error_code.as_deref(), Some("APIG.0301"));
        assert_eq!(
            alert.summary,
            format!(
                "polling prod/{PROJECT} failed 3 times in a row: HTTP 401 APIG.0301 \
                 Incorrect IAM authentication information (request id req-1)"
            )
        );
        assert_eq!(poller.health().consecutive_failures, 3);
        assert!(poller.health().failing_notified);

        assert!(poller.poll(Err(&error)).is_empty());
        assert!(poller.poll(Err(&error)).is_empty());

        let recovered = poller.poll(Ok(()));
        assert_eq!(recovered.len(), 1);
        assert_eq!(
            recovered[0].receivers,
            ["default-receiver", "other-receiver"]
        );
        assert_eq!(recovered[0].kind, AlertKind::PollRecovered);
        assert_eq!(recovered[0].severity, Severity::Info);
        assert_eq!(recovered[0].error, None);
        assert_eq!(
            recovered[0].summary,
            format!("polling prod/{PROJECT} works again after 5 failed attempts")
        );
        assert_eq!(poller.health().consecutive_failures, 0);
        assert_eq!(poller.health().last_success_at, Some(poller.now));
        assert!(poller.poll(Ok(())).is_empty());

        // A second episode is a new decision.
        for _ in 0..2 {
            assert!(poller.poll(Err(&error)).is_empty());
        }
        let again = poller.poll(Err(&error));
        assert_eq!(again.len(), 1);
        assert_ne!(again[0].id, failed[0].id);
        let recovered_again = poller.poll(Ok(()));
        assert_ne!(recovered_again[0].id, recovered[0].id);
    }

    #[test]
    fn a_success_resets_the_failure_count() {
        let mut poller = Poller::new(&[default_rule()]);
        let error = poll_error();
        assert!(poller.poll(Err(&error)).is_empty());
        assert!(poller.poll(Err(&error)).is_empty());
        assert!(poller.poll(Ok(())).is_empty());
        assert!(poller.poll(Err(&error)).is_empty());
        assert!(poller.poll(Err(&error)).is_empty());
        assert_eq!(poller.health().consecutive_failures, 2);
        assert_eq!(poller.poll(Err(&error)).len(), 1);
    }

    #[test]
    fn poll_ids_are_stable_for_the_same_decision() {
        let rules = rules(&[default_rule()]);
        let s = scope("prod", None);
        let error = poll_error();
        let previous = PollHealth {
            consecutive_failures: 2,
            failing_since: Some(t0()),
            ..PollHealth::default()
        };
        let a = evaluate_poll(&rules, &s, Some(&previous), Err(&error), 3, t0());
        let b = evaluate_poll(
            &rules,
            &s,
            Some(&previous),
            Err(&error),
            3,
            t0() + TimeDelta::minutes(5),
        );
        assert_eq!(a.alerts.len(), 1);
        assert_eq!(a.alerts[0].id, b.alerts[0].id);
        assert_eq!(a.alerts[0].summary, "polling prod failed 3 times in a row: HTTP 401 APIG.0301 Incorrect IAM authentication information (request id req-1)");
    }

    #[test]
    fn failure_alert_after_one_alerts_on_the_first_failure() {
        let rules = rules(&[default_rule()]);
        let s = scope("prod", None);
        let error = PollErrorInfo {
            http_status: None,
            error_code: None,
            error_msg: "connection refused".into(),
            request_id: None,
            consecutive_failures: 0,
        };
        let evaluation = evaluate_poll(&rules, &s, None, Err(&error), 1, t0());
        let alert = only(evaluation.alerts);
        assert_eq!(
            alert.summary,
            "polling prod failed 1 times in a row: connection refused"
        );
    }

    #[test]
    fn with_no_matching_rule_poll_failed_stays_owed() {
        let rules = rules(&[RuleConfig {
            accounts: vec!["dev".into()],
            ..default_rule()
        }]);
        let s = scope("prod", None);
        let error = poll_error();
        let mut health = None;
        for _ in 0..4 {
            let e = evaluate_poll(&rules, &s, health.as_ref(), Err(&error), 3, t0());
            assert!(e.alerts.is_empty());
            health = Some(e.health);
        }
        let health = health.expect("health");
        assert!(!health.failing_notified);
        // A rule added by a reload hears of it on the next failure.
        let reloaded = self::rules(&[default_rule()]);
        let e = evaluate_poll(&reloaded, &s, Some(&health), Err(&error), 3, t0());
        assert_eq!(e.alerts.len(), 1);
    }

    // --- properties over random package lives ----------------------------------------------

    mod properties {
        use super::*;
        use proptest::prelude::*;
        use std::collections::HashMap;

        #[derive(Debug, Clone)]
        enum Step {
            /// Time passes: remainDays falls by 0..=5.
            Down(i64),
            /// A clock boundary: one day more, not a renewal.
            UpOne,
            /// Renewed: at least two more days.
            Renew(i64),
            /// packageStatus changes (possibly to an unknown value or to nothing).
            Status(Option<i64>),
            /// Absent from a successful response.
            Missing,
        }

        fn status() -> impl Strategy<Value = Option<i64>> {
            prop_oneof![
                4 => Just(Some(2)),
                1 => Just(None),
                1 => Just(Some(1)),
                1 => Just(Some(3)),
                1 => Just(Some(4)),
                2 => Just(Some(5)),
                1 => Just(Some(7)),
                1 => Just(Some(99)),
            ]
        }

        fn step() -> impl Strategy<Value = Step> {
            prop_oneof![
                8 => (0i64..=5).prop_map(Step::Down),
                1 => Just(Step::UpOne),
                2 => (2i64..=400).prop_map(Step::Renew),
                2 => status().prop_map(Step::Status),
                1 => Just(Step::Missing),
            ]
        }

        fn rule_config() -> impl Strategy<Value = RuleConfig> {
            (
                proptest::collection::vec(0i64..=60, 1..6),
                proptest::option::of((0i64..=30, 1u64..=72)),
                any::<bool>(),
                proptest::option::of(prop_oneof![
                    Just(Severity::Info),
                    Just(Severity::Warning),
                    Just(Severity::Critical)
                ]),
            )
                .prop_map(|(thresholds, repeat, notify_renewed, severity)| {
                    RuleConfig {
                        thresholds,
                        repeat_below: repeat.map(|(below, _)| below),
                        repeat_every: repeat.map(|(_, hours)| Duration::from_secs(hours * 3600)),
                        notify_renewed,
                        severity,
                        ..rule("placeholder", &[])
                    }
                })
        }

        fn rule_set() -> impl Strategy<Value = Vec<RuleConfig>> {
            proptest::collection::vec(rule_config(), 1..=2).prop_map(|mut configs| {
                for (i, config) in configs.iter_mut().enumerate() {
                    config.name = format!("r{i}");
                    config.receivers = vec![format!("recv{i}")];
                }
                configs
            })
        }

        /// What one rule sent in one cycle, non-reminder alerts only.
        #[derive(Default)]
        struct CycleLog {
            thresholds: Vec<i64>,
            expired_statuses: Vec<Option<i64>>,
        }

        fn expected_renewal(previous: &Package, current: &Package) -> bool {
            let rise = current.remain_days - previous.remain_days;
            rise >= 2
                || (rise == 1
                    && is_expired_status(previous.package_status)
                    && current.package_status == Some(2))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn alerts_follow_the_cycle_rules(
                configs in rule_set(),
                start_days in -5i64..=100,
                start_status in status(),
                steps in proptest::collection::vec((step(), 1i64..=48), 1..60),
            ) {
                let rules = rules(&configs);
                let mut remain = start_days;
                let mut current_status = start_status;
                let mut state: Option<PackageState> = None;
                let mut now = t0();
                let mut logs: HashMap<(String, u32), CycleLog> = HashMap::new();
                let mut ids = HashSet::new();
                let mut missing_since_seen: HashMap<String, u32> = HashMap::new();

                let first = std::iter::once((None, 0));
                for (step, hours) in first.chain(steps.into_iter().map(|(s, h)| (Some(s), h))) {
                    now += TimeDelta::hours(hours);
                    let missing = matches!(step, Some(Step::Missing));
                    match step {
                        Some(Step::Down(d)) => remain -= d,
                        Some(Step::UpOne) => remain += 1,
                        Some(Step::Renew(d)) => remain += d,
                        Some(Step::Status(s)) => current_status = s,
                        Some(Step::Missing) | None => {}
                    }
                    let p = package(remain, current_status);
                    let observation = if missing {
                        Observation::Missing
                    } else {
                        Observation::Seen(&p)
                    };
                    let Some(evaluation) = evaluate(&rules, state.as_ref(), observation, now)
                    else {
                        prop_assert!(missing && state.is_none());
                        continue;
                    };
                    // Deterministic: the same inputs give the same decisions and ids.
                    let again = evaluate(&rules, state.as_ref(), observation, now);
                    prop_assert_eq!(Some(&evaluation), again.as_ref());

                    let previous = state.as_ref();
                    let epoch = evaluation.state.epoch;
                    let renewed = !missing
                        && previous.is_some_and(|prev| expected_renewal(&prev.last, &p));
                    let previous_epoch = previous.map_or(0, |prev| prev.epoch);
                    prop_assert_eq!(epoch, previous_epoch + u32::from(renewed));
                    let status_changed = !missing
                        && previous.is_some_and(|prev| prev.last.package_status != current_status);
                    let expired = !missing && is_expired(&p);
                    if !missing {
                        // Unknown statuses are kept as they came.
                        prop_assert_eq!(evaluation.state.last.package_status, current_status);
                    }

                    for alert in &evaluation.alerts {
                        prop_assert!(ids.insert(alert.id.clone()), "duplicate id {:?}", alert);
                    }

                    for rule in rules.rules() {
                        // What this rule's receivers (distinct per rule here) are told.
                        let mine: Vec<&Alert> = evaluation
                            .alerts
                            .iter()
                            .filter(|a| a.receivers.iter().any(|r| rule.receivers().contains(r)))
                            .collect();
                        let has = |kind: AlertKind, reminder: bool| {
                            mine.iter().any(|a| a.kind == kind && a.reminder == reminder)
                        };
                        // An expired package never also gets an expiring alert.
                        prop_assert!(
                            !(mine.iter().any(|a| a.kind == AlertKind::Expired)
                                && mine.iter().any(|a| a.kind == AlertKind::Expiring)),
                            "expired and expiring together: {:?}", mine
                        );
                        if expired {
                            prop_assert!(!mine.iter().any(|a| a.kind == AlertKind::Expiring));
                        }
                        prop_assert_eq!(has(AlertKind::Renewed, false), renewed
                            && rule.notify_renewed()
                            && previous.and_then(|prev| prev.rules.get(rule.name()))
                                .is_some_and(|progress| progress.alerted));
                        if status_changed {
                            // Reported once: as a status change or by the expired alert.
                            prop_assert!(
                                has(AlertKind::StatusChanged, false) != has(AlertKind::Expired, false),
                                "status change reported {:?}", mine
                            );
                        } else {
                            prop_assert!(!has(AlertKind::StatusChanged, false));
                        }
                        // After a renewal the stages are open again: the current stage is sent.
                        if renewed {
                            if expired {
                                prop_assert!(has(AlertKind::Expired, false));
                            } else if let Some(stage) = rule.stage(remain) {
                                prop_assert!(mine.iter().any(|a| a.kind == AlertKind::Expiring
                                    && !a.reminder && a.threshold == Some(stage)));
                            }
                        }
                        let vanished = mine.iter().filter(|a| a.kind == AlertKind::Vanished).count();
                        let missed = missing_since_seen.entry(rule.name().to_string()).or_default();
                        if missing {
                            *missed += 1;
                            prop_assert_eq!(vanished, usize::from(*missed == 1));
                        } else {
                            *missed = 0;
                            prop_assert_eq!(vanished, 0);
                        }
                        prop_assert!(mine.iter().filter(|a| a.reminder).count() <= 1);

                        let log = logs.entry((rule.name().to_string(), epoch)).or_default();
                        for alert in mine.iter().filter(|a| !a.reminder) {
                            match alert.kind {
                                AlertKind::Expiring => {
                                    let t = alert.threshold.expect("expiring has a threshold");
                                    // Never twice for a stage, never a less urgent one, never
                                    // after expired.
                                    prop_assert!(log.thresholds.iter().all(|sent| t < *sent),
                                        "stage {} after {:?}", t, log.thresholds);
                                    prop_assert!(log.expired_statuses.is_empty());
                                    log.thresholds.push(t);
                                }
                                AlertKind::Expired => {
                                    let s = alert.package_status;
                                    prop_assert!(!log.expired_statuses.contains(&s),
                                        "expired twice for {:?}", s);
                                    prop_assert!(log.expired_statuses.is_empty()
                                        || is_expired_status(s));
                                    log.expired_statuses.push(s);
                                }
                                _ => {}
                            }
                        }
                    }
                    state = Some(evaluation.state);
                }
            }
        }
    }
}
