//! The values the state store takes and gives.

use crate::model::{Alert, ItemId, Scope};
use crate::rules::{ItemState, PollHealth};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Everything one cycle decided, written in one transaction by [`StateStore::record_cycle`].
#[derive(Debug, Clone)]
pub struct CycleRecord {
    pub started_at: DateTime<Utc>,
    /// Item states to upsert.
    pub packages: Vec<(ItemId, ItemState)>,
    /// Poll health to upsert, per account/project.
    pub health: Vec<(Scope, PollHealth)>,
    /// Decisions to insert; an id already recorded is left as it was.
    pub alerts: Vec<Alert>,
    /// Outbox rows to create, pending and due at `started_at`.
    pub deliveries: Vec<NewDelivery>,
}

/// A cycle being recorded in batches (see [`StateStore::begin_cycle`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CycleId(pub(super) i64);

/// One batch of a cycle's results, written in one transaction by
/// [`StateStore::record_batch_with`]; every alert is queued for its `receivers`.
#[derive(Debug, Clone, Default)]
pub struct CycleBatch {
    pub packages: Vec<(ItemId, ItemState)>,
    pub health: Vec<(Scope, PollHealth)>,
    pub alerts: Vec<Alert>,
    /// Decisions a silence holds back (decision id → silence id): recorded, not queued.
    pub silenced: std::collections::HashMap<String, i64>,
    /// Scopes no longer watched (a project discovery no longer lists): their item states and
    /// poll health are deleted, so that nothing of them is reported later. Their decisions
    /// stay, as history.
    pub forgotten: Vec<Scope>,
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
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Abandoned => "abandoned",
        }
    }

    pub(super) fn parse(s: &str) -> Option<DeliveryStatus> {
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
    pub id: ItemId,
    pub state: ItemState,
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
