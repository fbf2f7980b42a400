//! `renewd preview`: what one receiver would get for the current state, sending nothing.

use super::CommandError;
use super::EXIT_OK;
use crate::app::App;
use crate::model::Locale;
use crate::notify::{Digest, Notifier, PreviewFormat};
use crate::state::{StateError, StateStore};
use chrono::Utc;
use std::io::Write;

/// `renewd preview RECEIVER [--format …] [--locale …]`: renders, through the receiver's own
/// code, the alerts that currently hold for it per the state file (opened read-only, so this
/// works beside a running daemon), or the built-in example when there are none, and prints
/// one part of it to `out`, in the receiver's locale and time zone (`locale` overrides the
/// locale). Says on `note` which of the two it shows. Sends nothing.
pub fn preview(
    app: &App,
    receiver: &str,
    format: Option<PreviewFormat>,
    locale: Option<Locale>,
    out: &mut dyn Write,
    note: &mut dyn Write,
) -> Result<u8, CommandError> {
    let notifier = super::notifier(app, receiver).map_err(CommandError::Usage)?;
    let mut style = app.notifiers.style(receiver, app.config.daemon.tz());
    if let Some(locale) = locale {
        style.locale = locale;
    }
    let digest = digest(app, receiver, note)?.styled(style);
    let part = render(notifier, &digest, format)?;
    out.write_all(part.as_bytes())?;
    if !part.ends_with('\n') {
        writeln!(out)?;
    }
    Ok(EXIT_OK)
}

/// What `notifier` would deliver for `digest`, in `format` (or the receiver's default); a
/// format it has no part in is a usage error.
pub(super) fn render(
    notifier: &dyn Notifier,
    digest: &Digest,
    format: Option<PreviewFormat>,
) -> Result<String, CommandError> {
    let preview = notifier
        .preview(digest)
        .map_err(|e| CommandError::Failed(e.to_string()))?;
    let format = format.unwrap_or(preview.default);
    match preview.part(format) {
        Some(part) => Ok(part.to_string()),
        None => {
            let formats: Vec<&str> = preview.formats().iter().map(|f| f.as_str()).collect();
            Err(CommandError::Usage(format!(
                "receiver {:?} ({}) has no {format} form; it has: {}",
                notifier.name(),
                notifier.kind(),
                formats.join(", ")
            )))
        }
    }
}

/// The alerts that currently hold for `receiver`, or the example when the state file is
/// missing or holds none.
fn digest(app: &App, receiver: &str, note: &mut dyn Write) -> Result<Digest, CommandError> {
    let path = &app.config.daemon.state_path;
    let tz = app.config.daemon.tz();
    let now = Utc::now();
    let (alerts, why) = match StateStore::open_read_only(path) {
        Ok(store) => (store.active_alerts(receiver)?, "holds no alert for it"),
        Err(StateError::Missing { .. }) => (Vec::new(), "does not exist yet"),
        Err(e) => return Err(e.into()),
    };
    if alerts.is_empty() {
        writeln!(
            note,
            "renewd preview: the state file {} {why}; showing {receiver:?} the built-in example \
             (account \"example\": 3 packages)",
            path.display()
        )?;
        return Ok(crate::notify::example_digest(receiver, now, tz));
    }
    writeln!(
        note,
        "renewd preview: showing {receiver:?} the {} alert(s) that currently hold for it (state file {})",
        alerts.len(),
        path.display()
    )?;
    Ok(Digest::new(receiver, alerts, now, tz))
}
