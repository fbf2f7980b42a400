//! What the engine remembers between polls: per package and rule, and per account/project.

use crate::model::{Item, PollErrorInfo, Severity};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the engine remembers about one package between polls (stored as JSON by the state store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemState {
    /// The last snapshot seen in a successful response.
    pub last: Item,
    /// Renewal cycle counter: a renewal starts a new cycle, and ids of decisions include it.
    pub epoch: u32,
    /// The package was missing from the last successful response of its scope.
    #[serde(default)]
    pub vanished: bool,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Progress per rule name (only the rules that currently match the package).
    #[serde(default)]
    pub rules: BTreeMap<String, RuleProgress>,
}

/// What one rule has already said about one package in its current cycle. Fields at their
/// default are left out of the stored JSON (they read back as the default): a state is
/// written for every package at every cycle.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleProgress {
    /// The tightest threshold alerted in this cycle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notified_threshold: Option<i64>,
    /// The status for which `expired` was last sent in this cycle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_status: Option<i64>,
    /// Whether `expired` was sent in this cycle (also for remainDays <= 0 with an active status).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expired_notified: bool,
    /// An `expiring` or `expired` alert was sent in this cycle (a renewal then gets a `renewed`
    /// notice, and reminders may follow).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub alerted: bool,
    /// When the last `expiring`/`expired` alert or reminder went out (for `repeat_every`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_alert_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub vanished_notified: bool,
    /// Every status `expired` was sent for in this cycle: it is sent once per status, even when
    /// the status flaps back (grace -> retention -> grace).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expired_statuses: Vec<i64>,
    /// Reminders sent in this cycle; numbers each reminder's id.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reminders_sent: u32,
}

pub(super) fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl RuleProgress {
    pub(super) fn expired_sent_for(&self, status: i64) -> bool {
        self.expired_status == Some(status) || self.expired_statuses.contains(&status)
    }
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
    /// First failure of the current run of failures; names the episode in decision ids.
    #[serde(default)]
    pub failing_since: Option<DateTime<Utc>>,
    /// The balance is short of the scope's coming auto-renewals (billing subscriptions only):
    /// since when, and what `auto_renew_at_risk` already said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub funds_at_risk: Option<FundsAtRisk>,
}

/// An episode of a balance short of the coming auto-renewals: it starts when a check first
/// finds the balance short and ends when one finds it covers them (or finds none coming).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundsAtRisk {
    /// When the episode started; names it in decision ids.
    pub since: DateTime<Utc>,
    /// Per resource and term (`resource_id@expire_time`), the most urgent stage already
    /// named in an `auto_renew_at_risk`.
    pub notified: BTreeMap<String, Severity>,
}
