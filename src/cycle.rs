//! One cycle: poll every account/project → evaluate every package → record decisions and their
//! pending deliveries in one transaction → deliver. Each step logs a structured event.

use crate::app::App;
use crate::huawei::ApiError;
use crate::model::{Alert, Item, ItemId, RenewalFunds, Scope, Silence};
use crate::notify::outbox::{self, DeliveryReport, ReleaseReport};
use crate::rules::{self, ItemState, Observation, PollHealth, SilenceSet};
use crate::sources::{Discovery, PollResult, Source};
use crate::state::{BatchReads, CycleBatch, CycleId, StateError, StateStore};
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

/// A cycle stops only when the state store fails: everything else (a poll, a delivery) is an
/// outcome the cycle records and reports.
#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    #[error(transparent)]
    State(#[from] StateError),
}

/// One row of the `once` table and of `once --json`: a package and what was decided about it.
#[derive(Debug, Clone, Serialize)]
pub struct PackageRow {
    pub(crate) account: String,
    pub(crate) project_id: Option<String>,
    pub package: String,
    pub(crate) resource_id: String,
    pub(crate) service_type: Option<String>,
    pub(crate) package_status: Option<i64>,
    pub(crate) package_status_name: String,
    pub(crate) remain_days: i64,
    pub(crate) next_action_url: Option<String>,
    /// Kinds of the alerts raised for this package in this cycle.
    pub(crate) decisions: Vec<String>,
    /// True when the package is no longer reported by the API.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) vanished: bool,
    /// The silence in force that holds back what is decided about this package.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub silenced: Option<SilenceNote>,
}

/// A silence as `once` and `status` show it beside a package: who, until when, why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SilenceNote {
    pub id: i64,
    pub by: String,
    pub until: DateTime<Utc>,
    pub reason: String,
}

impl From<&Silence> for SilenceNote {
    fn from(silence: &Silence) -> Self {
        SilenceNote {
            id: silence.id,
            by: silence.created_by.clone(),
            until: silence.end(),
            reason: silence.reason.clone(),
        }
    }
}

impl SilenceNote {
    /// `#3 by alice until 2026-12-20 15:59 UTC`, for tables.
    pub(crate) fn describe(&self) -> String {
        format!(
            "#{} by {} until {}",
            self.id,
            self.by,
            self.until.format("%Y-%m-%d %H:%M UTC")
        )
    }
}

/// The silences in force at `now`, compiled; one whose globs no longer compile is reported
/// and left out (they were checked when it was added).
pub(crate) fn silences_in_force(
    store: &StateStore,
    now: DateTime<Utc>,
) -> Result<SilenceSet, CycleError> {
    let (set, refused) = SilenceSet::in_force(&store.silences(now)?, now);
    for (id, error) in refused {
        tracing::warn!(
            event = "silence.invalid",
            silence_id = id,
            error = %crate::error_chain(&error),
            "a stored silence cannot be matched; it is ignored"
        );
    }
    Ok(set)
}

/// How one account/project poll went.
#[derive(Debug, Clone, Serialize)]
pub struct PollReport {
    pub(crate) account: String,
    pub(crate) project_id: Option<String>,
    pub(crate) ok: bool,
    pub(crate) packages: usize,
    /// Entries the API sent that could not be read (missing `remainDays`, …).
    pub(crate) bad_entries: Vec<String>,
    pub(crate) error: Option<String>,
}

/// How the project discovery of one account (`projects = "all"`) went.
#[derive(Debug, Clone, Serialize)]
pub struct DiscoveryReport {
    pub(crate) account: String,
    pub(crate) ok: bool,
    /// Projects the listing had (on failure: none).
    pub(crate) found: usize,
    /// Projects polled this cycle: those found, or on failure those known before.
    pub(crate) polled: usize,
    /// Projects no longer listed, told once as `project_removed` and forgotten.
    pub(crate) removed: Vec<String>,
    /// Entries of the listing that could not be read.
    pub(crate) bad_entries: Vec<String>,
    pub(crate) error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CycleReport {
    pub(crate) started_at: DateTime<Utc>,
    pub(crate) dry_run: bool,
    /// The project discovery of every account with `projects = "all"`, ordered by account.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub discoveries: Vec<DiscoveryReport>,
    /// Every poll, ordered by account and project.
    pub polls: Vec<PollReport>,
    /// Every package and what was decided about it, ordered by account, project and key;
    /// empty unless [`CycleOptions::list_packages`].
    pub packages: Vec<PackageRow>,
    /// How many packages the cycle evaluated or showed (listed or not).
    #[serde(skip)]
    pub package_count: usize,
    pub alerts: Vec<Alert>,
    /// Of `alerts`, those a silence held back (recorded, not delivered).
    pub silenced: usize,
    /// Silences in force during the cycle.
    pub silences_in_force: usize,
    /// Decisions whose silence ended: delivered with this cycle, or dropped.
    pub released: ReleaseReport,
    pub deliveries: DeliveryReport,
    pub(crate) duration_ms: u128,
}

impl CycleReport {
    /// Polls that failed or had unreadable entries, and project discoveries that failed or
    /// had unreadable entries: what keeps a cycle from having seen everything.
    pub fn failed_polls(&self) -> usize {
        self.polls
            .iter()
            .filter(|p| !p.ok || !p.bad_entries.is_empty())
            .count()
            + self
                .discoveries
                .iter()
                .filter(|d| !d.ok || !d.bad_entries.is_empty())
                .count()
    }

    /// What the heartbeat says of this cycle: it went well when every scope was polled and
    /// every message was delivered or is queued for a retry (none refused or given up on).
    pub(crate) fn summary(&self) -> crate::heartbeat::CycleSummary {
        let polls_failed = self.failed_polls();
        crate::heartbeat::CycleSummary {
            ok: polls_failed == 0 && self.deliveries.failed == 0 && self.deliveries.abandoned == 0,
            polls: self.polls.len(),
            polls_failed,
            alerts: self.alerts.len(),
            delivered: self.deliveries.delivered,
            failed: self.deliveries.failed,
            abandoned: self.deliveries.abandoned,
            duration_ms: self.duration_ms,
            error: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct CycleOptions {
    /// Evaluate and print, but send and record nothing.
    pub(crate) dry_run: bool,
    /// Keep a row per package in the report (for `once`'s table); the daemon only counts them,
    /// so that its memory does not grow with the number of packages.
    pub(crate) list_packages: bool,
    /// The daemon's shutdown signal and metrics, for the deliveries the cycle makes.
    pub(crate) hooks: outbox::DeliveryHooks,
}

impl Default for CycleOptions {
    fn default() -> Self {
        CycleOptions {
            dry_run: false,
            list_packages: true,
            hooks: outbox::DeliveryHooks::default(),
        }
    }
}

/// Scopes whose results are written to the state store together, in one transaction: large
/// enough that commits are few, small enough that a cycle's memory stays flat however many
/// projects an account has.
const BATCH_SCOPES: usize = 500;

/// Runs one cycle at `now`: polls every scope (up to `daemon.concurrency` at once), evaluates
/// each answer as it comes, records the results in batches, then builds the outbox and
/// delivers. Nothing is sent before every decision of the cycle is recorded.
pub async fn run_cycle(
    app: &App,
    store: &mut StateStore,
    options: CycleOptions,
    now: DateTime<Utc>,
) -> Result<CycleReport, CycleError> {
    let clock = Instant::now();
    let (scopes, discoveries, removed) = plan_scopes(app, store).await?;
    tracing::info!(
        event = "cycle.started",
        scopes = scopes.len(),
        dry_run = options.dry_run,
        "cycle started"
    );
    let cycle = if options.dry_run {
        None
    } else {
        Some(store.begin_cycle(now)?)
    };
    let silences = silences_in_force(store, now)?;

    let mut report = CycleReport {
        started_at: now,
        dry_run: options.dry_run,
        discoveries,
        polls: Vec::with_capacity(scopes.len()),
        packages: Vec::new(),
        package_count: 0,
        alerts: Vec::new(),
        silenced: 0,
        silences_in_force: silences.len(),
        released: ReleaseReport::default(),
        deliveries: DeliveryReport::default(),
        duration_ms: 0,
    };
    if !removed.is_empty() {
        record_removed(app, store, cycle, &silences, removed, now, &mut report)?;
    }
    // What the state file knows of the scopes of sources that list only part of them.
    let mut known: std::collections::HashMap<Scope, Vec<String>> = Default::default();
    for (source, scope) in &scopes {
        if source.needs_known_items() {
            let ids = store
                .package_states(scope)?
                .into_iter()
                .filter(|(_, state)| !state.vanished)
                .map(|(id, _)| id.resource_id)
                .collect();
            known.insert(scope.clone(), ids);
        }
    }
    let known = &known;
    let mut results = stream::iter(scopes)
        .map(|(source, scope)| async move {
            let result = match known.get(&scope) {
                Some(ids) => source.fetch_knowing(&scope, ids).await,
                None => source.fetch(&scope).await,
            };
            let funds = match &result {
                Ok(poll) => check_funds(app, source, &scope, poll, now).await,
                Err(_) => FundsCheck::NotAsked,
            };
            (scope, result, funds)
        })
        .buffer_unordered(app.config.daemon.concurrency.max(1));
    let mut answered = Vec::with_capacity(BATCH_SCOPES);
    loop {
        let next = results.next().await;
        let done = next.is_none();
        answered.extend(next);
        if answered.len() == BATCH_SCOPES || (done && !answered.is_empty()) {
            record_batch(
                app,
                store,
                cycle,
                &silences,
                std::mem::take(&mut answered),
                now,
                &options,
                &mut report,
            )?;
        }
        if done {
            break;
        }
    }
    drop(results);
    report
        .polls
        .sort_by(|a, b| (&a.account, &a.project_id).cmp(&(&b.account, &b.project_id)));
    report.packages.sort_by(|a, b| {
        (&a.account, &a.project_id, &a.package, &a.resource_id).cmp(&(
            &b.account,
            &b.project_id,
            &b.package,
            &b.resource_id,
        ))
    });

    if options.list_packages {
        for row in &mut report.packages {
            row.silenced = silences
                .silencing_fields(
                    &row.account,
                    row.project_id.as_deref().unwrap_or(""),
                    Some(&row.package),
                    Some(&row.resource_id),
                )
                .map(SilenceNote::from);
        }
    }

    if let Some(cycle) = cycle {
        // What silences that ended held back and is still due goes out with this cycle.
        report.released = outbox::release_held(store, cycle, now, |alert| {
            silences.silencing(alert).map(|s| s.id)
        })?;
        // Every decision of the cycle is durable: now its deliveries are made and sent.
        store.finish_recording(cycle)?;
        report.deliveries = outbox::deliver_due(
            store,
            &app.notifiers,
            &app.retry_policy(),
            app.config.daemon.tz(),
            &options.hooks,
        )
        .await?;
        // Receivers that keep alerts open (alertmanager_api): post again what still holds.
        let tz = app.config.daemon.tz();
        crate::notify::refresh::refresh_open_alerts(store, &app.notifiers, tz, &options.hooks)
            .await;
    }
    report.duration_ms = clock.elapsed().as_millis();
    tracing::info!(
        event = "cycle.finished",
        polls = report.polls.len(),
        polls_failed = report.failed_polls(),
        packages = report.package_count,
        alerts = report.alerts.len(),
        delivered = report.deliveries.delivered,
        pending = report.deliveries.pending,
        failed = report.deliveries.failed,
        duration_ms = report.duration_ms as u64,
        "cycle finished"
    );
    Ok(report)
}

/// What a scope's funds check found (the billing source's auto-renewals against the
/// balance), after its listing succeeded.
#[derive(Debug)]
enum FundsCheck {
    /// Not asked (a source without auto-renewal, a failed listing): the episode is unchanged.
    NotAsked,
    /// Nothing renews itself soon (or no rule would hear of it): the episode ends.
    NothingComing,
    /// The prices and the balance, for resources renewing within `check_days`.
    Checked {
        funds: RenewalFunds,
        check_days: i64,
    },
    /// Asking failed (logged): nothing is known, the episode is unchanged.
    Failed,
}

/// After a successful listing: when some of its items renew themselves within the source's
/// `auto_renew_check_days`, asks their price for one period and the account's balance. A
/// failure is logged (`billing.funds_check_failed`) and changes nothing else: the listing
/// stands.
async fn check_funds(
    app: &App,
    source: &dyn Source,
    scope: &Scope,
    poll: &PollResult,
    now: DateTime<Utc>,
) -> FundsCheck {
    let Some(check_days) = source.auto_renew_check_days() else {
        return FundsCheck::NotAsked;
    };
    let ids = rules::funds_check_ids(&app.rules, &poll.packages, check_days, now);
    if ids.is_empty() {
        return FundsCheck::NothingComing;
    }
    match source.renewal_funds(scope, &ids).await {
        Ok(Some(funds)) => {
            tracing::info!(
                event = "billing.funds_checked",
                account = %scope.account,
                resources = ids.len(),
                priced = funds.prices.len(),
                unpriced = funds.unpriced.len(),
                total = %funds.total(),
                balance = %funds.balance,
                currency = %funds.currency,
                "auto-renewals priced against the balance"
            );
            FundsCheck::Checked { funds, check_days }
        }
        Ok(None) => FundsCheck::NotAsked,
        Err(error) => {
            tracing::warn!(
                event = "billing.funds_check_failed",
                account = %scope.account,
                resources = ids.len(),
                http_status = error.http_status,
                error_code = error.code.as_deref().unwrap_or(""),
                request_id = error.request_id.as_deref().unwrap_or(""),
                error = %error,
                "cannot price the coming auto-renewals or read the balance; the listing stands"
            );
            FundsCheck::Failed
        }
    }
}

/// The scopes of this cycle: the configured ones, and for each source that discovers its
/// scopes, what its discovery found (or, when it failed, what the state file knew); with the
/// report of each discovery and the scopes no longer listed.
async fn plan_scopes<'a>(
    app: &'a App,
    store: &StateStore,
) -> Result<
    (
        Vec<(&'a dyn Source, Scope)>,
        Vec<DiscoveryReport>,
        Vec<Scope>,
    ),
    CycleError,
> {
    let mut scopes = Vec::new();
    let mut discovering = Vec::new();
    for source in &app.sources {
        let source: &dyn Source = source.as_ref();
        if source.discovers_scopes() {
            discovering.push((source, store.known_projects(source.account())?));
        } else {
            scopes.extend(source.scopes().into_iter().map(|s| (source, s)));
        }
    }
    // Every account's discovery at once: each paces its own requests.
    let found = futures::future::join_all(
        discovering
            .iter()
            .map(|(source, _)| async move { source.discover_scopes().await }),
    )
    .await;
    let mut reports = Vec::with_capacity(found.len());
    let mut removed = Vec::new();
    for ((source, known), result) in discovering.into_iter().zip(found) {
        let account = source.account();
        let (plan, report) = match result {
            Ok(Discovery {
                scopes: listed,
                bad_entries,
            }) => {
                let plan = rules::plan_scopes(&known, Some(&listed), bad_entries.is_empty());
                tracing::info!(
                    event = "discovery.succeeded",
                    account = %account,
                    projects = listed.len(),
                    removed = plan.removed.len(),
                    bad_entries = bad_entries.len(),
                    "projects listed"
                );
                for bad in &bad_entries {
                    tracing::warn!(
                        event = "discovery.bad_entry",
                        account = %account,
                        entry = %bad.key,
                        reason = %bad.reason,
                        "a project entry could not be read; no project is taken for removed"
                    );
                }
                let report = DiscoveryReport {
                    account: account.to_string(),
                    ok: true,
                    found: listed.len(),
                    polled: plan.poll.len(),
                    removed: plan
                        .removed
                        .iter()
                        .map(|s| s.project_label().to_string())
                        .collect(),
                    bad_entries: bad_entries
                        .iter()
                        .map(|b| format!("{}: {}", b.key, b.reason))
                        .collect(),
                    error: None,
                };
                (plan, report)
            }
            Err(error) => {
                let plan = rules::plan_scopes(&known, None, false);
                tracing::error!(
                    event = "discovery.failed",
                    account = %account,
                    http_status = error.http_status,
                    error_code = error.code.as_deref().unwrap_or(""),
                    request_id = error.support_id(),
                    error = %error,
                    known_projects = plan.poll.len(),
                    "listing the projects failed; polling the projects known before"
                );
                let report = DiscoveryReport {
                    account: account.to_string(),
                    ok: false,
                    found: 0,
                    polled: plan.poll.len(),
                    removed: Vec::new(),
                    bad_entries: Vec::new(),
                    error: Some(error.to_string()),
                };
                (plan, report)
            }
        };
        scopes.extend(plan.poll.into_iter().map(|s| (source, s)));
        removed.extend(plan.removed);
        reports.push(report);
    }
    reports.sort_by(|a, b| a.account.cmp(&b.account));
    Ok((scopes, reports, removed))
}

/// One `project_removed` decision per scope a discovery no longer lists, and the scope
/// forgotten (its items and poll health), in one transaction: its packages are never reported
/// `vanished`.
fn record_removed(
    app: &App,
    store: &mut StateStore,
    cycle: Option<CycleId>,
    silences: &SilenceSet,
    removed: Vec<Scope>,
    now: DateTime<Utc>,
    report: &mut CycleReport,
) -> Result<(), CycleError> {
    record_decided(store, cycle, silences, report, |reads, batch, _| {
        for scope in removed {
            let health = reads.poll_health(&scope)?;
            let packages = reads.package_states(&scope)?.len();
            tracing::info!(
                event = "project.removed",
                account = %scope.account,
                project_id = scope.project_label(),
                packages,
                "the project is no longer listed; its packages are no longer watched"
            );
            batch.alerts.extend(rules::evaluate_removed(
                &app.rules,
                &scope,
                health.as_ref(),
                now,
            ));
            batch.forgotten.push(scope);
        }
        Ok(())
    })
}

/// Evaluates a batch of answered polls against the state their scopes had, records the
/// results in one transaction (not in a dry run), and logs the decisions.
#[allow(clippy::too_many_arguments)]
fn record_batch(
    app: &App,
    store: &mut StateStore,
    cycle: Option<CycleId>,
    silences: &SilenceSet,
    answered: Vec<(Scope, Result<PollResult, ApiError>, FundsCheck)>,
    now: DateTime<Utc>,
    options: &CycleOptions,
    report: &mut CycleReport,
) -> Result<(), CycleError> {
    record_decided(store, cycle, silences, report, |reads, batch, report| {
        for (scope, result, funds) in answered {
            evaluate_poll_result(
                app, reads, &scope, result, funds, now, options, batch, report,
            )?;
        }
        Ok(())
    })
}

/// Records what `decide` puts in a batch, in one transaction (not in a dry run), with the
/// decisions a silence holds back marked; logs the decisions and adds them to the report.
fn record_decided(
    store: &mut StateStore,
    cycle: Option<CycleId>,
    silences: &SilenceSet,
    report: &mut CycleReport,
    decide: impl FnOnce(&BatchReads<'_>, &mut CycleBatch, &mut CycleReport) -> Result<(), CycleError>,
) -> Result<(), CycleError> {
    let batch = store.record_batch_with(cycle, outbox::tell_once, |reads| {
        let mut batch = CycleBatch::default();
        decide(reads, &mut batch, report)?;
        batch.silenced = batch
            .alerts
            .iter()
            .filter_map(|a| silences.silencing(a).map(|s| (a.id.clone(), s.id)))
            .collect();
        Ok::<_, CycleError>(batch)
    })?;
    for alert in &batch.alerts {
        log_alert(alert);
    }
    report.silenced += batch.silenced.len();
    report.alerts.extend(batch.alerts);
    Ok(())
}

/// Health and packages of one scope's poll, into the batch and the report.
#[allow(clippy::too_many_arguments)]
fn evaluate_poll_result(
    app: &App,
    store: &BatchReads<'_>,
    scope: &Scope,
    result: Result<PollResult, ApiError>,
    funds: FundsCheck,
    now: DateTime<Utc>,
    options: &CycleOptions,
    batch: &mut CycleBatch,
    report: &mut CycleReport,
) -> Result<(), CycleError> {
    let previous_health = store.poll_health(scope)?;
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
    let mut health = rules::evaluate_poll(
        &app.rules,
        scope,
        previous_health.as_ref(),
        outcome,
        app.config.daemon.failure_alert_after,
        now,
    );
    if let Ok(poll) = &result {
        match funds {
            FundsCheck::Checked { funds, check_days } => {
                let risk = rules::evaluate_funds(
                    &app.rules,
                    scope,
                    &poll.packages,
                    check_days,
                    &funds,
                    health.health.funds_at_risk.as_ref(),
                    now,
                );
                health.health.funds_at_risk = risk.state;
                health.alerts.extend(risk.alerts);
            }
            FundsCheck::NothingComing => health.health.funds_at_risk = None,
            FundsCheck::NotAsked | FundsCheck::Failed => {}
        }
    }
    batch.alerts.extend(health.alerts);
    batch.health.push((scope.clone(), health.health));

    let mut rows = Vec::new();
    match result {
        Ok(poll) => {
            log_poll_success(&poll);
            report.polls.push(PollReport {
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
            let previous: BTreeMap<ItemId, ItemState> =
                store.package_states(scope)?.into_iter().collect();
            evaluate_scope(app, &poll, &previous, now, batch, &mut rows);
        }
        Err(error) => {
            tracing::error!(
                event = "poll.failed",
                account = %scope.account,
                project_id = scope.project_label(),
                http_status = error.http_status,
                error_code = error.code.as_deref().unwrap_or(""),
                request_id = error.support_id(),
                error = %error,
                "poll failed"
            );
            report.polls.push(PollReport {
                account: scope.account.clone(),
                project_id: scope.project_id.clone(),
                ok: false,
                packages: 0,
                bad_entries: Vec::new(),
                error: Some(error.to_string()),
            });
            // A failed poll says nothing about packages: show what was known, decide nothing.
            for (_, state) in store.package_states(scope)? {
                rows.push(row(&state.last, &[], state.vanished));
            }
        }
    }
    report.package_count += rows.len();
    if options.list_packages {
        report.packages.append(&mut rows);
    }
    Ok(())
}

fn log_alert(alert: &Alert) {
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
    app: &App,
    poll: &PollResult,
    previous: &BTreeMap<ItemId, ItemState>,
    now: DateTime<Utc>,
    batch: &mut CycleBatch,
    rows: &mut Vec<PackageRow>,
) {
    let mut seen = HashSet::new();
    for package in &poll.packages {
        let id = package.identity();
        seen.insert(id.clone());
        let Some(evaluation) = rules::evaluate(
            &app.rules,
            previous.get(&id),
            Observation::Seen(package),
            now,
        ) else {
            continue;
        };
        // Debug, not info: at one line per package, a large account would drown the log;
        // alert.raised says what was decided.
        tracing::debug!(
            event = "package.checked",
            account = %package.scope.account,
            project_id = package.scope.project_label(),
            package = %package.key,
            resource_id = %package.resource_id,
            package_status = package.status_code(),
            package_status_name = package.status_name(),
            remain_days = package.remain_days,
            alerts = evaluation.alerts.len(),
            "package checked"
        );
        rows.push(row(package, &evaluation.alerts, false));
        batch.alerts.extend(evaluation.alerts);
        batch.packages.push((id, evaluation.state));
    }
    // Entries the API listed but we could not read are not "vanished".
    // A bad entry names its item by its key in the answer: the package key for CodeArts,
    // the resource id for billing.
    let unreadable: HashSet<&str> = poll.bad_entries.iter().map(|b| b.key.as_str()).collect();
    for (id, state) in previous {
        if seen.contains(id)
            || unreadable.contains(id.key.as_str())
            || unreadable.contains(id.resource_id.as_str())
        {
            continue;
        }
        if let Some(evaluation) =
            rules::evaluate(&app.rules, Some(state), Observation::Missing, now)
        {
            rows.push(row(&state.last, &evaluation.alerts, true));
            batch.alerts.extend(evaluation.alerts);
            batch.packages.push((id.clone(), evaluation.state));
        }
    }
}

fn row(package: &Item, alerts: &[Alert], vanished: bool) -> PackageRow {
    PackageRow {
        account: package.scope.account.clone(),
        project_id: package.scope.project_id.clone(),
        package: package.key.clone(),
        resource_id: package.resource_id.clone(),
        service_type: package.service_type.clone(),
        package_status: package.status_code(),
        package_status_name: package.status_name().to_string(),
        remain_days: package.remain_days,
        next_action_url: package.next_action_url.clone(),
        decisions: alerts.iter().map(|a| a.kind.to_string()).collect(),
        vanished,
        silenced: None,
    }
}

/// What a poll-health record says, for `status`.
pub(crate) fn describe_health(health: &PollHealth) -> String {
    match (&health.last_error, health.consecutive_failures) {
        (_, 0) => "ok".to_string(),
        (Some(e), n) => format!("failing ({n}x): {}", e.error_msg),
        (None, n) => format!("failing ({n}x)"),
    }
}
