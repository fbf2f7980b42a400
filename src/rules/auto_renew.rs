//! Auto-renewals at risk: the resources of an account that will renew themselves within
//! `auto_renew_check_days`, their price for one period against the account's balance.
//!
//! Which resources are asked about ([`funds_check_ids`]) and what is decided once the prices
//! and the balance are known ([`evaluate_funds`]) are pure; asking is the source's and the
//! cycle's business. Money is [`Decimal`], never floating point.
//!
//! One `auto_renew_at_risk` per step, like every other alert: each resource (in the term at
//! risk) is named once at `warning` (more than one day left) and once more at `critical` (one
//! day or less); a check that names nobody new and no one more urgently says nothing. The
//! episode ends when a check finds the balance covers the sum (or finds nothing coming), and
//! a later shortfall is a new episode with new decisions.

use super::*;
use crate::model::{Alert, AlertKind, DecisionKey, Item, Lifecycle, RenewalFunds, Scope, Severity};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// How many resources an `auto_renew_at_risk` summary names before it counts the rest.
const NAMED_IN_SUMMARY: usize = 10;

/// The outcome of one funds check of one scope.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FundsEvaluation {
    /// The scope's episode after this check (`None`: the balance covers what is coming).
    pub(crate) state: Option<FundsAtRisk>,
    pub(crate) alerts: Vec<Alert>,
}

/// The items whose coming renewal the balance must cover: renewing themselves, their term not
/// over and not expired by status, at most `check_days` days left, and main resources (an
/// attached resource listed on its own renews with, and is priced with, its main one).
pub(crate) fn renewing_soon(items: &[Item], check_days: i64, now: DateTime<Utc>) -> Vec<&Item> {
    items
        .iter()
        .filter(|i| {
            i.auto_renews()
                && !i.term_ended(now)
                && i.lifecycle() != Some(Lifecycle::Expired)
                && i.remain_days <= check_days
                && i.details.as_deref().is_none_or(|d| d.attached_to.is_none())
        })
        .collect()
}

/// The resource ids whose prices a funds check asks for; empty when there is no need to ask
/// (nothing renews soon, or no rule would hear of it).
pub(crate) fn funds_check_ids(
    rules: &RuleSet,
    items: &[Item],
    check_days: i64,
    now: DateTime<Utc>,
) -> Vec<String> {
    let soon = renewing_soon(items, check_days, now);
    if routed_rules(rules, &soon).is_empty() {
        return Vec::new();
    }
    soon.iter().map(|i| i.resource_id.clone()).collect()
}

/// The rules that hear of a scope's funds: those that see at least one of the resources
/// (a rule that ignores auto-renewing items sees none of them).
fn routed_rules<'a>(rules: &'a RuleSet, soon: &[&Item]) -> Vec<&'a Rule> {
    rules
        .all()
        .iter()
        .filter(|r| soon.iter().any(|i| r.matches_package(i)))
        .collect()
}

/// The stage of one resource: critical with one day or less left, else warning.
fn stage(item: &Item) -> Severity {
    if item.remain_days <= 1 {
        Severity::Critical
    } else {
        Severity::Warning
    }
}

/// A resource in the term at risk, as the episode's record and decision ids name it.
fn term_key(item: &Item) -> String {
    let end = item
        .details
        .as_deref()
        .and_then(|d| d.expire_time)
        .map_or_else(
            || format!("days:{}", item.remain_days),
            |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
    format!("{}@{end}", item.resource_id)
}

/// One funds check of `scope`: `items` is its successful listing, `funds` what the billing
/// API said of the prices and the balance, `previous` the episode so far.
pub(crate) fn evaluate_funds(
    rules: &RuleSet,
    scope: &Scope,
    items: &[Item],
    check_days: i64,
    funds: &RenewalFunds,
    previous: Option<&FundsAtRisk>,
    now: DateTime<Utc>,
) -> FundsEvaluation {
    let soon = renewing_soon(items, check_days, now);
    if !soon.is_empty() && funds.prices.is_empty() {
        // Nothing could be priced: the sum is unknown, not zero. The episode stands as it
        // was; a later check that prices them decides.
        return FundsEvaluation {
            state: previous.cloned(),
            alerts: Vec::new(),
        };
    }
    let total = funds.total();
    if soon.is_empty() || funds.balance >= total {
        return FundsEvaluation {
            state: None,
            alerts: Vec::new(),
        };
    }
    let mut state = previous.cloned().unwrap_or(FundsAtRisk {
        since: now,
        notified: BTreeMap::new(),
    });
    let staged: Vec<(String, Severity)> = soon.iter().map(|i| (term_key(i), stage(i))).collect();
    let news = staged
        .iter()
        .any(|(key, stage)| state.notified.get(key).is_none_or(|told| stage > told));
    let routed = routed_rules(rules, &soon);
    if !news || routed.is_empty() {
        return FundsEvaluation {
            state: Some(state),
            alerts: Vec::new(),
        };
    }
    let severity = staged
        .iter()
        .map(|(_, s)| *s)
        .max()
        .unwrap_or(Severity::Warning);
    let mut named: Vec<String> = staged
        .iter()
        .map(|(key, stage)| format!("{key}:{stage}"))
        .collect();
    named.sort();
    let id = DecisionKey::FundsAtRisk {
        scope,
        since: state.since,
        stage: severity,
        resources: &named,
    }
    .id();
    let summary = funds_summary(scope, &soon, funds, total);
    let min_days = soon.iter().map(|i| i.remain_days).min();
    let link = soon.iter().find_map(|i| i.next_action_url.clone());
    let alerts = routed
        .into_iter()
        .map(|rule| {
            let mut alert = polls::scope_alert(
                rule,
                scope,
                AlertKind::AutoRenewAtRisk,
                severity,
                id.clone(),
                summary.clone(),
                now,
            );
            alert.remain_days = min_days;
            alert.next_action_url = link.clone();
            alert
        })
        .collect();
    for (key, stage) in staged {
        let told = state.notified.entry(key).or_insert(stage);
        *told = (*told).max(stage);
    }
    FundsEvaluation {
        state: Some(state),
        alerts: merge_shared(alerts),
    }
}

/// `auto-renewal at risk in prod: the balance of 100.00 CNY does not cover the 532.00 CNY
/// that renewing 1 resource for one month costs: db-01 (id, 5 days, 532.00)`.
fn funds_summary(scope: &Scope, soon: &[&Item], funds: &RenewalFunds, total: Decimal) -> String {
    let currency = &funds.currency;
    let mut names: Vec<String> = soon
        .iter()
        .take(NAMED_IN_SUMMARY)
        .map(|i| {
            let name = i
                .details
                .as_deref()
                .and_then(|d| d.name.as_deref())
                .unwrap_or(&i.key);
            let price = funds
                .prices
                .get(&i.resource_id)
                .map_or_else(|| "price unknown".to_string(), |p| p.to_string());
            format!(
                "{name} ({}, {}, {price})",
                i.resource_id,
                plural_days(i.remain_days)
            )
        })
        .collect();
    if soon.len() > NAMED_IN_SUMMARY {
        names.push(format!("and {} more", soon.len() - NAMED_IN_SUMMARY));
    }
    let resources = if soon.len() == 1 {
        "1 resource".to_string()
    } else {
        format!("{} resources", soon.len())
    };
    let mut text = format!(
        "auto-renewal at risk in {}: the balance of {} {currency} does not cover the {total} \
         {currency} that renewing {resources} for one month costs: {}",
        scope.account,
        funds.balance,
        names.join(", ")
    );
    if !funds.unpriced.is_empty() {
        text.push_str(&format!(
            " ({} could not be priced and are not in the sum)",
            funds.unpriced.len()
        ));
    }
    text
}
