//! Reads: what is known about packages, polls, decisions and cycles.

use super::*;
use crate::model::{Alert, ItemId, Scope};
use crate::rules::{ItemState, PollHealth};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;

impl StateStore {
    /// Item states of one account/project, ordered by package key and resource id.
    pub fn package_states(&self, scope: &Scope) -> Result<Vec<(ItemId, ItemState)>, StateError> {
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
        type Row = (ItemId, String, Option<String>, Option<String>);
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

    /// The CodeArts projects of `account` that were polled and not forgotten (those with a
    /// poll health), ordered by project id: what a failed project discovery keeps to.
    pub fn known_projects(&self, account: &str) -> Result<Vec<Scope>, StateError> {
        let path = &self.path;
        let keys: Vec<String> = self
            .conn
            .prepare_cached(
                "SELECT project_id FROM poll_health WHERE account = ?1 ORDER BY project_id",
            )
            .map_err(sql_err(path, "preparing the known projects query"))?
            .query_map(params![account], |row| row.get(0))
            .map_err(sql_err(path, "reading the known projects"))?
            .collect::<Result<_, _>>()
            .map_err(sql_err(path, "reading the known projects"))?;
        Ok(keys
            .iter()
            .map(|key| Scope::from_key(account, key))
            .filter(|scope| scope.source.is_packages() && scope.project_id.is_some())
            .collect())
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
}

/// What the evaluation of a batch reads, inside the batch's transaction.
pub struct BatchReads<'a> {
    pub(super) conn: &'a Connection,
    pub(super) path: &'a Path,
}

impl BatchReads<'_> {
    /// See [`StateStore::package_states`].
    pub(crate) fn package_states(
        &self,
        scope: &Scope,
    ) -> Result<Vec<(ItemId, ItemState)>, StateError> {
        read_package_states(self.conn, self.path, scope)
    }

    /// See [`StateStore::poll_health`].
    pub fn poll_health(&self, scope: &Scope) -> Result<Option<PollHealth>, StateError> {
        read_poll_health(self.conn, self.path, scope)
    }
}

pub(super) fn read_package_states(
    conn: &Connection,
    path: &Path,
    scope: &Scope,
) -> Result<Vec<(ItemId, ItemState)>, StateError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT account, project_id, package_key, resource_id, state_json
             FROM packages WHERE account = ?1 AND project_id = ?2
             ORDER BY package_key, resource_id",
        )
        .map_err(sql_err(path, "preparing the package query"))?;
    let rows = stmt
        .query_map(params![scope.account, scope.key()], |row| {
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

pub(super) fn read_poll_health(
    conn: &Connection,
    path: &Path,
    scope: &Scope,
) -> Result<Option<PollHealth>, StateError> {
    let json: Option<String> = conn
        .prepare_cached(
            "SELECT health_json FROM poll_health WHERE account = ?1 AND project_id = ?2",
        )
        .map_err(sql_err(path, "preparing the poll health query"))?
        .query_row(params![scope.account, scope.key()], |row| row.get(0))
        .optional()
        .map_err(sql_err(path, "reading poll health"))?;
    json.map(|j| from_json(path, &j, || format!("decoding the poll health of {scope}")))
        .transpose()
}
