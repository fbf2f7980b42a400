//! `type = "alertmanager_api"` against the real Alertmanager (Debian's
//! `prometheus-alertmanager`), started by the test on 127.0.0.1 with a temporary storage path,
//! no cluster, and a route to a webhook receiver the test runs: renewd's alert appears in
//! `GET /api/v2/alerts` with its labels and annotations and a future `endsAt`, reaches the
//! webhook through Alertmanager, is posted again by the next cycle (after an Alertmanager
//! restart lost it), is replaced (not doubled) by the next stage, and is resolved by a renewal.
//! Cycles run in this process at instants fixed relative to the start of the test.
//!
//! Without the binary the test says why and passes, unless `CI_REQUIRE_ALERTMANAGER=1` (CI
//! sets it). Basic auth and bearer tokens are tested against a small server on 127.0.0.1
//! standing in for the Alertmanager, with the real `renewd` binary: sent, and never shown.

mod support;

use chrono::{DateTime, TimeDelta, Utc};
use renewd::app::App;
use renewd::config::Config;
use renewd::cycle::{self, CycleOptions, CycleReport};
use renewd::state::StateStore;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::fake_cloud::FakeCloud;
use support::harness::*;
use support::webhook_receiver::{Reply, WebhookReceiver};

const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";
const PACKAGE: &str = "codeartsStorageExtension";
const RESOURCE: &str = "7590809a5c9d42ae92b49b1190e94666";
const WAIT: Duration = Duration::from_secs(30);

/// The binary, or `None` (with the reason printed) when it is absent and not required.
fn alertmanager_binary() -> Option<&'static str> {
    if Path::new(ALERTMANAGER).is_file() {
        return Some(ALERTMANAGER);
    }
    assert!(
        std::env::var("CI_REQUIRE_ALERTMANAGER").as_deref() != Ok("1"),
        "{ALERTMANAGER} is missing and CI_REQUIRE_ALERTMANAGER=1 (Debian: apt-get install \
         prometheus-alertmanager)"
    );
    eprintln!(
        "skipped: {ALERTMANAGER} is not installed (Debian: prometheus-alertmanager; set \
         CI_REQUIRE_ALERTMANAGER=1 to make this a failure)"
    );
    None
}

/// A real Alertmanager on 127.0.0.1 routing every alert to `hook`, with short group timers.
struct Alertmanager {
    binary: &'static str,
    dir: tempfile::TempDir,
    addr: SocketAddr,
    child: Child,
    http: reqwest::Client,
}

impl Alertmanager {
    async fn start(binary: &'static str, hook_url: &str) -> Alertmanager {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::write(
            dir.path().join("alertmanager.yml"),
            format!(
                "route:\n  receiver: hook\n  group_by: ['alertname', 'package']\n  \
                 group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 4h\n\
                 receivers:\n  - name: hook\n    webhook_configs:\n      - url: {hook_url}\n        \
                 send_resolved: true\n"
            ),
        )
        .expect("write alertmanager.yml");
        // A free port: bound, read, released (the Alertmanager binds it a moment later).
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        // Everything that may panic comes first: once spawned, the child is owned by `am`,
        // whose Drop stops it.
        let http = support::fake_cloud::test_http_client();
        let child = spawn(binary, dir.path(), addr);
        let am = Alertmanager {
            binary,
            dir,
            addr,
            child,
            http,
        };
        am.wait_ready().await;
        am
    }

    /// Stops it (SIGKILL: alerts live in memory only, so they are gone) and starts it again.
    async fn restart(&mut self) {
        self.child.kill().expect("kill the alertmanager");
        self.child.wait().expect("reap the alertmanager");
        self.child = spawn(self.binary, self.dir.path(), self.addr);
        self.wait_ready().await;
    }

    async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let ready = self
                .http
                .get(format!("{}/-/ready", self.url()))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the alertmanager did not become ready; its log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("alertmanager.log")).unwrap_or_default()
    }

    async fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.url()))
            .send()
            .await
            .expect("ask the alertmanager")
            .json()
            .await
            .expect("the alertmanager answers JSON")
    }

    /// Every alert it holds open (it never lists resolved ones).
    async fn alerts(&self) -> Vec<Value> {
        self.get("/api/v2/alerts")
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Its clock minus ours: `/api/v2/status` says when it started, by its clock.
    async fn clock_offset(&self, started: DateTime<Utc>) -> TimeDelta {
        let status = self.get("/api/v2/status").await;
        let uptime: DateTime<Utc> = status["uptime"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .expect("status.uptime is a time");
        uptime - started
    }

    /// Waits until its open alerts satisfy `done`, and returns them.
    async fn wait_for_alerts(&self, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let alerts = self.alerts().await;
            if done(&alerts) {
                return alerts;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: the alertmanager holds {alerts:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(binary: &str, dir: &Path, addr: SocketAddr) -> Child {
    let log = std::fs::File::options()
        .create(true)
        .append(true)
        .open(dir.join("alertmanager.log"))
        .expect("alertmanager log file");
    Command::new(binary)
        .arg(format!(
            "--config.file={}",
            dir.join("alertmanager.yml").display()
        ))
        .arg(format!("--storage.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address={addr}"))
        // Empty: no gossip, no cluster port.
        .arg("--cluster.listen-address=")
        .arg("--log.level=debug")
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone().expect("log file handle")))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start the alertmanager")
}

/// The notifications the Alertmanager sent the hook, waiting until one satisfies `found`.
fn wait_for_notification(hook: &WebhookReceiver, what: &str, found: impl Fn(&Value) -> bool) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let bodies: Vec<Value> = hook.received().iter().map(|r| r.json()).collect();
        if bodies.iter().any(&found) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: the hook got {bodies:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The alerts of an Alertmanager webhook notification with this status and severity.
fn notified(body: &Value, status: &str, severity: &str) -> Option<Value> {
    body["alerts"]
        .as_array()?
        .iter()
        .find(|a| a["status"] == status && a["labels"]["severity"] == severity)
        .cloned()
}

fn labels(alert: &Value) -> &serde_json::Map<String, Value> {
    alert["labels"].as_object().expect("labels")
}

fn time(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{value} is not a time"))
}

struct Renewd {
    runtime: App,
    store: StateStore,
}

impl Renewd {
    async fn cycle(&mut self, at: DateTime<Utc>) -> CycleReport {
        let report = cycle::run_cycle(&self.runtime, &mut self.store, CycleOptions::default(), at)
            .await
            .expect("cycle");
        assert_eq!(report.failed_polls(), 0, "{:#?}", report.polls);
        assert_eq!(
            (report.deliveries.pending, report.deliveries.failed),
            (0, 0),
            "{:#?}",
            report.deliveries
        );
        report
    }
}

#[tokio::test]
async fn an_alert_reaches_the_alertmanager_stays_open_moves_stage_and_resolves_on_renewal() {
    let Some(binary) = alertmanager_binary() else {
        return;
    };
    let started = Utc::now();
    let hook = WebhookReceiver::start();
    let mut am = Alertmanager::start(binary, &hook.url()).await;
    let offset = am.clock_offset(started).await;
    if offset.num_minutes().abs() > 10 {
        // libfaketime (.ci/run-tests-shifted clock) does not reach Go programs: a renewd and
        // its Alertmanager must share a clock, and the unshifted run tests this.
        eprintln!(
            "skipped: the alertmanager's clock is {} h from this process's",
            offset.num_hours()
        );
        return;
    }
    let cloud = FakeCloud::start().await;
    cloud.add_token(TOKEN);
    let serve = |days: i64| {
        cloud.set_packages(Some(PROJECT), packages(&[(PACKAGE, RESOURCE, 2, days)]));
    };
    let ws = Workspace::new();
    ws.write_config(&format!(
        "{}{}{}[receivers.am]\ntype = \"alertmanager_api\"\nurl = \"{}\"\n",
        daemon_section(&ws, ""),
        token_account("prod", &cloud.url(), &[PROJECT], TOKEN),
        rule("default", &[30, 14, 7, 3, 1, 0], &["am"]),
        am.url()
    ));
    let config = Config::load_with_env(&ws.config_path(), &[]).expect("config");
    let mut renewd = Renewd {
        runtime: App::build(config).expect("runtime"),
        store: StateStore::open(ws.state_path()).expect("state"),
    };
    let t0 = (started - TimeDelta::days(3)).with_nanosecond_zero();

    // 5 days left: stage 7, warning.
    serve(5);
    let first = renewd.cycle(t0).await;
    assert_eq!(first.deliveries.delivered, 1, "{first:#?}");
    let alerts = am
        .wait_for_alerts("the first alert", |a| a.len() == 1)
        .await;
    let alert = &alerts[0];
    let expected = json!({
        "alertname": "CodeArtsPackageExpiry",
        "severity": "warning",
        "account": "prod",
        "project_id": PROJECT,
        "package": PACKAGE,
        "resource_id": RESOURCE,
        "kind": "expiring",
    });
    assert_eq!(
        &Value::Object(labels(alert).clone()),
        &expected,
        "{alert:#}"
    );
    let annotations = &alert["annotations"];
    assert_eq!(
        annotations["summary"],
        "codeartsStorageExtension expires in 5 days"
    );
    assert_eq!(
        annotations["renew_url"],
        format!("https://console.example.com/renew?resource={RESOURCE}")
    );
    assert_eq!(annotations["remain_days"], "5");
    let expiry = renewd::model::billing_last_day(t0, 5).unwrap();
    assert_eq!(
        annotations["expiry_date"],
        expiry.format("%Y-%m-%d").to_string()
    );
    assert_eq!(time(&alert["startsAt"]), t0);
    // Two schedule periods (the default schedule runs daily): past the next cycle.
    let ends = time(&alert["endsAt"]);
    assert!(
        ends > Utc::now() + TimeDelta::hours(47) && ends < Utc::now() + TimeDelta::hours(49),
        "endsAt {ends}"
    );
    assert_eq!(alert["status"]["state"], "active");
    assert_eq!(alert["receivers"][0]["name"], "hook");
    wait_for_notification(&hook, "the firing warning through the alertmanager", |b| {
        b["status"] == "firing"
            && notified(b, "firing", "warning").is_some_and(|a| a["labels"]["package"] == PACKAGE)
    });

    // The Alertmanager restarts and forgets it; a cycle that decides nothing posts it again.
    am.restart().await;
    assert!(am.alerts().await.is_empty());
    serve(4);
    let quiet = renewd.cycle(t0 + TimeDelta::days(1)).await;
    assert!(quiet.alerts.is_empty(), "{:#?}", quiet.alerts);
    let alerts = am
        .wait_for_alerts("the refreshed alert", |a| a.len() == 1)
        .await;
    assert_eq!(&Value::Object(labels(&alerts[0]).clone()), &expected);
    assert_eq!(time(&alerts[0]["startsAt"]), t0);

    // 1 day left: stage 1, critical. It replaces the warning rather than joining it.
    serve(1);
    let critical = renewd.cycle(t0 + TimeDelta::days(2)).await;
    assert_eq!(critical.alerts.len(), 1, "{:#?}", critical.alerts);
    let alerts = am
        .wait_for_alerts("the critical stage alone", |a| {
            a.len() == 1 && a[0]["labels"]["severity"] == "critical"
        })
        .await;
    assert_eq!(alerts[0]["labels"]["kind"], "expiring");
    wait_for_notification(&hook, "the warning resolved as the critical fires", |b| {
        notified(b, "resolved", "warning").is_some() && notified(b, "firing", "critical").is_some()
    });

    // Renewed: a year more. The critical alert is resolved at once, with the renewal's words.
    serve(366);
    let renewed = renewd.cycle(t0 + TimeDelta::days(3)).await;
    assert_eq!(
        renewed
            .alerts
            .iter()
            .map(|a| a.kind.as_str())
            .collect::<Vec<_>>(),
        ["renewed"]
    );
    am.wait_for_alerts("nothing open after the renewal", |a| a.is_empty())
        .await;
    wait_for_notification(&hook, "the critical alert resolved", |b| {
        b["status"] == "resolved"
            && notified(b, "resolved", "critical").is_some_and(|a| {
                a["annotations"]["summary"]
                    .as_str()
                    .is_some_and(|s| s.contains("renewed"))
                    && time(&a["endsAt"]) <= Utc::now()
            })
    });

    // A cycle after the renewal holds nothing open, and reopens nothing.
    let after = renewd
        .cycle(t0 + TimeDelta::days(3) + TimeDelta::hours(1))
        .await;
    assert!(after.alerts.is_empty());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(am.alerts().await.is_empty());
}

trait WholeSeconds {
    fn with_nanosecond_zero(self) -> Self;
}

impl WholeSeconds for DateTime<Utc> {
    fn with_nanosecond_zero(self) -> Self {
        use chrono::Timelike;
        self.with_nanosecond(0).expect("zero nanoseconds")
    }
}

// ---------------------------------------------------------------------------------------------
// Credentials, against a stand-in on 127.0.0.1 (answers `[]` to the GET, 200 to the POST)
// ---------------------------------------------------------------------------------------------

const PASSWORD: &str = "s3cret-basic-7f1c";
/// base64("renewd:s3cret-basic-7f1c")
const BASIC: &str = "Basic cmVuZXdkOnMzY3JldC1iYXNpYy03ZjFj";
const BEARER: &str = "am-bearer-token-91d2e0";

fn config_with(ws: &Workspace, cloud: &FakeCloud, receiver: &str) -> PathBuf {
    ws.write_config(&format!(
        "{}{}{}[receivers.am]\ntype = \"alertmanager_api\"\n{receiver}\n",
        daemon_section(ws, ""),
        token_account("prod", &cloud.url(), &[PROJECT], TOKEN),
        rule("default", &[30, 14, 7, 3, 1, 0], &["am"]),
    ))
}

#[tokio::test]
async fn basic_auth_and_bearer_tokens_are_sent_and_never_shown() {
    let cloud = FakeCloud::start().await;
    cloud.add_token(TOKEN);
    cloud.set_packages(Some(PROJECT), packages(&[(PACKAGE, RESOURCE, 2, 5)]));
    let am = WebhookReceiver::with_script(Vec::new(), Reply::with_body(200, "[]"));
    let base = format!("http://{}/prefix", am.addr());
    let ws = Workspace::new();
    let password_file = ws.write_file_mode("am-password", &format!("{PASSWORD}\n"), 0o600);
    config_with(
        &ws,
        &cloud,
        &format!(
            "url = \"{base}\"\nusername = \"renewd\"\npassword_file = \"{}\"",
            password_file.display()
        ),
    );

    let check = ws.run(&["check"]).await;
    check.expect_code(0);
    assert!(
        check.stdout.contains(&format!(
            "alertmanager_api {base}/api/v2/alerts, basic auth as renewd (password from {})",
            password_file.display()
        )),
        "{}",
        check.output()
    );
    assert!(
        check.stdout.contains("alerts held open 2days"),
        "{}",
        check.output()
    );

    let test = ws
        .run_with_env(&["test-notify", "am"], &[("RENEWD_LOG", "debug")])
        .await;
    test.expect_code(0);
    let once = ws.run_with_env(&["once"], &[("RENEWD_LOG", "debug")]).await;
    once.expect_code(0);
    for run in [&check, &test, &once] {
        assert!(!run.output().contains(PASSWORD), "{}", run.output());
    }
    let requests = am.received();
    // test-notify: one POST (a test alert replaces nothing); once: the cycle's GET and POST,
    // then the refresh's GET and POST.
    let lines: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        lines,
        [
            "POST /prefix/api/v2/alerts",
            "GET /prefix/api/v2/alerts",
            "POST /prefix/api/v2/alerts",
            "GET /prefix/api/v2/alerts",
            "POST /prefix/api/v2/alerts",
        ]
    );
    for request in &requests {
        assert_eq!(request.header("authorization"), Some(BASIC));
    }
    assert_eq!(requests[0].json()[0]["labels"]["alertname"], "RenewdTest");
    assert!(
        requests[1]
            .query
            .as_deref()
            .is_some_and(|q| q.contains("filter=alertname")),
        "{:?}",
        requests[1].query
    );
    let posted = requests[2].json();
    assert_eq!(posted[0]["labels"]["severity"], "warning");
    assert_eq!(posted[0]["labels"]["kind"], "expiring");
    assert_eq!(without_ends(&requests[4].json()), without_ends(&posted));

    // A bearer token, and an answer that echoes it back: refused, and shown redacted.
    let ws = Workspace::new();
    config_with(
        &ws,
        &cloud,
        &format!("url = \"{base}\"\nbearer_token = \"{BEARER}\""),
    );
    am.set_script(
        Vec::new(),
        Reply::with_body(401, &format!("{{\"error\":\"invalid token {BEARER}\"}}")),
    );
    let before = am.received().len();
    let test = ws
        .run_with_env(&["test-notify", "am"], &[("RENEWD_LOG", "debug")])
        .await;
    test.expect_code(1);
    assert!(test.output().contains("HTTP 401"), "{}", test.output());
    assert!(test.output().contains("<redacted>"), "{}", test.output());
    let once = ws.run_with_env(&["once"], &[("RENEWD_LOG", "debug")]).await;
    once.expect_code(1);
    let check = ws.run(&["check"]).await;
    check.expect_code(0);
    assert!(
        check.stdout.contains("bearer token (inline)"),
        "{}",
        check.output()
    );
    for run in [&test, &once, &check] {
        assert!(!run.output().contains(BEARER), "{}", run.output());
    }
    let requests = &am.received()[before..];
    assert!(!requests.is_empty());
    for request in requests {
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {BEARER}").as_str())
        );
    }
}

/// Posted alerts without their `endsAt`: a refresh posts the same alert again (same labels,
/// annotations and start) with a new end.
fn without_ends(posted: &Value) -> Value {
    let mut alerts = posted.clone();
    for alert in alerts.as_array_mut().into_iter().flatten() {
        alert.as_object_mut().map(|a| a.remove("endsAt"));
    }
    alerts
}
