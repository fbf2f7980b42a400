//! The schema of the state file and its ordered migrations.

/// Ordered schema migrations: entry `i` takes the schema from version `i` to `i + 1`.
/// A released entry is never edited; a schema change is a new entry appended at the end.
pub(super) const MIGRATIONS: &[&str] = &[MIGRATION_V1, MIGRATION_V2, MIGRATION_V3, MIGRATION_V4];

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The first 16 bytes of every SQLite database file.
pub(super) const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Schema v1. Keys and the columns that queries filter on are real columns; the values the rest
/// of renewd owns (`ItemState`, `PollHealth`, `Alert`) are stored as JSON so that adding a
/// serde-defaulted field to them needs no migration. `project_id` is '' for an account polled
/// as a whole (see `Scope::project_label`), so it can be part of a primary key.
pub(super) const MIGRATION_V1: &str = r#"
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
pub(super) const MIGRATION_V2: &str = r#"
CREATE INDEX decisions_by_cycle ON decisions (cycle_id);
CREATE INDEX deliveries_by_cycle ON deliveries (cycle_id);
"#;

/// v3: a cycle is recorded in batches as its polls come in. Each batch queues its decisions
/// for their receivers in `cycle_queue`; the last step turns the queue into deliveries and
/// sets `outbox_built`. A cycle cut short in between is found by `outbox_built = 0` and its
/// outbox built at the next start, so nothing it decided is lost.
pub(super) const MIGRATION_V3: &str = r#"
ALTER TABLE cycles ADD COLUMN outbox_built INTEGER NOT NULL DEFAULT 1;
CREATE TABLE cycle_queue (
    seq             INTEGER PRIMARY KEY,
    cycle_id        INTEGER NOT NULL REFERENCES cycles (id),
    receiver        TEXT NOT NULL,
    alert_id        TEXT NOT NULL REFERENCES decisions (id),
    UNIQUE (cycle_id, receiver, alert_id)
);
"#;

/// v4: silences (`renewd silence`), and the decisions they hold back. A held decision is
/// recorded like any other but queued for no receiver; `held_decisions` says which receivers
/// it is owed to, until the first cycle after its silence ends delivers it (or drops it, when
/// the item was renewed meanwhile).
pub(super) const MIGRATION_V4: &str = r#"
CREATE TABLE silences (
    id              INTEGER PRIMARY KEY,
    matchers_json   TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    ends_at         TEXT NOT NULL,
    reason          TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    expired_at      TEXT
);
CREATE TABLE held_decisions (
    alert_id        TEXT NOT NULL REFERENCES decisions (id),
    receiver        TEXT NOT NULL,
    silence_id      INTEGER NOT NULL REFERENCES silences (id),
    PRIMARY KEY (alert_id, receiver)
) WITHOUT ROWID;
"#;
