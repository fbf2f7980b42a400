//! The core pipeline end to end (issue 2): the real `renewd` binary, or the library's cycle
//! where a test needs the same process twice, against the fake CodeArts gateway and a real
//! webhook receiver on 127.0.0.1. Each test has its own fakes and state file.

mod support;

use chrono::Utc;
use renewd::app::App;
use renewd::config::Config;
use renewd::cycle::{self, CycleOptions};
use renewd::state::StateStore;
use serde_json::{json, Value};
use support::fake_cloud::{Failure, FakeCloud};
use support::harness::*;
use support::webhook_receiver::{Reply, WebhookReceiver};

const STORAGE_RESOURCE: &str = "7590809a5c9d42ae92b49b1190e94666";
const EXAMPLE_URL: &str = "https://localhost.com/usercenter/?region=region&locale=zh-cn#/renewal?subscriptionId=01154-618666699-0&orderId=CS24066664337FWPY&isFrom=expense";

/// A fake cloud accepting [`TOKEN`], a webhook receiver answering 200, and a workspace whose
/// config points at both.
struct Setup {
    cloud: FakeCloud,
    hook: WebhookReceiver,
    ws: Workspace,
}

impl Setup {
    async fn new() -> Setup {
        Self::with_hook(WebhookReceiver::start()).await
    }

    async fn with_hook(hook: WebhookReceiver) -> Setup {
        let cloud = FakeCloud::start().await;
        cloud.add_token(TOKEN);
        let ws = Workspace::new();
        ws.write_config(&basic_config(&ws, &cloud.url(), &hook.url()));
        Setup { cloud, hook, ws }
    }

    fn serve(&self, entries: &[(&str, &str, i64, i64)]) {
        self.cloud.set_packages(Some(PROJECT), packages(entries));
    }

    /// Bodies of every webhook request so far.
    fn bodies(&self) -> Vec<Value> {
        self.hook.received().iter().map(|r| r.json()).collect()
    }

    /// Runs `once` and expects `code`.
    async fn once(&self, code: i32) -> Run {
        let run = self.ws.run(&["once"]).await;
        run.expect_code(code);
        run
    }
}

fn find<'a>(alerts: &'a [Value], package: &str) -> &'a Value {
    alerts
        .iter()
        .find(|a| a["package"] == package)
        .unwrap_or_else(|| panic!("no alert for {package} in {alerts:#?}"))
}

#[tokio::test]
async fn first_cycle_sends_one_json_digest_with_every_alert() {
    // The documented example: two packages at 11 days (stage 14).
    let s = Setup::new().await;
    let run = s.once(0).await;

    let requests = s.hook.received();
    assert_eq!(requests.len(), 1, "one digest per receiver per cycle");
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert!(request
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json")));
    let body = request.json();
    assert_eq!(body["version"], "1");
    assert_eq!(body["source"], "renewd");
    assert_eq!(body["receiver"], "ops");
    let sent_at = body["sent_at"].as_str().expect("sent_at is a string");
    chrono::DateTime::parse_from_rfc3339(sent_at).expect("sent_at is RFC 3339");

    let alerts = alerts_of(&body);
    assert_eq!(alerts.len(), 2, "{body:#}");
    let storage = find(&alerts, "codeartsStorageExtension");
    let expected = json!({
        "kind": "expiring",
        "severity": "info",
        "rule": "default",
        "account": "prod",
        "project_id": PROJECT,
        "package": "codeartsStorageExtension",
        "resource_id": STORAGE_RESOURCE,
        "service_type": "hws.resource.type.codearts.extension.storage",
        "package_status": 2,
        "package_status_name": "active",
        "remain_days": 11,
        "threshold": 14,
        "next_action_url": EXAMPLE_URL,
        "summary": "codeartsStorageExtension expires in 11 days",
    });
    for (key, value) in expected.as_object().expect("object") {
        assert_eq!(&storage[key], value, "field {key} of {storage:#}");
    }
    assert_eq!(
        storage["id"].as_str().map(str::len),
        Some(32),
        "{storage:#}"
    );
    assert!(storage["raised_at"].is_string(), "{storage:#}");
    let traffic = find(&alerts, "codeartsTrafficExtension");
    assert_eq!(
        traffic["service_type"],
        "hws.resource.type.codearts.extension.flow"
    );
    assert_ne!(storage["id"], traffic["id"], "each decision has its own id");

    // The table names every package, its days, status and decision.
    for needle in [
        "codeartsStorageExtension",
        "codeartsTrafficExtension",
        "active (2)",
        "expiring",
    ] {
        assert!(run.stdout.contains(needle), "{needle}\n{}", run.output());
    }
    assert_eq!(s.cloud.request_count(Some(PROJECT)), 1);
}

#[tokio::test]
async fn an_unchanged_cycle_sends_nothing_in_the_same_process_or_a_new_one() {
    let s = Setup::new().await;
    let config = Config::load_with_env(&s.ws.config_path(), &[]).expect("config");
    let runtime = App::build(config).expect("runtime");
    let mut store = StateStore::open(s.ws.state_path()).expect("state");

    let first = cycle::run_cycle(&runtime, &mut store, CycleOptions::default(), Utc::now())
        .await
        .expect("first cycle");
    assert_eq!(first.alerts.len(), 2);
    assert_eq!(first.deliveries.delivered, 1);
    let second = cycle::run_cycle(&runtime, &mut store, CycleOptions::default(), Utc::now())
        .await
        .expect("second cycle");
    assert!(second.alerts.is_empty(), "{:#?}", second.alerts);
    assert_eq!(second.deliveries.delivered, 0);
    assert_eq!(s.hook.received().len(), 1);
    drop(store);
    drop(runtime);

    // A new process reopens the state file: still nothing to say, twice.
    for _ in 0..2 {
        let run = s.once(0).await;
        assert!(run.stdout.contains("0 alert(s)"), "{}", run.output());
        assert_eq!(s.hook.received().len(), 1, "{}", run.output());
    }
    assert_eq!(
        s.cloud.request_count(Some(PROJECT)),
        4,
        "every cycle polled"
    );
}

#[tokio::test]
async fn the_next_stage_alerts_only_the_package_that_changed() {
    let s = Setup::new().await;
    s.serve(&[("alpha", "a1", 2, 11), ("beta", "b1", 2, 11)]);
    s.once(0).await;
    assert_eq!(alerts_of(&s.bodies()[0]).len(), 2);

    // alpha moves to the 7-day stage; beta loses a day but stays in the 14-day stage.
    s.serve(&[("alpha", "a1", 2, 6), ("beta", "b1", 2, 10)]);
    s.once(0).await;
    let bodies = s.bodies();
    assert_eq!(bodies.len(), 2);
    let alerts = alerts_of(&bodies[1]);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["package"], "alpha");
    assert_eq!(alerts[0]["kind"], "expiring");
    assert_eq!(alerts[0]["threshold"], 7);
    assert_eq!(alerts[0]["severity"], "warning");
    assert_eq!(alerts[0]["remain_days"], 6);
}

#[tokio::test]
async fn first_seen_below_many_thresholds_sends_one_alert_for_the_tightest() {
    let s = Setup::new().await;
    let config = format!(
        "{}{}{}{}",
        daemon_section(&s.ws, ""),
        token_account("prod", &s.cloud.url(), &[PROJECT], TOKEN),
        rule("default", &[30, 14, 7, 3], &["ops"]),
        webhook_receiver("ops", &s.hook.url())
    );
    s.ws.write_config(&config);
    s.serve(&[("late", "l1", 2, 5)]);
    s.once(0).await;
    let bodies = s.bodies();
    assert_eq!(bodies.len(), 1);
    let alerts = alerts_of(&bodies[0]);
    assert_eq!(
        alerts.len(),
        1,
        "one alert, not one per crossed threshold: {alerts:#?}"
    );
    assert_eq!(alerts[0]["threshold"], 7);
    assert_eq!(alerts[0]["severity"], "warning");

    // Still in that stage a day later: nothing.
    s.serve(&[("late", "l1", 2, 4)]);
    s.once(0).await;
    assert_eq!(s.hook.received().len(), 1);
}

#[tokio::test]
async fn renewal_sends_a_renewed_notice_and_starts_a_new_cycle() {
    let s = Setup::new().await;
    s.serve(&[("pkg", "r1", 2, 6)]);
    s.once(0).await;
    let first = alerts_of(&s.bodies()[0]);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["threshold"], 7);

    // Renewed to 25 days: a `renewed` notice, and the new cycle is evaluated at once (stage 30).
    s.serve(&[("pkg", "r1", 2, 25)]);
    s.once(0).await;
    let bodies = s.bodies();
    assert_eq!(bodies.len(), 2);
    let alerts = alerts_of(&bodies[1]);
    let kinds: Vec<&str> = alerts.iter().filter_map(|a| a["kind"].as_str()).collect();
    assert_eq!(kinds.len(), 2, "{alerts:#?}");
    assert!(kinds.contains(&"renewed"), "{alerts:#?}");
    let expiring = alerts
        .iter()
        .find(|a| a["kind"] == "expiring")
        .unwrap_or_else(|| panic!("{alerts:#?}"));
    assert_eq!(expiring["threshold"], 30);
    assert_ne!(expiring["id"], first[0]["id"]);
    let renewed = alerts
        .iter()
        .find(|a| a["kind"] == "renewed")
        .expect("renewed");
    assert_eq!(renewed["remain_days"], 25);

    // The new cycle goes through its stages again: 6 days is stage 7 once more.
    s.serve(&[("pkg", "r1", 2, 6)]);
    s.once(0).await;
    let bodies = s.bodies();
    assert_eq!(bodies.len(), 3);
    let alerts = alerts_of(&bodies[2]);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["threshold"], 7);
    assert_ne!(
        alerts[0]["id"], first[0]["id"],
        "a new cycle, a new decision"
    );
}

#[tokio::test]
async fn expired_and_grace_period_are_reported_once_per_status() {
    let s = Setup::new().await;
    // Out of days while still active, and in the grace period.
    s.serve(&[("zero", "z1", 2, 0), ("grace", "g1", 5, 0)]);
    let run = s.once(0).await;
    assert!(run.stdout.contains("grace (5)"), "{}", run.output());
    let alerts = alerts_of(&s.bodies()[0]);
    assert_eq!(alerts.len(), 2, "expired replaces expiring: {alerts:#?}");
    for package in ["zero", "grace"] {
        let alert = find(&alerts, package);
        assert_eq!(alert["kind"], "expired");
        assert_eq!(alert["severity"], "critical");
    }
    assert_eq!(find(&alerts, "grace")["package_status_name"], "grace");

    // Unchanged: nothing.
    s.once(0).await;
    assert_eq!(s.bodies().len(), 1);

    // Grace ends, retention begins: expired again for the new status, and no separate
    // status_changed on top of it.
    s.serve(&[("zero", "z1", 2, 0), ("grace", "g1", 4, 0)]);
    s.once(0).await;
    let bodies = s.bodies();
    assert_eq!(bodies.len(), 2);
    let alerts = alerts_of(&bodies[1]);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["package"], "grace");
    assert_eq!(alerts[0]["kind"], "expired");
    assert_eq!(alerts[0]["package_status"], 4);
}

#[tokio::test]
async fn a_vanished_package_is_reported_once_and_a_failed_poll_vanishes_nothing() {
    let s = Setup::new().await;
    s.serve(&[("stay", "s1", 2, 45), ("go", "g1", 2, 45)]);
    s.once(0).await;
    assert!(
        s.hook.received().is_empty(),
        "45 days is above every threshold"
    );

    // A failed poll says nothing about packages.
    s.cloud.set_failure(Some(PROJECT), Failure::StatusError);
    s.once(1).await;
    assert!(s.hook.received().is_empty());
    s.cloud.clear_failure(Some(PROJECT));

    s.serve(&[("stay", "s1", 2, 45)]);
    let run = s.once(0).await;
    let bodies = s.bodies();
    assert_eq!(bodies.len(), 1, "{}", run.output());
    let alerts = alerts_of(&bodies[0]);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["kind"], "vanished");
    assert_eq!(alerts[0]["package"], "go");
    assert_eq!(alerts[0]["severity"], "warning");

    s.once(0).await;
    assert_eq!(s.hook.received().len(), 1, "vanished is said once");
}

#[tokio::test]
async fn an_unknown_status_is_kept_in_once_json() {
    let s = Setup::new().await;
    s.serve(&[("odd", "o1", 7, 45), ("usual", "u1", 2, 45)]);
    let run = s.ws.run(&["once", "--json"]).await;
    run.expect_code(0);
    let report = run.json();
    let rows = report["packages"].as_array().expect("packages array");
    assert_eq!(rows.len(), 2, "{report:#}");
    let odd = rows
        .iter()
        .find(|r| r["package"] == "odd")
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(odd["package_status"], 7);
    assert_eq!(odd["package_status_name"], "unknown");
    assert_eq!(odd["account"], "prod");
    assert_eq!(odd["project_id"], PROJECT);
    assert_eq!(odd["resource_id"], "o1");
    assert_eq!(odd["remain_days"], 45);
    assert_eq!(
        odd["next_action_url"],
        "https://console.example.com/renew?resource=o1"
    );
}

#[tokio::test]
async fn api_errors_and_garbage_exit_1_naming_the_error() {
    let s = Setup::new().await;

    s.cloud.set_failure(Some(PROJECT), Failure::StatusError);
    let run = s.once(1).await;
    let out = run.output();
    assert!(out.contains("DEV.00000002"), "{out}");
    assert!(out.contains("project does not exist"), "{out}");
    assert!(out.contains("prod"), "names the account: {out}");
    assert_eq!(run.events("poll.failed").len(), 1, "{out}");

    s.cloud.set_failure(Some(PROJECT), Failure::NonJson);
    let run = s.once(1).await;
    let out = run.output();
    assert!(
        out.to_lowercase().contains("json"),
        "says the body was not JSON: {out}"
    );
    assert_eq!(run.events("poll.failed").len(), 1, "{out}");

    s.cloud.set_failure(Some(PROJECT), Failure::ServerError);
    let run = s.once(1).await;
    let out = run.output();
    assert!(out.contains("DEV.00000500"), "{out}");
    assert!(out.contains("HTTP 500"), "{out}");

    // Nothing was decided about packages from any of these; the third failure in a row
    // (the default `failure_alert_after`) is reported as such.
    let bodies = s.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:#?}");
    let alerts = alerts_of(&bodies[0]);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["kind"], "poll_failed");
}

#[tokio::test]
async fn a_hanging_api_is_cut_off_by_the_timeout() {
    let s = Setup::new().await;
    let config = format!(
        "{}{}{}{}",
        daemon_section(&s.ws, "timeout = \"1s\""),
        token_account("prod", &s.cloud.url(), &[PROJECT], TOKEN),
        rule("default", &[30, 14, 7, 3, 1, 0], &["ops"]),
        webhook_receiver("ops", &s.hook.url())
    );
    s.ws.write_config(&config);
    s.cloud.set_failure(Some(PROJECT), Failure::Hang);
    let run = s.once(1).await;
    let out = run.output();
    assert!(out.contains("timeout"), "{out}");
    assert!(
        out.contains("within 1s"),
        "the configured timeout, not the default: {out}"
    );
    assert!(out.contains("prod"), "{out}");
    assert!(s.cloud.request_count(Some(PROJECT)) >= 1);
}

#[tokio::test]
async fn webhook_503_twice_then_200_delivers_exactly_once() {
    let hook = WebhookReceiver::with_script(
        vec![Reply::status(503), Reply::status(503)],
        Reply::status(200),
    );
    let s = Setup::with_hook(hook).await;
    let run = s.once(0).await;

    let requests = s.hook.received();
    assert_eq!(
        requests.len(),
        3,
        "two refusals, one success\n{}",
        run.output()
    );
    let ids: Vec<Vec<String>> = requests.iter().map(|r| alert_ids(&r.json())).collect();
    assert_eq!(ids[0].len(), 2);
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "a retry carries the same ids: {ids:?}"
    );
    assert_eq!(run.events("notify.delivered").len(), 1, "{}", run.output());

    let status = s.ws.run(&["status", "--json"]).await;
    status.expect_code(0);
    assert_eq!(status.json()["pending_deliveries"], json!([]));

    // Delivered means done: the next run sends nothing.
    s.once(0).await;
    assert_eq!(s.hook.received().len(), 3);
}

#[tokio::test]
async fn dry_run_sends_and_records_nothing() {
    let s = Setup::new().await;
    s.serve(&[("alpha", "a1", 2, 11)]);
    let run = s.ws.run(&["once", "--dry-run"]).await;
    run.expect_code(0);
    assert!(run.stdout.contains("alpha"), "{}", run.output());
    assert!(
        run.stdout.contains("expiring"),
        "shows what would be decided: {}",
        run.output()
    );
    assert!(s.hook.received().is_empty());
    assert!(
        !s.ws.state_path().exists(),
        "a dry run does not even create the state file"
    );

    // With a state file: a dry run reads it, decides, and leaves it as it was.
    s.once(0).await;
    assert_eq!(s.hook.received().len(), 1);
    let before = s.ws.run(&["status", "--json"]).await;
    before.expect_code(0);
    s.serve(&[("alpha", "a1", 2, 6)]);
    let run = s.ws.run(&["once", "--dry-run", "--json"]).await;
    run.expect_code(0);
    assert_eq!(run.json()["alerts"][0]["threshold"], 7, "{}", run.output());
    assert_eq!(s.hook.received().len(), 1, "sends nothing");
    let after = s.ws.run(&["status", "--json"]).await;
    assert_eq!(before.json(), after.json(), "records nothing");

    // The real run still has that decision to make and send.
    s.once(0).await;
    let bodies = s.bodies();
    assert_eq!(bodies.len(), 2);
    assert_eq!(alerts_of(&bodies[1])[0]["threshold"], 7);
}

#[tokio::test]
async fn status_shows_what_the_state_store_knows() {
    let s = Setup::new().await;
    s.serve(&[("alpha", "a1", 2, 6), ("beta", "b1", 2, 45)]);
    s.once(0).await;

    let text = s.ws.run(&["status"]).await;
    text.expect_code(0);
    for needle in [
        "alpha",
        "beta",
        "prod",
        PROJECT,
        "expiring",
        "pending deliveries: 0",
    ] {
        assert!(text.stdout.contains(needle), "{needle}\n{}", text.output());
    }

    let json = s.ws.run(&["status", "--json"]).await;
    json.expect_code(0);
    let doc = json.json();
    let rows = doc["packages"].as_array().expect("packages");
    assert_eq!(rows.len(), 2, "{doc:#}");
    let alpha = rows
        .iter()
        .find(|r| r["package"] == "alpha")
        .expect("alpha");
    assert_eq!(alpha["remain_days"], 6);
    assert_eq!(alpha["account"], "prod");
    assert_eq!(alpha["project_id"], PROJECT);
    assert_eq!(alpha["package_status"], 2);
    assert_eq!(alpha["last_alert"]["kind"], "expiring");
    assert_eq!(alpha["last_alert"]["threshold"], 7);
    let beta = rows.iter().find(|r| r["package"] == "beta").expect("beta");
    assert!(beta["last_alert"].is_null(), "{beta:#}");
    let polls = doc["polls"].as_array().expect("polls");
    assert_eq!(polls.len(), 1);
    assert_eq!(polls[0]["consecutive_failures"], 0);
}

#[tokio::test]
async fn an_entry_without_remain_days_is_reported_not_guessed_nor_vanished() {
    let s = Setup::new().await;
    s.serve(&[("good", "g1", 2, 45), ("broken", "b1", 2, 45)]);
    s.once(0).await;

    let mut result = packages(&[("good", "g1", 2, 45), ("broken", "b1", 2, 45)]);
    result["broken"]
        .as_object_mut()
        .expect("entry")
        .remove("remainDays");
    s.cloud.set_packages(Some(PROJECT), result);
    let run = s.once(1).await;
    let out = run.output();
    assert!(
        run.stdout.contains("bad entry") && run.stdout.contains("broken"),
        "{out}"
    );
    assert!(out.contains("remainDays"), "says what is missing: {out}");
    assert_eq!(run.events("poll.bad_entry").len(), 1, "{out}");
    assert!(
        s.hook.received().is_empty(),
        "not vanished, not guessed: {out}"
    );

    // Readable again: nothing to say about it either.
    s.serve(&[("good", "g1", 2, 45), ("broken", "b1", 2, 45)]);
    s.once(0).await;
    assert!(s.hook.received().is_empty());
}

#[tokio::test]
async fn without_ca_certificates_once_and_run_refuse_to_start_and_say_why() {
    let s = Setup::new().await;
    // rustls-native-certs reads only these when they are set: a system without CA certificates.
    let env = [
        ("SSL_CERT_FILE", "/nonexistent/ca.pem"),
        ("SSL_CERT_DIR", "/nonexistent/certs"),
    ];
    for command in ["once", "run"] {
        let run = s.ws.run_with_env(&[command], &env).await;
        // 78: restarting will not help, so the unit does not loop.
        run.expect_code(78);
        assert!(
            run.stderr
                .contains("No CA certificates were loaded from the system")
                && run.stderr.contains("ca-certificates"),
            "{}",
            run.output()
        );
    }
    assert!(s.hook.received().is_empty());
}

// ---------------------------------------------------------------------------------------------
// projects = "all": the projects found at each cycle (issue 14, point 4)
// ---------------------------------------------------------------------------------------------

const PA: &str = "a00000000000000000000000000000aa";
const PB: &str = "b00000000000000000000000000000bb";
const PC: &str = "c00000000000000000000000000000cc";

/// [`Setup`] whose account has `projects = "all"`, listed from the fake's ProjectMan, which
/// lists `projects` to begin with.
async fn discovering_setup(projects: &[&str]) -> Setup {
    let s = Setup::new().await;
    let config = basic_config(&s.ws, &s.cloud.url(), &s.hook.url()).replace(
        &format!("projects = [\"{PROJECT}\"]"),
        &format!(
            "projects = \"all\"\nprojectman_endpoint = \"{}\"",
            s.cloud.url()
        ),
    );
    s.ws.write_config(&config);
    s.cloud
        .set_projects(projects.iter().map(|p| p.to_string()).collect());
    s
}

/// The kinds of the alerts of the last digest the webhook got since `seen` digests.
fn kinds_since(s: &Setup, seen: usize) -> Vec<(String, String)> {
    s.bodies()
        .iter()
        .skip(seen)
        .flat_map(alerts_of)
        .map(|a| {
            (
                a["kind"].as_str().unwrap_or_default().to_string(),
                a["project_id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn projects_found_at_each_cycle_are_polled_and_removed_ones_told_once() {
    let s = discovering_setup(&[PA, PB]).await;
    let run = s.once(0).await;
    assert!(
        run.stdout.contains("projects of prod: 2 found"),
        "{}",
        run.output()
    );
    assert_eq!(
        run.events("discovery.succeeded").len(),
        1,
        "{}",
        run.output()
    );
    assert_eq!(s.cloud.request_count(Some(PA)), 1);
    assert_eq!(s.cloud.request_count(Some(PB)), 1);
    assert_eq!(kinds_since(&s, 0).len(), 4, "two packages in each project");

    // A project created since: polled without a config change, its packages alerted.
    s.cloud.set_projects(vec![PA.into(), PB.into(), PC.into()]);
    let run = s.once(0).await;
    assert!(run.stdout.contains("3 found"), "{}", run.output());
    assert_eq!(s.cloud.request_count(Some(PC)), 1);
    let new = kinds_since(&s, 1);
    assert_eq!(new.len(), 2, "{new:?}");
    assert!(
        new.iter().all(|(k, p)| k == "expiring" && p == PC),
        "{new:?}"
    );

    // A project deleted: one project_removed (info), no vanished, and it is not polled.
    s.cloud.set_projects(vec![PA.into(), PC.into()]);
    let run = s.once(0).await;
    assert!(run.stdout.contains("1 removed"), "{}", run.output());
    assert_eq!(run.events("project.removed").len(), 1, "{}", run.output());
    assert_eq!(s.cloud.request_count(Some(PB)), 2);
    let bodies = s.bodies();
    assert_eq!(bodies.len(), 3, "one digest for the removal");
    let alerts = alerts_of(&bodies[2]);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["kind"], "project_removed");
    assert_eq!(alerts[0]["severity"], "info");
    assert_eq!(alerts[0]["project_id"], PB);
    assert_eq!(alerts[0]["package"], Value::Null);

    // Nothing more of it, ever: not again, and never as vanished packages.
    for _ in 0..2 {
        let run = s.once(0).await;
        assert!(run.stdout.contains("0 alert(s)"), "{}", run.output());
    }
    assert_eq!(s.bodies().len(), 3);
    let status = s.ws.run(&["status", "--json"]).await;
    status.expect_code(0);
    let status = status.json();
    // Its packages are kept, set aside as no longer seen (never reported vanished), so that
    // the project goes on where it stood if it is listed again.
    let packages = status["packages"].as_array().expect("packages");
    let watched: Vec<&str> = packages
        .iter()
        .filter(|p| p["vanished"] == false)
        .filter_map(|p| p["project_id"].as_str())
        .collect();
    assert_eq!(watched.len(), 4, "{status:#}");
    assert!(!watched.contains(&PB), "{status:#}");
    assert!(
        packages
            .iter()
            .filter(|p| p["project_id"] == PB)
            .all(|p| p["vanished"] == true),
        "{status:#}"
    );

    // Listed again later: watched again, where it stood: what was decided about its
    // packages before is not told twice.
    s.cloud.set_projects(vec![PA.into(), PB.into(), PC.into()]);
    let run = s.once(0).await;
    assert_eq!(s.cloud.request_count(Some(PB)), 3);
    assert!(run.stdout.contains("0 delivered"), "{}", run.output());
    assert_eq!(s.bodies().len(), 3, "{}", run.output());
    let status = s.ws.run(&["status", "--json"]).await.json();
    assert_eq!(status["packages"].as_array().expect("packages").len(), 6);
}

#[tokio::test]
async fn a_failed_discovery_keeps_polling_the_projects_known_before() {
    let s = discovering_setup(&[PA, PB]).await;
    s.once(0).await;
    assert_eq!(s.bodies().len(), 1);

    s.cloud.fail_projects(None);
    // Packages change meanwhile: the known projects are still polled and evaluated.
    s.cloud.set_packages(
        Some(PA),
        packages(&[("codeartsStorageExtension", STORAGE_RESOURCE, 2, 6)]),
    );
    let run = s.once(1).await;
    assert!(
        run.stdout.contains("project discovery failed for prod"),
        "{}",
        run.output()
    );
    assert!(
        run.stdout.contains("polled the 2 projects known before"),
        "{}",
        run.output()
    );
    let failed = run.events("discovery.failed");
    assert_eq!(failed.len(), 1, "{}", run.output());
    assert!(failed[0].contains("http_status=500"), "{failed:?}");
    assert_eq!(s.cloud.request_count(Some(PA)), 2);
    assert_eq!(s.cloud.request_count(Some(PB)), 2);
    // PA's traffic package is no longer in PA's answer: vanished, as always; nothing of PB.
    let kinds = kinds_since(&s, 1);
    assert!(
        kinds.iter().all(|(k, p)| p == PA && k != "project_removed"),
        "{kinds:?}"
    );
    assert!(kinds.iter().any(|(k, _)| k == "expiring"), "{kinds:?}");

    // `check` reports the failure and still exits 0.
    let check = s.ws.run(&["check"]).await;
    check.expect_code(0);
    assert!(
        check.stdout.contains("listing them now failed"),
        "{}",
        check.output()
    );

    // Back again: the same projects, no removal.
    s.cloud.clear_projects_failure();
    let run = s.once(0).await;
    assert!(run.stdout.contains("2 found"), "{}", run.output());
    assert!(!kinds_since(&s, 2)
        .iter()
        .any(|(k, _)| k == "project_removed"));
    let check = s.ws.run(&["check"]).await;
    check.expect_code(0);
    assert!(
        check
            .stdout
            .contains("projects    all (listed from ProjectMan"),
        "{}",
        check.output()
    );
    assert!(check.stdout.contains("2 found now"), "{}", check.output());
}
