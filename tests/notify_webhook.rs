//! The webhook (json) and log receivers against real servers on 127.0.0.1: a real axum
//! receiver for the HTTP side, a real tracing subscriber for the log side.

mod support;

use chrono::Utc;
use renewd::config::Config;
use renewd::model::{Alert, AlertKind, Severity};
use renewd::notify::{Digest, Notifiers, NotifyError};
use std::time::Duration;
use support::webhook_receiver::{Reply, WebhookReceiver};

const WAIT: Duration = Duration::from_secs(10);
use support::fake_cloud::test_http_client as http_client;
use support::{EXAMPLE_PROJECT as PROJECT, EXAMPLE_RENEW_URL as RENEW_URL};

/// An expiring alert for the webhook receiver `ops`, with its own severity.
fn alert(package: &str, days: i64, severity: Severity) -> Alert {
    Alert {
        severity,
        ..support::example_alert("ops", package, days)
    }
}

fn digest(alerts: Vec<Alert>) -> Digest {
    support::digest("ops", alerts)
}

/// A valid config whose receivers are the given `[receivers.*]` TOML.
fn config(receivers: &str, daemon: &str) -> Config {
    let text = format!(
        r#"
[daemon]
{daemon}

[[accounts]]
name = "prod"
region = "cn-north-4"
auth = {{ method = "token", token = "tok" }}

[[rules]]
name = "default"
thresholds = [30, 14, 7]
receivers = ["ops"]

{receivers}
"#
    );
    Config::from_toml_with_env(&text, &[]).unwrap_or_else(|p| panic!("config: {p:?}\n{text}"))
}

fn notifiers(receivers: &str) -> Notifiers {
    Notifiers::from_config(&config(receivers, ""), http_client()).expect("notifiers")
}

fn webhook(url: &str) -> Notifiers {
    notifiers(&format!(
        "[receivers.ops]\ntype = \"webhook\"\nformat = \"json\"\nurl = \"{url}\"\n"
    ))
}

fn one_alert() -> Digest {
    digest(vec![alert("codeartsStorageExtension", 11, Severity::Info)])
}

#[tokio::test]
async fn json_body_headers_and_signature_are_as_documented() {
    let receiver = WebhookReceiver::start();
    let notifiers = notifiers(&format!(
        r#"
[receivers.ops]
type = "webhook"
format = "json"
url = "{}"
secret = "sig-secret"
headers = {{ "X-Api-Key" = "key-123", "Authorization" = "Bearer abc" }}
"#,
        receiver.url()
    ));
    let ops = notifiers.get("ops").expect("ops");
    assert_eq!(ops.kind(), "webhook");
    let receipt = ops
        .send(&digest(vec![
            alert("codeartsStorageExtension", 11, Severity::Info),
            alert("codeartsTrafficExtension", 3, Severity::Warning),
        ]))
        .await
        .expect("delivered");
    assert_eq!(receipt.detail, "HTTP 200");

    let requests = receiver.wait_for(1, WAIT);
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/hook");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.header("user-agent"),
        Some(concat!("renewd/", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(r.header("x-api-key"), Some("key-123"));
    assert_eq!(r.header("authorization"), Some("Bearer abc"));

    // `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` over the exact body bytes,
    // computed here independently.
    use hmac::{Hmac, Mac};
    let header = r.header("x-renewd-signature").expect("signature header");
    let t = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split(',').next())
        .expect("t=");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"sig-secret").unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&r.body);
    let expected = format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(header, expected);
    let age = Utc::now().timestamp() - t.parse::<i64>().unwrap();
    assert!(
        (0..300).contains(&age),
        "t is the time of the attempt: {age}s old"
    );

    let body = r.json();
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, ["alerts", "receiver", "sent_at", "source", "version"]);
    assert_eq!(body["version"], "1");
    assert_eq!(body["source"], "renewd");
    assert_eq!(body["sent_at"], "2026-11-26T01:00:00Z");
    assert_eq!(body["receiver"], "ops");
    let alerts = body["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 2);
    // Most urgent first.
    assert_eq!(alerts[0]["package"], "codeartsTrafficExtension");
    let a = &alerts[1];
    let expected = serde_json::json!({
        "id": "id-codeartsStorageExtension",
        "kind": "expiring",
        "severity": "info",
        "rule": "default",
        "account": "prod",
        "project_id": PROJECT,
        "package": "codeartsStorageExtension",
        "resource_id": "7590809a5c9d42ae92b49b1190e94666",
        "service_type": "hws.resource.type.codearts.extension.storage",
        "package_status": 2,
        "package_status_name": "active",
        "remain_days": 11,
        "threshold": 14,
        "next_action_url": RENEW_URL,
        "summary": "codeartsStorageExtension expires in 11 days",
    });
    for (key, value) in expected.as_object().unwrap() {
        assert_eq!(&a[key], value, "field {key}");
    }
}

#[tokio::test]
async fn without_a_secret_no_signature_header_is_sent() {
    let receiver = WebhookReceiver::start();
    let notifiers = webhook(&receiver.url());
    notifiers
        .get("ops")
        .unwrap()
        .send(&one_alert())
        .await
        .expect("delivered");
    let requests = receiver.wait_for(1, WAIT);
    assert_eq!(requests[0].header("x-renewd-signature"), None);
}

#[tokio::test]
async fn statuses_map_to_outcomes_in_order() {
    let receiver = WebhookReceiver::with_script(
        vec![
            Reply::status(503),
            Reply::with_retry_after(429, 7),
            Reply::with_body(400, r#"{"error":"bad payload"}"#),
            Reply::status(500),
        ],
        Reply::status(204),
    );
    let notifiers = webhook(&receiver.url());
    let ops = notifiers.get("ops").unwrap();
    let d = one_alert();

    match ops.send(&d).await {
        Err(NotifyError::Transient {
            receiver,
            message,
            retry_after,
        }) => {
            assert_eq!(receiver, "ops");
            assert!(message.contains("503"), "{message}");
            assert_eq!(retry_after, None);
        }
        other => panic!("503 should be transient: {other:?}"),
    }
    match ops.send(&d).await {
        Err(NotifyError::Transient {
            message,
            retry_after,
            ..
        }) => {
            assert!(message.contains("429"), "{message}");
            assert_eq!(retry_after, Some(Duration::from_secs(7)));
        }
        other => panic!("429 should be transient: {other:?}"),
    }
    match ops.send(&d).await {
        Err(NotifyError::Permanent { message, .. }) => {
            assert!(message.contains("400"), "{message}");
            assert!(message.contains("bad payload"), "{message}");
        }
        other => panic!("400 should be permanent: {other:?}"),
    }
    assert!(ops.send(&d).await.unwrap_err().is_transient(), "500");
    assert_eq!(ops.send(&d).await.expect("204").detail, "HTTP 204");
    assert_eq!(receiver.received().len(), 5);
}

#[tokio::test]
async fn errors_never_show_the_secret_parts_of_the_url() {
    let receiver = WebhookReceiver::with_script(
        Vec::new(),
        Reply::with_body(404, "Cannot POST /hook/T0KEN-abcdef?access_token=zzz123"),
    );
    let url = format!(
        "http://{}/hook/T0KEN-abcdef?access_token=zzz123",
        receiver.addr()
    );
    let notifiers = webhook(&url);
    let error = notifiers
        .get("ops")
        .unwrap()
        .send(&one_alert())
        .await
        .unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(!error.is_transient());
    assert!(
        text.contains(&format!("http://{}", receiver.addr())),
        "{text}"
    );
    assert!(!text.contains("T0KEN"), "{text}");
    assert!(!text.contains("zzz123"), "{text}");
    assert!(!format!("{notifiers:?}").contains("T0KEN"));
    // The request did go to the full URL.
    let r = &receiver.received()[0];
    assert_eq!(r.path, "/hook/T0KEN-abcdef");
    assert_eq!(r.query.as_deref(), Some("access_token=zzz123"));
}

#[tokio::test]
async fn a_receiver_that_is_down_is_transient() {
    // Bind then release a port: nothing listens there any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let notifiers = webhook(&format!("http://127.0.0.1:{port}/hook/secret-path"));
    let error = notifiers
        .get("ops")
        .unwrap()
        .send(&one_alert())
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error:?}");
    assert!(error.message().contains("cannot connect"), "{error}");
    assert!(!error.message().contains("secret-path"), "{error}");
}

#[tokio::test]
async fn a_receiver_that_never_answers_times_out_as_transient() {
    let receiver = WebhookReceiver::with_script(Vec::new(), Reply::Hold);
    let config = config(
        &format!(
            "[receivers.ops]\ntype = \"webhook\"\nurl = \"{}\"\n",
            receiver.url()
        ),
        "timeout = \"1s\"",
    );
    let notifiers = Notifiers::from_config(&config, http_client()).unwrap();
    let error = notifiers
        .get("ops")
        .unwrap()
        .send(&one_alert())
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error:?}");
    assert!(error.message().contains("timed out"), "{error}");
    assert_eq!(receiver.received().len(), 1);
}

#[test]
fn every_webhook_format_is_built_at_startup() {
    for format in [
        "json",
        "alertmanager",
        "slack",
        "teams",
        "dingtalk",
        "feishu",
        "wecom",
    ] {
        let config = config(
            &format!("[receivers.ops]\ntype = \"webhook\"\nformat = \"{format}\"\nurl = \"https://oapi.example.com/robot/send?access_token=abc\"\n"),
            "",
        );
        let notifiers = Notifiers::from_config(&config, http_client())
            .unwrap_or_else(|e| panic!("{format}: {e}"));
        assert_eq!(notifiers.get("ops").unwrap().kind(), "webhook");
        assert!(!format!("{notifiers:?}").contains("access_token"));
    }
}

#[test]
fn names_and_kinds_of_all_receivers() {
    let notifiers = notifiers(
        "[receivers.ops]\ntype = \"log\"\n\n[receivers.audit]\ntype = \"log\"\nlevel = \"error\"\n",
    );
    let names: Vec<&str> = notifiers.names().collect();
    assert_eq!(names, ["audit", "ops"]);
    assert_eq!(notifiers.get("audit").unwrap().kind(), "log");
    assert!(notifiers.get("nope").is_none());
}

// ---------------------------------------------------------------------------------------------
// log
// ---------------------------------------------------------------------------------------------

async fn log_events(receivers: &str, d: &Digest) -> Vec<serde_json::Value> {
    let buffer = support::CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_writer(buffer.clone())
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let notifiers = notifiers(receivers);
    let ops = notifiers.get("ops").unwrap();
    assert_eq!(ops.kind(), "log");
    // current_thread runtime: the whole send runs on this thread, under this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);
    let receipt = ops.send(d).await.expect("the log receiver always succeeds");
    assert!(receipt.detail.contains('2'), "{receipt:?}");
    buffer
        .events()
        .into_iter()
        .filter(|e| e["event"] == "alert.log")
        .collect()
}

#[tokio::test]
async fn log_receiver_emits_one_structured_event_per_alert() {
    let mut critical = alert("codeartsTrafficExtension", 1, Severity::Critical);
    critical.kind = AlertKind::Expired;
    critical.threshold = None;
    let d = digest(vec![
        alert("codeartsStorageExtension", 11, Severity::Info),
        critical,
    ]);
    let events = log_events("[receivers.ops]\ntype = \"log\"\n", &d).await;
    assert_eq!(events.len(), 2, "{events:?}");

    // Most urgent first; critical at error, the rest at warn.
    let e = &events[0];
    assert_eq!(e["level"], "ERROR");
    assert_eq!(e["kind"], "expired");
    assert_eq!(e["package"], "codeartsTrafficExtension");
    assert!(e.get("threshold").is_none(), "absent values are not logged");

    let e = &events[1];
    assert_eq!(e["level"], "WARN");
    assert_eq!(e["receiver"], "ops");
    assert_eq!(e["id"], "id-codeartsStorageExtension");
    assert_eq!(e["kind"], "expiring");
    assert_eq!(e["severity"], "info");
    assert_eq!(e["rule"], "default");
    assert_eq!(e["account"], "prod");
    assert_eq!(e["project_id"], PROJECT);
    assert_eq!(e["package"], "codeartsStorageExtension");
    assert_eq!(e["resource_id"], "7590809a5c9d42ae92b49b1190e94666");
    assert_eq!(e["package_status"], 2);
    assert_eq!(e["package_status_name"], "active");
    assert_eq!(e["remain_days"], 11);
    assert_eq!(e["threshold"], 14);
    assert_eq!(e["next_action_url"], RENEW_URL);
    assert_eq!(e["summary"], "codeartsStorageExtension expires in 11 days");
}

#[tokio::test]
async fn log_receiver_level_error_logs_everything_at_error() {
    let d = digest(vec![
        alert("a", 11, Severity::Info),
        alert("b", 5, Severity::Warning),
    ]);
    let events = log_events("[receivers.ops]\ntype = \"log\"\nlevel = \"error\"\n", &d).await;
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e["level"] == "ERROR"), "{events:?}");
}
