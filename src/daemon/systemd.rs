//! The daemon's side of systemd's notify protocol (`Type=notify`): readiness, reloads,
//! stopping, the watchdog and a one-line status. Outside systemd (`NOTIFY_SOCKET` unset) every
//! call does nothing.
//!
//! A service manager that does not read its socket must never freeze renewd: the kernel queues
//! only `net.unix.max_dgram_qlen` datagrams, and a blocking send waits for room forever. So
//! nothing here blocks the caller. Messages go to a thread of their own that sends without
//! blocking: a `STATUS=` update that finds the socket full is dropped, while `READY=1`,
//! `RELOADING=1`, `STOPPING=1` and `WATCHDOG=1` are retried for [`RELIABLE_RETRY_FOR`] before
//! they are given up. A stall is logged once (`systemd.notify_stalled`), its end once
//! (`systemd.notify_resumed`).

use sd_notify::NotifyState;
use std::io::ErrorKind;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a message systemd must get is retried while the socket is full.
const RELIABLE_RETRY_FOR: Duration = Duration::from_secs(2);
/// The pause between two tries of such a message.
const RETRY_PAUSE: Duration = Duration::from_millis(20);

/// Talks to the service manager through `NOTIFY_SOCKET`.
#[derive(Debug, Clone)]
pub(crate) struct Systemd {
    watchdog: Option<Duration>,
    /// `None` outside systemd.
    sender: Option<mpsc::Sender<Message>>,
}

#[derive(Debug)]
enum Message {
    /// One datagram; `reliable` ones are retried while the socket is full.
    Notify { text: String, reliable: bool },
    /// Answered once everything sent before it was handled.
    Flush(mpsc::SyncSender<()>),
}

impl Systemd {
    /// Reads `NOTIFY_SOCKET` and `WATCHDOG_USEC` (and `WATCHDOG_PID`, which must be this
    /// process when set), and starts the sending thread when there is a socket.
    pub(crate) fn from_env() -> Systemd {
        let mut usec = 0u64;
        let watchdog = sd_notify::watchdog_enabled(false, &mut usec)
            .then(|| Duration::from_micros(usec))
            .filter(|d| !d.is_zero());
        let sender = std::env::var_os("NOTIFY_SOCKET").and_then(|path| start_sender(&path));
        Systemd { watchdog, sender }
    }

    /// How often to send `WATCHDOG=1`: half of the watchdog timeout, as sd_watchdog_enabled(3)
    /// advises. `None` when systemd does not watch us.
    pub(crate) fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog.map(|d| d / 2)
    }

    /// `READY=1`: config loaded, state store open, signal handlers installed.
    pub(crate) fn ready(&self, status: &str) {
        self.send(&[NotifyState::Ready, NotifyState::Status(status)], true);
    }

    /// `RELOADING=1` with `MONOTONIC_USEC`, as systemd wants it at the start of a reload.
    pub(crate) fn reloading(&self) {
        match NotifyState::monotonic_usec_now() {
            Ok(now) => self.send(&[NotifyState::Reloading, now], true),
            Err(_) => self.send(&[NotifyState::Reloading], true),
        }
    }

    pub(crate) fn stopping(&self, status: &str) {
        self.send(&[NotifyState::Stopping, NotifyState::Status(status)], true);
    }

    /// A one-line status; dropped when the socket is full.
    pub(crate) fn status(&self, status: &str) {
        self.send(&[NotifyState::Status(status)], false);
    }

    pub(crate) fn watchdog(&self) {
        if self.watchdog.is_some() {
            self.send(&[NotifyState::Watchdog], true);
        }
    }

    /// Waits at most `limit` for the messages sent so far to be handled (sent or given up), so
    /// that `STOPPING=1` has its chance before the process exits.
    pub(crate) fn flush(&self, limit: Duration) {
        let Some(sender) = &self.sender else { return };
        let (done, handled) = mpsc::sync_channel(1);
        if sender.send(Message::Flush(done)).is_ok() {
            let _ = handled.recv_timeout(limit);
        }
    }

    fn send(&self, states: &[NotifyState], reliable: bool) {
        let Some(sender) = &self.sender else { return };
        let text = states.iter().map(|s| format!("{s}\n")).collect::<String>();
        // The thread only ends with the process; a send error cannot happen before.
        let _ = sender.send(Message::Notify { text, reliable });
    }
}

/// The socket systemd named, connected, and the thread that writes to it.
fn start_sender(path: &std::ffi::OsStr) -> Option<mpsc::Sender<Message>> {
    let socket = match connect(path) {
        Ok(socket) => socket,
        Err(e) => {
            tracing::warn!(event = "systemd.notify_failed", socket = %path.to_string_lossy(), error = %e, "cannot connect to NOTIFY_SOCKET");
            return None;
        }
    };
    let (sender, messages) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("sd-notify".into())
        .spawn(move || send_loop(&socket, &messages));
    match spawned {
        Ok(_) => Some(sender),
        Err(e) => {
            tracing::warn!(event = "systemd.notify_failed", error = %e, "cannot start the notify thread");
            None
        }
    }
}

/// A non-blocking datagram socket connected to `NOTIFY_SOCKET` (a path, or `@name` for the
/// abstract namespace, as sd_notify(3) says).
fn connect(path: &std::ffi::OsStr) -> std::io::Result<UnixDatagram> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_bytes();
    let address = match bytes.strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name)?,
        None => SocketAddr::from_pathname(path)?,
    };
    let socket = UnixDatagram::unbound()?;
    socket.connect_addr(&address)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

fn send_loop(socket: &UnixDatagram, messages: &mpsc::Receiver<Message>) {
    // Set while the socket stays full: then every message is tried once, not retried, so
    // that a service manager that reads nothing does not build a backlog here, and the stall
    // is logged once, not once per message.
    let mut stalled = false;
    while let Ok(message) = messages.recv() {
        let (text, reliable) = match message {
            Message::Flush(done) => {
                let _ = done.try_send(());
                continue;
            }
            Message::Notify { text, reliable } => (text, reliable),
        };
        let retry_for = if reliable && !stalled {
            RELIABLE_RETRY_FOR
        } else {
            Duration::ZERO
        };
        match send_until(socket, text.as_bytes(), Instant::now() + retry_for) {
            Ok(()) => {
                if stalled {
                    tracing::info!(
                        event = "systemd.notify_resumed",
                        "the service manager reads its notify socket again"
                    );
                }
                stalled = false;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if !stalled {
                    let message = text.lines().next().unwrap_or_default();
                    tracing::warn!(
                        event = "systemd.notify_stalled",
                        message,
                        "the service manager is not reading its notify socket: STATUS= updates are \
                         dropped and other messages tried once until it does"
                    );
                }
                stalled = true;
            }
            Err(e) => {
                let message = text.lines().next().unwrap_or_default();
                tracing::warn!(event = "systemd.notify_failed", message, error = %e, "cannot notify systemd");
            }
        }
    }
}

/// One datagram, tried again while the socket is full until `deadline`.
fn send_until(socket: &UnixDatagram, datagram: &[u8], deadline: Instant) -> std::io::Result<()> {
    loop {
        match socket.send(datagram) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(RETRY_PAUSE);
            }
            Err(e) => return Err(e),
        }
    }
}
