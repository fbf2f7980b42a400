//! Projects found instead of listed (`projects = "all"`): which watched projects a discovery
//! no longer lists, and the one `project_removed` decision for each. A removed project's
//! packages are forgotten, not reported `vanished`: the project went, not its packages.

use super::polls::scope_alert;
use super::*;
use crate::model::{Alert, AlertKind, DecisionKey, Scope, Severity};
use chrono::{DateTime, Utc};
use std::collections::HashSet;

/// What a cycle polls of an account whose projects are discovered, and which of the projects
/// it watched before it stops watching.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ScopePlan {
    /// Polled this cycle, sorted.
    pub(crate) poll: Vec<Scope>,
    /// Watched before, no longer listed: told once (`project_removed`) and forgotten.
    pub(crate) removed: Vec<Scope>,
}

/// What a discovery means for the cycle, given `known` (the projects earlier cycles polled):
/// - the whole listing (`Some(listed)`, `complete`): poll what it lists; what `known` has and
///   it does not is removed;
/// - a listing with unreadable entries (`complete` false): poll what it lists and every known
///   project, remove nothing (an unreadable entry may be a known project);
/// - no listing (`None`: the discovery failed): keep polling the known projects, remove
///   nothing — a failed discovery says nothing about projects.
pub(crate) fn plan_scopes(known: &[Scope], listed: Option<&[Scope]>, complete: bool) -> ScopePlan {
    let Some(listed) = listed else {
        let mut poll = known.to_vec();
        poll.sort();
        poll.dedup();
        return ScopePlan {
            poll,
            removed: Vec::new(),
        };
    };
    let listed_set: HashSet<&Scope> = listed.iter().collect();
    let gone: Vec<Scope> = known
        .iter()
        .filter(|scope| !listed_set.contains(scope))
        .cloned()
        .collect();
    let mut poll = listed.to_vec();
    // An empty listing of an account that had projects is more likely a glitch (a permission
    // lost for a moment) than every project deleted at once: nothing is removed on its word.
    let believable = !listed.is_empty() || known.is_empty();
    let removed = if complete && believable {
        gone
    } else {
        poll.extend(gone);
        Vec::new()
    };
    poll.sort();
    poll.dedup();
    ScopePlan { poll, removed }
}

/// The `project_removed` decision for `scope`, once, to the receivers of every rule that
/// matches it (none when no rule does). `health` is what the state file had of its polls: its
/// last poll names the decision, so that a project removed, listed again and removed again is
/// told twice, and a cycle that is cut short and run again decides the same id.
pub(crate) fn evaluate_removed(
    rules: &RuleSet,
    scope: &Scope,
    health: Option<&PollHealth>,
    now: DateTime<Utc>,
) -> Vec<Alert> {
    let id = DecisionKey::Removed {
        scope,
        last_polled: health.and_then(|h| h.last_attempt_at),
    }
    .id();
    let summary = format!(
        "CodeArts project {} of account {} is no longer listed; renewd stops watching its packages",
        scope.project_label(),
        scope.account
    );
    let alerts = rules
        .matching_scope(scope)
        .map(|rule| {
            scope_alert(
                rule,
                scope,
                AlertKind::ProjectRemoved,
                Severity::Info,
                id.clone(),
                summary.clone(),
                now,
            )
        })
        .collect();
    merge_shared(alerts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const A: &str = "a00000000000000000000000000000aa";
    const B: &str = "b00000000000000000000000000000bb";
    const C: &str = "c00000000000000000000000000000cc";

    fn project(id: &str) -> Scope {
        Scope::packages("prod", Some(id))
    }

    fn rule(name: &str, projects: &[&str]) -> RuleDefinition {
        RuleDefinition {
            projects: projects.iter().map(|p| p.to_string()).collect(),
            ..crate::rules::tests::rule(name, &[30, 7])
        }
    }

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, hour, 0, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn a_whole_listing_removes_what_it_no_longer_has() {
        let known = [project(A), project(B)];
        let listed = [project(C), project(A)];
        let plan = plan_scopes(&known, Some(&listed), true);
        assert_eq!(plan.poll, vec![project(A), project(C)]);
        assert_eq!(plan.removed, vec![project(B)]);
        // Nothing known yet (the first cycle): nothing removed.
        let plan = plan_scopes(&[], Some(&listed), true);
        assert_eq!(plan.poll, vec![project(A), project(C)]);
        assert!(plan.removed.is_empty());
        // An empty listing of an account that had projects removes none (a permission lost
        // for a moment looks just like it): the known ones are still polled.
        let plan = plan_scopes(&known, Some(&[]), true);
        assert_eq!(plan.poll, known.to_vec());
        assert!(plan.removed.is_empty());
    }

    #[test]
    fn a_partial_or_failed_listing_removes_nothing() {
        let known = [project(B), project(A)];
        let listed = [project(C)];
        // Unreadable entries: poll what it listed and everything known.
        let plan = plan_scopes(&known, Some(&listed), false);
        assert_eq!(plan.poll, vec![project(A), project(B), project(C)]);
        assert!(plan.removed.is_empty());
        // No listing: the known projects, as before.
        let plan = plan_scopes(&known, None, false);
        assert_eq!(plan.poll, vec![project(A), project(B)]);
        assert!(plan.removed.is_empty());
    }

    #[test]
    fn a_removal_is_one_info_decision_to_every_matching_rule() {
        let set = RuleSet::compile(&[
            rule("default", &[]),
            rule("team", &["b*"]),
            rule("other", &["c*"]),
        ])
        .expect("rules compile");
        let health = PollHealth {
            last_attempt_at: Some(at(1)),
            last_success_at: Some(at(1)),
            ..PollHealth::default()
        };
        let alerts = evaluate_removed(&set, &project(B), Some(&health), at(9));
        assert_eq!(alerts.len(), 1, "{alerts:#?}");
        let alert = &alerts[0];
        assert_eq!(alert.kind, AlertKind::ProjectRemoved);
        assert_eq!(alert.kind.as_str(), "project_removed");
        assert_eq!(alert.severity, Severity::Info);
        assert_eq!(alert.project_id.as_deref(), Some(B));
        assert_eq!(alert.package, None);
        assert_eq!(alert.receivers, ["default-receiver", "team-receiver"]);
        assert_eq!(alert.raised_at, at(9));
        assert!(alert.summary.contains(B), "{}", alert.summary);

        // The same removal decided again (a cycle cut short and run again): the same id.
        let again = evaluate_removed(&set, &project(B), Some(&health), at(10));
        assert_eq!(again[0].id, alert.id);
        // Removed again after being listed and polled again: another decision.
        let later = PollHealth {
            last_attempt_at: Some(at(5)),
            ..health.clone()
        };
        let other = evaluate_removed(&set, &project(B), Some(&later), at(10));
        assert_ne!(other[0].id, alert.id);
        // Never the id of a decision about another project, or of its poll health.
        assert_ne!(
            evaluate_removed(&set, &project(A), Some(&health), at(9))[0].id,
            alert.id
        );
        let error = crate::model::PollErrorInfo::default();
        let failed = evaluate_poll(&set, &project(B), None, Err(&error), 1, at(1));
        assert!(failed.alerts.iter().all(|a| a.id != alert.id));
        // No rule matches: nobody is told.
        let none = RuleSet::compile(&[rule("other", &["c*"])]).expect("rules compile");
        assert!(evaluate_removed(&none, &project(B), Some(&health), at(9)).is_empty());
    }
}
