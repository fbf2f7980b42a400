//! What a cycle reports: a row per package, a line per poll and discovery, the counts `once`
//! prints and the daemon logs and turns into metrics.

use super::*;
use crate::model::{AlertKind, ItemDetails, SourceKind};

/// One row of the `once` table and of `once --json`: a package and what was decided about it.
#[derive(Debug, Clone, Serialize)]
pub struct PackageRow {
    pub(crate) account: String,
    /// Which source listed it (`packages` or `subscriptions`).
    pub(crate) source: SourceKind,
    pub(crate) project_id: Option<String>,
    pub package: String,
    pub(crate) resource_id: String,
    pub(crate) service_type: Option<String>,
    pub(crate) package_status: Option<i64>,
    pub(crate) package_status_name: &'static str,
    pub(crate) remain_days: i64,
    pub(crate) next_action_url: Option<String>,
    /// What the source said beyond the above (a billing resource's name, region, types,
    /// `expire_time`, `expire_policy`, enterprise project, attached resources); absent for
    /// CodeArts packages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) resource: Option<Box<ItemDetails>>,
    /// Kinds of the alerts raised for this package in this cycle.
    pub(crate) decisions: Vec<AlertKind>,
    /// True when the package is no longer reported by the API.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) vanished: bool,
    /// The silence in force that holds back what is decided about this package.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub silenced: Option<Box<SilenceNote>>,
}

/// A silence as `once` and `status` show it beside a package: who, until when, why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SilenceNote {
    pub id: i64,
    pub by: String,
    pub until: DateTime<Utc>,
    pub reason: String,
}

impl From<&Silence> for SilenceNote {
    fn from(silence: &Silence) -> Self {
        SilenceNote {
            id: silence.id,
            by: silence.created_by.clone(),
            until: silence.end(),
            reason: silence.reason.clone(),
        }
    }
}

impl SilenceNote {
    /// `#3 by alice until 2026-12-20 15:59 UTC`, for tables.
    pub(crate) fn describe(&self) -> String {
        format!(
            "#{} by {} until {}",
            self.id,
            self.by,
            self.until.format("%Y-%m-%d %H:%M UTC")
        )
    }
}

/// How one account/project poll went.
#[derive(Debug, Clone, Serialize)]
pub struct PollReport {
    pub(crate) account: String,
    /// Which source was asked (`packages` or `subscriptions`).
    pub(crate) source: SourceKind,
    pub(crate) project_id: Option<String>,
    pub(crate) ok: bool,
    pub(crate) packages: usize,
    /// Entries the API sent that could not be read (missing `remainDays`, …).
    pub(crate) bad_entries: Vec<String>,
    pub(crate) error: Option<String>,
}

/// How the project discovery of one account (`projects = "all"`) went.
#[derive(Debug, Clone, Serialize)]
pub struct DiscoveryReport {
    pub(crate) account: String,
    pub(crate) ok: bool,
    /// Projects the listing had (on failure: none).
    pub(crate) found: usize,
    /// Projects polled this cycle: those found, or on failure those known before.
    pub(crate) polled: usize,
    /// Projects no longer listed, told once as `project_removed` and forgotten.
    pub(crate) removed: Vec<String>,
    /// Entries of the listing that could not be read.
    pub(crate) bad_entries: Vec<String>,
    pub(crate) error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CycleReport {
    pub(crate) started_at: DateTime<Utc>,
    pub(crate) dry_run: bool,
    /// The project discovery of every account with `projects = "all"`, ordered by account.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub discoveries: Vec<DiscoveryReport>,
    /// Every poll, ordered by account and project.
    pub polls: Vec<PollReport>,
    /// Every package and what was decided about it, ordered by account, project and key;
    /// empty unless [`CycleOptions::list_packages`].
    pub packages: Vec<PackageRow>,
    /// How many packages the cycle evaluated or showed (listed or not).
    #[serde(skip)]
    pub package_count: usize,
    pub alerts: Vec<Alert>,
    /// Of `alerts`, those a silence held back (recorded, not delivered).
    pub silenced: usize,
    /// Silences in force during the cycle.
    pub silences_in_force: usize,
    /// Decisions whose silence ended: delivered with this cycle, or dropped.
    pub released: ReleaseReport,
    pub deliveries: DeliveryReport,
    pub(crate) duration_ms: u128,
}

impl CycleReport {
    /// Polls that failed or had unreadable entries, and project discoveries that failed or
    /// had unreadable entries: what keeps a cycle from having seen everything.
    pub fn failed_polls(&self) -> usize {
        self.polls
            .iter()
            .filter(|p| !p.ok || !p.bad_entries.is_empty())
            .count()
            + self
                .discoveries
                .iter()
                .filter(|d| !d.ok || !d.bad_entries.is_empty())
                .count()
    }

    /// What the heartbeat says of this cycle: it went well when every scope was polled and
    /// every message was delivered or is queued for a retry (none refused or given up on).
    pub(crate) fn summary(&self) -> crate::heartbeat::CycleSummary {
        let polls_failed = self.failed_polls();
        crate::heartbeat::CycleSummary {
            ok: polls_failed == 0 && self.deliveries.failed == 0 && self.deliveries.abandoned == 0,
            polls: self.polls.len(),
            polls_failed,
            alerts: self.alerts.len(),
            delivered: self.deliveries.delivered,
            failed: self.deliveries.failed,
            abandoned: self.deliveries.abandoned,
            duration_ms: self.duration_ms,
            error: None,
        }
    }
}

/// What a poll-health record says, for `status`.
pub(crate) fn describe_health(health: &PollHealth) -> String {
    match (&health.last_error, health.consecutive_failures) {
        (_, 0) => "ok".to_string(),
        (Some(e), n) => format!("failing ({n}x): {}", e.error_msg),
        (None, n) => format!("failing ({n}x)"),
    }
}
