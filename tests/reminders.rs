//! `repeat_below` / `repeat_every` reminders over simulated days (issue 6): the library's cycle
//! at controlled times against the fake gateway and a real webhook receiver, with the runtime
//! and the state file dropped and reopened between days as a restarted daemon would.
//!
//! The simulated days lie in the past (the last one a little before the real now), because a
//! cycle's deliveries are due at its start and the outbox sends what is due by the real clock.

mod support;

use chrono::{DateTime, TimeDelta, Utc};
use renewd::app::App;
use renewd::config::Config;
use renewd::cycle::{self, CycleOptions, CycleReport};
use renewd::model::AlertKind;
use renewd::state::StateStore;
use support::fake_cloud::FakeCloud;
use support::harness::*;
use support::webhook_receiver::WebhookReceiver;

/// A fake gateway, a webhook, and a rule with thresholds 30/14/7/3 that reminds daily at or
/// below 3 days.
struct Setup {
    cloud: FakeCloud,
    hook: WebhookReceiver,
    ws: Workspace,
}

impl Setup {
    async fn new() -> Setup {
        let cloud = FakeCloud::start().await;
        cloud.add_token(TOKEN);
        let hook = WebhookReceiver::start();
        let ws = Workspace::new();
        let config = format!(
            "{}{}[[rules]]\nname = \"default\"\nthresholds = [30, 14, 7, 3]\nreceivers = [\"ops\"]\nrepeat_below = 3\nrepeat_every = \"1d\"\n\n{}",
            daemon_section(&ws, ""),
            token_account("prod", &cloud.url(), &[PROJECT], TOKEN),
            webhook_receiver("ops", &hook.url()),
        );
        ws.write_config(&config);
        Setup { cloud, hook, ws }
    }

    fn serve(&self, status: i64, days: i64) {
        self.cloud
            .set_packages(Some(PROJECT), packages(&[("pkg", "r1", status, days)]));
    }

    /// A daemon as it starts: the config loaded, the state file opened.
    fn start(&self) -> Daemon {
        let config = Config::load_with_env(&self.ws.config_path(), &[]).expect("config");
        Daemon {
            runtime: App::build(config).expect("runtime"),
            store: StateStore::open(self.ws.state_path()).expect("state"),
        }
    }
}

struct Daemon {
    runtime: App,
    store: StateStore,
}

impl Daemon {
    async fn cycle(&mut self, at: DateTime<Utc>) -> CycleReport {
        let report = cycle::run_cycle(&self.runtime, &mut self.store, CycleOptions::default(), at)
            .await
            .expect("cycle");
        assert_eq!(report.failed_polls(), 0, "{:#?}", report.polls);
        assert_eq!(report.deliveries.pending, 0, "{:#?}", report.deliveries);
        report
    }
}

fn kinds(report: &CycleReport) -> Vec<(AlertKind, bool)> {
    report.alerts.iter().map(|a| (a.kind, a.reminder)).collect()
}

#[tokio::test]
async fn reminders_fire_after_the_interval_survive_restarts_and_stop_after_renewal() {
    let s = Setup::new().await;
    let t0 = Utc::now() - TimeDelta::days(4);
    s.serve(2, 3);

    let mut daemon = s.start();
    let first = daemon.cycle(t0).await;
    assert_eq!(kinds(&first), vec![(AlertKind::Expiring, false)]);
    assert_eq!(first.alerts[0].threshold, Some(3));
    let first_id = first.alerts[0].id.clone();

    // Not before the interval.
    let early = daemon.cycle(t0 + TimeDelta::hours(23)).await;
    assert!(early.alerts.is_empty(), "{:#?}", early.alerts);

    // Restarted: the time of the last alert came from the state file.
    drop(daemon);
    let mut daemon = s.start();
    s.serve(2, 2);
    let reminder = daemon
        .cycle(t0 + TimeDelta::days(1) + TimeDelta::minutes(5))
        .await;
    assert_eq!(kinds(&reminder), vec![(AlertKind::Expiring, true)]);
    let reminder_id = reminder.alerts[0].id.clone();
    assert_ne!(reminder_id, first_id, "a reminder is its own decision");
    assert_eq!(reminder.alerts[0].remain_days, Some(2));

    // The interval counts from the reminder, not from the first alert.
    let between = daemon
        .cycle(t0 + TimeDelta::days(1) + TimeDelta::hours(12))
        .await;
    assert!(between.alerts.is_empty(), "{:#?}", between.alerts);
    drop(daemon);
    let mut daemon = s.start();
    let again = daemon
        .cycle(t0 + TimeDelta::days(1) + TimeDelta::hours(23))
        .await;
    assert!(again.alerts.is_empty(), "{:#?}", again.alerts);
    let second = daemon
        .cycle(t0 + TimeDelta::days(2) + TimeDelta::minutes(10))
        .await;
    assert_eq!(kinds(&second), vec![(AlertKind::Expiring, true)]);
    assert_ne!(second.alerts[0].id, reminder_id);

    // Renewed: a renewed notice, and no more reminders.
    s.serve(2, 368);
    let renewed = daemon
        .cycle(t0 + TimeDelta::days(2) + TimeDelta::hours(6))
        .await;
    assert_eq!(kinds(&renewed), vec![(AlertKind::Renewed, false)]);
    drop(daemon);
    let mut daemon = s.start();
    for day in [3, 4] {
        let later = daemon
            .cycle(t0 + TimeDelta::days(day) - TimeDelta::minutes(30))
            .await;
        assert!(later.alerts.is_empty(), "day {day}: {:#?}", later.alerts);
    }

    // What the receiver got: the alert, two reminders, the renewal — one message each.
    let received: Vec<serde_json::Value> = s.hook.received().iter().map(|r| r.json()).collect();
    assert_eq!(received.len(), 4, "{received:#?}");
    let reminders: Vec<bool> = received
        .iter()
        .map(|b| alerts_of(b)[0]["reminder"] == true)
        .collect();
    assert_eq!(reminders, vec![false, true, true, false]);
    assert_eq!(alerts_of(&received[3])[0]["kind"], "renewed");
}

#[tokio::test]
async fn expired_packages_are_reminded_until_renewed() {
    let s = Setup::new().await;
    let t0 = Utc::now() - TimeDelta::days(3);
    s.serve(5, 0);

    let mut daemon = s.start();
    let first = daemon.cycle(t0).await;
    assert_eq!(kinds(&first), vec![(AlertKind::Expired, false)]);
    drop(daemon);

    let mut daemon = s.start();
    let next_day = daemon.cycle(t0 + TimeDelta::days(1)).await;
    assert_eq!(kinds(&next_day), vec![(AlertKind::Expired, true)]);
    assert_ne!(next_day.alerts[0].id, first.alerts[0].id);

    s.serve(2, 365);
    let renewed = daemon
        .cycle(t0 + TimeDelta::days(1) + TimeDelta::hours(1))
        .await;
    assert!(
        kinds(&renewed).contains(&(AlertKind::Renewed, false)),
        "{:#?}",
        renewed.alerts
    );
    assert!(
        renewed.alerts.iter().all(|a| !a.reminder),
        "{:#?}",
        renewed.alerts
    );
    let after = daemon
        .cycle(t0 + TimeDelta::days(2) + TimeDelta::hours(1))
        .await;
    assert!(after.alerts.is_empty(), "{:#?}", after.alerts);
}

#[tokio::test]
async fn no_reminders_above_repeat_below() {
    let s = Setup::new().await;
    let t0 = Utc::now() - TimeDelta::days(3);
    // Stage 7: alerted once, but 6 days is above repeat_below = 3.
    s.serve(2, 6);
    let mut daemon = s.start();
    assert_eq!(
        kinds(&daemon.cycle(t0).await),
        vec![(AlertKind::Expiring, false)]
    );
    s.serve(2, 5);
    let later = daemon.cycle(t0 + TimeDelta::days(1)).await;
    assert!(later.alerts.is_empty(), "{:#?}", later.alerts);
    s.serve(2, 4);
    let later = daemon.cycle(t0 + TimeDelta::days(2)).await;
    assert!(later.alerts.is_empty(), "{:#?}", later.alerts);
    assert_eq!(s.hook.received().len(), 1);
}
