//! The epoch gate: what the CodeArts stand-in serves, so that the data each recorded poll saw
//! is known although the daemon is killed at random moments.
//!
//! Project `p` is served its epoch `k` while the state file holds `k` recorded polls of `p`. A
//! poll is recorded (with its decisions) in the same transaction as the project's poll health,
//! whose `last_attempt_at` is the recording cycle's start: each new value seen there is one
//! more recorded epoch. A project is polled before its poll is recorded, and not again in the
//! same cycle, so every attempt of one poll sees the same epoch; a poll killed before it was
//! recorded leaves the count as it was, and the poll after the restart sees the same data. This
//! holds whether a cycle is written in one transaction or in batches as its polls come in.

use crate::scenario::{Blip, PollFault, ProjectEpoch, Scenario};
use crate::support::fake_cloud::{Failure, Served};
use chrono::{DateTime, SecondsFormat};
use rusqlite::{Connection, OpenFlags};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub struct Gate {
    state: PathBuf,
    account: String,
    conn: Mutex<Option<Connection>>,
    scenario: Arc<Scenario>,
    project_index: HashMap<String, usize>,
    /// Per project: the start of each cycle that recorded one of its epochs, in order (as the
    /// state file writes times: RFC 3339 with nanoseconds).
    recorded: Mutex<Vec<Vec<String>>>,
    /// (epoch, project) whose first attempt was already refused.
    blips_played: Mutex<HashSet<(usize, usize)>>,
    errors: Mutex<Vec<String>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Gate {
    pub fn new(state: PathBuf, account: &str, scenario: Arc<Scenario>) -> Gate {
        let project_index = scenario
            .projects
            .iter()
            .enumerate()
            .map(|(i, p)| (p.clone(), i))
            .collect();
        Gate {
            state,
            account: account.to_string(),
            conn: Mutex::new(None),
            recorded: Mutex::new(vec![Vec::new(); scenario.projects.len()]),
            scenario,
            project_index,
            blips_played: Mutex::new(HashSet::new()),
            errors: Mutex::new(Vec::new()),
        }
    }

    /// Reads the poll health of every project (or of one) and notes polls recorded since.
    pub fn observe(&self, only: Option<usize>) -> Result<(), String> {
        let mut conn = lock(&self.conn);
        if conn.is_none() {
            if !self.state.exists() {
                return Ok(());
            }
            let c = Connection::open_with_flags(&self.state, OpenFlags::SQLITE_OPEN_READ_ONLY)
                .map_err(|e| format!("opening the state file: {e}"))?;
            c.busy_timeout(Duration::from_secs(10))
                .map_err(|e| e.to_string())?;
            *conn = Some(c);
        }
        let c = conn.as_ref().expect("opened above");
        let rows: Result<Vec<(String, String)>, rusqlite::Error> = c
            .prepare_cached(
                "SELECT project_id, health_json FROM poll_health
                 WHERE account = ?1 AND (?2 IS NULL OR project_id = ?2)",
            )
            .and_then(|mut stmt| {
                let project = only.map(|p| self.scenario.projects[p].clone());
                stmt.query_map(rusqlite::params![self.account, project], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })?
                .collect()
            });
        let rows = match rows {
            Ok(rows) => rows,
            // Not migrated yet: nothing recorded either.
            Err(e) if e.to_string().contains("no such table") => return Ok(()),
            Err(e) => {
                *conn = None;
                return Err(format!("reading poll health: {e}"));
            }
        };
        let mut recorded = lock(&self.recorded);
        for (project, json) in rows {
            let Some(&index) = self.project_index.get(&project) else {
                return Err(format!("poll health of an unknown project {project}"));
            };
            let health: serde_json::Value =
                serde_json::from_str(&json).map_err(|e| format!("poll health JSON: {e}"))?;
            let Some(at) = health["last_attempt_at"].as_str() else {
                continue;
            };
            let at = DateTime::parse_from_rfc3339(at)
                .map_err(|e| format!("last_attempt_at {at:?}: {e}"))?
                .to_utc()
                .to_rfc3339_opts(SecondsFormat::Nanos, true);
            let times = &mut recorded[index];
            if times.last() != Some(&at) {
                times.push(at);
            }
        }
        Ok(())
    }

    /// The fewest epochs recorded for any project.
    pub fn min_recorded(&self) -> usize {
        lock(&self.recorded).iter().map(Vec::len).min().unwrap_or(0)
    }

    /// Per project, the start of each cycle that recorded one of its epochs.
    pub fn recorded(&self) -> Vec<Vec<String>> {
        lock(&self.recorded).clone()
    }

    pub fn errors(&self) -> Vec<String> {
        lock(&self.errors).clone()
    }

    pub fn blips(&self) -> usize {
        lock(&self.blips_played).len()
    }

    /// One package request for `project`.
    pub fn serve(&self, project: Option<&str>) -> Served {
        let fail = |why: String| {
            lock(&self.errors).push(why);
            Served::Fail(Failure::ServerError)
        };
        let Some(&index) = project.and_then(|p| self.project_index.get(p)) else {
            return fail(format!("request for an unknown project {project:?}"));
        };
        if let Err(e) = self.observe(Some(index)) {
            return fail(e);
        }
        let epoch = lock(&self.recorded)[index].len();
        let Some(row) = self.scenario.epochs.get(epoch) else {
            return fail(format!(
                "epoch {epoch} was asked for; only {} were generated",
                self.scenario.epochs.len()
            ));
        };
        let served = &row[index];
        if let Some(blip) = served.blip {
            if lock(&self.blips_played).insert((epoch, index)) {
                return Served::Fail(match blip {
                    Blip::Unavailable => Failure::Raw {
                        status: 503,
                        body: r#"{"error_code":"APIG.0201","error_msg":"backend unavailable"}"#
                            .into(),
                    },
                    Blip::Throttled => Failure::TooManyRequests {
                        retry_after_secs: 1,
                    },
                });
            }
        }
        match &served.outcome {
            Ok(packages) => Served::Packages(ProjectEpoch::result_json(packages)),
            Err(PollFault::ServerError) => Served::Fail(Failure::ServerError),
            Err(PollFault::StatusError) => Served::Fail(Failure::StatusError),
            Err(PollFault::NonJson) => Served::Fail(Failure::NonJson),
        }
    }
}
