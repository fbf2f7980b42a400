//! `[[rules]]`: which packages warn whom, at which thresholds.

use super::*;
use crate::model::{AutoRenewMode, SourceKind};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub(crate) name: String,
    /// Globs over account names; empty means all.
    #[serde(default)]
    pub(crate) accounts: Vec<String>,
    /// Globs over project ids ("" is the account as a whole); empty means all.
    #[serde(default)]
    pub(crate) projects: Vec<String>,
    /// Globs over package keys; empty means all.
    #[serde(default)]
    pub(crate) packages: Vec<String>,
    /// Days before expiry at which to warn, e.g. `[30, 14, 7, 3, 1, 0]`.
    pub(crate) thresholds: Vec<i64>,
    pub(crate) receivers: Vec<String>,
    /// Remind again every `repeat_every` while at or below this many days (or expired).
    pub(crate) repeat_below: Option<i64>,
    #[serde(default, with = "humantime_serde")]
    pub(crate) repeat_every: Option<Duration>,
    /// Remind of an `expired` package at this interval until it is renewed; default
    /// `repeat_every` (when set), else no reminders.
    #[serde(default, with = "humantime_serde")]
    pub(crate) repeat_expired_every: Option<Duration>,
    /// Send a `renewed` notice when a package that was alerted on is renewed.
    #[serde(default = "default_true")]
    pub(crate) notify_renewed: bool,
    /// Overrides the severity of this rule's `expiring` and `expired` alerts.
    pub(crate) severity: Option<Severity>,
    /// The sources the rule is about (`packages`, `subscriptions`); default both.
    pub(crate) sources: Option<Vec<SourceKind>>,
    /// What the rule does with resources that renew themselves: `quiet` (default), `notify`
    /// or `ignore`.
    #[serde(default)]
    pub(crate) auto_renew: AutoRenewMode,
}

impl RuleConfig {
    /// One `[[rules]]` table's checks (`p` is its key path).
    pub(super) fn check(
        &self,
        p: &str,
        receivers: &BTreeMap<String, ReceiverConfig>,
        problems: &mut Vec<Problem>,
    ) {
        let mut push = |path: String, reason: String| problems.push(Problem::new(path, reason));
        if self.thresholds.is_empty() {
            push(
                format!("{p}.thresholds"),
                "at least one threshold (in days) is required".into(),
            );
        }
        for (j, t) in self.thresholds.iter().enumerate() {
            if *t < 0 {
                push(
                    format!("{p}.thresholds[{j}]"),
                    format!("{t} is negative; thresholds are whole days >= 0"),
                );
            }
        }
        if self.sources.as_ref().is_some_and(Vec::is_empty) {
            push(
                format!("{p}.sources"),
                "an empty list matches nothing: name `packages`, `subscriptions` or both, \
                 or leave `sources` out for both"
                    .into(),
            );
        }
        if self.receivers.is_empty() {
            push(
                format!("{p}.receivers"),
                "at least one receiver is required".into(),
            );
        }
        for (j, r) in self.receivers.iter().enumerate() {
            if !receivers.contains_key(r) {
                let _ = j;
                push(format!("{p}.receivers"), format!("no receiver named {r:?}"));
            }
        }
        match (self.repeat_below, self.repeat_every) {
            (Some(_), None) => push(
                format!("{p}.repeat_every"),
                "`repeat_below` needs `repeat_every`".into(),
            ),
            (None, Some(_)) => push(
                format!("{p}.repeat_below"),
                "`repeat_every` needs `repeat_below`".into(),
            ),
            (Some(b), Some(_)) if b < 0 => push(format!("{p}.repeat_below"), "must be >= 0".into()),
            (_, Some(e)) if e < Duration::from_secs(60) => {
                push(format!("{p}.repeat_every"), "must be at least 1m".into())
            }
            (_, Some(e)) if e > Duration::from_secs(366 * 24 * 3600) => {
                push(format!("{p}.repeat_every"), "must be at most 366d".into())
            }
            _ => {}
        }
        match self.repeat_expired_every {
            Some(e) if e < Duration::from_secs(60) => push(
                format!("{p}.repeat_expired_every"),
                "must be at least 1m".into(),
            ),
            Some(e) if e > Duration::from_secs(366 * 24 * 3600) => push(
                format!("{p}.repeat_expired_every"),
                "must be at most 366d".into(),
            ),
            _ => {}
        }
    }
}
