//! The rules engine: a pure function from (package observation, previous state, now) to
//! decisions and the next state. No I/O, no clock: everything it needs is passed in.
//! Semantics: DESIGN.md, "Rules and their semantics".

use crate::model::{Package, PollErrorInfo};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the engine remembers about one package between polls (stored as JSON by the state store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageState {
    /// The last snapshot seen in a successful response.
    pub last: Package,
    /// Renewal cycle counter: a renewal starts a new cycle, and ids of decisions include it.
    pub epoch: u32,
    /// The package was missing from the last successful response of its scope.
    #[serde(default)]
    pub vanished: bool,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Progress per rule name.
    #[serde(default)]
    pub rules: BTreeMap<String, RuleProgress>,
}

/// What one rule has already said about one package in its current cycle.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleProgress {
    /// The tightest threshold alerted in this cycle.
    #[serde(default)]
    pub notified_threshold: Option<i64>,
    /// The status for which `expired` was sent in this cycle.
    #[serde(default)]
    pub expired_status: Option<i64>,
    /// Whether `expired` was sent in this cycle (also for remainDays <= 0 with an active status).
    #[serde(default)]
    pub expired_notified: bool,
    /// Any alert was sent in this cycle (a renewal then gets a `renewed` notice).
    #[serde(default)]
    pub alerted: bool,
    /// When the last alert or reminder went out (for `repeat_every`).
    #[serde(default)]
    pub last_alert_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub vanished_notified: bool,
}

/// Poll health of one account/project, for `poll_failed` / `poll_recovered`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PollHealth {
    pub consecutive_failures: u32,
    /// `poll_failed` was sent and `poll_recovered` is owed.
    pub failing_notified: bool,
    pub last_error: Option<PollErrorInfo>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
}
