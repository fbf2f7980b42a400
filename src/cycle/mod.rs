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

mod discovery;
mod funds;
mod report;

use discovery::*;
use funds::*;
pub use report::*;

/// A cycle stops only when the state store fails: everything else (a poll, a delivery) is an
/// outcome the cycle records and reports.
#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    #[error(transparent)]
    State(#[from] StateError),
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
    // Unstable sorts, whose order is still fixed: no two polls share a scope, no two rows an
    // identity (source included).
    report.polls.sort_unstable_by(|a, b| {
        (&a.account, &a.project_id, a.source).cmp(&(&b.account, &b.project_id, b.source))
    });
    report.packages.sort_unstable_by(|a, b| {
        (
            &a.account,
            &a.project_id,
            a.source,
            &a.package,
            &a.resource_id,
        )
            .cmp(&(
                &b.account,
                &b.project_id,
                b.source,
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
                .map(|silence| Box::new(SilenceNote::from(silence)));
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
                source: scope.source,
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
                source: scope.source,
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
        source: package.scope.source,
        project_id: package.scope.project_id.clone(),
        package: package.key.clone(),
        resource_id: package.resource_id.clone(),
        service_type: package.service_type.clone(),
        package_status: package.status_code(),
        package_status_name: package.status_name(),
        remain_days: package.remain_days,
        next_action_url: package.next_action_url.clone(),
        resource: package.details.clone(),
        decisions: alerts.iter().map(|a| a.kind).collect(),
        vanished,
        silenced: None,
    }
}
