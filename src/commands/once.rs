//! `renewd once`: one cycle now, and the table of what it saw.

use super::write_table;
use super::CommandError;
use super::EXIT_FAILURE;
use super::EXIT_OK;
use crate::app::App;
use crate::cycle;
use crate::cycle::CycleOptions;
use crate::cycle::CycleReport;
use crate::cycle::PackageRow;
use crate::cycle::SilenceNote;
use crate::model::AlertKind;
use crate::notify::outbox;
use crate::notify::outbox::Selection;
use crate::state::StateStore;
use chrono::Utc;
use std::io::Write;

/// `renewd once`: retry what is pending, run one cycle, print every package. Exit 1 when a
/// poll failed or a delivery is still pending.
pub async fn once(
    app: App,
    dry_run: bool,
    json: bool,
    out: &mut dyn Write,
) -> Result<u8, CommandError> {
    let state_path = app.config.daemon.state_path.clone();
    let runtime = app;
    // A dry run reads what is known but never creates or changes the state file (one created
    // by root for a trial run would lock out the service user).
    let _scratch;
    let mut store = match (dry_run, state_path.exists()) {
        (false, _) => StateStore::open(&state_path)?,
        (true, true) => StateStore::open_read_only(&state_path)?,
        (true, false) => {
            let dir = tempfile::tempdir()?;
            let store = StateStore::open(dir.path().join("state.db"))?;
            _scratch = dir;
            store
        }
    };
    let earlier = if dry_run {
        outbox::DeliveryReport::default()
    } else {
        outbox::deliver(
            &mut store,
            &runtime.notifiers,
            &runtime.retry_policy(),
            runtime.config.daemon.tz(),
            Selection::AllPending,
            &outbox::DeliveryHooks::default(),
        )
        .await?
    };
    let mut report = cycle::run_cycle(
        &runtime,
        &mut store,
        CycleOptions {
            dry_run,
            ..CycleOptions::default()
        },
        Utc::now(),
    )
    .await?;
    // What the retry pass did belongs to this run too: a message delivered, refused or given
    // up on before the cycle is counted, and decides the exit code.
    report.deliveries.delivered += earlier.delivered;
    report.deliveries.failed += earlier.failed;
    report.deliveries.abandoned += earlier.abandoned;
    // A dry run is a trial, not a cycle the monitor should count.
    if let (false, Some(heartbeat)) = (dry_run, &runtime.heartbeat) {
        crate::heartbeat::ping_and_log(heartbeat, &report.summary(), || {}).await;
    }
    let still_pending = if dry_run {
        0
    } else {
        store.pending_deliveries()?.len()
    };
    // One write per few kilobytes, not per line: the table has a row per package.
    let mut out = std::io::BufWriter::new(out);
    if json {
        serde_json::to_writer_pretty(&mut out, &report).map_err(std::io::Error::other)?;
        writeln!(out)?;
    } else {
        print_report(&report, still_pending, &mut out)?;
    }
    out.flush()?;
    Ok(
        if report.failed_polls() > 0
            || still_pending > 0
            || report.deliveries.failed > 0
            || report.deliveries.abandoned > 0
        {
            EXIT_FAILURE
        } else {
            EXIT_OK
        },
    )
}

/// The table of packages, then what happened to polls and deliveries.
pub(crate) fn print_report(
    report: &CycleReport,
    still_pending: usize,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    print_packages(&report.packages, out)?;
    for d in &report.discoveries {
        match &d.error {
            None => writeln!(
                out,
                "projects of {}: {} found{}",
                d.account,
                d.found,
                if d.removed.is_empty() {
                    String::new()
                } else {
                    format!(", {} removed ({})", d.removed.len(), d.removed.join(", "))
                }
            )?,
            Some(error) => writeln!(
                out,
                "project discovery failed for {}: {error}; polled the {} projects known before",
                d.account, d.polled
            )?,
        }
        for bad in &d.bad_entries {
            writeln!(out, "bad project entry from {}: {bad}", d.account)?;
        }
    }
    // An account's alert about its funds belongs to no row of the table.
    for alert in report
        .alerts
        .iter()
        .filter(|a| a.kind == AlertKind::AutoRenewAtRisk)
    {
        writeln!(out, "{} ({})", alert.summary, alert.severity)?;
    }
    for poll in report.polls.iter().filter(|p| !p.ok) {
        writeln!(
            out,
            "poll failed: {}",
            poll.error.as_deref().unwrap_or("unknown error")
        )?;
    }
    for poll in &report.polls {
        for bad in &poll.bad_entries {
            writeln!(
                out,
                "bad entry from {}{}: {bad}",
                poll.account,
                poll.project_id
                    .as_deref()
                    .map(|p| format!("/{p}"))
                    .unwrap_or_default()
            )?;
        }
    }
    let d = &report.deliveries;
    writeln!(
        out,
        "{} alert(s){}; deliveries: {} delivered, {} failed, {} still pending{}",
        report.alerts.len(),
        if report.dry_run {
            " (dry run: nothing sent or recorded)"
        } else {
            ""
        },
        d.delivered,
        d.failed,
        still_pending,
        if d.abandoned > 0 {
            format!(", {} abandoned (older than max_delivery_age)", d.abandoned)
        } else {
            String::new()
        }
    )?;
    Ok(())
}

fn print_packages(rows: &[PackageRow], out: &mut dyn Write) -> std::io::Result<()> {
    let mut table = vec![vec![
        "ACCOUNT".to_string(),
        "PROJECT".into(),
        "PACKAGE".into(),
        "DAYS".into(),
        "STATUS".into(),
        "DECIDED".into(),
    ]];
    // Only a cycle under a silence gets the column: the table of every other stays as it was.
    let any_silenced = rows.iter().any(|r| r.silenced.is_some());
    if any_silenced {
        table[0].push("SILENCED".into());
    }
    let mut rows: Vec<&PackageRow> = rows.iter().collect();
    rows.sort_by(|a, b| {
        (a.remain_days, &a.account, &a.package).cmp(&(b.remain_days, &b.account, &b.package))
    });
    for r in rows {
        let mut decided = r
            .decisions
            .iter()
            .map(|kind| kind.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        if decided.is_empty() {
            decided = "-".into();
        }
        table.push(vec![
            r.account.clone(),
            r.project_id.clone().unwrap_or_else(|| "-".into()),
            super::item_cell(&r.package, r.resource.as_deref()),
            r.remain_days.to_string(),
            format!(
                "{} ({})",
                r.package_status_name,
                r.package_status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into())
            ),
            if r.vanished && r.decisions.is_empty() {
                "(no longer reported)".into()
            } else {
                decided
            },
        ]);
        if any_silenced {
            let note = r.silenced.as_deref().map(SilenceNote::describe);
            if let Some(row) = table.last_mut() {
                row.push(note.unwrap_or_else(|| "-".into()));
            }
        }
    }
    write_table(&table, out)
}
