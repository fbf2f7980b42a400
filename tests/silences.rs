//! Silences (issue 13, point 3): a silenced decision is recorded, not delivered; what is still
//! due when the silence ends goes out at the next cycle, once; a renewal meanwhile drops the
//! stale alert. The cycles run in-process at fixed instants against the fake CodeArts gateway
//! and a real webhook receiver on 127.0.0.1; the commands run as the real binary.

mod support;

use chrono::{DateTime, TimeDelta, Utc};
use renewd::app::App;
use renewd::config::Config;
use renewd::cycle::{self, CycleOptions, CycleReport};
use renewd::model::SilenceMatchers;
use renewd::state::StateStore;
use serde_json::Value;
use support::fake_cloud::FakeCloud;
use support::harness::*;
use support::webhook_receiver::WebhookReceiver;

const STORAGE: (&str, &str) = (
    "codeartsStorageExtension",
    "7590809a5c9d42ae92b49b1190e94666",
);
const TRAFFIC: (&str, &str) = (
    "codeartsTrafficExtension",
    "5a6b7c8d9e0f41a2b3c4d5e6f7a8b9c0",
);

struct Setup {
    cloud: FakeCloud,
    hook: WebhookReceiver,
    ws: Workspace,
    app: App,
}

impl Setup {
    async fn new() -> Setup {
        let cloud = FakeCloud::start().await;
        cloud.add_token(TOKEN);
        let hook = WebhookReceiver::start();
        let ws = Workspace::new();
        ws.write_config(&basic_config(&ws, &cloud.url(), &hook.url()));
        let config = Config::load_with_env(&ws.config_path(), &[]).expect("config");
        let app = App::build(config).expect("app");
        Setup {
            cloud,
            hook,
            ws,
            app,
        }
    }

    fn serve(&self, storage_days: i64, traffic_days: i64) {
        self.cloud.set_packages(
            Some(PROJECT),
            packages(&[
                (STORAGE.0, STORAGE.1, 2, storage_days),
                (TRAFFIC.0, TRAFFIC.1, 2, traffic_days),
            ]),
        );
    }

    async fn cycle(&self, store: &mut StateStore, now: DateTime<Utc>) -> CycleReport {
        cycle::run_cycle(&self.app, store, CycleOptions::default(), now)
            .await
            .expect("cycle")
    }

    /// The alerts of every digest received so far, digest by digest, as (package, kind, id).
    fn digests(&self) -> Vec<Vec<(String, String, String)>> {
        self.hook
            .received()
            .iter()
            .map(|r| {
                alerts_of(&r.json())
                    .iter()
                    .map(|a| {
                        let s = |k: &str| a[k].as_str().unwrap_or_default().to_string();
                        (s("package"), s("kind"), s("id"))
                    })
                    .collect()
            })
            .collect()
    }
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-26T01:00:00Z")
        .expect("valid")
        .with_timezone(&Utc)
}

fn storage_only() -> SilenceMatchers {
    SilenceMatchers {
        account: Some("prod".into()),
        package: Some("codeartsStorage*".into()),
        ..SilenceMatchers::default()
    }
}

#[tokio::test]
async fn a_silenced_alert_is_recorded_held_and_delivered_once_when_the_silence_ends() {
    let s = Setup::new().await;
    let mut store = StateStore::open(s.ws.state_path()).expect("state");
    let ends = t0() + TimeDelta::days(3);
    let id = store
        .add_silence(&storage_only(), t0(), ends, "PO 4711 in approval", "alice")
        .expect("silence");

    // Both packages reach stage 7: the storage one is held back, the traffic one goes out.
    s.serve(6, 6);
    let first = s.cycle(&mut store, t0() + TimeDelta::hours(1)).await;
    assert_eq!(first.alerts.len(), 2, "{:#?}", first.alerts);
    assert_eq!(first.silenced, 1);
    assert_eq!(first.silences_in_force, 1);
    let digests = s.digests();
    assert_eq!(digests.len(), 1);
    assert_eq!(digests[0].len(), 1, "{digests:?}");
    assert_eq!(digests[0][0].0, TRAFFIC.0);
    // Recorded as such: decided, held by the silence, shown beside the package.
    let storage_alert = first
        .alerts
        .iter()
        .find(|a| a.package.as_deref() == Some(STORAGE.0))
        .expect("storage decided");
    assert!(store
        .held_by()
        .expect("held")
        .contains(&(storage_alert.id.clone(), id)));
    let row = first
        .packages
        .iter()
        .find(|r| r.package == STORAGE.0)
        .expect("row");
    let note = row.silenced.as_ref().expect("silenced row");
    assert_eq!((note.id, note.by.as_str(), note.until), (id, "alice", ends));
    assert!(first
        .packages
        .iter()
        .any(|r| r.package == TRAFFIC.0 && r.silenced.is_none()));

    // Still silenced a day later: nothing new is decided, nothing sent.
    let second = s.cycle(&mut store, t0() + TimeDelta::days(1)).await;
    assert!(second.alerts.is_empty());
    assert_eq!(s.digests().len(), 1);

    // The silence has ended and the package is still unrenewed: the held alert goes out now,
    // with the id it was decided with.
    let third = s.cycle(&mut store, t0() + TimeDelta::days(4)).await;
    assert_eq!(third.released.released, 1, "{:?}", third.released);
    assert_eq!(third.silences_in_force, 0);
    let digests = s.digests();
    assert_eq!(digests.len(), 2, "{digests:?}");
    assert_eq!(
        digests[1],
        vec![(
            STORAGE.0.to_string(),
            "expiring".to_string(),
            storage_alert.id.clone()
        )]
    );
    assert!(store.held_by().expect("held").is_empty());

    // Told once: the next cycle sends nothing more.
    let fourth = s.cycle(&mut store, t0() + TimeDelta::days(5)).await;
    assert_eq!(fourth.released.released, 0);
    assert_eq!(s.digests().len(), 2);
}

#[tokio::test]
async fn an_alert_held_until_after_a_renewal_is_dropped_and_the_renewal_told() {
    let s = Setup::new().await;
    let mut store = StateStore::open(s.ws.state_path()).expect("state");
    let ends = t0() + TimeDelta::days(3);
    store
        .add_silence(&storage_only(), t0(), ends, "renewal ordered", "bob")
        .expect("silence");
    s.serve(6, 40);
    let first = s.cycle(&mut store, t0() + TimeDelta::hours(1)).await;
    assert_eq!(first.silenced, 1);
    assert!(s.digests().is_empty(), "{:?}", s.digests());

    // Renewed while silenced: the renewal notice is held too.
    s.serve(370, 39);
    let second = s.cycle(&mut store, t0() + TimeDelta::days(1)).await;
    let kinds: Vec<&str> = second.alerts.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(kinds, vec!["renewed"]);
    assert_eq!(second.silenced, 1);
    assert!(s.digests().is_empty());

    // When the silence ends, the stale `expiring` is dropped; the renewal is told.
    let third = s.cycle(&mut store, t0() + TimeDelta::days(4)).await;
    assert_eq!(third.released.dropped, 1, "{:?}", third.released);
    assert_eq!(third.released.released, 1, "{:?}", third.released);
    let digests = s.digests();
    assert_eq!(digests.len(), 1, "{digests:?}");
    let kinds: Vec<&str> = digests[0].iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(kinds, vec!["renewed"]);
}

#[tokio::test]
async fn a_silence_expired_early_releases_at_the_next_cycle() {
    let s = Setup::new().await;
    let mut store = StateStore::open(s.ws.state_path()).expect("state");
    let id = store
        .add_silence(
            &storage_only(),
            t0(),
            t0() + TimeDelta::days(30),
            "audit",
            "carol",
        )
        .expect("silence");
    s.serve(6, 40);
    s.cycle(&mut store, t0() + TimeDelta::hours(1)).await;
    assert!(s.digests().is_empty());
    let expired = store
        .expire_silence(id, t0() + TimeDelta::days(1))
        .expect("expire")
        .expect("exists");
    assert_eq!(expired.id, id);
    let next = s.cycle(&mut store, t0() + TimeDelta::days(2)).await;
    assert_eq!(next.released.released, 1);
    assert_eq!(s.digests().len(), 1);
}

/// The commands, as an operator runs them, beside a process that holds the state file as the
/// daemon does.
#[tokio::test]
async fn silence_commands_add_list_and_expire_beside_a_running_daemon() {
    let s = Setup::new().await;
    // Holds the writer lock for the whole test, like `renewd run`.
    let daemon = StateStore::open(s.ws.state_path()).expect("state");

    let run =
        s.ws.run(&[
            "silence",
            "add",
            "--match",
            "account=prod,package=codeartsStorage*",
            "--until",
            "2126-01-01",
            "--reason",
            "PO 4711 in approval",
            "--by",
            "alice",
        ])
        .await;
    run.expect_code(0);
    assert!(run.stdout.contains("silence #1 added"), "{}", run.output());

    let run = s.ws.run(&["silence", "list", "--json"]).await;
    run.expect_code(0);
    let list: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(list[0]["id"], 1);
    assert_eq!(list[0]["state"], "active");
    assert_eq!(list[0]["match"]["account"], "prod");
    assert_eq!(list[0]["match"]["package"], "codeartsStorage*");
    assert_eq!(list[0]["created_by"], "alice");
    assert_eq!(list[0]["reason"], "PO 4711 in approval");
    // The end of that day in the daemon's time zone (the test config's is UTC).
    assert_eq!(list[0]["ends_at"], "2126-01-02T00:00:00Z");
    // The running daemon sees it without a reload.
    assert_eq!(daemon.silences(t0()).expect("read").len(), 1);

    let run = s.ws.run(&["silence", "list"]).await;
    run.expect_code(0);
    assert!(
        run.stdout.contains("account=prod,package=codeartsStorage*"),
        "{}",
        run.output()
    );

    let run = s.ws.run(&["silence", "expire", "1"]).await;
    run.expect_code(0);
    assert!(
        run.stdout.contains("silence #1 expired"),
        "{}",
        run.output()
    );
    let run = s.ws.run(&["silence", "list", "--json"]).await;
    let list: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(list[0]["state"], "expired");

    // Bad input is refused with what was wrong, and stores nothing.
    for (args, says) in [
        (
            vec!["--match", "acount=prod", "--until", "7d", "--reason", "x"],
            "unknown key \"acount\"",
        ),
        (
            vec![
                "--match",
                "account=prod",
                "--until",
                "2020-01-01",
                "--reason",
                "x",
            ],
            "not in the future",
        ),
        (
            vec![
                "--match",
                "account=prod",
                "--until",
                "soon",
                "--reason",
                "x",
            ],
            "neither a date",
        ),
        (
            vec!["--match", "account=prod", "--until", "7d", "--reason", " "],
            "--reason",
        ),
    ] {
        let mut full = vec!["silence", "add"];
        full.extend(args);
        let run = s.ws.run(&full).await;
        run.expect_code(2);
        assert!(run.output().contains(says), "{says}: {}", run.output());
    }
    let run = s.ws.run(&["silence", "expire", "9"]).await;
    run.expect_code(1);
    assert!(run.output().contains("no silence #9"), "{}", run.output());
    assert_eq!(daemon.silences(t0()).expect("read").len(), 1);
}

#[tokio::test]
async fn once_and_status_show_who_silenced_a_package_until_when() {
    let s = Setup::new().await;
    s.serve(6, 40);
    let run =
        s.ws.run(&[
            "silence",
            "add",
            "--match",
            "package=codeartsStorage*",
            "--until",
            "2126-01-01",
            "--reason",
            "PO 4711",
            "--by",
            "alice",
        ])
        .await;
    run.expect_code(0);
    let run = s.ws.run(&["once", "--json"]).await;
    run.expect_code(0);
    let report: Value = serde_json::from_str(&run.stdout).expect("json");
    let packages = report["packages"].as_array().expect("packages");
    let storage = packages
        .iter()
        .find(|p| p["package"] == STORAGE.0)
        .expect("storage");
    assert_eq!(storage["silenced"]["by"], "alice");
    assert_eq!(storage["silenced"]["reason"], "PO 4711");
    assert!(packages
        .iter()
        .any(|p| p["package"] == TRAFFIC.0 && p.get("silenced").is_none()));
    assert!(s.hook.received().is_empty(), "the only alert was silenced");

    let run = s.ws.run(&["status"]).await;
    run.expect_code(0);
    assert!(run.stdout.contains("SILENCED"), "{}", run.output());
    assert!(
        run.stdout.contains("#1 by alice until 2126-01-02"),
        "{}",
        run.output()
    );
    let run = s.ws.run(&["status", "--json"]).await;
    let status: Value = serde_json::from_str(&run.stdout).expect("json");
    let storage = status["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["package"] == STORAGE.0)
        .expect("storage");
    assert_eq!(storage["silenced"]["id"], 1);
}

/// Issue 13, point 3: a silence that ends within a day is mentioned in that day's digest
/// (renewd's JSON `silences_ending`); one that ends later, or already ended, is not.
#[tokio::test]
async fn a_silence_ending_within_a_day_is_mentioned_in_the_digest() {
    let s = Setup::new().await;
    let mut store = StateStore::open(s.ws.state_path()).expect("state");
    // The outbox sends at the wall clock's time: the silences are set around it. They match
    // an account this config does not have, so they hold nothing back.
    let now = Utc::now();
    let elsewhere = SilenceMatchers {
        account: Some("staging".into()),
        ..SilenceMatchers::default()
    };
    let soon = store
        .add_silence(
            &elsewhere,
            now,
            now + TimeDelta::hours(5),
            "DB migration",
            "bob",
        )
        .expect("silence");
    store
        .add_silence(&elsewhere, now, now + TimeDelta::days(3), "later", "bob")
        .expect("silence");
    let ended = store
        .add_silence(&elsewhere, now, now + TimeDelta::hours(2), "over", "bob")
        .expect("silence");
    store.expire_silence(ended, now).expect("expire");

    s.serve(6, 40);
    s.cycle(&mut store, t0()).await;
    let received = s.hook.received();
    assert_eq!(received.len(), 1);
    let body = received[0].json();
    let mentioned = body["silences_ending"].as_array().expect("silences_ending");
    assert_eq!(mentioned.len(), 1, "{body}");
    let m = &mentioned[0];
    assert_eq!(m["id"], soon);
    assert_eq!(m["matchers"], "account=staging");
    assert_eq!(m["created_by"], "bob");
    assert_eq!(m["reason"], "DB migration");
    let ends_at = DateTime::parse_from_rfc3339(m["ends_at"].as_str().unwrap()).unwrap();
    assert!(
        (ends_at.with_timezone(&Utc) - (now + TimeDelta::hours(5)))
            .num_seconds()
            .abs()
            <= 1
    );
}

/// A later stage decided by another rule, for another receiver, is no news to the receiver
/// whose alert was held: when the silence ends, that receiver still gets what it is owed.
#[tokio::test]
async fn another_rules_later_stage_does_not_drop_a_held_alert() {
    let cloud = FakeCloud::start().await;
    cloud.add_token(TOKEN);
    let team = WebhookReceiver::start();
    let pager = WebhookReceiver::start();
    let ws = Workspace::new();
    ws.write_config(&format!(
        "{}{}{}{}{}{}",
        daemon_section(&ws, ""),
        token_account("prod", &cloud.url(), &[PROJECT], TOKEN),
        rule("team", &[30], &["team"]),
        rule("oncall", &[30, 7], &["pager"]),
        webhook_receiver("team", &team.url()),
        webhook_receiver("pager", &pager.url()),
    ));
    let app =
        App::build(Config::load_with_env(&ws.config_path(), &[]).expect("config")).expect("app");
    let mut store = StateStore::open(ws.state_path()).expect("state");
    store
        .add_silence(
            &storage_only(),
            t0(),
            t0() + TimeDelta::days(10),
            "PO",
            "alice",
        )
        .expect("silence");
    let serve = |days: i64| {
        cloud.set_packages(Some(PROJECT), packages(&[(STORAGE.0, STORAGE.1, 2, days)]));
    };
    // Stage 30 for both rules, held; then stage 7, which only `oncall` (pager) has, held too.
    serve(20);
    assert_eq!(
        cycle::run_cycle(
            &app,
            &mut store,
            CycleOptions::default(),
            t0() + TimeDelta::hours(1)
        )
        .await
        .expect("cycle")
        .silenced,
        2,
        "each rule decides its own stage 30"
    );
    serve(6);
    assert_eq!(
        cycle::run_cycle(
            &app,
            &mut store,
            CycleOptions::default(),
            t0() + TimeDelta::days(1)
        )
        .await
        .expect("cycle")
        .silenced,
        1
    );
    assert!(team.received().is_empty() && pager.received().is_empty());

    // The silence ends: `team` gets its stage-30 alert (no later stage reached it); `pager`
    // gets stage 7 only (its stage 30 was replaced by the later one it also had).
    let after = cycle::run_cycle(
        &app,
        &mut store,
        CycleOptions::default(),
        t0() + TimeDelta::days(11),
    )
    .await
    .expect("cycle");
    assert_eq!(after.released.released, 2, "{:?}", after.released);
    assert_eq!(after.released.dropped, 1, "{:?}", after.released);
    let thresholds = |hook: &WebhookReceiver| -> Vec<i64> {
        hook.received()
            .iter()
            .flat_map(|r| alerts_of(&r.json()))
            .filter_map(|a| a["threshold"].as_i64())
            .collect()
    };
    assert_eq!(thresholds(&team), vec![30]);
    assert_eq!(thresholds(&pager), vec![7]);
}
