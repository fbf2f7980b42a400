//! The outbox end to end (issue 3): the real binary against a real SMTP server (aiosmtpd with
//! STARTTLS and AUTH), a real webhook receiver and the fake CodeArts gateway — receivers that
//! are down, refuse, hold a response while the process is killed, or stay down for too long.

mod support;

use mail_parser::MessageParser;
use renewd::state::{DeliveryId, DeliveryStatus, StateStore};
use serde_json::Value;
use std::time::Duration;
use support::fake_cloud::FakeCloud;
use support::harness::*;
use support::smtp_server::{SmtpOptions, SmtpServer};
use support::webhook_receiver::{Reply, WebhookReceiver};

const WAIT: Duration = Duration::from_secs(30);
/// The password the test SMTP server accepts (its default options).
const SMTP_PASSWORD: &str = "s3cret-Passw0rd";
const EXAMPLE_URL: &str = "https://localhost.com/usercenter/?region=region&locale=zh-cn#/renewal?subscriptionId=01154-618666699-0&orderId=CS24066664337FWPY&isFrom=expense";

/// The example packages, told to the webhook `ops` and the mailbox `ops-mail`.
fn mail_and_hook_config(
    ws: &Workspace,
    cloud: &FakeCloud,
    hook: &WebhookReceiver,
    smtp: &SmtpServer,
    smtp_password: &str,
    daemon_extra: &str,
) -> String {
    format!(
        "{}{}{}{}{}{}",
        daemon_section(ws, daemon_extra),
        token_account("prod", &cloud.url(), &[PROJECT], TOKEN),
        rule("default", &[30, 14, 7, 3, 1, 0], &["ops", "ops-mail"]),
        smtp_section(smtp, smtp_password),
        webhook_receiver("ops", &hook.url()),
        email_receiver("ops-mail", &["ops@example.com"]),
    )
}

async fn cloud() -> FakeCloud {
    let cloud = FakeCloud::start().await;
    cloud.add_token(TOKEN);
    cloud
}

fn pending(ws_status: &Run) -> Vec<Value> {
    ws_status.expect_code(0);
    ws_status.json()["pending_deliveries"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("no pending_deliveries array\n{}", ws_status.output()))
}

/// Every delivery in the state file, by id from 1 until the first missing one.
fn deliveries(ws: &Workspace) -> Vec<renewd::state::Delivery> {
    let store = StateStore::open_read_only(ws.state_path()).expect("open the state read-only");
    (1..)
        .map_while(|id| store.delivery(DeliveryId(id)).expect("read a delivery"))
        .collect()
}

#[tokio::test]
async fn mail_to_a_server_that_is_down_stays_pending_and_is_delivered_once_when_it_is_back() {
    let cloud = cloud().await;
    let hook = WebhookReceiver::start();
    let mut smtp = SmtpServer::start(SmtpOptions::default());
    smtp.stop();
    let ws = Workspace::new();
    ws.write_config(&mail_and_hook_config(
        &ws,
        &cloud,
        &hook,
        &smtp,
        SMTP_PASSWORD,
        "",
    ));

    // SMTP down: exit 1, the webhook still gets its message, the mail stays pending.
    let run = ws.run(&["once"]).await;
    run.expect_code(1);
    let hooked = hook.received();
    assert_eq!(hooked.len(), 1, "{}", run.output());
    let ids = alert_ids(&hooked[0].json());
    let waiting = pending(&ws.run(&["status", "--json"]).await);
    assert_eq!(waiting.len(), 1, "{waiting:#?}");
    assert_eq!(waiting[0]["receiver"], "ops-mail");
    assert!(waiting[0]["last_error"].is_string(), "{waiting:#?}");
    let mut waiting_ids: Vec<String> = waiting[0]["alert_ids"]
        .as_array()
        .expect("alert_ids")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let mut hooked_ids = ids.clone();
    waiting_ids.sort();
    hooked_ids.sort();
    assert_eq!(
        waiting_ids, hooked_ids,
        "the same decisions, for the other receiver"
    );
    let text = ws.run(&["status"]).await;
    assert!(
        text.stdout.contains("pending deliveries: 1"),
        "{}",
        text.output()
    );
    assert!(smtp.messages().is_empty());

    // SMTP back: the next run delivers it, exactly once.
    smtp.restart();
    let run = ws.run(&["once"]).await;
    run.expect_code(0);
    assert!(run.stdout.contains("1 delivered"), "{}", run.output());
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "{}", run.output());
    assert_eq!(mails[0].rcpt_tos, vec!["ops@example.com".to_string()]);
    let parsed = MessageParser::default()
        .parse(&mails[0].data)
        .expect("a parsable message");
    let text = parsed.body_text(0).expect("text part");
    assert!(text.contains("codeartsStorageExtension"), "{text}");
    assert!(pending(&ws.run(&["status", "--json"]).await).is_empty());

    // And a third run sends nothing anywhere.
    ws.run(&["once"]).await.expect_code(0);
    assert_eq!(smtp.messages().len(), 1);
    assert_eq!(hook.received().len(), 1);
}

#[tokio::test]
async fn a_wrong_smtp_password_is_a_clear_failure_that_shows_no_password() {
    const WRONG: &str = "Wr0ng-Passw0rd-zq81";
    let cloud = cloud().await;
    let hook = WebhookReceiver::start();
    let smtp = SmtpServer::start(SmtpOptions::default());
    let ws = Workspace::new();
    ws.write_config(&mail_and_hook_config(&ws, &cloud, &hook, &smtp, WRONG, ""));

    let run = ws.run_with_env(&["once"], &[("RENEWD_LOG", "debug")]).await;
    run.expect_code(1);
    let out = run.output();
    let failed = run.events("notify.failed");
    assert_eq!(failed.len(), 1, "{out}");
    assert!(failed[0].contains("535"), "names the server's reply: {out}");
    assert!(
        failed[0].contains("receiver=ops-mail"),
        "names the receiver: {out}"
    );
    assert!(!out.contains(WRONG), "{out}");
    assert!(!out.contains(SMTP_PASSWORD), "{out}");
    assert!(run.stdout.contains("1 failed"), "{out}");
    assert!(smtp.messages().is_empty());
    assert_eq!(
        hook.received().len(),
        1,
        "the webhook is not held up by the mail"
    );

    // Recorded as failed (a wrong password does not fix itself), not left pending.
    let all = deliveries(&ws);
    assert_eq!(all.len(), 2, "{all:#?}");
    let mail = all
        .iter()
        .find(|d| d.receiver == "ops-mail")
        .expect("the mail delivery");
    assert_eq!(mail.status, DeliveryStatus::Failed, "{mail:#?}");
    assert!(
        mail.last_error
            .as_deref()
            .is_some_and(|e| e.contains("535")),
        "{mail:#?}"
    );
    assert!(pending(&ws.run(&["status", "--json"]).await).is_empty());
}

#[tokio::test]
async fn a_process_killed_mid_delivery_delivers_again_with_the_same_ids_and_then_nothing() {
    let cloud = cloud().await;
    // The first request is never answered; later ones get 200.
    let hook = WebhookReceiver::with_script(vec![Reply::Hold], Reply::status(200));
    let ws = Workspace::new();
    ws.write_config(&basic_config(&ws, &cloud.url(), &hook.url()));

    let mut child = ws.spawn(&["once"], &[]);
    let held = wait_for_requests(&hook, 1, WAIT).await;
    child.start_kill().expect("SIGKILL renewd");
    let status = child.wait().await.expect("reap renewd");
    assert!(status.code().is_none(), "killed by a signal: {status:?}");
    let first_ids = alert_ids(&held[0].json());
    assert_eq!(first_ids.len(), 2);

    // The decision was committed before the send: it is pending, with its attempt counted.
    let waiting = pending(&ws.run(&["status", "--json"]).await);
    assert_eq!(waiting.len(), 1, "{waiting:#?}");
    assert_eq!(waiting[0]["attempts"], 1);

    let run = ws.run(&["once"]).await;
    run.expect_code(0);
    let received = hook.received();
    assert_eq!(received.len(), 2, "sent again once: {}", run.output());
    assert_eq!(alert_ids(&received[1].json()), first_ids, "same ids");

    ws.run(&["once"]).await.expect_code(0);
    assert_eq!(hook.received().len(), 2, "and nothing after that");
}

#[tokio::test]
async fn test_notify_sends_an_email_with_a_working_renew_link() {
    let cloud = cloud().await;
    let hook = WebhookReceiver::start();
    let smtp = SmtpServer::start(SmtpOptions::default());
    let ws = Workspace::new();
    ws.write_config(&mail_and_hook_config(
        &ws,
        &cloud,
        &hook,
        &smtp,
        SMTP_PASSWORD,
        "",
    ));

    let run = ws.run(&["test-notify", "ops-mail"]).await;
    run.expect_code(0);
    assert!(run.stdout.contains("ops-mail"), "{}", run.output());
    assert!(
        run.stdout.contains("250"),
        "prints the server's answer: {}",
        run.output()
    );

    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    let parsed = MessageParser::default()
        .parse(&mails[0].data)
        .expect("a parsable message");
    let html = parsed.body_html(0).expect("an HTML part");
    let escaped = EXAMPLE_URL.replace('&', "&amp;");
    assert!(
        html.contains(&format!("href=\"{escaped}\"")),
        "the Renew link points at the https renewal page:\n{html}"
    );
    assert!(html.contains("Renew"), "{html}");
    let text = parsed.body_text(0).expect("a text part");
    assert!(text.contains(EXAMPLE_URL), "{text}");

    // Nothing else was touched: no poll, no webhook.
    assert_eq!(cloud.request_count(Some(PROJECT)), 0);
    assert!(hook.received().is_empty());
}

#[tokio::test]
async fn test_notify_through_a_webhook_and_its_failures() {
    let cloud = cloud().await;
    let hook = WebhookReceiver::with_script(vec![Reply::status(200)], Reply::status(500));
    let ws = Workspace::new();
    ws.write_config(&basic_config(&ws, &cloud.url(), &hook.url()));

    let run = ws.run(&["test-notify", "ops"]).await;
    run.expect_code(0);
    assert!(run.stdout.contains("200"), "{}", run.output());
    let received = hook.received();
    assert_eq!(received.len(), 1);
    let alerts = alerts_of(&received[0].json());
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["kind"], "test");
    assert_eq!(alerts[0]["next_action_url"], EXAMPLE_URL);

    // The server refuses: exit 1 with what it answered.
    let run = ws.run(&["test-notify", "ops"]).await;
    run.expect_code(1);
    assert!(run.output().contains("500"), "{}", run.output());

    // No such receiver: exit 1, named.
    let run = ws.run(&["test-notify", "nobody"]).await;
    run.expect_code(1);
    assert!(run.output().contains("\"nobody\""), "{}", run.output());
    assert_eq!(hook.received().len(), 2);
}

#[tokio::test]
async fn a_delivery_older_than_max_delivery_age_is_abandoned_loudly() {
    let cloud = cloud().await;
    let hook = WebhookReceiver::with_script(Vec::new(), Reply::status(503));
    let ws = Workspace::new();
    let config = format!(
        "{}{}{}{}",
        daemon_section(&ws, "max_delivery_age = \"1s\""),
        token_account("prod", &cloud.url(), &[PROJECT], TOKEN),
        rule("default", &[30, 14, 7, 3, 1, 0], &["ops"]),
        webhook_receiver("ops", &hook.url()),
    );
    ws.write_config(&config);

    ws.run(&["once"]).await.expect_code(1);
    assert_eq!(pending(&ws.run(&["status", "--json"]).await).len(), 1);
    let tried = hook.received().len();
    assert!(tried >= 1);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let run = ws.run(&["once"]).await;
    let abandoned = run.events("notify.abandoned");
    assert_eq!(abandoned.len(), 1, "{}", run.output());
    assert!(
        abandoned[0].contains("ERROR"),
        "at error level: {}",
        abandoned[0]
    );
    assert!(abandoned[0].contains("receiver=ops"), "{}", abandoned[0]);
    assert_eq!(
        run.code,
        1,
        "a message given up on is a failed delivery\n{}",
        run.output()
    );
    assert!(run.stdout.contains("1 abandoned"), "{}", run.output());
    assert_eq!(hook.received().len(), tried, "not tried again");

    let all = deliveries(&ws);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0].status, DeliveryStatus::Abandoned);
    let status = ws.run(&["status", "--json"]).await;
    assert!(pending(&status).is_empty());
    assert_eq!(
        status.json()["outbox"]["abandoned"],
        1,
        "{}",
        status.output()
    );
    let text = ws.run(&["status"]).await;
    assert!(text.stdout.contains("1 abandoned"), "{}", text.output());
}
