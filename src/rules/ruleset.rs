//! Rules compiled once, when the app is built: glob lists, thresholds, repeats, receivers.

use crate::model::{AutoRenewMode, Item, Scope, Severity, SourceKind};
use chrono::TimeDelta;
use std::time::Duration;

/// What one rule says, as the config gives it (`[[rules]]`); [`RuleSet::compile`] turns it
/// into something that can be evaluated.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RuleDefinition {
    pub(crate) name: String,
    /// Globs over account names; empty means all.
    pub(crate) accounts: Vec<String>,
    /// Globs over project ids ("" is the account as a whole); empty means all.
    pub(crate) projects: Vec<String>,
    /// Globs over package keys; empty means all.
    pub(crate) packages: Vec<String>,
    /// Days before expiry at which to warn.
    pub(crate) thresholds: Vec<i64>,
    pub(crate) receivers: Vec<String>,
    /// Remind again every `repeat_every` while at or below this many days (or expired).
    pub(crate) repeat_below: Option<i64>,
    pub(crate) repeat_every: Option<Duration>,
    /// Remind of an `expired` package at this interval (default `repeat_every`).
    pub(crate) repeat_expired_every: Option<Duration>,
    pub(crate) notify_renewed: bool,
    /// Overrides the severity of this rule's `expiring` and `expired` alerts.
    pub(crate) severity: Option<Severity>,
    /// The sources whose items and scopes the rule sees; empty means all.
    pub(crate) sources: Vec<SourceKind>,
    /// What the rule does with items that renew themselves.
    pub(crate) auto_renew: AutoRenewMode,
}

/// Why a rule does not compile; `field` and `index` say where, for the config's key path.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RulesError {
    #[error("{pattern:?} is not a valid glob")]
    InvalidGlob {
        field: &'static str,
        index: usize,
        pattern: String,
        #[source]
        source: glob::PatternError,
    },
    #[error("{every:?} is out of range")]
    RepeatOutOfRange {
        field: &'static str,
        every: std::time::Duration,
    },
}

impl RulesError {
    /// The key of the rule this error is about, and the index within it when it is a list.
    pub(crate) fn field(&self) -> (&'static str, Option<usize>) {
        match self {
            RulesError::InvalidGlob { field, index, .. } => (field, Some(*index)),
            RulesError::RepeatOutOfRange { field, .. } => (field, None),
        }
    }
}

/// A list of globs (`*`, `?`, `[...]`); an empty list matches everything.
#[derive(Debug, Clone)]
pub(super) struct GlobList {
    pub(super) patterns: Vec<glob::Pattern>,
}

impl GlobList {
    pub(super) fn compile(
        field: &'static str,
        patterns: &[String],
        errors: &mut Vec<RulesError>,
    ) -> GlobList {
        let mut compiled = Vec::with_capacity(patterns.len());
        for (index, pattern) in patterns.iter().enumerate() {
            match glob::Pattern::new(pattern) {
                Ok(p) => compiled.push(p),
                Err(source) => errors.push(RulesError::InvalidGlob {
                    field,
                    index,
                    pattern: pattern.to_string(),
                    source,
                }),
            }
        }
        GlobList { patterns: compiled }
    }

    pub(super) fn matches(&self, candidate: &str) -> bool {
        self.patterns.is_empty() || self.patterns.iter().any(|p| p.matches(candidate))
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Repeat {
    pub(super) below: i64,
    pub(super) every: TimeDelta,
}

/// One compiled rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(super) name: String,
    pub(super) accounts: GlobList,
    pub(super) projects: GlobList,
    pub(super) packages: GlobList,
    /// Ascending, without duplicates.
    pub(super) thresholds: Vec<i64>,
    pub(super) receivers: Vec<String>,
    pub(super) repeat: Option<Repeat>,
    /// Interval of reminders while expired (`repeat_expired_every`, else `repeat_every`).
    pub(super) expired_every: Option<TimeDelta>,
    pub(super) notify_renewed: bool,
    pub(super) severity: Option<Severity>,
    /// Empty: every source.
    pub(super) sources: Vec<SourceKind>,
    pub(super) auto_renew: AutoRenewMode,
}

impl Rule {
    /// Compiles one rule; every problem is collected in `errors`.
    pub(super) fn compile(definition: &RuleDefinition, errors: &mut Vec<RulesError>) -> Rule {
        let mut thresholds = definition.thresholds.clone();
        thresholds.sort_unstable();
        thresholds.dedup();
        let mut interval = |field, every: Duration| match TimeDelta::from_std(every) {
            Ok(delta) => Some(delta),
            Err(_) => {
                errors.push(RulesError::RepeatOutOfRange { field, every });
                None
            }
        };
        let repeat = match (definition.repeat_below, definition.repeat_every) {
            (Some(below), Some(every)) => {
                interval("repeat_every", every).map(|every| Repeat { below, every })
            }
            // The config refuses one without the other; without both there is no repeat.
            _ => None,
        };
        let expired_every = match definition.repeat_expired_every {
            Some(every) => interval("repeat_expired_every", every),
            None => repeat.map(|r| r.every),
        };
        Rule {
            name: definition.name.clone(),
            accounts: GlobList::compile("accounts", &definition.accounts, errors),
            projects: GlobList::compile("projects", &definition.projects, errors),
            packages: GlobList::compile("packages", &definition.packages, errors),
            thresholds,
            receivers: definition.receivers.clone(),
            repeat,
            expired_every,
            notify_renewed: definition.notify_renewed,
            severity: definition.severity,
            sources: definition.sources.clone(),
            auto_renew: definition.auto_renew,
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn receivers(&self) -> &[String] {
        &self.receivers
    }

    /// The thresholds in days, ascending.
    #[cfg(test)]
    pub(crate) fn thresholds(&self) -> &[i64] {
        &self.thresholds
    }

    #[cfg(test)]
    pub(crate) fn notify_renewed(&self) -> bool {
        self.notify_renewed
    }

    /// The source, account and project globs match (the project of an account-level scope
    /// is "").
    pub(crate) fn matches_scope(&self, scope: &Scope) -> bool {
        (self.sources.is_empty() || self.sources.contains(&scope.source))
            && self.accounts.matches(&scope.account)
            && self.projects.matches(scope.project_label())
    }

    /// The scope and package globs match, and the item is not an auto-renewing one the rule
    /// ignores.
    pub(crate) fn matches_package(&self, package: &Item) -> bool {
        self.matches_scope(&package.scope)
            && self.packages.matches(&package.key)
            && !(self.auto_renew == AutoRenewMode::Ignore && package.auto_renews())
    }

    /// What the rule does with items that renew themselves.
    pub(crate) fn auto_renew(&self) -> AutoRenewMode {
        self.auto_renew
    }

    /// The smallest threshold `t` with `remain_days <= t`, if any.
    pub(crate) fn stage(&self, remain_days: i64) -> Option<i64> {
        self.thresholds.iter().copied().find(|t| remain_days <= *t)
    }

    /// Severity of an `expiring`/`expired` alert: the rule's override or the default.
    pub(super) fn condition_severity(&self, default: Severity) -> Severity {
        self.severity.unwrap_or(default)
    }
}

/// The compiled rules of one config.
#[derive(Debug, Clone, Default)]
pub(crate) struct RuleSet {
    rules: Vec<Rule>,
}

impl RuleSet {
    /// Compiles every rule, each glob once. Fails with every problem, each with the index of
    /// its rule.
    pub(crate) fn compile(
        definitions: &[RuleDefinition],
    ) -> Result<RuleSet, Vec<(usize, RulesError)>> {
        let mut problems = Vec::new();
        let mut rules = Vec::with_capacity(definitions.len());
        for (index, definition) in definitions.iter().enumerate() {
            let mut errors = Vec::new();
            rules.push(Rule::compile(definition, &mut errors));
            problems.extend(errors.into_iter().map(|e| (index, e)));
        }
        if problems.is_empty() {
            Ok(RuleSet { rules })
        } else {
            Err(problems)
        }
    }

    #[cfg(test)]
    pub(crate) fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub(super) fn all(&self) -> &[Rule] {
        &self.rules
    }

    /// Rules whose account and project globs match a scope (for poll_failed routing).
    pub(crate) fn matching_scope<'a>(
        &'a self,
        scope: &'a Scope,
    ) -> impl Iterator<Item = &'a Rule> + 'a {
        self.rules.iter().filter(move |r| r.matches_scope(scope))
    }

    /// Rules whose account, project and package globs match a package.
    pub(crate) fn matching_package<'a>(
        &'a self,
        package: &'a Item,
    ) -> impl Iterator<Item = &'a Rule> + 'a {
        self.rules
            .iter()
            .filter(move |r| r.matches_package(package))
    }
}
