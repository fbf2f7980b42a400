//! What each subcommand does. `main.rs` parses the command line and maps the results to exit
//! codes; everything else lives here so tests can drive it in-process.

use crate::app::{App, BuildError};
use crate::config::{AuthConfig, Config, ConfigError, ReceiverConfig};
use crate::cycle::{self, CycleOptions, CycleReport, PackageRow};
use crate::notify::outbox::{self, Selection};
use crate::state::{StateError, StateStore};
use chrono::Utc;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Exit codes (DESIGN.md "Interfaces").
pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_CONFIG: u8 = 78;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    State(#[from] StateError),
    /// Parts of the app that cannot be built on this machine (no CA certificates).
    #[error(transparent)]
    Build(BuildError),
    #[error(transparent)]
    Cycle(#[from] cycle::CycleError),
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Failed(String),
}

impl CommandError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::Config(_) => EXIT_CONFIG,
            // The HTTP client cannot be built; in practice, the system has no CA
            // certificates. A restart will not fix that either.
            CommandError::Build(_) => EXIT_CONFIG,
            CommandError::Usage(_) => EXIT_USAGE,
            _ => EXIT_FAILURE,
        }
    }
}

/// Loads the config at `path` (or `RENEWD_CONFIG`, or the default path) and builds the app
/// from it: every problem of either step is a config problem, named with its key.
pub fn load_app(path: Option<&Path>) -> Result<(PathBuf, App), CommandError> {
    let path = crate::config::resolve_path(path);
    let config = Config::load(&path)?;
    let app = build_app(&path, config)?;
    Ok((path, app))
}

/// [`App::build`], its problems reported as the config file's.
pub fn build_app(path: &Path, config: Config) -> Result<App, CommandError> {
    App::build(config).map_err(|e| match e {
        BuildError::Invalid(problems) => CommandError::Config(ConfigError::Invalid {
            path: path.to_path_buf(),
            problems,
        }),
        other => CommandError::Build(other),
    })
}

/// Warns when a file holding inline secrets can be read by group or others.
pub fn warn_if_secrets_exposed(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    let mode = meta.permissions().mode();
    if mode & 0o077 == 0 {
        return;
    }
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    if Config::has_inline_secrets(&text) {
        tracing::warn!(
            event = "config.secrets_exposed",
            path = %path.display(),
            mode = format!("{:o}", mode & 0o777),
            "config file holds inline secrets and is readable by group or others; chmod 600 it or use *_file"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// check
// ---------------------------------------------------------------------------------------------

/// `renewd check`: what the config says, in words, never a secret.
pub fn check(path: &Path, app: &App, out: &mut dyn Write) -> Result<u8, CommandError> {
    let config = &app.config;
    writeln!(out, "config {} is valid", path.display())?;
    let d = &config.daemon;
    writeln!(out, "\ndaemon")?;
    writeln!(out, "  schedule      {} ({})", d.schedule, d.timezone)?;
    for (i, t) in app.schedule.upcoming(Utc::now(), 3).iter().enumerate() {
        let label = if i == 0 { "next runs" } else { "" };
        writeln!(out, "  {label:<13} {}", t.format("%Y-%m-%d %H:%M:%S %Z"))?;
    }
    writeln!(out, "  run_on_start  {}", d.run_on_start)?;
    writeln!(out, "  state_path    {}", d.state_path.display())?;
    writeln!(
        out,
        "  polling       timeout {}, concurrency {}, poll_failed after {} failed cycles",
        humantime::format_duration(d.timeout),
        d.concurrency,
        d.failure_alert_after
    )?;
    writeln!(
        out,
        "  deliveries    retried for {}",
        humantime::format_duration(d.max_delivery_age)
    )?;

    writeln!(out, "\naccounts")?;
    for a in &config.accounts {
        writeln!(out, "  {}", a.name)?;
        writeln!(out, "    endpoint    {}", a.api_base())?;
        if let Some(r) = &a.region {
            writeln!(out, "    region      {r}")?;
        }
        if a.projects.is_empty() {
            writeln!(out, "    projects    (the account as a whole)")?;
        } else {
            writeln!(out, "    projects    {}", a.projects.join(", "))?;
        }
        writeln!(out, "    auth        {}", describe_auth(a))?;
    }

    writeln!(out, "\nrules")?;
    for r in &config.rules {
        let all = |v: &Vec<String>| {
            if v.is_empty() {
                "*".to_string()
            } else {
                v.join(", ")
            }
        };
        let mut thresholds = r.thresholds.clone();
        thresholds.sort_unstable_by(|a, b| b.cmp(a));
        writeln!(out, "  {}", r.name)?;
        writeln!(
            out,
            "    matches     accounts {} / projects {} / packages {}",
            all(&r.accounts),
            all(&r.projects),
            all(&r.packages)
        )?;
        writeln!(
            out,
            "    thresholds  {} days",
            thresholds
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        writeln!(out, "    receivers   {}", r.receivers.join(", "))?;
        if let (Some(below), Some(every)) = (r.repeat_below, r.repeat_every) {
            writeln!(
                out,
                "    reminders   every {} at or below {below} days",
                humantime::format_duration(every)
            )?;
        }
        if let Some(every) = r.repeat_expired_every.or(r.repeat_every) {
            writeln!(
                out,
                "    expired     reminded every {}",
                humantime::format_duration(every)
            )?;
        }
        if let Some(s) = r.severity {
            writeln!(out, "    severity    {s} (override)")?;
        }
        if !r.notify_renewed {
            writeln!(out, "    renewed     not notified")?;
        }
    }

    writeln!(out, "\nreceivers")?;
    for (name, receiver) in &config.receivers {
        writeln!(out, "  {name:<14}{}", describe_receiver(receiver))?;
    }
    if let Some(smtp) = &config.smtp {
        writeln!(out, "\nsmtp")?;
        writeln!(
            out,
            "  server        {}:{} ({:?})",
            smtp.host,
            smtp.effective_port(),
            smtp.security
        )?;
        writeln!(out, "  from          {}", smtp.from)?;
        let login = match (&smtp.username, &smtp.password) {
            (Some(u), Some(_)) => format!("{u} (password set)"),
            (Some(u), None) => format!("{u} (no password)"),
            _ => "none".into(),
        };
        writeln!(out, "  login         {login}")?;
        if let Some(ca) = &smtp.ca_file {
            writeln!(out, "  ca_file       {}", ca.display())?;
        }
    }
    if let Some(listen) = config.http.listen {
        writeln!(out, "\nhttp\n  listen        {listen}")?;
    }
    Ok(EXIT_OK)
}

fn secret_source(inline: bool, file: Option<&PathBuf>) -> String {
    match (file, inline) {
        (Some(f), _) => format!("from {}", f.display()),
        (None, true) => "inline".into(),
        (None, false) => "missing".into(),
    }
}

fn describe_auth(account: &crate::config::AccountConfig) -> String {
    match &account.auth {
        AuthConfig::Token { token, token_file } => {
            format!(
                "token ({})",
                secret_source(token.is_some(), token_file.as_ref())
            )
        }
        AuthConfig::Password {
            domain,
            user,
            password,
            password_file,
            project,
            ..
        } => format!(
            "IAM password: user {user} in domain {domain}, scoped to {}, via {} (password {})",
            project
                .as_deref()
                .or(account.region.as_deref())
                .unwrap_or("?"),
            account.iam_base().unwrap_or_default(),
            secret_source(password.is_some(), password_file.as_ref())
        ),
        AuthConfig::Aksk {
            ak,
            sk,
            sk_file,
            security_token,
            project_id,
            ..
        } => {
            let mut s = format!(
                "AK/SK: access key {} (secret key {})",
                mask_key(ak),
                secret_source(sk.is_some(), sk_file.as_ref())
            );
            if security_token.is_some() {
                s.push_str(", temporary (security token set)");
            }
            if let Some(p) = project_id {
                s.push_str(&format!(", X-Project-Id {p}"));
            }
            s
        }
    }
}

/// An access key id is not the secret, but there is no need to print all of it.
fn mask_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return "****".into();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

fn describe_receiver(receiver: &ReceiverConfig) -> String {
    match receiver {
        ReceiverConfig::Email {
            to,
            cc,
            subject_template,
            text_template,
            html_template,
        } => {
            let mut s = format!("email to {}", to.join(", "));
            if !cc.is_empty() {
                s.push_str(&format!(", cc {}", cc.join(", ")));
            }
            let custom: Vec<&str> = [
                ("subject_template", subject_template),
                ("text_template", text_template),
                ("html_template", html_template),
            ]
            .iter()
            .filter(|(_, t)| t.is_some())
            .map(|(key, _)| *key)
            .collect();
            if !custom.is_empty() {
                // Config validation rendered them against the example package already.
                s.push_str(&format!(
                    ", {} render against the example package",
                    custom.join(", ")
                ));
            }
            s
        }
        ReceiverConfig::Webhook { format, .. } => match crate::notify::webhook::find(format) {
            Some(format) => format.describe(receiver),
            None => format!("webhook ({format}), not a known format"),
        },
        ReceiverConfig::Log { level } => {
            format!("log (alerts as log events at {level:?})").to_lowercase()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// once
// ---------------------------------------------------------------------------------------------

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
pub fn print_report(
    report: &CycleReport,
    still_pending: usize,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    print_packages(&report.packages, out)?;
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
    let mut rows: Vec<&PackageRow> = rows.iter().collect();
    rows.sort_by(|a, b| {
        (a.remain_days, &a.account, &a.package).cmp(&(b.remain_days, &b.account, &b.package))
    });
    for r in rows {
        let mut decided = r.decisions.join(", ");
        if decided.is_empty() {
            decided = "-".into();
        }
        table.push(vec![
            r.account.clone(),
            r.project_id.clone().unwrap_or_else(|| "-".into()),
            r.package.clone(),
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
    }
    write_table(&table, out)
}

/// Left-aligned columns separated by two spaces.
pub fn write_table(rows: &[Vec<String>], out: &mut dyn Write) -> std::io::Result<()> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(widths[c] - cell.chars().count() + 2));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// status
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// test-notify
// ---------------------------------------------------------------------------------------------

/// `renewd test-notify <receiver>`: one `test` message through one receiver, and what it answered.
pub async fn test_notify(
    app: App,
    receiver: &str,
    out: &mut dyn Write,
) -> Result<u8, CommandError> {
    let config = &app.config;
    if !config.receivers.contains_key(receiver) {
        let known: Vec<&str> = config.receivers.keys().map(String::as_str).collect();
        return Err(CommandError::Failed(format!(
            "no receiver named {receiver:?} (configured: {})",
            known.join(", ")
        )));
    }
    let tz = config.daemon.tz();
    let notifier = app
        .notifiers
        .get(receiver)
        .ok_or_else(|| CommandError::Failed(format!("receiver {receiver:?} could not be built")))?;
    let digest = crate::notify::test_digest(receiver, Utc::now(), tz);
    match notifier.send(&digest).await {
        Ok(receipt) => {
            writeln!(out, "{receiver}: delivered ({})", receipt.detail)?;
            Ok(EXIT_OK)
        }
        Err(e) => {
            writeln!(out, "{receiver}: failed: {e}")?;
            Ok(EXIT_FAILURE)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// demo
// ---------------------------------------------------------------------------------------------

/// `renewd demo`: two cycles against the simulated endpoint; the second sends nothing.
pub async fn demo(out: &mut dyn Write) -> Result<u8, CommandError> {
    let endpoint = crate::demo::SimulatedEndpoint::start().await?;
    let dir = tempfile::tempdir()?;
    let state_path = dir.path().join("state.db");
    let text = crate::demo::demo_config_toml(&endpoint.url(), &state_path);
    let invalid = |problems: Vec<crate::config::Problem>| {
        CommandError::Failed(format!(
            "built-in demo config is invalid: {}",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        ))
    };
    let config = Config::from_toml_with_env(&text, &[]).map_err(invalid)?;
    let app = App::build(config).map_err(|e| match e {
        BuildError::Invalid(problems) => invalid(problems),
        other => CommandError::Build(other),
    })?;
    writeln!(
        out,
        "renewd demo: a simulated CodeArts endpoint at {} serving 5 packages (the documented example: 11 and 11 days; and 45, 6 and 0 days),\n\
         state in a temporary file, alerts to the log receiver (on stderr).\n",
        endpoint.url()
    )?;
    let mut store = StateStore::open(&state_path)?;
    let mut code = EXIT_OK;
    for n in 1..=2 {
        writeln!(out, "== cycle {n} ==")?;
        out.flush()?;
        let report =
            cycle::run_cycle(&app, &mut store, CycleOptions::default(), Utc::now()).await?;
        print_report(&report, store.pending_deliveries()?.len(), out)?;
        if n == 2 && report.alerts.is_empty() {
            writeln!(out, "\nThe second cycle decided nothing new, so nothing was sent: every step is told once.")?;
        }
        if report.failed_polls() > 0 {
            code = EXIT_FAILURE;
        }
        writeln!(out)?;
    }
    Ok(code)
}
