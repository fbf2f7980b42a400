//! `renewd run` as systemd runs it: the real binary, `NOTIFY_SOCKET` on a socket of the test,
//! a fake CodeArts gateway and a webhook receiver on 127.0.0.1, signals with kill(1).
//! Waits are generous bounds; no assertion is about speed.

mod support;

use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use support::daemon_harness::{
    http_get, metric, promtool_check_metrics, run_command, Daemon, NotifySocket,
};
use support::fake_cloud::{Failure, FakeCloud};
use support::webhook_receiver::{Reply, WebhookReceiver};

const PROJECT: &str = "666666af0f00445f85dec483fbc97c78";
const TOKEN: &str = "MIIdaemon-test-token";
/// Bound for anything the daemon should do within a few seconds.
const WAIT: Duration = Duration::from_secs(60);
/// The end (23:59:59 GMT+08:00) of the billing day `days` after the GMT+08:00 day of `at`, in
/// Unix seconds: what `renewd_package_expiry_timestamp_seconds` shows for a package read at
/// `at` with `remainDays` = `days` (docs/design.md, "Metrics and health").
fn billing_expiry_seconds(at: chrono::DateTime<chrono::Utc>, days: i64) -> f64 {
    let gmt8 = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let last_day = at.with_timezone(&gmt8).date_naive() + chrono::Duration::days(days);
    let end = last_day.and_hms_opt(23, 59, 59).unwrap();
    end.and_local_timezone(gmt8).unwrap().timestamp() as f64
}

/// A fake cloud serving the documented example (two packages at 11 days), a webhook receiver
/// and a directory for the config and the state.
struct Setup {
    cloud: FakeCloud,
    hook: WebhookReceiver,
    dir: tempfile::TempDir,
    // Last: the fake cloud's server runs on it.
    _runtime: tokio::runtime::Runtime,
}

impl Setup {
    fn new(hook: WebhookReceiver) -> Setup {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("test runtime");
        let cloud = runtime.block_on(FakeCloud::start());
        cloud.add_token(TOKEN);
        Setup {
            cloud,
            hook,
            dir: tempfile::tempdir().expect("temporary directory"),
            _runtime: runtime,
        }
    }

    fn state_path(&self) -> PathBuf {
        self.dir.path().join("state.db")
    }

    /// A config running `schedule`, alerting the webhook at 30/14/7/3/1/0 days, logging JSON;
    /// `extra` is appended (e.g. an `[http]` section).
    fn config(&self, schedule: &str, receiver: &str, extra: &str) -> String {
        format!(
            r#"
[daemon]
schedule = "{schedule}"
timezone = "Europe/Berlin"
state_path = "{state}"

[log]
format = "json"
level = "info"

[[accounts]]
name = "prod"
endpoint = "{cloud}"
projects = ["{PROJECT}"]
auth = {{ method = "token", token = "{TOKEN}" }}

[[rules]]
name = "default"
thresholds = [30, 14, 7, 3, 1, 0]
receivers = ["{receiver}"]

[receivers.ops]
type = "webhook"
format = "json"
url = "{hook}"
{extra}
"#,
            state = self.state_path().display(),
            cloud = self.cloud.url(),
            hook = self.hook.url(),
        )
    }

    fn write_config(&self, text: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.dir.path().join("renewd.toml");
        std::fs::write(&path, text).expect("write the config");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .expect("chmod the config");
        path
    }
}

const HTTP: &str = "[http]\nlisten = \"127.0.0.1:0\"\n";

/// The address the daemon's listener was bound to (it logs it: the config asks for port 0).
fn listen_address(daemon: &Daemon) -> String {
    let event = daemon.wait_for_event("http.listening", WAIT);
    event["address"]
        .as_str()
        .expect("http.listening has an address")
        .to_string()
}

fn status_json(config: &std::path::Path) -> Value {
    let (code, stdout, stderr) = run_command(config, &["status", "--json"]);
    assert_eq!(code, 0, "renewd status failed:\n{stdout}\n{stderr}");
    serde_json::from_str(&stdout).expect("status --json prints JSON")
}

#[test]
fn ready_then_cycles_deliver_once_stay_quiet_and_sigterm_exits_0() {
    let setup = Setup::new(WebhookReceiver::start());
    let config = setup.write_config(&setup.config("*/2 * * * * *", "ops", ""));
    let mut notify = NotifySocket::bind(setup.dir.path());
    let mut daemon = Daemon::spawn(&config, Some(&notify), &[]);

    let ready = notify.wait_for("READY=1", WAIT);
    assert!(ready.lines().any(|l| l.starts_with("STATUS=")), "{ready:?}");

    // run_on_start plus two ticks: the first cycle alerts, the next ones decide nothing new.
    let finished = daemon.wait_for_events("cycle.finished", 3, WAIT);
    assert_eq!(finished[0]["alerts"], 2, "{finished:?}");
    assert_eq!(finished[0]["delivered"], 1, "{finished:?}");
    for later in &finished[1..] {
        assert_eq!(later["alerts"], 0, "{later}");
        assert_eq!(later["delivered"], 0, "{later}");
    }
    let requests = setup.hook.received();
    assert_eq!(requests.len(), 1, "delivered once, then quiet");
    let alerts = requests[0].json()["alerts"].clone();
    let alerts = alerts.as_array().expect("alerts");
    assert_eq!(alerts.len(), 2);
    for alert in alerts {
        assert_eq!(alert["kind"], "expiring");
        assert_eq!(alert["remain_days"], 11);
        assert_eq!(alert["threshold"], 14);
    }
    let status = notify.wait_for_count("STATUS=last cycle", 1, WAIT);
    assert!(
        status[0].contains("1 poll(s), 0 failed"),
        "STATUS= carries the summary: {status:?}"
    );

    daemon.signal("TERM");
    let exit = daemon.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.code(), Some(0), "SIGTERM exits 0");
    notify.wait_for("STOPPING=1", WAIT);

    // The log is JSON, one flat object per line, `event` at the top level.
    let lines = daemon.log_lines();
    assert!(!lines.is_empty());
    for line in &lines {
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
        let object = value.as_object().expect("each line is an object");
        assert!(!object.contains_key("fields"), "not flat: {line}");
        if object["target"]
            .as_str()
            .is_some_and(|t| t.starts_with("renewd"))
        {
            assert!(object["event"].is_string(), "no event: {line}");
        }
    }
    for event in [
        "daemon.started",
        "cycle.started",
        "poll.succeeded",
        "alert.raised",
        "notify.delivered",
        "cycle.finished",
        "daemon.stopping",
        "daemon.stopped",
    ] {
        assert!(!daemon.events(event).is_empty(), "no {event} in the log");
    }
    // One line per package is for debugging: at info, a large account would drown the log.
    assert!(daemon.events("package.checked").is_empty());
    let started = &daemon.events("daemon.started")[0];
    assert_eq!(started["schedule"], "*/2 * * * * *");
    assert_eq!(started["timezone"], "Europe/Berlin");
}

#[test]
fn metrics_health_and_status_while_running() {
    let setup = Setup::new(WebhookReceiver::start());
    let config = setup.write_config(&setup.config("*/2 * * * * *", "ops", HTTP));
    let mut notify = NotifySocket::bind(setup.dir.path());
    let spawned_at = chrono::Utc::now();
    let mut daemon = Daemon::spawn(&config, Some(&notify), &[]);
    notify.wait_for("READY=1", WAIT);
    let address = listen_address(&daemon);
    daemon.wait_for_events("cycle.finished", 3, WAIT);

    let (code, text) = http_get(&address, "/metrics");
    assert_eq!(code, 200, "{text}");
    // The packages were read between the daemon's start and now (11 days left each).
    let read_between = [
        billing_expiry_seconds(spawned_at, 11),
        billing_expiry_seconds(chrono::Utc::now(), 11),
    ];
    for (package, resource_id) in [
        (
            "codeartsStorageExtension",
            "7590809a5c9d42ae92b49b1190e94666",
        ),
        (
            "codeartsTrafficExtension",
            "37c9064954924750b2350e2d03e66666",
        ),
    ] {
        let labels = format!(
            "{{account=\"prod\",project_id=\"{PROJECT}\",package=\"{package}\",\
             resource_id=\"{resource_id}\",source=\"packages\"}}"
        );
        let expiry = metric(
            &text,
            &format!("renewd_package_expiry_timestamp_seconds{labels}"),
        )
        .unwrap_or_else(|| panic!("no expiry of {package}:\n{text}"));
        assert!(
            read_between.contains(&expiry),
            "{expiry} not in {read_between:?}\n{text}"
        );
        assert_eq!(
            metric(&text, &format!("renewd_package_status{labels}")),
            Some(2.0),
            "{text}"
        );
    }
    let successes = metric(&text, "renewd_polls_total{outcome=\"success\"}").expect("polls");
    assert!(successes >= 2.0, "{text}");
    assert_eq!(
        metric(&text, "renewd_polls_total{outcome=\"failure\"}"),
        Some(0.0)
    );
    assert_eq!(
        metric(
            &text,
            "renewd_notifications_total{receiver=\"ops\",outcome=\"delivered\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "renewd_notifications_total{receiver=\"ops\",outcome=\"failed\"}"
        ),
        Some(0.0)
    );
    assert_eq!(metric(&text, "renewd_outbox_pending"), Some(0.0));
    let last_success =
        metric(&text, "renewd_last_cycle_success_timestamp_seconds").expect("last success");
    let now = chrono::Utc::now().timestamp() as f64;
    assert!(
        last_success > now - 600.0 && last_success <= now + 1.0,
        "{text}"
    );
    assert!(metric(&text, "renewd_cycle_duration_seconds_count").expect("histogram") >= 2.0);
    assert_eq!(
        metric(
            &text,
            &format!(
                "renewd_build_info{{version=\"{}\"}}",
                env!("CARGO_PKG_VERSION")
            )
        ),
        Some(1.0)
    );
    assert!(
        !text.contains("remain_days"),
        "the day count is gone:\n{text}"
    );
    if let Some(findings) = promtool_check_metrics(&text) {
        assert!(
            findings.is_empty(),
            "promtool check metrics: {findings:?}\n{text}"
        );
    }

    assert_eq!(http_get(&address, "/healthz"), (200, "ok\n".to_string()));
    assert_eq!(http_get(&address, "/readyz"), (200, "ready\n".to_string()));
    assert_eq!(http_get(&address, "/nothing").0, 404);

    // `status` reads the state file while the daemon writes it: no lock conflict.
    for _ in 0..3 {
        let status = status_json(&config);
        let packages = status["packages"].as_array().expect("packages");
        assert_eq!(packages.len(), 2, "{status}");
        assert!(packages.iter().all(|p| p["remain_days"] == 11), "{status}");
        assert_eq!(status["pending_deliveries"], serde_json::json!([]));
    }
    assert!(daemon.is_running());

    // `once` would deliver from the same outbox: refused, naming the daemon, nothing sent.
    let (code, stdout, stderr) = run_command(&config, &["once"]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let pid = format!("in use by another renewd process (pid {})", daemon.pid());
    assert!(stderr.contains(&pid), "{stderr}");
    // A dry run only reads, so it works alongside.
    let (code, stdout, stderr) = run_command(&config, &["once", "--dry-run"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("codeartsStorageExtension"), "{stdout}");
    assert_eq!(setup.hook.received().len(), 1, "still the one delivery");
    assert!(daemon.is_running());

    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)).code(), Some(0));

    // Once the daemon is gone, `once` may write again (the kernel dropped its lock).
    let (code, stdout, stderr) = run_command(&config, &["once"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(setup.hook.received().len(), 1, "and sends nothing new");
}

#[test]
fn sighup_keeps_the_old_config_when_the_new_one_is_invalid_and_applies_a_valid_one() {
    let setup = Setup::new(WebhookReceiver::start());
    let good = setup.config("*/2 * * * * *", "ops", HTTP);
    let config = setup.write_config(&good);
    let mut notify = NotifySocket::bind(setup.dir.path());
    let mut daemon = Daemon::spawn(&config, Some(&notify), &[]);
    notify.wait_for("READY=1", WAIT);
    let address = listen_address(&daemon);
    daemon.wait_for_events("cycle.finished", 1, WAIT);

    // An invalid file: a rule naming a receiver that does not exist.
    setup.write_config(&setup.config("*/2 * * * * *", "nobody", HTTP));
    let before = notify.received().len();
    daemon.signal("HUP");
    let rejected = daemon.wait_for_event("config.rejected", WAIT);
    let reason = rejected["reason"].as_str().expect("reason");
    assert!(
        reason.contains("rules[0].receivers: no receiver named \"nobody\""),
        "{rejected}"
    );
    assert_eq!(rejected["level"], "ERROR");
    let reloading = notify.wait_for_after(before, "RELOADING=1", WAIT);
    assert!(
        reloading.lines().any(|l| l.starts_with("MONOTONIC_USEC=")),
        "{reloading:?}"
    );
    let at = notify
        .received()
        .iter()
        .position(|m| m == &reloading)
        .expect("the RELOADING=1 message");
    notify.wait_for_after(at + 1, "READY=1", WAIT);

    // Still running on the old config: cycles go on, and /readyz says why it is not ready.
    assert!(
        daemon.is_running(),
        "a rejected reload must not stop the daemon"
    );
    let cycles = daemon.events("cycle.finished").len();
    daemon.wait_for_events("cycle.finished", cycles + 1, WAIT);
    let (code, body) = http_get(&address, "/readyz");
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("no receiver named"), "{body}");

    // A valid, changed file takes over.
    setup.write_config(&setup.config("*/3 * * * * *", "ops", HTTP));
    let before = notify.received().len();
    daemon.signal("HUP");
    let reloaded = daemon.wait_for_event("config.reloaded", WAIT);
    assert_eq!(reloaded["schedule"], "*/3 * * * * *", "{reloaded}");
    notify.wait_for_after(before, "READY=1", WAIT);
    let deadline = Instant::now() + WAIT;
    while http_get(&address, "/readyz").0 != 200 {
        assert!(Instant::now() < deadline, "/readyz never recovered");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(setup.hook.received().len(), 1, "a reload re-sends nothing");

    // The same state file spelled through a symlink: the daemon already holds it.
    let alias = setup.dir.path().join("alias");
    std::os::unix::fs::symlink(setup.dir.path(), &alias).expect("symlink");
    let state = setup.state_path().display().to_string();
    let aliased = alias.join("state.db").display().to_string();
    let text = setup.config("*/3 * * * * *", "ops", HTTP);
    setup.write_config(&text.replace(&state, &aliased));
    daemon.signal("HUP");
    daemon.wait_for_events("config.reloaded", 2, WAIT);
    assert!(
        daemon.events("config.rejected").len() == 1,
        "only the invalid file was"
    );

    // Another state file: the daemon moves to it, and lets go of the old one.
    let moved = setup.dir.path().join("moved").join("state.db");
    setup.write_config(&text.replace(&state, &moved.display().to_string()));
    daemon.signal("HUP");
    daemon.wait_for_events("config.reloaded", 3, WAIT);
    match renewd::state::StateStore::open(&moved) {
        Err(e) => assert!(
            e.to_string()
                .contains(&format!("another renewd process (pid {})", daemon.pid())),
            "{e}"
        ),
        Ok(_) => panic!("the daemon does not hold the state file it moved to"),
    }
    drop(renewd::state::StateStore::open(setup.state_path()).expect("the old file is free"));

    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)).code(), Some(0));
}

#[test]
fn sigterm_cuts_a_hanging_delivery_short_and_the_next_start_sends_it() {
    // The receiver takes the request and never answers.
    let setup = Setup::new(WebhookReceiver::with_script(Vec::new(), Reply::Hold));
    let config = setup.write_config(&setup.config("*/2 * * * * *", "ops", ""));
    let mut notify = NotifySocket::bind(setup.dir.path());
    let mut daemon = Daemon::spawn(&config, Some(&notify), &[]);
    notify.wait_for("READY=1", WAIT);
    let held = setup.hook.wait_for(1, WAIT);
    let ids: Vec<Value> = held[0].json()["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .map(|a| a["id"].clone())
        .collect();

    // Ticks that come while the cycle is stuck are skipped, never run alongside it.
    let skipped = daemon.wait_for_event("cycle.skipped", WAIT);
    assert_eq!(skipped["reason"], "the previous cycle is still running");
    assert_eq!(daemon.events("cycle.started").len(), 1);

    daemon.signal("TERM");
    // The delivery deadline is 5 s; the bound is generous on purpose.
    let exit = daemon.wait_exit(Duration::from_secs(20));
    assert_eq!(exit.code(), Some(0));
    let stopping = &daemon.events("daemon.stopping")[0];
    assert_eq!(stopping["in_flight"], "cycle");
    let retrying = daemon.events("notify.retrying");
    assert!(
        retrying.iter().any(|e| e["error"]
            .as_str()
            .is_some_and(|s| s.contains("shutting down"))),
        "{retrying:?}"
    );
    assert!(
        daemon.events("cycle.abandoned").is_empty(),
        "the cycle ended in time"
    );

    // Nothing lost: the delivery is pending in the state file.
    let status = status_json(&config);
    assert_eq!(
        status["pending_deliveries"].as_array().map(Vec::len),
        Some(1),
        "{status}"
    );

    // Started again with no cycle at start, the daemon's own retry pass sends it, same ids. Its
    // backoff (a minute) is moved to now through the store's API, so the test does not wait.
    {
        let mut store = renewd::state::StateStore::open(setup.state_path()).expect("open state");
        let pending = store.pending_deliveries().expect("pending deliveries");
        let due = chrono::Utc::now() - chrono::Duration::seconds(1);
        store
            .mark_retry(pending[0].id, "made due by the test", due)
            .expect("make it due");
    }
    setup.hook.set_script(Vec::new(), Reply::Status(200));
    let text = setup
        .config("0 0 9 * * *", "ops", "")
        .replace("[daemon]\n", "[daemon]\nrun_on_start = false\n");
    let config = setup.write_config(&text);
    let mut daemon = Daemon::spawn(&config, Some(&notify), &[]);
    let delivered = daemon.wait_for_event("notify.delivered", WAIT);
    assert_eq!(delivered["alerts"], 2, "{delivered}");
    let received = setup.hook.wait_for(2, WAIT);
    let resent: Vec<Value> = received[1].json()["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .map(|a| a["id"].clone())
        .collect();
    assert_eq!(resent, ids);
    assert!(
        daemon.events("cycle.started").is_empty(),
        "run_on_start = false"
    );
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)).code(), Some(0));
    let status = status_json(&config);
    assert_eq!(status["pending_deliveries"], serde_json::json!([]));
}

#[test]
fn the_watchdog_is_petted_while_the_loop_runs() {
    let setup = Setup::new(WebhookReceiver::start());
    let config = setup.write_config(&setup.config("0 0 9 * * *", "ops", ""));
    let mut notify = NotifySocket::bind(setup.dir.path());
    // A 1 s watchdog: systemd expects WATCHDOG=1 every 0.5 s.
    let mut daemon = Daemon::spawn_with_watchdog(&config, &notify, 1_000_000);
    notify.wait_for("READY=1", WAIT);
    notify.wait_for_count("WATCHDOG=1", 3, WAIT);
    let started = daemon.wait_for_event("daemon.started", WAIT);
    assert_eq!(started["watchdog_ms"], 1000);
    daemon.signal("INT");
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)).code(), Some(0));
    assert_eq!(daemon.events("daemon.stopping")[0]["signal"], "SIGINT");
}

#[test]
fn an_invalid_config_exits_78_without_readiness() {
    let setup = Setup::new(WebhookReceiver::start());
    let config = setup.write_config(&setup.config("0 9 * * *", "ops", ""));
    let mut notify = NotifySocket::bind(setup.dir.path());
    let mut daemon = Daemon::spawn(&config, Some(&notify), &[]);
    let exit = daemon.wait_exit(WAIT);
    assert_eq!(exit.code(), Some(78));
    let log = daemon.log_lines().join("\n");
    assert!(log.contains("daemon.schedule"), "{log}");
    assert!(log.contains("6 fields"), "the 5-field hint: {log}");
    assert!(
        !notify.drain().iter().any(|m| m.contains("READY=1")),
        "{:?}",
        notify.received()
    );
}

#[test]
fn two_reloads_while_a_cycle_runs_open_the_new_state_file_once() {
    let setup = Setup::new(WebhookReceiver::start());
    // The API hangs, so the first cycle is still running when the SIGHUPs come.
    setup.cloud.set_failure(Some(PROJECT), Failure::Hang);
    let with_timeout = |text: String| text.replace("[daemon]\n", "[daemon]\ntimeout = \"3s\"\n");
    let config = setup.write_config(&with_timeout(setup.config("*/2 * * * * *", "ops", "")));
    let mut notify = NotifySocket::bind(setup.dir.path());
    let mut daemon = Daemon::spawn(&config, Some(&notify), &[]);
    notify.wait_for("READY=1", WAIT);
    daemon.wait_for_event("cycle.started", WAIT);

    let state = setup.state_path().display().to_string();
    let moved = setup.dir.path().join("moved").join("state.db");
    let text = with_timeout(setup.config("*/2 * * * * *", "ops", ""));
    setup.write_config(&text.replace(&state, &moved.display().to_string()));
    daemon.signal("HUP");
    daemon.wait_for_events("config.reload_pending", 1, WAIT);
    // The second finds the first still waiting, holding the new file: it takes that store over.
    daemon.signal("HUP");
    daemon.wait_for_events("config.reload_pending", 2, WAIT);
    assert!(
        daemon.events("config.rejected").is_empty(),
        "{:?}",
        daemon.log_lines()
    );

    setup.cloud.clear_failure(Some(PROJECT));
    daemon.wait_for_events("config.reloaded", 1, WAIT);
    // The next cycle writes the moved file and delivers once.
    let finished = daemon.wait_for_events("cycle.finished", 2, WAIT);
    assert_eq!(finished[1]["delivered"], 1, "{finished:?}");
    let status = renewd::state::StateStore::open_read_only(&moved).expect("moved state");
    assert_eq!(status.outbox_counts().expect("counts").delivered, 1);

    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)).code(), Some(0));
}

#[test]
fn refused_credentials_are_not_sent_again_for_a_while_across_cycles() {
    let setup = Setup::new(WebhookReceiver::start());
    let text = setup
        .config("*/1 * * * * *", "ops", "")
        .replace(TOKEN, "MIIwrong-token-0000");
    let config = setup.write_config(&text);
    let mut daemon = Daemon::spawn(&config, None, &[]);
    let failed = daemon.wait_for_events("poll.failed", 4, WAIT);
    assert_eq!(
        setup.cloud.request_count(Some(PROJECT)),
        1,
        "one refused request, then none for {} minutes: {failed:?}",
        renewd::sources::codearts::REFUSAL_HOLD.as_secs() / 60
    );
    for later in &failed[1..] {
        let error = later["error"].as_str().expect("error");
        assert!(error.contains("not sent: the API refused"), "{later}");
    }
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)).code(), Some(0));
}

/// A service manager that stops reading its notify socket: the kernel queues only
/// `net.unix.max_dgram_qlen` (10) datagrams, and after that a blocking send would freeze the
/// daemon. With the socket unread for a minute, cycles go on, and SIGHUP and SIGTERM are still
/// answered within a second.
#[test]
fn an_unread_notify_socket_freezes_nothing() {
    let setup = Setup::new(WebhookReceiver::start());
    let config = setup.write_config(&setup.config("* * * * * *", "ops", ""));
    // Bound, never read: every message the daemon sends stays queued.
    let notify = NotifySocket::bind(setup.dir.path());
    let started = Instant::now();
    // A 1 s watchdog adds two WATCHDOG=1 a second to one STATUS= a cycle.
    let mut daemon = Daemon::spawn_with_watchdog(&config, &notify, 1_000_000);
    daemon.wait_for_event("daemon.started", WAIT);
    let stalled = daemon.wait_for_event("systemd.notify_stalled", WAIT);
    let cycles_at_stall = daemon.events("cycle.finished").len();
    assert_eq!(
        daemon.events("systemd.notify_stalled").len(),
        1,
        "the stall is logged once: {stalled}"
    );

    // A minute with the socket full.
    let unread_for = Duration::from_secs(60);
    std::thread::sleep(unread_for.saturating_sub(started.elapsed()));
    let cycles = daemon.events("cycle.finished").len();
    assert!(
        cycles >= cycles_at_stall + 20,
        "cycles went on while the socket was full: {cycles_at_stall} at the stall, {cycles} a minute in"
    );
    assert_eq!(
        daemon.events("systemd.notify_stalled").len(),
        1,
        "logged once"
    );

    let reloads = daemon.events("config.reloaded").len();
    let asked = Instant::now();
    daemon.signal("HUP");
    daemon.wait_for_events("config.reloaded", reloads + 1, WAIT);
    let reload_took = asked.elapsed();
    assert!(
        reload_took <= Duration::from_secs(1),
        "SIGHUP answered in {reload_took:?}"
    );

    let asked = Instant::now();
    daemon.signal("TERM");
    let exit = daemon.wait_exit(WAIT);
    let stop_took = asked.elapsed();
    assert_eq!(exit.code(), Some(0), "SIGTERM exits 0");
    assert!(
        stop_took <= Duration::from_secs(1),
        "SIGTERM answered in {stop_took:?}"
    );
    assert!(!daemon.events("daemon.stopped").is_empty());
}
