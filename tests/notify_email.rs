//! The email receiver against a real SMTP server (aiosmtpd on 127.0.0.1) with STARTTLS, AUTH
//! and a test CA given through `smtp.ca_file`; the received mail is parsed back.

mod support;

use chrono::Utc;
use mail_parser::{MessageParser, MimeHeaders};
use renewd::config::Config;
use renewd::model::{Alert, Severity};
use renewd::notify::{Digest, Notifiers, NotifyError};
use support::smtp_server::{SmtpMode, SmtpOptions, SmtpServer};

use support::fake_cloud::test_http_client as http_client;

/// An expiring alert for the email receiver, with its own severity and renewal link.
fn alert(package: &str, days: i64, severity: Severity, url: &str) -> Alert {
    Alert {
        severity,
        next_action_url: Some(url.into()),
        ..support::example_alert("ops-mail", package, days)
    }
}

fn digest(alerts: Vec<Alert>) -> Digest {
    support::digest("ops-mail", alerts)
}

/// Email notifiers for `server`: `security`, the password to log in with, and whether the test CA is trusted.
fn notifiers(server: &SmtpServer, security: &str, password: &str, ca: bool) -> Notifiers {
    let ca_line = if ca {
        format!("ca_file = \"{}\"", server.ca_file().display())
    } else {
        String::new()
    };
    let auth = match server.user() {
        Some(user) => format!("username = \"{user}\"\npassword = \"{password}\""),
        None => String::new(),
    };
    let text = format!(
        r#"
[[accounts]]
name = "prod"
region = "cn-north-4"
auth = {{ method = "token", token = "tok" }}

[[rules]]
name = "default"
thresholds = [30, 14, 7]
receivers = ["ops-mail"]

[smtp]
host = "{host}"
port = {port}
security = "{security}"
from = "renewd <renewd@example.com>"
timeout = "10s"
{auth}
{ca_line}

[receivers.ops-mail]
type = "email"
to = ["ops@example.com", "Second Person <second@example.com>"]
cc = ["boss@example.com"]
"#,
        host = server.host(),
        port = server.port(),
    );
    let config = Config::from_toml_with_env(&text, &[]).unwrap_or_else(|p| panic!("config: {p:?}"));
    Notifiers::from_config(&config, http_client()).expect("notifiers")
}

/// Three packages: a normal one, one whose key is markup, one whose link is `javascript:`.
fn hostile_digest() -> Digest {
    digest(vec![
        alert(
            "codeartsStorageExtension",
            11,
            Severity::Info,
            "https://renew.example.com/a?x=1&y=2",
        ),
        alert(
            "<script>alert(1)</script>",
            5,
            Severity::Warning,
            "https://renew.example.com/b",
        ),
        alert(
            "codeartsTrafficExtension",
            3,
            Severity::Warning,
            "javascript:alert(1)",
        ),
    ])
}

#[tokio::test]
async fn a_digest_arrives_as_one_multipart_mail_over_starttls_with_auth() {
    let server = SmtpServer::start(SmtpOptions::default());
    let notifiers = notifiers(&server, "starttls", server.password().unwrap(), true);
    let mail = notifiers.get("ops-mail").expect("ops-mail");
    assert_eq!(mail.kind(), "email");

    let receipt = mail.send(&hostile_digest()).await.expect("delivered");
    assert!(receipt.detail.starts_with("250 "), "{receipt:?}");
    assert!(receipt.detail.contains("queued as"), "{receipt:?}");

    let messages = server.messages();
    assert_eq!(messages.len(), 1, "one email per digest");
    let raw = &messages[0];
    assert_eq!(raw.mail_from, "renewd@example.com");
    let mut rcpts = raw.rcpt_tos.clone();
    rcpts.sort();
    assert_eq!(
        rcpts,
        ["boss@example.com", "ops@example.com", "second@example.com"]
    );

    let parsed = MessageParser::default()
        .parse(&raw.data)
        .expect("a parsable mail");
    assert_eq!(
        parsed.subject(),
        Some("[renewd] 3 CodeArts packages expire within 14 days (prod)")
    );
    assert!(parsed.date().is_some(), "Date header");
    let message_id = parsed.message_id().expect("Message-ID header");
    assert!(message_id.ends_with(".renewd@example.com"), "{message_id}");
    let to: Vec<&str> = parsed
        .to()
        .unwrap()
        .iter()
        .filter_map(|a| a.address())
        .collect();
    assert_eq!(to, ["ops@example.com", "second@example.com"]);
    let cc: Vec<&str> = parsed
        .cc()
        .unwrap()
        .iter()
        .filter_map(|a| a.address())
        .collect();
    assert_eq!(cc, ["boss@example.com"]);

    // multipart/alternative with a text/plain and a text/html part.
    let root = parsed.content_type().expect("content type");
    assert_eq!(
        (root.ctype(), root.subtype()),
        ("multipart", Some("alternative"))
    );
    let part_of = |subtype: &str| {
        parsed
            .parts
            .iter()
            .find(|p| {
                p.content_type()
                    .is_some_and(|c| c.ctype() == "text" && c.subtype() == Some(subtype))
            })
            .and_then(|p| p.text_contents())
            .unwrap_or_else(|| panic!("a text/{subtype} part"))
            .to_string()
    };
    let text = part_of("plain");
    let html = part_of("html");

    // HTML: escaped values, one Renew link per https package, never a javascript: href.
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert_eq!(html.matches(">Renew</a>").count(), 2, "{html}");
    assert!(html.contains("href=\"https://renew.example.com/a?x=1&amp;y=2\""));
    assert!(
        !html.to_lowercase().contains("href=\"javascript:"),
        "{html}"
    );
    assert!(html.contains("javascript:alert(1)"), "shown as text");
    // Sorted by urgency, with the estimated expiry date (2026-11-26 in Shanghai + 3 days).
    let traffic = html.find("codeartsTrafficExtension").unwrap();
    let storage = html.find("codeartsStorageExtension").unwrap();
    assert!(traffic < storage);
    assert!(html.contains("2026-11-29"));
    assert!(html.contains("active (2)"));

    // Text: readable alone, each renewal URL on its own line.
    assert!(text
        .lines()
        .any(|l| l.trim() == "https://renew.example.com/a?x=1&y=2"));
    assert!(text
        .lines()
        .any(|l| l.trim() == "https://renew.example.com/b"));
    assert!(text.contains("codeartsTrafficExtension"));
    assert!(
        text.contains("<script>alert(1)</script>"),
        "plain text is not escaped"
    );
}

#[tokio::test]
async fn the_test_message_has_its_own_subject() {
    let server = SmtpServer::start(SmtpOptions::default());
    let notifiers = notifiers(&server, "starttls", server.password().unwrap(), true);
    let d = renewd::notify::test_digest("ops-mail", Utc::now(), chrono_tz::UTC);
    notifiers
        .get("ops-mail")
        .unwrap()
        .send(&d)
        .await
        .expect("delivered");
    let raw = &server.messages()[0];
    let parsed = MessageParser::default().parse(&raw.data).unwrap();
    assert_eq!(parsed.subject(), Some("[renewd] test message"));
    let html = parsed.body_html(0).unwrap();
    assert!(html.contains("codeartsStorageExtension"));
    assert_eq!(html.matches(">Renew</a>").count(), 1);
}

#[tokio::test]
async fn a_wrong_password_is_permanent_and_quotes_the_server_not_the_password() {
    let server = SmtpServer::start(SmtpOptions::default());
    let wrong = "Wr0ng-Pa55word-xyz";
    let notifiers = notifiers(&server, "starttls", wrong, true);
    let error = notifiers
        .get("ops-mail")
        .unwrap()
        .send(&hostile_digest())
        .await
        .unwrap_err();
    let NotifyError::Permanent { receiver, message } = &error else {
        panic!("a failed login is permanent: {error:?}");
    };
    assert_eq!(receiver, "ops-mail");
    assert!(
        message.contains("535 5.7.8 Authentication credentials invalid"),
        "{message}"
    );
    assert!(message.contains("renewd"), "names the user: {message}");
    let shown = format!("{error} {error:?} {notifiers:?}");
    assert!(!shown.contains(wrong), "{shown}");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn smtp_down_is_transient_and_delivery_works_once_it_is_back() {
    let mut server = SmtpServer::start(SmtpOptions::default());
    let notifiers = notifiers(&server, "starttls", server.password().unwrap(), true);
    let mail = notifiers.get("ops-mail").unwrap();

    server.stop();
    let error = mail.send(&hostile_digest()).await.unwrap_err();
    assert!(error.is_transient(), "{error:?}");
    assert!(
        error
            .message()
            .contains(&format!("127.0.0.1:{}", server.port())),
        "{error}"
    );

    server.restart();
    mail.send(&hostile_digest())
        .await
        .expect("delivered after restart");
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test]
async fn sends_reuse_one_connection_and_keep_the_message_id() {
    let server = SmtpServer::start(SmtpOptions::default());
    let notifiers = notifiers(&server, "starttls", server.password().unwrap(), true);
    let mail = notifiers.get("ops-mail").unwrap();
    for _ in 0..3 {
        mail.send(&hostile_digest()).await.expect("delivered");
        // lettre hands a used connection back to its pool in a spawned task; on this
        // current-thread runtime, yielding once lets that task run before the next send.
        tokio::task::yield_now().await;
    }
    let messages = server.messages();
    assert_eq!(messages.len(), 3);
    // The transport's pool kept the connection: all three came from the same client port.
    assert!(messages[0].peer_port.is_some());
    assert!(
        messages
            .windows(2)
            .all(|w| w[0].peer_port == w[1].peer_port),
        "{:?}",
        messages.iter().map(|m| m.peer_port).collect::<Vec<_>>()
    );
    // The same digest keeps its Message-ID (a resend is recognisable as the same message).
    let ids: Vec<String> = messages
        .iter()
        .map(|m| {
            MessageParser::default()
                .parse(&m.data)
                .unwrap()
                .message_id()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused() {
    let server = SmtpServer::start(SmtpOptions::default());
    // No ca_file: the test CA is not among the system's roots.
    let notifiers = notifiers(&server, "starttls", server.password().unwrap(), false);
    let error = notifiers
        .get("ops-mail")
        .unwrap()
        .send(&hostile_digest())
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error:?}");
    assert!(error.message().contains("TLS"), "{error}");
    assert!(error.message().contains("certificate"), "{error}");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn implicit_tls_works() {
    let server = SmtpServer::start(SmtpOptions {
        mode: SmtpMode::ImplicitTls,
        ..SmtpOptions::default()
    });
    let notifiers = notifiers(&server, "tls", server.password().unwrap(), true);
    notifiers
        .get("ops-mail")
        .unwrap()
        .send(&hostile_digest())
        .await
        .expect("delivered over implicit TLS");
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test]
async fn plain_smtp_to_loopback_without_auth_works() {
    let server = SmtpServer::start(SmtpOptions {
        mode: SmtpMode::Plain,
        credentials: None,
    });
    let notifiers = notifiers(&server, "none", "", false);
    notifiers
        .get("ops-mail")
        .unwrap()
        .send(&hostile_digest())
        .await
        .expect("delivered without TLS");
    assert_eq!(server.messages().len(), 1);
}

#[test]
fn unencrypted_smtp_to_another_host_is_refused_at_load() {
    let text = r#"
[[accounts]]
name = "prod"
region = "cn-north-4"
auth = { method = "token", token = "tok" }

[[rules]]
name = "default"
thresholds = [7]
receivers = ["a", "b"]

[smtp]
host = "smtp.example.com"
security = "none"
from = "renewd@example.com"

[receivers.a]
type = "email"
to = ["a@example.com"]

[receivers.b]
type = "email"
to = ["b@example.com"]
"#;
    let problems = Config::from_toml_with_env(text, &[]).expect_err("plain SMTP to another host");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].path, "smtp.security");
    assert!(
        problems[0].reason.contains("smtp.example.com"),
        "{problems:?}"
    );
}
