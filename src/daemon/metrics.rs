//! Prometheus metrics of the daemon (`/metrics`): what each package's deadline looks like, how
//! polls and deliveries went, the outbox backlog and when a cycle last succeeded.
//!
//! The metric names are a contract (docs/metrics.md): alert rules are built on them.

use crate::cycle::CycleReport;
use crate::notify::outbox::{Outcome, OutcomeObserver};
use crate::state::PackageRecord;
use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::collections::HashSet;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

/// The content type of [`Metrics::encode`]'s output: the classic Prometheus text format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Buckets of `renewd_cycle_duration_seconds`: a cycle is a few HTTP requests, or up to a few
/// minutes when an API or a receiver is timing out.
const CYCLE_DURATION_BUCKETS: [f64; 10] = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

#[derive(Debug, thiserror::Error)]
pub(crate) enum MetricsError {
    #[error("cannot encode the metrics")]
    Encode(#[from] std::fmt::Error),
}

/// One item's series. `package` alone does not name an item: billing subscriptions share a
/// resource type code as their key, so `resource_id` tells them apart, and `source` says which
/// API reported the item (and so how its status number reads).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PackageLabels {
    account: String,
    project_id: String,
    package: String,
    resource_id: String,
    source: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AccountLabels {
    account: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PollLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NotificationLabels {
    receiver: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefreshLabels {
    receiver: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

/// Every metric renewd exports, in one registry.
pub(crate) struct Metrics {
    registry: Registry,
    package_expiry: Family<PackageLabels, Gauge>,
    package_status: Family<PackageLabels, Gauge>,
    /// The package series currently exported, so that a package no longer reported (vanished)
    /// is removed without clearing the family (a scrape never sees it empty).
    exported_packages: Mutex<HashSet<PackageLabels>>,
    polls: Family<PollLabels, Counter>,
    discoveries: Family<PollLabels, Counter>,
    notifications: Family<NotificationLabels, Counter>,
    refreshes: Family<RefreshLabels, Counter>,
    outbox_pending: Gauge,
    silences_active: Gauge,
    last_cycle_success: Gauge<f64, AtomicU64>,
    account_last_success: Family<AccountLabels, Gauge>,
    exported_accounts: Mutex<HashSet<String>>,
    heartbeat_failures: Counter,
    cycle_duration: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::default();
        // A timestamp in base units, as x509_cert_not_after: alert on
        // `renewd_package_expiry_timestamp_seconds - time() < 7 * 86400`.
        let package_expiry = Family::<PackageLabels, Gauge>::default();
        registry.register(
            "renewd_package_expiry_timestamp_seconds",
            "Unix time at which the item expires: 23:59:59 GMT+08:00 of the poll day in GMT+08:00 plus its remaining days",
            package_expiry.clone(),
        );
        let package_status = Family::<PackageLabels, Gauge>::default();
        registry.register(
            "renewd_package_status",
            "Raw status of the item: packages 2 active, 5 grace, 4 retention, 3 deleted, 99 frozen; subscriptions 2 in use, 3 closed, 4 frozen, 5 expired",
            package_status.clone(),
        );
        let polls = Family::<PollLabels, Counter>::default();
        registry.register(
            "renewd_polls",
            "Polls of the sources' APIs, one per account scope (project, account, subscriptions), by outcome (success, failure)",
            polls.clone(),
        );
        let discoveries = Family::<PollLabels, Counter>::default();
        registry.register(
            "renewd_project_discoveries",
            "Listings of an account's CodeArts projects (projects = \"all\"), one per account per cycle, by outcome (success, failure)",
            discoveries.clone(),
        );
        let notifications = Family::<NotificationLabels, Counter>::default();
        registry.register(
            "renewd_notifications",
            "Delivery attempts per receiver, by outcome (delivered, retrying, failed, abandoned)",
            notifications.clone(),
        );
        let refreshes = Family::<RefreshLabels, Counter>::default();
        registry.register(
            "renewd_alert_refreshes",
            "Refreshes of the open alerts of receivers that keep alerts open (alertmanager_api) after a cycle, by outcome (refreshed, failed)",
            refreshes.clone(),
        );
        let outbox_pending = Gauge::default();
        registry.register(
            "renewd_outbox_pending",
            "Deliveries decided but not delivered yet (retried with backoff)",
            outbox_pending.clone(),
        );
        let silences_active = Gauge::default();
        registry.register(
            "renewd_silences_active",
            "Silences in force at the last cycle (renewd silence add)",
            silences_active.clone(),
        );
        let last_cycle_success = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "renewd_last_cycle_success_timestamp_seconds",
            "Unix time at which the last cycle whose polls all succeeded finished",
            last_cycle_success.clone(),
        );
        // Per account, so that an alert names the account renewd stopped seeing.
        let account_last_success = Family::<AccountLabels, Gauge>::default();
        registry.register(
            "renewd_account_last_success_timestamp_seconds",
            "Unix time of the last cycle in which every poll of the account succeeded",
            account_last_success.clone(),
        );
        let heartbeat_failures = Counter::default();
        registry.register(
            "renewd_heartbeat_failures",
            "Heartbeats ([heartbeat]) that failed after their retry",
            heartbeat_failures.clone(),
        );
        let cycle_duration = Histogram::new(CYCLE_DURATION_BUCKETS);
        registry.register(
            "renewd_cycle_duration_seconds",
            "How long cycles took, from the first poll to the last delivery attempt",
            cycle_duration.clone(),
        );
        // A gauge set to 1 rather than an OpenMetrics `info` metric: the classic text parsers
        // (promtool, older scrapers) do not know the `info` type.
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register(
            "renewd_build_info",
            "Always 1; the version label says which renewd is running",
            build_info,
        );
        // Series that exist from the start, so that rate() and absent() behave before the
        // first failure.
        for outcome in ["success", "failure"] {
            let _ = polls.get_or_create(&PollLabels { outcome });
            let _ = discoveries.get_or_create(&PollLabels { outcome });
        }
        Metrics {
            registry,
            package_expiry,
            package_status,
            exported_packages: Mutex::new(HashSet::new()),
            polls,
            discoveries,
            notifications,
            refreshes,
            outbox_pending,
            silences_active,
            last_cycle_success,
            account_last_success,
            exported_accounts: Mutex::new(HashSet::new()),
            heartbeat_failures,
            cycle_duration,
        }
    }

    /// Creates the notification series of these receivers at zero (at start and on reload).
    pub(crate) fn add_receivers<'a>(&self, receivers: impl IntoIterator<Item = &'a str>) {
        for receiver in receivers {
            for outcome in Outcome::ALL {
                let _ = self.notifications.get_or_create(&NotificationLabels {
                    receiver: receiver.to_string(),
                    outcome: outcome.as_str(),
                });
            }
        }
    }

    pub(crate) fn heartbeat_failed(&self) {
        self.heartbeat_failures.inc();
    }

    /// Drops the per-account series of accounts a reload removed: renewd no longer watches
    /// them, so an alert on their silence would be false.
    pub(crate) fn keep_accounts<'a>(&self, accounts: impl IntoIterator<Item = &'a str>) {
        let keep: HashSet<&str> = accounts.into_iter().collect();
        let mut exported = self
            .exported_accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        exported.retain(|account| {
            let kept = keep.contains(account.as_str());
            if !kept {
                self.account_last_success.remove(&AccountLabels {
                    account: account.clone(),
                });
            }
            kept
        });
    }

    /// Counts the polls of a finished cycle and its duration; a cycle whose polls all succeeded
    /// moves `renewd_last_cycle_success_timestamp_seconds`.
    pub(crate) fn record_cycle(&self, report: &CycleReport, finished_at: DateTime<Utc>) {
        self.silences_active.set(report.silences_in_force as i64);
        let mut failing = HashSet::new();
        for poll in &report.polls {
            let outcome = if poll.ok { "success" } else { "failure" };
            self.polls.get_or_create(&PollLabels { outcome }).inc();
            if !poll.ok {
                failing.insert(poll.account.as_str());
            }
        }
        for discovery in &report.discoveries {
            let ok = discovery.ok && discovery.bad_entries.is_empty();
            let outcome = if ok { "success" } else { "failure" };
            self.discoveries
                .get_or_create(&PollLabels { outcome })
                .inc();
            if !ok {
                failing.insert(discovery.account.as_str());
            }
        }
        let mut exported = self
            .exported_accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // An account whose discovery found no project has no poll, and was seen all the same.
        let accounts = report
            .polls
            .iter()
            .map(|p| &p.account)
            .chain(report.discoveries.iter().map(|d| &d.account));
        for account in accounts {
            if !failing.contains(account.as_str()) {
                exported.insert(account.clone());
                self.account_last_success
                    .get_or_create(&AccountLabels {
                        account: account.clone(),
                    })
                    .set(finished_at.timestamp());
            }
        }
        self.cycle_duration
            .observe(report.duration_ms as f64 / 1000.0);
        if report.failed_polls() == 0 {
            self.set_last_cycle_success(finished_at);
        }
    }

    pub(crate) fn set_last_cycle_success(&self, at: DateTime<Utc>) {
        self.last_cycle_success
            .set(at.timestamp_millis() as f64 / 1000.0);
    }

    /// Exports every package the state store knows and still sees; packages that vanished
    /// are removed.
    pub(crate) fn set_packages(&self, packages: &[PackageRecord]) {
        let mut exported = self
            .exported_packages
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut current = HashSet::new();
        for record in packages.iter().filter(|p| !p.state.vanished) {
            let last = &record.state.last;
            let labels = PackageLabels {
                account: last.scope.account.clone(),
                project_id: last.scope.project_label().to_string(),
                package: last.key.clone(),
                resource_id: last.resource_id.clone(),
                source: last.scope.source.as_str(),
            };
            match crate::model::billing_expiry(record.state.last_seen, last.remain_days) {
                Some(expiry) => {
                    self.package_expiry
                        .get_or_create(&labels)
                        .set(expiry.timestamp());
                }
                None => {
                    self.package_expiry.remove(&labels);
                }
            }
            match last.status_code() {
                Some(status) => {
                    self.package_status.get_or_create(&labels).set(status);
                }
                // Unknown is not a number: leave the series out rather than invent one.
                None => {
                    self.package_status.remove(&labels);
                }
            }
            current.insert(labels);
        }
        for gone in exported.difference(&current) {
            self.package_expiry.remove(gone);
            self.package_status.remove(gone);
        }
        *exported = current;
    }

    pub(crate) fn set_outbox_pending(&self, pending: u64) {
        self.outbox_pending
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
    }

    /// The exposition text in the classic Prometheus format (see [`to_classic_text`]).
    pub(crate) fn encode(&self) -> Result<String, MetricsError> {
        let mut open_metrics = String::new();
        prometheus_client::encoding::text::encode(&mut open_metrics, &self.registry)?;
        Ok(to_classic_text(&open_metrics))
    }
}

/// prometheus-client writes OpenMetrics, where a counter family `x` has samples `x_total`. The
/// classic text format (what `promtool check metrics` and older scrapers parse) names the family
/// `x_total` in `# HELP`/`# TYPE`, and has no `# EOF`. Every Prometheus reads the classic format.
fn to_classic_text(open_metrics: &str) -> String {
    let counters: HashSet<&str> = open_metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(open_metrics.len() + 64);
    for line in open_metrics.lines() {
        if line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

impl OutcomeObserver for Metrics {
    fn observe(&self, receiver: &str, outcome: Outcome) {
        self.notifications
            .get_or_create(&NotificationLabels {
                receiver: receiver.to_string(),
                outcome: outcome.as_str(),
            })
            .inc();
    }

    fn refreshed(&self, receiver: &str, ok: bool) {
        self.refreshes
            .get_or_create(&RefreshLabels {
                receiver: receiver.to_string(),
                outcome: if ok { "refreshed" } else { "failed" },
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_encoding_error_leaves_its_cause_to_source() {
        let error = MetricsError::Encode(std::fmt::Error);
        crate::tests::assert_cause_told_once(&error, &std::fmt::Error.to_string());
    }

    #[test]
    fn exposition_names_the_contracted_metrics() {
        let metrics = Metrics::new();
        metrics.add_receivers(["ops"]);
        metrics.observe("ops", Outcome::Delivered);
        metrics.refreshed("am", false);
        metrics.set_outbox_pending(3);
        let text = metrics.encode().unwrap();
        for line in [
            "renewd_polls_total{outcome=\"success\"} 0",
            "renewd_project_discoveries_total{outcome=\"failure\"} 0",
            "renewd_notifications_total{receiver=\"ops\",outcome=\"delivered\"} 1",
            "renewd_notifications_total{receiver=\"ops\",outcome=\"retrying\"} 0",
            "renewd_outbox_pending 3",
            "renewd_alert_refreshes_total{receiver=\"am\",outcome=\"failed\"} 1",
            &format!(
                "renewd_build_info{{version=\"{}\"}} 1",
                env!("CARGO_PKG_VERSION")
            ),
            "renewd_cycle_duration_seconds_count 0",
            "renewd_last_cycle_success_timestamp_seconds 0.0",
            "# TYPE renewd_polls_total counter",
            "# TYPE renewd_notifications_total counter",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in:\n{text}"
            );
        }
        assert!(!text.contains("# EOF"), "{text}");
    }

    fn record(
        scope: crate::model::Scope,
        key: &str,
        resource_id: &str,
        days: i64,
    ) -> PackageRecord {
        let seen = "2026-11-25T20:00:00Z".parse().unwrap();
        let item = crate::model::Item {
            scope,
            key: key.to_string(),
            resource_id: resource_id.to_string(),
            service_type: None,
            status: Some(crate::model::PackageStatus::from(2)),
            remain_days: days,
            next_action_url: None,
            details: None,
        };
        PackageRecord {
            id: item.identity(),
            state: crate::rules::ItemState {
                last: item,
                epoch: 0,
                vanished: false,
                first_seen: seen,
                last_seen: seen,
                rules: Default::default(),
            },
            last_alert: None,
        }
    }

    #[test]
    fn every_item_has_its_own_series_whatever_its_source() {
        use crate::model::Scope;
        let metrics = Metrics::new();
        // Two billing resources of one resource type share their key; a CodeArts package of
        // the same account as a whole has the same project label ("").
        let subscriptions = Scope::subscriptions("prod");
        let mut records = vec![
            record(subscriptions.clone(), "hws.resource.type.vm", "ecs-1", 11),
            record(subscriptions.clone(), "hws.resource.type.vm", "ecs-2", 3),
            record(
                Scope::packages("prod", None),
                "codeartsStorageExtension",
                "r1",
                11,
            ),
        ];
        metrics.set_packages(&records);
        let text = metrics.encode().unwrap();
        for (labels, expiry) in [
            (
                r#"account="prod",project_id="",package="hws.resource.type.vm",resource_id="ecs-1",source="subscriptions""#,
                1_796_659_199,
            ),
            (
                r#"account="prod",project_id="",package="hws.resource.type.vm",resource_id="ecs-2",source="subscriptions""#,
                1_796_659_199 - 8 * 86400,
            ),
            (
                r#"account="prod",project_id="",package="codeartsStorageExtension",resource_id="r1",source="packages""#,
                1_796_659_199,
            ),
        ] {
            let line = format!("renewd_package_expiry_timestamp_seconds{{{labels}}} {expiry}");
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in:\n{text}"
            );
            let line = format!("renewd_package_status{{{labels}}} 2");
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in:\n{text}"
            );
        }
        // One of the two resources vanishes: its series go, its sibling's stay.
        records[1].state.vanished = true;
        metrics.set_packages(&records);
        let text = metrics.encode().unwrap();
        assert!(!text.contains("ecs-2"), "{text}");
        assert!(text.contains(r#"resource_id="ecs-1""#), "{text}");
    }

    #[test]
    fn expiry_is_the_end_of_the_billing_day_in_unix_seconds() {
        // Read at 20:00 UTC on 2026-11-25: already the 26th in GMT+08:00; 11 days later is
        // 2026-12-07, which ends at 23:59:59 GMT+08:00 = 15:59:59 UTC.
        let read_at = "2026-11-25T20:00:00Z".parse().unwrap();
        let expiry = crate::model::billing_expiry(read_at, 11).unwrap();
        assert_eq!(expiry.to_rfc3339(), "2026-12-07T15:59:59+00:00");
        assert_eq!(expiry.timestamp(), 1_796_659_199);
    }
}
