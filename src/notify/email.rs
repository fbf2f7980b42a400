//! The `email` receiver: one `multipart/alternative` message (plain text + HTML) per digest,
//! over SMTP with lettre.
//!
//! One [`SmtpClient`] per receiver, which keeps a connection for the next message and bounds
//! each delivery by `smtp.timeout` and what the server may send (see `smtp.rs`). TLS
//! certificates are always verified; a private CA is added with `smtp.ca_file`. Outcomes: SMTP
//! 5xx replies are permanent (a failed login says so, quoting the server), everything else
//! that fails — connection, TLS, timeout, 4xx, a reply too large — is transient.
//!
//! Rendering lives in functions returning strings ([`subject`], [`text_body`], [`html_body`]),
//! so it is tested without SMTP. Every value in the HTML is escaped, and only `https://` links
//! are made clickable.

use super::render::{
    accounts_label, escape_html, expiry_label, kind_label, local_time, plural, project_label,
    remaining_label, safe_link, single_line, sorted_by_urgency, status_label, truncate,
};
use super::smtp::{DeliveryError, Security, SmtpClient};
use super::template::TemplateError;
use super::{BuildError, Digest, Notifier, NotifyError, Receipt};
use crate::config::{SmtpConfig, SmtpSecurity};
use crate::model::{Alert, AlertKind};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, TlsParameters};
use lettre::Message;
use serde::Serialize;
use std::fmt::Write as _;
use std::time::Duration;

/// Longest subject line before it is cut.
const MAX_SUBJECT_CHARS: usize = 200;

// ---------------------------------------------------------------------------------------------
// SMTP settings (shared by every email receiver)
// ---------------------------------------------------------------------------------------------

/// The `[smtp]` section, checked, with its TLS parameters and credentials ready.
#[derive(Clone)]
pub struct SmtpSettings {
    /// `host:port`, for messages.
    server: String,
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    from: Mailbox,
    username: Option<String>,
    /// Only to scrub it from any server text that might echo it.
    password: Option<crate::config::Secret>,
    timeout: Duration,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("server", &self.server)
            .field("from", &self.from)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl SmtpSettings {
    /// Checks the `[smtp]` section and loads `ca_file`.
    pub fn from_config(config: &SmtpConfig) -> Result<SmtpSettings, BuildError> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|_| BuildError::InvalidAddress {
                key: "smtp.from".into(),
                address: config.from.clone(),
            })?;
        // `[::1]` is how an IPv6 address is often written; the resolver wants it bare.
        let host = config
            .host
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = config.effective_port();
        let security = match config.security {
            SmtpSecurity::Starttls => Security::Starttls(tls_parameters(config)?),
            SmtpSecurity::Tls => Security::Tls(tls_parameters(config)?),
            // Config validation allows plain SMTP only to a relay on this machine.
            SmtpSecurity::None => Security::Plain,
        };
        let credentials = config.username.as_ref().map(|user| {
            let password = config
                .password
                .as_ref()
                .map(|p| p.expose().to_string())
                .unwrap_or_default();
            Credentials::new(user.clone(), password)
        });
        Ok(SmtpSettings {
            server: format!("{host}:{port}"),
            host,
            port,
            security,
            credentials,
            from,
            username: config.username.clone(),
            password: config.password.clone(),
            timeout: config.timeout,
        })
    }

    /// Removes the SMTP password from a text, should a server ever echo it.
    fn scrub(&self, text: String) -> String {
        match &self.password {
            Some(p) if !p.is_empty() => text.replace(p.expose(), "<redacted>"),
            _ => text,
        }
    }
}

/// TLS parameters for `host`: the system's roots, plus `ca_file` when given.
fn tls_parameters(config: &SmtpConfig) -> Result<TlsParameters, BuildError> {
    let host = config.host.trim().to_string();
    let mut params = TlsParameters::builder(host.clone());
    if let Some(path) = &config.ca_file {
        let ca_error = |reason: String| BuildError::CaFile {
            path: path.clone(),
            reason,
        };
        let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
        // lettre accepts a file without any certificate as an empty list: say so instead.
        if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
            return Err(ca_error("no PEM certificate in the file".into()));
        }
        let certificate = Certificate::from_pem(&pem).map_err(|e| ca_error(e.to_string()))?;
        params = params.add_root_certificate(certificate);
    }
    params.build_rustls().map_err(|e| BuildError::Tls {
        host,
        reason: e.to_string(),
    })
}

// ---------------------------------------------------------------------------------------------
// The notifier
// ---------------------------------------------------------------------------------------------

pub struct EmailNotifier {
    name: String,
    smtp: SmtpSettings,
    to: Vec<Mailbox>,
    cc: Vec<Mailbox>,
    templates: EmailTemplates,
    client: SmtpClient,
}

impl std::fmt::Debug for EmailNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailNotifier")
            .field("name", &self.name)
            .field("server", &self.smtp.server)
            .field("to", &self.to)
            .field("cc", &self.cc)
            .finish_non_exhaustive()
    }
}

impl EmailNotifier {
    pub fn new(
        name: &str,
        smtp: &SmtpSettings,
        to: &[String],
        cc: &[String],
        templates: EmailTemplates,
    ) -> Result<Self, BuildError> {
        let parse = |field: &str, list: &[String]| -> Result<Vec<Mailbox>, BuildError> {
            list.iter()
                .enumerate()
                .map(|(i, address)| {
                    address.parse().map_err(|_| BuildError::InvalidAddress {
                        key: format!("receivers.{name}.{field}[{i}]"),
                        address: address.clone(),
                    })
                })
                .collect()
        };
        Ok(EmailNotifier {
            name: name.to_string(),
            smtp: smtp.clone(),
            to: parse("to", to)?,
            cc: parse("cc", cc)?,
            templates,
            client: SmtpClient::new(
                smtp.host.clone(),
                smtp.port,
                smtp.security.clone(),
                smtp.credentials.clone(),
                smtp.timeout,
            ),
        })
    }

    /// The whole message, as it will be sent.
    pub fn build_message(&self, digest: &Digest) -> Result<Message, NotifyError> {
        let (subject, text, html) = self
            .templates
            .render(digest)
            .map_err(|e| NotifyError::permanent(&self.name, e.to_string()))?;
        let mut builder = Message::builder()
            .from(self.smtp.from.clone())
            .subject(subject)
            .message_id(Some(message_id(digest, self.smtp.from.email.domain())))
            .user_agent(super::webhook::USER_AGENT_VALUE.to_string());
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        for cc in &self.cc {
            builder = builder.cc(cc.clone());
        }
        builder
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| NotifyError::permanent(&self.name, format!("cannot build the email: {e}")))
    }

    fn classify(&self, error: DeliveryError) -> NotifyError {
        let server = &self.smtp.server;
        let error = match error {
            DeliveryError::Smtp(error) => error,
            DeliveryError::Connect(e) => {
                return NotifyError::transient(
                    &self.name,
                    format!("cannot deliver to SMTP server {server}: {e}"),
                )
            }
            DeliveryError::TimedOut => {
                return NotifyError::transient(
                    &self.name,
                    format!(
                        "SMTP server {server} did not complete the delivery within {}",
                        humantime::format_duration(self.smtp.timeout)
                    ),
                )
            }
        };
        let message = if let Some(code) = error.status() {
            let number = u16::from(code);
            // lettre's message is "permanent error (535): <reply text>"; quote the reply itself.
            let reply = match std::error::Error::source(&error) {
                Some(text) => format!("{number} {}", single_line(&text.to_string())),
                None => number.to_string(),
            };
            if error.is_permanent() {
                let message = if is_auth_failure(number) {
                    format!(
                        "SMTP server {server} rejected the login of user {:?}: {reply}",
                        self.smtp.username.as_deref().unwrap_or("")
                    )
                } else {
                    format!("SMTP server {server} refused the message: {reply}")
                };
                return NotifyError::permanent(&self.name, self.smtp.scrub(message));
            }
            format!("SMTP server {server} answered {reply}")
        } else if error.is_timeout() {
            format!(
                "SMTP server {server} did not answer within {}",
                humantime::format_duration(self.smtp.timeout)
            )
        } else {
            let cause = innermost_cause(&error);
            if error.is_tls() || cause.contains("certificate") || cause.contains("handshake") {
                let hint = if cause.contains("UnknownIssuer") {
                    " (signed by a private CA? set smtp.ca_file)"
                } else {
                    ""
                };
                format!("TLS with SMTP server {server} failed: {cause}{hint}")
            } else {
                format!("cannot deliver to SMTP server {server}: {cause}")
            }
        };
        NotifyError::transient(&self.name, self.smtp.scrub(message))
    }
}

/// Replies that mean the login itself was refused (RFC 4954): bad credentials, mechanism too
/// weak, encryption required for the mechanism.
fn is_auth_failure(code: u16) -> bool {
    matches!(code, 534 | 535 | 538)
}

/// The most specific text of an error: its innermost source (lettre nests "Connection error"
/// wrappers around the I/O or TLS error that says what happened).
fn innermost_cause(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text = e.to_string();
        source = e.source();
    }
    single_line(&text)
}

#[async_trait::async_trait]
impl Notifier for EmailNotifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "email"
    }

    async fn send(&self, digest: &Digest) -> Result<Receipt, NotifyError> {
        let message = self.build_message(digest)?;
        match self
            .client
            .send(message.envelope(), &message.formatted())
            .await
        {
            Ok(response) => {
                let text = response.message().collect::<Vec<_>>().join(" ");
                Ok(Receipt {
                    detail: single_line(format!("{} {text}", response.code()).trim()),
                })
            }
            Err(e) => Err(self.classify(e)),
        }
    }
}

/// A Message-ID that is the same for every attempt at the same digest (same receiver, same
/// alerts), so a mail system can recognise a resend after a crash as the same message.
pub fn message_id(digest: &Digest, domain: &str) -> String {
    let mut parts: Vec<&str> = vec![&digest.receiver];
    let mut ids: Vec<&str> = digest.alerts.iter().map(|a| a.id.as_str()).collect();
    ids.sort_unstable();
    parts.extend(ids);
    let domain = if domain.is_empty() { "renewd" } else { domain };
    format!("<{}.renewd@{domain}>", crate::model::decision_id(&parts))
}

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

/// The subject: what happened at a glance, e.g. `[renewd] 2 CodeArts packages expire within
/// 14 days (prod)` or `[renewd] 1 expired, 2 expiring CodeArts packages (prod)`.
pub fn subject(digest: &Digest) -> String {
    let alerts = &digest.alerts;
    if alerts.is_empty() {
        return "[renewd] no alerts".into();
    }
    if alerts.iter().all(|a| a.kind == AlertKind::Test) {
        return "[renewd] test message".into();
    }
    let headline = if alerts.len() == 1 {
        single_headline(&alerts[0])
    } else {
        counted_headline(alerts)
    };
    let accounts = accounts_label(alerts);
    let line = if accounts.is_empty() {
        format!("[renewd] {headline}")
    } else {
        format!("[renewd] {headline} ({accounts})")
    };
    truncate(&single_line(&line), MAX_SUBJECT_CHARS)
}

fn package_name(alert: &Alert) -> &str {
    alert.package.as_deref().unwrap_or("CodeArts package")
}

fn scope_name(alert: &Alert) -> String {
    match &alert.project_id {
        Some(p) => format!("{}/{p}", alert.account),
        None => alert.account.clone(),
    }
}

/// Headline of a digest with one alert: names the package.
fn single_headline(alert: &Alert) -> String {
    let package = package_name(alert);
    let text = match alert.kind {
        AlertKind::Expiring => match alert.remain_days {
            Some(0) => format!("CodeArts package {package} expires today"),
            Some(1) => format!("CodeArts package {package} expires in 1 day"),
            Some(n) => format!("CodeArts package {package} expires in {n} days"),
            None => format!("CodeArts package {package} expires soon"),
        },
        AlertKind::Expired => format!(
            "CodeArts package {package} has expired ({})",
            status_label(alert)
        ),
        AlertKind::Renewed => format!(
            "CodeArts package {package} was renewed ({} left)",
            remaining_label(alert)
        ),
        AlertKind::StatusChanged => {
            format!("CodeArts package {package} is now {}", status_label(alert))
        }
        AlertKind::Vanished => format!("CodeArts package {package} is no longer reported"),
        AlertKind::PollFailed => format!(
            "cannot check the CodeArts packages of {}",
            scope_name(alert)
        ),
        AlertKind::PollRecovered => format!(
            "checking the CodeArts packages of {} works again",
            scope_name(alert)
        ),
        AlertKind::Test => "test message".into(),
    };
    if alert.reminder {
        format!("reminder: {text}")
    } else {
        text
    }
}

/// Headline of a digest with several alerts: counts by kind, most urgent kind first.
fn counted_headline(alerts: &[Alert]) -> String {
    let count = |kind: AlertKind| alerts.iter().filter(|a| a.kind == kind).count();
    let package_kinds = [
        (AlertKind::Expired, "expired"),
        (AlertKind::Expiring, "expiring"),
        (AlertKind::StatusChanged, "status-changed"),
        (AlertKind::Vanished, "vanished"),
        (AlertKind::Renewed, "renewed"),
        (AlertKind::Test, "test"),
    ];
    let present: Vec<(AlertKind, &str, usize)> = package_kinds
        .iter()
        .map(|(k, word)| (*k, *word, count(*k)))
        .filter(|(_, _, n)| *n > 0)
        .collect();
    let packages: usize = present.iter().map(|(_, _, n)| n).sum();

    let mut parts = Vec::new();
    match present.as_slice() {
        [] => {}
        [(AlertKind::Expiring, _, n)] => {
            let within = alerts
                .iter()
                .filter(|a| a.kind == AlertKind::Expiring)
                .filter_map(|a| a.threshold.or(a.remain_days))
                .max();
            let verb = if *n == 1 { "expires" } else { "expire" };
            parts.push(match within {
                Some(days) => format!(
                    "{} {verb} within {}",
                    plural(*n, "CodeArts package", "CodeArts packages"),
                    plural(days.max(0) as usize, "day", "days")
                ),
                None => format!(
                    "{} {verb} soon",
                    plural(*n, "CodeArts package", "CodeArts packages")
                ),
            });
        }
        [(_, word, n)] => parts.push(format!(
            "{} {word}",
            plural(*n, "CodeArts package", "CodeArts packages")
        )),
        several => {
            let counts: Vec<String> = several
                .iter()
                .map(|(_, word, n)| format!("{n} {word}"))
                .collect();
            let noun = if packages == 1 {
                "CodeArts package"
            } else {
                "CodeArts packages"
            };
            parts.push(format!("{} {noun}", counts.join(", ")));
        }
    }
    let failed = count(AlertKind::PollFailed);
    if failed > 0 {
        parts.push(format!(
            "cannot check {}",
            plural(failed, "account/project", "accounts/projects")
        ));
    }
    let recovered = count(AlertKind::PollRecovered);
    if recovered > 0 {
        parts.push(format!(
            "checking works again for {}",
            plural(recovered, "account/project", "accounts/projects")
        ));
    }
    parts.join("; ")
}

/// Facts shown for one alert, in both parts of the message.
struct Row<'a> {
    alert: &'a Alert,
    expiry: String,
}

fn rows(digest: &Digest) -> Vec<Row<'_>> {
    sorted_by_urgency(&digest.alerts)
        .into_iter()
        .map(|alert| Row {
            alert,
            expiry: expiry_label(alert),
        })
        .collect()
}

fn poll_error_text(alert: &Alert) -> Option<String> {
    let e = alert.error.as_ref()?;
    let mut text = String::new();
    if let Some(status) = e.http_status {
        let _ = write!(text, "HTTP {status} ");
    }
    if let Some(code) = &e.error_code {
        let _ = write!(text, "{code} ");
    }
    text.push_str(&e.error_msg);
    if let Some(id) = &e.request_id {
        let _ = write!(text, " (request id {id})");
    }
    if e.consecutive_failures > 0 {
        let _ = write!(
            text,
            "; {} in a row",
            plural(
                e.consecutive_failures as usize,
                "failed poll",
                "failed polls"
            )
        );
    }
    Some(single_line(&text))
}

fn footer() -> &'static str {
    "Expiry dates are estimated: the day the remaining days were read, plus those days, in \
     GMT+08:00 (Huawei Cloud's billing day). A billing cycle ends at 23:59:59 GMT+08:00 on its \
     last day."
}

/// The plain-text part: readable on its own, one block per alert, the renewal URL on its own
/// line.
pub fn text_body(digest: &Digest) -> String {
    let mut out = String::new();
    let headline = subject(digest);
    let headline = headline.trim_start_matches("[renewd] ");
    let _ = writeln!(out, "renewd: {headline}");
    let _ = writeln!(
        out,
        "Receiver {}, sent {}",
        single_line(&digest.receiver),
        local_time(digest.sent_at, digest.timezone)
    );
    for (i, row) in rows(digest).iter().enumerate() {
        let a = row.alert;
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{}. [{}] {}",
            i + 1,
            kind_label(a),
            single_line(&a.summary)
        );
        let field = |out: &mut String, label: &str, value: &str| {
            let _ = writeln!(out, "   {label:<13}{}", single_line(value));
        };
        field(&mut out, "Account:", &a.account);
        field(&mut out, "Project:", project_label(a));
        if let Some(package) = &a.package {
            field(&mut out, "Package:", package);
        }
        if let Some(resource) = &a.resource_id {
            field(&mut out, "Resource:", resource);
        }
        if a.remain_days.is_some() {
            let mut remaining = remaining_label(a);
            if let Some(t) = a.threshold {
                let _ = write!(
                    remaining,
                    " (threshold {})",
                    plural(t.max(0) as usize, "day", "days")
                );
            }
            field(&mut out, "Remaining:", &remaining);
        }
        if a.package_status.is_some() || a.package_status_name.is_some() {
            let mut status = status_label(a);
            if let Some(previous) = a.previous_status {
                let _ = write!(
                    status,
                    ", was {} ({previous})",
                    crate::model::package_status_name(Some(previous))
                );
            }
            field(&mut out, "Status:", &status);
        }
        if let Some(days) = a.remain_days {
            let label = if days < 0 { "Expired:" } else { "Expires:" };
            field(&mut out, label, &format!("{} (estimated)", row.expiry));
        }
        if let Some(error) = poll_error_text(a) {
            field(&mut out, "Error:", &error);
        }
        match (safe_link(a), &a.next_action_url) {
            (Some(link), _) => {
                let _ = writeln!(out, "   Renew:");
                let _ = writeln!(out, "   {link}");
            }
            (None, Some(url)) => {
                let _ = writeln!(out, "   Renewal address (not https, check it before use):");
                let _ = writeln!(out, "   {}", single_line(url));
            }
            (None, None) => {}
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "-- ");
    let _ = writeln!(out, "{}", footer());
    out
}

/// The HTML part: account-level alerts as a list, packages as a table sorted by urgency with
/// a Renew link each. Every value is escaped; only `https://` links are clickable.
pub fn html_body(digest: &Digest) -> String {
    let rows = rows(digest);
    let (packages, scopes): (Vec<&Row>, Vec<&Row>) =
        rows.iter().partition(|r| r.alert.package.is_some());
    let title = subject(digest);
    let headline = title.trim_start_matches("[renewd] ");

    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n\
         <body style=\"font-family:sans-serif;font-size:14px;color:#222\">\n\
         <h2 style=\"font-size:18px\">{}</h2>\n\
         <p style=\"color:#555\">Receiver {}, sent {}</p>\n",
        escape_html(&title),
        escape_html(headline),
        escape_html(&digest.receiver),
        escape_html(&local_time(digest.sent_at, digest.timezone)),
    );

    if !scopes.is_empty() {
        out.push_str("<ul>\n");
        for row in scopes {
            let a = row.alert;
            let _ = write!(
                out,
                "<li><strong>{}</strong>: {}",
                escape_html(&kind_label(a)),
                escape_html(&a.summary)
            );
            if let Some(error) = poll_error_text(a) {
                let _ = write!(
                    out,
                    "<br><span style=\"color:#555\">{}</span>",
                    escape_html(&error)
                );
            }
            out.push_str("</li>\n");
        }
        out.push_str("</ul>\n");
    }

    if !packages.is_empty() {
        const CELL: &str = "style=\"border:1px solid #ccc;padding:4px 8px;text-align:left\"";
        let _ = write!(
            out,
            "<table style=\"border-collapse:collapse\">\n<thead><tr>\
             <th {CELL}>Alert</th><th {CELL}>Account</th><th {CELL}>Project</th>\
             <th {CELL}>Package</th><th {CELL}>Remaining days</th><th {CELL}>Status</th>\
             <th {CELL}>Expires (est.)</th><th {CELL}>Renew</th></tr></thead>\n<tbody>\n"
        );
        for row in packages {
            let a = row.alert;
            let remaining = a
                .remain_days
                .map(|d| d.to_string())
                .unwrap_or_else(|| "-".into());
            let renew = match (safe_link(a), &a.next_action_url) {
                (Some(link), _) => format!("<a href=\"{}\">Renew</a>", escape_html(link)),
                // Shown so that people can check it, but never as a link.
                (None, Some(url)) => format!(
                    "<span style=\"color:#a00\">not a secure link:</span> <code>{}</code>",
                    escape_html(url)
                ),
                (None, None) => "-".into(),
            };
            let _ = writeln!(
                out,
                "<tr><td {CELL}><strong>{}</strong><br><span style=\"color:#555\">{}</span></td>\
                 <td {CELL}>{}</td><td {CELL}>{}</td><td {CELL}>{}</td><td {CELL}>{}</td>\
                 <td {CELL}>{}</td><td {CELL}>{}</td><td {CELL}>{renew}</td></tr>",
                escape_html(&kind_label(a)),
                escape_html(&a.summary),
                escape_html(&a.account),
                escape_html(project_label(a)),
                escape_html(package_name(a)),
                escape_html(&remaining),
                escape_html(&status_label(a)),
                escape_html(&row.expiry),
            );
        }
        out.push_str("</tbody>\n</table>\n");
    }

    let _ = write!(
        out,
        "<p style=\"color:#777;font-size:12px\">{}</p>\n</body></html>\n",
        escape_html(footer())
    );
    out
}

// ---------------------------------------------------------------------------------------------
// Optional templates (`subject_template`, `text_template`, `html_template`)
// ---------------------------------------------------------------------------------------------

const SUBJECT_TEMPLATE: &str = "subject.txt";
const TEXT_TEMPLATE: &str = "body.txt";
/// The `.html` name turns on minijinja's HTML auto-escaping for this template.
const HTML_TEMPLATE: &str = "body.html";

/// The receiver's own templates, where configured; the built-in rendering otherwise.
pub struct EmailTemplates {
    env: Option<minijinja::Environment<'static>>,
    subject: bool,
    text: bool,
    html: bool,
}

/// What a template sees: `receiver`, `sent_at` (local time), `timezone`, `subject` (the
/// built-in one), `count` and `alerts` (renewd's JSON fields plus `expiry_date`,
/// `renew_link` — set only for `https://` links —, `status_label`, `remaining`, `project`).
#[derive(Serialize)]
struct TemplateContext<'a> {
    receiver: &'a str,
    sent_at: String,
    timezone: &'a str,
    subject: String,
    count: usize,
    alerts: Vec<TemplateAlert<'a>>,
}

#[derive(Serialize)]
struct TemplateAlert<'a> {
    #[serde(flatten)]
    alert: &'a Alert,
    expiry_date: String,
    renew_link: Option<&'a str>,
    status_label: String,
    remaining: String,
    project: &'a str,
}

impl std::fmt::Debug for EmailTemplates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailTemplates")
            .field("subject", &self.subject)
            .field("text", &self.text)
            .field("html", &self.html)
            .finish()
    }
}

impl EmailTemplates {
    /// Compiles the configured templates; a syntax error names the config key.
    pub fn new(
        receiver: &str,
        subject: Option<&str>,
        text: Option<&str>,
        html: Option<&str>,
    ) -> Result<EmailTemplates, BuildError> {
        let mut templates = EmailTemplates {
            env: None,
            subject: subject.is_some(),
            text: text.is_some(),
            html: html.is_some(),
        };
        if subject.is_none() && text.is_none() && html.is_none() {
            return Ok(templates);
        }
        let mut env = super::template::environment();
        for (field, name, source) in [
            ("subject_template", SUBJECT_TEMPLATE, subject),
            ("text_template", TEXT_TEMPLATE, text),
            ("html_template", HTML_TEMPLATE, html),
        ] {
            if let Some(source) = source {
                env.add_template_owned(name, source.to_string())
                    .map_err(|e| BuildError::InvalidTemplate {
                        receiver: receiver.to_string(),
                        field: field.to_string(),
                        reason: e.to_string(),
                    })?;
            }
        }
        templates.env = Some(env);
        Ok(templates)
    }

    /// The built-in rendering only.
    pub fn built_in() -> EmailTemplates {
        EmailTemplates {
            env: None,
            subject: false,
            text: false,
            html: false,
        }
    }

    /// Subject, text part and HTML part of one digest.
    pub fn render(&self, digest: &Digest) -> Result<(String, String, String), TemplateError> {
        let Some(env) = &self.env else {
            return Ok((subject(digest), text_body(digest), html_body(digest)));
        };
        let context = TemplateContext {
            receiver: &digest.receiver,
            sent_at: local_time(digest.sent_at, digest.timezone),
            timezone: digest.timezone.name(),
            subject: subject(digest),
            count: digest.alerts.len(),
            alerts: sorted_by_urgency(&digest.alerts)
                .into_iter()
                .map(|alert| TemplateAlert {
                    alert,
                    expiry_date: expiry_label(alert),
                    renew_link: safe_link(alert),
                    status_label: status_label(alert),
                    remaining: remaining_label(alert),
                    project: project_label(alert),
                })
                .collect(),
        };
        let run = |name: &str, field: &'static str| -> Result<String, TemplateError> {
            super::template::render(env, name, &context)
                .map_err(|reason| TemplateError { field, reason })
        };
        let subject_line = if self.subject {
            truncate(
                &single_line(run(SUBJECT_TEMPLATE, "subject_template")?.trim()),
                MAX_SUBJECT_CHARS,
            )
        } else {
            context.subject.clone()
        };
        let text = if self.text {
            run(TEXT_TEMPLATE, "text_template")?
        } else {
            text_body(digest)
        };
        let html = if self.html {
            run(HTML_TEMPLATE, "html_template")?
        } else {
            html_body(digest)
        };
        Ok((subject_line, text, html))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PollErrorInfo, Severity};
    use crate::notify::render::tests::{alert, digest, sent_at};

    fn of_kind(package: &str, kind: AlertKind, days: i64) -> Alert {
        let mut a = alert(package, Some(days), Severity::for_remain_days(days));
        a.kind = kind;
        a
    }

    #[test]
    fn subjects_say_what_happened() {
        let d = digest(vec![
            of_kind("a", AlertKind::Expiring, 11),
            of_kind("b", AlertKind::Expiring, 9),
        ]);
        assert_eq!(
            subject(&d),
            "[renewd] 2 CodeArts packages expire within 14 days (prod)"
        );
        let d = digest(vec![
            of_kind("a", AlertKind::Expiring, 11),
            of_kind("b", AlertKind::Expiring, 9),
            of_kind("c", AlertKind::Expired, 0),
        ]);
        assert_eq!(
            subject(&d),
            "[renewd] 1 expired, 2 expiring CodeArts packages (prod)"
        );
        let d = digest(vec![of_kind("a", AlertKind::Expiring, 11)]);
        assert_eq!(
            subject(&d),
            "[renewd] CodeArts package a expires in 11 days (prod)"
        );
        let d = digest(vec![
            of_kind("a", AlertKind::Expired, 0),
            of_kind("b", AlertKind::Expired, -2),
        ]);
        assert_eq!(subject(&d), "[renewd] 2 CodeArts packages expired (prod)");
        let mut failed = of_kind("x", AlertKind::PollFailed, 0);
        failed.package = None;
        failed.project_id = Some("p1".into());
        assert_eq!(
            subject(&digest(vec![failed.clone()])),
            "[renewd] cannot check the CodeArts packages of prod/p1 (prod)"
        );
        let d = digest(vec![failed, of_kind("c", AlertKind::Expired, 0)]);
        assert_eq!(
            subject(&d),
            "[renewd] 1 CodeArts package expired; cannot check 1 account/project (prod)"
        );
        let test = crate::notify::test_digest("ops", sent_at(), chrono_tz::UTC);
        assert_eq!(subject(&test), "[renewd] test message");
    }

    #[test]
    fn subject_is_one_line_even_with_hostile_keys() {
        let d = digest(vec![of_kind(
            "evil\r\nBcc: x@example.com",
            AlertKind::Expiring,
            3,
        )]);
        let s = subject(&d);
        assert!(!s.contains('\n') && !s.contains('\r'), "{s:?}");
    }

    #[test]
    fn html_escapes_values_and_links_only_https() {
        let mut evil = of_kind("<script>alert(1)</script>", AlertKind::Expiring, 3);
        evil.next_action_url = Some("javascript:alert(1)".into());
        evil.account = "a&b\"c".into();
        let good = of_kind("good", AlertKind::Expiring, 5);
        let html = html_body(&digest(vec![evil, good]));
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("a&amp;b&quot;c"));
        assert!(!html.contains("href=\"javascript:"), "{html}");
        assert!(html.contains("<code>javascript:alert(1)</code>"));
        assert_eq!(html.matches(">Renew</a>").count(), 1);
        assert!(html.contains("<a href=\"https://example.com/renew\">Renew</a>"));
    }

    #[test]
    fn html_table_is_sorted_and_shows_status_and_expiry() {
        let html = html_body(&digest(vec![
            of_kind("later", AlertKind::Expiring, 20),
            of_kind("sooner", AlertKind::Expiring, 2),
        ]));
        let sooner = html.find("sooner").unwrap();
        let later = html.find("later").unwrap();
        assert!(sooner < later);
        assert!(html.contains("active (2)"));
        // 2026-11-26 in Shanghai + 2 days.
        assert!(html.contains("2026-11-28"), "{html}");
    }

    #[test]
    fn text_part_has_one_block_per_alert_with_the_url_on_its_own_line() {
        let mut insecure = of_kind("plain", AlertKind::Expiring, 4);
        insecure.next_action_url = Some("http://example.com/x".into());
        let mut failed = of_kind("x", AlertKind::PollFailed, 0);
        failed.package = None;
        failed.remain_days = None;
        failed.package_status = None;
        failed.package_status_name = None;
        failed.next_action_url = None;
        failed.error = Some(PollErrorInfo {
            http_status: Some(401),
            error_code: Some("APIG.0301".into()),
            error_msg: "token expired".into(),
            request_id: Some("req-1".into()),
            consecutive_failures: 3,
        });
        let text = text_body(&digest(vec![
            of_kind("a", AlertKind::Expiring, 11),
            insecure,
            failed,
        ]));
        assert!(
            text.lines()
                .any(|l| l.trim() == "https://example.com/renew"),
            "{text}"
        );
        assert!(text.contains("Renewal address (not https"), "{text}");
        assert!(text.contains(
            "HTTP 401 APIG.0301 token expired (request id req-1); 3 failed polls in a row"
        ));
        assert!(
            text.contains("Expires:     2026-12-07 (estimated)"),
            "{text}"
        );
        assert_eq!(text.matches("\n1. ").count(), 1);
        assert_eq!(text.matches("\n3. ").count(), 1);
    }

    #[test]
    fn message_id_is_stable_for_the_same_alerts() {
        let a = digest(vec![
            of_kind("a", AlertKind::Expiring, 11),
            of_kind("b", AlertKind::Expiring, 3),
        ]);
        let mut b = a.clone();
        b.alerts.reverse();
        b.sent_at = sent_at() + chrono::TimeDelta::hours(5);
        assert_eq!(message_id(&a, "example.com"), message_id(&b, "example.com"));
        assert!(message_id(&a, "example.com").ends_with(".renewd@example.com>"));
        let c = digest(vec![of_kind("a", AlertKind::Expiring, 11)]);
        assert_ne!(message_id(&a, "example.com"), message_id(&c, "example.com"));
    }

    #[test]
    fn templates_render_with_html_escaping() {
        let t = EmailTemplates::new(
            "ops",
            Some("{{ count }} alerts for {{ receiver }}"),
            None,
            Some("{% for a in alerts %}<b>{{ a.package }}</b>{{ a.renew_link }}{% endfor %}"),
        )
        .unwrap();
        let (s, text, html) = t
            .render(&digest(vec![of_kind("<i>x</i>", AlertKind::Expiring, 3)]))
            .unwrap();
        assert_eq!(s, "1 alerts for ops");
        assert!(text.contains("renewd:"));
        assert!(html.contains("<b>&lt;i&gt;x&lt;&#x2f;i&gt;</b>"), "{html}");
        let err = EmailTemplates::new("ops", Some("{% if %}"), None, None).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("receivers.ops.subject_template:"),
            "{err}"
        );
    }

    fn smtp_config(ca_file: Option<std::path::PathBuf>) -> SmtpConfig {
        SmtpConfig {
            host: "smtp.example.com".into(),
            port: None,
            security: SmtpSecurity::Starttls,
            username: Some("renewd".into()),
            password: Some(crate::config::Secret::new("pw-secret-1")),
            password_file: None,
            from: "renewd <renewd@example.com>".into(),
            timeout: Duration::from_secs(30),
            ca_file,
        }
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_refused_at_startup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        let err = SmtpSettings::from_config(&smtp_config(Some(path.clone()))).unwrap_err();
        assert!(matches!(err, BuildError::CaFile { .. }), "{err:?}");
        assert!(err.to_string().starts_with("smtp.ca_file:"), "{err}");
        let missing = dir.path().join("missing.pem");
        let err = SmtpSettings::from_config(&smtp_config(Some(missing))).unwrap_err();
        assert!(matches!(err, BuildError::CaFile { .. }), "{err:?}");
    }

    #[test]
    fn settings_pick_the_port_and_never_show_the_password() {
        let settings = SmtpSettings::from_config(&smtp_config(None)).unwrap();
        assert_eq!(settings.server, "smtp.example.com:587");
        let n = EmailNotifier::new(
            "ops",
            &settings,
            &["ops@example.com".into()],
            &[],
            EmailTemplates::built_in(),
        )
        .unwrap();
        assert!(!format!("{n:?}").contains("pw-secret-1"));
        assert_eq!(settings.scrub("echo pw-secret-1".into()), "echo <redacted>");
        let err = EmailNotifier::new(
            "ops",
            &settings,
            &["not an address".into()],
            &[],
            EmailTemplates::built_in(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "receivers.ops.to[0]: \"not an address\" is not an email address"
        );
    }
}
