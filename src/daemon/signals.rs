//! Unix signals as daemon controls: SIGTERM and SIGINT stop, SIGHUP reloads.

use super::{Control, DaemonError};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

/// Installs the SIGTERM, SIGINT and SIGHUP handlers now (call it before [`super::run`], which
/// announces readiness) and forwards each signal as a [`Control`]. Needs a tokio runtime.
pub fn forward_unix_signals() -> Result<mpsc::Receiver<Control>, DaemonError> {
    let install = |kind: SignalKind, name: &'static str| {
        signal(kind).map_err(|source| DaemonError::Signals {
            signal: name,
            source,
        })
    };
    let mut term = install(SignalKind::terminate(), "SIGTERM")?;
    let mut int = install(SignalKind::interrupt(), "SIGINT")?;
    let mut hup = install(SignalKind::hangup(), "SIGHUP")?;
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(async move {
        loop {
            let control = tokio::select! {
                Some(()) = term.recv() => Control::Shutdown { signal: "SIGTERM" },
                Some(()) = int.recv() => Control::Shutdown { signal: "SIGINT" },
                Some(()) = hup.recv() => Control::Reload,
                else => break,
            };
            if tx.send(control).await.is_err() {
                break;
            }
        }
    });
    Ok(rx)
}
