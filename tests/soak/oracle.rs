//! The soak's oracle: the rules of docs/design.md ("Rules and their semantics") written again,
//! independently of `renewd::rules`, and applied to the data the recorded cycles saw. It says
//! which decisions must have been made, with their ids, and which message each receiver must
//! have got for each cycle.
//!
//! Decision ids follow renewd's documented scheme: SHA-256 over the parts that make a decision
//! unique, each followed by a NUL byte, first 16 bytes in hex. Package decisions:
//! `account, project, key, resource id, rule ("" for facts shared by all rules), kind, detail,
//! "epoch:<renewals>"`; poll decisions: `account, project, "", "", "", kind, episode`.
//! Timestamps in ids are the recorded cycle's start, RFC 3339 with nanoseconds.

use crate::scenario::Pkg;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

pub fn decision_id(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    hex::encode(&hasher.finalize()[..16])
}

/// One rule of the soak's config.
#[derive(Debug, Clone)]
pub struct RuleSpec {
    pub name: &'static str,
    /// A package-key prefix (the config's glob `<prefix>*`); `None` matches every package.
    pub package_prefix: Option<&'static str>,
    pub thresholds: Vec<i64>,
    pub receivers: Vec<&'static str>,
    pub notify_renewed: bool,
}

impl RuleSpec {
    fn matches(&self, key: &str) -> bool {
        self.package_prefix.is_none_or(|p| key.starts_with(p))
    }

    /// The tightest threshold at or above the remaining days.
    fn stage(&self, remain: i64) -> Option<i64> {
        self.thresholds
            .iter()
            .copied()
            .filter(|t| remain <= *t)
            .min()
    }
}

/// A decision the daemon must have made.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub id: String,
    pub kind: &'static str,
    pub severity: &'static str,
    /// The rule named in the alert (for facts shared by several rules: the first of them).
    pub rule: &'static str,
    pub project: String,
    pub package: Option<String>,
    pub resource_id: Option<String>,
    pub status: Option<i64>,
    pub remain: Option<i64>,
    pub threshold: Option<i64>,
    pub receivers: Vec<&'static str>,
    /// Index of the recorded cycle that made it.
    pub cycle: usize,
}

/// The message one receiver must get for one cycle.
#[derive(Debug, Clone)]
pub struct Message {
    pub cycle: usize,
    pub receiver: &'static str,
    /// Sorted.
    pub ids: Vec<String>,
}

#[derive(Debug, Clone, Default)]
struct Progress {
    notified_stage: Option<i64>,
    expired_notified: bool,
    /// Statuses `expired` was sent for in this renewal cycle.
    expired_for: BTreeSet<i64>,
    alerted: bool,
    vanished_notified: bool,
}

#[derive(Debug, Clone)]
struct Known {
    last: Pkg,
    renewals: u32,
    last_seen: String,
    progress: BTreeMap<&'static str, Progress>,
}

#[derive(Debug, Clone, Default)]
struct Health {
    failures: u32,
    notified: bool,
    since: Option<String>,
}

pub struct Oracle {
    account: String,
    rules: Vec<RuleSpec>,
    failure_alert_after: u32,
    /// Per project: known packages by (key, resource id).
    known: BTreeMap<String, BTreeMap<(String, String), Known>>,
    health: BTreeMap<String, Health>,
    pub decisions: Vec<Decision>,
    pub messages: Vec<Message>,
    /// Index in `decisions` by id.
    ids: HashMap<String, usize>,
}

fn expired_status(status: i64) -> bool {
    matches!(status, 3 | 4 | 5 | 99)
}

fn severity_for(remain: i64) -> &'static str {
    if remain <= 1 {
        "critical"
    } else if remain <= 7 {
        "warning"
    } else {
        "info"
    }
}

impl Oracle {
    pub fn new(account: &str, rules: Vec<RuleSpec>, failure_alert_after: u32) -> Oracle {
        Oracle {
            account: account.to_string(),
            rules,
            failure_alert_after,
            known: BTreeMap::new(),
            health: BTreeMap::new(),
            decisions: Vec::new(),
            messages: Vec::new(),
            ids: HashMap::new(),
        }
    }

    pub fn decision(&self, id: &str) -> Option<&Decision> {
        self.ids.get(id).map(|&i| &self.decisions[i])
    }

    /// Recorded cycle `cycle`, started at `now`, saw `polls` (project, packages or a failure).
    pub fn cycle(&mut self, cycle: usize, now: &str, polls: &[(String, Option<Vec<Pkg>>)]) {
        let mut made: Vec<Decision> = Vec::new();
        for (project, outcome) in polls {
            made.extend(self.poll_health(cycle, now, project, outcome.is_some()));
            if let Some(packages) = outcome {
                made.extend(self.packages(cycle, now, project, packages));
            }
        }
        let mut by_receiver: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
        for (offset, decision) in made.iter().enumerate() {
            let index = self.decisions.len() + offset;
            assert!(
                self.ids.insert(decision.id.clone(), index).is_none(),
                "the oracle made decision {} twice: {decision:?}",
                decision.id
            );
            for receiver in &decision.receivers {
                by_receiver
                    .entry(receiver)
                    .or_default()
                    .insert(decision.id.clone());
            }
        }
        for (receiver, ids) in by_receiver {
            self.messages.push(Message {
                cycle,
                receiver,
                ids: ids.into_iter().collect(),
            });
        }
        self.decisions.extend(made);
    }

    fn poll_health(&mut self, cycle: usize, now: &str, project: &str, ok: bool) -> Vec<Decision> {
        let health = self.health.entry(project.to_string()).or_default();
        // Every rule of the soak matches every project.
        let receivers = union_receivers(self.rules.iter());
        let scope = |kind: &'static str, severity: &'static str, since: &str| Decision {
            id: decision_id(&[
                &self.account,
                project,
                "",
                "",
                "",
                kind,
                &format!("failing_since:{since}"),
            ]),
            kind,
            severity,
            rule: self.rules[0].name,
            project: project.to_string(),
            package: None,
            resource_id: None,
            status: None,
            remain: None,
            threshold: None,
            receivers: receivers.clone(),
            cycle,
        };
        let mut out = Vec::new();
        if ok {
            if health.notified {
                let since = health.since.clone().expect("a failing episode has a start");
                out.push(scope("poll_recovered", "info", &since));
            }
            *health = Health::default();
        } else {
            if health.failures == 0 || health.since.is_none() {
                health.since = Some(now.to_string());
            }
            health.failures += 1;
            if !health.notified && health.failures >= self.failure_alert_after {
                let since = health.since.clone().expect("set above");
                out.push(scope("poll_failed", "critical", &since));
                health.notified = true;
            }
        }
        out
    }

    fn packages(&mut self, cycle: usize, now: &str, project: &str, seen: &[Pkg]) -> Vec<Decision> {
        let rules = self.rules.clone();
        let account = self.account.clone();
        let known = self.known.entry(project.to_string()).or_default();
        let mut out = Vec::new();
        let mut listed = HashSet::new();

        for pkg in seen {
            let identity = (pkg.key.clone(), pkg.resource_id.clone());
            listed.insert(identity.clone());
            let previous = known.get(&identity);
            let renewed = previous.is_some_and(|prev| {
                let rise = pkg.remain - prev.last.remain;
                rise >= 2 || (rise >= 1 && expired_status(prev.last.status) && pkg.status == 2)
            });
            let renewals = previous.map_or(0, |p| p.renewals + u32::from(renewed));
            let status_change = previous
                .filter(|prev| prev.last.status != pkg.status)
                .map(|prev| (prev.last.status, prev.last_seen.clone()));
            let expired = pkg.remain <= 0 || expired_status(pkg.status);
            let id = |rule: &str, kind: &str, detail: &str| {
                decision_id(&[
                    &account,
                    project,
                    &pkg.key,
                    &pkg.resource_id,
                    rule,
                    kind,
                    detail,
                    &format!("epoch:{renewals}"),
                ])
            };
            let mut progress_by_rule = BTreeMap::new();
            let mut status_changed: Option<Decision> = None;
            for rule in rules.iter().filter(|r| r.matches(&pkg.key)) {
                let old = previous
                    .and_then(|p| p.progress.get(rule.name))
                    .cloned()
                    .unwrap_or_default();
                let mut progress = if renewed {
                    Progress::default()
                } else {
                    old.clone()
                };
                progress.vanished_notified = false;
                let decision =
                    |kind: &'static str, severity: &'static str, detail: &str| Decision {
                        id: id(
                            if kind == "status_changed" {
                                ""
                            } else {
                                rule.name
                            },
                            kind,
                            detail,
                        ),
                        kind,
                        severity,
                        rule: rule.name,
                        project: project.to_string(),
                        package: Some(pkg.key.clone()),
                        resource_id: Some(pkg.resource_id.clone()),
                        status: Some(pkg.status),
                        remain: Some(pkg.remain),
                        threshold: None,
                        receivers: rule.receivers.clone(),
                        cycle,
                    };
                if renewed && old.alerted && rule.notify_renewed {
                    out.push(decision("renewed", "info", "renewed"));
                }
                let mut raised_expired = false;
                if expired {
                    let new_status =
                        expired_status(pkg.status) && !progress.expired_for.contains(&pkg.status);
                    if !progress.expired_notified || new_status {
                        out.push(decision(
                            "expired",
                            "critical",
                            &format!("status:{}", pkg.status),
                        ));
                        progress.expired_notified = true;
                        progress.expired_for.insert(pkg.status);
                        progress.alerted = true;
                        raised_expired = true;
                    }
                } else if !progress.expired_notified {
                    // After `expired`, no `expiring` in the same renewal cycle.
                    if let Some(stage) = rule.stage(pkg.remain) {
                        if progress.notified_stage.is_none_or(|sent| stage < sent) {
                            let mut d = decision(
                                "expiring",
                                severity_for(pkg.remain),
                                &format!("threshold:{stage}"),
                            );
                            d.threshold = Some(stage);
                            out.push(d);
                            progress.notified_stage = Some(stage);
                            progress.alerted = true;
                        }
                    }
                }
                // A status change is one fact, told once to every rule's receivers — except
                // through a rule whose `expired` alert for the new status already tells it.
                if let Some((from, since)) = &status_change {
                    if !raised_expired {
                        let severity = if pkg.status == 2 { "info" } else { "warning" };
                        let detail = format!("status:{from}->{}:{since}", pkg.status);
                        match &mut status_changed {
                            Some(shared) => add_receivers(&mut shared.receivers, &rule.receivers),
                            None => {
                                status_changed = Some(decision("status_changed", severity, &detail))
                            }
                        }
                    }
                }
                progress_by_rule.insert(rule.name, progress);
            }
            out.extend(status_changed);
            known.insert(
                identity,
                Known {
                    last: pkg.clone(),
                    renewals,
                    last_seen: now.to_string(),
                    progress: progress_by_rule,
                },
            );
        }

        // Known packages the answer no longer lists: vanished, told once.
        for ((key, resource_id), state) in known.iter_mut() {
            if listed.contains(&(key.clone(), resource_id.clone())) {
                continue;
            }
            let mut vanished: Option<Decision> = None;
            for rule in rules.iter().filter(|r| r.matches(key)) {
                let progress = state.progress.entry(rule.name).or_default();
                if progress.vanished_notified {
                    continue;
                }
                progress.vanished_notified = true;
                match &mut vanished {
                    Some(shared) => add_receivers(&mut shared.receivers, &rule.receivers),
                    None => {
                        vanished = Some(Decision {
                            id: decision_id(&[
                                &account,
                                project,
                                key,
                                resource_id,
                                "",
                                "vanished",
                                &format!("vanished:{}", state.last_seen),
                                &format!("epoch:{}", state.renewals),
                            ]),
                            kind: "vanished",
                            severity: "warning",
                            rule: rule.name,
                            project: project.to_string(),
                            package: Some(key.clone()),
                            resource_id: Some(resource_id.clone()),
                            status: Some(state.last.status),
                            remain: Some(state.last.remain),
                            threshold: None,
                            receivers: rule.receivers.clone(),
                            cycle,
                        })
                    }
                }
            }
            out.extend(vanished);
        }
        out
    }
}

fn add_receivers(to: &mut Vec<&'static str>, more: &[&'static str]) {
    for r in more {
        if !to.contains(r) {
            to.push(r);
        }
    }
}

fn union_receivers<'a>(rules: impl Iterator<Item = &'a RuleSpec>) -> Vec<&'static str> {
    let mut all = Vec::new();
    for rule in rules {
        add_receivers(&mut all, &rule.receivers);
    }
    all
}
