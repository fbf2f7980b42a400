//! Domain types shared by every stage of the pipeline: what a package looks like once
//! fetched, and what an alert about it carries. No I/O here.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Which source reported an item, and so how its status numbers read. Stored only when it is
/// not [`SourceKind::Packages`], so that what was stored before sources had names reads as it
/// always did.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// The CodeArts package API (`packageStatus` numbering: [`PackageStatus`]).
    #[default]
    Packages,
    /// The billing API's yearly/monthly subscriptions (`status` numbering:
    /// [`SubscriptionStatus`]).
    Subscriptions,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Packages => "packages",
            SourceKind::Subscriptions => "subscriptions",
        }
    }

    pub fn is_packages(&self) -> bool {
        *self == SourceKind::Packages
    }

    /// What a status number of this source means for the rules.
    pub fn lifecycle(self, code: i64) -> Lifecycle {
        match self {
            SourceKind::Packages => PackageStatus::from(code).lifecycle(),
            SourceKind::Subscriptions => SubscriptionStatus::from(code).lifecycle(),
        }
    }

    /// The name shown beside a status number (`unknown` for one outside the known ones,
    /// `missing` when there was none).
    pub fn status_name(self, code: Option<i64>) -> &'static str {
        match (self, code) {
            (_, None) => "missing",
            (SourceKind::Packages, Some(code)) => PackageStatus::from(code).name(),
            (SourceKind::Subscriptions, Some(code)) => SubscriptionStatus::from(code).name(),
        }
    }

    /// The phase an expired status stands for, in words, for summaries.
    pub fn expired_phase(self, code: i64) -> Option<&'static str> {
        match self {
            SourceKind::Packages => match PackageStatus::from(code) {
                PackageStatus::Grace => Some("grace period"),
                PackageStatus::Retention => Some("retention period"),
                PackageStatus::Deleted => Some("deleted"),
                PackageStatus::Frozen => Some("frozen for violations"),
                _ => None,
            },
            SourceKind::Subscriptions => match SubscriptionStatus::from(code) {
                SubscriptionStatus::Expired => Some("expired"),
                SubscriptionStatus::Frozen => Some("frozen"),
                SubscriptionStatus::Closed => Some("closed"),
                _ => None,
            },
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a status means, whatever the source's numbering: what the rules read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lifecycle {
    NotYetEffective,
    /// In use.
    Active,
    /// Past its term: grace, retention, frozen, closed or deleted.
    Expired,
    /// A number the source does not document: shown, never guessed at.
    Unknown,
}

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

/// What renewing an account's soon-to-renew resources for one period costs, and what the
/// account holds to pay for it (billing `ListRenewRateOnPeriod` and
/// `ShowCustomerAccountBalances`). Money is decimal, in the unit the API states (yuan for CNY).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenewalFunds {
    /// The currency of the prices and the balance (they were checked to agree).
    pub currency: String,
    /// The price of one period per main resource id (attached resources included).
    pub prices: BTreeMap<String, Decimal>,
    /// Resources the price inquiry could not price (their cost is not in the sum).
    pub unpriced: Vec<String>,
    /// What the account can pay with: cash plus credit, less any arrears.
    pub balance: Decimal,
}

impl RenewalFunds {
    /// The sum of the prices.
    pub fn total(&self) -> Decimal {
        self.prices.values().copied().sum()
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

/// `packageStatus`, undocumented for the package API; the names are those of the sibling
/// CodeArts count-down APIs. A number outside them is kept as [`PackageStatus::Other`]:
/// reported with its number, never dropped. Stored and sent as the raw number.
///
/// [`Item::status`] holds the raw number of any source in this type (its serde form is the
/// number alone); the item's [`SourceKind`] says how it reads: read it through
/// [`Item::lifecycle`] and [`Item::status_name`], never through this type's names, unless the
/// item is a CodeArts package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "i64", into = "i64")]
pub enum PackageStatus {
    /// 1
    NotYetEffective,
    /// 2
    Active,
    /// 3
    Deleted,
    /// 4: frozen, data kept.
    Retention,
    /// 5: expired, still usable.
    Grace,
    /// 99: frozen for violations.
    Frozen,
    Other(i64),
}

impl From<i64> for PackageStatus {
    fn from(code: i64) -> Self {
        match code {
            1 => PackageStatus::NotYetEffective,
            2 => PackageStatus::Active,
            3 => PackageStatus::Deleted,
            4 => PackageStatus::Retention,
            5 => PackageStatus::Grace,
            99 => PackageStatus::Frozen,
            other => PackageStatus::Other(other),
        }
    }
}

impl From<PackageStatus> for i64 {
    fn from(status: PackageStatus) -> i64 {
        status.code()
    }
}

impl PackageStatus {
    pub(crate) fn code(self) -> i64 {
        match self {
            PackageStatus::NotYetEffective => 1,
            PackageStatus::Active => 2,
            PackageStatus::Deleted => 3,
            PackageStatus::Retention => 4,
            PackageStatus::Grace => 5,
            PackageStatus::Frozen => 99,
            PackageStatus::Other(code) => code,
        }
    }

    /// The name shown beside the number (`unknown` for a number outside the known ones).
    pub fn name(self) -> &'static str {
        match self {
            PackageStatus::NotYetEffective => "not_yet_effective",
            PackageStatus::Active => "active",
            PackageStatus::Deleted => "deleted",
            PackageStatus::Retention => "retention",
            PackageStatus::Grace => "grace",
            PackageStatus::Frozen => "frozen",
            PackageStatus::Other(_) => "unknown",
        }
    }

    pub fn lifecycle(self) -> Lifecycle {
        match self {
            PackageStatus::NotYetEffective => Lifecycle::NotYetEffective,
            PackageStatus::Active => Lifecycle::Active,
            PackageStatus::Other(_) => Lifecycle::Unknown,
            _ => Lifecycle::Expired,
        }
    }
}

/// The name of a raw `packageStatus` as alerts carry it (`missing` when there was none).
pub fn package_status_name(status: Option<i64>) -> &'static str {
    SourceKind::Packages.status_name(status)
}

/// The billing API's resource `status`: 2 in use, 3 closed, 4 frozen, 5 expired. A number
/// outside them is kept as [`SubscriptionStatus::Other`], shown with its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubscriptionStatus {
    /// 2
    InUse,
    /// 3 (the console does not show it)
    Closed,
    /// 4
    Frozen,
    /// 5
    Expired,
    Other(i64),
}

impl From<i64> for SubscriptionStatus {
    fn from(code: i64) -> Self {
        match code {
            2 => SubscriptionStatus::InUse,
            3 => SubscriptionStatus::Closed,
            4 => SubscriptionStatus::Frozen,
            5 => SubscriptionStatus::Expired,
            other => SubscriptionStatus::Other(other),
        }
    }
}

impl SubscriptionStatus {
    pub fn code(self) -> i64 {
        match self {
            SubscriptionStatus::InUse => 2,
            SubscriptionStatus::Closed => 3,
            SubscriptionStatus::Frozen => 4,
            SubscriptionStatus::Expired => 5,
            SubscriptionStatus::Other(code) => code,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SubscriptionStatus::InUse => "in_use",
            SubscriptionStatus::Closed => "closed",
            SubscriptionStatus::Frozen => "frozen",
            SubscriptionStatus::Expired => "expired",
            SubscriptionStatus::Other(_) => "unknown",
        }
    }

    pub fn lifecycle(self) -> Lifecycle {
        match self {
            SubscriptionStatus::InUse => Lifecycle::Active,
            SubscriptionStatus::Other(_) => Lifecycle::Unknown,
            _ => Lifecycle::Expired,
        }
    }
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

/// A stable id: a hash of `parts` (each followed by a NUL byte, so that ("ab", "c") and
/// ("a", "bc") differ), its first 16 bytes in hex.
pub(crate) fn stable_id(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    hex::encode(&hasher.finalize()[..16])
}

/// What makes one decision unique. Its [`id`](DecisionKey::id) is the decision's id: the same
/// decision always gets the same id, across cycles, restarts and versions (receivers
/// de-duplicate on it; the state store records a decision once). The id is a hash of the
/// parts this key writes out, in an order and spelling that must never change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DecisionKey<'a> {
    /// A decision about one item in one renewal epoch.
    Item {
        item: &'a ItemId,
        /// The rule's name, or `None` for a kind every matching rule shares (one decision,
        /// sent to the receivers of each).
        rule: Option<&'a str>,
        kind: AlertKind,
        detail: Detail,
        epoch: u32,
    },
    /// A decision about a scope's polls (`poll_failed`, `poll_recovered`), named by the
    /// episode of failures it belongs to.
    Scope {
        scope: &'a Scope,
        rule: Option<&'a str>,
        kind: AlertKind,
        /// When the episode's first failure happened; `None` when that was not recorded.
        failing_since: Option<DateTime<Utc>>,
    },
    /// An `auto_renew_at_risk` of a scope: the episode it belongs to (when the balance was
    /// first found short), its stage (warning or critical) and the resources it names, each
    /// with the end of the term at risk (`resource_id@expire_time`, sorted).
    FundsAtRisk {
        scope: &'a Scope,
        since: DateTime<Utc>,
        stage: Severity,
        resources: &'a [String],
    },
    /// A scope that discovery no longer lists (`project_removed`), named by when it was last
    /// polled, so that a project removed, listed again and removed again is another decision.
    Removed {
        scope: &'a Scope,
        last_polled: Option<DateTime<Utc>>,
    },
    /// The message `test-notify` sends.
    Test {
        receiver: &'a str,
        at: DateTime<Utc>,
    },
}

/// What tells one decision about an item from another of the same kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Detail {
    /// An `expiring` stage (`None` for a reminder below `repeat_below` before any stage).
    Threshold {
        stage: Option<i64>,
        reminder: Option<u32>,
    },
    /// `expired`, for the status it was sent for.
    Status {
        status: Option<i64>,
        reminder: Option<u32>,
    },
    /// A change of status, named by when the item was last seen with the old one.
    StatusChange {
        from: Option<i64>,
        to: Option<i64>,
        last_seen: DateTime<Utc>,
    },
    Renewed,
    /// Named by when the item was last seen, so that a later disappearance is another one.
    Vanished {
        last_seen: DateTime<Utc>,
    },
    /// `auto_renew_failed`, for the end of the term that did not move.
    TermEnd {
        expire_time: Option<DateTime<Utc>>,
        reminder: Option<u32>,
    },
}

impl DecisionKey<'_> {
    pub(crate) fn id(&self) -> String {
        match self {
            DecisionKey::Item {
                item,
                rule,
                kind,
                detail,
                epoch,
            } => stable_id(&[
                &item.scope.account,
                item.scope.key(),
                &item.key,
                &item.resource_id,
                rule.unwrap_or(""),
                kind.as_str(),
                &detail.to_string(),
                &format!("epoch:{epoch}"),
            ]),
            DecisionKey::Scope {
                scope,
                rule,
                kind,
                failing_since,
            } => stable_id(&[
                &scope.account,
                scope.key(),
                "",
                "",
                rule.unwrap_or(""),
                kind.as_str(),
                &match failing_since {
                    Some(t) => format!("failing_since:{}", id_timestamp(*t)),
                    None => "failing_since:unknown".to_string(),
                },
            ]),
            DecisionKey::FundsAtRisk {
                scope,
                since,
                stage,
                resources,
            } => stable_id(&[
                &scope.account,
                scope.key(),
                "",
                "",
                "",
                AlertKind::AutoRenewAtRisk.as_str(),
                &format!("stage:{stage}"),
                &format!("since:{}", id_timestamp(*since)),
                &format!("resources:{}", resources.join(",")),
            ]),
            DecisionKey::Removed { scope, last_polled } => stable_id(&[
                &scope.account,
                scope.key(),
                "",
                "",
                "",
                AlertKind::ProjectRemoved.as_str(),
                &match last_polled {
                    Some(t) => format!("removed:last_polled:{}", id_timestamp(*t)),
                    None => "removed:last_polled:unknown".to_string(),
                },
            ]),
            DecisionKey::Test { receiver, at } => stable_id(&["test", receiver, &at.to_rfc3339()]),
        }
    }
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = |s: &Option<i64>| s.map_or_else(|| "none".to_string(), |s| s.to_string());
        let reminder = |f: &mut fmt::Formatter<'_>, n: &Option<u32>| match n {
            Some(n) => write!(f, ":reminder:{n}"),
            None => Ok(()),
        };
        match self {
            Detail::Threshold { stage, reminder: n } => {
                write!(f, "threshold:{}", status(stage))?;
                reminder(f, n)
            }
            Detail::Status {
                status: s,
                reminder: n,
            } => {
                write!(f, "status:{}", status(s))?;
                reminder(f, n)
            }
            Detail::StatusChange {
                from,
                to,
                last_seen,
            } => write!(
                f,
                "status:{}->{}:{}",
                status(from),
                status(to),
                id_timestamp(*last_seen)
            ),
            Detail::Renewed => f.write_str("renewed"),
            Detail::Vanished { last_seen } => write!(f, "vanished:{}", id_timestamp(*last_seen)),
            Detail::TermEnd {
                expire_time,
                reminder: n,
            } => {
                match expire_time {
                    Some(t) => write!(f, "term_end:{}", id_timestamp(*t))?,
                    None => f.write_str("term_end:unknown")?,
                }
                reminder(f, n)
            }
        }
    }
}

/// An instant as decision ids spell it: RFC 3339 UTC with nanoseconds.
fn id_timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// A silence (`renewd silence add`): decisions about what its matchers match are recorded but
/// not delivered while it is in force; what is still due when it ends is delivered then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    pub id: i64,
    pub matchers: SilenceMatchers,
    pub created_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub reason: String,
    pub created_by: String,
    /// Set by `renewd silence expire`: the silence ended early.
    pub expired_at: Option<DateTime<Utc>>,
}

impl Silence {
    /// In force at `now`: not expired, not past its end.
    pub fn in_force(&self, now: DateTime<Utc>) -> bool {
        now < self.ends_at && self.expired_at.is_none_or(|e| now < e)
    }

    /// When it stops (or stopped) being in force.
    pub fn end(&self) -> DateTime<Utc> {
        self.expired_at
            .map_or(self.ends_at, |e| e.min(self.ends_at))
    }
}

/// What a silence matches: globs (as rules use them) on the account, the project id ("" for an
/// account as a whole), the package key and the resource id. A matcher left out matches
/// anything, also a decision that has no package (`poll_failed`); one given matches only a
/// decision that has that field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SilenceMatchers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

impl fmt::Display for SilenceMatchers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = [
            ("account", &self.account),
            ("project", &self.project),
            ("package", &self.package),
            ("resource", &self.resource),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect();
        if parts.is_empty() {
            f.write_str("everything")
        } else {
            f.write_str(&parts.join(","))
        }
    }
}

/// The language of a message people read (`locale` of a receiver, `[daemon] locale`,
/// `preview --locale`): every built-in text comes in each. Log events are not translated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Locale {
    /// `en`
    #[default]
    En,
    /// `zh-CN`: Simplified Chinese, in Huawei Cloud's console terms.
    ZhCn,
}

impl Locale {
    /// Every locale, the default first.
    pub const ALL: [Locale; 2] = [Locale::En, Locale::ZhCn];

    /// The name the config and the command line use (a BCP 47 tag).
    pub fn as_str(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::ZhCn => "zh-CN",
        }
    }

    /// The locale a name stands for, exactly as [`Locale::as_str`] writes it.
    pub fn from_name(name: &str) -> Option<Locale> {
        Locale::ALL.into_iter().find(|l| l.as_str() == name)
    }

    /// `en, zh-CN`: for error messages.
    pub fn names() -> String {
        Locale::ALL.map(Locale::as_str).join(", ")
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Locale {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
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

/// The days left until `expire_time` as Huawei counts them: the calendar day of
/// `expire_time` in GMT+08:00 (the billing day) minus the calendar day of `now` there. The
/// same count the CodeArts API reports as `remainDays`: 0 on the last day, negative after.
pub fn remain_days_until(expire_time: DateTime<Utc>, now: DateTime<Utc>) -> Option<i64> {
    let billing = chrono::FixedOffset::east_opt(BILLING_OFFSET_SECONDS)?;
    let last = expire_time.with_timezone(&billing).date_naive();
    let today = now.with_timezone(&billing).date_naive();
    Some(last.signed_duration_since(today).num_days())
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
