//! Every webhook format against a loopback receiver that plays its platform (see
//! `support/chat_receivers.rs`): the documented fields, the signature verified as the platform
//! documents it, error codes inside HTTP 200 answers, size limits with a 200-package digest,
//! and rate limits on tokio's paused clock.

mod support;

use renewd::config::Config;
use renewd::model::{Alert, AlertKind, Severity};
use renewd::notify::{Digest, Notifiers, NotifyError};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::chat_receivers::{ChatReceiver, Platform, Reply};
use tracing_subscriber::layer::SubscriberExt;

use support::fake_cloud::test_http_client as http_client;
use support::EXAMPLE_RENEW_URL as RENEW_URL;

/// An alert for the chat receiver: expiring, or expired in grace when `days <= 0`.
fn alert(package: &str, days: i64) -> Alert {
    support::example_alert("chat", package, days)
}

fn digest(alerts: Vec<Alert>) -> Digest {
    support::digest("chat", alerts)
}
const PLAIN_URL: &str = "http://renew.example.com/not-tls?order=7";
const DINGTALK_SECRET: &str = "SECa3e1b2c4d5f60718293a4b5c6d7e8f90";
const FEISHU_SECRET: &str = "nIMtb7r3N9pkXyXdtAbx6e";
const JSON_SECRET: &str = "whsec_5d1f";

/// A valid config with one webhook receiver `chat`.
fn notifiers(format: &str, url: &str, extra: &str) -> Notifiers {
    let text = format!(
        r#"
[[accounts]]
name = "prod"
region = "cn-north-4"
auth = {{ method = "token", token = "tok" }}

[[rules]]
name = "default"
thresholds = [30, 14, 7]
receivers = ["chat"]

[receivers.chat]
type = "webhook"
format = "{format}"
url = "{url}"
headers = {{ "X-Team" = "platform" }}
{extra}
"#
    );
    let config =
        Config::from_toml_with_env(&text, &[]).unwrap_or_else(|p| panic!("config: {p:?}\n{text}"));
    Notifiers::from_config(&config, http_client()).expect("notifiers")
}

/// The receiver a platform test uses, and the notifiers that send to it (signing secrets set
/// where the platform signs).
fn setup(platform: Platform) -> (ChatReceiver, Notifiers) {
    let (format, extra) = match &platform {
        Platform::Slack => ("slack", String::new()),
        Platform::Teams => ("teams", String::new()),
        Platform::Dingtalk { secret } => ("dingtalk", secret_line(secret)),
        Platform::Feishu { secret } => ("feishu", secret_line(secret)),
        Platform::Wecom => ("wecom", String::new()),
        Platform::Alertmanager => ("alertmanager", String::new()),
        Platform::Json { secret } => ("json", secret_line(secret)),
    };
    let receiver = ChatReceiver::start(platform);
    let n = notifiers(format, &receiver.url(), &extra);
    (receiver, n)
}

fn secret_line(secret: &Option<String>) -> String {
    secret
        .as_ref()
        .map(|s| format!("secret = \"{s}\""))
        .unwrap_or_default()
}

fn signing_platforms() -> Vec<Platform> {
    vec![
        Platform::Slack,
        Platform::Teams,
        Platform::Dingtalk {
            secret: Some(DINGTALK_SECRET.into()),
        },
        Platform::Feishu {
            secret: Some(FEISHU_SECRET.into()),
        },
        Platform::Wecom,
        Platform::Alertmanager,
        Platform::Json {
            secret: Some(JSON_SECRET.into()),
        },
    ]
}

/// An expiring package with an https link, an expired one whose link is plain http, and a
/// renewal (a resolution).
fn mixed_digest() -> Digest {
    let mut plain = alert("codeartsTrafficExtension", 0);
    plain.next_action_url = Some(PLAIN_URL.into());
    let mut renewed = alert("codeartsBuildExtension", 40);
    renewed.kind = AlertKind::Renewed;
    renewed.severity = Severity::Info;
    digest(vec![alert("codeartsStorageExtension", 11), plain, renewed])
}

/// 200 packages, from expired (critical) to 41 days (info).
fn big_digest() -> Digest {
    digest(
        (0..200)
            .map(|i| {
                alert(
                    &format!("codeartsPackage{i:03}WithALongerKey"),
                    (i % 45) - 3,
                )
            })
            .collect(),
    )
}

/// The human-readable text of a chat message, as the platform shows it.
fn chat_text(platform: &Platform, body: &Value) -> String {
    match platform {
        Platform::Slack => body["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["type"] == "section")
            .map(|b| b["text"]["text"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
            .join("\n"),
        Platform::Teams => body["attachments"][0]["content"]["body"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["text"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
            .join("\n"),
        Platform::Dingtalk { .. } => body["actionCard"]["text"]
            .as_str()
            .or(body["markdown"]["text"].as_str())
            .unwrap()
            .to_string(),
        Platform::Feishu { .. } => body["card"]["elements"][0]["text"]["content"]
            .as_str()
            .unwrap()
            .to_string(),
        Platform::Wecom => body["markdown"]["content"].as_str().unwrap().to_string(),
        Platform::Alertmanager | Platform::Json { .. } => String::new(),
    }
}

/// The Renew buttons of a chat message, as `(title, url)`: Teams' `Action.OpenUrl`s, Slack's
/// `actions` buttons, Feishu's `action` buttons, DingTalk's actionCard `btns`; none for WeCom
/// (markdown only: a Renew link per package in the text).
fn buttons(platform: &Platform, body: &Value) -> Vec<(String, String)> {
    let pairs = |items: Option<&Vec<Value>>, title: &dyn Fn(&Value) -> &Value, url: &str| {
        items
            .into_iter()
            .flatten()
            .map(|b| {
                (
                    title(b).as_str().unwrap_or_default().to_string(),
                    b[url].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect::<Vec<_>>()
    };
    match platform {
        Platform::Teams => pairs(
            body["attachments"][0]["content"]["actions"].as_array(),
            &|b| &b["title"],
            "url",
        ),
        Platform::Slack => body["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["type"] == "actions")
            .flat_map(|b| pairs(b["elements"].as_array(), &|e| &e["text"]["text"], "url"))
            .collect(),
        Platform::Feishu { .. } => body["card"]["elements"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["tag"] == "action")
            .flat_map(|e| pairs(e["actions"].as_array(), &|b| &b["text"]["content"], "url"))
            .collect(),
        Platform::Dingtalk { .. } => pairs(
            body["actionCard"]["btns"].as_array(),
            &|b| &b["title"],
            "actionURL",
        ),
        _ => Vec::new(),
    }
}

fn is_chat(platform: &Platform) -> bool {
    !matches!(platform, Platform::Alertmanager | Platform::Json { .. })
}

#[tokio::test]
async fn every_format_passes_its_platform_checks_and_carries_the_renewal_link() {
    for platform in signing_platforms() {
        let (receiver, n) = setup(platform.clone());
        let result = n.get("chat").unwrap().send(&mixed_digest()).await;
        let requests = receiver.received();
        assert_eq!(requests.len(), 1, "{platform:?}");
        let r = &requests[0];
        assert!(r.problems.is_empty(), "{platform:?}: {:?}", r.problems);
        assert!(result.is_ok(), "{platform:?}: {result:?}");
        // Custom headers go with every format.
        assert_eq!(r.header("x-team"), Some("platform"), "{platform:?}");
        let body = r.json();

        if is_chat(&platform) {
            let text = chat_text(&platform, &body);
            let link = match platform {
                Platform::Slack => format!("<{}|Renew>", RENEW_URL.replace('&', "&amp;")),
                _ => format!("[Renew]({RENEW_URL})"),
            };
            assert!(text.contains(&link), "{platform:?}: no {link} in {text}");
            // The plain-http link is text in a code span, never a link.
            assert!(
                text.contains(&format!("`{PLAIN_URL}`")),
                "{platform:?}: {text}"
            );
            let raw = String::from_utf8_lossy(&r.body);
            assert!(
                !raw.contains(&format!("]({PLAIN_URL}")),
                "{platform:?}: {raw}"
            );
            assert!(
                !raw.contains(&format!("<{PLAIN_URL}")),
                "{platform:?}: {raw}"
            );
            assert!(text.contains("codeartsStorageExtension"), "{platform:?}");
            // The summary line first; each package with its severity in words and its date.
            assert!(
                text.starts_with("**renewd: 1 expired, 1 expires within 11 days, 1 renewed**")
                    || text.starts_with("*renewd: 1 expired, 1 expires within 11 days, 1 renewed*"),
                "{platform:?}: {text}"
            );
            assert!(
                text.contains("expires in 11 days (2026-12-07)"),
                "{platform:?}: {text}"
            );
            assert!(text.contains("Critical*"), "{platform:?}: {text}");
            // A Renew button per package with an https link (the most urgent first); never one
            // for the http link. WeCom has no buttons: its markdown has the links.
            let buttons = buttons(&platform, &body);
            if matches!(platform, Platform::Wecom) {
                assert!(buttons.is_empty());
            } else {
                assert_eq!(
                    buttons,
                    [
                        ("Renew codeartsStorageExtension".into(), RENEW_URL.into()),
                        ("Renew codeartsBuildExtension".into(), RENEW_URL.into()),
                    ],
                    "{platform:?}"
                );
            }
        }
        match &platform {
            Platform::Alertmanager => {
                let alerts = body["alerts"].as_array().unwrap();
                assert_eq!(body["status"], "firing");
                let by_package = |p: &str| {
                    alerts
                        .iter()
                        .find(|a| a["labels"]["package"] == p)
                        .unwrap_or_else(|| panic!("{p} in {alerts:?}"))
                };
                let storage = by_package("codeartsStorageExtension");
                assert_eq!(storage["generatorURL"], RENEW_URL);
                assert_eq!(storage["status"], "firing");
                assert_eq!(storage["labels"]["severity"], "info");
                assert_eq!(storage["annotations"]["renew_url"], RENEW_URL);
                let plain = by_package("codeartsTrafficExtension");
                assert_eq!(plain["generatorURL"], "");
                assert_eq!(plain["labels"]["kind"], "expired");
                let renewed = by_package("codeartsBuildExtension");
                assert_eq!(renewed["status"], "resolved");
                assert_ne!(renewed["endsAt"], "0001-01-01T00:00:00Z");
                assert_eq!(body["receiver"], "chat");
                assert_eq!(body["commonLabels"]["account"], "prod");
            }
            Platform::Json { .. } => {
                assert!(r.header("x-renewd-signature").unwrap().starts_with("t="));
                assert_eq!(body["alerts"].as_array().unwrap().len(), 3);
            }
            Platform::Feishu { .. } => {
                assert_eq!(body["msg_type"], "interactive");
                assert_eq!(body["card"]["header"]["template"], "red");
            }
            Platform::Dingtalk { .. } => {
                assert_eq!(body["msgtype"], "actionCard");
                assert!(r.query_param("timestamp").is_some());
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn without_a_secret_nothing_is_signed_and_robots_without_signing_accept() {
    for platform in [
        Platform::Dingtalk { secret: None },
        Platform::Feishu { secret: None },
        Platform::Json { secret: None },
    ] {
        let (receiver, n) = setup(platform.clone());
        n.get("chat")
            .unwrap()
            .send(&mixed_digest())
            .await
            .unwrap_or_else(|e| panic!("{platform:?}: {e}"));
        let r = &receiver.received()[0];
        assert!(r.query_param("sign").is_none(), "{platform:?}");
        assert!(r.json().get("sign").is_none(), "{platform:?}");
        assert!(r.header("x-renewd-signature").is_none(), "{platform:?}");
    }
}

#[tokio::test]
async fn a_wrong_secret_is_refused_the_way_the_platform_refuses_it() {
    let cases = [
        (
            Platform::Dingtalk {
                secret: Some(DINGTALK_SECRET.into()),
            },
            "dingtalk",
            "310000",
        ),
        (
            Platform::Feishu {
                secret: Some(FEISHU_SECRET.into()),
            },
            "feishu",
            "19021",
        ),
        (
            Platform::Json {
                secret: Some(JSON_SECRET.into()),
            },
            "json",
            "401",
        ),
    ];
    for (platform, format, code) in cases {
        let receiver = ChatReceiver::start(platform.clone());
        let n = notifiers(format, &receiver.url(), "secret = \"not-the-robot-secret\"");
        let error = n
            .get("chat")
            .unwrap()
            .send(&mixed_digest())
            .await
            .expect_err("a bad signature must not count as delivered");
        assert!(!error.is_transient(), "{platform:?}: {error}");
        assert!(error.message().contains(code), "{platform:?}: {error}");
        // The webhook URL (with its token) never appears in the error.
        assert!(!error.message().contains("robot-token"), "{error}");
        assert!(!receiver.received()[0].problems.is_empty());
    }
}

/// Tracing events seen on this thread, as field maps.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<BTreeMap<String, String>>>>);

struct Fields(BTreeMap<String, String>);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Captured {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut fields = Fields(BTreeMap::new());
        event.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
    }
}

impl Captured {
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        tracing::subscriber::set_default(tracing_subscriber::registry().with(self.clone()))
    }

    fn events(&self, name: &str) -> Vec<BTreeMap<String, String>> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.get("event").map(String::as_str) == Some(name))
            .cloned()
            .collect()
    }
}

#[tokio::test]
async fn an_error_code_in_a_200_answer_is_a_failed_delivery_and_is_logged() {
    let captured = Captured::default();
    let _guard = captured.install();
    // (platform, the platform's answer, retried?, wait asked for)
    let cases = [
        (
            Platform::Dingtalk { secret: None },
            r#"{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}"#,
            true,
            Some(Duration::from_secs(600)),
        ),
        (
            Platform::Dingtalk { secret: None },
            r#"{"errcode":310000,"errmsg":"keywords not in content"}"#,
            false,
            None,
        ),
        (
            Platform::Feishu { secret: None },
            r#"{"code":11232,"msg":"frequency limited","data":{}}"#,
            true,
            None,
        ),
        (
            Platform::Feishu { secret: None },
            r#"{"code":19024,"msg":"Key Words Not Found"}"#,
            false,
            None,
        ),
        (
            Platform::Wecom,
            r#"{"errcode":45009,"errmsg":"api freq out of limit"}"#,
            true,
            None,
        ),
        (
            Platform::Wecom,
            r#"{"errcode":93000,"errmsg":"invalid webhook url"}"#,
            false,
            None,
        ),
        (Platform::Slack, "no_service", false, None),
    ];
    for (platform, answer, retried, wait) in cases {
        let (receiver, n) = setup(platform.clone());
        receiver.reply_next(vec![Reply::json(200, answer)]);
        let error = n
            .get("chat")
            .unwrap()
            .send(&mixed_digest())
            .await
            .expect_err("an error inside a 200 is not a delivery");
        assert_eq!(error.is_transient(), retried, "{platform:?}: {error}");
        assert_eq!(error.retry_after(), wait, "{platform:?}: {error}");
        assert!(matches!(
            (&error, retried),
            (NotifyError::Transient { .. }, true) | (NotifyError::Permanent { .. }, false)
        ));
        // The platform's code and message are in the error and in a log event.
        let code = serde_json::from_str::<Value>(answer)
            .ok()
            .and_then(|v| v.get("errcode").or(v.get("code")).cloned())
            .map(|c| c.to_string());
        if let Some(code) = &code {
            assert!(error.message().contains(code.as_str()), "{error}");
            let logged = captured.events("notify.rejected");
            assert!(
                logged
                    .iter()
                    .any(|e| e.get("error_code") == Some(code) && e.get("receiver").is_some()),
                "{logged:?}"
            );
        }
        // A later normal answer is a delivery again.
        n.get("chat")
            .unwrap()
            .send(&mixed_digest())
            .await
            .unwrap_or_else(|e| panic!("{platform:?}: {e}"));
    }
}

#[tokio::test]
async fn a_200_package_digest_fits_every_platform_in_one_message() {
    let big = big_digest();
    let most_urgent = renewd::notify::render::sorted_by_urgency(&big.alerts)[0]
        .package
        .clone()
        .unwrap();
    for platform in signing_platforms() {
        let (receiver, n) = setup(platform.clone());
        n.get("chat")
            .unwrap()
            .send(&big)
            .await
            .unwrap_or_else(|e| panic!("{platform:?}: {e}"));
        // One message, never one per package.
        let requests = receiver.received();
        assert_eq!(requests.len(), 1, "{platform:?}");
        let r = &requests[0];
        assert!(r.problems.is_empty(), "{platform:?}: {:?}", r.problems);
        let body = r.json();
        // Measured here, as received, against each platform's documented limit.
        match &platform {
            Platform::Wecom => {
                let content = body["markdown"]["content"].as_str().unwrap();
                assert!(content.len() <= 4096, "{} bytes", content.len());
            }
            Platform::Slack => {
                let blocks = body["blocks"].as_array().unwrap();
                assert!(blocks.len() <= 50);
                for b in blocks.iter().filter(|b| b["type"] == "section") {
                    assert!(b["text"]["text"].as_str().unwrap().chars().count() <= 3000);
                }
            }
            Platform::Teams => {
                assert!(r.body.len() <= 28 * 1024, "{}", r.body.len());
            }
            Platform::Dingtalk { .. } | Platform::Feishu { .. } => {
                assert!(r.body.len() <= 20 * 1024, "{}", r.body.len())
            }
            Platform::Alertmanager | Platform::Json { .. } => {
                // No platform limit: every alert is there.
                assert_eq!(body["alerts"].as_array().unwrap().len(), 200);
            }
        }
        if is_chat(&platform) {
            // Too many packages for one button each: one for the most urgent.
            let buttons = buttons(&platform, &body);
            if !matches!(platform, Platform::Wecom) {
                assert_eq!(buttons.len(), 1, "{platform:?}: {buttons:?}");
                assert!(buttons[0].0.contains(&most_urgent), "{buttons:?}");
                assert_eq!(buttons[0].1, RENEW_URL);
            }
            let text = chat_text(&platform, &body);
            // Shortened by urgency: the most urgent package is listed, the rest counted.
            assert!(text.contains(&most_urgent), "{platform:?}");
            let listed = text.matches("codeartsPackage").count();
            let more = text
                .split("… and ")
                .nth(1)
                .and_then(|s| s.split(' ').next())
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or_else(|| panic!("{platform:?}: no \"and N more\" in {text}"));
            assert_eq!(listed + more, 200, "{platform:?}");
            assert!(listed >= 10, "{platform:?}: only {listed} listed");
        }
    }
}

/// Sends `count` digests one after another and returns when each delivery finished on the
/// paused clock, and every wait the notifier announced with the number of requests the
/// receiver had by then.
///
/// Real HTTP and a paused clock do not mix on their own: while a request is in flight the
/// runtime would jump the clock to the next timer (the request's timeout). A blocking task
/// keeps tokio from auto-advancing, so the clock moves only when this function moves it: each
/// time the notifier logs `notify.rate_limited` it is asleep on its slot (nothing in flight),
/// and the clock is advanced by exactly the announced wait.
async fn paced_sends(
    notifiers: Arc<Notifiers>,
    count: usize,
    captured: &Captured,
    receiver: &ChatReceiver,
) -> (Vec<Duration>, Vec<(u64, usize)>) {
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let inhibitor = tokio::task::spawn_blocking(move || {
        let _ = stopped.recv();
    });
    let start = tokio::time::Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sender = tokio::spawn(async move {
        let digest = mixed_digest();
        for _ in 0..count {
            let result = notifiers.get("chat").unwrap().send(&digest).await;
            let _ = tx.send((result.map(|_| ()), tokio::time::Instant::now() - start));
        }
    });
    let real_deadline = std::time::Instant::now() + Duration::from_secs(60);
    // Waits announced before this call belong to earlier sends.
    let base = captured.events("notify.rate_limited").len();
    let mut done = Vec::new();
    let mut waits = Vec::new();
    while done.len() < count {
        assert!(
            std::time::Instant::now() < real_deadline,
            "stuck after {done:?}"
        );
        let announced = captured.events("notify.rate_limited");
        if announced.len() > base + waits.len() {
            let wait_ms: u64 = announced[base + waits.len()]["wait_ms"].parse().unwrap();
            waits.push((wait_ms, receiver.received().len()));
            tokio::time::advance(Duration::from_millis(wait_ms)).await;
            continue;
        }
        match rx.try_recv() {
            Ok((result, at)) => {
                result.unwrap_or_else(|e| panic!("delivery {}: {e}", done.len()));
                done.push(at);
            }
            Err(_) => tokio::task::yield_now().await,
        }
    }
    sender.await.unwrap();
    drop(stop);
    inhibitor.await.unwrap();
    (done, waits)
}

#[tokio::test(start_paused = true)]
async fn dingtalk_sends_twenty_a_minute_and_the_rest_wait_for_their_slot() {
    let captured = Captured::default();
    let _guard = captured.install();
    let (receiver, n) = setup(Platform::Dingtalk {
        secret: Some(DINGTALK_SECRET.into()),
    });
    let (done, waits) = paced_sends(Arc::new(n), 25, &captured, &receiver).await;
    // The 21st waited a full minute after exactly 20 had been sent; none was dropped.
    assert_eq!(waits, vec![(60_000, 20)]);
    assert!(done[..20].iter().all(|t| t.is_zero()), "{done:?}");
    assert!(
        done[20..].iter().all(|t| *t == Duration::from_secs(60)),
        "{done:?}"
    );
    let received = receiver.received();
    assert_eq!(received.len(), 25);
    // Signed with the time of the attempt: still valid after the wait.
    assert!(received.iter().all(|r| r.problems.is_empty()));
}

#[tokio::test(start_paused = true)]
async fn rate_limit_per_minute_overrides_the_platform_quota() {
    let captured = Captured::default();
    let _guard = captured.install();
    // Slack's own quota is one a second; the configured 2 a minute replaces it. Alertmanager
    // has none by default; a configured one applies.
    for (platform, format) in [
        (Platform::Slack, "slack"),
        (Platform::Alertmanager, "alertmanager"),
    ] {
        let receiver = ChatReceiver::start(platform);
        let n = notifiers(format, &receiver.url(), "rate_limit_per_minute = 2");
        let before = captured.events("notify.rate_limited").len();
        let (done, _) = paced_sends(Arc::new(n), 3, &captured, &receiver).await;
        let waits = captured.events("notify.rate_limited");
        assert_eq!(waits.len() - before, 1, "{format}");
        assert_eq!(waits[before]["wait_ms"], "60000", "{format}");
        assert_eq!(done[2] - done[1], Duration::from_secs(60), "{format}");
        assert_eq!(receiver.received().len(), 3);
    }
}

#[tokio::test(start_paused = true)]
async fn slack_keeps_one_message_a_second() {
    let captured = Captured::default();
    let _guard = captured.install();
    let (receiver, n) = setup(Platform::Slack);
    let (done, waits) = paced_sends(Arc::new(n), 3, &captured, &receiver).await;
    assert_eq!(waits, vec![(1000, 1), (1000, 2)]);
    assert_eq!(
        done,
        [0, 1, 2].map(Duration::from_secs).to_vec(),
        "one a second"
    );
}
