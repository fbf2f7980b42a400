//! What can go wrong with the state file, said with its path and where to look.
//!
//! Like every error of the crate, a variant's message says only its own part (the file, what
//! was being done); the error it wraps is its `source()`, printed by [`crate::error_chain`].

use super::*;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "state file {} is corrupt or not a renewd state file ({detail}); it was left untouched: \
         move it aside to start with empty state, or restore a backup",
        path.display()
    )]
    Corrupt { path: PathBuf, detail: String },

    #[error(
        "state file {} has schema version {found}, newer than version {supported} that this \
         renewd supports; upgrade renewd or point it at another state file",
        path.display()
    )]
    NewerSchema {
        path: PathBuf,
        found: u32,
        supported: u32,
    },

    #[error(
        "state file {} has schema version {found}, older than version {supported}; it cannot \
         be read without migrating it: let `renewd run` or `renewd once` open it first",
        path.display()
    )]
    NeedsMigration {
        path: PathBuf,
        found: u32,
        supported: u32,
    },

    #[error("state file {} does not exist (has renewd run yet?)", path.display())]
    Missing { path: PathBuf },

    #[error("{}", in_use_message(path, *holder))]
    InUse { path: PathBuf, holder: Option<u32> },

    #[error("state file {}: {what}", path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },

    #[error("state file {}: {what}{hint}", path.display())]
    Sqlite {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: rusqlite::Error,
        /// What an operator should look at, for errors of the file system.
        hint: &'static str,
    },

    #[error("state file {}: {what}", path.display())]
    Json {
        path: PathBuf,
        what: String,
        #[source]
        source: serde_json::Error,
    },

    #[error(
        "state file {}: a delivery to {receiver:?} refers to alert {alert_id:?}, which is \
         neither in this cycle nor recorded before",
        path.display()
    )]
    UnknownAlert {
        path: PathBuf,
        receiver: String,
        alert_id: String,
    },

    #[error("state file {}: a delivery to {receiver:?} has no alerts", path.display())]
    EmptyDelivery { path: PathBuf, receiver: String },

    #[error("state file {}: no delivery {id}", path.display())]
    UnknownDelivery { path: PathBuf, id: DeliveryId },

    #[error(
        "state file {}: delivery {id} is {status}, not pending; it cannot be marked {wanted}",
        path.display()
    )]
    DeliveryNotPending {
        path: PathBuf,
        id: DeliveryId,
        status: DeliveryStatus,
        wanted: &'static str,
    },

    #[error("state file {}: no cycle started at {started_at}", path.display())]
    UnknownCycle {
        path: PathBuf,
        started_at: DateTime<Utc>,
    },
}

impl StateError {
    /// The file system under the state file failed (full, read-only, I/O error, cannot open
    /// a file): something that may clear up by itself or at an operator's hand, not a problem
    /// of the file's content.
    pub(crate) fn is_storage_failure(&self) -> bool {
        use rusqlite::ErrorCode;
        match self {
            StateError::Io { .. } => true,
            StateError::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(
                    ErrorCode::DiskFull
                        | ErrorCode::ReadOnly
                        | ErrorCode::SystemIoFailure
                        | ErrorCode::CannotOpen
                )
            ),
            _ => false,
        }
    }
}

pub(super) fn in_use_message(path: &Path, holder: Option<u32>) -> String {
    if holder == Some(std::process::id()) {
        // A bug rather than an operator's mistake, but say plainly what happened.
        return format!(
            "state file {} is already open for writing in this renewd process",
            path.display()
        );
    }
    format!(
        "state file {} is in use by another renewd process{}: only one `renewd run` or \
         `renewd once` writes a state file at a time (`renewd status` reads it alongside); \
         stop the other one first",
        path.display(),
        holder
            .map(|pid| format!(" (pid {pid})"))
            .unwrap_or_default()
    )
}

/// Whether two configured state paths name the same file (through symlinks or `..`), so a
/// reload does not try to open the file it already holds. Paths that do not resolve yet are
/// compared as written.
pub(crate) fn same_state_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Wraps a rusqlite error with the file and what was being done.
pub(super) fn sql_err<'a>(
    path: &'a Path,
    what: &'static str,
) -> impl FnOnce(rusqlite::Error) -> StateError + 'a {
    move |source| StateError::Sqlite {
        path: path.to_path_buf(),
        what,
        hint: storage_hint(&source),
        source,
    }
}

/// SQLite's words for a failing file system are terse ("disk I/O error" is also what a full
/// disk gives when the shared-memory file cannot grow): say where to look.
pub(super) fn storage_hint(error: &rusqlite::Error) -> &'static str {
    use rusqlite::ErrorCode;
    match error.sqlite_error_code() {
        Some(ErrorCode::SystemIoFailure) => {
            " (is the file system of the state file full, read-only or failing?)"
        }
        Some(ErrorCode::ReadOnly) => " (is the file system of the state file read-only?)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path() -> PathBuf {
        PathBuf::from("/var/lib/renewd/state.db")
    }

    /// The errors that wrap another one, each with a cause whose words are easy to count.
    fn wrapping_errors() -> Vec<(StateError, &'static str)> {
        let io = StateError::Io {
            path: path(),
            what: "syncing the directory",
            source: std::io::Error::other("platter on fire"),
        };
        let sqlite = StateError::Sqlite {
            path: path(),
            what: "recording the cycle",
            source: rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
                Some("the disk said no".into()),
            ),
            hint: " (is the file system of the state file full, read-only or failing?)",
        };
        let json = StateError::Json {
            path: path(),
            what: "decoding a decision".into(),
            source: serde_json::from_str::<u32>("\"seven\"").unwrap_err(),
        };
        vec![
            (io, "platter on fire"),
            (sqlite, "the disk said no"),
            (json, "invalid type: string \"seven\""),
        ]
    }

    #[test]
    fn the_cause_is_told_once_through_the_chain() {
        for (error, cause) in wrapping_errors() {
            let own = error.to_string();
            assert!(
                own.starts_with("state file /var/lib/renewd/state.db: "),
                "{own}"
            );
            crate::tests::assert_cause_told_once(&error, cause);
        }
    }

    #[test]
    fn a_storage_hint_stays_with_what_was_being_done() {
        let (sqlite, _) = wrapping_errors().swap_remove(1);
        // rusqlite's own source, SQLite's words for the code, comes last.
        assert_eq!(
            crate::error_chain(&sqlite),
            "state file /var/lib/renewd/state.db: recording the cycle (is the file system of \
             the state file full, read-only or failing?): the disk said no: Error code 10: Some \
             kind of disk I/O error occurred"
        );
    }
}
