//! The state store: one SQLite file holding what renewd remembers between cycles and across
//! restarts — per-package rule state, poll health per account/project, every decision (alert)
//! and an outbox of deliveries.
//!
//! Robustness rules (after pueue's state handling):
//! - a cycle's results are written before any delivery is tried, in batches as its polls come
//!   in; each decision is queued for its receivers in the same transaction as the decision,
//!   and a cycle cut short is finished at the next start, so a crash never loses a decision
//!   nor leaves one without its pending deliveries;
//! - a file that is not a SQLite database, fails `PRAGMA quick_check`, or comes from a newer
//!   schema is refused with a clear message and never written to, let alone replaced;
//! - the schema is versioned with `PRAGMA user_version` and migrated by an ordered list of
//!   steps (`MIGRATIONS`); an old file is tested through a frozen copy in
//!   `tests/fixtures/state/`.
//!
//! The file is in WAL mode with a busy timeout, so `renewd status` can read through
//! [`StateStore::open_read_only`] while the daemon writes.
//!
//! Calls are blocking (SQLite is local and the transactions are small); async callers that care
//! can wrap them in `spawn_blocking`.

use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::time::Duration;

mod active;
mod deliveries;
mod encoding;
mod error;
mod open;
mod reads;
mod record;
mod schema;
mod silences;
mod types;

use encoding::*;
use open::*;
use schema::*;

pub(crate) use error::same_state_file;
use error::sql_err;
pub use error::StateError;
pub(crate) use reads::BatchReads;
pub use record::{Offer, QueueLedger, QueuePolicy};
pub use schema::SCHEMA_VERSION;
pub use silences::HeldDecision;
pub use types::*;

/// How long a connection waits for another one's write lock before giving up.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the history of a cycle that decided nothing is kept (see `record_cycle`).
pub const QUIET_CYCLE_RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(90);

/// An open state file. Writes take `&mut self`; a store opened with
/// [`StateStore::open_read_only`] fails every write with a SQLite "readonly" error.
#[derive(Debug)]
pub struct StateStore {
    conn: Connection,
    path: PathBuf,
    /// Held by a read-write store for as long as it lives (see [`WriterLock`]).
    _writer: Option<WriterLock>,
}

impl StateStore {
    /// Opens the state file at `path` for reading and writing, creating it (mode 0600, parent
    /// directory 0700) when missing and migrating it to [`SCHEMA_VERSION`]. A corrupt file or
    /// one from a newer schema is refused and left untouched.
    pub fn open(path: impl AsRef<Path>) -> Result<StateStore, StateError> {
        let path = path.as_ref().to_path_buf();
        create_if_missing(&path)?;
        let writer = WriterLock::acquire(&path)?;
        // Everything up to here only reads the file; nothing is written before it passed.
        let (conn, _) = open_checked(&path, OpenFlags::SQLITE_OPEN_READ_WRITE, "opening")?;

        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(sql_err(&path, "switching to WAL mode"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(event = "state.not_wal", path = %path.display(), journal_mode = %mode, "state file is not in WAL mode; readers may wait for writers");
        }
        // FULL: a committed cycle survives a power cut, so its decisions are never re-sent.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql_err(&path, "setting synchronous mode"))?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(sql_err(&path, "enabling foreign keys"))?;

        let mut store = StateStore {
            conn,
            path,
            _writer: Some(writer),
        };
        store.migrate()?;
        // A cycle cut short by a crash queued decisions: they become deliveries now, before
        // anything else runs (a retry pass at start sends them).
        store.repair_unbuilt_outboxes()?;
        tracing::debug!(event = "state.opened", path = %store.path.display(), schema_version = SCHEMA_VERSION, read_only = false, "state file opened");
        Ok(store)
    }

    /// Opens an existing state file for reading only (for `renewd status`, alongside a running
    /// daemon). Never creates, migrates or otherwise writes the file.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<StateStore, StateError> {
        let path = path.as_ref().to_path_buf();
        match std::fs::metadata(&path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StateError::Missing { path })
            }
            Err(source) => {
                return Err(StateError::Io {
                    path,
                    what: "reading file metadata",
                    source,
                })
            }
        }
        let (conn, found) =
            open_checked(&path, OpenFlags::SQLITE_OPEN_READ_ONLY, "opening read-only")?;
        if found < SCHEMA_VERSION {
            return Err(StateError::NeedsMigration {
                path,
                found,
                supported: SCHEMA_VERSION,
            });
        }
        tracing::debug!(event = "state.opened", path = %path.display(), schema_version = found, read_only = true, "state file opened read-only");
        Ok(StateStore {
            conn,
            path,
            _writer: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Applies the migrations the file lacks, each with its version bump in one transaction.
    fn migrate(&mut self) -> Result<(), StateError> {
        let path = &self.path;
        // IMMEDIATE: two processes opening a fresh file at once must not both migrate it.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(path, "starting the migration"))?;
        let found = user_version(&tx).map_err(sql_err(path, "reading the schema version"))?;
        if found > SCHEMA_VERSION {
            return Err(StateError::NewerSchema {
                path: path.clone(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let to = index as u32 + 1;
            tx.execute_batch(sql)
                .map_err(sql_err(path, "applying a schema migration"))?;
            tx.pragma_update(None, "user_version", to)
                .map_err(sql_err(path, "setting the schema version"))?;
            tracing::info!(event = "state.migrated", path = %path.display(), from = to - 1, to, "state file migrated");
        }
        tx.commit()
            .map_err(sql_err(path, "committing the migration"))
    }
}
