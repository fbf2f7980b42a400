//! The daemon's side of systemd's notify protocol (`Type=notify`): readiness, reloads,
//! stopping, the watchdog and a one-line status. Outside systemd (`NOTIFY_SOCKET` unset) every
//! call does nothing.

use sd_notify::NotifyState;
use std::time::Duration;

/// Talks to the service manager through `NOTIFY_SOCKET`.
#[derive(Debug, Clone)]
pub struct Systemd {
    watchdog: Option<Duration>,
}

impl Systemd {
    /// Reads `WATCHDOG_USEC` (and `WATCHDOG_PID`, which must be this process when set).
    pub fn from_env() -> Systemd {
        let mut usec = 0u64;
        let watchdog = sd_notify::watchdog_enabled(false, &mut usec)
            .then(|| Duration::from_micros(usec))
            .filter(|d| !d.is_zero());
        Systemd { watchdog }
    }

    /// How often to send `WATCHDOG=1`: half of the watchdog timeout, as sd_watchdog_enabled(3)
    /// advises. `None` when systemd does not watch us.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog.map(|d| d / 2)
    }

    /// `READY=1`: config loaded, state store open, signal handlers installed.
    pub fn ready(&self, status: &str) {
        send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    /// `RELOADING=1` with `MONOTONIC_USEC`, as systemd wants it at the start of a reload.
    pub fn reloading(&self) {
        match NotifyState::monotonic_usec_now() {
            Ok(now) => send(&[NotifyState::Reloading, now]),
            Err(_) => send(&[NotifyState::Reloading]),
        }
    }

    pub fn stopping(&self, status: &str) {
        send(&[NotifyState::Stopping, NotifyState::Status(status)]);
    }

    pub fn status(&self, status: &str) {
        send(&[NotifyState::Status(status)]);
    }

    pub fn watchdog(&self) {
        if self.watchdog.is_some() {
            send(&[NotifyState::Watchdog]);
        }
    }
}

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::warn!(event = "systemd.notify_failed", error = %e, "cannot notify systemd");
    }
}
