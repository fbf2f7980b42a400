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
    let config = &app.config;
    if !config.receivers.contains_key(receiver) {
        let known: Vec<&str> = config.receivers.keys().map(String::as_str).collect();
        return Err(CommandError::Failed(format!(
            "no receiver named {receiver:?} (configured: {})",
            known.join(", ")
        )));
    }
    let tz = config.daemon.tz();
    let notifier = app
        .notifiers
        .get(receiver)
        .ok_or_else(|| CommandError::Failed(format!("receiver {receiver:?} could not be built")))?;
    let digest = crate::notify::test_digest(receiver, Utc::now(), tz);
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
