#![allow(dead_code)]

pub mod chat_receivers;
pub mod daemon_harness;
pub mod fake_billing;
pub mod fake_cloud;
pub mod flaky_webhook;
pub mod harness;
pub mod hostile;
pub mod smtp_server;
pub mod webhook_receiver;

/// Variables of the test's own environment that must not reach a spawned renewd: every
/// `RENEWD_*` (they are config overrides), and what systemd, logging or proxies would set.
pub fn inherited_vars_to_scrub() -> Vec<String> {
    const OTHERS: &[&str] = &[
        "RUST_LOG",
        "CREDENTIALS_DIRECTORY",
        "STATE_DIRECTORY",
        "JOURNAL_STREAM",
        "NOTIFY_SOCKET",
        "WATCHDOG_USEC",
        "WATCHDOG_PID",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ];
    std::env::vars()
        .map(|(key, _)| key)
        .filter(|key| key.starts_with("RENEWD_") || OTHERS.contains(&key.as_str()))
        .collect()
}

/// The machine's monotonic clock (`CLOCK_MONOTONIC`) in nanoseconds: one time line shared with
/// other processes (the Python SMTP server reads the same clock with `time.monotonic_ns()`).
pub fn monotonic_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_MONOTONIC) failed");
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// An axum app served on 127.0.0.1 from its own thread and runtime, so it answers on real time
/// even while a test has paused tokio's clock, and works from plain `#[test]`s. Requests still
/// held when it is dropped are abandoned, not awaited.
pub struct ThreadServer {
    pub addr: std::net::SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ThreadServer {
    pub fn start(app: axum::Router) -> ThreadServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a test server");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("test server address");
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("test server runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                tokio::select! {
                    _ = axum::serve(listener, app) => {}
                    _ = stop => {}
                }
            });
            runtime.shutdown_background();
        });
        ThreadServer {
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }
}

impl Drop for ThreadServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A tracing writer that keeps what is logged, for tests that check events: install it with
/// `tracing_subscriber::fmt().json().flatten_event(true).with_writer(buffer.clone())`.
#[derive(Clone, Default)]
pub struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Every line logged, parsed as one JSON object.
    pub fn events(&self) -> Vec<serde_json::Value> {
        let bytes = self.0.lock().expect("log buffer").clone();
        String::from_utf8(bytes)
            .expect("UTF-8 logs")
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect()
    }

    /// Everything logged, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The documented example's project and renewal link.
pub const EXAMPLE_PROJECT: &str = "666666af0f00445f85dec483fbc97c78";
pub const EXAMPLE_RENEW_URL: &str = "https://localhost.com/usercenter/?region=region&locale=zh-cn#/renewal?subscriptionId=01154-618666699-0&orderId=CS24066664337FWPY&isFrom=expense";

/// When the receivers' test digests are sent: 2026-11-26 01:00 UTC.
pub fn sent_at() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-11-26T01:00:00Z")
        .expect("valid timestamp")
        .with_timezone(&chrono::Utc)
}

/// An alert about `package` of the example project for `receiver`: `expiring` (active, with
/// the example's https link), or `expired` in its grace period when `days <= 0`.
pub fn example_alert(receiver: &str, package: &str, days: i64) -> renewd::model::Alert {
    use renewd::model::{Alert, AlertKind, Severity};
    let expired = days <= 0;
    Alert {
        id: format!("id-{package}"),
        kind: if expired {
            AlertKind::Expired
        } else {
            AlertKind::Expiring
        },
        severity: Severity::for_remain_days(days),
        rule: "default".into(),
        account: "prod".into(),
        project_id: Some(EXAMPLE_PROJECT.into()),
        source: Default::default(),
        package: Some(package.into()),
        resource_id: Some("7590809a5c9d42ae92b49b1190e94666".into()),
        service_type: Some("hws.resource.type.codearts.extension.storage".into()),
        package_status: Some(if expired { 5 } else { 2 }),
        resource: Default::default(),
        package_status_name: Some(if expired { "grace" } else { "active" }.into()),
        remain_days: Some(days),
        threshold: Some(14),
        next_action_url: Some(EXAMPLE_RENEW_URL.into()),
        summary: format!("{package} expires in {days} days"),
        raised_at: sent_at(),
        previous_status: None,
        reminder: false,
        error: None,
        receivers: vec![receiver.into()],
    }
}

/// A digest of `alerts` for `receiver`, sent at [`sent_at`], dates in Asia/Shanghai.
pub fn digest(receiver: &str, alerts: Vec<renewd::model::Alert>) -> renewd::notify::Digest {
    renewd::notify::Digest::new(receiver, alerts, sent_at(), chrono_tz::Asia::Shanghai)
}
