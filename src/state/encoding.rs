//! How values are stored: timestamps as sortable text, the rest of renewd's values as JSON.

use super::*;
use crate::model::{Alert, ItemId, Scope};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Timestamps are stored as fixed-width RFC 3339 UTC text (nanoseconds, `Z`), so that text
/// order is time order and values round-trip exactly.
pub(super) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

pub(super) fn parse_ts(path: &Path, what: &str, s: &str) -> Result<DateTime<Utc>, StateError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StateError::Corrupt {
            path: path.to_path_buf(),
            detail: format!("{what}: invalid timestamp {s:?}: {e}"),
        })
}

pub(super) fn parse_status(path: &Path, s: &str) -> Result<DeliveryStatus, StateError> {
    DeliveryStatus::parse(s).ok_or_else(|| StateError::Corrupt {
        path: path.to_path_buf(),
        detail: format!("unknown delivery status {s:?}"),
    })
}

pub(super) fn to_json<T: Serialize>(
    path: &Path,
    value: &T,
    what: impl FnOnce() -> String,
) -> Result<String, StateError> {
    serde_json::to_string(value).map_err(|source| StateError::Json {
        path: path.to_path_buf(),
        what: what(),
        source,
    })
}

pub(super) fn from_json<T: for<'de> Deserialize<'de>>(
    path: &Path,
    json: &str,
    what: impl FnOnce() -> String,
) -> Result<T, StateError> {
    serde_json::from_str(json).map_err(|source| StateError::Json {
        path: path.to_path_buf(),
        what: what(),
        source,
    })
}

/// An alert with its receivers, which its JSON form leaves out (they are not wire format).
pub(super) fn decode_alert(
    path: &Path,
    alert_json: &str,
    receivers_json: &str,
) -> Result<Alert, StateError> {
    let mut alert: Alert = from_json(path, alert_json, || "decoding a decision".to_string())?;
    alert.receivers = from_json(path, receivers_json, || {
        format!("decoding the receivers of alert {}", alert.id)
    })?;
    Ok(alert)
}

pub(super) fn scope_from_row(
    row: &rusqlite::Row<'_>,
    account: usize,
    project: usize,
) -> rusqlite::Result<Scope> {
    let key: String = row.get(project)?;
    let account: String = row.get(account)?;
    Ok(Scope::from_key(&account, &key))
}

/// Reads a `ItemId` from columns 0..4 (account, project_id, package_key, resource_id).
pub(super) fn package_id_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ItemId> {
    Ok(ItemId {
        scope: scope_from_row(row, 0, 1)?,
        key: row.get(2)?,
        resource_id: row.get(3)?,
    })
}

pub(super) fn label(id: &ItemId) -> String {
    format!("{}/{}/{}", id.scope, id.key, id.resource_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_sort_as_text_and_round_trip() {
        let a = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.123456789Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("valid timestamp");
        let b = a + chrono::Duration::nanoseconds(1);
        let c = a + chrono::Duration::days(400);
        assert!(ts(a) < ts(b) && ts(b) < ts(c));
        assert_eq!(parse_ts(Path::new("x"), "t", &ts(a)).expect("parses"), a);
    }

    #[test]
    fn statuses_round_trip_through_text() {
        for s in [
            DeliveryStatus::Pending,
            DeliveryStatus::Delivered,
            DeliveryStatus::Failed,
            DeliveryStatus::Abandoned,
        ] {
            assert_eq!(DeliveryStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(DeliveryStatus::parse("sent"), None);
    }
}
