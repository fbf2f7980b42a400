//! The journald log format, read back from a journal socket of the test's own. tracing-journald
//! always writes to /run/systemd/journal/socket, so renewd runs in a private mount namespace
//! (`unshare`) with an empty /run where the test's socket is bound at that path; nothing touches
//! the machine's own /run or journal. Needs mount namespaces (root, or unprivileged user
//! namespaces): without them the tests say so and pass, unless `CI_REQUIRE_NAMESPACES` is set,
//! as `.ci/run` does.

mod support;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::fake_cloud::FakeCloud;
use support::harness::*;
use support::webhook_receiver::WebhookReceiver;

/// A token the fake cloud does not know: its account's poll fails (an error-level event).
const WRONG_TOKEN: &str = "MIIwrong-token-9d2e";

/// One journal entry: field name to value.
type Entry = BTreeMap<String, String>;

/// How to enter a private mount namespace and mount over /run in it, if that works here.
fn unshare_args() -> Option<&'static [&'static str]> {
    const WAYS: &[&[&str]] = &[
        &["--mount", "--propagation", "private"],
        &[
            "--user",
            "--map-root-user",
            "--mount",
            "--propagation",
            "private",
        ],
    ];
    // The workspaces must stay visible once /run is replaced.
    let temp = std::env::temp_dir();
    let found = if temp.starts_with("/run") {
        None
    } else {
        WAYS.iter().copied().find(|args| {
            Command::new("unshare")
                .args(*args)
                .args(["--", "sh", "-c", "mount -t tmpfs tmpfs /run"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
    };
    if found.is_none() {
        let why = format!(
            "`unshare --mount` with a tmpfs on /run fails here, or the temporary directory \
             ({}) is under /run",
            temp.display()
        );
        assert!(
            std::env::var_os("CI_REQUIRE_NAMESPACES").is_none(),
            "CI_REQUIRE_NAMESPACES is set, but {why}"
        );
        eprintln!("skipped: {why}");
    }
    found
}

/// The test's journal: a datagram socket in a temporary directory that becomes
/// /run/systemd/journal inside renewd's namespace. A thread reads it as journald does: a
/// datagram queue holds only a few entries, and a full one blocks the writer.
struct Journal {
    dir: tempfile::TempDir,
    socket: Arc<UnixDatagram>,
    received: Arc<Mutex<Vec<Entry>>>,
    reader: Option<std::thread::JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

impl Journal {
    fn bind() -> Journal {
        let dir = tempfile::tempdir().expect("journal directory");
        let socket = UnixDatagram::bind(dir.path().join("socket")).expect("bind the journal");
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .expect("journal read timeout");
        let socket = Arc::new(socket);
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (socket, received, stop) = (socket.clone(), received.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 20];
                loop {
                    match socket.recv(&mut buf) {
                        Ok(0) => {} // the layer's "can I talk to you" probe
                        Ok(n) => received.lock().unwrap().push(parse_entry(&buf[..n])),
                        // Timed out: stop once asked to and the queue is empty.
                        Err(_) if stop.load(Ordering::SeqCst) => return,
                        Err(_) => {}
                    }
                }
            })
        };
        Journal {
            dir,
            socket,
            received,
            reader: Some(reader),
            stop,
        }
    }

    /// Every entry received, once renewd has exited (so everything it wrote is queued).
    fn entries(&mut self) -> Vec<Entry> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(reader) = self.reader.take() {
            reader.join().expect("journal reader");
        }
        // Anything sent after the reader stopped (there should be none) is read here.
        let _ = self.socket.set_nonblocking(true);
        let mut buf = vec![0u8; 1 << 20];
        let mut received = self.received.lock().unwrap();
        while let Ok(n) = self.socket.recv(&mut buf) {
            if n > 0 {
                received.push(parse_entry(&buf[..n]));
            }
        }
        std::mem::take(&mut *received)
    }
}

/// journald's native protocol: `NAME=value\n`, or `NAME\n` + 64-bit little-endian length +
/// value + `\n` for values that may hold newlines (tracing-journald writes this form).
fn parse_entry(mut data: &[u8]) -> Entry {
    let mut entry = Entry::new();
    while !data.is_empty() {
        let line_end = data.iter().position(|&b| b == b'\n').expect("field ends");
        let line = &data[..line_end];
        if let Some(eq) = line.iter().position(|&b| b == b'=') {
            entry.insert(
                String::from_utf8_lossy(&line[..eq]).into_owned(),
                String::from_utf8_lossy(&line[eq + 1..]).into_owned(),
            );
            data = &data[line_end + 1..];
        } else {
            let rest = &data[line_end + 1..];
            let len = u64::from_le_bytes(rest[..8].try_into().expect("length")) as usize;
            let value = &rest[8..8 + len];
            assert_eq!(rest[8 + len], b'\n', "value ends with a newline");
            entry.insert(
                String::from_utf8_lossy(line).into_owned(),
                String::from_utf8_lossy(value).into_owned(),
            );
            data = &rest[8 + len + 1..];
        }
    }
    entry
}

fn with_event<'a>(entries: &'a [Entry], event: &str) -> Vec<&'a Entry> {
    entries
        .iter()
        .filter(|e| e.get("F_EVENT").map(String::as_str) == Some(event))
        .collect()
}

/// A fake cloud, a webhook receiver and a workspace whose config has the documented example
/// account, a second account with a wrong token, and `log`.
struct Setup {
    _cloud: FakeCloud,
    hook: WebhookReceiver,
    ws: Workspace,
}

impl Setup {
    async fn new(log: &str) -> Setup {
        let cloud = FakeCloud::start().await;
        cloud.add_token(TOKEN);
        let hook = WebhookReceiver::start();
        let ws = Workspace::new();
        let config = format!(
            "{}{}{log}\n",
            basic_config(&ws, &cloud.url(), &hook.url()),
            token_account("staging", &cloud.url(), &[PROJECT], WRONG_TOKEN),
        );
        ws.write_config(&config);
        Setup {
            _cloud: cloud,
            hook,
            ws,
        }
    }

    /// Runs `renewd once` in a private mount namespace whose /run is empty but for `journal`
    /// (when given) at /run/systemd/journal. stderr goes to a file; with `journal_stream`,
    /// `JOURNAL_STREAM` names that file, as systemd names the stream it connected. Returns the
    /// exit code and what reached stderr.
    async fn once_in_namespace(
        &self,
        unshare: &[&str],
        journal: Option<&Journal>,
        journal_stream: JournalStream,
    ) -> (i32, String) {
        let stderr_path = self.ws.path().join("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let meta = stderr.metadata().expect("stderr metadata");
        let script = "mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal && \
                      if [ -n \"$0\" ]; then mount --bind \"$0\" /run/systemd/journal; fi && \
                      exec \"$@\"";
        let journal_dir = journal.map(|j| j.dir.path()).unwrap_or(Path::new(""));
        let mut command = tokio::process::Command::new("unshare");
        command
            .args(unshare)
            .args(["--", "sh", "-c", script])
            .arg(journal_dir)
            .arg(BIN)
            .arg("--config")
            .arg(self.ws.config_path())
            .arg("once")
            .current_dir(self.ws.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .kill_on_drop(true);
        for key in support::inherited_vars_to_scrub() {
            command.env_remove(key);
        }
        // Debug: the most events, each of which must carry a MESSAGE and no secret.
        command.env("RENEWD_LOG", "debug");
        match journal_stream {
            JournalStream::Stderr => {
                command.env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()));
            }
            JournalStream::Elsewhere => {
                command.env(
                    "JOURNAL_STREAM",
                    format!("{}:{}", meta.dev(), meta.ino() + 1),
                );
            }
            JournalStream::Unset => {}
        }
        let status = tokio::time::timeout(Duration::from_secs(60), command.status())
            .await
            .expect("renewd ends")
            .expect("run unshare");
        let stderr = std::fs::read_to_string(&stderr_path).expect("read stderr");
        (status.code().unwrap_or(-1), stderr)
    }
}

#[derive(Clone, Copy)]
enum JournalStream {
    /// `JOURNAL_STREAM` names renewd's stderr: it is connected to the journal.
    Stderr,
    /// `JOURNAL_STREAM` names another stream (stderr was redirected since).
    Elsewhere,
    Unset,
}

#[tokio::test]
async fn journald_entries_carry_the_priority_and_the_fields() {
    let Some(unshare) = unshare_args() else {
        return;
    };
    let s = Setup::new("[log]\nformat = \"journald\"").await;
    let mut journal = Journal::bind();
    let (code, stderr) = s
        .once_in_namespace(unshare, Some(&journal), JournalStream::Unset)
        .await;
    assert_eq!(code, 1, "one poll fails (wrong token)\n{stderr}");
    assert!(
        !stderr.contains("cycle.finished"),
        "logs go to the journal\n{stderr}"
    );
    assert_eq!(s.hook.received().len(), 1, "the cycle ran and delivered");

    let entries = journal.entries();
    for entry in &entries {
        assert_eq!(entry["SYSLOG_IDENTIFIER"], "renewd", "{entry:?}");
        assert!(entry.contains_key("MESSAGE"), "{entry:?}");
        assert!(entry.contains_key("PRIORITY"), "{entry:?}");
        for secret in [TOKEN, WRONG_TOKEN] {
            assert!(
                entry.values().all(|v| !v.contains(secret)),
                "a token reached the journal: {entry:?}"
            );
        }
    }

    let finished = with_event(&entries, "cycle.finished");
    assert_eq!(finished.len(), 1, "{entries:#?}");
    assert_eq!(finished[0]["PRIORITY"], "5", "info is notice (5)");
    assert_eq!(finished[0]["F_ALERTS"], "2");
    assert_eq!(finished[0]["F_POLLS_FAILED"], "1");

    let raised = with_event(&entries, "alert.raised");
    assert_eq!(raised.len(), 2, "{entries:#?}");
    for alert in raised {
        assert_eq!(alert["F_ACCOUNT"], "prod");
        assert_eq!(alert["F_PROJECT_ID"], PROJECT);
        assert_eq!(alert["F_REMAIN_DAYS"], "11");
        assert_eq!(alert["F_THRESHOLD"], "14");
    }

    let failed = with_event(&entries, "poll.failed");
    assert_eq!(failed.len(), 1, "{entries:#?}");
    assert_eq!(failed[0]["PRIORITY"], "3", "error is 3");
    assert_eq!(failed[0]["F_ACCOUNT"], "staging");
    assert_eq!(failed[0]["F_HTTP_STATUS"], "401");

    let opened = with_event(&entries, "state.opened");
    assert_eq!(opened.len(), 1, "{entries:#?}");
    assert_eq!(opened[0]["PRIORITY"], "6", "debug is informational (6)");

    let delivered = with_event(&entries, "notify.delivered");
    assert_eq!(delivered.len(), 1, "{entries:#?}");
    assert_eq!(delivered[0]["F_RECEIVER"], "ops");
}

#[tokio::test]
async fn auto_writes_to_the_journal_only_when_stderr_is_the_journal_stream() {
    let Some(unshare) = unshare_args() else {
        return;
    };
    // `format` unset: auto.
    let s = Setup::new("").await;
    let mut journal = Journal::bind();
    let (code, stderr) = s
        .once_in_namespace(unshare, Some(&journal), JournalStream::Stderr)
        .await;
    assert_eq!(code, 1, "{stderr}");
    let entries = journal.entries();
    assert_eq!(
        with_event(&entries, "cycle.finished").len(),
        1,
        "{entries:#?}"
    );
    assert!(!stderr.contains("cycle.finished"), "{stderr}");

    // stderr redirected elsewhere: text on stderr, nothing in the journal.
    let mut journal = Journal::bind();
    let (code, stderr) = s
        .once_in_namespace(unshare, Some(&journal), JournalStream::Elsewhere)
        .await;
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("event=\"cycle.finished\"") || stderr.contains("event=cycle.finished"),
        "{stderr}"
    );
    assert_eq!(journal.entries(), Vec::<Entry>::new());
}

#[tokio::test]
async fn auto_falls_back_to_text_on_stderr_when_the_journal_socket_is_missing() {
    let Some(unshare) = unshare_args() else {
        return;
    };
    let s = Setup::new("").await;
    // stderr is the journal stream, but there is no /run/systemd/journal/socket.
    let (code, stderr) = s
        .once_in_namespace(unshare, None, JournalStream::Stderr)
        .await;
    assert_eq!(code, 1, "still runs the cycle\n{stderr}");
    assert!(stderr.contains("log.journal_unreachable"), "{stderr}");
    assert!(stderr.contains("cycle.finished"), "{stderr}");
    assert_eq!(s.hook.received().len(), 1);

    // Asked for by name, a missing journal is an error before anything runs.
    let s = Setup::new("[log]\nformat = \"journald\"").await;
    let (code, stderr) = s
        .once_in_namespace(unshare, None, JournalStream::Unset)
        .await;
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("cannot connect to journald"), "{stderr}");
    assert!(s.hook.received().is_empty());
}
