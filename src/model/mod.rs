//! Domain types shared by every stage of the pipeline: what a package looks like once
//! fetched, and what an alert about it carries. No I/O here.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

mod billing;
mod decision;
mod locale;
mod silence;
mod status;

pub use billing::*;
pub(crate) use decision::*;
pub use locale::*;
pub use silence::*;
pub use status::*;

/// Where an item was seen: an account, the source that listed it and, for CodeArts, optionally
/// a project.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Scope {
    pub account: String,
    /// `None` when the account lists no projects and the API was asked without `project_id`,
    /// and for sources without projects.
    pub project_id: Option<String>,
    /// Which source lists this scope; the CodeArts package API unless said otherwise.
    #[serde(default, skip_serializing_if = "SourceKind::is_packages")]
    pub source: SourceKind,
}

/// The key of the subscriptions scope of an account (see [`Scope::key`]): not a CodeArts
/// project id (32 lowercase hex characters) and not "", so never one of theirs.
const SUBSCRIPTIONS_KEY: &str = "@subscriptions";

impl Scope {
    /// A CodeArts scope: a project of the account, or the account as a whole.
    pub fn packages(account: &str, project_id: Option<&str>) -> Scope {
        Scope {
            account: account.to_string(),
            project_id: project_id.map(str::to_string),
            source: SourceKind::Packages,
        }
    }

    /// The billing subscriptions of an account: one scope per account.
    pub fn subscriptions(account: &str) -> Scope {
        Scope {
            account: account.to_string(),
            project_id: None,
            source: SourceKind::Subscriptions,
        }
    }

    /// The project as shown: the id, or "" for the account as a whole (and for sources without
    /// projects).
    pub fn project_label(&self) -> &str {
        self.project_id.as_deref().unwrap_or("")
    }

    /// The scope within its account as the state file stores it and decision ids hash it: for
    /// CodeArts the project label (as since the first state file, so stored items and decision
    /// ids never change), for another source a reserved name of its own, so that a CodeArts
    /// poll of the account as a whole and the subscriptions poll of the same account never
    /// read or vanish each other's items.
    pub fn key(&self) -> &str {
        match self.source {
            SourceKind::Packages => self.project_label(),
            SourceKind::Subscriptions => SUBSCRIPTIONS_KEY,
        }
    }

    /// The scope a stored [`key`](Scope::key) stands for.
    pub fn from_key(account: &str, key: &str) -> Scope {
        match key {
            SUBSCRIPTIONS_KEY => Scope::subscriptions(account),
            "" => Scope::packages(account, None),
            project => Scope::packages(account, Some(project)),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.project_id, self.source) {
            (Some(p), SourceKind::Packages) => write!(f, "{}/{}", self.account, p),
            (None, SourceKind::Packages) => write!(f, "{}", self.account),
            (Some(p), source) => write!(f, "{}/{} ({source})", self.account, p),
            (None, source) => write!(f, "{} ({source})", self.account),
        }
    }
}

/// One thing that expires, as a source observed it in one successful listing: its identity,
/// the days it has left, its status and where to renew it. The rules engine, the state store
/// and the receivers speak only of items; each source says how its answers become items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub scope: Scope,
    /// What the item is within its scope: for CodeArts, the key of the entry in `result`
    /// (e.g. `codeartsStorageExtension`).
    pub key: String,
    pub resource_id: String,
    pub service_type: Option<String>,
    /// The status the source reported; `None` when it left it out. Stored under its first
    /// name, so that state files written before items keep reading.
    #[serde(rename = "package_status")]
    pub status: Option<PackageStatus>,
    pub remain_days: i64,
    pub next_action_url: Option<String>,
    /// What a source knows beyond the above (billing resources: name, region, expiry, …);
    /// `None` for CodeArts packages, whose stored form stays as it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Box<ItemDetails>>,
}

/// The description of a billing resource (or of anything a source says more about than the
/// CodeArts package API). Every field is optional: a source fills what it has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ItemDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_type_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_type_name: Option<String>,
    /// The resource's specification (billing `resource_spec_code`, e.g. `c7.large.2.linux`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    /// When the term ends, as the source said it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<DateTime<Utc>>,
    /// What happens at the end of the term (billing `expire_policy`; 3 is auto-renew).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expire_policy: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enterprise_project: Option<String>,
    /// Attached resources (disks of a server, …) counted into this one.
    #[serde(skip_serializing_if = "is_zero")]
    pub attached: u32,
    /// The main resource this one is attached to, when it is listed on its own (billing
    /// `parent_resource_id` of a resource with `is_main_resource` 0): its renewal comes with
    /// that one's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attached_to: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Billing `expire_policy` 3: the resource renews itself at the end of its term.
pub const EXPIRE_POLICY_AUTO_RENEW: i64 = 3;

/// What a rule does with items that renew themselves (`[[rules]] auto_renew`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoRenewMode {
    /// No `expiring` alerts while auto-renewal is on; an expired status, a status change, a
    /// failed auto-renewal and an at-risk balance still alert.
    #[default]
    Quiet,
    /// Alert on them like on any item (a failed auto-renewal is still `auto_renew_failed`).
    Notify,
    /// The rule does not see them: no alert of any kind about them through this rule.
    Ignore,
}

impl AutoRenewMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AutoRenewMode::Quiet => "quiet",
            AutoRenewMode::Notify => "notify",
            AutoRenewMode::Ignore => "ignore",
        }
    }
}

impl ItemDetails {
    /// The billing `expire_policy` in words.
    pub fn expire_policy_name(&self) -> Option<&'static str> {
        Some(match self.expire_policy? {
            0 => "grace period",
            1 => "to pay-per-use",
            2 => "deleted",
            EXPIRE_POLICY_AUTO_RENEW => "auto-renew",
            4 => "frozen",
            5 => "deleted from retention",
            _ => "unknown",
        })
    }
}

impl Item {
    /// The source says the item renews itself at the end of its term (billing `expire_policy`
    /// 3).
    pub fn auto_renews(&self) -> bool {
        self.details
            .as_deref()
            .is_some_and(|d| d.expire_policy == Some(EXPIRE_POLICY_AUTO_RENEW))
    }

    /// The end of its term has passed at `now`: after its `expire_time` when the source gave
    /// one, else after the last second of its last billing day (`remain_days` < 0).
    pub fn term_ended(&self, now: DateTime<Utc>) -> bool {
        match self.details.as_deref().and_then(|d| d.expire_time) {
            Some(end) => now > end,
            None => self.remain_days < 0,
        }
    }

    /// The identity of an item across polls: account, project, key and resource id.
    pub fn identity(&self) -> ItemId {
        ItemId {
            scope: self.scope.clone(),
            key: self.key.clone(),
            resource_id: self.resource_id.clone(),
        }
    }

    /// The status as its raw number, as alerts and `once --json` carry it.
    pub fn status_code(&self) -> Option<i64> {
        self.status.map(PackageStatus::code)
    }

    /// What the status means, read in the numbering of the item's source.
    pub fn lifecycle(&self) -> Option<Lifecycle> {
        self.status_code().map(|c| self.scope.source.lifecycle(c))
    }

    /// The status's name in the item's source (`missing` when there was none).
    pub fn status_name(&self) -> &'static str {
        self.scope.source.status_name(self.status_code())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ItemId {
    pub(crate) scope: Scope,
    pub key: String,
    pub(crate) resource_id: String,
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
    /// A project `projects = "all"` watched is no longer listed: its packages are forgotten,
    /// not reported vanished.
    ProjectRemoved,
    Test,
    /// An auto-renewing resource's term ended without it being renewed.
    AutoRenewFailed,
    /// The account's balance does not cover the coming auto-renewals.
    AutoRenewAtRisk,
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
            AlertKind::ProjectRemoved => "project_removed",
            AlertKind::Test => "test",
            AlertKind::AutoRenewFailed => "auto_renew_failed",
            AlertKind::AutoRenewAtRisk => "auto_renew_at_risk",
        }
    }

    /// Kinds that say a problem is over (Alertmanager's `resolved`).
    pub(crate) fn is_resolution(self) -> bool {
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
    pub(crate) fn as_str(self) -> &'static str {
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
    /// The source of the item or scope the alert is about; only written when not `packages`,
    /// so that the JSON of CodeArts alerts is what it was.
    #[serde(default, skip_serializing_if = "SourceKind::is_packages")]
    pub source: SourceKind,
    /// Package key; `None` for account-level alerts (`poll_failed`, `poll_recovered`).
    pub package: Option<String>,
    pub resource_id: Option<String>,
    pub service_type: Option<String>,
    /// What the source says about the resource beyond its key (billing subscriptions: name,
    /// type, region, end of term, auto-renewal); nothing for CodeArts packages, whose JSON
    /// stays as it was.
    #[serde(flatten)]
    pub resource: ResourceFacts,
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

/// The facts about a billing resource an alert carries (renewd's JSON: `resource_name`,
/// `service_type_name`, `resource_type_name`, `resource_spec_code`, `region`, `expire_time`,
/// `auto_renew`), each written only when known: all empty for a CodeArts package.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceFacts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_type_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_spec_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// When the term ends, as the source said it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<DateTime<Utc>>,
    /// The resource renews itself at the end of its term (billing `expire_policy` 3); known
    /// for every billing resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_renew: Option<bool>,
}

impl ResourceFacts {
    /// The facts of an item: none for an item without details (a CodeArts package).
    pub fn of(item: &Item) -> ResourceFacts {
        let Some(d) = item.details.as_deref() else {
            return ResourceFacts::default();
        };
        ResourceFacts {
            resource_name: d.name.clone(),
            service_type_name: d.service_type_name.clone(),
            resource_type_name: d.resource_type_name.clone(),
            resource_spec_code: d.spec.clone(),
            region: d.region.clone(),
            expire_time: d.expire_time,
            auto_renew: Some(item.auto_renews()),
        }
    }
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
    /// The scope the alert is about.
    pub fn scope(&self) -> Scope {
        Scope {
            account: self.account.clone(),
            project_id: self.project_id.clone(),
            source: self.source,
        }
    }

    /// A safe link to the renewal page: only `https://` URLs are ever rendered as links.
    pub(crate) fn renew_link(&self) -> Option<&str> {
        self.next_action_url.as_deref().filter(|u| is_safe_link(u))
    }

    /// Sort key: most urgent first (critical, then fewest remaining days).
    pub(crate) fn urgency_key(&self) -> (std::cmp::Reverse<Severity>, i64, String) {
        (
            std::cmp::Reverse(self.severity),
            self.remain_days.unwrap_or(i64::MIN),
            self.package.clone().unwrap_or_default(),
        )
    }
}

/// True when `url` may be rendered as a clickable link: `https://` and nothing else.
pub(crate) fn is_safe_link(url: &str) -> bool {
    // `get` rather than slicing: the API's text may put a multi-byte character anywhere.
    url.len() > 8
        && url
            .get(..8)
            .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
        && !url.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid time")
            .with_timezone(&Utc)
    }

    #[test]
    fn remaining_days_count_billing_days_in_gmt8() {
        // The fixture's ECS: ends 2026-12-08T15:59:59Z, 23:59:59 GMT+08:00 on Dec 8.
        let end = utc("2026-12-08T15:59:59Z");
        // Dec 1, 00:00 GMT+08:00 is Nov 30, 16:00 UTC: a day boundary in UTC is not one here.
        assert_eq!(remain_days_until(end, utc("2026-11-30T15:59:59Z")), Some(8));
        assert_eq!(remain_days_until(end, utc("2026-11-30T16:00:00Z")), Some(7));
        assert_eq!(remain_days_until(end, utc("2026-12-01T15:59:59Z")), Some(7));
        // The last day itself, to its last second: 0.
        assert_eq!(remain_days_until(end, utc("2026-12-07T16:00:00Z")), Some(0));
        assert_eq!(remain_days_until(end, end), Some(0));
        // A second later it is the next billing day: -1.
        assert_eq!(
            remain_days_until(end, end + chrono::Duration::seconds(1)),
            Some(-1)
        );
        // An expiry at 16:00:00Z is already the next day in GMT+08:00.
        assert_eq!(
            remain_days_until(utc("2026-12-08T16:00:00Z"), utc("2026-12-01T00:00:00Z")),
            Some(8)
        );
        // The same count as billing_last_day, read back.
        let now = utc("2026-11-30T20:00:00Z");
        let days = remain_days_until(end, now).expect("in range");
        assert_eq!(
            billing_last_day(now, days),
            Some(NaiveDate::from_ymd_opt(2026, 12, 8).expect("date"))
        );
        assert_eq!(billing_expiry(now, days), Some(end));
    }

    #[test]
    fn scopes_of_two_sources_never_share_a_key() {
        let codearts = Scope::packages("prod", None);
        let subscriptions = Scope::subscriptions("prod");
        assert_ne!(codearts.key(), subscriptions.key());
        assert_eq!(codearts.key(), "");
        let project = Scope::packages("prod", Some("666666af0f00445f85dec483fbc97c78"));
        assert_eq!(project.key(), "666666af0f00445f85dec483fbc97c78");
        for scope in [&codearts, &subscriptions, &project] {
            assert_eq!(&Scope::from_key(&scope.account, scope.key()), scope);
        }
        // A CodeArts scope's stored form is what it was before sources had names.
        assert_eq!(
            serde_json::to_string(&project).expect("serialises"),
            r#"{"account":"prod","project_id":"666666af0f00445f85dec483fbc97c78"}"#
        );
        assert_eq!(
            serde_json::from_str::<Scope>(r#"{"account":"prod","project_id":null}"#).ok(),
            Some(codearts)
        );
        assert_eq!(
            serde_json::to_string(&subscriptions).expect("serialises"),
            r#"{"account":"prod","project_id":null,"source":"subscriptions"}"#
        );
    }

    #[test]
    fn statuses_read_in_their_source_numbering() {
        let p = SourceKind::Packages;
        let s = SourceKind::Subscriptions;
        assert_eq!(p.status_name(Some(5)), "grace");
        assert_eq!(s.status_name(Some(5)), "expired");
        assert_eq!(s.status_name(Some(2)), "in_use");
        assert_eq!(s.status_name(Some(3)), "closed");
        assert_eq!(s.status_name(Some(4)), "frozen");
        assert_eq!(s.status_name(Some(7)), "unknown");
        assert_eq!(s.status_name(None), "missing");
        assert_eq!(s.lifecycle(2), Lifecycle::Active);
        for code in [3, 4, 5] {
            assert_eq!(s.lifecycle(code), Lifecycle::Expired);
        }
        // 99 is CodeArts' "frozen for violations"; the billing API has no such number.
        assert_eq!(p.lifecycle(99), Lifecycle::Expired);
        assert_eq!(s.lifecycle(99), Lifecycle::Unknown);
        // The lifecycle of CodeArts statuses is exactly what `is_expired` always said.
        for code in -1..=100 {
            assert_eq!(
                p.lifecycle(code) == Lifecycle::Expired,
                (PackageStatus::from(code).lifecycle() == Lifecycle::Expired)
            );
        }
    }

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
    fn package_statuses_round_trip_through_their_numbers() {
        for code in [1, 2, 3, 4, 5, 99, 0, 6, -1, 100] {
            let status = PackageStatus::from(code);
            assert_eq!(status.code(), code);
            let json = serde_json::to_string(&status).expect("serialises");
            assert_eq!(json, code.to_string());
            assert_eq!(
                serde_json::from_str::<PackageStatus>(&json).ok(),
                Some(status)
            );
        }
        assert_eq!(PackageStatus::from(7), PackageStatus::Other(7));
        assert_eq!(package_status_name(Some(7)), "unknown");
        assert_eq!(package_status_name(None), "missing");
        assert_eq!(package_status_name(Some(99)), "frozen");
        let expired: Vec<i64> = (0..=100)
            .filter(|c| PackageStatus::from(*c).lifecycle() == Lifecycle::Expired)
            .collect();
        assert_eq!(expired, vec![3, 4, 5, 99]);
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
    fn ids_of_the_auto_renew_kinds_are_pinned() {
        // Spelled once, never changed: receivers de-duplicate on these ids.
        let scope = Scope::subscriptions("prod");
        let resources = ["r1@2026-12-08T15:59:59Z:warning".to_string()];
        let at_risk = DecisionKey::FundsAtRisk {
            scope: &scope,
            since: utc("2026-12-01T01:00:00Z"),
            stage: Severity::Warning,
            resources: &resources,
        };
        assert_eq!(at_risk.id(), "d53c486b069657b32905ffbc1d905a04");
        let item = ItemId {
            scope,
            key: "hws.resource.type.rds".into(),
            resource_id: "r1".into(),
        };
        let failed = DecisionKey::Item {
            item: &item,
            rule: Some("default"),
            kind: AlertKind::AutoRenewFailed,
            detail: Detail::TermEnd {
                expire_time: Some(utc("2026-12-08T15:59:59Z")),
                reminder: None,
            },
            epoch: 0,
        };
        assert_eq!(failed.id(), "23ca90e3ad4d8cf0d52be2ec37210478");
        let detail = Detail::TermEnd {
            expire_time: None,
            reminder: Some(2),
        };
        assert_eq!(detail.to_string(), "term_end:unknown:reminder:2");
    }

    #[test]
    fn decision_ids_are_stable_and_distinct() {
        let a = stable_id(&["prod", "p", "k", "expiring", "14"]);
        assert_eq!(a, stable_id(&["prod", "p", "k", "expiring", "14"]));
        assert_ne!(a, stable_id(&["prod", "p", "k", "expiring", "7"]));
        // The separator keeps ("ab","c") and ("a","bc") apart.
        assert_ne!(stable_id(&["ab", "c"]), stable_id(&["a", "bc"]));
        assert_eq!(a.len(), 32);
    }
}
