//! `renewd check`: what the config says, in words, never a secret.

use super::CommandError;
use super::EXIT_OK;
use crate::app::App;
use crate::config::ReceiverConfig;
use crate::config::{AuthConfig, Projects};
use chrono::Utc;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;

/// How long `check` waits for the project listing of one account: it is a look at what a
/// cycle would poll, not a cycle, and must stay quick.
const DISCOVERY_WAIT: Duration = Duration::from_secs(15);

/// What `check` found of each account with `projects = "all"`: how many projects ProjectMan
/// lists now, or why they could not be listed.
pub type Discovered = BTreeMap<String, Result<usize, String>>;

/// Lists the projects of every account with `projects = "all"`, at once, each within
/// [`DISCOVERY_WAIT`]. The only requests `check` makes; a failure is reported, not fatal.
pub async fn discover_projects(app: &App) -> Discovered {
    let listings = app
        .sources
        .iter()
        .filter(|source| source.discovers_scopes())
        .map(|source| async move {
            let found = match tokio::time::timeout(DISCOVERY_WAIT, source.discover_scopes()).await {
                Ok(Ok(discovery)) => Ok(discovery.scopes.len()),
                Ok(Err(error)) => Err(error.to_string()),
                Err(_) => Err(format!(
                    "no answer within {}",
                    humantime::format_duration(DISCOVERY_WAIT)
                )),
            };
            (source.account().to_string(), found)
        });
    futures::future::join_all(listings)
        .await
        .into_iter()
        .collect()
}

/// `renewd check`: what the config says, in words, never a secret; with `discovered`, what
/// the project listings of accounts with `projects = "all"` found.
pub fn check(
    path: &Path,
    app: &App,
    discovered: &Discovered,
    out: &mut dyn Write,
) -> Result<u8, CommandError> {
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
        if let Some(r) = &a.region {
            writeln!(out, "    region      {r}")?;
        }
        if a.packages {
            writeln!(out, "    packages    CodeArts at {}", a.api_base())?;
            match &a.projects {
                Projects::All => {
                    let base = a.projectman_base().unwrap_or_default();
                    writeln!(
                        out,
                        "    projects    all (listed from ProjectMan at {base} at every cycle)"
                    )?;
                    match discovered.get(&a.name) {
                        Some(Ok(n)) => writeln!(out, "                  {n} found now")?,
                        Some(Err(e)) => writeln!(
                            out,
                            "                  listing them now failed: {e} (a cycle would poll \
                             the projects it knew)"
                        )?,
                        None => {}
                    }
                }
                Projects::List(ids) if ids.is_empty() => {
                    writeln!(out, "    projects    (the account as a whole)")?
                }
                Projects::List(ids) => writeln!(out, "    projects    {}", ids.join(", "))?,
            }
        } else {
            writeln!(out, "    packages    off")?;
        }
        if let Some(s) = &a.subscriptions {
            writeln!(
                out,
                "    subscriptions {} (site {}), statuses {}, {}",
                s.billing_base(),
                s.site.as_str(),
                s.status
                    .iter()
                    .map(|c| format!(
                        "{c} {}",
                        crate::model::SourceKind::Subscriptions.status_name(Some(*c))
                    ))
                    .collect::<Vec<_>>()
                    .join(", "),
                if s.main_only {
                    "main resources (attached ones counted in)"
                } else {
                    "main and attached resources"
                }
            )?;
            let largest = config
                .rules
                .iter()
                .flat_map(|r| r.thresholds.iter().copied())
                .max();
            let window = largest.map_or_else(
                || "no expiry window".to_string(),
                |t| {
                    format!(
                        "expiring within {} days",
                        t.max(0) + crate::sources::subscriptions::WINDOW_MARGIN_DAYS
                    )
                },
            );
            let services = if s.service_types.is_empty() {
                "all services".to_string()
            } else {
                s.service_types.join(", ")
            };
            writeln!(
                out,
                "                  {window}, {services}; auto-renew checked {} days ahead; renew at {}",
                s.auto_renew_check_days,
                s.site.renewal_page()
            )?;
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
        let sources = match &r.sources {
            Some(sources) => sources
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            None => "packages, subscriptions".to_string(),
        };
        writeln!(out, "    sources     {sources}")?;
        writeln!(out, "    auto-renew  {}", r.auto_renew.as_str())?;
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
        let style = crate::notify::receiver_style(config, receiver);
        writeln!(
            out,
            "  {:<14}messages in {}, times in {}",
            "",
            style.locale,
            style.timezone.name()
        )?;
        if let ReceiverConfig::AlertmanagerApi { .. } = receiver {
            writeln!(
                out,
                "  {:<14}alerts held open {} (two schedule periods), posted again each cycle",
                "",
                humantime::format_duration(crate::notify::alert_hold(config, Utc::now()))
            )?;
        }
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
    if let Some(heartbeat) = &config.heartbeat {
        // Scheme and host only: the path or query carries the monitor's key.
        let origin = heartbeat
            .url
            .as_ref()
            .map(|u| crate::notify::webhook::redacted_url(u.expose()))
            .unwrap_or_default();
        writeln!(out, "\nheartbeat")?;
        writeln!(
            out,
            "  url           {} {origin} ({}) after each cycle that went well",
            heartbeat.method.as_str(),
            secret_source(true, heartbeat.url_file.as_ref())
        )?;
        let fail = if heartbeat.fail_url.is_some() {
            format!(
                "set ({}) after a cycle with failures",
                secret_source(true, heartbeat.fail_url_file.as_ref())
            )
        } else {
            "none: a cycle with failures pings nothing".into()
        };
        writeln!(out, "  fail_url      {fail}")?;
        writeln!(
            out,
            "  timeout       {} per attempt, one retry",
            humantime::format_duration(heartbeat.timeout)
        )?;
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
            let mut s = format!(
                "token ({})",
                secret_source(token.is_some(), token_file.as_ref())
            );
            if account.subscriptions.is_some() {
                s.push_str(", which the billing API takes only when it is scoped to the domain");
            }
            s
        }
        AuthConfig::Password {
            domain,
            user,
            password,
            password_file,
            project,
            ..
        } => {
            format!(
                "IAM password: user {user} in domain {domain}, scoped to {}, via {} (password {})",
                project
                    .as_deref()
                    .or(account.region.as_deref())
                    .unwrap_or("?"),
                account.iam_base().unwrap_or_default(),
                secret_source(password.is_some(), password_file.as_ref())
            ) + if account.subscriptions.is_some() {
                "; a second, domain-scoped token for billing"
            } else {
                ""
            }
        }
        AuthConfig::Aksk {
            ak,
            sk,
            sk_file,
            security_token,
            project_id,
            domain_id,
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
            if account.subscriptions.is_some() {
                match domain_id {
                    Some(d) => s.push_str(&format!(", X-Domain-Id {d} (billing)")),
                    None => s.push_str(&format!(
                        ", X-Domain-Id looked up from {}/v3/auth/domains (billing)",
                        account.iam_base().unwrap_or_default()
                    )),
                }
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
            ..
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
        ReceiverConfig::Log { level, .. } => {
            format!("log (alerts as log events at {level:?})").to_lowercase()
        }
        ReceiverConfig::AlertmanagerApi {
            url,
            username,
            password,
            password_file,
            bearer_token,
            bearer_token_file,
            ..
        } => {
            let auth = match (username, bearer_token) {
                (Some(user), _) => format!(
                    "basic auth as {user} (password {})",
                    secret_source(password.is_some(), password_file.as_ref())
                ),
                (None, Some(_)) => format!(
                    "bearer token ({})",
                    secret_source(true, bearer_token_file.as_ref())
                ),
                (None, None) => "no auth".into(),
            };
            format!(
                "alertmanager_api {}/api/v2/alerts, {auth}",
                url.trim_end_matches('/')
            )
        }
    }
}
