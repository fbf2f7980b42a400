//! Silences and the decisions they hold back: storage only. Which decisions a silence matches
//! is the rules' `SilenceSet`; what is released when a silence ends is the outbox's call.

use super::*;
use crate::model::{Alert, Silence, SilenceMatchers};
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

/// A decision held back by a silence that is over: the outbox delivers it or drops it.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldDecision {
    pub receiver: String,
    pub alert: Alert,
    pub silence_id: i64,
    /// A later decision about the same item (or scope) ended or replaced it: a renewal, a
    /// recovered poll, or a later `expiring`/`expired` stage.
    pub superseded: bool,
}

impl StateStore {
    /// Opens the state file to add or expire silences, beside a running daemon if there is
    /// one: with the writer lock when it is free (creating and migrating the file like
    /// [`StateStore::open`]), else without it — a silence is one row of its own table, and
    /// SQLite orders the writes; the daemon reads it at its next cycle.
    pub fn open_for_silences(path: impl AsRef<Path>) -> Result<StateStore, StateError> {
        let path = path.as_ref();
        match StateStore::open(path) {
            Err(StateError::InUse { .. }) => {}
            other => return other,
        }
        let (conn, found) = open_checked(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE,
            "opening for silences",
        )?;
        if found != SCHEMA_VERSION {
            return Err(StateError::NeedsMigration {
                path: path.to_path_buf(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        Ok(StateStore {
            conn,
            path: path.to_path_buf(),
            _writer: None,
        })
    }

    /// Stores a new silence; returns its id.
    pub fn add_silence(
        &mut self,
        matchers: &SilenceMatchers,
        created_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        reason: &str,
        created_by: &str,
    ) -> Result<i64, StateError> {
        let path = &self.path;
        let json = to_json(path, matchers, || "encoding a silence".to_string())?;
        self.conn
            .execute(
                "INSERT INTO silences (matchers_json, created_at, ends_at, reason, created_by)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![json, ts(created_at), ts(ends_at), reason, created_by],
            )
            .map_err(sql_err(path, "storing a silence"))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Ends a silence at `now`. Returns it as it was, or `None` when there is no such id.
    pub fn expire_silence(
        &mut self,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<Silence>, StateError> {
        let Some(silence) = self.silence(id)? else {
            return Ok(None);
        };
        if silence.in_force(now) {
            self.conn
                .execute(
                    "UPDATE silences SET expired_at = ?2 WHERE id = ?1",
                    params![id, ts(now)],
                )
                .map_err(sql_err(&self.path, "expiring a silence"))?;
        }
        Ok(Some(silence))
    }

    pub fn silence(&self, id: i64) -> Result<Option<Silence>, StateError> {
        let path = &self.path;
        let row = self
            .conn
            .query_row(
                "SELECT id, matchers_json, created_at, ends_at, reason, created_by, expired_at
                 FROM silences WHERE id = ?1",
                params![id],
                raw_silence,
            )
            .optional()
            .map_err(sql_err(path, "reading a silence"))?;
        row.map(|raw| decode_silence(path, raw)).transpose()
    }

    /// Every silence that ends at or after `since` (all of them with `DateTime::MIN_UTC`),
    /// oldest first.
    pub fn silences(&self, since: DateTime<Utc>) -> Result<Vec<Silence>, StateError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, matchers_json, created_at, ends_at, reason, created_by, expired_at
                 FROM silences WHERE coalesce(min(expired_at, ends_at), ends_at) >= ?1
                 ORDER BY id",
            )
            .map_err(sql_err(path, "preparing the silence query"))?;
        let rows: Vec<RawSilence> = stmt
            .query_map(params![ts(since)], raw_silence)
            .map_err(sql_err(path, "reading silences"))?
            .collect::<Result<_, _>>()
            .map_err(sql_err(path, "reading silences"))?;
        rows.into_iter()
            .map(|raw| decode_silence(path, raw))
            .collect()
    }

    /// Decisions held back by a silence that is no longer in force at `now`, in the order
    /// they were decided.
    pub fn held_after_silence(&self, now: DateTime<Utc>) -> Result<Vec<HeldDecision>, StateError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT h.receiver, h.silence_id, d.alert_json, d.receivers_json,
                     EXISTS (SELECT 1 FROM decisions l
                         WHERE l.seq > d.seq AND l.account = d.account
                           AND l.project_id = d.project_id
                           AND l.package_key IS d.package_key
                           AND l.resource_id IS d.resource_id
                           AND (
                             -- A renewal ends an item's alerts, whoever it was told to.
                             (d.kind IN ('expiring', 'expired', 'auto_renew_failed')
                              AND l.kind = 'renewed')
                             -- A later stage replaces an earlier one for the receiver it
                             -- reaches (another rule's stage is no news to this one).
                             OR (d.kind IN ('expiring', 'expired', 'auto_renew_failed')
                                 AND l.kind IN ('expiring', 'expired', 'auto_renew_failed')
                                 AND EXISTS (SELECT 1 FROM json_each(l.receivers_json)
                                             WHERE value = h.receiver))
                             -- A recovered poll ends its failure, and nothing else.
                             OR (d.kind = 'poll_failed' AND l.kind = 'poll_recovered')))
                 FROM held_decisions h
                 JOIN decisions d ON d.id = h.alert_id
                 JOIN silences s ON s.id = h.silence_id
                 WHERE s.ends_at <= ?1 OR (s.expired_at IS NOT NULL AND s.expired_at <= ?1)
                 ORDER BY d.seq, h.receiver",
            )
            .map_err(sql_err(path, "preparing the held decision query"))?;
        type Row = (String, i64, String, String, bool);
        let rows: Vec<Row> = stmt
            .query_map(params![ts(now)], |row| Row::try_from(row))
            .map_err(sql_err(path, "reading held decisions"))?
            .collect::<Result<_, _>>()
            .map_err(sql_err(path, "reading held decisions"))?;
        rows.into_iter()
            .map(
                |(receiver, silence_id, alert_json, receivers_json, superseded)| {
                    Ok(HeldDecision {
                        receiver,
                        alert: decode_alert(path, &alert_json, &receivers_json)?,
                        silence_id,
                        superseded,
                    })
                },
            )
            .collect()
    }

    /// The silence each decision is held back by, for decisions still held.
    pub fn held_by(&self) -> Result<Vec<(String, i64)>, StateError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT DISTINCT alert_id, silence_id FROM held_decisions")
            .map_err(sql_err(path, "preparing the held decision query"))?;
        let rows = stmt
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(sql_err(path, "reading held decisions"))?
            .collect::<Result<_, _>>()
            .map_err(sql_err(path, "reading held decisions"))?;
        Ok(rows)
    }
}

impl QueueLedger<'_> {
    /// Holds a decision back for `receiver` while silence `silence_id` is in force.
    pub fn hold(&self, receiver: &str, alert_id: &str, silence_id: i64) -> Result<(), StateError> {
        self.tx
            .prepare_cached(
                "INSERT INTO held_decisions (alert_id, receiver, silence_id) VALUES (?1, ?2, ?3)
                 ON CONFLICT (alert_id, receiver) DO UPDATE SET silence_id = excluded.silence_id",
            )
            .map_err(sql_err(self.path, "preparing the hold"))?
            .execute(params![alert_id, receiver, silence_id])
            .map_err(sql_err(self.path, "holding a decision back"))?;
        Ok(())
    }

    /// Forgets that a decision is held back for `receiver` (it was delivered or dropped).
    pub fn unhold(&self, receiver: &str, alert_id: &str) -> Result<(), StateError> {
        self.tx
            .prepare_cached("DELETE FROM held_decisions WHERE alert_id = ?1 AND receiver = ?2")
            .map_err(sql_err(self.path, "preparing the release"))?
            .execute(params![alert_id, receiver])
            .map_err(sql_err(self.path, "releasing a held decision"))?;
        Ok(())
    }
}

type RawSilence = (i64, String, String, String, String, String, Option<String>);

fn raw_silence(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawSilence> {
    RawSilence::try_from(row)
}

fn decode_silence(path: &Path, raw: RawSilence) -> Result<Silence, StateError> {
    let (id, matchers_json, created_at, ends_at, reason, created_by, expired_at) = raw;
    Ok(Silence {
        id,
        matchers: from_json(path, &matchers_json, || format!("silence {id}"))?,
        created_at: parse_ts(path, "silence created_at", &created_at)?,
        ends_at: parse_ts(path, "silence ends_at", &ends_at)?,
        reason,
        created_by,
        expired_at: expired_at
            .map(|t| parse_ts(path, "silence expired_at", &t))
            .transpose()?,
    })
}
