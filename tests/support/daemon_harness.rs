//! Runs the real `renewd run` as a child process the way systemd would: `NOTIFY_SOCKET` bound to
//! a Unix datagram socket owned by the test, JSON logs read from stderr line by line as they
//! come, signals sent with `kill`. Waits are generous bounds that fail loudly, never timings.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_renewd");

/// The test's end of systemd's notify protocol.
pub struct NotifySocket {
    socket: UnixDatagram,
    path: PathBuf,
    received: Vec<String>,
}

impl NotifySocket {
    pub fn bind(dir: &Path) -> NotifySocket {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        NotifySocket {
            socket,
            path,
            received: Vec::new(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every message so far.
    pub fn received(&self) -> &[String] {
        &self.received
    }

    /// Takes in whatever is queued on the socket now, without waiting; returns every message.
    pub fn drain(&mut self) -> &[String] {
        self.socket.set_nonblocking(true).expect("non-blocking");
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.socket.recv(&mut buf) {
            self.received
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        self.socket.set_nonblocking(false).expect("blocking");
        &self.received
    }

    /// Receives until a message has the line `wanted` (e.g. `READY=1`); returns that message.
    /// Messages that arrived before are kept, so a wait never misses an earlier one: it looks
    /// at messages received after the `skip` first ones.
    pub fn wait_for_after(&mut self, skip: usize, wanted: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = self
                .received
                .iter()
                .skip(skip)
                .find(|m| m.lines().any(|l| l == wanted))
            {
                return found.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no {wanted:?} from the daemon within {timeout:?}; received: {:?}",
                self.received
            );
            self.socket
                .set_read_timeout(Some(left))
                .expect("set a read timeout");
            let mut buf = [0u8; 4096];
            if let Ok(n) = self.socket.recv(&mut buf) {
                self.received
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
    }

    pub fn wait_for(&mut self, wanted: &str, timeout: Duration) -> String {
        self.wait_for_after(0, wanted, timeout)
    }

    /// Waits until `n` messages (counting from the start) have a line starting with `prefix`.
    pub fn wait_for_count(&mut self, prefix: &str, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let found: Vec<String> = self
                .received
                .iter()
                .filter(|m| m.lines().any(|l| l.starts_with(prefix)))
                .cloned()
                .collect();
            if found.len() >= n {
                return found;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "expected {n} message(s) with {prefix:?} within {timeout:?}; received: {:?}",
                self.received
            );
            self.socket
                .set_read_timeout(Some(left))
                .expect("set a read timeout");
            let mut buf = [0u8; 4096];
            if let Ok(n) = self.socket.recv(&mut buf) {
                self.received
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
    }
}

#[derive(Default)]
struct Lines {
    lines: Vec<String>,
    closed: bool,
}

/// stderr of the child, collected line by line by a reader thread.
struct LogBuffer {
    lines: Mutex<Lines>,
    arrived: Condvar,
}

/// A running `renewd run`. Dropping it kills the process.
pub struct Daemon {
    child: Child,
    logs: Arc<LogBuffer>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Daemon {
    /// Starts `renewd run --config <config>`, with `NOTIFY_SOCKET` when `notify` is given and
    /// `env` on top of a scrubbed environment.
    pub fn spawn(config: &Path, notify: Option<&NotifySocket>, env: &[(&str, &str)]) -> Daemon {
        let mut command = Command::new(BIN);
        command.args(["run", "--config"]).arg(config);
        Self::start(command, notify, env)
    }

    /// `renewd run` started through another program (e.g. `nsenter … -- renewd run --config …`),
    /// with `env` on top of a scrubbed environment.
    pub fn spawn_command(command: Command, env: &[(&str, &str)]) -> Daemon {
        Self::start(command, None, env)
    }

    /// Like systemd with `WatchdogSec=`: `WATCHDOG_USEC` and `WATCHDOG_PID` (the daemon's own
    /// pid, hence the `exec` from a shell that knows its pid).
    pub fn spawn_with_watchdog(config: &Path, notify: &NotifySocket, usec: u64) -> Daemon {
        let mut command = Command::new("sh");
        command
            .args(["-c", "WATCHDOG_PID=$$ exec \"$0\" run --config \"$1\"", BIN])
            .arg(config);
        Self::start(
            command,
            Some(notify),
            &[("WATCHDOG_USEC", &usec.to_string())],
        )
    }

    fn start(mut command: Command, notify: Option<&NotifySocket>, env: &[(&str, &str)]) -> Daemon {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for name in super::inherited_vars_to_scrub() {
            command.env_remove(name);
        }
        if let Some(notify) = notify {
            command.env("NOTIFY_SOCKET", notify.path());
        }
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start renewd run");
        let stderr = child.stderr.take().expect("piped stderr");
        let logs = Arc::new(LogBuffer {
            lines: Mutex::new(Lines::default()),
            arrived: Condvar::new(),
        });
        let sink = Arc::clone(&logs);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut lines = sink.lines.lock().expect("log lock");
                lines.lines.push(line);
                sink.arrived.notify_all();
            }
            sink.lines.lock().expect("log lock").closed = true;
            sink.arrived.notify_all();
        });
        Daemon {
            child,
            logs,
            reader: Some(reader),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`HUP`, `TERM`, …) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} {} failed", self.pid());
    }

    /// Every stderr line so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.logs.lines.lock().expect("log lock").lines.clone()
    }

    /// The stderr lines that parse as JSON objects with this `event`.
    pub fn events(&self, event: &str) -> Vec<Value> {
        self.log_lines()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["event"] == event)
            .collect()
    }

    /// Waits until `n` events named `event` were logged; returns them.
    pub fn wait_for_events(&self, event: &str, n: usize, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        let mut lines = self.logs.lines.lock().expect("log lock");
        loop {
            let found: Vec<Value> = lines
                .lines
                .iter()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter(|v| v["event"] == event)
                .collect();
            if found.len() >= n {
                return found;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || lines.closed {
                let tail = lines.lines.len().saturating_sub(40);
                panic!(
                    "expected {n} {event:?} event(s) within {timeout:?}, got {}; last log lines:\n{}",
                    found.len(),
                    lines.lines[tail..].join("\n")
                );
            }
            lines = self
                .logs
                .arrived
                .wait_timeout(lines, left)
                .expect("log lock")
                .0;
        }
    }

    pub fn wait_for_event(&self, event: &str, timeout: Duration) -> Value {
        self.wait_for_events(event, 1, timeout)
            .into_iter()
            .next()
            .expect("one event")
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits for the process to end; kills it and panics if it is still running after `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for renewd") {
                if let Some(reader) = self.reader.take() {
                    let _ = reader.join();
                }
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "renewd still running {limit:?} after being asked to stop; log:\n{}",
                    self.log_lines().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `renewd <args…> --config <config>` to completion: (exit code, stdout, stderr).
pub fn run_command(config: &Path, args: &[&str]) -> (i32, String, String) {
    let mut command = Command::new(BIN);
    command.args(args).arg("--config").arg(config);
    for name in super::inherited_vars_to_scrub() {
        command.env_remove(name);
    }
    let output = command.output().expect("run renewd");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A plain HTTP/1.0 GET on loopback: (status, body).
pub fn http_get(address: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).expect("connect to the daemon");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").expect("send the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response");
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or((response.as_str(), ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    (status, body.to_string())
}

/// The value of the one sample `name{labels}` (labels exactly as exposed) in a metrics text.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (name, value) = l.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok())?
    })
}

/// Pipes `text` through `promtool check metrics` when promtool is installed. Without it, prints
/// a notice and returns — unless `CI_REQUIRE_PROMTOOL` is set (CI), where its absence fails.
/// Returns promtool's findings (one line each), or `None` when it did not run.
pub fn promtool_check_metrics(text: &str) -> Option<Vec<String>> {
    use std::io::Write;
    let spawned = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            assert!(
                std::env::var_os("CI_REQUIRE_PROMTOOL").is_none(),
                "CI_REQUIRE_PROMTOOL is set but promtool is not installed"
            );
            eprintln!("notice: promtool is not installed; `promtool check metrics` skipped");
            return None;
        }
        Err(e) => panic!("cannot run promtool: {e}"),
    };
    child
        .stdin
        .take()
        .expect("promtool stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let output = child.wait_with_output().expect("promtool output");
    let findings: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&output.stderr).lines())
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    // 0: clean; 3: lint findings only (checked by the caller); anything else: unparsable.
    assert!(
        matches!(output.status.code(), Some(0) | Some(3)),
        "promtool check metrics failed ({:?}): {findings:?}\n{text}",
        output.status.code()
    );
    Some(findings)
}
