//! Auto-renewing subscriptions through the whole cycle (issue 14, point 3): a renewal that did
//! not happen is one `auto_renew_failed`, a balance short of the coming renewals is one
//! `auto_renew_at_risk` per step, a funded balance says nothing, and a billing API that cannot
//! price or tell the balance fails nothing else. Against the fake cloud's billing API on
//! 127.0.0.1 (AK/SK signatures checked with `X-Domain-Id`), the library's cycle and a state
//! file.

mod support;

use chrono::Utc;
use renewd::app::App;
use renewd::config::Config;
use renewd::cycle::{run_cycle, CycleReport};
use renewd::model::{AlertKind, Severity};
use renewd::state::StateStore;
use serde_json::Value;
use support::fake_billing::{cash_balance, expiring_in, resource, AK, DOMAIN_ID, SK};
use support::fake_cloud::FakeCloud;
use support::harness::{daemon_section, Workspace};

/// A main resource that renews itself at the end of its term.
fn auto_renewing(id: &str, days: i64) -> Value {
    let mut r = resource(id, &expiring_in(days));
    r["expire_policy"] = 3.into();
    r
}

struct Setup {
    fake: FakeCloud,
    _ws: Workspace,
    app: App,
    store: StateStore,
}

impl Setup {
    /// One account watching only its subscriptions, one rule with `rule_extra`, a log receiver.
    async fn new(rule_extra: &str) -> Setup {
        let fake = FakeCloud::start().await;
        fake.add_access_key(AK, SK);
        fake.set_key_domain(AK, DOMAIN_ID);
        let ws = Workspace::new();
        let url = fake.url();
        ws.write_config(&format!(
            "{}[[accounts]]\nname = \"prod\"\nregion = \"cn-north-4\"\npackages = false\n\
             auth = {{ method = \"aksk\", ak = \"{AK}\", sk = \"{SK}\", domain_id = \"{DOMAIN_ID}\" }}\n\
             [accounts.subscriptions]\nendpoint = \"{url}\"\nauto_renew_check_days = 7\n\n\
             [[rules]]\nname = \"default\"\nthresholds = [30, 7, 1]\nreceivers = [\"journal\"]\n{rule_extra}\n\n\
             [receivers.journal]\ntype = \"log\"\n",
            daemon_section(&ws, ""),
        ));
        let config = Config::load_with_env(&ws.config_path(), &[]).expect("config");
        let app = App::build(config).expect("app");
        let store = StateStore::open(ws.state_path()).expect("state");
        Setup {
            fake,
            _ws: ws,
            app,
            store,
        }
    }

    async fn cycle(&mut self) -> CycleReport {
        let report = run_cycle(&self.app, &mut self.store, Default::default(), Utc::now())
            .await
            .expect("cycle");
        assert_eq!(report.failed_polls(), 0, "{:#?}", report.polls);
        report
    }
}

fn of_kind(report: &CycleReport, kind: AlertKind) -> Vec<&renewd::model::Alert> {
    report.alerts.iter().filter(|a| a.kind == kind).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_that_did_not_happen_is_one_auto_renew_failed() {
    let mut s = Setup::new("").await;
    // Its term ended yesterday and it is still in use with the same expiry.
    s.fake.set_billing_resources(vec![auto_renewing("db", -1)]);
    let first = s.cycle().await;
    let kinds: Vec<AlertKind> = first.alerts.iter().map(|a| a.kind).collect();
    assert_eq!(kinds, [AlertKind::AutoRenewFailed]);
    assert_eq!(first.alerts[0].severity, Severity::Critical);
    assert!(s.cycle().await.alerts.is_empty(), "once");
    // Nothing renews soon: no price or balance is asked for.
    assert!(s.fake.renew_rate_queries().is_empty());
    assert_eq!(s.fake.balance_queries(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_auto_renewals_raise_no_expiring_but_a_status_change() {
    let mut s = Setup::new("auto_renew = \"quiet\"").await;
    s.fake.set_renewal_price("db", "10.00");
    s.fake.set_balance(cash_balance("1000"));
    s.fake.set_billing_resources(vec![auto_renewing("db", 5)]);
    assert!(s.cycle().await.alerts.is_empty());
    let mut frozen = auto_renewing("db", 5);
    frozen["status"] = 9.into();
    s.fake.set_billing_resources(vec![frozen]);
    let kinds: Vec<AlertKind> = s.cycle().await.alerts.iter().map(|a| a.kind).collect();
    assert_eq!(kinds, [AlertKind::StatusChanged]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_balance_warns_once_then_turns_critical_once() {
    let mut s = Setup::new("").await;
    s.fake.set_renewal_price("db", "0.10");
    s.fake.set_renewal_price("cache", "0.20");
    s.fake.set_balance(cash_balance("0.29"));
    s.fake.set_billing_resources(vec![auto_renewing("db", 5)]);
    // 0.29 covers 0.10: nothing.
    let covered = s.cycle().await;
    assert!(covered.alerts.is_empty(), "{:#?}", covered.alerts);
    assert_eq!(s.fake.balance_queries(), 1);

    // A second resource renews within the week: 0.10 + 0.20 = 0.30 > 0.29.
    s.fake
        .set_billing_resources(vec![auto_renewing("db", 5), auto_renewing("cache", 3)]);
    let short = s.cycle().await;
    let at_risk = of_kind(&short, AlertKind::AutoRenewAtRisk);
    assert_eq!(at_risk.len(), 1, "{:#?}", short.alerts);
    assert_eq!(short.alerts.len(), 1);
    let warning = at_risk[0];
    assert_eq!(warning.severity, Severity::Warning);
    assert_eq!(warning.remain_days, Some(3));
    for part in ["0.29 CNY", "0.30 CNY", "vm-db", "vm-cache"] {
        assert!(
            warning.summary.contains(part),
            "{part}: {}",
            warning.summary
        );
    }
    assert!(s.cycle().await.alerts.is_empty(), "once per step");

    // One of them is a day from its end: critical, once.
    s.fake
        .set_billing_resources(vec![auto_renewing("db", 5), auto_renewing("cache", 1)]);
    let critical = s.cycle().await;
    let at_risk = of_kind(&critical, AlertKind::AutoRenewAtRisk);
    assert_eq!(at_risk.len(), 1, "{:#?}", critical.alerts);
    assert_eq!(at_risk[0].severity, Severity::Critical);
    assert_ne!(at_risk[0].id, warning.id);
    assert!(s.cycle().await.alerts.is_empty());

    // Topped up: nothing, and the episode is over.
    s.fake.set_balance(cash_balance("100"));
    assert!(s.cycle().await.alerts.is_empty());
    let health = s
        .store
        .poll_health(&renewd::model::Scope::subscriptions("prod"))
        .expect("read")
        .expect("health");
    assert_eq!(health.funds_at_risk, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_funds_check_fails_nothing_else() {
    let mut s = Setup::new("").await;
    s.fake.set_renewal_price("db", "100");
    s.fake.set_balance(cash_balance("1"));
    s.fake.set_billing_resources(vec![auto_renewing("db", 5)]);
    s.fake.set_funds_down(true);
    let report = s.cycle().await;
    assert!(report.alerts.is_empty(), "{:#?}", report.alerts);
    assert_eq!(report.package_count, 1);
    assert!(!s.fake.renew_rate_queries().is_empty());
    // Back: the shortfall is found and told.
    s.fake.set_funds_down(false);
    let report = s.cycle().await;
    assert_eq!(of_kind(&report, AlertKind::AutoRenewAtRisk).len(), 1);
}
