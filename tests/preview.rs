//! `renewd preview RECEIVER`: the real binary renders what each kind of receiver would get for
//! the alerts that hold in a state file written here with fixed instants (or for the built-in
//! example), and sends nothing: every receiver points at a loopback listener that must end
//! with no connection at all.

mod support;

use chrono::{DateTime, Utc};
use renewd::model::{Alert, AlertKind, Item, ItemId, PackageStatus, Scope, Severity};
use renewd::notify::outbox::tell_once;
use renewd::rules::{ItemState, RuleProgress};
use renewd::state::{CycleRecord, StateStore};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::TcpListener;
use support::harness::*;

/// Every receiver of the config; the rule routes to all of them.
const RECEIVERS: &[&str] = &["mail", "hook", "chat", "journal", "am"];

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test timestamp")
        .with_timezone(&Utc)
}

/// A port that accepts TCP connections into its backlog and never answers: after the runs,
/// [`Listener::connections`] counts every connection anyone made to it.
struct Listener(TcpListener);

impl Listener {
    fn bind() -> Listener {
        Listener(TcpListener::bind("127.0.0.1:0").expect("bind a loopback listener"))
    }

    fn port(&self) -> u16 {
        self.0.local_addr().expect("listener address").port()
    }

    /// Connections made so far (the kernel completed their handshakes into the backlog).
    fn connections(&self) -> usize {
        self.0.set_nonblocking(true).expect("non-blocking listener");
        let mut n = 0;
        while self.0.accept().is_ok() {
            n += 1;
        }
        n
    }
}

/// Email through an SMTP server on `smtp`, renewd's JSON and DingTalk webhooks and an
/// Alertmanager at `http`, and the log receiver.
fn config(workspace: &Workspace, smtp: &Listener, http: &Listener) -> String {
    let hook = format!("http://127.0.0.1:{}/hook/secret-key", http.port());
    format!(
        "{}{}{}[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nfrom = \"renewd <renewd@example.com>\"\n\n{}{}[receivers.chat]\ntype = \"webhook\"\nformat = \"dingtalk\"\nurl = \"{hook}\"\n\n[receivers.journal]\ntype = \"log\"\n\n[receivers.am]\ntype = \"alertmanager_api\"\nurl = \"http://127.0.0.1:{}\"\n",
        daemon_section(workspace, "timezone = \"Asia/Shanghai\""),
        token_account("prod", &hook, &[PROJECT], TOKEN),
        rule("default", &[30, 14, 7, 3, 1, 0], RECEIVERS),
        smtp.port(),
        email_receiver("mail", &["ops@example.com"]),
        webhook_receiver("hook", &hook),
        http.port(),
    )
}

fn item(key: &str, status: PackageStatus, remain_days: i64, url: &str) -> Item {
    Item {
        scope: Scope::packages("prod", Some(PROJECT)),
        key: key.into(),
        resource_id: format!("r-{key}"),
        service_type: Some("hws.resource.type.codearts.extension.storage".into()),
        status: Some(status),
        remain_days,
        next_action_url: Some(url.into()),
        details: None,
    }
}

fn state(item: &Item, at: DateTime<Utc>) -> (ItemId, ItemState) {
    let progress = RuleProgress {
        alerted: true,
        last_alert_at: Some(at),
        ..RuleProgress::default()
    };
    (
        item.identity(),
        ItemState {
            last: item.clone(),
            epoch: 0,
            vanished: false,
            first_seen: at,
            last_seen: at,
            rules: BTreeMap::from([("default".to_string(), progress)]),
        },
    )
}

fn decision(item: &Item, kind: AlertKind, severity: Severity, at: DateTime<Utc>) -> Alert {
    Alert {
        id: format!("{}-{kind}", item.key),
        kind,
        severity,
        rule: "default".into(),
        account: item.scope.account.clone(),
        project_id: item.scope.project_id.clone(),
        source: Default::default(),
        package: Some(item.key.clone()),
        resource_id: Some(item.resource_id.clone()),
        service_type: item.service_type.clone(),
        package_status: item.status_code(),
        resource: Default::default(),
        package_status_name: item.status.map(|s| s.name().into()),
        remain_days: Some(item.remain_days),
        threshold: (kind == AlertKind::Expiring).then_some(7),
        next_action_url: item.next_action_url.clone(),
        summary: match kind {
            AlertKind::Expired => format!("{} expired (grace period)", item.key),
            _ => format!("{} expires in {} days", item.key, item.remain_days),
        },
        raised_at: at,
        previous_status: None,
        reminder: false,
        error: None,
        receivers: RECEIVERS.iter().map(|r| r.to_string()).collect(),
    }
}

/// A state file as a cycle on 2026-11-26 left it: `codeartsStorageExtension` expiring in 6
/// days, `codeartsBuildExtension` expired (grace period) with a link that is not https, and
/// `codeartsOldExtension`, whose alert a renewal ended (its rule no longer counts it alerted).
fn write_state(workspace: &Workspace) {
    let at = t("2026-11-26T01:00:00Z");
    let storage = item(
        "codeartsStorageExtension",
        PackageStatus::Active,
        6,
        "https://console.example.com/renew?id=storage",
    );
    let build = item(
        "codeartsBuildExtension",
        PackageStatus::Grace,
        0,
        "http://console.example.com/renew?id=build",
    );
    let renewed = item(
        "codeartsOldExtension",
        PackageStatus::Active,
        40,
        "https://console.example.com/renew?id=old",
    );
    let mut renewed_state = state(&renewed, at);
    renewed_state.1.rules.get_mut("default").unwrap().alerted = false;
    let mut store = StateStore::open(workspace.state_path()).expect("create the state file");
    store
        .record_cycle(
            &CycleRecord {
                started_at: at,
                packages: vec![state(&storage, at), state(&build, at), renewed_state],
                health: vec![],
                alerts: vec![
                    decision(&storage, AlertKind::Expiring, Severity::Warning, at),
                    decision(&build, AlertKind::Expired, Severity::Critical, at),
                    decision(&renewed, AlertKind::Expiring, Severity::Warning, at),
                ],
                deliveries: vec![],
            },
            tell_once,
        )
        .expect("record a cycle");
}

/// The packages named in renewd's JSON body.
fn packages(body: &Value) -> Vec<String> {
    body["alerts"]
        .as_array()
        .unwrap_or_else(|| panic!("no alerts in {body}"))
        .iter()
        .map(|a| a["package"].as_str().unwrap_or("-").to_string())
        .collect()
}

#[tokio::test]
async fn preview_renders_the_alerts_that_hold_for_each_receiver_and_sends_nothing() {
    let (smtp, http) = (Listener::bind(), Listener::bind());
    let workspace = Workspace::new();
    workspace.write_config(&config(&workspace, &smtp, &http));
    write_state(&workspace);
    // A writer holds the state file, as a running daemon does: preview only reads it.
    let _daemon = StateStore::open(workspace.state_path()).expect("hold the writer lock");

    // email, text (the default): the subject, then the text part.
    let run = workspace.run(&["preview", "mail"]).await;
    run.expect_code(0);
    assert!(
        run.stderr
            .contains("showing \"mail\" the 2 alert(s) that currently hold"),
        "{}",
        run.output()
    );
    assert!(run.stdout.starts_with("Subject: "), "{}", run.output());
    assert!(run
        .stdout
        .contains("codeartsStorageExtension expires in 6 days"));
    assert!(run.stdout.contains("codeartsBuildExtension expired"));
    assert!(
        !run.stdout.contains("codeartsOldExtension"),
        "{}",
        run.output()
    );

    // email, HTML: the https link is a Renew link, the http one is only shown.
    let html = workspace
        .run(&["preview", "mail", "--format", "html"])
        .await;
    html.expect_code(0);
    assert!(
        html.stdout
            .contains("<a href=\"https://console.example.com/renew?id=storage\" "),
        "{}",
        html.output()
    );
    assert_eq!(
        html.stdout.matches(">Renew</a>").count(),
        1,
        "{}",
        html.output()
    );
    assert!(
        !html.stdout.contains("<a href=\"http://"),
        "{}",
        html.output()
    );
    assert!(html.stdout.contains("id=build"), "{}", html.output());

    // email, JSON: the three parts. (Each run renders anew: its "sent" time may differ.)
    let parts = workspace
        .run(&["preview", "mail", "--format", "json"])
        .await;
    let parts = parts.expect_code(0).json();
    assert_eq!(
        format!("Subject: {}", parts["subject"].as_str().unwrap()),
        run.stdout.lines().next().unwrap()
    );
    // Dates come from when the state saw the package, not from today.
    assert!(
        parts["text"]
            .as_str()
            .unwrap()
            .contains("Expires:     2026-12-02 (estimated)"),
        "{parts}"
    );
    assert!(parts["html"]
        .as_str()
        .unwrap()
        .contains("<a href=\"https://console.example.com/renew?id=storage\" "));

    // renewd's JSON webhook (json by default): the body it would POST.
    let hook = workspace.run(&["preview", "hook"]).await;
    let body = hook.expect_code(0).json();
    assert_eq!(body["source"], "renewd");
    assert_eq!(body["receiver"], "hook");
    assert_eq!(
        packages(&body),
        ["codeartsBuildExtension", "codeartsStorageExtension"]
    );
    assert_eq!(body["alerts"][1]["remain_days"], 6);
    assert_eq!(body["alerts"][1]["raised_at"], "2026-11-26T01:00:00Z");

    // DingTalk: its ActionCard body (a Renew button for the https link), and its chat text.
    let chat = workspace.run(&["preview", "chat"]).await;
    let body = chat.expect_code(0).json();
    assert_eq!(body["msgtype"], "actionCard", "{body}");
    assert_eq!(
        body["actionCard"]["btns"][0]["actionURL"], "https://console.example.com/renew?id=storage",
        "{body}"
    );
    let text = body["actionCard"]["text"].as_str().unwrap();
    assert!(
        text.contains("[Renew](https://console.example.com/renew?id=storage)"),
        "{text}"
    );
    let chat_text = workspace
        .run(&["preview", "chat", "--format", "text"])
        .await;
    chat_text.expect_code(0);
    assert!(
        chat_text.stdout.starts_with("**renewd:"),
        "{}",
        chat_text.output()
    );
    assert!(
        chat_text
            .stdout
            .contains("**codeartsStorageExtension** expires in 6 days"),
        "{}",
        chat_text.output()
    );

    // The log receiver: its alert.log lines, as text and as JSON.
    let log = workspace.run(&["preview", "journal"]).await;
    log.expect_code(0);
    let lines: Vec<&str> = log.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", log.output());
    assert!(lines[0].contains("ERROR") && lines[0].contains("event=\"alert.log\""));
    assert!(lines[1].contains("WARN") && lines[1].contains("remain_days=6"));
    let log = workspace
        .run(&["preview", "journal", "--format", "json"])
        .await;
    log.expect_code(0);
    let events: Vec<Value> = log
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    assert_eq!(events.len(), 2, "{}", log.output());
    assert_eq!(events[0]["event"], "alert.log");
    assert_eq!(events[0]["package"], "codeartsBuildExtension");

    // An Alertmanager's API: the alerts it would POST (it is not asked what it holds open).
    let am = workspace.run(&["preview", "am"]).await;
    let posted = am.expect_code(0).json();
    let names: Vec<&str> = posted
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {posted}"))
        .iter()
        .map(|a| a["labels"]["package"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{posted}");
    assert!(names.contains(&"codeartsStorageExtension"), "{posted}");

    // Nothing was sent: no connection to the SMTP server or the webhooks, ever.
    assert_eq!(
        smtp.connections(),
        0,
        "preview connected to the SMTP server"
    );
    assert_eq!(http.connections(), 0, "preview connected to a webhook");
    // (The count does see a connection.)
    let _client = std::net::TcpStream::connect(("127.0.0.1", http.port())).unwrap();
    assert_eq!(http.connections(), 1);
}

#[tokio::test]
async fn without_a_state_file_the_built_in_example_is_shown() {
    let (smtp, http) = (Listener::bind(), Listener::bind());
    let workspace = Workspace::new();
    workspace.write_config(&config(&workspace, &smtp, &http));

    let run = workspace.run(&["preview", "hook"]).await;
    let body = run.expect_code(0).json();
    assert!(
        run.stderr.contains("does not exist yet") && run.stderr.contains("built-in example"),
        "{}",
        run.output()
    );
    assert_eq!(
        packages(&body),
        [
            "codeartsBuildExtension",
            "codeartsPipelineExtension",
            "codeartsStorageExtension"
        ]
    );
    let kinds: Vec<&str> = body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["expired", "expiring", "expiring"]);
    assert!(body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["account"] == "example"));
    assert!(
        !workspace.state_path().exists(),
        "preview created the state file"
    );

    // A state file that holds nothing for the receiver: the example too, saying why.
    StateStore::open(workspace.state_path()).expect("create an empty state file");
    let run = workspace
        .run(&["preview", "mail", "--format", "html"])
        .await;
    run.expect_code(0);
    assert!(
        run.stderr.contains("holds no alert for it"),
        "{}",
        run.output()
    );
    assert!(
        run.stdout
            .contains("<a href=\"https://localhost.com/usercenter/"),
        "{}",
        run.output()
    );
    assert_eq!(smtp.connections() + http.connections(), 0);
}

#[tokio::test]
async fn usage_errors_exit_2_and_a_bad_config_exits_78() {
    let (smtp, http) = (Listener::bind(), Listener::bind());
    let workspace = Workspace::new();
    workspace.write_config(&config(&workspace, &smtp, &http));

    let run = workspace.run(&["preview", "nobody"]).await;
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("no receiver named \"nobody\" (configured: am, chat, hook, journal, mail)"),
        "{}",
        run.output()
    );

    let run = workspace
        .run(&["preview", "hook", "--format", "html"])
        .await;
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("receiver \"hook\" (webhook) has no html form; it has: json"),
        "{}",
        run.output()
    );
    let run = workspace
        .run(&["preview", "journal", "--format", "html"])
        .await;
    run.expect_code(2);
    assert!(
        run.stderr.contains("it has: text, json"),
        "{}",
        run.output()
    );

    let run = workspace.run(&["preview", "mail", "--locale", "fr"]).await;
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("no such locale; messages exist in: en, zh-CN"),
        "{}",
        run.output()
    );
    workspace
        .run(&["preview", "mail", "--locale", "en"])
        .await
        .expect_code(0);
    // The receiver writes English; --locale zh-CN shows the same digest in Chinese.
    let run = workspace
        .run(&["preview", "mail", "--locale", "zh-CN"])
        .await;
    run.expect_code(0);
    assert!(run.stdout.contains("续费："), "{}", run.output());
    assert!(run.stdout.contains("到期："), "{}", run.output());

    workspace.write_config("[daemon]\nschedule = 7\n");
    workspace.run(&["preview", "mail"]).await.expect_code(78);
    assert_eq!(smtp.connections() + http.connections(), 0);
}
