//! Scopes found instead of listed: each discovering source lists them at the start of the
//! cycle, and a project no longer listed is told once and set aside.

use super::*;

/// The scopes of this cycle: the configured ones, and for each source that discovers its
/// scopes, what its discovery found (or, when it failed, what the state file knew); with the
/// report of each discovery and the scopes no longer listed.
pub(super) async fn plan_scopes<'a>(
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
pub(super) fn record_removed(
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
