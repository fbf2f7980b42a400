//! Polls that fail, and the three ways of authenticating, end to end (issue 4): `poll_failed`
//! after `failure_alert_after` failed cycles and `poll_recovered` once, across separate
//! processes; IAM password logins (one per cycle, none repeated on a refusal) and AK/SK
//! signatures checked by the fake gateway the way the real one checks them.

mod support;

use chrono::Utc;
use renewd::app::App;
use renewd::config::Config;
use renewd::cycle::{self, CycleOptions};
use renewd::state::StateStore;
use serde_json::Value;
use support::fake_cloud::{Failure, FakeCloud};
use support::harness::*;
use support::webhook_receiver::WebhookReceiver;

const P1: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const P2: &str = "1f2e3d4c5b6a79880716253443526170";
const P3: &str = "2c3d4e5f60718293a4b5c6d7e8f90a1b";

const DOMAIN: &str = "example-domain";
const IAM_USER: &str = "renewd-reader";
const IAM_PASSWORD: &str = "Iam-Passw0rd-5k2";
const AK: &str = "HPUATESTACCESSKEY001";
const SK: &str = "sk-test-9q8w7e6r5t4y3u2i1o0p";

fn bodies(hook: &WebhookReceiver) -> Vec<Value> {
    hook.received().iter().map(|r| r.json()).collect()
}

fn list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("\"{i}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

/// A config with one account (`account` is its `[[accounts]]` block) told to the webhook.
fn config_with_account(
    ws: &Workspace,
    account: &str,
    hook: &WebhookReceiver,
    daemon: &str,
) -> String {
    format!(
        "{}{account}\n{}{}",
        daemon_section(ws, daemon),
        rule("default", &[30, 14, 7, 3, 1, 0], &["ops"]),
        webhook_receiver("ops", &hook.url())
    )
}

fn password_account(cloud: &FakeCloud, projects: &[&str], password: &str) -> String {
    format!(
        "[[accounts]]\nname = \"prod\"\nregion = \"cn-north-4\"\nendpoint = \"{url}\"\nprojects = {}\n\
         auth = {{ method = \"password\", domain = \"{DOMAIN}\", user = \"{IAM_USER}\", password = \"{password}\", iam_endpoint = \"{url}\" }}\n",
        list(projects),
        url = cloud.url(),
    )
}

fn aksk_account(cloud: &FakeCloud, projects: &[&str], ak: &str, sk: &str, extra: &str) -> String {
    format!(
        "[[accounts]]\nname = \"prod\"\nregion = \"cn-north-4\"\nendpoint = \"{}\"\nprojects = {}\n\
         auth = {{ method = \"aksk\", ak = \"{ak}\", sk = \"{sk}\"{extra} }}\n",
        cloud.url(),
        list(projects),
    )
}

#[tokio::test]
async fn poll_failed_after_n_failed_cycles_and_recovered_once_across_restarts() {
    let cloud = FakeCloud::start().await;
    cloud.add_token(TOKEN);
    cloud.set_packages(Some(PROJECT), packages(&[("pkg", "r1", 2, 45)]));
    let hook = WebhookReceiver::start();
    let ws = Workspace::new();
    ws.write_config(&config_with_account(
        &ws,
        &token_account("prod", &cloud.url(), &[PROJECT], TOKEN),
        &hook,
        "failure_alert_after = 3",
    ));

    ws.run(&["once"]).await.expect_code(0);
    assert!(hook.received().is_empty(), "45 days: nothing to say");

    cloud.set_failure(Some(PROJECT), Failure::StatusError);
    // Every run is a new process: the count of failures lives in the state file.
    for n in 1..=2 {
        let run = ws.run(&["once"]).await;
        run.expect_code(1);
        assert!(
            hook.received().is_empty(),
            "not after {n} failure(s)\n{}",
            run.output()
        );
    }
    let third = ws.run(&["once"]).await;
    third.expect_code(1);
    let sent = bodies(&hook);
    assert_eq!(sent.len(), 1, "{}", third.output());
    let alerts = alerts_of(&sent[0]);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = &alerts[0];
    assert_eq!(alert["kind"], "poll_failed");
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["account"], "prod");
    assert_eq!(alert["project_id"], PROJECT);
    let error = &alert["error"];
    assert_eq!(error["error_code"], "DEV.00000002", "{alert:#}");
    assert!(
        error["error_msg"]
            .as_str()
            .is_some_and(|m| m.contains("project does not exist")),
        "{alert:#}"
    );
    assert_eq!(error["consecutive_failures"], 3, "{alert:#}");
    let request_id = error["request_id"].as_str().expect("a request id");
    assert!(!request_id.is_empty());
    let logged = third.events("poll.failed");
    assert_eq!(logged.len(), 1, "{}", third.output());
    assert!(
        logged[0].contains(request_id),
        "the id the gateway gave this request: {request_id} in {}",
        logged[0]
    );

    // Still failing: said once, not repeated.
    ws.run(&["once"]).await.expect_code(1);
    assert_eq!(hook.received().len(), 1);
    let status = ws.run(&["status", "--json"]).await;
    status.expect_code(0);
    assert_eq!(status.json()["polls"][0]["consecutive_failures"], 4);

    // Back: one poll_recovered, then silence.
    cloud.clear_failure(Some(PROJECT));
    ws.run(&["once"]).await.expect_code(0);
    let sent = bodies(&hook);
    assert_eq!(sent.len(), 2);
    let alerts = alerts_of(&sent[1]);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["kind"], "poll_recovered");
    assert_eq!(alerts[0]["project_id"], PROJECT);
    ws.run(&["once"]).await.expect_code(0);
    assert_eq!(hook.received().len(), 2);
}

#[tokio::test]
async fn password_auth_logs_in_once_per_cycle_for_every_project() {
    let cloud = FakeCloud::start().await;
    cloud.set_iam_user(DOMAIN, IAM_USER, IAM_PASSWORD);
    let hook = WebhookReceiver::start();
    let ws = Workspace::new();
    ws.write_config(&config_with_account(
        &ws,
        &password_account(&cloud, &[P1, P2, P3], IAM_PASSWORD),
        &hook,
        "",
    ));

    let run = ws.run(&["once"]).await;
    run.expect_code(0);
    assert_eq!(cloud.login_count(), 1, "{}", run.output());
    assert_eq!(cloud.login_scopes(), vec!["cn-north-4".to_string()]);
    for project in [P1, P2, P3] {
        assert_eq!(cloud.request_count(Some(project)), 1, "{project}");
    }
    assert_eq!(
        alerts_of(&bodies(&hook)[0]).len(),
        6,
        "two packages per project"
    );

    // A new process logs in again, once.
    ws.run(&["once"]).await.expect_code(0);
    assert_eq!(cloud.login_count(), 2);
}

#[tokio::test]
async fn the_daemon_reuses_its_login_and_logs_in_again_when_the_token_expires() {
    let cloud = FakeCloud::start().await;
    cloud.set_iam_user(DOMAIN, IAM_USER, IAM_PASSWORD);
    let hook = WebhookReceiver::start();
    let ws = Workspace::new();
    ws.write_config(&config_with_account(
        &ws,
        &password_account(&cloud, &[P1, P2], IAM_PASSWORD),
        &hook,
        "",
    ));
    let runtime = App::build(Config::load_with_env(&ws.config_path(), &[]).expect("config"))
        .expect("runtime");
    let mut store = StateStore::open(ws.state_path()).expect("state");

    for _ in 0..2 {
        let report = cycle::run_cycle(&runtime, &mut store, CycleOptions::default(), Utc::now())
            .await
            .expect("cycle");
        assert_eq!(report.failed_polls(), 0, "{:#?}", report.polls);
    }
    assert_eq!(cloud.login_count(), 1, "one token serves both cycles");

    cloud.expire_tokens();
    let report = cycle::run_cycle(&runtime, &mut store, CycleOptions::default(), Utc::now())
        .await
        .expect("cycle");
    assert_eq!(report.failed_polls(), 0, "{:#?}", report.polls);
    assert_eq!(cloud.login_count(), 2, "one fresh login after the 401");
    assert_eq!(
        cloud.request_count(Some(P1)),
        4,
        "two cycles, then one rejected and one retried request"
    );
}

#[tokio::test]
async fn a_wrong_password_fails_once_naming_the_account_and_iams_message() {
    const WRONG: &str = "Not-The-Passw0rd-77";
    let cloud = FakeCloud::start().await;
    cloud.set_iam_user(DOMAIN, IAM_USER, IAM_PASSWORD);
    let hook = WebhookReceiver::start();
    let ws = Workspace::new();
    ws.write_config(&config_with_account(
        &ws,
        &password_account(&cloud, &[P1, P2, P3], WRONG),
        &hook,
        "",
    ));

    let run = ws.run_with_env(&["once"], &[("RENEWD_LOG", "debug")]).await;
    run.expect_code(1);
    let out = run.output();
    assert!(out.contains("prod"), "names the account: {out}");
    assert!(
        out.contains("The username or password is wrong."),
        "IAM's message: {out}"
    );
    assert!(!out.contains(WRONG), "{out}");
    assert_eq!(cloud.login_count(), 1, "no retry storm: {out}");
    for project in [P1, P2, P3] {
        assert_eq!(
            cloud.request_count(Some(project)),
            0,
            "no token, no API call"
        );
    }
    assert_eq!(
        run.events("poll.failed").len(),
        3,
        "each project reports it: {out}"
    );
}

#[tokio::test]
async fn aksk_signatures_are_accepted_by_the_gateway() {
    let cloud = FakeCloud::start().await;
    cloud.add_access_key(AK, SK);
    let hook = WebhookReceiver::start();
    let ws = Workspace::new();
    ws.write_config(&config_with_account(
        &ws,
        &aksk_account(
            &cloud,
            &[P1, P2],
            AK,
            SK,
            ", project_id = \"0123456789abcdef0123456789abcdef\"",
        ),
        &hook,
        "",
    ));

    let run = ws.run(&["once"]).await;
    run.expect_code(0);
    for project in [P1, P2] {
        assert_eq!(cloud.request_count(Some(project)), 1);
        let headers = cloud.last_headers(Some(project)).expect("headers");
        let authorization = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            authorization.starts_with(&format!("SDK-HMAC-SHA256 Access={AK}")),
            "{authorization}"
        );
        assert!(headers.contains_key("x-sdk-date"));
        assert_eq!(
            headers.get("x-project-id").and_then(|v| v.to_str().ok()),
            Some("0123456789abcdef0123456789abcdef")
        );
    }
    assert_eq!(hook.received().len(), 1);
    assert!(!run.output().contains(SK));
}

#[tokio::test]
async fn temporary_keys_send_their_security_token() {
    const TEMP_AK: &str = "HPUATEMPACCESSKEY002";
    const TEMP_SK: &str = "sk-temp-1a2s3d4f5g6h";
    const SECURITY_TOKEN: &str = "sts-token-zx9c8v7b6n";
    let cloud = FakeCloud::start().await;
    cloud.add_temporary_access_key(TEMP_AK, TEMP_SK, SECURITY_TOKEN);
    let hook = WebhookReceiver::start();
    let ws = Workspace::new();
    ws.write_config(&config_with_account(
        &ws,
        &aksk_account(
            &cloud,
            &[P1],
            TEMP_AK,
            TEMP_SK,
            &format!(", security_token = \"{SECURITY_TOKEN}\""),
        ),
        &hook,
        "",
    ));

    let run = ws.run(&["once"]).await;
    run.expect_code(0);
    let headers = cloud.last_headers(Some(P1)).expect("headers");
    assert_eq!(
        headers
            .get("x-security-token")
            .and_then(|v| v.to_str().ok()),
        Some(SECURITY_TOKEN)
    );
    assert_eq!(hook.received().len(), 1);
}

#[tokio::test]
async fn a_wrong_secret_key_costs_one_request_per_account_however_many_projects() {
    const WRONG_SK: &str = "sk-wrong-0o9i8u7y6t";
    // More projects than the gateway's lockout count (more than 5 signature failures).
    const PROJECTS: [&str; 7] = [
        "10000000000000000000000000000001",
        "10000000000000000000000000000002",
        "10000000000000000000000000000003",
        "10000000000000000000000000000004",
        "10000000000000000000000000000005",
        "10000000000000000000000000000006",
        "10000000000000000000000000000007",
    ];
    let cloud = FakeCloud::start().await;
    cloud.add_access_key(AK, SK);
    let hook = WebhookReceiver::start();
    let ws = Workspace::new();
    ws.write_config(&config_with_account(
        &ws,
        &aksk_account(&cloud, &PROJECTS, AK, WRONG_SK, ""),
        &hook,
        "",
    ));
    let requests = || -> u32 { PROJECTS.iter().map(|p| cloud.request_count(Some(p))).sum() };

    let run = ws.run(&["once"]).await;
    run.expect_code(1);
    let out = run.output();
    assert_eq!(
        requests(),
        1,
        "one signed request was refused; no more: {out}"
    );
    let failed = run.events("poll.failed");
    assert_eq!(
        failed.len(),
        PROJECTS.len(),
        "every project reports the failure: {out}"
    );
    assert!(
        failed
            .iter()
            .all(|l| l.contains("APIG.0301") && l.contains("http_status=401")),
        "{out}"
    );
    let held = failed
        .iter()
        .filter(|l| l.contains("not sent: the API refused"))
        .count();
    assert_eq!(held, PROJECTS.len() - 1, "all but the one sent: {out}");
    assert!(!out.contains(WRONG_SK), "{out}");

    // A new process knows nothing of the refusal: again one request, no more.
    ws.run(&["once"]).await.expect_code(1);
    assert_eq!(requests(), 2);
}

#[tokio::test]
async fn a_401_after_login_is_retried_once_with_a_fresh_login_and_no_more() {
    let cloud = FakeCloud::start().await;
    cloud.set_iam_user(DOMAIN, IAM_USER, IAM_PASSWORD);
    // The token is valid, but the API keeps answering 401 (e.g. a permission missing).
    cloud.set_failure(Some(P1), Failure::Unauthorized);
    let hook = WebhookReceiver::start();
    let ws = Workspace::new();
    ws.write_config(&config_with_account(
        &ws,
        &password_account(&cloud, &[P1], IAM_PASSWORD),
        &hook,
        "",
    ));

    let run = ws.run(&["once"]).await;
    run.expect_code(1);
    assert_eq!(cloud.login_count(), 2, "one fresh login: {}", run.output());
    assert_eq!(
        cloud.request_count(Some(P1)),
        2,
        "one retry: {}",
        run.output()
    );
    let failed = run.events("poll.failed");
    assert_eq!(failed.len(), 1, "{}", run.output());
    assert!(failed[0].contains("http_status=401"), "{}", failed[0]);
}
