//! The state store against real SQLite files in temporary directories: what a cycle records is
//! read back by a new store (as by a new process), a failing cycle leaves nothing, the outbox
//! state machine, readers alongside a writer, and refusal of files it must not touch.

use chrono::{DateTime, Duration, Utc};
use renewd::model::{
    Alert, AlertKind, Item, ItemId, PackageStatus, PollErrorInfo, Scope, Severity,
};
use renewd::notify::outbox::tell_once;
use renewd::rules::{ItemState, PollHealth, RuleProgress};
use renewd::state::{
    CycleBatch, CycleRecord, DeliveryId, DeliveryStatus, NewDelivery, OutboxCounts, StateError,
    StateStore, QUIET_CYCLE_RETENTION, SCHEMA_VERSION,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const PROJECT: &str = "666666af0f00445f85dec483fbc97c78";
const FROZEN_V1: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/state/v1.db");

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test timestamp")
        .with_timezone(&Utc)
}

fn project_scope() -> Scope {
    Scope {
        account: "prod".to_string(),
        project_id: Some(PROJECT.to_string()),
        source: Default::default(),
    }
}

fn account_scope() -> Scope {
    Scope {
        account: "prod".to_string(),
        project_id: None,
        source: Default::default(),
    }
}

fn package(scope: &Scope, key: &str, resource_id: &str, remain_days: i64) -> Item {
    Item {
        scope: scope.clone(),
        key: key.to_string(),
        resource_id: resource_id.to_string(),
        service_type: Some("hws.resource.type.codearts.extension.storage".to_string()),
        status: Some(PackageStatus::Active),
        remain_days,
        next_action_url: Some("https://account.huaweicloud.com/renew?id=1".to_string()),
        details: None,
    }
}

fn state_of(package: Item, at: DateTime<Utc>, notified: Option<i64>) -> (ItemId, ItemState) {
    let mut rules = BTreeMap::new();
    rules.insert(
        "default".to_string(),
        RuleProgress {
            notified_threshold: notified,
            alerted: notified.is_some(),
            last_alert_at: notified.map(|_| at),
            ..RuleProgress::default()
        },
    );
    (
        package.identity(),
        ItemState {
            last: package,
            epoch: 0,
            vanished: false,
            first_seen: at - Duration::days(3),
            last_seen: at,
            rules,
        },
    )
}

fn alert(id: &str, p: &Item, threshold: i64, at: DateTime<Utc>) -> Alert {
    Alert {
        id: id.to_string(),
        kind: AlertKind::Expiring,
        severity: Severity::for_remain_days(p.remain_days),
        rule: "default".to_string(),
        account: p.scope.account.clone(),
        project_id: p.scope.project_id.clone(),
        source: Default::default(),
        package: Some(p.key.clone()),
        resource_id: Some(p.resource_id.clone()),
        service_type: p.service_type.clone(),
        package_status: p.status_code(),
        resource: Default::default(),
        package_status_name: Some("active".to_string()),
        remain_days: Some(p.remain_days),
        threshold: Some(threshold),
        next_action_url: p.next_action_url.clone(),
        summary: format!("{} expires in {} days", p.key, p.remain_days),
        raised_at: at,
        previous_status: None,
        reminder: false,
        error: None,
        receivers: vec!["ops-mail".to_string(), "ops-chat".to_string()],
    }
}

fn poll_failed_alert(id: &str, scope: &Scope, at: DateTime<Utc>) -> Alert {
    Alert {
        id: id.to_string(),
        kind: AlertKind::PollFailed,
        severity: Severity::Critical,
        rule: "default".to_string(),
        account: scope.account.clone(),
        project_id: scope.project_id.clone(),
        source: Default::default(),
        package: None,
        resource_id: None,
        service_type: None,
        package_status: None,
        resource: Default::default(),
        package_status_name: None,
        remain_days: None,
        threshold: None,
        next_action_url: None,
        summary: "polling prod failed 3 times".to_string(),
        raised_at: at,
        previous_status: None,
        reminder: false,
        error: Some(PollErrorInfo {
            http_status: Some(401),
            error_code: Some("APIG.0301".to_string()),
            error_msg: "Incorrect IAM authentication information".to_string(),
            request_id: Some("req-1".to_string()),
            consecutive_failures: 3,
        }),
        receivers: vec!["ops-mail".to_string()],
    }
}

fn failing_health(at: DateTime<Utc>) -> PollHealth {
    PollHealth {
        consecutive_failures: 3,
        failing_notified: true,
        last_error: Some(PollErrorInfo {
            http_status: Some(401),
            error_code: Some("APIG.0301".to_string()),
            error_msg: "Incorrect IAM authentication information".to_string(),
            request_id: Some("req-1".to_string()),
            consecutive_failures: 3,
        }),
        last_success_at: Some(at - Duration::days(3)),
        last_attempt_at: Some(at),
        ..PollHealth::default()
    }
}

fn healthy(at: DateTime<Utc>) -> PollHealth {
    PollHealth {
        consecutive_failures: 0,
        failing_notified: false,
        last_error: None,
        last_success_at: Some(at),
        last_attempt_at: Some(at),
        ..PollHealth::default()
    }
}

fn delivery(receiver: &str, ids: &[&str]) -> NewDelivery {
    NewDelivery {
        receiver: receiver.to_string(),
        alert_ids: ids.iter().map(|s| s.to_string()).collect(),
    }
}

fn empty_cycle(at: DateTime<Utc>) -> CycleRecord {
    CycleRecord {
        started_at: at,
        packages: vec![],
        health: vec![],
        alerts: vec![],
        deliveries: vec![],
    }
}

/// A cycle with one pending delivery of one alert; returns the delivery's id.
fn one_delivery(store: &mut StateStore, alert_id: &str, at: DateTime<Utc>) -> DeliveryId {
    let p = package(&project_scope(), "codeartsStorageExtension", "r1", 11);
    let mut record = empty_cycle(at);
    record.alerts.push(alert(alert_id, &p, 14, at));
    record.deliveries.push(delivery("ops-mail", &[alert_id]));
    let ids = store
        .record_cycle(&record, tell_once)
        .expect("cycle recorded");
    assert_eq!(ids.len(), 1);
    ids[0]
}

fn temp_state() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.db");
    (dir, path)
}

// ---------------------------------------------------------------------------------------------
// Opening and recording
// ---------------------------------------------------------------------------------------------

#[test]
fn open_creates_a_private_directory_and_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("var/lib/renewd/state.db");
    let store = StateStore::open(&path).expect("open creates the store");
    assert_eq!(store.path(), path);
    let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode(path.parent().expect("parent")), 0o700);
    assert_eq!(mode(&path), 0o600);
    assert_eq!(
        store.outbox_counts().expect("counts"),
        OutboxCounts::default()
    );
    assert!(store.all_packages().expect("packages").is_empty());
    let raw = rusqlite::Connection::open(&path).expect("raw");
    let journal: String = raw
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("journal mode");
    assert_eq!(journal, "wal");
    let version: u32 = raw
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("user version");
    assert_eq!(version, SCHEMA_VERSION);
}

#[test]
fn a_recorded_cycle_is_read_back_by_a_new_store() {
    let (_dir, path) = temp_state();
    let at = t("2026-11-26T01:00:00.123456789Z");
    let project = project_scope();
    let storage = package(&project, "codeartsStorageExtension", "7590809a", 11);
    let traffic = package(&project, "codeartsTrafficExtension", "11aa22bb", 40);
    let whole = package(&account_scope(), "codeartsStorageExtension", "abcdef01", 5);

    // Alert ids out of lexical order, to show a delivery keeps its own order.
    let a_storage = alert("b-storage-14", &storage, 14, at);
    let a_whole = alert("a-whole-7", &whole, 7, at);
    let a_poll = poll_failed_alert("c-poll", &account_scope(), at);
    let record = CycleRecord {
        started_at: at,
        packages: vec![
            state_of(storage.clone(), at, Some(14)),
            state_of(traffic.clone(), at, None),
            state_of(whole.clone(), at, Some(7)),
        ],
        health: vec![
            (project.clone(), healthy(at)),
            (account_scope(), failing_health(at)),
        ],
        alerts: vec![a_storage.clone(), a_whole.clone(), a_poll.clone()],
        deliveries: vec![
            delivery("ops-mail", &["b-storage-14", "a-whole-7", "c-poll"]),
            delivery("ops-chat", &["a-whole-7", "b-storage-14"]),
        ],
    };
    let mut store = StateStore::open(&path).expect("open");
    let ids = store.record_cycle(&record, tell_once).expect("record");
    assert_eq!(ids.len(), 2);
    store
        .finish_cycle(at, at + Duration::seconds(4), false, "1 poll failed")
        .expect("finish");
    drop(store);

    let store = StateStore::open(&path).expect("reopen");
    let in_project = store.package_states(&project).expect("project packages");
    assert_eq!(
        in_project,
        vec![
            state_of(storage.clone(), at, Some(14)),
            state_of(traffic.clone(), at, None)
        ]
    );
    assert_eq!(
        store
            .package_states(&account_scope())
            .expect("account packages"),
        vec![state_of(whole.clone(), at, Some(7))]
    );

    assert_eq!(
        store.poll_health(&project).expect("health"),
        Some(healthy(at))
    );
    assert_eq!(
        store.poll_health(&account_scope()).expect("health"),
        Some(failing_health(at))
    );
    let other = Scope {
        account: "staging".to_string(),
        project_id: None,
        source: Default::default(),
    };
    assert_eq!(store.poll_health(&other).expect("health"), None);
    assert_eq!(
        store.all_health().expect("all health"),
        vec![
            (account_scope(), failing_health(at)),
            (project.clone(), healthy(at))
        ]
    );

    // Receivers are not part of the alert's JSON; the store keeps them anyway.
    assert_eq!(
        store.recent_alerts(10).expect("alerts"),
        vec![a_poll.clone(), a_whole.clone(), a_storage.clone()]
    );
    assert_eq!(
        store.recent_alerts(1).expect("alerts"),
        vec![a_poll.clone()]
    );
    assert_eq!(
        store.alert("a-whole-7").expect("alert"),
        Some(a_whole.clone())
    );
    assert_eq!(store.alert("nope").expect("alert"), None);

    let pending = store.pending_deliveries().expect("pending");
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[0].id, ids[0]);
    assert_eq!(pending[0].receiver, "ops-mail");
    assert_eq!(
        pending[0].alerts,
        vec![a_storage.clone(), a_whole.clone(), a_poll.clone()]
    );
    assert_eq!(pending[1].receiver, "ops-chat");
    assert_eq!(pending[1].alerts, vec![a_whole.clone(), a_storage.clone()]);
    for d in &pending {
        assert_eq!(d.status, DeliveryStatus::Pending);
        assert_eq!(d.attempts, 0);
        assert!(!d.attempt_in_flight);
        assert_eq!(d.created_at, at);
        assert_eq!(d.next_attempt_at, at);
        assert_eq!(d.last_error, None);
        assert_eq!(d.delivered_at, None);
    }

    let packages = store.all_packages().expect("all packages");
    let summary: Vec<(&str, Option<&str>)> = packages
        .iter()
        .map(|p| {
            (
                p.id.key.as_str(),
                p.last_alert.as_ref().map(|a| a.id.as_str()),
            )
        })
        .collect();
    // Account-wide scope ("" project) sorts first; the traffic package has no alert.
    assert_eq!(
        summary,
        vec![
            ("codeartsStorageExtension", Some("a-whole-7")),
            ("codeartsStorageExtension", Some("b-storage-14")),
            ("codeartsTrafficExtension", None),
        ]
    );
    assert_eq!(packages[1].state, state_of(storage, at, Some(14)).1);

    let cycles = store.recent_cycles(5).expect("cycles");
    assert_eq!(cycles.len(), 1);
    assert_eq!(cycles[0].started_at, at);
    assert_eq!(cycles[0].finished_at, Some(at + Duration::seconds(4)));
    assert_eq!(cycles[0].ok, Some(false));
    assert_eq!(
        (cycles[0].packages, cycles[0].alerts, cycles[0].deliveries),
        (3, 3, 2)
    );
    assert_eq!(cycles[0].summary.as_deref(), Some("1 poll failed"));
}

#[test]
fn quiet_cycles_are_forgotten_after_the_retention_and_the_others_kept() {
    let (_dir, path) = temp_state();
    let mut store = StateStore::open(&path).expect("open");
    let now = t("2026-11-26T01:00:00Z");
    let old = now - QUIET_CYCLE_RETENTION - Duration::days(1);
    let recent = now - QUIET_CYCLE_RETENTION + Duration::days(1);
    store
        .record_cycle(&empty_cycle(old), tell_once)
        .expect("old quiet");
    one_delivery(&mut store, "old-decision", old + Duration::minutes(1));
    store
        .record_cycle(&empty_cycle(recent), tell_once)
        .expect("recent quiet");
    assert_eq!(store.recent_cycles(10).expect("cycles").len(), 3);

    store
        .record_cycle(&empty_cycle(now), tell_once)
        .expect("now");
    let kept: Vec<_> = store
        .recent_cycles(10)
        .expect("cycles")
        .into_iter()
        .map(|c| (c.started_at, c.alerts))
        .collect();
    assert_eq!(
        kept,
        vec![(now, 0), (recent, 0), (old + Duration::minutes(1), 1)],
        "the old quiet cycle went; the one that decided something stays"
    );
    // Its decision and delivery are untouched.
    assert_eq!(store.pending_deliveries().expect("pending").len(), 1);
    assert!(store.alert("old-decision").expect("alert").is_some());
}

#[test]
fn a_decision_made_again_reaches_a_receiver_added_since_once() {
    let (_dir, path) = temp_state();
    let mut store = StateStore::open(&path).expect("open");
    let day1 = t("2026-11-26T01:00:00Z");
    let p = package(&project_scope(), "codeartsStorageExtension", "r1", 11);
    let mut vanished = alert("vanished-1", &p, 14, day1);
    vanished.receivers = vec!["ops-mail".into()];
    let cycle = |at, alerts: Vec<Alert>, deliveries| CycleRecord {
        alerts,
        deliveries,
        ..empty_cycle(at)
    };
    store
        .record_cycle(
            &cycle(
                day1,
                vec![vanished.clone()],
                vec![delivery("ops-mail", &["vanished-1"])],
            ),
            tell_once,
        )
        .expect("day 1");

    // A rule added by a reload routes the same decision to ops-chat too.
    let mut again = vanished.clone();
    again.receivers = vec!["ops-mail".into(), "ops-chat".into()];
    let both = vec![
        delivery("ops-mail", &["vanished-1"]),
        delivery("ops-chat", &["vanished-1"]),
    ];
    let day2 = day1 + Duration::days(1);
    let ids = store
        .record_cycle(&cycle(day2, vec![again.clone()], both.clone()), tell_once)
        .expect("day 2");
    assert_eq!(ids.len(), 1, "ops-mail had it; ops-chat gets it");
    let d = store.delivery(ids[0]).expect("read").expect("delivery");
    assert_eq!(d.receiver, "ops-chat");
    assert_eq!(d.alerts[0].id, "vanished-1");

    // Once, not every cycle.
    let day3 = day2 + Duration::days(1);
    let ids = store
        .record_cycle(&cycle(day3, vec![again], both), tell_once)
        .expect("day 3");
    assert!(ids.is_empty());
}

#[test]
fn an_alert_listed_twice_in_one_cycle_is_still_delivered() {
    let (_dir, path) = temp_state();
    let mut store = StateStore::open(&path).expect("open");
    let at = t("2026-11-26T01:00:00Z");
    let p = package(&project_scope(), "codeartsStorageExtension", "r1", 11);
    let a = alert("twice", &p, 14, at);
    let ids = store
        .record_cycle(
            &CycleRecord {
                alerts: vec![a.clone(), a],
                deliveries: vec![delivery("ops-mail", &["twice"])],
                ..empty_cycle(at)
            },
            tell_once,
        )
        .expect("record");
    assert_eq!(ids.len(), 1);
}

#[test]
fn later_cycles_update_packages_and_keep_the_first_copy_of_a_decision() {
    let (_dir, path) = temp_state();
    let mut store = StateStore::open(&path).expect("open");
    let day1 = t("2026-11-26T01:00:00Z");
    let day2 = day1 + Duration::days(1);
    let scope = project_scope();
    let p1 = package(&scope, "codeartsStorageExtension", "r1", 11);
    let first = alert("expiring-14", &p1, 14, day1);
    store
        .record_cycle(
            &CycleRecord {
                packages: vec![state_of(p1.clone(), day1, Some(14))],
                alerts: vec![first.clone()],
                deliveries: vec![delivery("ops-mail", &["expiring-14"])],
                ..empty_cycle(day1)
            },
            tell_once,
        )
        .expect("day 1");

    let p2 = package(&scope, "codeartsStorageExtension", "r1", 6);
    let mut same_id = alert("expiring-14", &p2, 14, day2);
    same_id.summary = "a different text under the same id".to_string();
    let newer = alert("expiring-7", &p2, 7, day2);
    let ids = store
        .record_cycle(
            &CycleRecord {
                packages: vec![state_of(p2.clone(), day2, Some(7))],
                alerts: vec![same_id.clone(), newer.clone()],
                // A decision made again (same id) was delivered with its first cycle: it is left out.
                deliveries: vec![delivery("ops-chat", &["expiring-14", "expiring-7"])],
                ..empty_cycle(day2)
            },
            tell_once,
        )
        .expect("day 2");

    let states = store.package_states(&scope).expect("states");
    assert_eq!(states, vec![state_of(p2, day2, Some(7))]);
    assert_eq!(
        store.alert("expiring-14").expect("alert"),
        Some(first.clone())
    );
    let d = store.delivery(ids[0]).expect("delivery").expect("exists");
    assert_eq!(d.alerts, vec![newer.clone()]);
    let packages = store.all_packages().expect("packages");
    assert_eq!(packages.len(), 1);
    assert_eq!(packages[0].last_alert, Some(newer));
    let cycles = store.recent_cycles(5).expect("cycles");
    assert_eq!(cycles.len(), 2);
    assert_eq!(cycles[0].started_at, day2);
    assert_eq!(cycles[0].alerts, 1, "only the new decision counts");
    assert_eq!(cycles[0].finished_at, None);

    // A cycle whose only decision was made before queues nothing at all.
    let again = store
        .record_cycle(
            &CycleRecord {
                alerts: vec![same_id],
                deliveries: vec![delivery("ops-chat", &["expiring-14"])],
                ..empty_cycle(day2 + Duration::days(1))
            },
            tell_once,
        )
        .expect("day 3");
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(store.pending_deliveries().expect("pending").len(), 2);
}

#[test]
fn a_failing_cycle_is_rolled_back_entirely() {
    let (_dir, path) = temp_state();
    let at = t("2026-11-26T01:00:00Z");
    let p = package(&project_scope(), "codeartsStorageExtension", "r1", 11);
    let mut store = StateStore::open(&path).expect("open");

    // Packages, health and the decision are written before the delivery that refers to an
    // unknown alert fails: none of them may remain.
    let record = CycleRecord {
        packages: vec![state_of(p.clone(), at, Some(14))],
        health: vec![(project_scope(), healthy(at))],
        alerts: vec![alert("known", &p, 14, at)],
        deliveries: vec![
            delivery("ops-mail", &["known"]),
            delivery("ops-chat", &["known", "never-recorded"]),
        ],
        ..empty_cycle(at)
    };
    match store.record_cycle(&record, tell_once) {
        Err(StateError::UnknownAlert {
            receiver, alert_id, ..
        }) => {
            assert_eq!(receiver, "ops-chat");
            assert_eq!(alert_id, "never-recorded");
        }
        other => panic!("expected UnknownAlert, got {other:?}"),
    }
    let empty = CycleRecord {
        deliveries: vec![delivery("ops-mail", &[])],
        ..record.clone()
    };
    assert!(matches!(
        store.record_cycle(&empty, tell_once),
        Err(StateError::EmptyDelivery { .. })
    ));
    drop(store);

    let store = StateStore::open_read_only(&path).expect("reopen");
    assert!(store.all_packages().expect("packages").is_empty());
    assert!(store.all_health().expect("health").is_empty());
    assert!(store.recent_alerts(10).expect("alerts").is_empty());
    assert!(store.recent_cycles(10).expect("cycles").is_empty());
    assert_eq!(
        store.outbox_counts().expect("counts"),
        OutboxCounts::default()
    );

    // The same cycle without the bad delivery goes through.
    let mut store = StateStore::open(&path).expect("reopen for writing");
    let good = CycleRecord {
        deliveries: vec![delivery("ops-mail", &["known"])],
        ..record
    };
    assert_eq!(
        store.record_cycle(&good, tell_once).expect("record").len(),
        1
    );
    assert_eq!(store.all_packages().expect("packages").len(), 1);
}

// ---------------------------------------------------------------------------------------------
// A cycle recorded in batches
// ---------------------------------------------------------------------------------------------

/// One batch holding this package's state and alert.
fn batch_of(p: &Item, a: &Alert, at: DateTime<Utc>) -> CycleBatch {
    CycleBatch {
        packages: vec![state_of(p.clone(), at, a.threshold)],
        health: vec![(p.scope.clone(), healthy(at))],
        alerts: vec![a.clone()],
        ..CycleBatch::default()
    }
}

#[test]
fn batches_queue_their_decisions_and_the_last_step_makes_one_digest_per_receiver() {
    let (_dir, path) = temp_state();
    let mut store = StateStore::open(&path).expect("open");
    let at = t("2026-11-26T01:00:00Z");
    let scope = project_scope();
    let later = package(&scope, "codeartsStorageExtension", "r1", 11);
    let sooner = package(&scope, "codeartsDownloadTrafficExtension", "r2", 3);
    let a_later = alert("later", &later, 14, at);
    let a_sooner = alert("sooner", &sooner, 3, at);

    let cycle = store.begin_cycle(at).expect("begin");
    for (p, a) in [(&later, &a_later), (&sooner, &a_sooner)] {
        let written = store
            .record_batch_with(Some(cycle), tell_once, |reads| {
                // The batch sees what earlier batches of the cycle wrote.
                assert_eq!(
                    reads.poll_health(&scope).expect("health").is_some(),
                    p.key != later.key
                );
                Ok::<_, StateError>(batch_of(p, a, at))
            })
            .expect("batch");
        assert_eq!(written.alerts, vec![a.clone()]);
    }
    assert!(
        store.pending_deliveries().expect("pending").is_empty(),
        "nothing before the end"
    );
    let ids = store.finish_recording(cycle).expect("finish");
    assert_eq!(ids.len(), 2, "one digest per receiver");
    for id in ids {
        let d = store.delivery(id).expect("read").expect("delivery");
        // Queued in poll order, delivered most urgent first.
        assert_eq!(d.alerts, vec![a_sooner.clone(), a_later.clone()]);
    }
    assert_eq!(store.all_packages().expect("packages").len(), 2);
    let cycles = store.recent_cycles(1).expect("cycles");
    assert_eq!(
        (cycles[0].packages, cycles[0].alerts, cycles[0].deliveries),
        (2, 2, 2)
    );
}

#[test]
fn a_cycle_cut_short_after_a_batch_has_its_deliveries_made_at_the_next_open() {
    let (_dir, path) = temp_state();
    let at = t("2026-11-26T01:00:00Z");
    let p = package(&project_scope(), "codeartsStorageExtension", "r1", 11);
    let a = alert("decided-then-crashed", &p, 14, at);
    {
        let mut store = StateStore::open(&path).expect("open");
        let cycle = store.begin_cycle(at).expect("begin");
        store
            .record_batch_with(Some(cycle), tell_once, |_| {
                Ok::<_, StateError>(batch_of(&p, &a, at))
            })
            .expect("batch");
        // The process dies here: no finish_recording.
    }
    let mut store = StateStore::open(&path).expect("reopen");
    let pending = store.pending_deliveries().expect("pending");
    assert_eq!(pending.len(), 2, "{pending:?}");
    assert!(pending.iter().all(|d| d.alerts == vec![a.clone()]));
    // Built once: the next cycle does not queue the decision again.
    let next = store.begin_cycle(at + Duration::days(1)).expect("begin");
    store
        .record_batch_with(Some(next), tell_once, |_| {
            Ok::<_, StateError>(batch_of(&p, &a, at))
        })
        .expect("batch");
    assert!(store.finish_recording(next).expect("finish").is_empty());
    assert_eq!(store.pending_deliveries().expect("pending").len(), 2);
}

#[test]
fn a_dry_run_batch_is_decided_but_not_written() {
    let (_dir, path) = temp_state();
    let at = t("2026-11-26T01:00:00Z");
    let p = package(&project_scope(), "codeartsStorageExtension", "r1", 11);
    let a = alert("dry", &p, 14, at);
    let mut store = StateStore::open(&path).expect("open");
    let batch = store
        .record_batch_with(None, tell_once, |_| {
            Ok::<_, StateError>(batch_of(&p, &a, at))
        })
        .expect("dry batch");
    assert_eq!(batch.alerts.len(), 1);
    assert!(store.all_packages().expect("packages").is_empty());
    assert!(store.recent_alerts(10).expect("alerts").is_empty());
}

// ---------------------------------------------------------------------------------------------
// The outbox
// ---------------------------------------------------------------------------------------------

#[test]
fn a_delivery_goes_from_pending_to_delivered_and_stays_there() {
    let (_dir, path) = temp_state();
    let at = t("2026-11-26T01:00:00Z");
    let mut store = StateStore::open(&path).expect("open");
    let id = one_delivery(&mut store, "a1", at);

    store.record_attempt_started(id, at).expect("attempt");
    store
        .mark_delivered(id, at + Duration::seconds(1))
        .expect("delivered");
    let d = store.delivery(id).expect("read").expect("exists");
    assert_eq!(d.status, DeliveryStatus::Delivered);
    assert_eq!(d.attempts, 1, "an announced attempt counts once");
    assert!(!d.attempt_in_flight);
    assert_eq!(d.last_attempt_at, Some(at));
    assert_eq!(d.delivered_at, Some(at + Duration::seconds(1)));
    assert_eq!(d.finished_at, Some(at + Duration::seconds(1)));
    assert!(store.pending_deliveries().expect("pending").is_empty());
    assert!(store
        .due_deliveries(at + Duration::days(1))
        .expect("due")
        .is_empty());
    assert_eq!(
        store.outbox_counts().expect("counts"),
        OutboxCounts {
            delivered: 1,
            ..OutboxCounts::default()
        }
    );

    // A finished delivery cannot be retried, failed, abandoned or delivered again.
    let later = at + Duration::minutes(5);
    let refusals = [
        store.mark_retry(id, "late", later),
        store.mark_failed(id, "late", later),
        store.mark_abandoned(id, "late", later),
        store.mark_delivered(id, later),
        store.record_attempt_started(id, later),
    ];
    for refusal in refusals {
        match refusal {
            Err(StateError::DeliveryNotPending { status, .. }) => {
                assert_eq!(status, DeliveryStatus::Delivered)
            }
            other => panic!("expected DeliveryNotPending, got {other:?}"),
        }
    }
    assert_eq!(store.delivery(id).expect("read"), Some(d));
    assert!(matches!(
        store.mark_delivered(DeliveryId(999), later),
        Err(StateError::UnknownDelivery { .. })
    ));
    assert_eq!(store.delivery(DeliveryId(999)).expect("read"), None);
}

#[test]
fn a_retry_counts_the_attempt_and_moves_the_next_attempt() {
    let (_dir, path) = temp_state();
    let at = t("2026-11-26T01:00:00Z");
    let mut store = StateStore::open(&path).expect("open");
    let id = one_delivery(&mut store, "a1", at);
    let alerts_before = store.delivery(id).expect("read").expect("exists").alerts;

    // An outcome reported without an announced attempt still counts one attempt.
    let first_retry = at + Duration::minutes(1);
    store
        .mark_retry(id, "webhook answered 500", first_retry)
        .expect("retry");
    // An announced attempt followed by its outcome counts one, not two.
    store
        .record_attempt_started(id, first_retry)
        .expect("attempt");
    let second_retry = at + Duration::minutes(5);
    store
        .mark_retry(id, "webhook answered 429", second_retry)
        .expect("retry");

    let d = store.delivery(id).expect("read").expect("exists");
    assert_eq!(d.status, DeliveryStatus::Pending);
    assert_eq!(d.attempts, 2);
    assert_eq!(d.next_attempt_at, second_retry);
    assert_eq!(d.last_error.as_deref(), Some("webhook answered 429"));
    assert_eq!(d.last_attempt_at, Some(first_retry));
    assert_eq!(
        d.alerts, alerts_before,
        "a retried message carries the same alerts"
    );

    // Not due before its next attempt, due from then on; pending all along.
    assert!(store
        .due_deliveries(second_retry - Duration::seconds(1))
        .expect("due")
        .is_empty());
    assert_eq!(store.due_deliveries(second_retry).expect("due").len(), 1);
    assert_eq!(store.pending_deliveries().expect("pending").len(), 1);

    store.mark_delivered(id, second_retry).expect("delivered");
    let d = store.delivery(id).expect("read").expect("exists");
    assert_eq!((d.status, d.attempts), (DeliveryStatus::Delivered, 3));
    assert_eq!(d.last_error.as_deref(), Some("webhook answered 429"));
}

#[test]
fn failed_and_abandoned_deliveries_leave_the_queue() {
    let (_dir, path) = temp_state();
    let at = t("2026-11-26T01:00:00Z");
    let mut store = StateStore::open(&path).expect("open");
    let failed = one_delivery(&mut store, "a1", at);
    let abandoned = one_delivery(&mut store, "a2", at + Duration::seconds(1));
    let waiting = one_delivery(&mut store, "a3", at + Duration::seconds(2));

    store.record_attempt_started(failed, at).expect("attempt");
    store
        .mark_failed(failed, "webhook answered 400", at + Duration::seconds(3))
        .expect("failed");
    store
        .mark_abandoned(abandoned, "older than 3 days", at + Duration::days(3))
        .expect("abandoned");

    let f = store.delivery(failed).expect("read").expect("exists");
    assert_eq!((f.status, f.attempts), (DeliveryStatus::Failed, 1));
    assert_eq!(f.last_error.as_deref(), Some("webhook answered 400"));
    assert_eq!(f.finished_at, Some(at + Duration::seconds(3)));
    assert_eq!(f.delivered_at, None);
    let a = store.delivery(abandoned).expect("read").expect("exists");
    assert_eq!((a.status, a.attempts), (DeliveryStatus::Abandoned, 0));
    assert_eq!(a.last_error.as_deref(), Some("older than 3 days"));

    let pending: Vec<DeliveryId> = store
        .pending_deliveries()
        .expect("pending")
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(pending, vec![waiting]);
    assert_eq!(
        store.outbox_counts().expect("counts"),
        OutboxCounts {
            pending: 1,
            delivered: 0,
            failed: 1,
            abandoned: 1
        }
    );
}

#[test]
fn due_deliveries_are_the_pending_ones_whose_time_has_come_oldest_first() {
    let (_dir, path) = temp_state();
    let at = t("2026-11-26T01:00:00Z");
    let mut store = StateStore::open(&path).expect("open");
    let older = one_delivery(&mut store, "a1", at);
    let newer = one_delivery(&mut store, "a2", at + Duration::hours(1));
    let later = one_delivery(&mut store, "a3", at + Duration::hours(2));
    store
        .mark_retry(older, "smtp down", at + Duration::hours(3))
        .expect("retry");

    let ids = |ds: Vec<renewd::state::Delivery>| ds.iter().map(|d| d.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store
            .due_deliveries(at - Duration::seconds(1))
            .expect("due")),
        vec![]
    );
    assert_eq!(
        ids(store.due_deliveries(at + Duration::hours(1)).expect("due")),
        vec![newer]
    );
    assert_eq!(
        ids(store.due_deliveries(at + Duration::hours(2)).expect("due")),
        vec![newer, later]
    );
    assert_eq!(
        ids(store.due_deliveries(at + Duration::hours(3)).expect("due")),
        vec![older, newer, later]
    );
    assert_eq!(
        ids(store.pending_deliveries().expect("pending")),
        vec![older, newer, later]
    );
}

#[test]
fn an_attempt_cut_short_by_a_crash_is_counted_and_still_pending() {
    let (_dir, path) = temp_state();
    let at = t("2026-11-26T01:00:00Z");
    let mut store = StateStore::open(&path).expect("open");
    let id = one_delivery(&mut store, "a1", at);
    store.record_attempt_started(id, at).expect("attempt");
    drop(store); // the process dies while sending

    let mut store = StateStore::open(&path).expect("restart");
    let d = store.due_deliveries(at).expect("due");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].id, id);
    assert_eq!(d[0].status, DeliveryStatus::Pending);
    assert_eq!(d[0].attempts, 1);
    assert!(d[0].attempt_in_flight);

    let retry_at = at + Duration::minutes(10);
    store.record_attempt_started(id, retry_at).expect("attempt");
    store.mark_delivered(id, retry_at).expect("delivered");
    let d = store.delivery(id).expect("read").expect("exists");
    assert_eq!((d.status, d.attempts), (DeliveryStatus::Delivered, 2));
}

// ---------------------------------------------------------------------------------------------
// Readers and writers side by side
// ---------------------------------------------------------------------------------------------

#[test]
fn a_reader_opens_and_reads_while_a_writer_holds_a_transaction() {
    let (_dir, path) = temp_state();
    let at = t("2026-11-26T01:00:00Z");
    let mut store = StateStore::open(&path).expect("open");
    one_delivery(&mut store, "committed", at);
    let p = package(&project_scope(), "codeartsStorageExtension", "r1", 11);
    store
        .record_cycle(
            &CycleRecord {
                packages: vec![state_of(p, at, None)],
                ..empty_cycle(at)
            },
            tell_once,
        )
        .expect("record");

    // Another connection takes the write lock and leaves uncommitted changes. EXCLUSIVE would
    // lock readers out of a rollback-journal file; in WAL mode they read the last commit.
    let writer = rusqlite::Connection::open(&path).expect("raw writer");
    writer
        .execute_batch(
            "BEGIN EXCLUSIVE;
             DELETE FROM packages;
             UPDATE deliveries SET status = 'delivered';",
        )
        .expect("write lock held");

    let reader = StateStore::open_read_only(&path).expect("read-only open during a write");
    assert_eq!(reader.all_packages().expect("packages").len(), 1);
    assert_eq!(reader.pending_deliveries().expect("pending").len(), 1);
    assert_eq!(reader.outbox_counts().expect("counts").pending, 1);

    writer.execute_batch("ROLLBACK").expect("rollback");
    // The reader sees what the store commits afterwards.
    one_delivery(&mut store, "second", at + Duration::minutes(1));
    assert_eq!(reader.outbox_counts().expect("counts").pending, 2);
}

#[test]
fn a_writer_waits_for_another_writer_instead_of_failing() {
    let (_dir, path) = temp_state();
    let at = t("2026-11-26T01:00:00Z");
    let mut store = StateStore::open(&path).expect("open");
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let other_path = path.clone();
    let other = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(&other_path).expect("raw writer");
        conn.execute_batch("BEGIN IMMEDIATE").expect("lock");
        locked_tx.send(()).expect("signal");
        // Hold the lock a little while, well inside the store's busy timeout.
        std::thread::sleep(std::time::Duration::from_millis(300));
        conn.execute_batch("COMMIT").expect("commit");
    });
    locked_rx.recv().expect("other writer locked");
    let id = one_delivery(&mut store, "a1", at);
    other.join().expect("other writer");
    assert_eq!(
        store.delivery(id).expect("read").map(|d| d.status),
        Some(DeliveryStatus::Pending)
    );
}

#[test]
fn one_writer_per_state_file_and_readers_alongside() {
    let (_dir, path) = temp_state();
    let at = t("2026-11-26T01:00:00Z");
    let mut first = StateStore::open(&path).expect("open");
    one_delivery(&mut first, "a1", at);

    // A second writer would deliver the same outbox. (Another process is named by its pid:
    // tests/daemon.rs runs `renewd once` beside the daemon.) Through a symlink, too.
    let alias = path.parent().expect("dir").join("alias");
    std::os::unix::fs::symlink(path.parent().expect("dir"), &alias).expect("symlink");
    for spelling in [path.clone(), alias.join("state.db")] {
        match StateStore::open(&spelling) {
            Err(e @ StateError::InUse { .. }) => {
                let message = e.to_string();
                assert!(
                    message.contains(&spelling.display().to_string()),
                    "{message}"
                );
                assert!(
                    message.contains("already open for writing in this renewd process"),
                    "{message}"
                );
            }
            other => panic!("expected InUse, got {other:?}"),
        }
    }
    // Readers take no lock.
    let reader = StateStore::open_read_only(&path).expect("reader beside the writer");
    assert_eq!(reader.outbox_counts().expect("counts").pending, 1);

    drop(first);
    let second = StateStore::open(&path).expect("the lock went with the first store");
    assert_eq!(second.pending_deliveries().expect("pending").len(), 1);
}

#[test]
fn read_only_open_never_creates_or_migrates() {
    let (dir, path) = temp_state();
    match StateStore::open_read_only(&path) {
        Err(e @ StateError::Missing { .. }) => {
            assert!(e.to_string().contains(&path.display().to_string()), "{e}")
        }
        other => panic!("expected Missing, got {other:?}"),
    }
    assert!(!path.exists());
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);

    std::fs::write(&path, b"").expect("empty file");
    match StateStore::open_read_only(&path) {
        Err(StateError::NeedsMigration {
            found, supported, ..
        }) => assert_eq!((found, supported), (0, SCHEMA_VERSION)),
        other => panic!("expected NeedsMigration, got {other:?}"),
    }
    assert_eq!(std::fs::read(&path).expect("read"), b"");

    // A read-only store refuses writes.
    StateStore::open(&path).expect("migrate");
    let mut reader = StateStore::open_read_only(&path).expect("read-only");
    assert!(matches!(
        reader.record_cycle(&empty_cycle(t("2026-11-26T01:00:00Z")), tell_once),
        Err(StateError::Sqlite { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Files the store must refuse and leave alone
// ---------------------------------------------------------------------------------------------

fn sidecars(path: &Path) -> Vec<PathBuf> {
    ["-wal", "-shm", "-journal"]
        .iter()
        .map(|s| PathBuf::from(format!("{}{s}", path.display())))
        .filter(|p| p.exists())
        .collect()
}

#[test]
fn a_file_that_is_not_a_database_is_refused_and_left_untouched() {
    let (_dir, path) = temp_state();
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&path, &garbage).expect("write garbage");

    for result in [StateStore::open(&path), StateStore::open_read_only(&path)] {
        match result {
            Err(e @ StateError::Corrupt { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(&path.display().to_string()), "{msg}");
                assert!(msg.contains("untouched"), "{msg}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
    assert_eq!(std::fs::read(&path).expect("read back"), garbage);
    assert!(sidecars(&path).is_empty(), "no WAL or journal was created");
}

#[test]
fn a_damaged_database_is_refused_and_left_untouched() {
    let (_dir, path) = temp_state();
    let at = t("2026-11-26T01:00:00Z");
    {
        let mut store = StateStore::open(&path).expect("open");
        let scope = project_scope();
        let packages = (0..200)
            .map(|i| state_of(package(&scope, &format!("pkg{i:03}"), "r", i), at, None))
            .collect();
        store
            .record_cycle(
                &CycleRecord {
                    packages,
                    ..empty_cycle(at)
                },
                tell_once,
            )
            .expect("record");
    }
    // Keep page 1 (header and schema) intact; scribble over the b-tree pages after it.
    let mut bytes = std::fs::read(&path).expect("read");
    let page_size = u16::from_be_bytes([bytes[16], bytes[17]]) as usize;
    assert!(bytes.len() >= page_size * 4, "database has several pages");
    for b in &mut bytes[page_size..page_size * 4] {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).expect("damage");

    match StateStore::open(&path) {
        Err(e @ StateError::Corrupt { .. }) => {
            assert!(e.to_string().contains("quick_check"), "{e}")
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(matches!(
        StateStore::open_read_only(&path),
        Err(StateError::Corrupt { .. })
    ));
    assert_eq!(std::fs::read(&path).expect("read back"), bytes);
}

#[test]
fn a_file_from_a_newer_schema_is_refused_and_left_untouched() {
    let (_dir, path) = temp_state();
    {
        let conn = rusqlite::Connection::open(&path).expect("raw");
        conn.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
            .expect("future schema");
    }
    let before = std::fs::read(&path).expect("read");
    for result in [StateStore::open(&path), StateStore::open_read_only(&path)] {
        match result {
            Err(e @ StateError::NewerSchema { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("99"), "{msg}");
                assert!(msg.contains(&format!("version {SCHEMA_VERSION}")), "{msg}");
                assert!(msg.contains(&path.display().to_string()), "{msg}");
            }
            other => panic!("expected NewerSchema, got {other:?}"),
        }
    }
    assert_eq!(std::fs::read(&path).expect("read back"), before);
}

// ---------------------------------------------------------------------------------------------
// The frozen v1 file
// ---------------------------------------------------------------------------------------------

/// What `tests/fixtures/state/v1.db` holds. Do not change: it mirrors the committed file.
fn frozen_v1_cycle() -> CycleRecord {
    let at = t("2026-11-20T01:00:00Z");
    let scope = project_scope();
    let p = package(
        &scope,
        "codeartsStorageExtension",
        "7590809a5c9d42ae92b49b1190e94666",
        11,
    );
    CycleRecord {
        started_at: at,
        packages: vec![state_of(p.clone(), at, Some(14))],
        health: vec![
            (scope.clone(), healthy(at)),
            (account_scope(), failing_health(at)),
        ],
        alerts: vec![
            alert("v1-expiring-14", &p, 14, at),
            poll_failed_alert("v1-poll-failed", &account_scope(), at),
        ],
        deliveries: vec![
            delivery("ops-mail", &["v1-expiring-14", "v1-poll-failed"]),
            delivery("ops-chat", &["v1-expiring-14"]),
        ],
    }
}

/// Writes the frozen v1 fixture. Run once, by hand, while SCHEMA_VERSION is 1:
/// `RENEWD_WRITE_STATE_FIXTURE=1 cargo test --test state_store -- --ignored write_frozen_v1_fixture`
#[test]
#[ignore = "writes tests/fixtures/state/v1.db; run by hand only"]
fn write_frozen_v1_fixture() {
    assert_eq!(
        SCHEMA_VERSION, 1,
        "the frozen file must be made by schema v1 code"
    );
    assert!(
        std::env::var_os("RENEWD_WRITE_STATE_FIXTURE").is_some(),
        "set RENEWD_WRITE_STATE_FIXTURE=1 to overwrite the frozen fixture"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v1.db");
    {
        let mut store = StateStore::open(&path).expect("open");
        let record = frozen_v1_cycle();
        let ids = store.record_cycle(&record, tell_once).expect("record");
        store
            .finish_cycle(
                record.started_at,
                record.started_at + Duration::seconds(2),
                true,
                "ok",
            )
            .expect("finish");
        store
            .mark_delivered(ids[0], record.started_at + Duration::seconds(1))
            .expect("delivered");
        store
            .mark_retry(
                ids[1],
                "webhook answered 500",
                record.started_at + Duration::minutes(1),
            )
            .expect("retry");
    }
    {
        // Small pages keep the committed binary small; the content is what v1 wrote.
        let conn = rusqlite::Connection::open(&path).expect("raw");
        conn.execute_batch(
            "PRAGMA journal_mode = DELETE; PRAGMA page_size = 1024; VACUUM; PRAGMA journal_mode = WAL;",
        )
        .expect("compact");
    }
    let target = Path::new(FROZEN_V1);
    std::fs::create_dir_all(target.parent().expect("fixture dir")).expect("fixture dir");
    std::fs::copy(&path, target).expect("copy fixture");
}

#[test]
fn the_frozen_v1_file_still_opens_and_reads() {
    // Work on a copy: opening for writing may touch the file (WAL, migrations).
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.db");
    std::fs::copy(FROZEN_V1, &path).expect("copy the frozen v1 file");

    let reader = StateStore::open_read_only(&path);
    if SCHEMA_VERSION == 1 {
        assert_frozen_v1_contents(&reader.expect("read-only open of v1"));
    } else {
        assert!(matches!(
            reader,
            Err(StateError::NeedsMigration { found: 1, .. })
        ));
    }
    let store = StateStore::open(&path).expect("open (and migrate) v1");
    assert_frozen_v1_contents(&store);
    drop(store);
    let store = StateStore::open_read_only(&path).expect("read-only open after migration");
    assert_frozen_v1_contents(&store);
}

fn assert_frozen_v1_contents(store: &StateStore) {
    let record = frozen_v1_cycle();
    let at = record.started_at;

    let states = store.package_states(&project_scope()).expect("packages");
    assert_eq!(states, record.packages);
    assert_eq!(states[0].1.last.remain_days, 11);
    assert_eq!(states[0].1.rules["default"].notified_threshold, Some(14));

    assert_eq!(store.all_health().expect("health"), {
        let mut h = record.health.clone();
        h.sort_by(|a, b| a.0.cmp(&b.0));
        h
    });
    assert_eq!(
        store
            .poll_health(&account_scope())
            .expect("health")
            .map(|h| h.consecutive_failures),
        Some(3)
    );

    let alerts = store.recent_alerts(10).expect("alerts");
    let ids: Vec<&str> = alerts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, vec!["v1-poll-failed", "v1-expiring-14"]);
    assert_eq!(alerts[1], record.alerts[0]);
    assert_eq!(alerts[0], record.alerts[1]);

    let packages = store.all_packages().expect("all packages");
    assert_eq!(packages.len(), 1);
    assert_eq!(
        packages[0].last_alert.as_ref().map(|a| a.id.as_str()),
        Some("v1-expiring-14")
    );

    assert_eq!(
        store.outbox_counts().expect("counts"),
        OutboxCounts {
            pending: 1,
            delivered: 1,
            failed: 0,
            abandoned: 0
        }
    );
    let pending = store.pending_deliveries().expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].receiver, "ops-chat");
    assert_eq!(pending[0].attempts, 1);
    assert_eq!(pending[0].next_attempt_at, at + Duration::minutes(1));
    assert_eq!(
        pending[0].last_error.as_deref(),
        Some("webhook answered 500")
    );
    assert_eq!(pending[0].alerts, vec![record.alerts[0].clone()]);
    assert!(store.due_deliveries(at).expect("due").is_empty());

    let cycles = store.recent_cycles(5).expect("cycles");
    assert_eq!(cycles.len(), 1);
    assert_eq!(cycles[0].started_at, at);
    assert_eq!(cycles[0].ok, Some(true));
}

/// The CodeArts poll of an account as a whole and the subscriptions poll of the same account
/// are two scopes: each reads back only its own items and health, and the state file keeps the
/// CodeArts one under the key it always had ('').
#[test]
fn an_accounts_codearts_and_subscriptions_scopes_are_kept_apart() {
    let (_dir, path) = temp_state();
    let mut store = StateStore::open(&path).expect("open");
    let at = Utc::now();
    let codearts = account_scope();
    let subscriptions = Scope::subscriptions("prod");
    let package_item = package(&codearts, "codeartsStorageExtension", "r1", 11);
    // Even with the same key and resource id, the two are different items.
    let billing_item = package(&subscriptions, "codeartsStorageExtension", "r1", 40);
    let mut record = empty_cycle(at);
    record
        .packages
        .push(state_of(package_item.clone(), at, None));
    record
        .packages
        .push(state_of(billing_item.clone(), at, None));
    record.health.push((codearts.clone(), healthy(at)));
    record
        .health
        .push((subscriptions.clone(), failing_health(at)));
    store.record_cycle(&record, tell_once).expect("recorded");
    drop(store);

    let store = StateStore::open_read_only(&path).expect("reopen");
    let only = |scope: &Scope| -> Vec<Item> {
        store
            .package_states(scope)
            .expect("states")
            .into_iter()
            .map(|(_, s)| s.last)
            .collect()
    };
    assert_eq!(only(&codearts), vec![package_item]);
    assert_eq!(only(&subscriptions), vec![billing_item]);
    assert_eq!(
        store.poll_health(&codearts).expect("health"),
        Some(healthy(at))
    );
    assert_eq!(
        store.poll_health(&subscriptions).expect("health"),
        Some(failing_health(at))
    );
    let mut scopes: Vec<Scope> = store
        .all_health()
        .expect("health")
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    scopes.sort();
    assert_eq!(scopes, vec![codearts, subscriptions]);
    drop(store);
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    let mut keys: Vec<String> = conn
        .prepare("SELECT project_id FROM packages ORDER BY project_id")
        .expect("query")
        .query_map([], |row| row.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("keys");
    keys.dedup();
    assert_eq!(keys, vec!["".to_string(), "@subscriptions".to_string()]);
}
