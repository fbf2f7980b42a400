//! Recording a cycle: in one transaction, or in batches as its polls come in, with the
//! outbox built at the end (or at the next start, for a cycle cut short).

use super::*;
use crate::model::{Alert, ItemId, Scope};
use crate::rules::{ItemState, PollHealth};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;

impl StateStore {
    /// Writes everything one cycle decided in one transaction: package states, poll health,
    /// decisions and their pending deliveries. Call it before delivering anything; on error
    /// nothing of the cycle is stored. Returns the ids of the new deliveries, in order.
    ///
    /// Each [`NewDelivery`] offers its alerts for its receiver to `policy`, which decides what
    /// is queued (in production, `notify::outbox::tell_once`: a receiver that was queued a
    /// decision in an earlier cycle, same id, does not get it again).
    pub fn record_cycle(
        &mut self,
        record: &CycleRecord,
        policy: QueuePolicy,
    ) -> Result<Vec<DeliveryId>, StateError> {
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
        let queue = record
            .deliveries
            .iter()
            .flat_map(|d| {
                d.alert_ids.iter().map(move |id| Offer {
                    receiver: &d.receiver,
                    alert_id: id,
                    silenced_by: None,
                })
            })
            .collect();
        write_batch(
            &tx,
            path,
            cycle,
            &record.packages,
            &record.health,
            &record.alerts,
            &[],
            queue,
            policy,
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
    /// returns the batch — item states, poll health, the decisions — which is written with
    /// each decision offered to `policy` for its receivers (in production,
    /// `notify::outbox::tell_once`: those an earlier cycle did not queue it for).
    /// Nothing is sent before [`StateStore::finish_recording`] turned the queue into
    /// deliveries. With no `cycle` (a dry run) the batch is decided and returned, not written.
    pub fn record_batch_with<E: From<StateError>>(
        &mut self,
        cycle: Option<CycleId>,
        policy: QueuePolicy,
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
            let queue = batch
                .alerts
                .iter()
                .flat_map(|alert| {
                    let silenced_by = batch.silenced.get(&alert.id).copied();
                    alert.receivers.iter().map(move |r| Offer {
                        receiver: r,
                        alert_id: &alert.id,
                        silenced_by,
                    })
                })
                .collect();
            write_batch(
                &tx,
                path,
                cycle,
                &batch.packages,
                &batch.health,
                &batch.alerts,
                &batch.forgotten,
                queue,
                policy,
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
    pub(super) fn repair_unbuilt_outboxes(&mut self) -> Result<(), StateError> {
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
}

/// Inserts the cycle's row (its outbox not built yet) and prunes old quiet cycles.
pub(super) fn insert_cycle(
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

/// Upserts item states and poll health, inserts decisions (an id already recorded is left as
/// it was) and hands the batch's `(receiver, alert id)` pairs to `policy`, which queues them
/// for the cycle's outbox through a [`QueueLedger`].
#[allow(clippy::too_many_arguments)]
pub(super) fn write_batch(
    tx: &Connection,
    path: &Path,
    cycle: CycleId,
    packages: &[(ItemId, ItemState)],
    health: &[(Scope, PollHealth)],
    alerts: &[Alert],
    forgotten: &[Scope],
    queue: Vec<Offer<'_>>,
    policy: QueuePolicy,
) -> Result<(), StateError> {
    // A scope no longer polled: its items are kept, set aside as no longer seen (out of the
    // metrics, never reported vanished), so that a project listed again later goes on where
    // it stood (its renewal epoch and what was told) instead of starting over and telling
    // again; its poll health goes, so that it is no longer a scope the account is known for.
    for scope in forgotten {
        tx.prepare_cached(
            "UPDATE packages SET vanished = 1,
                 state_json = json_set(state_json, '$.vanished', json('true'))
             WHERE account = ?1 AND project_id = ?2",
        )
        .map_err(sql_err(path, "preparing to set a scope aside"))?
        .execute(params![scope.account, scope.key()])
        .map_err(sql_err(path, "setting a scope aside"))?;
        tx.prepare_cached("DELETE FROM poll_health WHERE account = ?1 AND project_id = ?2")
            .map_err(sql_err(path, "preparing to forget a scope"))?
            .execute(params![scope.account, scope.key()])
            .map_err(sql_err(path, "forgetting a scope"))?;
    }
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
                id.scope.key(),
                id.key,
                id.resource_id,
                state.last.remain_days,
                state.last.status_code(),
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
                scope.key(),
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
                alert.scope().key(),
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

    policy(&QueueLedger { tx, path, cycle }, &queue)
}

/// What the outbox's policy of who is told what may ask and change while a cycle's decisions
/// are queued, inside the transaction that records them. Storage only: which pairs are
/// queued is [`QueuePolicy`]'s call.
pub struct QueueLedger<'a> {
    pub(super) tx: &'a Connection,
    pub(super) path: &'a Path,
    pub(super) cycle: CycleId,
}

/// One decision offered for one receiver when a batch is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offer<'a> {
    pub receiver: &'a str,
    pub alert_id: &'a str,
    /// The silence that holds the decision back, when one does.
    pub silenced_by: Option<i64>,
}

/// Decides which offers (receiver, decision, silence) of a batch become queued in the cycle's
/// outbox, through the [`QueueLedger`]; `crate::notify::outbox::tell_once` in production.
pub type QueuePolicy = fn(&QueueLedger<'_>, &[Offer<'_>]) -> Result<(), StateError>;

impl StateStore {
    /// Runs `f` with the [`QueueLedger`] of a cycle being recorded, in one transaction: the
    /// outbox queuing decisions outside a batch (those a silence held back, once it ended).
    pub fn with_queue_ledger<T>(
        &mut self,
        cycle: CycleId,
        f: impl FnOnce(&QueueLedger<'_>) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(path, "starting to queue"))?;
        let value = f(&QueueLedger {
            tx: &tx,
            path,
            cycle,
        })?;
        tx.commit().map_err(sql_err(path, "committing the queue"))?;
        Ok(value)
    }
}

impl QueueLedger<'_> {
    /// The receivers a decision recorded by an earlier cycle was queued for; `None` when this
    /// cycle decided it. A decision the state does not hold is an error (and rolls the whole
    /// batch back).
    pub fn earlier_receivers(
        &self,
        receiver: &str,
        alert_id: &str,
    ) -> Result<Option<Vec<String>>, StateError> {
        let path = self.path;
        let found: Option<(Option<i64>, String)> = self
            .tx
            .prepare_cached("SELECT cycle_id, receivers_json FROM decisions WHERE id = ?1")
            .map_err(sql_err(path, "preparing the decision lookup"))?
            .query_row(params![alert_id], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()
            .map_err(sql_err(path, "reading a decision"))?;
        let Some((decided_in, receivers_json)) = found else {
            return Err(StateError::UnknownAlert {
                path: path.to_path_buf(),
                receiver: receiver.to_string(),
                alert_id: alert_id.to_string(),
            });
        };
        if decided_in == Some(self.cycle.0) {
            return Ok(None);
        }
        from_json(path, &receivers_json, || {
            format!("the receivers of decision {alert_id}")
        })
        .map(Some)
    }

    /// Stores the receivers a decision has now been queued for.
    pub fn set_receivers(&self, alert_id: &str, receivers: &[String]) -> Result<(), StateError> {
        let path = self.path;
        let json = to_json(path, &receivers, || {
            format!("encoding the receivers of {alert_id}")
        })?;
        self.tx
            .execute(
                "UPDATE decisions SET receivers_json = ?2 WHERE id = ?1",
                params![alert_id, json],
            )
            .map_err(sql_err(path, "remembering a decision's new receivers"))?;
        Ok(())
    }

    /// Queues a decision for a receiver in this cycle's outbox (once, however often asked).
    pub fn enqueue(&self, receiver: &str, alert_id: &str) -> Result<(), StateError> {
        self.tx
            .prepare_cached(
                "INSERT INTO cycle_queue (cycle_id, receiver, alert_id) VALUES (?1, ?2, ?3)
                 ON CONFLICT (cycle_id, receiver, alert_id) DO NOTHING",
            )
            .map_err(sql_err(self.path, "preparing the queue insert"))?
            .execute(params![self.cycle.0, receiver, alert_id])
            .map_err(sql_err(self.path, "queuing a decision"))?;
        Ok(())
    }
}

/// The order of the alerts in one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Order {
    /// As they were queued ([`StateStore::record_cycle`]'s explicit deliveries).
    Queued,
    /// Most urgent first (a cycle recorded in batches, which queue in the order polls end).
    Urgency,
}

/// Turns a cycle's queue into pending deliveries (one per receiver, due at the cycle's start),
/// counts the cycle, and marks its outbox built.
pub(super) fn build_outbox(
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
