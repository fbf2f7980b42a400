//! Silences: what they match and until when.

use super::*;

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
