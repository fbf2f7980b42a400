//! `renewd status`: what the state file knows, without polling.

use super::write_table;
use super::CommandError;
use super::EXIT_OK;
use crate::app::App;
use crate::cycle::{self, SilenceNote};
use crate::model::{Alert, ItemDetails, PollErrorInfo, SourceKind};
use crate::state::StateStore;
use crate::state::{Delivery, DeliveryId, OutboxCounts, PackageRecord};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::io::Write;

/// `status --json`: what the state store knows, as one document.
#[derive(Serialize)]
struct StatusDoc<'a> {
    packages: Vec<PackageEntry<'a>>,
    pending_deliveries: Vec<PendingEntry<'a>>,
    polls: Vec<PollEntry<'a>>,
    outbox: OutboxCounts,
}

#[derive(Serialize)]
struct PackageEntry<'a> {
    account: &'a str,
    /// Which source listed it (`packages` or `subscriptions`).
    source: SourceKind,
    project_id: Option<&'a str>,
    package: &'a str,
    resource_id: &'a str,
    service_type: Option<&'a str>,
    package_status: Option<i64>,
    package_status_name: &'static str,
    remain_days: i64,
    next_action_url: Option<&'a str>,
    /// A billing resource's name, region, types, `expire_time`, … (absent for CodeArts).
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<&'a ItemDetails>,
    last_seen: DateTime<Utc>,
    vanished: bool,
    last_alert: Option<&'a Alert>,
    /// The silence in force that holds back what is decided about this package.
    #[serde(skip_serializing_if = "Option::is_none")]
    silenced: Option<SilenceNote>,
}

impl<'a> From<&'a PackageRecord> for PackageEntry<'a> {
    fn from(p: &'a PackageRecord) -> Self {
        let last = &p.state.last;
        PackageEntry {
            account: &last.scope.account,
            source: last.scope.source,
            project_id: last.scope.project_id.as_deref(),
            package: &last.key,
            resource_id: &last.resource_id,
            service_type: last.service_type.as_deref(),
            package_status: last.status_code(),
            package_status_name: last.status_name(),
            remain_days: last.remain_days,
            next_action_url: last.next_action_url.as_deref(),
            resource: last.details.as_deref(),
            last_seen: p.state.last_seen,
            vanished: p.state.vanished,
            last_alert: p.last_alert.as_ref(),
            silenced: None,
        }
    }
}

#[derive(Serialize)]
struct PendingEntry<'a> {
    id: DeliveryId,
    receiver: &'a str,
    attempts: u32,
    created_at: DateTime<Utc>,
    next_attempt_at: DateTime<Utc>,
    last_error: Option<&'a str>,
    alert_ids: Vec<&'a str>,
}

impl<'a> From<&'a Delivery> for PendingEntry<'a> {
    fn from(d: &'a Delivery) -> Self {
        PendingEntry {
            id: d.id,
            receiver: &d.receiver,
            attempts: d.attempts,
            created_at: d.created_at,
            next_attempt_at: d.next_attempt_at,
            last_error: d.last_error.as_deref(),
            alert_ids: d.alerts.iter().map(|a| a.id.as_str()).collect(),
        }
    }
}

#[derive(Serialize)]
struct PollEntry<'a> {
    account: &'a str,
    project_id: Option<&'a str>,
    consecutive_failures: u32,
    last_success_at: Option<DateTime<Utc>>,
    last_error: Option<&'a PollErrorInfo>,
}

/// `renewd status`: what the state store knows. Opens it read-only, so it works while the daemon runs.
pub fn status(app: &App, json: bool, out: &mut dyn Write) -> Result<u8, CommandError> {
    let config = &app.config;
    let store = StateStore::open_read_only(&config.daemon.state_path)?;
    let packages = store.all_packages()?;
    // Which silences hold each package back now.
    let silences = cycle::silences_in_force(&store, Utc::now())?;
    let silenced: Vec<Option<SilenceNote>> = packages
        .iter()
        .map(|p| {
            let last = &p.state.last;
            silences
                .silencing_fields(
                    &last.scope.account,
                    last.scope.project_label(),
                    Some(&last.key),
                    Some(&last.resource_id),
                )
                .map(SilenceNote::from)
        })
        .collect();
    let pending = store.pending_deliveries()?;
    let health = store.all_health()?;
    if json {
        let doc = StatusDoc {
            packages: packages
                .iter()
                .zip(&silenced)
                .map(|(p, s)| PackageEntry {
                    silenced: s.clone(),
                    ..PackageEntry::from(p)
                })
                .collect(),
            pending_deliveries: pending.iter().map(PendingEntry::from).collect(),
            polls: health
                .iter()
                .map(|(scope, h)| PollEntry {
                    account: &scope.account,
                    project_id: scope.project_id.as_deref(),
                    consecutive_failures: h.consecutive_failures,
                    last_success_at: h.last_success_at,
                    last_error: h.last_error.as_ref(),
                })
                .collect(),
            outbox: store.outbox_counts()?,
        };
        serde_json::to_writer_pretty(&mut *out, &doc).map_err(std::io::Error::other)?;
        writeln!(out)?;
        return Ok(EXIT_OK);
    }

    let mut table = vec![vec![
        "ACCOUNT".to_string(),
        "PROJECT".into(),
        "PACKAGE".into(),
        "DAYS".into(),
        "STATUS".into(),
        "LAST SEEN".into(),
        "LAST ALERT".into(),
    ]];
    // Only a state under a silence gets the column.
    let any_silenced = silenced.iter().any(Option::is_some);
    if any_silenced {
        table[0].push("SILENCED".into());
    }
    for (p, silence) in packages.iter().zip(&silenced) {
        let last = &p.state.last;
        table.push(vec![
            last.scope.account.clone(),
            last.scope.project_id.clone().unwrap_or_else(|| "-".into()),
            super::item_cell(&last.key, last.details.as_deref()),
            last.remain_days.to_string(),
            format!(
                "{} ({}){}",
                last.status_name(),
                last.status_code()
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                if p.state.vanished { ", vanished" } else { "" }
            ),
            p.state.last_seen.format("%Y-%m-%d %H:%M").to_string(),
            p.last_alert
                .as_ref()
                .map(|a| format!("{} {}", a.kind, a.raised_at.format("%Y-%m-%d %H:%M")))
                .unwrap_or_else(|| "-".into()),
        ]);
        if any_silenced {
            if let Some(row) = table.last_mut() {
                row.push(
                    silence
                        .as_ref()
                        .map_or_else(|| "-".into(), SilenceNote::describe),
                );
            }
        }
    }
    if packages.is_empty() {
        writeln!(
            out,
            "no packages recorded yet (state {})",
            config.daemon.state_path.display()
        )?;
    } else {
        write_table(&table, out)?;
    }
    writeln!(out)?;
    for (scope, h) in &health {
        writeln!(out, "poll {scope}: {}", cycle::describe_health(h))?;
    }
    let counts = store.outbox_counts()?;
    writeln!(
        out,
        "outbox: {} delivered, {} failed, {} abandoned (see the logs: notify.failed, notify.abandoned)",
        counts.delivered, counts.failed, counts.abandoned
    )?;
    writeln!(out, "pending deliveries: {}", pending.len())?;
    for d in &pending {
        writeln!(
            out,
            "  #{} to {}: {} alert(s), {} attempt(s), next at {}{}",
            d.id,
            d.receiver,
            d.alerts.len(),
            d.attempts,
            d.next_attempt_at.format("%Y-%m-%d %H:%M:%S"),
            d.last_error
                .as_deref()
                .map(|e| format!(", last error: {e}"))
                .unwrap_or_default()
        )?;
    }
    Ok(EXIT_OK)
}
