//! The subscriptions source against the fake cloud's billing API on 127.0.0.1: every page of a
//! listing or an error, a total that moves mid-listing, a failing page, and the global-service
//! authentication (AK/SK with `X-Domain-Id`, configured or looked up once from IAM; a
//! domain-scoped IAM token).

mod support;

use chrono::Utc;
use renewd::config::{AccountConfig, AuthConfig, BillingSite, Secret, SubscriptionsConfig};
use renewd::huawei::{ApiError, ApiErrorKind};
use renewd::model::{Scope, SourceKind};
use renewd::sources::codearts::CodeArtsClient;
use renewd::sources::subscriptions::SubscriptionsClient;
use renewd::sources::{PollResult, Source};
use serde_json::{json, Value};
use std::time::Duration;
use support::fake_billing::{expiring_in, resource, AK, DOMAIN_ID, SK};
use support::fake_cloud::{test_http_client, FakeCloud};

fn resources(n: usize, days: i64) -> Vec<Value> {
    (0..n)
        .map(|i| resource(&format!("r{i:05}"), &expiring_in(days)))
        .collect()
}

fn subscriptions(fake: &FakeCloud) -> SubscriptionsConfig {
    SubscriptionsConfig {
        endpoint: Some(fake.url()),
        site: BillingSite::Cn,
        status: vec![2, 4, 5],
        main_only: true,
        service_types: vec![],
        auto_renew_check_days: 7,
    }
}

fn aksk(domain_id: Option<&str>, iam: Option<String>) -> AuthConfig {
    AuthConfig::Aksk {
        ak: AK.into(),
        sk: Some(Secret::new(SK)),
        sk_file: None,
        security_token: None,
        security_token_file: None,
        project_id: None,
        domain_id: domain_id.map(str::to_string),
        iam_endpoint: iam,
    }
}

fn account(fake: &FakeCloud, auth: AuthConfig) -> AccountConfig {
    let mut account = fake.account("prod", &[], auth);
    account.subscriptions = Some(subscriptions(fake));
    account
}

fn client(account: &AccountConfig, page_size: u32) -> SubscriptionsClient {
    SubscriptionsClient::new(
        account,
        account.subscriptions.as_ref().expect("subscriptions"),
        Some(30),
        test_http_client(),
        Duration::from_secs(5),
    )
    .expect("client builds")
    .with_retry_base(Duration::from_millis(10))
    .with_page_size(page_size)
}

fn keyed_fake() -> FakeCloud {
    let fake = futures_block(FakeCloud::start());
    fake.add_access_key(AK, SK);
    fake.set_key_domain(AK, DOMAIN_ID);
    fake
}

fn futures_block<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

async fn fetch(client: &SubscriptionsClient) -> Result<PollResult, ApiError> {
    client.fetch(&Scope::subscriptions("prod")).await
}

fn offsets(fake: &FakeCloud) -> Vec<u64> {
    fake.billing_queries()
        .iter()
        .map(|q| q["offset"].as_u64().expect("offset"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_is_read_until_the_total() {
    let fake = keyed_fake();
    fake.set_billing_resources(resources(1234, 10));
    let client = client(&account(&fake, aksk(Some(DOMAIN_ID), None)), 500);
    assert_eq!(client.scopes(), vec![Scope::subscriptions("prod")]);
    let poll = fetch(&client).await.expect("listed");
    assert_eq!(poll.packages.len(), 1234);
    assert!(poll.bad_entries.is_empty());
    assert_eq!(offsets(&fake), vec![0, 500, 1000]);
    let first = &fake.billing_queries()[0];
    assert_eq!(first["limit"], 500);
    assert_eq!(first["only_main_resource"], 0);
    assert_eq!(first["status_list"], json!([2, 4, 5]));
    // The window: the largest threshold (30) and the margin (30) ahead, to the billing day's end.
    assert_eq!(first["expire_time_end"], json!(expiring_in(60)));
    let item = &poll.packages[0];
    assert_eq!(item.scope.source, SourceKind::Subscriptions);
    assert_eq!(item.key, "hws.resource.type.vm");
    assert_eq!(item.remain_days, 10);
    assert_eq!(item.status_name(), "in_use");
    assert!(item
        .next_action_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://account.huaweicloud.com/")));
    let mut ids: Vec<&str> = poll
        .packages
        .iter()
        .map(|p| p.resource_id.as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 1234);
    // Resources beyond the window are not listed.
    let mut beyond = resources(3, 10);
    beyond.push(resource("far", &expiring_in(300)));
    fake.set_billing_resources(beyond);
    assert_eq!(fetch(&client).await.expect("listed").packages.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_total_that_moves_restarts_the_listing_once() {
    let fake = keyed_fake();
    fake.set_billing_resources(resources(1234, 10));
    // One resource is bought after the first page.
    fake.grow_billing_after(1, 1);
    let client = client(&account(&fake, aksk(Some(DOMAIN_ID), None)), 500);
    let poll = fetch(&client).await.expect("listed again");
    assert_eq!(poll.packages.len(), 1235);
    assert_eq!(offsets(&fake), vec![0, 500, 0, 500, 1000]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_total_that_moves_twice_fails_the_scope() {
    let fake = keyed_fake();
    fake.set_billing_resources(resources(1234, 10));
    fake.grow_billing_after(1, 10);
    let client = client(&account(&fake, aksk(Some(DOMAIN_ID), None)), 500);
    let error = fetch(&client).await.expect_err("never the same twice");
    assert_eq!(error.kind, ApiErrorKind::Api);
    assert!(
        error.message.contains("changed while they were listed"),
        "{error}"
    );
    assert_eq!(offsets(&fake), vec![0, 500, 0, 500]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_fails_once_is_retried() {
    let fake = keyed_fake();
    fake.set_billing_resources(resources(1234, 10));
    fake.fail_billing_page(500, Some(1));
    let client = client(&account(&fake, aksk(Some(DOMAIN_ID), None)), 500);
    let poll = fetch(&client).await.expect("retried");
    assert_eq!(poll.packages.len(), 1234);
    assert_eq!(offsets(&fake), vec![0, 500, 500, 1000]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_always_fails_fails_the_whole_scope() {
    let fake = keyed_fake();
    fake.set_billing_resources(resources(1234, 10));
    fake.fail_billing_page(500, None);
    let client = client(&account(&fake, aksk(Some(DOMAIN_ID), None)), 500);
    let error = fetch(&client).await.expect_err("no partial listing");
    assert_eq!(error.kind, ApiErrorKind::Http);
    assert_eq!(error.http_status, Some(500));
    assert_eq!(error.code.as_deref(), Some("CBC.0999"));
    assert_eq!(error.scope, Scope::subscriptions("prod"));
    assert!(
        error.to_string().contains("account prod subscriptions"),
        "{error}"
    );
    // Three attempts at page 2, and page 3 never asked for.
    assert_eq!(offsets(&fake), vec![0, 500, 500, 500]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_domain_id_is_looked_up_once_and_kept() {
    let fake = keyed_fake();
    fake.set_billing_resources(resources(3, 10));
    let client = client(&account(&fake, aksk(None, Some(fake.url()))), 500);
    for _ in 0..3 {
        assert_eq!(fetch(&client).await.expect("listed").packages.len(), 3);
    }
    assert_eq!(fake.domain_lookups(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_domain_id_is_refused_by_the_gateway() {
    let fake = keyed_fake();
    let client = client(
        &account(&fake, aksk(Some("e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0"), None)),
        500,
    );
    let error = fetch(&client).await.expect_err("refused");
    assert_eq!(error.kind, ApiErrorKind::Auth);
    assert_eq!(error.code.as_deref(), Some("APIG.0301"));
    assert!(fake.billing_queries().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_auth_logs_in_to_the_domain_apart_from_the_project_login() {
    let fake = FakeCloud::start().await;
    fake.set_iam_user("corp", "renewd", "s3cr3t");
    fake.set_billing_resources(resources(2, 10));
    let account = account(&fake, fake.password_auth("corp", "renewd", "s3cr3t"));
    let billing = client(&account, 500);
    let codearts =
        CodeArtsClient::new(&account, test_http_client(), Duration::from_secs(5)).expect("client");
    for _ in 0..2 {
        assert_eq!(fetch(&billing).await.expect("listed").packages.len(), 2);
        codearts
            .fetch(&Scope::packages("prod", None))
            .await
            .expect("packages");
    }
    // One login each, cached apart: a domain-scoped token for billing, a project one for CodeArts.
    let mut scopes = fake.login_scopes();
    scopes.sort();
    assert_eq!(scopes, vec!["cn-north-4", "domain:corp"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_token_must_be_domain_scoped() {
    let fake = FakeCloud::start().await;
    fake.add_token("project-token");
    fake.add_domain_token("domain-token");
    fake.set_billing_resources(resources(2, 10));
    let refused = client(&account(&fake, FakeCloud::token_auth("project-token")), 500);
    let error = fetch(&refused).await.expect_err("a project token");
    assert_eq!(error.kind, ApiErrorKind::Auth);
    assert!(error.message.contains("not scoped to a domain"), "{error}");
    let accepted = client(&account(&fake, FakeCloud::token_auth("domain-token")), 500);
    assert_eq!(fetch(&accepted).await.expect("listed").packages.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_resources_outside_the_window_are_asked_for_by_id() {
    let fake = keyed_fake();
    let mut listed = resources(2, 10);
    // Renewed since the last cycle: a year ahead now, outside the window.
    listed.push(resource("renewed", &expiring_in(375)));
    fake.set_billing_resources(listed);
    let client = client(&account(&fake, aksk(Some(DOMAIN_ID), None)), 500);
    assert!(client.needs_known_items());
    let known = vec![
        "r00000".to_string(),
        "renewed".to_string(),
        "gone".to_string(),
    ];
    let poll = client
        .fetch_knowing(&Scope::subscriptions("prod"), &known)
        .await
        .expect("listed");
    let mut ids: Vec<(&str, i64)> = poll
        .packages
        .iter()
        .map(|p| (p.resource_id.as_str(), p.remain_days))
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, vec![("r00000", 10), ("r00001", 10), ("renewed", 375)]);
    let by_id = &fake.billing_queries()[1];
    assert_eq!(by_id["resource_ids"], json!(["renewed", "gone"]));
    assert!(by_id.get("expire_time_end").is_none() && by_id.get("status_list").is_none());
}

/// A workspace whose config watches one account of `fake` with both sources (CodeArts as a
/// whole, and its subscriptions) and tells a `log` receiver.
fn both_sources_workspace(fake: &FakeCloud) -> support::harness::Workspace {
    use support::harness::{daemon_section, rule, Workspace};
    let ws = Workspace::new();
    let url = fake.url();
    ws.write_config(&format!(
        "{}[[accounts]]\nname = \"prod\"\nregion = \"cn-north-4\"\nendpoint = \"{url}\"\n\
         auth = {{ method = \"aksk\", ak = \"{AK}\", sk = \"{SK}\", iam_endpoint = \"{url}\" }}\n\
         [accounts.subscriptions]\nendpoint = \"{url}\"\n\n{}[receivers.journal]\ntype = \"log\"\n",
        daemon_section(&ws, ""),
        rule("default", &[30, 7], &["journal"]),
    ));
    ws
}

/// Whole cycles with both sources of one account, the CodeArts account scope beside the
/// subscriptions scope: a failing billing page fails the subscriptions poll and vanishes none of
/// its items, and a CodeArts poll never vanishes a subscription (nor the other way round).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_listing_vanishes_nothing_and_sources_do_not_vanish_each_other() {
    use renewd::app::App;
    use renewd::config::Config;
    use renewd::model::AlertKind;
    use renewd::state::StateStore;

    let fake = keyed_fake();
    fake.set_billing_resources(resources(1234, 10));
    let ws = both_sources_workspace(&fake);
    let config = Config::load_with_env(&ws.config_path(), &[]).expect("config");
    let app = App::build(config).expect("app");
    assert_eq!(app.sources.len(), 2);
    let mut store = StateStore::open(ws.state_path()).expect("state");
    let first = cycle(&app, &mut store).await;
    assert_eq!(first.failed_polls(), 0);
    assert_eq!(first.package_count, 1234 + 2);

    // Page 2 fails for good: the subscriptions poll fails, nothing vanishes.
    fake.fail_billing_page(500, None);
    let second = cycle(&app, &mut store).await;
    assert_eq!(second.failed_polls(), 1);
    assert!(second.alerts.iter().all(|a| a.kind != AlertKind::Vanished));
    let billing = store
        .package_states(&Scope::subscriptions("prod"))
        .expect("states");
    assert_eq!(billing.len(), 1234);
    assert!(billing.iter().all(|(_, s)| !s.vanished));

    // The CodeArts account scope lists none of them and vanishes none of them; the billing
    // listing, whole again, vanishes no CodeArts package.
    fake.fail_billing_page(9_999_999, None);
    let third = cycle(&app, &mut store).await;
    assert_eq!(third.failed_polls(), 0);
    assert!(third.alerts.iter().all(|a| a.kind != AlertKind::Vanished));
    assert_eq!(
        store
            .package_states(&Scope::packages("prod", None))
            .expect("states")
            .len(),
        2
    );
}

async fn cycle(
    app: &renewd::app::App,
    store: &mut renewd::state::StateStore,
) -> renewd::cycle::CycleReport {
    renewd::cycle::run_cycle(app, store, Default::default(), Utc::now())
        .await
        .expect("cycle")
}

// --- renewal prices and the balance ---------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_prices_are_asked_ten_at_a_time_and_summed_as_decimals() {
    use renewd::model::RenewalFunds;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    let fake = keyed_fake();
    let ids: Vec<String> = (0..23).map(|i| format!("r{i:02}")).collect();
    for (i, id) in ids.iter().enumerate() {
        // 0.10 and 0.20, alternately: sums no floating-point number adds up exactly.
        fake.set_renewal_price(id, if i % 2 == 0 { "0.10" } else { "0.20" });
    }
    fake.set_balance(support::fake_billing::cash_balance("3.4"));
    let client = client(&account(&fake, aksk(Some(DOMAIN_ID), None)), 500);
    let funds: RenewalFunds = client
        .renewal_funds(&Scope::subscriptions("prod"), &ids)
        .await
        .expect("priced")
        .expect("the billing source prices renewals");
    let sizes: Vec<usize> = fake
        .renew_rate_queries()
        .iter()
        .map(|q| q["resource_ids"].as_array().expect("ids").len())
        .collect();
    assert_eq!(sizes, [10, 10, 3]);
    let first = &fake.renew_rate_queries()[0];
    assert_eq!(first["period_type"], 2);
    assert_eq!(first["period_num"], 1);
    assert_eq!(first["include_relative_resources"], true);
    assert_eq!(fake.balance_queries(), 1);
    assert_eq!(funds.currency, "CNY");
    assert_eq!(funds.prices.len(), 23);
    // 12 x 0.10 + 11 x 0.20 = 3.40, exactly; the balance 3.4 covers it to the cent.
    assert_eq!(funds.total(), Decimal::from_str("3.40").unwrap());
    assert_eq!(funds.balance, Decimal::from_str("3.4").unwrap());
    assert!(funds.balance >= funds.total());
    assert!(funds.unpriced.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpriced_resources_are_named_and_failures_are_errors() {
    let fake = keyed_fake();
    fake.set_renewal_price("known", "532.00");
    let client = client(&account(&fake, aksk(Some(DOMAIN_ID), None)), 500);
    let scope = Scope::subscriptions("prod");
    let ids = ["known".to_string(), "gone".to_string()];
    let funds = client
        .renewal_funds(&scope, &ids)
        .await
        .expect("priced")
        .expect("funds");
    assert_eq!(funds.prices.len(), 1);
    assert_eq!(funds.unpriced, ["gone"]);
    // The documented balance: 128.45 CNY in cash.
    assert_eq!(funds.balance.to_string(), "128.45");

    fake.set_funds_down(true);
    let error = client
        .renewal_funds(&scope, &ids)
        .await
        .expect_err("the billing API is down");
    assert_eq!(error.http_status, Some(500));
    assert_eq!(error.code.as_deref(), Some("CBC.0999"));
}

/// `once --json` and `status --json` of the real binary: every row says which source listed
/// it, and a subscription's row carries what the billing API said of the resource.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_rows_carry_their_source_and_the_resource() {
    let fake = keyed_fake();
    fake.set_billing_resources(resources(2, 10));
    let ws = both_sources_workspace(&fake);
    let check_rows = |rows: &[Value], what: &str| {
        let billing: Vec<&Value> = rows
            .iter()
            .filter(|r| r["source"] == "subscriptions")
            .collect();
        assert_eq!(billing.len(), 2, "{what}: {rows:#?}");
        let r = billing
            .iter()
            .find(|r| r["resource_id"] == "r00001")
            .unwrap_or_else(|| panic!("{what}: {rows:#?}"));
        assert_eq!(r["package"], "hws.resource.type.vm", "{what}");
        assert_eq!(r["resource"]["name"], "vm-r00001", "{what}");
        assert_eq!(r["resource"]["region"], "cn-north-4", "{what}");
        assert_eq!(r["resource"]["service_type_name"], "Elastic Cloud Server");
        assert_eq!(r["resource"]["expire_policy"], 0, "{what}");
        assert_eq!(r["resource"]["enterprise_project"], "default", "{what}");
        assert!(r["resource"]["expire_time"].is_string(), "{what}: {r:#}");
        let codearts: Vec<&Value> = rows.iter().filter(|r| r["source"] == "packages").collect();
        assert_eq!(codearts.len(), 2, "{what}: {rows:#?}");
        // A CodeArts row is as it was, plus its source.
        assert!(
            codearts.iter().all(|r| r.get("resource").is_none()),
            "{what}"
        );
    };
    let once = ws.run(&["once", "--json"]).await;
    once.expect_code(0);
    let report = once.json();
    check_rows(report["packages"].as_array().expect("packages"), "once");
    let status = ws.run(&["status", "--json"]).await;
    status.expect_code(0);
    let doc = status.json();
    check_rows(doc["packages"].as_array().expect("packages"), "status");
    // The tables name a subscription by its name and type.
    let table = ws.run(&["status"]).await;
    assert!(
        table.stdout.contains("vm-r00001 (hws.resource.type.vm)"),
        "{}",
        table.output()
    );
}
