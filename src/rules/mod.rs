//! The rules engine: a pure function from (package observation, previous state, now) to
//! decisions and the next state. No I/O, no clock: everything it needs is passed in.
//! Semantics: docs/design.md, "Rules and their semantics".
//!
//! Every decision gets an id derived from what makes it unique (package identity, rule, kind,
//! stage or status, renewal cycle, and for repeatable decisions a counter or the time of the
//! observation that preceded it), so the same decision always carries the same id and two
//! different decisions never share one.

mod auto_renew;
#[cfg(test)]
mod auto_renew_tests;
mod discovery;
mod packages;
mod polls;
mod ruleset;
mod silences;
mod state;
#[cfg(test)]
mod tests;
mod wording;

use chrono::TimeDelta;

pub(crate) use auto_renew::{evaluate_funds, funds_check_ids};
pub(crate) use discovery::{evaluate_removed, plan_scopes};
#[cfg(test)]
use packages::Evaluation;
pub(crate) use packages::{evaluate, Observation};
pub(crate) use polls::evaluate_poll;
pub(crate) use ruleset::{Rule, RuleDefinition, RuleSet};
pub(crate) use silences::{check_matchers, SilenceSet};
pub use state::{FundsAtRisk, ItemState, PollHealth, RuleProgress};
use wording::*;

/// How much earlier than `repeat_every` a reminder may go out. Polls run on a schedule whose
/// start jitters by milliseconds to seconds; without this, a daily reminder on a daily schedule
/// would skip every day whose poll ran a moment earlier than the last one. Capped at 1% of the
/// interval, so a reminder is never noticeably early.
const REMINDER_SLACK: TimeDelta = TimeDelta::minutes(2);
