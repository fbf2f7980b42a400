//! Domain types shared by every stage of the pipeline: what a package looks like once
//! fetched, and what an alert about it carries. No I/O here.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a package was seen: an account and, optionally, a CodeArts project.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Scope {
    pub account: String,
    /// `None` when the account lists no projects and the API was asked without `project_id`.
    pub project_id: Option<String>,
}

impl Scope {
    /// The project as stored and shown: the id, or "" for the account as a whole.
    pub fn project_label(&self) -> &str {
        self.project_id.as_deref().unwrap_or("")
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.project_id {
            Some(p) => write!(f, "{}/{}", self.account, p),
            None => write!(f, "{}", self.account),
        }
    }
}

/// One package entry of a successful `package/info` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub scope: Scope,
    /// The key of the entry in `result` (e.g. `codeartsStorageExtension`).
    pub key: String,
    pub resource_id: String,
    pub service_type: Option<String>,
    /// Raw `packageStatus`; `None` when the API left it out.
    pub package_status: Option<i64>,
    pub remain_days: i64,
    pub next_action_url: Option<String>,
}

impl Package {
    /// The identity of a package across polls: account, project, key and resource id.
    pub fn identity(&self) -> PackageId {
        PackageId {
            scope: self.scope.clone(),
            key: self.key.clone(),
            resource_id: self.resource_id.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PackageId {
    pub scope: Scope,
    pub key: String,
    pub resource_id: String,
}

/// Known values of `packageStatus` (from the sibling CodeArts count-down APIs; undocumented here).
pub fn package_status_name(status: Option<i64>) -> &'static str {
    match status {
        Some(1) => "not_yet_effective",
        Some(2) => "active",
        Some(3) => "deleted",
        Some(4) => "retention",
        Some(5) => "grace",
        Some(99) => "frozen",
        Some(_) => "unknown",
        None => "missing",
    }
}

/// Statuses that mean the package has expired (grace, retention, deleted, frozen).
pub fn is_expired_status(status: Option<i64>) -> bool {
    matches!(status, Some(3) | Some(4) | Some(5) | Some(99))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    Expiring,
    Expired,
    Renewed,
    StatusChanged,
    Vanished,
    PollFailed,
    PollRecovered,
    Test,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Expiring => "expiring",
            AlertKind::Expired => "expired",
            AlertKind::Renewed => "renewed",
            AlertKind::StatusChanged => "status_changed",
            AlertKind::Vanished => "vanished",
            AlertKind::PollFailed => "poll_failed",
            AlertKind::PollRecovered => "poll_recovered",
            AlertKind::Test => "test",
        }
    }

    /// Kinds that say a problem is over (Alertmanager's `resolved`).
    pub fn is_resolution(self) -> bool {
        matches!(self, AlertKind::Renewed | AlertKind::PollRecovered)
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// The default severity of an alert at `remain_days`: info above 7 days,
    /// warning at 7 and below, critical at 1 and below.
    pub fn for_remain_days(remain_days: i64) -> Severity {
        if remain_days <= 1 {
            Severity::Critical
        } else if remain_days <= 7 {
            Severity::Warning
        } else {
            Severity::Info
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One decision of the rules engine, as delivered to receivers. The field names are those of
/// renewd's own webhook JSON (docs/design.md), which `once --json` and `status --json` share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable id of this decision: the same decision always gets the same id, so a retried
    /// message carries the same ids and receivers can de-duplicate.
    pub id: String,
    pub kind: AlertKind,
    pub severity: Severity,
    pub rule: String,
    pub account: String,
    pub project_id: Option<String>,
    /// Package key; `None` for account-level alerts (`poll_failed`, `poll_recovered`).
    pub package: Option<String>,
    pub resource_id: Option<String>,
    pub service_type: Option<String>,
    pub package_status: Option<i64>,
    pub package_status_name: Option<String>,
    pub remain_days: Option<i64>,
    /// The threshold whose stage this alert is for (`expiring`, reminders).
    pub threshold: Option<i64>,
    pub next_action_url: Option<String>,
    pub summary: String,
    /// When the decision was made.
    pub raised_at: DateTime<Utc>,
    /// The status before a `status_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_status: Option<i64>,
    /// True for a reminder (`repeat_every`) of an alert already sent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reminder: bool,
    /// For `poll_failed`: what went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<PollErrorInfo>,
    /// Receivers this alert goes to (from its rule). Not part of the wire format.
    #[serde(skip)]
    pub receivers: Vec<String>,
}

/// What a failed poll reported, as carried by a `poll_failed` alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PollErrorInfo {
    pub http_status: Option<u16>,
    pub error_code: Option<String>,
    pub error_msg: String,
    pub request_id: Option<String>,
    pub consecutive_failures: u32,
}

impl Alert {
    /// A safe link to the renewal page: only `https://` URLs are ever rendered as links.
    pub fn renew_link(&self) -> Option<&str> {
        self.next_action_url.as_deref().filter(|u| is_safe_link(u))
    }

    /// Sort key: most urgent first (critical, then fewest remaining days).
    pub fn urgency_key(&self) -> (std::cmp::Reverse<Severity>, i64, String) {
        (
            std::cmp::Reverse(self.severity),
            self.remain_days.unwrap_or(i64::MIN),
            self.package.clone().unwrap_or_default(),
        )
    }
}

/// True when `url` may be rendered as a clickable link: `https://` and nothing else.
pub fn is_safe_link(url: &str) -> bool {
    // `get` rather than slicing: the API's text may put a multi-byte character anywhere.
    url.len() > 8
        && url
            .get(..8)
            .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
        && !url.chars().any(char::is_control)
}

/// A stable id for a decision, derived from everything that makes it unique.
pub fn decision_id(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    hex::encode(&hasher.finalize()[..16])
}

/// Huawei Cloud's billing day: a billing cycle ends at 23:59:59 GMT+08:00 on its last day.
const BILLING_OFFSET_SECONDS: i32 = 8 * 3600;

/// The estimated last day of a package: the day (in GMT+08:00, Huawei's billing day) on which
/// `remain_days` was read, plus those days.
pub fn billing_last_day(read_at: DateTime<Utc>, remain_days: i64) -> Option<NaiveDate> {
    let billing = chrono::FixedOffset::east_opt(BILLING_OFFSET_SECONDS)?;
    let read_on = read_at.with_timezone(&billing).date_naive();
    read_on.checked_add_signed(chrono::Duration::try_days(remain_days)?)
}

/// The instant a package expires: the end (23:59:59 GMT+08:00) of its [`billing_last_day`].
pub fn billing_expiry(read_at: DateTime<Utc>, remain_days: i64) -> Option<DateTime<Utc>> {
    let billing = chrono::FixedOffset::east_opt(BILLING_OFFSET_SECONDS)?;
    let end = billing_last_day(read_at, remain_days)?.and_hms_opt(23, 59, 59)?;
    Some(
        end.and_local_timezone(billing)
            .single()?
            .with_timezone(&Utc),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_links_are_safe() {
        assert!(is_safe_link("https://example.com/renew"));
        assert!(is_safe_link("HTTPS://example.com"));
        assert!(!is_safe_link("http://example.com"));
        assert!(!is_safe_link("javascript:alert(1)"));
        assert!(!is_safe_link("https://"));
        assert!(!is_safe_link("https://a\nb"));
        // Multi-byte text around the scheme must not panic.
        assert!(!is_safe_link("http://é.example/x"));
        assert!(!is_safe_link("ééééé"));
        assert!(is_safe_link("https://é.example/renew"));
    }

    #[test]
    fn severity_follows_remaining_days() {
        assert_eq!(Severity::for_remain_days(30), Severity::Info);
        assert_eq!(Severity::for_remain_days(8), Severity::Info);
        assert_eq!(Severity::for_remain_days(7), Severity::Warning);
        assert_eq!(Severity::for_remain_days(2), Severity::Warning);
        assert_eq!(Severity::for_remain_days(1), Severity::Critical);
        assert_eq!(Severity::for_remain_days(-3), Severity::Critical);
    }

    #[test]
    fn decision_ids_are_stable_and_distinct() {
        let a = decision_id(&["prod", "p", "k", "expiring", "14"]);
        assert_eq!(a, decision_id(&["prod", "p", "k", "expiring", "14"]));
        assert_ne!(a, decision_id(&["prod", "p", "k", "expiring", "7"]));
        // The separator keeps ("ab","c") and ("a","bc") apart.
        assert_ne!(decision_id(&["ab", "c"]), decision_id(&["a", "bc"]));
        assert_eq!(a.len(), 32);
    }
}
