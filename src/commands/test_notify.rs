//! `renewd test-notify`: one test message through one receiver.

use super::CommandError;
use super::EXIT_FAILURE;
use super::EXIT_OK;
use crate::app::App;
use chrono::Utc;
use std::io::Write;

/// `renewd test-notify <receiver>`: one `test` message through one receiver, and what it answered.
pub async fn test_notify(
    app: App,
    receiver: &str,
    out: &mut dyn Write,
) -> Result<u8, CommandError> {
    let tz = app.config.daemon.tz();
    let notifier = super::notifier(&app, receiver).map_err(CommandError::Failed)?;
    // In the receiver's own locale and time zone, as its alerts will be.
    let digest = crate::notify::test_digest(receiver, Utc::now(), tz)
        .styled(app.notifiers.style(receiver, tz));
    match notifier.send(&digest).await {
        Ok(receipt) => {
            writeln!(out, "{receiver}: delivered ({})", receipt.detail)?;
            Ok(EXIT_OK)
        }
        Err(e) => {
            writeln!(out, "{receiver}: failed: {e}")?;
            Ok(EXIT_FAILURE)
        }
    }
}

/// `renewd test-notify --heartbeat`: one ping of `[heartbeat] url`, as after a cycle that
/// went well, and what the monitor answered.
pub async fn test_heartbeat(app: App, out: &mut dyn Write) -> Result<u8, CommandError> {
    let Some(heartbeat) = &app.heartbeat else {
        return Err(CommandError::Failed(
            "no [heartbeat] is configured".to_string(),
        ));
    };
    let summary = crate::heartbeat::CycleSummary {
        ok: true,
        ..Default::default()
    };
    match heartbeat.ping(&summary).await {
        Ok(crate::heartbeat::Pinged::Sent { status, .. }) => {
            writeln!(
                out,
                "heartbeat: sent ({} {}, HTTP {status})",
                heartbeat.method().as_str(),
                heartbeat.origin()
            )?;
            Ok(EXIT_OK)
        }
        Ok(crate::heartbeat::Pinged::NothingToSend) => {
            writeln!(out, "heartbeat: nothing sent")?;
            Ok(EXIT_FAILURE)
        }
        Err(e) => {
            writeln!(out, "heartbeat: failed: {e}")?;
            Ok(EXIT_FAILURE)
        }
    }
}
