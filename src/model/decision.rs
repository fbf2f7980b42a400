//! Decision ids: what makes one decision unique, written out in one place. An id never
//! changes (receivers de-duplicate on it; `src/rules/testdata/decision_ids.txt` freezes them).

use super::*;

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
pub(super) fn id_timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}
