//! `renewd status`: what the state file knows, without polling.

use super::write_table;
use super::CommandError;
use super::EXIT_OK;
use crate::app::App;
use crate::cycle;
use crate::state::StateStore;
use std::io::Write;

/// `renewd status`: what the state store knows. Opens it read-only, so it works while the daemon runs.
pub fn status(app: &App, json: bool, out: &mut dyn Write) -> Result<u8, CommandError> {
    let config = &app.config;
    let store = StateStore::open_read_only(&config.daemon.state_path)?;
    let packages = store.all_packages()?;
    let pending = store.pending_deliveries()?;
    let health = store.all_health()?;
    if json {
        let packages: Vec<serde_json::Value> = packages
            .iter()
            .map(|p| {
                let last = &p.state.last;
                serde_json::json!({
                    "account": last.scope.account,
                    "project_id": last.scope.project_id,
                    "package": last.key,
                    "resource_id": last.resource_id,
                    "service_type": last.service_type,
                    "package_status": last.package_status,
                    "package_status_name": crate::model::package_status_name(last.package_status),
                    "remain_days": last.remain_days,
                    "next_action_url": last.next_action_url,
                    "last_seen": p.state.last_seen,
                    "vanished": p.state.vanished,
                    "last_alert": p.last_alert,
                })
            })
            .collect();
        let pending: Vec<serde_json::Value> = pending
            .iter()
            .map(|d| {
                serde_json::json!({
                    "id": d.id, "receiver": d.receiver, "attempts": d.attempts,
                    "created_at": d.created_at, "next_attempt_at": d.next_attempt_at,
                    "last_error": d.last_error,
                    "alert_ids": d.alerts.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
                })
            })
            .collect();
        let polls: Vec<serde_json::Value> = health
            .iter()
            .map(|(scope, h)| {
                serde_json::json!({
                    "account": scope.account, "project_id": scope.project_id,
                    "consecutive_failures": h.consecutive_failures,
                    "last_success_at": h.last_success_at, "last_error": h.last_error,
                })
            })
            .collect();
        let outbox = store.outbox_counts()?;
        let doc = serde_json::json!({
            "packages": packages, "pending_deliveries": pending, "polls": polls, "outbox": outbox,
        });
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
    for p in &packages {
        let last = &p.state.last;
        table.push(vec![
            last.scope.account.clone(),
            last.scope.project_id.clone().unwrap_or_else(|| "-".into()),
            last.key.clone(),
            last.remain_days.to_string(),
            format!(
                "{} ({}){}",
                crate::model::package_status_name(last.package_status),
                last.package_status
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
