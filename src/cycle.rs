//! One cycle: poll every account/project → evaluate every package → record decisions and their
//! pending deliveries in one transaction → deliver. Each step logs a structured event.

use crate::codearts::{ApiError, CodeArtsClient, PollResult};
use crate::config::Config;
use crate::model::{package_status_name, Alert, Package, PackageId, Scope};
use crate::notify::outbox::{self, DeliveryReport, RetryPolicy};
use crate::notify::Notifiers;
use crate::rules::{self, Observation, PackageState, PollHealth, RuleSet};
use crate::state::{CycleRecord, NewDelivery, StateError, StateStore};
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("cannot set up account {account}: {message}")]
    Client { account: String, message: String },
    #[error("cannot set up receivers: {0}")]
    Notifiers(String),
    #[error("cannot compile rules: {0}")]
    Rules(String),
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

/// Everything built once from a config and reused by every cycle: rules, API clients (with their
/// cached logins) and receivers. A reload builds a new one.
pub struct Runtime {
    pub config: Arc<Config>,
    pub rules: RuleSet,
    pub clients: Vec<CodeArtsClient>,
    pub notifiers: Notifiers,
}

impl Runtime {
    pub fn new(config: Config) -> Result<Runtime, CycleError> {
        let http = http_client()?;
        let rules = RuleSet::new(&config.rules).map_err(|e| CycleError::Rules(e.to_string()))?;
        let clients = config
            .accounts
            .iter()
            .map(|account| {
                CodeArtsClient::new(account, http.clone(), config.daemon.timeout).map_err(|e| {
                    CycleError::Client {
                        account: account.name.clone(),
                        message: e.to_string(),
                    }
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let notifiers = Notifiers::from_config(&config, http)
            .map_err(|e| CycleError::Notifiers(e.to_string()))?;
        Ok(Runtime {
            config: Arc::new(config),
            rules,
            clients,
            notifiers,
        })
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::new(self.config.daemon.max_delivery_age)
    }
}

/// The shared HTTP client (rustls with ring; no proxy guessing beyond the environment).
pub fn http_client() -> Result<reqwest::Client, CycleError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(concat!("renewd/", env!("CARGO_PKG_VERSION")))
        // A redirect could carry X-Auth-Token to another host: report 3xx instead of following.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| {
            let mut reason = crate::error_chain(&e);
            // rustls-platform-verifier reads the system's CA store; a minimal image may have none.
            if reason.contains("certificates") {
                reason.push_str(
                    " (renewd verifies servers against the system's CA certificates: install them, \
                     e.g. Debian's ca-certificates package, or point SSL_CERT_FILE at a bundle)",
                );
            }
            CycleError::Http(reason)
        })
}

/// One row of the `once` table and of `once --json`: a package and what was decided about it.
#[derive(Debug, Clone, Serialize)]
pub struct PackageRow {
    pub account: String,
    pub project_id: Option<String>,
    pub package: String,
    pub resource_id: String,
    pub service_type: Option<String>,
    pub package_status: Option<i64>,
    pub package_status_name: String,
    pub remain_days: i64,
    pub next_action_url: Option<String>,
    /// Kinds of the alerts raised for this package in this cycle.
    pub decisions: Vec<String>,
    /// True when the package is no longer reported by the API.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub vanished: bool,
}

/// How one account/project poll went.
#[derive(Debug, Clone, Serialize)]
pub struct PollReport {
    pub account: String,
    pub project_id: Option<String>,
    pub ok: bool,
    pub packages: usize,
    /// Entries the API sent that could not be read (missing `remainDays`, …).
    pub bad_entries: Vec<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CycleReport {
    pub started_at: DateTime<Utc>,
    pub dry_run: bool,
    pub polls: Vec<PollReport>,
    pub packages: Vec<PackageRow>,
    pub alerts: Vec<Alert>,
    pub deliveries: DeliveryReport,
    pub duration_ms: u128,
}

impl CycleReport {
    pub fn failed_polls(&self) -> usize {
        self.polls
            .iter()
            .filter(|p| !p.ok || !p.bad_entries.is_empty())
            .count()
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct CycleOptions {
    /// Evaluate and print, but send and record nothing.
    pub dry_run: bool,
}

/// Runs one cycle at `now`.
pub async fn run_cycle(
    runtime: &Runtime,
    store: &mut StateStore,
    options: CycleOptions,
    now: DateTime<Utc>,
) -> Result<CycleReport, CycleError> {
    let clock = Instant::now();
    let scopes: Vec<(&CodeArtsClient, Scope)> = runtime
        .clients
        .iter()
        .flat_map(|c| c.scopes().into_iter().map(move |s| (c, s)))
        .collect();
    tracing::info!(
        event = "cycle.started",
        scopes = scopes.len(),
        dry_run = options.dry_run,
        "cycle started"
    );

    let results: Vec<(Scope, Result<PollResult, ApiError>)> = stream::iter(scopes)
        .map(|(client, scope)| async move {
            let result = client.fetch(&scope).await;
            (scope, result)
        })
        .buffered(runtime.config.daemon.concurrency.max(1))
        .collect()
        .await;

    let mut record = CycleRecord {
        started_at: now,
        packages: Vec::new(),
        health: Vec::new(),
        alerts: Vec::new(),
        deliveries: Vec::new(),
    };
    let mut polls = Vec::new();
    let mut rows = Vec::new();
    for (scope, result) in results {
        let previous_health = store.poll_health(&scope)?;
        let outcome_info;
        let outcome = match &result {
            Ok(_) => Ok(()),
            Err(e) => {
                let failures = previous_health
                    .as_ref()
                    .map_or(0, |h| h.consecutive_failures)
                    + 1;
                outcome_info = e.to_info(failures);
                Err(&outcome_info)
            }
        };
        let health = rules::evaluate_poll(
            &runtime.rules,
            &scope,
            previous_health.as_ref(),
            outcome,
            runtime.config.daemon.failure_alert_after,
            now,
        );
        record.alerts.extend(health.alerts);
        record.health.push((scope.clone(), health.health));

        match result {
            Ok(poll) => {
                log_poll_success(&poll);
                polls.push(PollReport {
                    account: scope.account.clone(),
                    project_id: scope.project_id.clone(),
                    ok: true,
                    packages: poll.packages.len(),
                    bad_entries: poll
                        .bad_entries
                        .iter()
                        .map(|b| format!("{}: {}", b.key, b.reason))
                        .collect(),
                    error: None,
                });
                let previous: BTreeMap<PackageId, PackageState> =
                    store.package_states(&scope)?.into_iter().collect();
                evaluate_scope(runtime, &poll, &previous, now, &mut record, &mut rows);
            }
            Err(error) => {
                tracing::error!(
                    event = "poll.failed",
                    account = %scope.account,
                    project_id = scope.project_label(),
                    http_status = error.http_status,
                    error_code = error.code.as_deref().unwrap_or(""),
                    // The gateway's request id, else the v5 API's trace id: what support asks for.
                    request_id = error
                        .request_id
                        .as_deref()
                        .or(error.trace_id.as_deref())
                        .unwrap_or(""),
                    error = %error,
                    "poll failed"
                );
                polls.push(PollReport {
                    account: scope.account.clone(),
                    project_id: scope.project_id.clone(),
                    ok: false,
                    packages: 0,
                    bad_entries: Vec::new(),
                    error: Some(error.to_string()),
                });
                // A failed poll says nothing about packages: show what was known, decide nothing.
                for (_, state) in store.package_states(&scope)? {
                    rows.push(row(&state.last, &[], state.vanished));
                }
            }
        }
    }

    for alert in &record.alerts {
        tracing::info!(
            event = "alert.raised",
            id = %alert.id,
            kind = %alert.kind,
            severity = %alert.severity,
            rule = %alert.rule,
            account = %alert.account,
            project_id = alert.project_id.as_deref().unwrap_or(""),
            package = alert.package.as_deref().unwrap_or(""),
            remain_days = alert.remain_days,
            threshold = alert.threshold,
            receivers = %alert.receivers.join(","),
            "{}",
            alert.summary
        );
    }
    record.deliveries = digests(&record.alerts);

    let deliveries = if options.dry_run {
        DeliveryReport::default()
    } else {
        // Decisions and their pending deliveries are durable before anything is sent.
        store.record_cycle(&record)?;
        outbox::deliver_due(
            store,
            &runtime.notifiers,
            &runtime.retry_policy(),
            runtime.config.daemon.tz(),
        )
        .await?
    };

    let report = CycleReport {
        started_at: now,
        dry_run: options.dry_run,
        polls,
        packages: rows,
        alerts: record.alerts,
        deliveries,
        duration_ms: clock.elapsed().as_millis(),
    };
    tracing::info!(
        event = "cycle.finished",
        polls = report.polls.len(),
        polls_failed = report.failed_polls(),
        packages = report.packages.len(),
        alerts = report.alerts.len(),
        delivered = report.deliveries.delivered,
        pending = report.deliveries.pending,
        failed = report.deliveries.failed,
        duration_ms = report.duration_ms as u64,
        "cycle finished"
    );
    Ok(report)
}

fn log_poll_success(poll: &PollResult) {
    tracing::info!(
        event = "poll.succeeded",
        account = %poll.scope.account,
        project_id = poll.scope.project_label(),
        packages = poll.packages.len(),
        bad_entries = poll.bad_entries.len(),
        trace_id = poll.trace_id.as_deref().unwrap_or(""),
        "poll succeeded"
    );
    for bad in &poll.bad_entries {
        tracing::warn!(
            event = "poll.bad_entry",
            account = %poll.scope.account,
            project_id = poll.scope.project_label(),
            package = %bad.key,
            reason = %bad.reason,
            "package entry could not be read"
        );
    }
}

/// Evaluates every package of one successful poll, and every known package it no longer lists.
fn evaluate_scope(
    runtime: &Runtime,
    poll: &PollResult,
    previous: &BTreeMap<PackageId, PackageState>,
    now: DateTime<Utc>,
    record: &mut CycleRecord,
    rows: &mut Vec<PackageRow>,
) {
    let mut seen = HashSet::new();
    for package in &poll.packages {
        let id = package.identity();
        seen.insert(id.clone());
        let Some(evaluation) = rules::evaluate(
            &runtime.rules,
            previous.get(&id),
            Observation::Seen(package),
            now,
        ) else {
            continue;
        };
        tracing::info!(
            event = "package.checked",
            account = %package.scope.account,
            project_id = package.scope.project_label(),
            package = %package.key,
            resource_id = %package.resource_id,
            package_status = package.package_status,
            package_status_name = package_status_name(package.package_status),
            remain_days = package.remain_days,
            alerts = evaluation.alerts.len(),
            "package checked"
        );
        rows.push(row(package, &evaluation.alerts, false));
        record.alerts.extend(evaluation.alerts);
        record.packages.push((id, evaluation.state));
    }
    // Entries the API listed but we could not read are not "vanished".
    let unreadable: HashSet<&str> = poll.bad_entries.iter().map(|b| b.key.as_str()).collect();
    for (id, state) in previous {
        if seen.contains(id) || unreadable.contains(id.key.as_str()) {
            continue;
        }
        if let Some(evaluation) =
            rules::evaluate(&runtime.rules, Some(state), Observation::Missing, now)
        {
            rows.push(row(&state.last, &evaluation.alerts, true));
            record.alerts.extend(evaluation.alerts);
            record.packages.push((id.clone(), evaluation.state));
        }
    }
}

fn row(package: &Package, alerts: &[Alert], vanished: bool) -> PackageRow {
    PackageRow {
        account: package.scope.account.clone(),
        project_id: package.scope.project_id.clone(),
        package: package.key.clone(),
        resource_id: package.resource_id.clone(),
        service_type: package.service_type.clone(),
        package_status: package.package_status,
        package_status_name: package_status_name(package.package_status).to_string(),
        remain_days: package.remain_days,
        next_action_url: package.next_action_url.clone(),
        decisions: alerts.iter().map(|a| a.kind.to_string()).collect(),
        vanished,
    }
}

/// One digest per receiver: every alert of this cycle that goes to it, most urgent first.
fn digests(alerts: &[Alert]) -> Vec<NewDelivery> {
    let mut by_receiver: BTreeMap<&str, Vec<&Alert>> = BTreeMap::new();
    for alert in alerts {
        for receiver in &alert.receivers {
            by_receiver
                .entry(receiver.as_str())
                .or_default()
                .push(alert);
        }
    }
    by_receiver
        .into_iter()
        .map(|(receiver, mut list)| {
            list.sort_by_key(|a| a.urgency_key());
            let mut ids: Vec<String> = Vec::new();
            for alert in list {
                if !ids.contains(&alert.id) {
                    ids.push(alert.id.clone());
                }
            }
            NewDelivery {
                receiver: receiver.to_string(),
                alert_ids: ids,
            }
        })
        .collect()
}

/// What a poll-health record says, for `status`.
pub fn describe_health(health: &PollHealth) -> String {
    match (&health.last_error, health.consecutive_failures) {
        (_, 0) => "ok".to_string(),
        (Some(e), n) => format!("failing ({n}x): {}", e.error_msg),
        (None, n) => format!("failing ({n}x)"),
    }
}
