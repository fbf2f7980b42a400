//! The alerts that still hold for one receiver: what a receiver that keeps alerts open
//! (Alertmanager's API) is given again after every cycle.

use super::*;
use crate::model::{Alert, AlertKind, ItemId, Scope};
use rusqlite::params_from_iter;
use std::collections::HashMap;

/// Package kinds that open (`expiring`, `expired`, `auto_renew_failed`) or end (`renewed`,
/// `vanished`) a package's condition.
const CONDITION_KINDS: [AlertKind; 5] = [
    AlertKind::Expiring,
    AlertKind::Expired,
    AlertKind::AutoRenewFailed,
    AlertKind::Renewed,
    AlertKind::Vanished,
];
/// Kinds that open or end an account/project's poll failure.
const POLL_KINDS: [AlertKind; 2] = [AlertKind::PollFailed, AlertKind::PollRecovered];

impl StateStore {
    /// The decisions routed to `receiver` that still hold, oldest first:
    /// - per package, the latest `expiring`, `expired`, `renewed` or `vanished` decision routed
    ///   to it, when that is `expiring` or `expired`, the package is still listed (not
    ///   vanished) and the decision's rule still counts it alerted in the package's current
    ///   renewal cycle (a renewal resets that, also when no `renewed` notice went out);
    /// - per account/project, the latest `poll_failed` or `poll_recovered` routed to it, when
    ///   that is `poll_failed` and the poll health still owes a `poll_recovered`.
    ///
    /// `status_changed` is an event, not a condition: it never holds.
    pub(crate) fn active_alerts(&self, receiver: &str) -> Result<Vec<Alert>, StateError> {
        let packages: HashMap<ItemId, crate::rules::ItemState> = self
            .all_packages()?
            .into_iter()
            .map(|record| (record.id, record.state))
            .collect();
        let health: HashMap<Scope, crate::rules::PollHealth> =
            self.all_health()?.into_iter().collect();
        let mut active: Vec<Alert> = self
            .latest_routed(receiver, &CONDITION_KINDS)?
            .into_iter()
            .filter(|alert| {
                matches!(
                    alert.kind,
                    AlertKind::Expiring | AlertKind::Expired | AlertKind::AutoRenewFailed
                ) && package_id(alert)
                    .and_then(|id| packages.get(&id))
                    .is_some_and(|state| {
                        !state.vanished && state.rules.get(&alert.rule).is_some_and(|p| p.alerted)
                    })
            })
            .collect();
        active.extend(
            self.latest_routed(receiver, &POLL_KINDS)?
                .into_iter()
                .filter(|alert| {
                    alert.kind == AlertKind::PollFailed
                        && health
                            .get(&alert.scope())
                            .is_some_and(|h| h.failing_notified)
                }),
        );
        active.sort_by(|a, b| (a.raised_at, &a.id).cmp(&(b.raised_at, &b.id)));
        Ok(active)
    }

    /// Per package (or account/project, for poll kinds), the latest decision of one of
    /// `kinds` that was routed to `receiver`.
    fn latest_routed(&self, receiver: &str, kinds: &[AlertKind]) -> Result<Vec<Alert>, StateError> {
        let path = &self.path;
        // ?1 is the receiver, the kinds follow.
        let placeholders = (2..kinds.len() + 2)
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT d.alert_json, d.receivers_json FROM decisions d
             WHERE d.seq IN (
                 SELECT max(seq) FROM decisions
                 WHERE kind IN ({placeholders})
                   AND EXISTS (SELECT 1 FROM json_each(receivers_json) WHERE value = ?1)
                 GROUP BY account, project_id, package_key, resource_id)
               -- What a silence holds back for this receiver is not open for it (yet).
               AND NOT EXISTS (SELECT 1 FROM held_decisions h
                               WHERE h.alert_id = d.id AND h.receiver = ?1)
             ORDER BY d.seq"
        );
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(sql_err(path, "preparing the active alert query"))?;
        let values = [receiver]
            .into_iter()
            .chain(kinds.iter().map(|k| k.as_str()));
        let rows: Vec<(String, String)> = stmt
            .query_map(params_from_iter(values), |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .map_err(sql_err(path, "reading active alerts"))?
            .collect::<Result<_, _>>()
            .map_err(sql_err(path, "reading active alerts"))?;
        rows.iter().map(|(a, r)| decode_alert(path, a, r)).collect()
    }
}

fn package_id(alert: &Alert) -> Option<ItemId> {
    Some(ItemId {
        scope: alert.scope(),
        key: alert.package.clone()?,
        resource_id: alert.resource_id.clone()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Item, Severity};
    use crate::rules::{ItemState, PollHealth, RuleProgress};
    use chrono::{DateTime, Utc};

    /// Queues every pair offered: who was told before does not matter to what is active.
    fn queue_all(ledger: &QueueLedger<'_>, offers: &[Offer<'_>]) -> Result<(), StateError> {
        offers
            .iter()
            .try_for_each(|o| ledger.enqueue(o.receiver, o.alert_id))
    }

    fn at(day: u32) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2026-11-{day:02}T01:00:00Z"))
            .unwrap()
            .with_timezone(&Utc)
    }

    fn scope(project: &str) -> Scope {
        Scope {
            account: "prod".into(),
            project_id: Some(project.into()),
            source: Default::default(),
        }
    }

    fn package(key: &str) -> Item {
        Item {
            scope: scope("p"),
            key: key.into(),
            resource_id: format!("r-{key}"),
            service_type: None,
            status: Some(crate::model::PackageStatus::Active),
            remain_days: 5,
            next_action_url: None,
            details: None,
        }
    }

    fn state(key: &str, alerted: bool, vanished: bool) -> (ItemId, ItemState) {
        let p = package(key);
        let progress = RuleProgress {
            alerted,
            ..RuleProgress::default()
        };
        (
            p.identity(),
            ItemState {
                last: p,
                epoch: 0,
                vanished,
                first_seen: at(1),
                last_seen: at(1),
                rules: [("default".to_string(), progress)].into(),
            },
        )
    }

    fn decision(key: Option<&str>, kind: AlertKind, day: u32, receivers: &[&str]) -> Alert {
        let p = package(key.unwrap_or("-"));
        Alert {
            id: format!("{key:?}-{kind}-{day}"),
            kind,
            severity: Severity::Warning,
            rule: "default".into(),
            account: "prod".into(),
            project_id: Some("p".into()),
            source: Default::default(),
            package: key.map(str::to_string),
            resource_id: key.map(|_| p.resource_id.clone()),
            service_type: None,
            package_status: Some(2),
            resource: Default::default(),
            package_status_name: None,
            remain_days: Some(5),
            threshold: Some(7),
            next_action_url: None,
            summary: String::new(),
            raised_at: at(day),
            previous_status: None,
            reminder: false,
            error: None,
            receivers: receivers.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn only_the_latest_decision_that_still_holds_is_active() {
        use AlertKind::*;
        let dir = tempfile::tempdir().unwrap();
        let mut store = StateStore::open(dir.path().join("state.db")).unwrap();
        let record = CycleRecord {
            started_at: at(1),
            packages: vec![
                state("held", true, false),
                state("renewed", false, false),
                state("silently-renewed", false, false),
                state("elsewhere", true, false),
                state("vanished", true, true),
            ],
            health: vec![
                (
                    scope("failing"),
                    PollHealth {
                        failing_notified: true,
                        ..PollHealth::default()
                    },
                ),
                (scope("recovered"), PollHealth::default()),
            ],
            alerts: vec![
                decision(Some("held"), Expiring, 1, &["am"]),
                decision(Some("held"), Expired, 3, &["am", "ops"]),
                // A later decision routed elsewhere does not hide the one routed to "am".
                decision(Some("held"), Expired, 4, &["ops"]),
                decision(Some("renewed"), Expiring, 1, &["am"]),
                decision(Some("renewed"), Renewed, 2, &["am"]),
                decision(Some("silently-renewed"), Expiring, 1, &["am"]),
                decision(Some("elsewhere"), Expiring, 1, &["ops"]),
                decision(Some("vanished"), Expiring, 1, &["am"]),
                {
                    let mut a = decision(None, PollFailed, 2, &["am"]);
                    a.project_id = Some("failing".into());
                    a
                },
                {
                    let mut a = decision(None, PollFailed, 1, &["am"]);
                    a.project_id = Some("recovered".into());
                    a
                },
                {
                    let mut a = decision(None, PollRecovered, 2, &["am"]);
                    a.project_id = Some("recovered".into());
                    a
                },
            ],
            deliveries: vec![],
        };
        store.record_cycle(&record, queue_all).unwrap();
        let active: Vec<(Option<String>, Option<String>, AlertKind)> = store
            .active_alerts("am")
            .unwrap()
            .into_iter()
            .map(|a| (a.package, a.project_id, a.kind))
            .collect();
        assert_eq!(
            active,
            [
                (None, Some("failing".into()), PollFailed),
                (Some("held".into()), Some("p".into()), Expired),
            ]
        );
        assert!(store.active_alerts("nobody").unwrap().is_empty());
    }
}
