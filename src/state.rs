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

use crate::model::{Alert, PackageId, Scope};
use crate::rules::{PackageState, PollHealth};
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a connection waits for another one's write lock before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the history of a cycle that decided nothing is kept (see `record_cycle`).
pub const QUIET_CYCLE_RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(90);

/// Ordered schema migrations: entry `i` takes the schema from version `i` to `i + 1`.
/// A released entry is never edited; a schema change is a new entry appended at the end.
const MIGRATIONS: &[&str] = &[MIGRATION_V1, MIGRATION_V2, MIGRATION_V3];

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The first 16 bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Schema v1. Keys and the columns that queries filter on are real columns; the values the rest
/// of renewd owns (`PackageState`, `PollHealth`, `Alert`) are stored as JSON so that adding a
/// serde-defaulted field to them needs no migration. `project_id` is '' for an account polled
/// as a whole (see `Scope::project_label`), so it can be part of a primary key.
const MIGRATION_V1: &str = r#"
CREATE TABLE cycles (
    id              INTEGER PRIMARY KEY,
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    ok              INTEGER,
    packages        INTEGER NOT NULL,
    alerts          INTEGER NOT NULL,
    deliveries      INTEGER NOT NULL,
    summary         TEXT
);
CREATE INDEX cycles_by_start ON cycles (started_at);

CREATE TABLE packages (
    account         TEXT NOT NULL,
    project_id      TEXT NOT NULL,
    package_key     TEXT NOT NULL,
    resource_id     TEXT NOT NULL,
    remain_days     INTEGER NOT NULL,
    package_status  INTEGER,
    vanished        INTEGER NOT NULL,
    last_seen       TEXT NOT NULL,
    state_json      TEXT NOT NULL,
    PRIMARY KEY (account, project_id, package_key, resource_id)
) WITHOUT ROWID;

CREATE TABLE poll_health (
    account              TEXT NOT NULL,
    project_id           TEXT NOT NULL,
    consecutive_failures INTEGER NOT NULL,
    health_json          TEXT NOT NULL,
    PRIMARY KEY (account, project_id)
) WITHOUT ROWID;

-- Every decision, in the order it was recorded (seq). The id is the alert's stable id.
CREATE TABLE decisions (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    severity        TEXT NOT NULL,
    account         TEXT NOT NULL,
    project_id      TEXT NOT NULL,
    package_key     TEXT,
    resource_id     TEXT,
    raised_at       TEXT NOT NULL,
    cycle_id        INTEGER REFERENCES cycles (id),
    alert_json      TEXT NOT NULL,
    receivers_json  TEXT NOT NULL
);
CREATE INDEX decisions_by_package ON decisions (account, project_id, package_key, resource_id, seq);

-- The outbox: one row per message to one receiver.
CREATE TABLE deliveries (
    id                INTEGER PRIMARY KEY,
    receiver          TEXT NOT NULL,
    status            TEXT NOT NULL
                      CHECK (status IN ('pending', 'delivered', 'failed', 'abandoned')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    attempt_in_flight INTEGER NOT NULL DEFAULT 0,
    created_at        TEXT NOT NULL,
    next_attempt_at   TEXT NOT NULL,
    last_attempt_at   TEXT,
    last_error        TEXT,
    delivered_at      TEXT,
    finished_at       TEXT,
    cycle_id          INTEGER REFERENCES cycles (id)
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at, id);

-- The alerts of one delivery, in their original order.
CREATE TABLE delivery_alerts (
    delivery_id     INTEGER NOT NULL REFERENCES deliveries (id),
    position        INTEGER NOT NULL,
    alert_id        TEXT NOT NULL REFERENCES decisions (id),
    PRIMARY KEY (delivery_id, position)
) WITHOUT ROWID;
"#;

/// v2: lookups by cycle, so that pruning quiet cycles (and the foreign-key checks of that
/// delete) do not scan every decision and delivery once per old cycle.
const MIGRATION_V2: &str = r#"
CREATE INDEX decisions_by_cycle ON decisions (cycle_id);
CREATE INDEX deliveries_by_cycle ON deliveries (cycle_id);
"#;

/// v3: a cycle is recorded in batches as its polls come in. Each batch queues its decisions
/// for their receivers in `cycle_queue`; the last step turns the queue into deliveries and
/// sets `outbox_built`. A cycle cut short in between is found by `outbox_built = 0` and its
/// outbox built at the next start, so nothing it decided is lost.
const MIGRATION_V3: &str = r#"
ALTER TABLE cycles ADD COLUMN outbox_built INTEGER NOT NULL DEFAULT 1;
CREATE TABLE cycle_queue (
    seq             INTEGER PRIMARY KEY,
    cycle_id        INTEGER NOT NULL REFERENCES cycles (id),
    receiver        TEXT NOT NULL,
    alert_id        TEXT NOT NULL REFERENCES decisions (id),
    UNIQUE (cycle_id, receiver, alert_id)
);
"#;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

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

    #[error("state file {}: {what}: {source}", path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },

    #[error("state file {}: {what}: {source}{hint}", path.display())]
    Sqlite {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: rusqlite::Error,
        /// What an operator should look at, for errors of the file system.
        hint: &'static str,
    },

    #[error("state file {}: {what}: {source}", path.display())]
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
    pub fn is_storage_failure(&self) -> bool {
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

fn in_use_message(path: &Path, holder: Option<u32>) -> String {
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
pub fn same_state_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Wraps a rusqlite error with the file and what was being done.
fn sql_err<'a>(
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
fn storage_hint(error: &rusqlite::Error) -> &'static str {
    use rusqlite::ErrorCode;
    match error.sqlite_error_code() {
        Some(ErrorCode::SystemIoFailure) => {
            " (is the file system of the state file full, read-only or failing?)"
        }
        Some(ErrorCode::ReadOnly) => " (is the file system of the state file read-only?)",
        _ => "",
    }
}

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/// Everything one cycle decided, written in one transaction by [`StateStore::record_cycle`].
#[derive(Debug, Clone)]
pub struct CycleRecord {
    pub started_at: DateTime<Utc>,
    /// Package states to upsert.
    pub packages: Vec<(PackageId, PackageState)>,
    /// Poll health to upsert, per account/project.
    pub health: Vec<(Scope, PollHealth)>,
    /// Decisions to insert; an id already recorded is left as it was.
    pub alerts: Vec<Alert>,
    /// Outbox rows to create, pending and due at `started_at`.
    pub deliveries: Vec<NewDelivery>,
}

/// A cycle being recorded in batches (see [`StateStore::begin_cycle`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CycleId(i64);

/// One batch of a cycle's results, written in one transaction by
/// [`StateStore::record_batch_with`]; every alert is queued for its `receivers`.
#[derive(Debug, Clone, Default)]
pub struct CycleBatch {
    pub packages: Vec<(PackageId, PackageState)>,
    pub health: Vec<(Scope, PollHealth)>,
    pub alerts: Vec<Alert>,
}

/// One message to one receiver, made of alerts (by id) recorded in the same cycle or before;
/// they go out most urgent first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub receiver: String,
    pub alert_ids: Vec<String>,
}

/// The id of an outbox row; stable for the life of the state file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeliveryId(pub i64);

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not delivered yet; retried until it succeeds, fails permanently or is abandoned.
    Pending,
    Delivered,
    /// Permanently refused by the receiver (e.g. HTTP 4xx); not retried.
    Failed,
    /// Given up on (too old).
    Abandoned,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Abandoned => "abandoned",
        }
    }

    fn parse(s: &str) -> Option<DeliveryStatus> {
        match s {
            "pending" => Some(DeliveryStatus::Pending),
            "delivered" => Some(DeliveryStatus::Delivered),
            "failed" => Some(DeliveryStatus::Failed),
            "abandoned" => Some(DeliveryStatus::Abandoned),
            _ => None,
        }
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One outbox row with its alerts loaded in their original order.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: DeliveryId,
    pub receiver: String,
    pub alerts: Vec<Alert>,
    pub status: DeliveryStatus,
    /// Attempts made so far, each counted once (see [`StateStore::record_attempt_started`]).
    pub attempts: u32,
    /// An attempt was started and its outcome never recorded: the process died mid-send, so the
    /// receiver may or may not have the message.
    pub attempt_in_flight: bool,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// When the delivery left `pending` (delivered, failed or abandoned).
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxCounts {
    pub pending: u64,
    pub delivered: u64,
    pub failed: u64,
    pub abandoned: u64,
}

/// A package as `renewd status` shows it: its state and the last decision about it.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageRecord {
    pub id: PackageId,
    pub state: PackageState,
    pub last_alert: Option<Alert>,
}

/// One recorded cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CycleInfo {
    pub started_at: DateTime<Utc>,
    /// `None` until [`StateStore::finish_cycle`] is called (or when the process died first).
    pub finished_at: Option<DateTime<Utc>>,
    pub ok: Option<bool>,
    /// Counts of what the cycle recorded: package states, new decisions, deliveries.
    pub packages: u32,
    pub alerts: u32,
    pub deliveries: u32,
    pub summary: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------------------------

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

    // -----------------------------------------------------------------------------------------
    // Writes
    // -----------------------------------------------------------------------------------------

    /// Writes everything one cycle decided in one transaction: package states, poll health,
    /// decisions and their pending deliveries. Call it before delivering anything; on error
    /// nothing of the cycle is stored. Returns the ids of the new deliveries, in order.
    ///
    /// Each [`NewDelivery`] queues its alerts for its receiver; a receiver that was queued a
    /// decision in an earlier cycle (same id) does not get it again.
    pub fn record_cycle(&mut self, record: &CycleRecord) -> Result<Vec<DeliveryId>, StateError> {
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(path, "starting the cycle transaction"))?;
        let cycle = insert_cycle(&tx, path, record.started_at)?;
        for delivery in &record.deliveries {
            if delivery.alert_ids.is_empty() {
                // Returning drops the transaction: the whole cycle is rolled back.
                return Err(StateError::EmptyDelivery {
                    path: path.clone(),
                    receiver: delivery.receiver.clone(),
                });
            }
        }
        let queue = record.deliveries.iter().flat_map(|d| {
            d.alert_ids
                .iter()
                .map(move |id| (d.receiver.as_str(), id.as_str()))
        });
        write_batch(
            &tx,
            path,
            cycle,
            &record.packages,
            &record.health,
            &record.alerts,
            queue,
        )?;
        let ids = build_outbox(&tx, path, cycle, Order::Queued)?;
        tx.commit().map_err(sql_err(path, "committing the cycle"))?;
        Ok(ids)
    }

    /// Starts recording a cycle that is written in batches as its polls come in (see
    /// [`StateStore::record_batch_with`]), so that its memory does not grow with the number of
    /// projects. First builds the outbox of any earlier cycle that was cut short after some of
    /// its batches were written: what they decided is delivered, not lost.
    pub fn begin_cycle(&mut self, started_at: DateTime<Utc>) -> Result<CycleId, StateError> {
        self.repair_unbuilt_outboxes()?;
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(path, "starting the cycle"))?;
        let cycle = insert_cycle(&tx, path, started_at)?;
        tx.commit().map_err(sql_err(path, "recording the cycle"))?;
        Ok(cycle)
    }

    /// Decides and writes one batch of a cycle begun with [`StateStore::begin_cycle`], in one
    /// transaction: `decide` reads the state its scopes had before ([`BatchReads`]) and
    /// returns the batch — package states, poll health, the decisions — which is written with
    /// each decision queued for its receivers (those an earlier cycle did not queue it for).
    /// Nothing is sent before [`StateStore::finish_recording`] turned the queue into
    /// deliveries. With no `cycle` (a dry run) the batch is decided and returned, not written.
    pub fn record_batch_with<E: From<StateError>>(
        &mut self,
        cycle: Option<CycleId>,
        decide: impl FnOnce(&BatchReads<'_>) -> Result<CycleBatch, E>,
    ) -> Result<CycleBatch, E> {
        let path = &self.path;
        // IMMEDIATE: what was read is still true when the batch is written.
        let behavior = match cycle {
            Some(_) => TransactionBehavior::Immediate,
            None => TransactionBehavior::Deferred,
        };
        let tx = self
            .conn
            .transaction_with_behavior(behavior)
            .map_err(sql_err(path, "starting a cycle batch"))?;
        let batch = decide(&BatchReads { conn: &tx, path })?;
        if let Some(cycle) = cycle {
            let queue = batch.alerts.iter().flat_map(|alert| {
                alert
                    .receivers
                    .iter()
                    .map(move |r| (r.as_str(), alert.id.as_str()))
            });
            write_batch(
                &tx,
                path,
                cycle,
                &batch.packages,
                &batch.health,
                &batch.alerts,
                queue,
            )?;
        }
        tx.commit()
            .map_err(sql_err(path, "committing a cycle batch"))?;
        Ok(batch)
    }

    /// Ends the recording of a cycle: its queued decisions become pending deliveries, one
    /// digest per receiver, most urgent first. Returns their ids.
    pub fn finish_recording(&mut self, cycle: CycleId) -> Result<Vec<DeliveryId>, StateError> {
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(path, "starting the outbox"))?;
        let ids = build_outbox(&tx, path, cycle, Order::Urgency)?;
        tx.commit()
            .map_err(sql_err(path, "committing the outbox"))?;
        Ok(ids)
    }

    /// Builds the outbox of every cycle whose recording was cut short (a crash, a full disk)
    /// after some of its batches were written.
    fn repair_unbuilt_outboxes(&mut self) -> Result<(), StateError> {
        let path = &self.path;
        let unbuilt: Vec<i64> = {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT id FROM cycles WHERE outbox_built = 0 ORDER BY id")
                .map_err(sql_err(path, "preparing the unfinished cycle query"))?;
            let ids = stmt
                .query_map([], |row| row.get(0))
                .map_err(sql_err(path, "finding unfinished cycles"))?
                .collect::<Result<_, _>>()
                .map_err(sql_err(path, "finding unfinished cycles"))?;
            ids
        };
        for id in unbuilt {
            let deliveries = self.finish_recording(CycleId(id))?;
            tracing::warn!(
                event = "state.cycle_repaired",
                path = %self.path.display(),
                cycle_id = id,
                deliveries = deliveries.len(),
                "a cycle cut short after recording some decisions: their deliveries are queued now"
            );
        }
        Ok(())
    }

    /// Records how the cycle that started at `started_at` ended (for `renewd status`).
    pub fn finish_cycle(
        &mut self,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
        ok: bool,
        summary: &str,
    ) -> Result<(), StateError> {
        let path = &self.path;
        let changed = self
            .conn
            .execute(
                "UPDATE cycles SET finished_at = ?2, ok = ?3, summary = ?4
                 WHERE id = (SELECT max(id) FROM cycles WHERE started_at = ?1)",
                params![ts(started_at), ts(finished_at), ok, summary],
            )
            .map_err(sql_err(path, "finishing the cycle"))?;
        if changed == 0 {
            return Err(StateError::UnknownCycle {
                path: path.clone(),
                started_at,
            });
        }
        Ok(())
    }

    /// Notes that an attempt to send delivery `id` starts now, and counts it — before sending,
    /// so that an attempt cut short by a crash is still counted and visible as in flight.
    pub fn record_attempt_started(
        &mut self,
        id: DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<(), StateError> {
        self.update_pending(
            id,
            "attempted",
            "UPDATE deliveries SET attempts = attempts + 1, attempt_in_flight = 1,
                 last_attempt_at = ?2
             WHERE id = ?1 AND status = 'pending'",
            params![id.0, ts(now)],
        )
    }

    /// Marks delivery `id` delivered. The only way a delivery becomes delivered.
    pub fn mark_delivered(&mut self, id: DeliveryId, now: DateTime<Utc>) -> Result<(), StateError> {
        self.update_pending(
            id,
            "delivered",
            "UPDATE deliveries SET status = 'delivered',
                 attempts = attempts + 1 - attempt_in_flight, attempt_in_flight = 0,
                 delivered_at = ?2, finished_at = ?2
             WHERE id = ?1 AND status = 'pending'",
            params![id.0, ts(now)],
        )
    }

    /// Records a failed attempt to be retried at `next_attempt_at`; the delivery stays pending.
    pub fn mark_retry(
        &mut self,
        id: DeliveryId,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<(), StateError> {
        self.update_pending(
            id,
            "retried",
            "UPDATE deliveries SET attempts = attempts + 1 - attempt_in_flight,
                 attempt_in_flight = 0, last_error = ?2, next_attempt_at = ?3
             WHERE id = ?1 AND status = 'pending'",
            params![id.0, error, ts(next_attempt_at)],
        )
    }

    /// Records a permanent failure (the receiver refused the message, e.g. HTTP 4xx).
    pub fn mark_failed(
        &mut self,
        id: DeliveryId,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StateError> {
        self.update_pending(
            id,
            "failed",
            "UPDATE deliveries SET status = 'failed',
                 attempts = attempts + 1 - attempt_in_flight, attempt_in_flight = 0,
                 last_error = ?2, finished_at = ?3
             WHERE id = ?1 AND status = 'pending'",
            params![id.0, error, ts(now)],
        )
    }

    /// Gives up on delivery `id` (too old to be worth sending). Not an attempt: nothing is sent.
    pub fn mark_abandoned(
        &mut self,
        id: DeliveryId,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StateError> {
        self.update_pending(
            id,
            "abandoned",
            "UPDATE deliveries SET status = 'abandoned', attempt_in_flight = 0,
                 last_error = ?2, finished_at = ?3
             WHERE id = ?1 AND status = 'pending'",
            params![id.0, error, ts(now)],
        )
    }

    /// Runs one `UPDATE … WHERE id = ?1 AND status = 'pending'` in a transaction; a delivery
    /// that is unknown or no longer pending is reported rather than silently left alone.
    ///
    /// Attempt counting: `record_attempt_started` counts an attempt and sets
    /// `attempt_in_flight`; an outcome (delivered, retry, failed) counts one only when no
    /// attempt was in flight. So every attempt counts once, announced or not.
    fn update_pending(
        &mut self,
        id: DeliveryId,
        wanted: &'static str,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<(), StateError> {
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(path, "starting a delivery update"))?;
        let changed = tx
            .execute(sql, params)
            .map_err(sql_err(path, "updating a delivery"))?;
        if changed == 0 {
            let status: Option<String> = tx
                .query_row(
                    "SELECT status FROM deliveries WHERE id = ?1",
                    params![id.0],
                    |row| row.get(0),
                )
                .optional()
                .map_err(sql_err(path, "looking up a delivery"))?;
            return Err(match status {
                None => StateError::UnknownDelivery {
                    path: path.clone(),
                    id,
                },
                Some(status) => StateError::DeliveryNotPending {
                    path: path.clone(),
                    id,
                    status: parse_status(path, &status)?,
                    wanted,
                },
            });
        }
        tx.commit()
            .map_err(sql_err(path, "committing a delivery update"))
    }

    // -----------------------------------------------------------------------------------------
    // Reads
    // -----------------------------------------------------------------------------------------

    /// Package states of one account/project, ordered by package key and resource id.
    pub fn package_states(
        &self,
        scope: &Scope,
    ) -> Result<Vec<(PackageId, PackageState)>, StateError> {
        read_package_states(&self.conn, &self.path, scope)
    }

    /// Every package with the last decision about it, ordered by account, project, key.
    pub fn all_packages(&self) -> Result<Vec<PackageRecord>, StateError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT p.account, p.project_id, p.package_key, p.resource_id, p.state_json,
                     d.alert_json, d.receivers_json
                 FROM packages p
                 LEFT JOIN decisions d ON d.seq = (
                     SELECT max(seq) FROM decisions
                     WHERE account = p.account AND project_id = p.project_id
                       AND package_key = p.package_key AND resource_id = p.resource_id)
                 ORDER BY p.account, p.project_id, p.package_key, p.resource_id",
            )
            .map_err(sql_err(path, "preparing the package query"))?;
        type Row = (PackageId, String, Option<String>, Option<String>);
        let rows: Vec<Row> = stmt
            .query_map([], |row| {
                Ok((
                    package_id_from_row(row)?,
                    row.get(4)?,
                    row.get(5)?,
                    row.get(6)?,
                ))
            })
            .map_err(sql_err(path, "reading packages"))?
            .collect::<Result<_, _>>()
            .map_err(sql_err(path, "reading packages"))?;
        rows.into_iter()
            .map(|(id, state_json, alert_json, receivers_json)| {
                let state = from_json(path, &state_json, || {
                    format!("decoding the state of {}", label(&id))
                })?;
                let last_alert = match (alert_json, receivers_json) {
                    (Some(a), Some(r)) => Some(decode_alert(path, &a, &r)?),
                    _ => None,
                };
                Ok(PackageRecord {
                    id,
                    state,
                    last_alert,
                })
            })
            .collect()
    }

    /// Poll health of one account/project, if it was ever polled.
    pub fn poll_health(&self, scope: &Scope) -> Result<Option<PollHealth>, StateError> {
        read_poll_health(&self.conn, &self.path, scope)
    }

    /// Poll health of every account/project, ordered by account and project.
    pub fn all_health(&self) -> Result<Vec<(Scope, PollHealth)>, StateError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT account, project_id, health_json FROM poll_health
                 ORDER BY account, project_id",
            )
            .map_err(sql_err(path, "preparing the poll health query"))?;
        let rows: Vec<(Scope, String)> = stmt
            .query_map([], |row| Ok((scope_from_row(row, 0, 1)?, row.get(2)?)))
            .map_err(sql_err(path, "reading poll health"))?
            .collect::<Result<_, _>>()
            .map_err(sql_err(path, "reading poll health"))?;
        rows.into_iter()
            .map(|(scope, json)| {
                let health = from_json(path, &json, || {
                    format!("decoding the poll health of {scope}")
                })?;
                Ok((scope, health))
            })
            .collect()
    }

    /// The last `limit` decisions, newest first.
    pub fn recent_alerts(&self, limit: usize) -> Result<Vec<Alert>, StateError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT alert_json, receivers_json FROM decisions ORDER BY seq DESC LIMIT ?1",
            )
            .map_err(sql_err(path, "preparing the decision query"))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<(String, String)> = stmt
            .query_map(params![limit], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(sql_err(path, "reading decisions"))?
            .collect::<Result<_, _>>()
            .map_err(sql_err(path, "reading decisions"))?;
        rows.iter().map(|(a, r)| decode_alert(path, a, r)).collect()
    }

    /// The decision with this id, if recorded.
    pub fn alert(&self, id: &str) -> Result<Option<Alert>, StateError> {
        let path = &self.path;
        let row: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT alert_json, receivers_json FROM decisions WHERE id = ?1",
                params![id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(sql_err(path, "reading a decision"))?;
        row.map(|(a, r)| decode_alert(path, &a, &r)).transpose()
    }

    /// Pending deliveries whose next attempt is due at `now`, oldest first.
    pub fn due_deliveries(&self, now: DateTime<Utc>) -> Result<Vec<Delivery>, StateError> {
        self.load_deliveries(
            "WHERE status = 'pending' AND next_attempt_at <= ?1 ORDER BY created_at, id",
            params![ts(now)],
        )
    }

    /// Every pending delivery, due or not, oldest first.
    pub fn pending_deliveries(&self) -> Result<Vec<Delivery>, StateError> {
        self.load_deliveries(
            "WHERE status = 'pending' ORDER BY created_at, id",
            params![],
        )
    }

    /// One delivery in any status.
    pub fn delivery(&self, id: DeliveryId) -> Result<Option<Delivery>, StateError> {
        Ok(self
            .load_deliveries("WHERE id = ?1", params![id.0])?
            .into_iter()
            .next())
    }

    pub fn outbox_counts(&self) -> Result<OutboxCounts, StateError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT status, count(*) FROM deliveries GROUP BY status")
            .map_err(sql_err(path, "preparing the outbox count"))?;
        let rows: Vec<(String, i64)> = stmt
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(sql_err(path, "counting the outbox"))?
            .collect::<Result<_, _>>()
            .map_err(sql_err(path, "counting the outbox"))?;
        let mut counts = OutboxCounts::default();
        for (status, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            match parse_status(path, &status)? {
                DeliveryStatus::Pending => counts.pending = n,
                DeliveryStatus::Delivered => counts.delivered = n,
                DeliveryStatus::Failed => counts.failed = n,
                DeliveryStatus::Abandoned => counts.abandoned = n,
            }
        }
        Ok(counts)
    }

    /// The last `limit` cycles, newest first.
    pub fn recent_cycles(&self, limit: usize) -> Result<Vec<CycleInfo>, StateError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT started_at, finished_at, ok, packages, alerts, deliveries, summary
                 FROM cycles ORDER BY id DESC LIMIT ?1",
            )
            .map_err(sql_err(path, "preparing the cycle query"))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        type Row = (
            String,
            Option<String>,
            Option<bool>,
            u32,
            u32,
            u32,
            Option<String>,
        );
        let rows: Vec<Row> = stmt
            .query_map(params![limit], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                    row.get(6)?,
                ))
            })
            .map_err(sql_err(path, "reading cycles"))?
            .collect::<Result<_, _>>()
            .map_err(sql_err(path, "reading cycles"))?;
        rows.into_iter()
            .map(
                |(started, finished, ok, packages, alerts, deliveries, summary)| {
                    Ok(CycleInfo {
                        started_at: parse_ts(path, "cycles.started_at", &started)?,
                        finished_at: finished
                            .map(|f| parse_ts(path, "cycles.finished_at", &f))
                            .transpose()?,
                        ok,
                        packages,
                        alerts,
                        deliveries,
                        summary,
                    })
                },
            )
            .collect()
    }

    /// Loads deliveries selected by `filter` (a WHERE/ORDER BY tail), each with its alerts.
    fn load_deliveries(
        &self,
        filter: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<Delivery>, StateError> {
        let path = &self.path;
        let sql = format!(
            "SELECT id, receiver, status, attempts, attempt_in_flight, created_at,
                 next_attempt_at, last_attempt_at, last_error, delivered_at, finished_at
             FROM deliveries {filter}"
        );
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(sql_err(path, "preparing the delivery query"))?;
        let rows: Vec<DeliveryRow> = stmt
            .query_map(params, |row| {
                Ok(DeliveryRow {
                    id: row.get(0)?,
                    receiver: row.get(1)?,
                    status: row.get(2)?,
                    attempts: row.get(3)?,
                    attempt_in_flight: row.get(4)?,
                    created_at: row.get(5)?,
                    next_attempt_at: row.get(6)?,
                    last_attempt_at: row.get(7)?,
                    last_error: row.get(8)?,
                    delivered_at: row.get(9)?,
                    finished_at: row.get(10)?,
                })
            })
            .map_err(sql_err(path, "reading deliveries"))?
            .collect::<Result<_, _>>()
            .map_err(sql_err(path, "reading deliveries"))?;

        let mut alerts_of = self
            .conn
            .prepare_cached(
                "SELECT d.alert_json, d.receivers_json
                 FROM delivery_alerts da JOIN decisions d ON d.id = da.alert_id
                 WHERE da.delivery_id = ?1 ORDER BY da.position",
            )
            .map_err(sql_err(path, "preparing the delivery alert query"))?;
        rows.into_iter()
            .map(|row| {
                let encoded: Vec<(String, String)> = alerts_of
                    .query_map(params![row.id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(sql_err(path, "reading a delivery's alerts"))?
                    .collect::<Result<_, _>>()
                    .map_err(sql_err(path, "reading a delivery's alerts"))?;
                let alerts = encoded
                    .iter()
                    .map(|(a, r)| decode_alert(path, a, r))
                    .collect::<Result<Vec<_>, _>>()?;
                let opt_ts =
                    |what: &str, v: Option<String>| v.map(|s| parse_ts(path, what, &s)).transpose();
                Ok(Delivery {
                    id: DeliveryId(row.id),
                    receiver: row.receiver,
                    alerts,
                    status: parse_status(path, &row.status)?,
                    attempts: row.attempts,
                    attempt_in_flight: row.attempt_in_flight,
                    created_at: parse_ts(path, "deliveries.created_at", &row.created_at)?,
                    next_attempt_at: parse_ts(
                        path,
                        "deliveries.next_attempt_at",
                        &row.next_attempt_at,
                    )?,
                    last_attempt_at: opt_ts("deliveries.last_attempt_at", row.last_attempt_at)?,
                    last_error: row.last_error,
                    delivered_at: opt_ts("deliveries.delivered_at", row.delivered_at)?,
                    finished_at: opt_ts("deliveries.finished_at", row.finished_at)?,
                })
            })
            .collect()
    }
}

/// A deliveries row as stored, before its text is parsed.
struct DeliveryRow {
    id: i64,
    receiver: String,
    status: String,
    attempts: u32,
    attempt_in_flight: bool,
    created_at: String,
    next_attempt_at: String,
    last_attempt_at: Option<String>,
    last_error: Option<String>,
    delivered_at: Option<String>,
    finished_at: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Reads shared by the store and a batch's transaction
// ---------------------------------------------------------------------------------------------

/// What the evaluation of a batch reads, inside the batch's transaction.
pub struct BatchReads<'a> {
    conn: &'a Connection,
    path: &'a Path,
}

impl BatchReads<'_> {
    /// See [`StateStore::package_states`].
    pub fn package_states(
        &self,
        scope: &Scope,
    ) -> Result<Vec<(PackageId, PackageState)>, StateError> {
        read_package_states(self.conn, self.path, scope)
    }

    /// See [`StateStore::poll_health`].
    pub fn poll_health(&self, scope: &Scope) -> Result<Option<PollHealth>, StateError> {
        read_poll_health(self.conn, self.path, scope)
    }
}

fn read_package_states(
    conn: &Connection,
    path: &Path,
    scope: &Scope,
) -> Result<Vec<(PackageId, PackageState)>, StateError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT account, project_id, package_key, resource_id, state_json
             FROM packages WHERE account = ?1 AND project_id = ?2
             ORDER BY package_key, resource_id",
        )
        .map_err(sql_err(path, "preparing the package query"))?;
    let rows = stmt
        .query_map(params![scope.account, scope.project_label()], |row| {
            Ok((package_id_from_row(row)?, row.get::<_, String>(4)?))
        })
        .map_err(sql_err(path, "reading package states"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sql_err(path, "reading package states"))?;
    rows.into_iter()
        .map(|(id, json)| {
            let state = from_json(path, &json, || {
                format!("decoding the state of {}", label(&id))
            })?;
            Ok((id, state))
        })
        .collect()
}

fn read_poll_health(
    conn: &Connection,
    path: &Path,
    scope: &Scope,
) -> Result<Option<PollHealth>, StateError> {
    let json: Option<String> = conn
        .prepare_cached(
            "SELECT health_json FROM poll_health WHERE account = ?1 AND project_id = ?2",
        )
        .map_err(sql_err(path, "preparing the poll health query"))?
        .query_row(params![scope.account, scope.project_label()], |row| {
            row.get(0)
        })
        .optional()
        .map_err(sql_err(path, "reading poll health"))?;
    json.map(|j| from_json(path, &j, || format!("decoding the poll health of {scope}")))
        .transpose()
}

// ---------------------------------------------------------------------------------------------
// The steps of recording a cycle, each inside the caller's transaction
// ---------------------------------------------------------------------------------------------

/// Inserts the cycle's row (its outbox not built yet) and prunes old quiet cycles.
fn insert_cycle(
    tx: &Connection,
    path: &Path,
    started_at: DateTime<Utc>,
) -> Result<CycleId, StateError> {
    tx.execute(
        "INSERT INTO cycles (started_at, packages, alerts, deliveries, outbox_built)
         VALUES (?1, 0, 0, 0, 0)",
        params![ts(started_at)],
    )
    .map_err(sql_err(path, "recording the cycle"))?;
    let cycle = CycleId(tx.last_insert_rowid());
    // The history of quiet cycles (nothing decided, nothing to deliver) is kept for
    // QUIET_CYCLE_RETENTION, so a frequent schedule does not grow the file forever. Cycles
    // that decided or queued something stay with their decisions and deliveries.
    let pruned = tx
        .execute(
            "DELETE FROM cycles WHERE started_at < ?1 AND outbox_built = 1
               AND NOT EXISTS (SELECT 1 FROM decisions WHERE decisions.cycle_id = cycles.id)
               AND NOT EXISTS (SELECT 1 FROM deliveries WHERE deliveries.cycle_id = cycles.id)",
            params![ts(started_at - QUIET_CYCLE_RETENTION)],
        )
        .map_err(sql_err(path, "pruning old quiet cycles"))?;
    if pruned > 0 {
        tracing::debug!(event = "state.cycles_pruned", path = %path.display(), pruned, "old quiet cycles forgotten");
    }
    Ok(cycle)
}

/// Upserts package states and poll health, inserts decisions (an id already recorded is left
/// as it was) and queues `(receiver, alert id)` pairs for the cycle's outbox. A receiver that
/// an earlier cycle already queued a decision for is skipped; one added since (a rule added
/// by a reload while a package stays vanished) is queued once and remembered.
fn write_batch<'q>(
    tx: &Connection,
    path: &Path,
    cycle: CycleId,
    packages: &[(PackageId, PackageState)],
    health: &[(Scope, PollHealth)],
    alerts: &[Alert],
    queue: impl Iterator<Item = (&'q str, &'q str)>,
) -> Result<(), StateError> {
    let mut upsert = tx
        .prepare_cached(
            "INSERT INTO packages (account, project_id, package_key, resource_id,
                 remain_days, package_status, vanished, last_seen, state_json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (account, project_id, package_key, resource_id) DO UPDATE SET
                 remain_days = excluded.remain_days,
                 package_status = excluded.package_status,
                 vanished = excluded.vanished,
                 last_seen = excluded.last_seen,
                 state_json = excluded.state_json",
        )
        .map_err(sql_err(path, "preparing the package upsert"))?;
    for (id, state) in packages {
        let json = to_json(path, state, || {
            format!("encoding the state of {}", label(id))
        })?;
        upsert
            .execute(params![
                id.scope.account,
                id.scope.project_label(),
                id.key,
                id.resource_id,
                state.last.remain_days,
                state.last.package_status,
                state.vanished,
                ts(state.last_seen),
                json,
            ])
            .map_err(sql_err(path, "storing a package state"))?;
    }

    let mut upsert = tx
        .prepare_cached(
            "INSERT INTO poll_health (account, project_id, consecutive_failures, health_json)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (account, project_id) DO UPDATE SET
                 consecutive_failures = excluded.consecutive_failures,
                 health_json = excluded.health_json",
        )
        .map_err(sql_err(path, "preparing the poll health upsert"))?;
    for (scope, health) in health {
        let json = to_json(path, health, || {
            format!("encoding the poll health of {scope}")
        })?;
        upsert
            .execute(params![
                scope.account,
                scope.project_label(),
                health.consecutive_failures,
                json
            ])
            .map_err(sql_err(path, "storing poll health"))?;
    }

    let mut insert = tx
        .prepare_cached(
            "INSERT INTO decisions (id, kind, severity, account, project_id, package_key,
                 resource_id, raised_at, cycle_id, alert_json, receivers_json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (id) DO NOTHING",
        )
        .map_err(sql_err(path, "preparing the decision insert"))?;
    let mut new_alerts = 0usize;
    for alert in alerts {
        let json = to_json(path, alert, || format!("encoding alert {}", alert.id))?;
        let receivers = to_json(path, &alert.receivers, || {
            format!("encoding the receivers of alert {}", alert.id)
        })?;
        new_alerts += insert
            .execute(params![
                alert.id,
                alert.kind.as_str(),
                alert.severity.as_str(),
                alert.account,
                alert.project_id.as_deref().unwrap_or(""),
                alert.package,
                alert.resource_id,
                ts(alert.raised_at),
                cycle.0,
                json,
                receivers,
            ])
            .map_err(sql_err(path, "storing a decision"))?;
    }
    tx.execute(
        "UPDATE cycles SET packages = packages + ?2, alerts = alerts + ?3 WHERE id = ?1",
        params![cycle.0, packages.len() as i64, new_alerts as i64],
    )
    .map_err(sql_err(path, "counting the cycle"))?;

    // Decisions of earlier cycles, with the receivers they were queued for then.
    let mut earlier = tx
        .prepare_cached("SELECT cycle_id, receivers_json FROM decisions WHERE id = ?1")
        .map_err(sql_err(path, "preparing the decision lookup"))?;
    let mut enqueue = tx
        .prepare_cached(
            "INSERT INTO cycle_queue (cycle_id, receiver, alert_id) VALUES (?1, ?2, ?3)
             ON CONFLICT (cycle_id, receiver, alert_id) DO NOTHING",
        )
        .map_err(sql_err(path, "preparing the queue insert"))?;
    let mut told_before: HashMap<&str, Vec<String>> = HashMap::new();
    for (receiver, alert_id) in queue {
        let found: Option<(Option<i64>, String)> = earlier
            .query_row(params![alert_id], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()
            .map_err(sql_err(path, "reading a decision"))?;
        let Some((decided_in, receivers_json)) = found else {
            // Returning drops the transaction: the whole batch is rolled back.
            return Err(StateError::UnknownAlert {
                path: path.to_path_buf(),
                receiver: receiver.to_string(),
                alert_id: alert_id.to_string(),
            });
        };
        if decided_in != Some(cycle.0) {
            let told = match told_before.entry(alert_id) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(from_json(path, &receivers_json, || {
                        format!("the receivers of decision {alert_id}")
                    })?)
                }
            };
            if told.iter().any(|r| r == receiver) {
                tracing::debug!(
                    event = "state.delivery_skipped",
                    receiver,
                    alert_id,
                    "this decision was queued for this receiver before"
                );
                continue;
            }
            told.push(receiver.to_string());
            let json = to_json(path, &*told, || {
                format!("encoding the receivers of {alert_id}")
            })?;
            tx.execute(
                "UPDATE decisions SET receivers_json = ?2 WHERE id = ?1",
                params![alert_id, json],
            )
            .map_err(sql_err(path, "remembering a decision's new receivers"))?;
        }
        enqueue
            .execute(params![cycle.0, receiver, alert_id])
            .map_err(sql_err(path, "queuing a decision"))?;
    }
    Ok(())
}

/// The order of the alerts in one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// As they were queued ([`StateStore::record_cycle`]'s explicit deliveries).
    Queued,
    /// Most urgent first (a cycle recorded in batches, which queue in the order polls end).
    Urgency,
}

/// Turns a cycle's queue into pending deliveries (one per receiver, due at the cycle's start),
/// counts the cycle, and marks its outbox built.
fn build_outbox(
    tx: &Connection,
    path: &Path,
    cycle: CycleId,
    order: Order,
) -> Result<Vec<DeliveryId>, StateError> {
    let started_at: String = tx
        .query_row(
            "SELECT started_at FROM cycles WHERE id = ?1",
            params![cycle.0],
            |row| row.get(0),
        )
        .map_err(sql_err(path, "reading the cycle"))?;
    let queued: Vec<(String, String, String, String)> = {
        let mut stmt = tx
            .prepare_cached(
                "SELECT q.receiver, q.alert_id, d.alert_json, d.receivers_json
                 FROM cycle_queue q JOIN decisions d ON d.id = q.alert_id
                 WHERE q.cycle_id = ?1 ORDER BY q.seq",
            )
            .map_err(sql_err(path, "preparing the queue query"))?;
        let rows = stmt
            .query_map(params![cycle.0], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .map_err(sql_err(path, "reading the queue"))?
            .collect::<Result<_, _>>()
            .map_err(sql_err(path, "reading the queue"))?;
        rows
    };
    // Receivers in the order they were first queued something.
    let mut by_receiver: Vec<(String, Vec<Alert>)> = Vec::new();
    for (receiver, _, alert_json, receivers_json) in queued {
        let alert = decode_alert(path, &alert_json, &receivers_json)?;
        match by_receiver.iter_mut().find(|(r, _)| *r == receiver) {
            Some((_, alerts)) => alerts.push(alert),
            None => by_receiver.push((receiver, vec![alert])),
        }
    }
    let mut insert_delivery = tx
        .prepare_cached(
            "INSERT INTO deliveries (receiver, status, created_at, next_attempt_at, cycle_id)
             VALUES (?1, 'pending', ?2, ?2, ?3)",
        )
        .map_err(sql_err(path, "preparing the delivery insert"))?;
    let mut insert_member = tx
        .prepare_cached(
            "INSERT INTO delivery_alerts (delivery_id, position, alert_id) VALUES (?1, ?2, ?3)",
        )
        .map_err(sql_err(path, "preparing the delivery alert insert"))?;
    let mut ids = Vec::with_capacity(by_receiver.len());
    for (receiver, mut alerts) in by_receiver {
        if order == Order::Urgency {
            // Stable: alerts equally urgent keep the order they were queued in.
            alerts.sort_by_key(Alert::urgency_key);
        }
        insert_delivery
            .execute(params![receiver, started_at, cycle.0])
            .map_err(sql_err(path, "storing a delivery"))?;
        let delivery_id = tx.last_insert_rowid();
        for (position, alert) in alerts.iter().enumerate() {
            insert_member
                .execute(params![delivery_id, position as i64, alert.id])
                .map_err(sql_err(path, "storing a delivery's alert"))?;
        }
        ids.push(DeliveryId(delivery_id));
    }
    tx.execute(
        "DELETE FROM cycle_queue WHERE cycle_id = ?1",
        params![cycle.0],
    )
    .map_err(sql_err(path, "clearing the queue"))?;
    let counted = tx
        .execute(
            "UPDATE cycles SET outbox_built = 1, deliveries = ?2 WHERE id = ?1",
            params![cycle.0, ids.len() as i64],
        )
        .map_err(sql_err(path, "counting the cycle"))?;
    if counted == 0 {
        return Err(sql_err(path, "counting the cycle")(
            rusqlite::Error::QueryReturnedNoRows,
        ));
    }
    tracing::debug!(
        event = "state.cycle_recorded",
        path = %path.display(),
        cycle_id = cycle.0,
        deliveries = ids.len(),
        "cycle recorded"
    );
    Ok(ids)
}

// ---------------------------------------------------------------------------------------------
// Opening: file creation and the checks that run before anything is written
// ---------------------------------------------------------------------------------------------

/// Creates the parent directory (0700) and an empty file (0600) when missing. SQLite treats an
/// empty file as a new database and gives its WAL and shared-memory files the same mode.
fn create_if_missing(path: &Path) -> Result<(), StateError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|source| StateError::Io {
                    path: path.to_path_buf(),
                    what: "creating the state directory",
                    source,
                })?;
        }
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StateError::Io {
            path: path.to_path_buf(),
            what: "creating the state file",
            source,
        }),
    }
}

/// One writer per state file. SQLite keeps each transaction consistent, but two processes
/// delivering from one outbox (a `renewd once` beside the running daemon) could both send the
/// same pending message. An exclusive `flock` on `<state file>.lock`, released by the kernel
/// when the process ends however it ends, rules that out; the file holds the holder's pid so
/// the refusal can name it. Readers (`renewd status`) take no lock.
#[derive(Debug)]
struct WriterLock {
    _file: std::fs::File,
}

impl WriterLock {
    fn acquire(state_path: &Path) -> Result<WriterLock, StateError> {
        use std::io::{Seek, Write};
        use std::os::unix::fs::OpenOptionsExt;

        // Next to the real file, so every spelling of its path (symlinks) finds one lock.
        let real_path = std::fs::canonicalize(state_path).map_err(|source| StateError::Io {
            path: state_path.to_path_buf(),
            what: "resolving the path",
            source,
        })?;
        let mut lock_path = real_path.clone().into_os_string();
        lock_path.push(".lock");
        let lock_path = PathBuf::from(lock_path);
        let io_err = |what: &'static str| {
            let path = lock_path.clone();
            move |source| StateError::Io { path, what, source }
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(io_err("opening the lock file"))?;
        // Made by root (a `renewd once` by hand), the lock file must stay usable by the service
        // user that owns the state file, as SQLite does with its -wal and -shm files.
        if let (Ok(lock), Ok(state)) = (file.metadata(), std::fs::metadata(&real_path)) {
            use std::os::unix::fs::MetadataExt;
            if (lock.uid(), lock.gid()) != (state.uid(), state.gid()) {
                // Only root may give a file away; for anyone else this fails, and is moot.
                let _ = std::os::unix::fs::fchown(&file, Some(state.uid()), Some(state.gid()));
            }
        }
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                // Best effort: the pid only makes the message more useful.
                let _ = file.read_to_string(&mut holder);
                return Err(StateError::InUse {
                    path: state_path.to_path_buf(),
                    holder: holder.trim().parse().ok(),
                });
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(io_err("locking the lock file")(source))
            }
        }
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .map_err(io_err("writing the lock file"))?;
        Ok(WriterLock { _file: file })
    }
}

/// Opens the file after checking its header, then its integrity and schema version, without
/// writing anything: a corrupt file or one from a newer renewd is refused untouched. Returns the
/// connection and the schema version found.
fn open_checked(
    path: &Path,
    flags: OpenFlags,
    what: &'static str,
) -> Result<(Connection, u32), StateError> {
    check_header(path)?;
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(sql_err(path, what))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(sql_err(path, "setting the busy timeout"))?;
    let found = check_integrity(&conn, path)?;
    if found > SCHEMA_VERSION {
        return Err(StateError::NewerSchema {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok((conn, found))
}

/// Refuses a non-empty file that does not start with the SQLite magic, before SQLite touches it.
fn check_header(path: &Path) -> Result<(), StateError> {
    let io_err = |source| StateError::Io {
        path: path.to_path_buf(),
        what: "reading the file header",
        source,
    };
    let file = std::fs::File::open(path).map_err(io_err)?;
    let mut header = Vec::with_capacity(SQLITE_MAGIC.len());
    file.take(SQLITE_MAGIC.len() as u64)
        .read_to_end(&mut header)
        .map_err(io_err)?;
    if header.is_empty() || header.as_slice() == SQLITE_MAGIC {
        Ok(())
    } else {
        Err(StateError::Corrupt {
            path: path.to_path_buf(),
            detail: "not a SQLite database (wrong file header)".to_string(),
        })
    }
}

/// Reads the schema version and runs `PRAGMA quick_check`, reporting damage as `Corrupt`.
fn check_integrity(conn: &Connection, path: &Path) -> Result<u32, StateError> {
    let corrupt = |detail: String| StateError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    let classify = |what: &'static str| {
        move |e: rusqlite::Error| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase)
            | Some(rusqlite::ErrorCode::DatabaseCorrupt) => corrupt(format!("{what}: {e}")),
            _ => sql_err(path, what)(e),
        }
    };
    let version = user_version(conn).map_err(classify("reading the schema version"))?;
    let mut stmt = conn
        .prepare("PRAGMA quick_check")
        .map_err(classify("running quick_check"))?;
    let problems: Vec<String> = stmt
        .query_map([], |row| row.get::<_, String>(0))
        .map_err(classify("running quick_check"))?
        .collect::<Result<_, _>>()
        .map_err(classify("running quick_check"))?;
    if problems.len() != 1 || problems[0] != "ok" {
        let mut detail = problems.into_iter().take(3).collect::<Vec<_>>().join("; ");
        if detail.is_empty() {
            detail = "quick_check returned nothing".to_string();
        }
        return Err(corrupt(format!("quick_check: {detail}")));
    }
    Ok(version)
}

fn user_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

// ---------------------------------------------------------------------------------------------
// Encoding helpers
// ---------------------------------------------------------------------------------------------

/// Timestamps are stored as fixed-width RFC 3339 UTC text (nanoseconds, `Z`), so that text
/// order is time order and values round-trip exactly.
fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn parse_ts(path: &Path, what: &str, s: &str) -> Result<DateTime<Utc>, StateError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StateError::Corrupt {
            path: path.to_path_buf(),
            detail: format!("{what}: invalid timestamp {s:?}: {e}"),
        })
}

fn parse_status(path: &Path, s: &str) -> Result<DeliveryStatus, StateError> {
    DeliveryStatus::parse(s).ok_or_else(|| StateError::Corrupt {
        path: path.to_path_buf(),
        detail: format!("unknown delivery status {s:?}"),
    })
}

fn to_json<T: Serialize>(
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

fn from_json<T: for<'de> Deserialize<'de>>(
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
fn decode_alert(path: &Path, alert_json: &str, receivers_json: &str) -> Result<Alert, StateError> {
    let mut alert: Alert = from_json(path, alert_json, || "decoding a decision".to_string())?;
    alert.receivers = from_json(path, receivers_json, || {
        format!("decoding the receivers of alert {}", alert.id)
    })?;
    Ok(alert)
}

fn scope_from_row(
    row: &rusqlite::Row<'_>,
    account: usize,
    project: usize,
) -> rusqlite::Result<Scope> {
    let project_id: String = row.get(project)?;
    Ok(Scope {
        account: row.get(account)?,
        project_id: (!project_id.is_empty()).then_some(project_id),
    })
}

/// Reads a `PackageId` from columns 0..4 (account, project_id, package_key, resource_id).
fn package_id_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<PackageId> {
    Ok(PackageId {
        scope: scope_from_row(row, 0, 1)?,
        key: row.get(2)?,
        resource_id: row.get(3)?,
    })
}

fn label(id: &PackageId) -> String {
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
