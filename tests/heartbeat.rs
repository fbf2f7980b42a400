//! `[heartbeat]`, the dead man's switch, with the real binary: a monitor on 127.0.0.1 that
//! records each ping (healthchecks-style `…/uuid` and `…/uuid/fail` paths, Uptime Kuma's
//! `?status=up&msg=…` query), a fake CodeArts gateway, and `renewd run`, `once`, `check` and
//! `test-notify --heartbeat`. Waits are generous bounds; no assertion is about speed.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::daemon_harness::{http_get, metric, run_command, Daemon};
use support::fake_cloud::{Failure, FakeCloud};
use support::webhook_receiver::WebhookReceiver;
use support::ThreadServer;

const PROJECT: &str = "666666af0f00445f85dec483fbc97c78";
const TOKEN: &str = "MIIheartbeat-test-token";
/// The monitor's key, in the ping URLs' path: a secret renewd must never show.
const UUID: &str = "5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278";
const WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
struct Ping {
    method: String,
    path: String,
    query: Option<String>,
    body: Vec<u8>,
}

/// A monitor that records every request and answers with the status it is told to.
struct Monitor {
    server: ThreadServer,
    pings: Arc<Mutex<Vec<Ping>>>,
    status: Arc<Mutex<u16>>,
}

impl Monitor {
    fn start() -> Monitor {
        let pings = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(Mutex::new(200u16));
        let (p, s) = (Arc::clone(&pings), Arc::clone(&status));
        let app = axum::Router::new().fallback(move |request: Request<Body>| {
            let (pings, status) = (Arc::clone(&p), Arc::clone(&s));
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, 1 << 20)
                    .await
                    .unwrap_or_default();
                pings.lock().unwrap().push(Ping {
                    method: parts.method.to_string(),
                    path: parts.uri.path().to_string(),
                    query: parts.uri.query().map(str::to_string),
                    body: body.to_vec(),
                });
                let code = *status.lock().unwrap();
                (StatusCode::from_u16(code).unwrap(), "OK")
            }
        });
        Monitor {
            server: ThreadServer::start(app),
            pings,
            status,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.addr)
    }

    fn pings(&self) -> Vec<Ping> {
        self.pings.lock().unwrap().clone()
    }

    fn answer(&self, status: u16) {
        *self.status.lock().unwrap() = status;
    }

    fn wait_for(&self, what: &str, done: impl Fn(&[Ping]) -> bool) -> Vec<Ping> {
        let start = Instant::now();
        loop {
            let pings = self.pings();
            if done(&pings) {
                return pings;
            }
            assert!(start.elapsed() < WAIT, "{what}: pings so far {pings:#?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

struct Setup {
    cloud: FakeCloud,
    hook: WebhookReceiver,
    monitor: Monitor,
    dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

impl Setup {
    fn new() -> Setup {
        let (cloud, runtime) = FakeCloud::start_on_own_runtime();
        cloud.add_token(TOKEN);
        Setup {
            cloud,
            hook: WebhookReceiver::start(),
            monitor: Monitor::start(),
            dir: tempfile::tempdir().expect("temporary directory"),
            _runtime: runtime,
        }
    }

    fn write_config(&self, heartbeat: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let text = format!(
            r#"
[daemon]
schedule = "*/2 * * * * *"
state_path = "{state}"

[log]
format = "json"
level = "debug"

[http]
listen = "127.0.0.1:0"

[[accounts]]
name = "prod"
endpoint = "{cloud}"
projects = ["{PROJECT}"]
auth = {{ method = "token", token = "{TOKEN}" }}

[[rules]]
name = "default"
thresholds = [30, 14, 7, 3, 1, 0]
receivers = ["ops"]

[receivers.ops]
type = "webhook"
format = "json"
url = "{hook}"

[heartbeat]
{heartbeat}
"#,
            state = self.dir.path().join("state.db").display(),
            cloud = self.cloud.url(),
            hook = self.hook.url(),
        );
        let path = self.dir.path().join("renewd.toml");
        std::fs::write(&path, text).expect("write the config");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .expect("chmod the config");
        path
    }

    /// healthchecks-style: `…/ping/UUID` after a good cycle, `…/ping/UUID/fail` after a bad one.
    fn healthchecks(&self, method: &str) -> String {
        format!(
            "url = \"{}\"\nfail_url = \"{}\"\nmethod = \"{method}\"\ntimeout = \"2s\"",
            self.monitor.url(&format!("/ping/{UUID}")),
            self.monitor.url(&format!("/ping/{UUID}/fail")),
        )
    }
}

fn listen_address(daemon: &Daemon) -> String {
    let event = daemon.wait_for_event("http.listening", WAIT);
    event["address"].as_str().expect("address").to_string()
}

#[test]
fn the_daemon_pings_after_good_cycles_and_fail_url_after_bad_ones() {
    let setup = Setup::new();
    let config = setup.write_config(&setup.healthchecks("POST"));
    let mut daemon = Daemon::spawn(&config, None, &[]);

    let good = format!("/ping/{UUID}");
    let pings = setup.monitor.wait_for("two good pings", |p| {
        p.iter().filter(|p| p.path == good).count() >= 2
    });
    let first = pings.iter().find(|p| p.path == good).unwrap();
    assert_eq!(first.method, "POST");
    let summary: Value = serde_json::from_slice(&first.body).expect("the summary is JSON");
    assert_eq!(summary["ok"], true, "{summary}");
    assert_eq!(summary["polls"], 1, "{summary}");
    assert_eq!(summary["polls_failed"], 0, "{summary}");
    assert!(pings.iter().all(|p| p.path == good), "{pings:#?}");

    // The gateway fails: the next cycles ping fail_url, with what failed.
    setup.cloud.set_failure(Some(PROJECT), Failure::ServerError);
    let fail = format!("/ping/{UUID}/fail");
    let pings = setup
        .monitor
        .wait_for("a fail ping", |p| p.iter().any(|p| p.path == fail));
    let failed = pings.iter().find(|p| p.path == fail).unwrap();
    let summary: Value = serde_json::from_slice(&failed.body).expect("JSON");
    assert_eq!(summary["ok"], false, "{summary}");
    assert_eq!(summary["polls_failed"], 1, "{summary}");

    // It works again: back to url.
    setup.cloud.clear_failure(Some(PROJECT));
    let seen = setup.monitor.pings().len();
    setup
        .monitor
        .wait_for("a good ping after the failure", |p| {
            p[seen..].iter().any(|p| p.path == good)
        });

    daemon.signal("TERM");
    assert!(daemon.wait_exit(WAIT).success());
    for line in daemon.log_lines() {
        assert!(
            !line.contains(UUID),
            "the ping URL's key in the log: {line}"
        );
    }
}

#[test]
fn a_monitor_that_fails_is_logged_and_counted_and_cycles_go_on() {
    let setup = Setup::new();
    setup.monitor.answer(503);
    let config = setup.write_config(&setup.healthchecks("GET"));
    let mut daemon = Daemon::spawn(&config, None, &[]);
    let address = listen_address(&daemon);

    let failed = daemon.wait_for_events("heartbeat.failed", 2, WAIT);
    assert_eq!(failed[0]["ping"], "url", "{}", failed[0]);
    assert_eq!(failed[0]["attempts"], 2, "{}", failed[0]);
    assert!(
        failed[0]["error"].as_str().unwrap_or("").contains("503"),
        "{}",
        failed[0]
    );
    // Each failed heartbeat was tried twice (one retry), with GET and no body.
    let pings = setup.monitor.pings();
    assert!(pings.len() >= 4, "{pings:#?}");
    assert!(pings.iter().all(|p| p.method == "GET" && p.body.is_empty()));

    // The cycles are not affected: they still finish, and the receiver got its message.
    let finished = daemon.wait_for_events("cycle.finished", 3, WAIT);
    assert!(
        finished.iter().all(|e| e["polls_failed"] == 0),
        "{finished:?}"
    );
    let (_, text) = http_get(&address, "/metrics");
    let failures = metric(&text, "renewd_heartbeat_failures_total").expect("the metric");
    assert!(failures >= 2.0, "{text}");

    daemon.signal("TERM");
    assert!(daemon.wait_exit(WAIT).success());
    for line in daemon.log_lines() {
        assert!(
            !line.contains(UUID),
            "the ping URL's key in the log: {line}"
        );
    }
}

#[test]
fn once_pings_an_uptime_kuma_push_url_as_given() {
    let setup = Setup::new();
    // Uptime Kuma: the token in the path, status and message in the query; no fail_url.
    let url = setup
        .monitor
        .url(&format!("/api/push/{UUID}?status=up&msg=OK&ping="));
    let config = setup.write_config(&format!("url = \"{url}\""));
    let (code, stdout, stderr) = run_command(&config, &["once"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let pings = setup.monitor.pings();
    assert_eq!(pings.len(), 1, "{pings:#?}");
    assert_eq!(pings[0].method, "GET");
    assert_eq!(pings[0].path, format!("/api/push/{UUID}"));
    assert_eq!(pings[0].query.as_deref(), Some("status=up&msg=OK&ping="));

    // A dry run is a trial: no ping.
    let (code, stdout, stderr) = run_command(&config, &["once", "--dry-run"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(setup.monitor.pings().len(), 1);

    // Without fail_url, a cycle with failures pings nothing: the monitor's grace runs out.
    setup.cloud.set_failure(Some(PROJECT), Failure::ServerError);
    let (code, _, stderr) = run_command(&config, &["once"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        setup.monitor.pings().len(),
        1,
        "{:#?}",
        setup.monitor.pings()
    );
}

#[test]
fn check_shows_the_heartbeat_without_its_key_and_test_notify_pings_it() {
    let setup = Setup::new();
    let config = setup.write_config(&setup.healthchecks("GET"));
    let (code, stdout, stderr) = run_command(&config, &["check"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let origin = format!("http://{}/…", setup.monitor.server.addr);
    assert!(
        stdout.contains(&format!("url           GET {origin} (inline)")),
        "{stdout}"
    );
    assert!(stdout.contains("fail_url      set (inline)"), "{stdout}");
    assert!(!stdout.contains(UUID), "{stdout}");

    let (code, stdout, stderr) = run_command(&config, &["test-notify", "--heartbeat"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("heartbeat: sent (GET"), "{stdout}");
    assert!(!stdout.contains(UUID), "{stdout}");
    let pings = setup.monitor.pings();
    assert_eq!(pings.len(), 1, "{pings:#?}");
    assert_eq!(pings[0].path, format!("/ping/{UUID}"));

    setup.monitor.answer(500);
    let (code, stdout, _) = run_command(&config, &["test-notify", "--heartbeat"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("heartbeat: failed"), "{stdout}");
    assert!(!stdout.contains(UUID), "{stdout}");
}

#[test]
fn a_heartbeat_without_url_or_with_a_bad_one_is_refused_by_check() {
    let setup = Setup::new();
    let config = setup.write_config("method = \"GET\"");
    let (code, _, stderr) = run_command(&config, &["check"]);
    assert_eq!(code, 78, "{stderr}");
    assert!(stderr.contains("heartbeat.url"), "{stderr}");

    let config = setup.write_config(&format!(
        "url = \"http://example.com/ping/{UUID}\"\nmethod = \"PUT\""
    ));
    let (code, _, stderr) = run_command(&config, &["check"]);
    assert_eq!(code, 78, "{stderr}");
    assert!(stderr.contains("heartbeat.method"), "{stderr}");
    assert!(!stderr.contains(UUID), "{stderr}");

    let config = setup.write_config(&format!("url = \"http://example.com/ping/{UUID}\""));
    let (code, _, stderr) = run_command(&config, &["check"]);
    assert_eq!(code, 78, "{stderr}");
    assert!(
        stderr.contains("heartbeat.url") && stderr.contains("https://"),
        "{stderr}"
    );
    assert!(!stderr.contains(UUID), "{stderr}");
}
