//! The outbox rows: what is due, and each delivery's way from pending to its end.

use super::*;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, TransactionBehavior};

impl StateStore {
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
    pub(super) fn update_pending(
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

    /// Loads deliveries selected by `filter` (a WHERE/ORDER BY tail), each with its alerts.
    pub(super) fn load_deliveries(
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
pub(super) struct DeliveryRow {
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
