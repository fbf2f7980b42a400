//! Where an item comes from and what its status numbers mean: the CodeArts package API's
//! `packageStatus`, the billing API's resource `status`, and the lifecycle the rules read.

use super::*;

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
