use super::packages::is_expired;
use super::*;
use crate::model::{Alert, AlertKind, Item, PollErrorInfo, Scope, Severity};
use chrono::TimeZone;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::HashSet;
use std::time::Duration;

const PROJECT: &str = "666666af0f00445f85dec483fbc97c78";

/// A rule matching everything, to `<name>-receiver` (the other rules test modules build on it).
pub(super) fn rule(name: &str, thresholds: &[i64]) -> RuleDefinition {
    RuleDefinition {
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
        sources: vec![],
        auto_renew: Default::default(),
    }
}

fn default_rule() -> RuleDefinition {
    rule("default", &[30, 14, 7, 3, 1, 0])
}

fn rules(configs: &[RuleDefinition]) -> RuleSet {
    RuleSet::compile(configs).expect("rules compile")
}

fn scope(account: &str, project: Option<&str>) -> Scope {
    Scope {
        account: account.to_string(),
        project_id: project.map(str::to_string),
        source: Default::default(),
    }
}

fn package(remain_days: i64, status: Option<i64>) -> Item {
    Item {
        scope: scope("prod", Some(PROJECT)),
        key: "codeartsStorageExtension".to_string(),
        resource_id: "7590809a5c9d42ae92b49b1190e94666".to_string(),
        service_type: Some("hws.resource.type.codearts.extension.storage".to_string()),
        status: status.map(crate::model::PackageStatus::from),
        remain_days,
        next_action_url: Some("https://account.huaweicloud.com/renew".to_string()),
        details: None,
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
    state: Option<ItemState>,
    now: DateTime<Utc>,
}

impl Sim {
    fn new(configs: &[RuleDefinition]) -> Sim {
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

    fn state(&self) -> &ItemState {
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

fn repeat_rule(below: i64, every_hours: u64) -> RuleDefinition {
    RuleDefinition {
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
    let mut sim = Sim::new(&[RuleDefinition {
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
    let mut sim = Sim::new(&[RuleDefinition {
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
    assert_eq!(sim.state().last.status_code(), Some(7));
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
    let shared = RuleDefinition {
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
    let mut sim = Sim::new(&[RuleDefinition {
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
    let mut sim = Sim::new(&[RuleDefinition {
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
    let mut sim = Sim::new(&[RuleDefinition {
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
        RuleDefinition {
            accounts: vec!["prod*".into()],
            ..rule("prod", &[30])
        },
        RuleDefinition {
            accounts: vec!["staging".into()],
            ..rule("staging", &[30])
        },
        RuleDefinition {
            projects: vec!["".into()],
            ..rule("account-level", &[30])
        },
        RuleDefinition {
            projects: vec!["666666*".into()],
            ..rule("project", &[30])
        },
        RuleDefinition {
            packages: vec!["*Storage*".into()],
            ..rule("storage", &[30])
        },
        RuleDefinition {
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

    let account_level = Item {
        scope: scope("staging", None),
        key: "codeartsTrafficExtension".into(),
        ..package(10, Some(2))
    };
    let evaluation = evaluate(&rules, None, Observation::Seen(&account_level), t0()).expect("seen");
    let matched: Vec<_> = evaluation.alerts.iter().map(|a| a.rule.as_str()).collect();
    assert_eq!(matched, vec!["staging", "account-level", "traffic", "all"]);
    assert!(evaluation.alerts.iter().all(|a| a.project_id.is_none()));
}

#[test]
fn a_package_matched_by_no_rule_is_still_tracked() {
    let rules = rules(&[RuleDefinition {
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
        RuleDefinition {
            packages: vec!["nothing-matches-this".into()],
            ..rule("any-package", &[30])
        },
        RuleDefinition {
            projects: vec!["".into()],
            ..rule("account-level", &[30])
        },
        RuleDefinition {
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
    let err = RuleSet::compile(&[
        default_rule(),
        RuleDefinition {
            packages: vec!["ok*".into(), "a[".into()],
            ..default_rule()
        },
    ])
    .expect_err("invalid glob");
    assert_eq!(err.len(), 1, "{err:?}");
    let (rule, error) = &err[0];
    assert_eq!(*rule, 1);
    assert_eq!(error.field(), ("packages", Some(1)));
    assert!(error.to_string().contains("\"a[\""), "{error}");
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
    let q = Item {
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
    let state: ItemState = serde_json::from_value(json).expect("old row loads");
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
    fn new(configs: &[RuleDefinition]) -> Poller {
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
        RuleDefinition {
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
    let rules = rules(&[RuleDefinition {
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

    fn rule_config() -> impl Strategy<Value = RuleDefinition> {
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
            .prop_map(
                |(thresholds, repeat, notify_renewed, severity)| RuleDefinition {
                    thresholds,
                    repeat_below: repeat.map(|(below, _)| below),
                    repeat_every: repeat.map(|(_, hours)| Duration::from_secs(hours * 3600)),
                    notify_renewed,
                    severity,
                    ..rule("placeholder", &[])
                },
            )
    }

    fn rule_set() -> impl Strategy<Value = Vec<RuleDefinition>> {
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

    fn expected_renewal(previous: &Item, current: &Item) -> bool {
        let rise = current.remain_days - previous.remain_days;
        rise >= 2
            || (rise == 1
                && oracle_expired_status(previous.status_code())
                && current.status_code() == Some(2))
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
            let mut state: Option<ItemState> = None;
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
                    && previous.is_some_and(|prev| prev.last.status_code() != current_status);
                let expired = !missing && is_expired(&p);
                if !missing {
                    // Unknown statuses are kept as they came.
                    prop_assert_eq!(evaluation.state.last.status_code(), current_status);
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
                                    || oracle_expired_status(s));
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

/// The oracle's own list of expired statuses (grace, retention, deleted, frozen), written out
/// rather than taken from the model it checks.
fn oracle_expired_status(status: Option<i64>) -> bool {
    matches!(status, Some(3) | Some(4) | Some(5) | Some(99))
}

// --- decision ids: a corpus frozen from the string-built ids -------------------------------

/// Ids computed before the decision key was typed, for the scenarios of
/// [`decision_id_corpus`]. A decision id must never change: receivers de-duplicate on it, and
/// the state store skips a decision whose id it has recorded. Regenerate only for new
/// scenarios: `RENEWD_PRINT_IDS=1 cargo test --lib decision_ids -- --nocapture --quiet`
/// prints the corpus (its lines start with the scenario name), and check that the lines
/// already there did not change.
const DECISION_ID_CORPUS: &str = include_str!("testdata/decision_ids.txt");

/// Every kind of decision the engine makes, each with its own detail: stages, reminders,
/// expired per status, status changes, renewals, vanishing twice, rules that share a kind,
/// and poll health episodes. One line per decision: `scenario kind rule id`.
fn decision_id_corpus() -> Vec<String> {
    let mut lines = Vec::new();
    let mut record = |scenario: &str, alerts: Vec<Alert>| {
        for a in alerts {
            lines.push(format!("{scenario} {} {} {}", a.kind, a.rule, a.id));
        }
    };
    let repeat_everything = RuleDefinition {
        repeat_expired_every: Some(Duration::from_secs(12 * 3600)),
        ..repeat_rule(7, 20)
    };
    let rule_sets: Vec<(&str, Vec<RuleDefinition>)> = vec![
        ("default", vec![default_rule()]),
        ("repeat", vec![repeat_everything]),
        ("two-rules", vec![default_rule(), rule("second", &[10, 2])]),
    ];
    for (name, configs) in &rule_sets {
        let mut sim = Sim::new(configs);
        let steps: Vec<(i64, Option<i64>)> = vec![
            (40, Some(2)),
            (20, Some(2)),
            (5, Some(2)),
            (5, Some(2)),
            (4, Some(2)),
            (1, Some(2)),
            (0, Some(2)),
            (0, Some(5)),
            (-3, Some(4)),
            (-3, Some(5)),
            (-4, Some(99)),
            (-5, Some(3)),
            (-5, Some(7)),
            (-5, None),
            (365, Some(2)),
            (364, Some(1)),
            (2, Some(2)),
        ];
        for (i, (days, status)) in steps.into_iter().enumerate() {
            record(&format!("{name}/{i}"), sim.see(days, status));
        }
        record(&format!("{name}/missing"), sim.missing());
        record(&format!("{name}/back"), sim.active(1));
        record(&format!("{name}/missing-again"), sim.missing());
        // Poll health: two episodes of failures, each with its recovery.
        let set = rules(configs);
        let scope = scope("prod", Some(PROJECT));
        let error = PollErrorInfo {
            http_status: Some(503),
            error_code: Some("APIG.0301".into()),
            error_msg: "unavailable".into(),
            request_id: None,
            consecutive_failures: 0,
        };
        let mut health: Option<PollHealth> = None;
        let mut now = t0();
        for (i, ok) in [false, false, false, true, false, false, false, false, true]
            .into_iter()
            .enumerate()
        {
            now += TimeDelta::hours(6);
            let outcome = if ok { Ok(()) } else { Err(&error) };
            let evaluation = evaluate_poll(&set, &scope, health.as_ref(), outcome, 3, now);
            record(&format!("{name}/poll{i}"), evaluation.alerts);
            health = Some(evaluation.health);
        }
        let account_scope = self::scope("prod", None);
        let evaluation = evaluate_poll(&set, &account_scope, None, Err(&error), 1, now);
        record(&format!("{name}/account-poll"), evaluation.alerts);
    }
    lines
}

#[test]
fn decision_ids_are_those_of_the_frozen_corpus() {
    let lines = decision_id_corpus();
    let text = lines.join("\n") + "\n";
    if std::env::var_os("RENEWD_PRINT_IDS").is_some() {
        print!("{text}");
    }
    let kinds: HashSet<&str> = lines.iter().filter_map(|l| l.split(' ').nth(1)).collect();
    for kind in [
        "expiring",
        "expired",
        "renewed",
        "status_changed",
        "vanished",
        "poll_failed",
        "poll_recovered",
    ] {
        assert!(kinds.contains(kind), "the corpus has no {kind} decision");
    }
    assert!(lines.len() > 60, "a corpus of {} decisions", lines.len());
    for (i, (now, frozen)) in lines.iter().zip(DECISION_ID_CORPUS.lines()).enumerate() {
        assert_eq!(now, frozen, "decision {i} of the corpus");
    }
    assert_eq!(lines.len(), DECISION_ID_CORPUS.lines().count());
}
