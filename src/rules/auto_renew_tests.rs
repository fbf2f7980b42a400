//! Auto-renewing items (`[[rules]] auto_renew`), `auto_renew_failed`, `auto_renew_at_risk`
//! and `[[rules]] sources`, at fixed instants.

use super::*;
use crate::model::{
    Alert, AlertKind, AutoRenewMode, Item, ItemDetails, PackageStatus, PollErrorInfo, RenewalFunds,
    Scope, Severity, SourceKind, EXPIRE_POLICY_AUTO_RENEW,
};
use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use std::str::FromStr;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("valid time")
        .with_timezone(&Utc)
}

/// The end of 2026-12-08 in GMT+08:00, as the billing API writes it.
const END: &str = "2026-12-08T15:59:59Z";

fn rule(name: &str, mode: AutoRenewMode) -> RuleDefinition {
    RuleDefinition {
        auto_renew: mode,
        ..super::tests::rule(name, &[30, 14, 7, 3, 1, 0])
    }
}

fn rules(definitions: &[RuleDefinition]) -> RuleSet {
    RuleSet::compile(definitions).expect("rules compile")
}

/// A billing resource ending at `end`, seen at `now`, with `expire_policy` `policy`.
fn resource(id: &str, end: &str, policy: i64, status: i64, now: DateTime<Utc>) -> Item {
    let end = utc(end);
    Item {
        scope: Scope::subscriptions("prod"),
        key: "hws.resource.type.rds".into(),
        resource_id: id.into(),
        service_type: Some("hws.service.type.rds".into()),
        status: Some(PackageStatus::from(status)),
        remain_days: crate::model::remain_days_until(end, now).expect("in range"),
        next_action_url: Some("https://account.huaweicloud.com/renew".into()),
        details: Some(Box::new(ItemDetails {
            name: Some(format!("db-{id}")),
            expire_time: Some(end),
            expire_policy: Some(policy),
            ..ItemDetails::default()
        })),
    }
}

fn auto(end: &str, status: i64, now: DateTime<Utc>) -> Item {
    resource("r1", end, EXPIRE_POLICY_AUTO_RENEW, status, now)
}

/// Drives one item through observations at given instants.
struct Sim {
    rules: RuleSet,
    state: Option<ItemState>,
}

impl Sim {
    fn new(definitions: &[RuleDefinition]) -> Sim {
        Sim {
            rules: rules(definitions),
            state: None,
        }
    }

    fn see(&mut self, item: &Item, now: DateTime<Utc>) -> Vec<Alert> {
        let evaluation = evaluate(
            &self.rules,
            self.state.as_ref(),
            Observation::Seen(item),
            now,
        )
        .expect("seen");
        self.state = Some(evaluation.state);
        evaluation.alerts
    }
}

fn kinds(alerts: &[Alert]) -> Vec<AlertKind> {
    alerts.iter().map(|a| a.kind).collect()
}

#[test]
fn a_term_that_ends_without_moving_is_one_auto_renew_failed_not_expired() {
    let mut sim = Sim::new(&[rule("r", AutoRenewMode::Quiet)]);
    // Quiet: no `expiring` on the way, not even on the last day.
    for now in [
        "2026-11-01T01:00:00Z",
        "2026-12-01T01:00:00Z",
        "2026-12-07T01:00:00Z",
        "2026-12-08T01:00:00Z",
        // The last second of the term: not over yet.
        END,
    ] {
        let now = utc(now);
        assert_eq!(sim.see(&auto(END, 2, now), now), vec![], "at {now}");
    }
    // One second later the term is over and the expiry did not move.
    let now = utc("2026-12-08T16:00:00Z");
    let alerts = sim.see(&auto(END, 2, now), now);
    assert_eq!(kinds(&alerts), [AlertKind::AutoRenewFailed]);
    let failed = &alerts[0];
    assert_eq!(failed.severity, Severity::Critical);
    assert_eq!(failed.remain_days, Some(-1));
    assert!(failed.summary.contains("did not"), "{}", failed.summary);
    assert!(failed.summary.contains("2026-12-08 15:59:59 UTC"));
    // Once: the next polls say nothing more while nothing changes.
    for now in ["2026-12-09T01:00:00Z", "2026-12-10T01:00:00Z"] {
        let now = utc(now);
        assert_eq!(sim.see(&auto(END, 2, now), now), vec![]);
    }
    // The billing API then marks it expired: news of its own, once.
    let now = utc("2026-12-11T01:00:00Z");
    assert_eq!(
        kinds(&sim.see(&auto(END, 5, now), now)),
        [AlertKind::Expired]
    );
    let now = utc("2026-12-12T01:00:00Z");
    assert_eq!(sim.see(&auto(END, 5, now), now), vec![]);
    // Renewed by hand: the term moves, and after an alert a `renewed` notice goes out (with
    // the status back in use, as for any item).
    let now = utc("2026-12-13T01:00:00Z");
    let renewed = sim.see(&auto("2027-01-13T15:59:59Z", 2, now), now);
    assert_eq!(
        kinds(&renewed),
        [AlertKind::Renewed, AlertKind::StatusChanged]
    );
}

/// `json` reads back as `alert`, all but its receivers (not part of the wire format).
fn assert_reads_back(json: serde_json::Value, alert: &Alert) {
    let back: Alert = serde_json::from_value(json).expect("reads back");
    assert_eq!(
        Alert {
            receivers: alert.receivers.clone(),
            ..back
        },
        *alert
    );
}

#[test]
fn alerts_about_a_billing_resource_carry_its_facts() {
    let mut sim = Sim::new(&[rule("r", AutoRenewMode::Notify)]);
    let now = utc("2026-12-02T01:00:00Z");
    let mut item = resource("r1", END, 0, 2, now);
    let details = item.details.as_mut().expect("details");
    details.region = Some("cn-north-4".into());
    details.service_type_name = Some("Relational Database Service".into());
    details.resource_type_name = Some("RDS DB instance".into());
    details.spec = Some("rds.mysql.n1.large.2.ha".into());
    let alerts = sim.see(&item, now);
    assert_eq!(kinds(&alerts), [AlertKind::Expiring]);
    let facts = &alerts[0].resource;
    assert_eq!(facts.resource_name.as_deref(), Some("db-r1"));
    assert_eq!(facts.region.as_deref(), Some("cn-north-4"));
    assert_eq!(
        facts.service_type_name.as_deref(),
        Some("Relational Database Service")
    );
    assert_eq!(facts.resource_type_name.as_deref(), Some("RDS DB instance"));
    assert_eq!(
        facts.resource_spec_code.as_deref(),
        Some("rds.mysql.n1.large.2.ha")
    );
    assert_eq!(facts.expire_time, Some(utc(END)));
    assert_eq!(facts.auto_renew, Some(false));
    // In renewd's JSON: flat beside the other fields, and read back as they were.
    let json = serde_json::to_value(&alerts[0]).expect("serialises");
    assert_eq!(json["source"], "subscriptions");
    assert_eq!(json["resource_name"], "db-r1");
    assert_eq!(json["expire_time"], "2026-12-08T15:59:59Z");
    assert_eq!(json["auto_renew"], false);
    assert_reads_back(json, &alerts[0]);
    // An item that renews itself says so.
    let mut sim = Sim::new(&[rule("r", AutoRenewMode::Notify)]);
    let alerts = sim.see(&auto(END, 2, now), now);
    assert_eq!(alerts[0].resource.auto_renew, Some(true));
}

#[test]
fn a_codearts_alert_carries_no_resource_facts() {
    let mut item = resource("r1", END, 0, 2, utc("2026-12-02T01:00:00Z"));
    item.scope = Scope::packages("prod", None);
    item.details = None;
    let now = utc("2026-12-02T01:00:00Z");
    let alerts = Sim::new(&[rule("r", AutoRenewMode::Notify)]).see(&item, now);
    assert_eq!(alerts[0].resource, crate::model::ResourceFacts::default());
    let json = serde_json::to_value(&alerts[0]).expect("serialises");
    let keys: Vec<&str> = json
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    for absent in [
        "source",
        "resource_name",
        "service_type_name",
        "resource_type_name",
        "resource_spec_code",
        "region",
        "expire_time",
        "auto_renew",
    ] {
        assert!(!keys.contains(&absent), "{absent} in {keys:?}");
    }
    assert_reads_back(json, &alerts[0]);
}

#[test]
fn the_failure_and_the_status_change_seen_at_once_are_one_alert() {
    let mut sim = Sim::new(&[rule("r", AutoRenewMode::Quiet)]);
    let now = utc("2026-12-05T01:00:00Z");
    assert_eq!(sim.see(&auto(END, 2, now), now), vec![]);
    let now = utc("2026-12-09T01:00:00Z");
    let alerts = sim.see(&auto(END, 5, now), now);
    assert_eq!(kinds(&alerts), [AlertKind::AutoRenewFailed]);
}

#[test]
fn an_auto_renewal_that_happens_says_nothing() {
    let mut sim = Sim::new(&[rule("r", AutoRenewMode::Quiet)]);
    let now = utc("2026-12-08T01:00:00Z");
    assert_eq!(sim.see(&auto(END, 2, now), now), vec![]);
    let now = utc("2026-12-09T01:00:00Z");
    assert_eq!(sim.see(&auto("2027-01-08T15:59:59Z", 2, now), now), vec![]);
    assert_eq!(sim.state.as_ref().unwrap().epoch, 1, "a new term");
}

#[test]
fn quiet_keeps_statuses_and_expiry_by_status() {
    let mut sim = Sim::new(&[rule("r", AutoRenewMode::Quiet)]);
    let now = utc("2026-12-03T01:00:00Z");
    assert_eq!(sim.see(&auto(END, 2, now), now), vec![]);
    // A status renewd cannot name: reported once.
    let now = utc("2026-12-04T01:00:00Z");
    let alerts = sim.see(&auto(END, 9, now), now);
    assert_eq!(kinds(&alerts), [AlertKind::StatusChanged]);
    // Frozen before the end of its term: expired by status, as any item.
    let now = utc("2026-12-05T01:00:00Z");
    let alerts = sim.see(&auto(END, 4, now), now);
    assert_eq!(kinds(&alerts), [AlertKind::Expired]);
    assert_eq!(alerts[0].severity, Severity::Critical);
}

#[test]
fn turning_auto_renewal_off_brings_the_stage_alert_at_once() {
    let mut sim = Sim::new(&[rule("r", AutoRenewMode::Quiet)]);
    let now = utc("2026-12-01T01:00:00Z");
    assert_eq!(sim.see(&auto(END, 2, now), now), vec![]);
    let now = utc("2026-12-03T01:00:00Z");
    let off = resource("r1", END, 0, 2, now);
    let alerts = sim.see(&off, now);
    assert_eq!(kinds(&alerts), [AlertKind::Expiring]);
    assert_eq!(alerts[0].threshold, Some(7));
    assert_eq!(alerts[0].remain_days, Some(5));
}

#[test]
fn notify_alerts_like_any_item_until_the_term_ends() {
    let mut sim = Sim::new(&[rule("r", AutoRenewMode::Notify)]);
    let now = utc("2026-12-01T01:00:00Z");
    let alerts = sim.see(&auto(END, 2, now), now);
    assert_eq!(kinds(&alerts), [AlertKind::Expiring]);
    assert_eq!(alerts[0].threshold, Some(7));
    // The last day is the stage 0, not `expired`: the term is not over.
    let now = utc("2026-12-08T01:00:00Z");
    let alerts = sim.see(&auto(END, 2, now), now);
    assert_eq!(kinds(&alerts), [AlertKind::Expiring]);
    assert_eq!(alerts[0].threshold, Some(0));
    let now = utc("2026-12-09T01:00:00Z");
    assert_eq!(
        kinds(&sim.see(&auto(END, 2, now), now)),
        [AlertKind::AutoRenewFailed]
    );
}

#[test]
fn ignore_says_nothing_at_all_of_auto_renewing_items() {
    let mut sim = Sim::new(&[
        rule("ignoring", AutoRenewMode::Ignore),
        rule("quiet", AutoRenewMode::Quiet),
    ]);
    let now = utc("2026-12-01T01:00:00Z");
    assert_eq!(sim.see(&auto(END, 2, now), now), vec![]);
    let now = utc("2026-12-04T01:00:00Z");
    let changed = sim.see(&auto(END, 9, now), now);
    assert_eq!(kinds(&changed), [AlertKind::StatusChanged]);
    assert_eq!(changed[0].receivers, ["quiet-receiver"]);
    let now = utc("2026-12-09T01:00:00Z");
    let failed = sim.see(&auto(END, 2, now), now);
    assert_eq!(kinds(&failed), [AlertKind::AutoRenewFailed]);
    assert_eq!(failed[0].rule, "quiet");
    assert!(!sim.state.as_ref().unwrap().rules.contains_key("ignoring"));
    // An item that does not renew itself is seen by the ignoring rule as by any.
    let mut sim = Sim::new(&[rule("ignoring", AutoRenewMode::Ignore)]);
    let now = utc("2026-12-01T01:00:00Z");
    let alerts = sim.see(&resource("r1", END, 0, 2, now), now);
    assert_eq!(kinds(&alerts), [AlertKind::Expiring]);
}

#[test]
fn codearts_packages_never_auto_renew() {
    let package = Item {
        scope: Scope::packages("prod", None),
        key: "codeartsStorageExtension".into(),
        resource_id: "p".into(),
        service_type: None,
        status: Some(PackageStatus::Active),
        remain_days: 0,
        next_action_url: None,
        details: None,
    };
    assert!(!package.auto_renews());
    let mut sim = Sim::new(&[rule("r", AutoRenewMode::Ignore)]);
    // Day 0 of a package is `expired`, as it always was.
    let now = utc("2026-12-08T01:00:00Z");
    assert_eq!(kinds(&sim.see(&package, now)), [AlertKind::Expired]);
}

#[test]
fn sources_limit_what_a_rule_sees() {
    let only_packages = RuleDefinition {
        sources: vec![SourceKind::Packages],
        ..rule("codearts", AutoRenewMode::Quiet)
    };
    let only_billing = RuleDefinition {
        sources: vec![SourceKind::Subscriptions],
        ..rule("billing", AutoRenewMode::Quiet)
    };
    let set = rules(&[only_packages, only_billing]);
    let now = utc("2026-12-01T01:00:00Z");
    let item = resource("r1", END, 0, 2, now);
    let alerts = evaluate(&set, None, Observation::Seen(&item), now)
        .unwrap()
        .alerts;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].rule, "billing");
    // poll_failed of the billing scope goes to the billing rule only.
    let error = PollErrorInfo {
        error_msg: "down".into(),
        ..PollErrorInfo::default()
    };
    let health = evaluate_poll(
        &set,
        &Scope::subscriptions("prod"),
        None,
        Err(&error),
        1,
        now,
    );
    assert_eq!(health.alerts.len(), 1);
    assert_eq!(health.alerts[0].receivers, ["billing-receiver"]);
    let health = evaluate_poll(
        &set,
        &Scope::packages("prod", None),
        None,
        Err(&error),
        1,
        now,
    );
    assert_eq!(health.alerts[0].receivers, ["codearts-receiver"]);
}

// --- auto_renew_at_risk -----------------------------------------------------------------

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).expect("decimal")
}

fn funds(prices: &[(&str, &str)], balance: &str) -> RenewalFunds {
    RenewalFunds {
        currency: "CNY".into(),
        prices: prices
            .iter()
            .map(|(id, p)| (id.to_string(), dec(p)))
            .collect(),
        unpriced: vec![],
        balance: dec(balance),
    }
}

/// One account's funds checks, one after the other.
struct Funds {
    rules: RuleSet,
    state: Option<FundsAtRisk>,
}

impl Funds {
    fn new(definitions: &[RuleDefinition]) -> Funds {
        Funds {
            rules: rules(definitions),
            state: None,
        }
    }

    fn check(&mut self, items: &[Item], funds: &RenewalFunds, now: DateTime<Utc>) -> Vec<Alert> {
        let evaluation = evaluate_funds(
            &self.rules,
            &Scope::subscriptions("prod"),
            items,
            7,
            funds,
            self.state.as_ref(),
            now,
        );
        self.state = evaluation.state;
        evaluation.alerts
    }
}

#[test]
fn a_short_balance_warns_once_then_is_critical_once_within_a_day() {
    let mut check = Funds::new(&[
        rule("a", AutoRenewMode::Quiet),
        rule("b", AutoRenewMode::Quiet),
    ]);
    let short = funds(&[("r1", "532.00")], "128.45");
    // More than 7 days ahead: not yet asked about (nothing renews soon).
    let now = utc("2026-11-30T01:00:00Z");
    assert_eq!(check.check(&[auto(END, 2, now)], &short, now), vec![]);
    assert_eq!(check.state, None);
    let now = utc("2026-12-01T01:00:00Z");
    let alerts = check.check(&[auto(END, 2, now)], &short, now);
    assert_eq!(alerts.len(), 1, "one decision for both rules: {alerts:#?}");
    let warning = &alerts[0];
    assert_eq!(warning.kind, AlertKind::AutoRenewAtRisk);
    assert_eq!(warning.severity, Severity::Warning);
    assert_eq!(warning.receivers, ["a-receiver", "b-receiver"]);
    assert_eq!(warning.source, SourceKind::Subscriptions);
    assert_eq!(warning.remain_days, Some(7));
    for part in ["128.45 CNY", "532.00 CNY", "db-r1", "r1", "1 resource"] {
        assert!(
            warning.summary.contains(part),
            "{part}: {}",
            warning.summary
        );
    }
    // Once per step: the next days say nothing.
    for now in ["2026-12-02T01:00:00Z", "2026-12-06T01:00:00Z"] {
        let now = utc(now);
        assert_eq!(check.check(&[auto(END, 2, now)], &short, now), vec![]);
    }
    // One day left: critical, once.
    let now = utc("2026-12-07T01:00:00Z");
    let alerts = check.check(&[auto(END, 2, now)], &short, now);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].severity, Severity::Critical);
    assert_ne!(alerts[0].id, warning.id);
    let now = utc("2026-12-08T01:00:00Z");
    assert_eq!(check.check(&[auto(END, 2, now)], &short, now), vec![]);
}

#[test]
fn a_balance_that_covers_the_sum_says_nothing_and_ends_the_episode() {
    let mut check = Funds::new(&[rule("a", AutoRenewMode::Quiet)]);
    let now = utc("2026-12-03T01:00:00Z");
    let items = [auto(END, 2, now)];
    assert_eq!(
        check.check(&items, &funds(&[("r1", "100")], "100.00"), now),
        vec![]
    );
    assert_eq!(check.state, None);
    let first = check.check(&items, &funds(&[("r1", "100")], "99.99"), now);
    assert_eq!(first.len(), 1);
    // Topped up, then short again: a new episode, a new decision.
    let later = now + TimeDelta::days(1);
    let items = [auto(END, 2, later)];
    assert_eq!(
        check.check(&items, &funds(&[("r1", "100")], "500"), later),
        vec![]
    );
    let again = check.check(&items, &funds(&[("r1", "100")], "1"), later);
    assert_eq!(again.len(), 1);
    assert_ne!(again[0].id, first[0].id);
}

#[test]
fn nothing_priced_is_an_unknown_sum_not_a_covered_one() {
    let mut check = Funds::new(&[rule("a", AutoRenewMode::Quiet)]);
    let now = utc("2026-12-03T01:00:00Z");
    let items = [auto(END, 2, now)];
    let first = check.check(&items, &funds(&[("r1", "100")], "1"), now);
    assert_eq!(first.len(), 1);
    let episode = check.state.clone();
    assert!(episode.is_some());
    // The price inquiry priced nothing: the episode is neither ended nor told again.
    let mut unpriced = funds(&[], "1");
    unpriced.unpriced = vec!["r1".into()];
    assert_eq!(check.check(&items, &unpriced, now), vec![]);
    assert_eq!(check.state, episode);
    // Priced again and still short: the same step, nothing new.
    assert_eq!(
        check.check(&items, &funds(&[("r1", "100")], "1"), now),
        vec![]
    );
}

#[test]
fn money_is_compared_as_decimals() {
    // In floating point 0.1 + 0.2 > 0.3 and this balance would look short.
    assert!(std::hint::black_box(0.1_f64) + 0.2 > 0.3);
    let mut check = Funds::new(&[rule("a", AutoRenewMode::Quiet)]);
    let now = utc("2026-12-03T01:00:00Z");
    let items = [
        auto(END, 2, now),
        resource("r2", END, EXPIRE_POLICY_AUTO_RENEW, 2, now),
    ];
    let exact = funds(&[("r1", "0.1"), ("r2", "0.2")], "0.3");
    assert_eq!(exact.total(), dec("0.3"));
    assert_eq!(check.check(&items, &exact, now), vec![]);
    let short = funds(&[("r1", "0.1"), ("r2", "0.2")], "0.29");
    let alerts = check.check(&items, &short, now);
    assert_eq!(alerts.len(), 1);
    assert!(
        alerts[0].summary.contains("0.3 CNY"),
        "{}",
        alerts[0].summary
    );
    assert!(alerts[0].summary.contains("2 resources"));
}

#[test]
fn a_resource_joining_the_shortfall_is_named_once() {
    let mut check = Funds::new(&[rule("a", AutoRenewMode::Quiet)]);
    let later_end = "2026-12-10T15:59:59Z";
    let short = funds(&[("r1", "50"), ("r2", "50")], "10");
    let now = utc("2026-12-02T01:00:00Z");
    // r2 ends in 8 days: outside the window.
    let items = [
        auto(END, 2, now),
        resource("r2", later_end, EXPIRE_POLICY_AUTO_RENEW, 2, now),
    ];
    let first = check.check(&items, &short, now);
    assert_eq!(first.len(), 1);
    assert!(!first[0].summary.contains("db-r2"));
    let now = utc("2026-12-03T01:00:00Z");
    let items = [
        auto(END, 2, now),
        resource("r2", later_end, EXPIRE_POLICY_AUTO_RENEW, 2, now),
    ];
    let joined = check.check(&items, &short, now);
    assert_eq!(joined.len(), 1);
    assert!(joined[0].summary.contains("db-r2"));
    assert_ne!(joined[0].id, first[0].id);
    assert_eq!(
        check.check(&items, &short, now),
        vec![],
        "same again: nothing"
    );
}

#[test]
fn decision_ids_of_a_shortfall_are_stable() {
    let definitions = [rule("a", AutoRenewMode::Quiet)];
    let now = utc("2026-12-03T01:00:00Z");
    let items = [auto(END, 2, now)];
    let short = funds(&[("r1", "50")], "10");
    let one = Funds::new(&definitions).check(&items, &short, now);
    let two = Funds::new(&definitions).check(&items, &short, now);
    assert_eq!(one[0].id, two[0].id);
    // Pinned: an id, once given, never changes.
    assert_eq!(one[0].id.len(), 32);
}

#[test]
fn only_what_renews_itself_soon_is_priced() {
    let set = rules(&[rule("a", AutoRenewMode::Quiet)]);
    let now = utc("2026-12-03T01:00:00Z");
    let mut attached = resource("disk", END, EXPIRE_POLICY_AUTO_RENEW, 2, now);
    attached.details.as_mut().unwrap().attached_to = Some("r1".into());
    let items = [
        auto(END, 2, now),
        // Not auto-renewing, beyond the window, over, expired by status, attached.
        resource("manual", END, 0, 2, now),
        resource(
            "far",
            "2026-12-20T15:59:59Z",
            EXPIRE_POLICY_AUTO_RENEW,
            2,
            now,
        ),
        resource(
            "over",
            "2026-12-02T15:59:59Z",
            EXPIRE_POLICY_AUTO_RENEW,
            2,
            now,
        ),
        resource("frozen", END, EXPIRE_POLICY_AUTO_RENEW, 4, now),
        attached,
    ];
    assert_eq!(funds_check_ids(&set, &items, 7, now), ["r1"]);
    // No rule hears of auto-renewing items: nothing is asked.
    let ignoring = rules(&[rule("i", AutoRenewMode::Ignore)]);
    assert!(funds_check_ids(&ignoring, &items, 7, now).is_empty());
    let other_account = rules(&[RuleDefinition {
        accounts: vec!["test".into()],
        ..rule("t", AutoRenewMode::Quiet)
    }]);
    assert!(funds_check_ids(&other_account, &items, 7, now).is_empty());
}
