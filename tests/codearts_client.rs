//! The CodeArts client against a fake cloud on 127.0.0.1 that plays the API gateway, the
//! package API and IAM (tests/support/fake_cloud.rs).

mod support;

use renewd::config::{AccountConfig, AuthConfig, Secret};
use renewd::huawei::{ApiError, ApiErrorKind};
use renewd::model::Scope;
use renewd::sources::codearts::CodeArtsClient;
use renewd::sources::Source;
use serde_json::json;
use std::time::Duration;
use support::fake_cloud::{test_http_client, Failure, FakeCloud};

const P1: &str = "666666af0f00445f85dec483fbc97c78";
const P2: &str = "777777af0f00445f85dec483fbc97c78";
const P3: &str = "888888af0f00445f85dec483fbc97c78";
const TOKEN: &str = "MIIstatic-token-0123456789";
const AK: &str = "HPUAFAKEAK0000000001";
const SK: &str = "FakeSecretKey0123456789abcdefghijklmnop";

fn client_with_timeout(account: &AccountConfig, timeout: Duration) -> CodeArtsClient {
    CodeArtsClient::new(account, test_http_client(), timeout)
        .expect("client builds")
        .with_retry_base(Duration::from_millis(10))
}

fn client(account: &AccountConfig) -> CodeArtsClient {
    client_with_timeout(account, Duration::from_secs(10))
}

fn scope(project: Option<&str>) -> Scope {
    Scope {
        account: "prod".into(),
        project_id: project.map(str::to_string),
        source: Default::default(),
    }
}

/// A fake that knows `TOKEN`, and a token-auth client of account `prod` with `projects`.
async fn token_setup(projects: &[&str]) -> (FakeCloud, CodeArtsClient) {
    token_setup_at(projects, renewd::config::DEFAULT_MAX_REQUESTS_PER_SECOND).await
}

/// [`token_setup`] with the account allowed `rate` requests a second.
async fn token_setup_at(projects: &[&str], rate: f64) -> (FakeCloud, CodeArtsClient) {
    let fake = FakeCloud::start().await;
    fake.add_token(TOKEN);
    let mut account = fake.account("prod", projects, FakeCloud::token_auth(TOKEN));
    account.max_requests_per_second = rate;
    let client = client(&account);
    (fake, client)
}

async fn fetch_err(client: &CodeArtsClient, project: Option<&str>) -> ApiError {
    match client.fetch(&scope(project)).await {
        Ok(result) => panic!("expected an error, got {result:?}"),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn documented_example_gives_two_packages() {
    let (fake, client) = token_setup(&[P1]).await;
    assert_eq!(client.account(), "prod");
    assert_eq!(client.scopes(), vec![scope(Some(P1))]);

    let result = client.fetch(&scope(Some(P1))).await.expect("fetch");
    assert_eq!(result.scope, scope(Some(P1)));
    assert!(result.bad_entries.is_empty());
    assert!(result.trace_id.is_some());
    let mut keys: Vec<_> = result.packages.iter().map(|p| p.key.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        ["codeartsStorageExtension", "codeartsTrafficExtension"]
    );
    let traffic = result
        .packages
        .iter()
        .find(|p| p.key == "codeartsTrafficExtension")
        .unwrap();
    assert_eq!(traffic.resource_id, "37c9064954924750b2350e2d03e66666");
    assert_eq!(traffic.remain_days, 11);
    assert_eq!(traffic.status_code(), Some(2));
    assert_eq!(traffic.scope, scope(Some(P1)));
    assert_eq!(fake.request_count(Some(P1)), 1);
    let headers = fake.last_headers(Some(P1)).unwrap();
    assert_eq!(headers.get("x-auth-token").unwrap(), TOKEN);
}

#[tokio::test]
async fn an_account_without_projects_is_asked_as_a_whole() {
    let (fake, client) = token_setup(&[]).await;
    assert_eq!(client.scopes(), vec![scope(None)]);
    let result = client.fetch(&scope(None)).await.expect("fetch");
    assert_eq!(result.packages.len(), 2);
    assert_eq!(fake.request_count(None), 1);
    assert_eq!(fake.request_count(Some(P1)), 0);
}

#[tokio::test]
async fn each_project_gets_its_own_call_and_packages() {
    let (fake, client) = token_setup(&[P1, P2]).await;
    fake.set_packages(
        Some(P2),
        json!({"codeartsStorageExtension": {"resourceId": "r-p2", "remainDays": 3, "packageStatus": 5}}),
    );
    let scopes = client.scopes();
    assert_eq!(scopes, vec![scope(Some(P1)), scope(Some(P2))]);
    let p2 = client.fetch(&scopes[1]).await.expect("fetch p2");
    assert_eq!(p2.packages.len(), 1);
    assert_eq!(p2.packages[0].resource_id, "r-p2");
    assert_eq!(p2.packages[0].status_code(), Some(5));
    assert_eq!(fake.request_count(Some(P2)), 1);
    assert_eq!(fake.request_count(Some(P1)), 0);
}

#[tokio::test]
async fn bad_entries_are_reported_beside_good_ones() {
    let (fake, client) = token_setup(&[P1]).await;
    fake.set_packages(
        Some(P1),
        json!({
            "good": {"resourceId": "r1", "remainDays": 30, "packageStatus": 2, "newField": true},
            "noDays": {"resourceId": "r2", "packageStatus": 2},
            "noId": {"remainDays": 4},
            "textDays": {"resourceId": "r3", "remainDays": "4"}
        }),
    );
    let result = client.fetch(&scope(Some(P1))).await.expect("fetch");
    assert_eq!(result.packages.len(), 1);
    assert_eq!(result.packages[0].key, "good");
    let mut bad: Vec<_> = result
        .bad_entries
        .iter()
        .map(|b| (b.key.as_str(), b.reason.clone()))
        .collect();
    bad.sort();
    assert_eq!(bad.len(), 3);
    assert_eq!(bad[0].0, "noDays");
    assert!(bad[0].1.contains("remainDays"), "{}", bad[0].1);
    assert_eq!(bad[1].0, "noId");
    assert!(bad[1].1.contains("resourceId"), "{}", bad[1].1);
    assert_eq!(bad[2].0, "textDays");
}

// ---------------------------------------------------------------------------------------------
// Error shapes and retries
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn status_error_in_a_200_is_an_api_error() {
    let (fake, client) = token_setup(&[P1]).await;
    fake.set_failure(Some(P1), Failure::StatusError);
    let e = fetch_err(&client, Some(P1)).await;
    assert_eq!(e.kind, ApiErrorKind::Api);
    assert_eq!(e.http_status, Some(200));
    assert_eq!(e.code.as_deref(), Some("DEV.00000002"));
    assert_eq!(e.message, "project does not exist");
    assert!(e.trace_id.is_some());
    assert!(e.request_id.is_some(), "X-Request-Id header is kept");
    assert!(!e.is_auth());
    assert_eq!(fake.request_count(Some(P1)), 1);
}

#[tokio::test]
async fn gateway_401_is_an_auth_error_named_in_full_and_not_retried() {
    let (fake, client) = token_setup(&[P1]).await;
    fake.set_failure(Some(P1), Failure::GatewayUnauthorized);
    let e = fetch_err(&client, Some(P1)).await;
    assert_eq!(e.kind, ApiErrorKind::Auth);
    assert!(e.is_auth());
    assert_eq!(e.http_status, Some(401));
    assert_eq!(e.code.as_deref(), Some("APIG.0301"));
    // The body's request_id wins over the header's.
    assert_eq!(
        e.request_id.as_deref(),
        Some("b9c2c1f2a1d84b3c8e6f1a2b3c4d5e6f")
    );
    assert_eq!(
        e.to_string(),
        format!(
            "account prod project {P1}: HTTP 401 APIG.0301 \"Incorrect IAM authentication information: \
             token expires, expires_at: 2026-11-25T09:05:22.701000Z\" (request_id b9c2c1f2a1d84b3c8e6f1a2b3c4d5e6f)"
        )
    );
    assert!(!e.to_string().contains(TOKEN));
    assert!(!format!("{e:?}").contains(TOKEN));
    let info = e.to_info(2);
    assert_eq!(info.http_status, Some(401));
    assert_eq!(info.error_code.as_deref(), Some("APIG.0301"));
    assert_eq!(info.consecutive_failures, 2);
    assert_eq!(fake.request_count(Some(P1)), 1);
}

#[tokio::test]
async fn v5_401_keeps_its_trace_id() {
    let (fake, client) = token_setup(&[P1]).await;
    fake.set_failure(Some(P1), Failure::Unauthorized);
    let e = fetch_err(&client, Some(P1)).await;
    assert_eq!(e.kind, ApiErrorKind::Auth);
    assert_eq!(e.code.as_deref(), Some("DEV.00000001"));
    assert_eq!(e.trace_id.as_deref(), Some("76629-1718767405716-99999"));
    assert!(
        e.to_string().contains("trace_id 76629-1718767405716-99999"),
        "{e}"
    );
    assert_eq!(fake.request_count(Some(P1)), 1);
}

#[tokio::test]
async fn old_403_shape_is_an_auth_error_with_request_id_from_the_header() {
    let (fake, client) = token_setup(&[P1]).await;
    fake.set_failure(Some(P1), Failure::Forbidden);
    let e = fetch_err(&client, Some(P1)).await;
    assert_eq!(e.kind, ApiErrorKind::Auth);
    assert_eq!(e.http_status, Some(403));
    assert_eq!(e.code.as_deref(), Some("CR.4102"));
    assert_eq!(e.message, "当前用户没有该项目权限");
    assert!(e.request_id.is_some(), "request id from X-Request-Id");
    assert!(e.to_string().contains("HTTP 403 CR.4102"), "{e}");
    assert_eq!(fake.request_count(Some(P1)), 1);
}

#[tokio::test]
async fn server_errors_are_tried_three_times_then_reported() {
    let (fake, client) = token_setup(&[P1]).await;
    fake.set_failure(Some(P1), Failure::ServerError);
    let e = fetch_err(&client, Some(P1)).await;
    assert_eq!(e.kind, ApiErrorKind::Http);
    assert_eq!(e.http_status, Some(500));
    assert_eq!(e.code.as_deref(), Some("DEV.00000500"));
    assert!(e.message.contains("after 3 attempts"), "{e}");
    assert_eq!(fake.request_count(Some(P1)), 3);
}

#[tokio::test]
async fn a_transient_server_error_is_absorbed_by_a_retry() {
    let (fake, client) = token_setup(&[P1]).await;
    fake.set_failure_times(Some(P1), Failure::ServerError, 2);
    let result = client
        .fetch(&scope(Some(P1)))
        .await
        .expect("third attempt succeeds");
    assert_eq!(result.packages.len(), 2);
    assert_eq!(fake.request_count(Some(P1)), 3);
}

/// Waiting out a 429 should cost its pause, not the pace of the default rate halved.
const FAST: f64 = 1000.0;

#[tokio::test]
async fn rate_limiting_is_retried() {
    let (fake, client) = token_setup_at(&[P1], FAST).await;
    fake.set_failure(
        Some(P1),
        Failure::TooManyRequests {
            retry_after_secs: 0,
        },
    );
    let e = fetch_err(&client, Some(P1)).await;
    assert_eq!(e.kind, ApiErrorKind::Http);
    assert_eq!(e.http_status, Some(429));
    assert!(e.message.contains("throttled 20 times"), "{e}");
    // Throttling is waited out rather than given up after three tries, but not for ever.
    assert_eq!(fake.request_count(Some(P1)), 20);
}

#[tokio::test]
async fn a_burst_of_throttling_is_waited_out() {
    let (fake, client) = token_setup_at(&[P1], FAST).await;
    fake.set_failure_times(
        Some(P1),
        Failure::TooManyRequests {
            retry_after_secs: 0,
        },
        5,
    );
    let result = client
        .fetch(&scope(Some(P1)))
        .await
        .expect("polled after the burst");
    assert_eq!(result.packages.len(), 2);
    assert_eq!(fake.request_count(Some(P1)), 6);
}

#[tokio::test]
async fn other_client_errors_are_not_retried() {
    let (fake, client) = token_setup(&[P1]).await;
    fake.set_failure(
        Some(P1),
        Failure::Raw {
            status: 404,
            body: r#"{"error_code":"APIG.0101","error_msg":"The API does not exist"}"#.into(),
        },
    );
    let e = fetch_err(&client, Some(P1)).await;
    assert_eq!(e.kind, ApiErrorKind::Http);
    assert_eq!(e.code.as_deref(), Some("APIG.0101"));
    assert_eq!(fake.request_count(Some(P1)), 1);
}

#[tokio::test]
async fn a_non_json_body_is_a_parse_error_quoting_its_start() {
    let (fake, client) = token_setup(&[P1]).await;
    fake.set_failure(Some(P1), Failure::NonJson);
    let e = fetch_err(&client, Some(P1)).await;
    assert_eq!(e.kind, ApiErrorKind::Parse);
    assert_eq!(e.http_status, Some(200));
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!("account prod project {P1}: HTTP 200 ")),
        "{shown}"
    );
    assert!(
        shown.contains("response is not JSON: <html><body><h1>Service Unavailable"),
        "{shown}"
    );
    assert!(
        !shown.contains('\n'),
        "control characters are replaced: {shown}"
    );
    assert!(shown.contains("request_id"), "{shown}");
    assert_eq!(fake.request_count(Some(P1)), 1);
}

#[tokio::test]
async fn a_non_json_error_page_is_an_http_error_quoting_its_start() {
    let (fake, client) = token_setup(&[P1]).await;
    fake.set_failure(
        Some(P1),
        Failure::Raw {
            status: 502,
            body: "<html>Bad Gateway</html>".into(),
        },
    );
    let e = fetch_err(&client, Some(P1)).await;
    assert_eq!(e.kind, ApiErrorKind::Http);
    assert_eq!(e.http_status, Some(502));
    assert!(e.message.contains("<html>Bad Gateway</html>"), "{e}");
    assert_eq!(fake.request_count(Some(P1)), 3);
}

#[tokio::test]
async fn a_hanging_server_is_cut_off_by_the_timeout() {
    let fake = FakeCloud::start().await;
    fake.add_token(TOKEN);
    let account = fake.account("prod", &[P1], FakeCloud::token_auth(TOKEN));
    let client = client_with_timeout(&account, Duration::from_millis(200));
    fake.set_failure(Some(P1), Failure::Hang);
    let e = fetch_err(&client, Some(P1)).await;
    assert_eq!(e.kind, ApiErrorKind::Timeout);
    assert_eq!(e.http_status, None);
    assert!(
        e.to_string()
            .starts_with(&format!("account prod project {P1}: timeout error")),
        "{e}"
    );
    assert_eq!(fake.request_count(Some(P1)), 3, "timeouts are retried");
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error() {
    // A port that was free a moment ago and has no listener now.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let account = AccountConfig {
        name: "prod".into(),
        region: Some("cn-north-4".into()),
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        projects: renewd::config::Projects::List(vec![P1.into()]),
        projectman_endpoint: None,
        max_requests_per_second: renewd::config::DEFAULT_MAX_REQUESTS_PER_SECOND,
        auth: FakeCloud::token_auth(TOKEN),
        packages: true,
        subscriptions: None,
    };
    let e = fetch_err(&client(&account), Some(P1)).await;
    assert_eq!(e.kind, ApiErrorKind::Transport);
    assert!(!e.is_auth());
    assert!(e.message.contains("connection failed"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// token
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_unknown_or_expired_static_token_is_rejected_with_one_request() {
    let fake = FakeCloud::start().await;
    let account = fake.account("prod", &[P1, P2], FakeCloud::token_auth(TOKEN));
    let client = client(&account);
    let e = fetch_err(&client, Some(P1)).await;
    assert_eq!(e.kind, ApiErrorKind::Auth);
    assert_eq!(e.code.as_deref(), Some("APIG.0301"));
    assert_eq!(fake.request_count(Some(P1)), 1);

    // Refused credentials are held back: the other project fails without a request.
    fake.add_token(TOKEN);
    let held = fetch_err(&client, Some(P2)).await;
    assert_eq!(held.kind, ApiErrorKind::Auth);
    assert_eq!(held.code.as_deref(), Some("APIG.0301"));
    assert!(
        held.message.starts_with("not sent: the API refused"),
        "{held}"
    );
    assert_eq!(fake.request_count(Some(P2)), 0);

    // A new client (a reload) tries the now known token at once.
    let client = self::client(&account);
    client
        .fetch(&scope(Some(P2)))
        .await
        .expect("known token works");
    fake.expire_tokens();
    let e = fetch_err(&client, Some(P2)).await;
    assert!(e.message.contains("token expires"), "{e}");
    assert_eq!(fake.request_count(Some(P2)), 2);
    assert_eq!(fake.login_count(), 0);
}

// ---------------------------------------------------------------------------------------------
// password
// ---------------------------------------------------------------------------------------------

const DOMAIN: &str = "corp";
const USER: &str = "renewd-bot";
const PASSWORD: &str = "Pa55-w0rd-never-shown";

fn password_client(fake: &FakeCloud, password: &str) -> CodeArtsClient {
    fake.set_iam_user(DOMAIN, USER, PASSWORD);
    let auth = fake.password_auth(DOMAIN, USER, password);
    client(&fake.account("prod", &[P1, P2, P3], auth))
}

#[tokio::test]
async fn one_login_serves_every_project() {
    let fake = FakeCloud::start().await;
    let client = password_client(&fake, PASSWORD);
    let scopes = client.scopes();
    let (a, b, c) = tokio::join!(
        client.fetch(&scopes[0]),
        client.fetch(&scopes[1]),
        client.fetch(&scopes[2])
    );
    for result in [a, b, c] {
        assert_eq!(result.expect("fetch").packages.len(), 2);
    }
    client.fetch(&scopes[0]).await.expect("fetch again");
    assert_eq!(fake.login_count(), 1);
    assert_eq!(
        fake.login_scopes(),
        vec!["cn-north-4".to_string()],
        "scoped to the region"
    );
    let token = fake.last_headers(Some(P1)).unwrap();
    assert!(token.get("x-auth-token").is_some());
    assert!(token.get("authorization").is_none());
}

#[tokio::test]
async fn an_explicit_iam_project_scopes_the_login() {
    let fake = FakeCloud::start().await;
    fake.set_iam_user(DOMAIN, USER, PASSWORD);
    let auth = match fake.password_auth(DOMAIN, USER, PASSWORD) {
        AuthConfig::Password {
            domain,
            user,
            password,
            password_file,
            iam_endpoint,
            ..
        } => AuthConfig::Password {
            domain,
            user,
            password,
            password_file,
            project: Some("cn-north-4_sub".into()),
            iam_endpoint,
        },
        other => other,
    };
    let client = client(&fake.account("prod", &[P1], auth));
    client.fetch(&scope(Some(P1))).await.expect("fetch");
    assert_eq!(fake.login_scopes(), vec!["cn-north-4_sub".to_string()]);
}

#[tokio::test]
async fn an_expired_token_gets_exactly_one_new_login() {
    let fake = FakeCloud::start().await;
    let client = password_client(&fake, PASSWORD);
    client.fetch(&scope(Some(P1))).await.expect("first fetch");
    assert_eq!(fake.login_count(), 1);

    fake.expire_tokens();
    let result = client
        .fetch(&scope(Some(P1)))
        .await
        .expect("fetch after re-login");
    assert_eq!(result.packages.len(), 2);
    assert_eq!(fake.login_count(), 2);
    assert_eq!(fake.request_count(Some(P1)), 3, "first, rejected, retried");

    // The new token serves the other projects too.
    client.fetch(&scope(Some(P2))).await.expect("other project");
    assert_eq!(fake.login_count(), 2);
    assert_eq!(fake.request_count(Some(P2)), 1);
}

#[tokio::test]
async fn a_401_that_persists_after_a_new_login_is_reported() {
    let fake = FakeCloud::start().await;
    let client = password_client(&fake, PASSWORD);
    fake.set_failure(Some(P1), Failure::GatewayUnauthorized);
    let e = fetch_err(&client, Some(P1)).await;
    assert_eq!(e.kind, ApiErrorKind::Auth);
    assert_eq!(e.code.as_deref(), Some("APIG.0301"));
    assert_eq!(fake.login_count(), 2, "one login, one re-login, no more");
    assert_eq!(fake.request_count(Some(P1)), 2);
}

#[tokio::test]
async fn a_wrong_password_is_one_login_attempt_and_a_clear_error() {
    let fake = FakeCloud::start().await;
    let wrong = "not-the-password-42";
    let client = password_client(&fake, wrong);
    let e = fetch_err(&client, Some(P1)).await;
    assert_eq!(e.kind, ApiErrorKind::Login);
    assert!(e.is_auth());
    assert_eq!(e.http_status, Some(401));
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!("account prod project {P1}: HTTP 401 ")),
        "{shown}"
    );
    assert!(shown.contains("IAM login of user"), "{shown}");
    assert!(shown.contains(USER) && shown.contains(DOMAIN), "{shown}");
    assert!(
        shown.contains("The username or password is wrong."),
        "{shown}"
    );
    assert!(!shown.contains(wrong) && !format!("{e:?}").contains(wrong));

    // The other projects of the cycle reuse the refusal instead of locking the user.
    let e2 = fetch_err(&client, Some(P2)).await;
    assert_eq!(e2.kind, ApiErrorKind::Login);
    assert_eq!(fake.login_count(), 1);
    assert_eq!(fake.request_count(Some(P1)), 0);
    assert_eq!(fake.request_count(Some(P2)), 0);
}

#[tokio::test]
async fn an_unreachable_iam_is_a_login_error_but_not_an_auth_failure() {
    let fake = FakeCloud::start().await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let auth = AuthConfig::Password {
        domain: DOMAIN.into(),
        user: USER.into(),
        password: Some(Secret::new(PASSWORD)),
        password_file: None,
        project: None,
        iam_endpoint: Some(format!("http://127.0.0.1:{port}")),
    };
    let client = client(&fake.account("prod", &[P1], auth));
    let e = fetch_err(&client, Some(P1)).await;
    assert_eq!(e.kind, ApiErrorKind::Login);
    assert!(!e.is_auth());
    assert!(e.message.contains("connection failed"), "{e}");
    assert_eq!(fake.request_count(Some(P1)), 0);
}

// ---------------------------------------------------------------------------------------------
// aksk
// ---------------------------------------------------------------------------------------------

fn aksk_auth(
    ak: &str,
    sk: &str,
    security_token: Option<&str>,
    project_id: Option<&str>,
) -> AuthConfig {
    AuthConfig::Aksk {
        ak: ak.into(),
        sk: Some(Secret::new(sk)),
        sk_file: None,
        security_token: security_token.map(Secret::new),
        security_token_file: None,
        project_id: project_id.map(str::to_string),
        domain_id: None,
        iam_endpoint: None,
    }
}

#[tokio::test]
async fn a_signed_request_is_accepted() {
    let fake = FakeCloud::start().await;
    fake.add_access_key(AK, SK);
    let client = client(&fake.account("prod", &[P1], FakeCloud::aksk_auth(AK, SK)));
    let result = client
        .fetch(&scope(Some(P1)))
        .await
        .expect("signature accepted");
    assert_eq!(result.packages.len(), 2);
    let headers = fake.last_headers(Some(P1)).unwrap();
    let authorization = headers.get("authorization").unwrap().to_str().unwrap();
    assert!(
        authorization.starts_with(&format!(
            "SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host;x-sdk-date, Signature="
        )),
        "{authorization}"
    );
    assert_eq!(
        headers.get("host").unwrap().to_str().unwrap(),
        fake.url().trim_start_matches("http://"),
        "the signed Host is host:port"
    );
    assert!(headers.get("x-sdk-date").is_some());
    assert!(headers.get("x-auth-token").is_none());
    assert!(headers.get("x-security-token").is_none());
    assert!(headers.get("x-project-id").is_none());
}

#[tokio::test]
async fn an_account_wide_signed_request_is_accepted() {
    let fake = FakeCloud::start().await;
    fake.add_access_key(AK, SK);
    let client = client(&fake.account("prod", &[], FakeCloud::aksk_auth(AK, SK)));
    client
        .fetch(&scope(None))
        .await
        .expect("signature without a query accepted");
    assert_eq!(fake.request_count(None), 1);
}

#[tokio::test]
async fn a_wrong_secret_key_is_rejected_with_exactly_one_request() {
    let fake = FakeCloud::start().await;
    fake.add_access_key(AK, SK);
    let wrong_sk = "WrongSecretKey0123456789abcdefghijklmnop";
    let client = client(&fake.account("prod", &[P1], FakeCloud::aksk_auth(AK, wrong_sk)));
    let e = fetch_err(&client, Some(P1)).await;
    assert_eq!(e.kind, ApiErrorKind::Auth);
    assert_eq!(e.http_status, Some(401));
    assert_eq!(e.code.as_deref(), Some("APIG.0301"));
    assert!(e.message.contains("signature"), "{e}");
    assert!(e.request_id.is_some());
    assert_eq!(fake.request_count(Some(P1)), 1);
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains(wrong_sk) && !shown.contains(SK));
    assert!(!format!("{client:?}").contains(wrong_sk));
}

#[tokio::test]
async fn an_unknown_access_key_is_rejected_with_exactly_one_request() {
    let fake = FakeCloud::start().await;
    let client = client(&fake.account("prod", &[P1], FakeCloud::aksk_auth(AK, SK)));
    let e = fetch_err(&client, Some(P1)).await;
    assert_eq!(e.kind, ApiErrorKind::Auth);
    assert_eq!(fake.request_count(Some(P1)), 1);
}

#[tokio::test]
async fn a_temporary_key_sends_and_signs_its_security_token() {
    let fake = FakeCloud::start().await;
    let security_token = "gQpjbi1ub3J0aC00temporary-token";
    fake.add_temporary_access_key(AK, SK, security_token);
    let client =
        client(&fake.account("prod", &[P1], aksk_auth(AK, SK, Some(security_token), None)));
    client
        .fetch(&scope(Some(P1)))
        .await
        .expect("temporary key accepted");
    let headers = fake.last_headers(Some(P1)).unwrap();
    assert_eq!(headers.get("x-security-token").unwrap(), security_token);
    let authorization = headers.get("authorization").unwrap().to_str().unwrap();
    assert!(
        authorization.contains("SignedHeaders=host;x-sdk-date;x-security-token,"),
        "{authorization}"
    );

    // Without its token the temporary key is refused.
    let bare = client_for_key_without_token(&fake);
    let e = fetch_err(&bare, Some(P1)).await;
    assert_eq!(e.kind, ApiErrorKind::Auth);
}

fn client_for_key_without_token(fake: &FakeCloud) -> CodeArtsClient {
    client(&fake.account("prod", &[P1], FakeCloud::aksk_auth(AK, SK)))
}

#[tokio::test]
async fn the_iam_project_id_is_sent_and_signed() {
    let fake = FakeCloud::start().await;
    fake.add_access_key(AK, SK);
    let iam_project = "0123456789abcdef0123456789abcdef";
    let client = client(&fake.account("prod", &[P1], aksk_auth(AK, SK, None, Some(iam_project))));
    client.fetch(&scope(Some(P1))).await.expect("accepted");
    let headers = fake.last_headers(Some(P1)).unwrap();
    assert_eq!(headers.get("x-project-id").unwrap(), iam_project);
    let authorization = headers.get("authorization").unwrap().to_str().unwrap();
    assert!(
        authorization.contains("SignedHeaders=host;x-project-id;x-sdk-date,"),
        "{authorization}"
    );
}

// ---------------------------------------------------------------------------------------------
// Construction
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_client_needs_its_secret() {
    let fake = FakeCloud::start().await;
    let account = fake.account(
        "prod",
        &[],
        AuthConfig::Token {
            token: None,
            token_file: None,
        },
    );
    let e = CodeArtsClient::new(&account, test_http_client(), Duration::from_secs(1)).unwrap_err();
    assert!(e.to_string().contains("account prod"), "{e}");
    assert!(e.to_string().contains("auth.token"), "{e}");
}

/// The fake gateway refuses a correctly signed request whose `X-Sdk-Date` is more than 15
/// minutes off, as the real one does; the client always signs with the current time.
#[tokio::test]
async fn the_gateway_refuses_a_signature_dated_outside_its_15_minute_window() {
    use renewd::huawei::signer::{sdk_date, sign, SigningInput};
    let fake = FakeCloud::start().await;
    fake.add_access_key(AK, SK);
    let host = fake.url().trim_start_matches("http://").to_string();
    let http = test_http_client();
    let send = |minutes_ago: i64| {
        let date = sdk_date(chrono::Utc::now() - chrono::Duration::minutes(minutes_ago));
        let headers = vec![
            ("Host".to_string(), host.clone()),
            ("X-Sdk-Date".to_string(), date.clone()),
        ];
        let query = vec![("project_id".to_string(), P1.to_string())];
        let signature = sign(
            &SigningInput {
                method: "GET",
                path: "/devreposerver/v5/data/package/info",
                query: &query,
                headers: &headers,
                body: b"",
            },
            AK,
            SK,
        )
        .expect("signable");
        http.get(format!(
            "{}/devreposerver/v5/data/package/info?project_id={P1}",
            fake.url()
        ))
        .header("Host", host.clone())
        .header("X-Sdk-Date", date)
        .header("Authorization", signature.authorization)
        .send()
    };
    let recent = send(5).await.expect("request");
    assert_eq!(recent.status(), 200, "5 minutes off is inside the window");
    let stale = send(20).await.expect("request");
    assert_eq!(stale.status(), 401, "20 minutes off is outside the window");
    let body: serde_json::Value = stale.json().await.expect("json body");
    assert_eq!(body["error_code"], "APIG.0301", "{body}");
}

// ---------------------------------------------------------------------------------------------
// Requests side by side
// ---------------------------------------------------------------------------------------------

/// 16 projects of one account, a gateway that holds each request 100 ms.
async fn slow_setup(auth: AuthConfig) -> (FakeCloud, CodeArtsClient, Vec<String>) {
    let fake = FakeCloud::start().await;
    fake.add_token(TOKEN);
    fake.set_latency(Duration::from_millis(100));
    let projects: Vec<String> = (0..16).map(|i| format!("{i:032x}")).collect();
    let names: Vec<&str> = projects.iter().map(String::as_str).collect();
    let mut account = fake.account("prod", &names, auth);
    // Not the pacer under test here: 16 requests may go at once.
    account.max_requests_per_second = 1000.0;
    let client = client(&account);
    (fake, client, projects)
}

/// The first request of an unproven account goes alone; once it was not refused, every request
/// that waited behind it goes at once, side by side, not one at a time.
#[tokio::test]
async fn after_the_first_answer_the_waiting_requests_go_side_by_side() {
    let (fake, client, projects) = slow_setup(FakeCloud::token_auth(TOKEN)).await;
    let scopes: Vec<Scope> = projects.iter().map(|p| scope(Some(p.as_str()))).collect();
    let results = futures::future::join_all(scopes.iter().map(|s| client.fetch(s))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    // One alone, then the fifteen that waited.
    assert_eq!(fake.max_in_flight(), 15);
}

/// Wrong credentials still cost one refused request, however many projects were waiting.
#[tokio::test]
async fn wrong_credentials_waiting_side_by_side_cost_one_request() {
    let (fake, client, projects) = slow_setup(FakeCloud::token_auth("MIIwrong-token")).await;
    let scopes: Vec<Scope> = projects.iter().map(|p| scope(Some(p.as_str()))).collect();
    let results = futures::future::join_all(scopes.iter().map(|s| client.fetch(s))).await;
    assert!(results.iter().all(Result::is_err), "{results:?}");
    let sent: u32 = projects
        .iter()
        .map(|p| fake.request_count(Some(p.as_str())))
        .sum();
    assert_eq!(sent, 1, "one refused request for the account");
}

// ---------------------------------------------------------------------------------------------
// Project discovery (projects = "all")
// ---------------------------------------------------------------------------------------------

fn project_ids(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("{:032x}", 0xabc0_0000_u64 + i as u64))
        .collect()
}

fn discovering(fake: &FakeCloud, auth: AuthConfig) -> AccountConfig {
    let mut account = fake.account("prod", &[], auth);
    account.projects = renewd::config::Projects::All;
    account
}

#[tokio::test]
async fn all_projects_are_listed_page_by_page() {
    let fake = FakeCloud::start().await;
    fake.add_access_key(AK, SK);
    let ids = project_ids(2345);
    fake.set_projects(ids.clone());
    let client = client(&discovering(&fake, FakeCloud::aksk_auth(AK, SK)));
    assert!(client.discovers_scopes());
    assert!(
        client.scopes().is_empty(),
        "found at each cycle, not configured"
    );

    let found = client.discover_scopes().await.expect("discovery");
    assert!(found.bad_entries.is_empty());
    let mut expected: Vec<Scope> = ids.iter().map(|p| scope(Some(p))).collect();
    expected.sort();
    assert_eq!(found.scopes, expected);
    // Signed like every request (the fake checks it); 1000 a page, offsets multiples of it.
    assert_eq!(
        fake.project_pages(),
        vec![(0, 1000), (1000, 1000), (2000, 1000)]
    );
}

#[tokio::test]
async fn small_pages_keep_offsets_multiples_of_the_limit() {
    let (fake, _) = token_setup(&[]).await;
    fake.set_projects(project_ids(7));
    let client =
        client(&discovering(&fake, FakeCloud::token_auth(TOKEN))).with_project_page_size(3);
    let found = client.discover_scopes().await.expect("discovery");
    assert_eq!(found.scopes.len(), 7);
    assert_eq!(fake.project_pages(), vec![(0, 3), (3, 3), (6, 3)]);
    // An account without projects: one page, nothing found.
    fake.set_projects(vec![]);
    assert!(client
        .discover_scopes()
        .await
        .expect("discovery")
        .scopes
        .is_empty());
}

#[tokio::test]
async fn a_project_list_that_fails_is_an_error_not_an_empty_list() {
    let (fake, _) = token_setup(&[]).await;
    fake.set_projects(project_ids(3));
    fake.fail_projects(None);
    let client = client(&discovering(&fake, FakeCloud::token_auth(TOKEN)));
    let e = client.discover_scopes().await.expect_err("fails");
    assert_eq!(e.http_status, Some(500));
    assert_eq!(e.scope, scope(None));
    // A wrong token: the gateway's refusal.
    let wrong = CodeArtsClient::new(
        &discovering(&fake, FakeCloud::token_auth("MIIwrong")),
        test_http_client(),
        Duration::from_secs(10),
    )
    .expect("client builds");
    fake.clear_projects_failure();
    let e = wrong.discover_scopes().await.expect_err("refused");
    assert!(e.is_auth(), "{e}");
}
