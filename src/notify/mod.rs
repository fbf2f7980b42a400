//! Receivers: one file per kind of receiver behind the one [`Notifier`] interface.
//!
//! A notifier makes exactly one attempt per [`Notifier::send`] call and says whether a failure
//! is worth retrying ([`NotifyError::Transient`]) or not ([`NotifyError::Permanent`]). Retrying,
//! backoff and giving up live in one place: the outbox driver.
//!
//! Each webhook format is one file under `webhook/` implementing
//! [`webhook::WebhookFormat`], listed once in [`webhook::FORMATS`]. `render.rs` holds the
//! wording every receiver shares; `ratelimit.rs` the limiter the quotas feed.

pub(crate) mod alertmanager_api;
pub mod email;
pub(crate) mod http;
pub mod i18n;
pub(crate) mod labels;
pub(crate) mod log;
pub mod outbox;
pub(crate) mod ratelimit;
pub(crate) mod refresh;
pub mod render;
pub(crate) mod template;
pub mod webhook;

use crate::config::{Config, ReceiverConfig};
use crate::model::{Alert, AlertKind, Locale, Severity};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// One cycle's alerts for one receiver: delivered as one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Digest {
    pub receiver: String,
    pub alerts: Vec<Alert>,
    pub sent_at: DateTime<Utc>,
    /// Time zone in which times are shown: the receiver's `timezone`, else the daemon's.
    pub timezone: chrono_tz::Tz,
    /// Language of every built-in text: the receiver's `locale`, else `[daemon] locale`.
    pub locale: Locale,
    /// Silences in force that end within a day of the digest, soonest first: mentioned so
    /// that what they held back coming out again is no surprise.
    pub silences_ending: Vec<SilenceEnding>,
}

/// A silence in force that ends soon, as a digest mentions it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SilenceEnding {
    pub id: i64,
    /// What it matches, e.g. `account=prod,package=codearts*` (`everything` when nothing).
    #[serde(serialize_with = "matchers_text")]
    pub matchers: crate::model::SilenceMatchers,
    /// When it stops holding decisions back.
    #[serde(serialize_with = "rfc3339")]
    pub ends_at: DateTime<Utc>,
    pub created_by: String,
    pub reason: String,
}

fn matchers_text<S: serde::Serializer>(
    m: &crate::model::SilenceMatchers,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_str(m)
}

fn rfc3339<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// How far ahead a digest looks for silences that end.
pub const SILENCE_NOTICE: chrono::TimeDelta = chrono::TimeDelta::hours(24);

impl SilenceEnding {
    /// Of `silences`, those in force at `at` that end within [`SILENCE_NOTICE`] of it,
    /// soonest first.
    pub fn within_a_day(silences: &[crate::model::Silence], at: DateTime<Utc>) -> Vec<Self> {
        let mut ending: Vec<SilenceEnding> = silences
            .iter()
            .filter(|s| s.in_force(at) && s.end() <= at + SILENCE_NOTICE)
            .map(|s| SilenceEnding {
                id: s.id,
                matchers: s.matchers.clone(),
                ends_at: s.end(),
                created_by: s.created_by.clone(),
                reason: s.reason.clone(),
            })
            .collect();
        ending.sort_by_key(|s| (s.ends_at, s.id));
        ending
    }
}

impl Digest {
    /// A digest in English; [`Digest::styled`] gives it a receiver's locale and time zone.
    pub fn new(
        receiver: impl Into<String>,
        alerts: Vec<Alert>,
        sent_at: DateTime<Utc>,
        timezone: chrono_tz::Tz,
    ) -> Digest {
        Digest {
            receiver: receiver.into(),
            alerts,
            sent_at,
            timezone,
            locale: Locale::En,
            silences_ending: Vec::new(),
        }
    }

    /// The digest mentioning `silences` (see [`SilenceEnding::within_a_day`]).
    pub fn with_silences_ending(mut self, silences: Vec<SilenceEnding>) -> Digest {
        self.silences_ending = silences;
        self
    }

    /// The digest in `style`'s locale and time zone.
    pub fn styled(mut self, style: Style) -> Digest {
        self.locale = style.locale;
        self.timezone = style.timezone;
        self
    }
}

/// How a receiver is written to: its language and the time zone of the times it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub locale: Locale,
    pub timezone: chrono_tz::Tz,
}

/// What the receiving server answered to a successful delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// e.g. `HTTP 200` or `250 2.0.0 Ok: queued as …`.
    pub detail: String,
}

/// The parts of a message `renewd preview --format` can print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PreviewFormat {
    Text,
    Html,
    Json,
}

impl PreviewFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            PreviewFormat::Text => "text",
            PreviewFormat::Html => "html",
            PreviewFormat::Json => "json",
        }
    }
}

impl std::fmt::Display for PreviewFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a receiver would deliver for one digest, rendered by the code its
/// [`Notifier::send`] uses: each part it has, and the one shown when none is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub default: PreviewFormat,
    pub text: Option<String>,
    pub html: Option<String>,
    pub json: Option<String>,
}

impl Preview {
    /// The part in `format`, if this receiver has one.
    pub fn part(&self, format: PreviewFormat) -> Option<&str> {
        match format {
            PreviewFormat::Text => self.text.as_deref(),
            PreviewFormat::Html => self.html.as_deref(),
            PreviewFormat::Json => self.json.as_deref(),
        }
    }

    /// The formats this receiver has a part in.
    pub fn formats(&self) -> Vec<PreviewFormat> {
        [
            PreviewFormat::Text,
            PreviewFormat::Html,
            PreviewFormat::Json,
        ]
        .into_iter()
        .filter(|f| self.part(*f).is_some())
        .collect()
    }
}

/// Why one delivery attempt failed. Messages never contain secrets (passwords, webhook URLs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// Worth retrying: server down, timeout, 5xx/429, SMTP 4xx.
    #[error("receiver {receiver}: {message}")]
    Transient {
        receiver: String,
        message: String,
        /// What the server asked for (`Retry-After`), when it did.
        retry_after: Option<Duration>,
    },
    /// Retrying the same message cannot help: HTTP 4xx, SMTP 5xx, bad credentials.
    #[error("receiver {receiver}: {message}")]
    Permanent { receiver: String, message: String },
}

impl NotifyError {
    pub(crate) fn transient(receiver: &str, message: impl Into<String>) -> Self {
        NotifyError::Transient {
            receiver: receiver.to_string(),
            message: message.into(),
            retry_after: None,
        }
    }

    pub(crate) fn permanent(receiver: &str, message: impl Into<String>) -> Self {
        NotifyError::Permanent {
            receiver: receiver.to_string(),
            message: message.into(),
        }
    }

    #[cfg(test)]
    pub(crate) fn receiver(&self) -> &str {
        match self {
            NotifyError::Transient { receiver, .. } | NotifyError::Permanent { receiver, .. } => {
                receiver
            }
        }
    }

    pub fn message(&self) -> &str {
        match self {
            NotifyError::Transient { message, .. } | NotifyError::Permanent { message, .. } => {
                message
            }
        }
    }

    pub fn is_transient(&self) -> bool {
        matches!(self, NotifyError::Transient { .. })
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            NotifyError::Transient { retry_after, .. } => *retry_after,
            NotifyError::Permanent { .. } => None,
        }
    }
}

/// Why the receivers could not be built from the config. Each names the config key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("receivers.{receiver}: an email receiver needs an [smtp] section")]
    MissingSmtp { receiver: String },
    #[error("{key}: {address:?} is not an email address")]
    InvalidAddress { key: String, address: String },
    #[error("smtp.ca_file: cannot use {}: {reason}", path.display())]
    CaFile { path: PathBuf, reason: String },
    #[error("smtp: cannot set up TLS for {host:?}: {reason}")]
    Tls { host: String, reason: String },
    #[error("receivers.{receiver}.url: give `url` or `url_file`")]
    MissingUrl { receiver: String },
    /// The URL itself is not shown: it may embed a key.
    #[error("receivers.{receiver}.url: not a usable http(s) URL")]
    InvalidUrl { receiver: String },
    #[error("receivers.{receiver}.headers: {header:?}: {reason}")]
    InvalidHeader {
        receiver: String,
        header: String,
        reason: String,
    },
    #[error(
        "receivers.{receiver}.format: the {format:?} webhook format is not available in this build"
    )]
    UnsupportedFormat { receiver: String, format: String },
    #[error("receivers.{receiver}.{field}: {reason}")]
    InvalidTemplate {
        receiver: String,
        field: String,
        reason: String,
    },
}

/// Something that delivers digests to one configured receiver.
#[async_trait::async_trait]
pub trait Notifier: Send + Sync {
    /// The receiver's name from the config.
    fn name(&self) -> &str;
    /// `email`, `webhook` or `log`.
    fn kind(&self) -> &'static str;
    /// One attempt to deliver one digest. Never logs or returns secrets.
    async fn send(&self, digest: &Digest) -> Result<Receipt, NotifyError>;

    /// What [`send`](Notifier::send) would deliver for `digest`, rendered by the same code,
    /// without any I/O (`renewd preview`, `renewd demo`).
    fn preview(&self, digest: &Digest) -> Result<Preview, NotifyError>;

    /// Whether the receiver holds alerts open on its side until they are ended or lapse
    /// (Alertmanager's API): it is then given, after every cycle, the alerts that still hold
    /// ([`Notifier::refresh`]).
    fn keeps_alerts_open(&self) -> bool {
        false
    }

    /// One attempt to post again every alert of `active` (the alerts that still hold) and to
    /// end what the receiver holds open that no longer does. Called only for receivers that
    /// [keep alerts open](Notifier::keeps_alerts_open).
    async fn refresh(&self, active: &Digest) -> Result<Receipt, NotifyError> {
        let _ = active;
        Err(NotifyError::permanent(
            self.name(),
            "this receiver holds no alerts open",
        ))
    }
}

/// Every configured receiver, by name.
#[derive(Default)]
pub struct Notifiers {
    by_name: BTreeMap<String, Box<dyn Notifier>>,
    /// Each configured receiver's locale and time zone (its own, else the daemon's).
    styles: BTreeMap<String, Style>,
}

impl std::fmt::Debug for Notifiers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names and kinds only: the notifiers themselves hold secrets.
        f.debug_map()
            .entries(self.by_name.iter().map(|(n, r)| (n, r.kind())))
            .finish()
    }
}

impl Notifiers {
    /// Builds one notifier per `[receivers.NAME]`. Email transports connect lazily, on the first
    /// send, so this needs no network and no async runtime.
    pub fn from_config(config: &Config, http: reqwest::Client) -> Result<Notifiers, BuildError> {
        let mut notifiers = Notifiers::default();
        let alert_hold = alert_hold(config, Utc::now());
        let needs_smtp = config
            .receivers
            .values()
            .any(|r| matches!(r, ReceiverConfig::Email { .. }));
        let smtp = match (&config.smtp, needs_smtp) {
            (Some(smtp), true) => Some(email::SmtpSettings::from_config(smtp)?),
            _ => None,
        };
        for (name, receiver) in &config.receivers {
            notifiers
                .styles
                .insert(name.clone(), receiver_style(config, receiver));
            let notifier: Box<dyn Notifier> = match receiver {
                ReceiverConfig::Email {
                    to,
                    cc,
                    subject_template,
                    text_template,
                    html_template,
                    ..
                } => {
                    let Some(smtp) = &smtp else {
                        return Err(BuildError::MissingSmtp {
                            receiver: name.clone(),
                        });
                    };
                    let templates = email::EmailTemplates::new(
                        name,
                        subject_template.as_deref(),
                        text_template.as_deref(),
                        html_template.as_deref(),
                    )?;
                    Box::new(email::EmailNotifier::new(name, smtp, to, cc, templates)?)
                }
                ReceiverConfig::Webhook {
                    url,
                    format,
                    secret,
                    headers,
                    rate_limit_per_minute,
                    text_template,
                    ..
                } => {
                    let url = url.as_ref().ok_or_else(|| BuildError::MissingUrl {
                        receiver: name.clone(),
                    })?;
                    let format =
                        webhook::find(format).ok_or_else(|| BuildError::UnsupportedFormat {
                            receiver: name.clone(),
                            format: format.clone(),
                        })?;
                    let setup = webhook::ReceiverSetup::new(
                        name,
                        format,
                        secret.as_ref(),
                        text_template.as_deref(),
                    )?;
                    Box::new(
                        webhook::WebhookNotifier::new(
                            name,
                            url,
                            headers,
                            format,
                            setup,
                            http.clone(),
                            config.daemon.timeout,
                        )?
                        .with_rate_limit_per_minute(*rate_limit_per_minute),
                    )
                }
                ReceiverConfig::Log { level, .. } => Box::new(log::LogNotifier::new(name, *level)),
                ReceiverConfig::AlertmanagerApi {
                    url,
                    username,
                    password,
                    bearer_token,
                    ..
                } => {
                    let auth = match (username, password, bearer_token) {
                        (Some(username), Some(password), _) => alertmanager_api::Auth::Basic {
                            username: username.clone(),
                            password: password.clone(),
                        },
                        (_, _, Some(token)) => alertmanager_api::Auth::Bearer(token.clone()),
                        _ => alertmanager_api::Auth::None,
                    };
                    Box::new(alertmanager_api::AlertmanagerApiNotifier::new(
                        name,
                        url,
                        auth,
                        http.clone(),
                        config.daemon.timeout,
                        alert_hold,
                        config.accounts.iter().map(|a| a.name.clone()),
                    )?)
                }
            };
            notifiers.insert(notifier);
        }
        Ok(notifiers)
    }

    /// Adds (or replaces) a notifier under its own name.
    pub(crate) fn insert(&mut self, notifier: Box<dyn Notifier>) {
        self.by_name.insert(notifier.name().to_string(), notifier);
    }

    pub fn get(&self, name: &str) -> Option<&dyn Notifier> {
        self.by_name.get(name).map(|n| n.as_ref())
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// The locale and time zone receiver `name` is written in: configured, or English and
    /// `timezone` for a receiver the config does not describe (tests add their own).
    pub fn style(&self, name: &str, timezone: chrono_tz::Tz) -> Style {
        self.styles.get(name).copied().unwrap_or(Style {
            locale: Locale::En,
            timezone,
        })
    }
}

/// A receiver's locale and time zone: its own `locale`/`timezone`, else `[daemon]`'s (both
/// checked when the config was loaded).
pub(crate) fn receiver_style(config: &Config, receiver: &ReceiverConfig) -> Style {
    let (locale, timezone) = receiver.style();
    Style {
        locale: locale
            .and_then(Locale::from_name)
            .unwrap_or_else(|| config.daemon.locale()),
        timezone: timezone
            .and_then(|tz| tz.parse().ok())
            .unwrap_or_else(|| config.daemon.tz()),
    }
}

/// How long an alert posted to a receiver that keeps alerts open (`alertmanager_api`) stays
/// open unless posted again: two periods of `daemon.schedule` (the longest gap among its next
/// runs, so that a weekday schedule covers the weekend), so that one missed cycle does not
/// resolve it and a renewd that stopped lets it resolve. One day when the schedule never
/// fires (the config check refuses such a schedule).
pub(crate) fn alert_hold(config: &Config, now: DateTime<Utc>) -> Duration {
    let period = crate::schedule::Schedule::new(&config.daemon.schedule, config.daemon.tz())
        .ok()
        .and_then(|s| s.longest_gap(now, HOLD_SAMPLE_RUNS))
        .and_then(|gap| gap.to_std().ok())
        .unwrap_or(Duration::from_secs(86_400));
    2 * period
}

/// Runs of the schedule whose gaps [`alert_hold`] measures: over a week of daily runs.
const HOLD_SAMPLE_RUNS: usize = 9;

/// Renders every receiver's own templates once against the example digest, so that a
/// broken one is refused by every command (with its key), not at the first alert.
pub(crate) fn check_templates(config: &Config, problems: &mut Vec<crate::config::Problem>) {
    for (name, receiver) in &config.receivers {
        let found = match receiver {
            ReceiverConfig::Email {
                subject_template,
                text_template,
                html_template,
                ..
            } => email_templates_render(
                name,
                subject_template.as_deref(),
                text_template.as_deref(),
                html_template.as_deref(),
            )
            .err(),
            ReceiverConfig::Webhook {
                format,
                text_template: Some(source),
                ..
            } => webhook::find(format)
                .and_then(|f| webhook::chat::validate_text_template(f, source).err())
                .map(|reason| ("text_template".to_string(), reason)),
            _ => None,
        };
        if let Some((field, reason)) = found {
            problems.push(crate::config::Problem::new(
                format!("receivers.{name}.{field}"),
                reason,
            ));
        }
    }
}

/// Compiles a receiver's email templates and renders them against the example package, for
/// config validation. The error is the template's key (`subject_template`, …) and the reason.
pub(crate) fn email_templates_render(
    receiver: &str,
    subject: Option<&str>,
    text: Option<&str>,
    html: Option<&str>,
) -> Result<(), (String, String)> {
    if subject.is_none() && text.is_none() && html.is_none() {
        return Ok(());
    }
    let templates =
        email::EmailTemplates::new(receiver, subject, text, html).map_err(|e| match e {
            BuildError::InvalidTemplate { field, reason, .. } => (field, reason),
            other => ("type".to_string(), other.to_string()),
        })?;
    let digest = test_digest(receiver, Utc::now(), chrono_tz::UTC);
    templates
        .render(&digest)
        .map(|_| ())
        .map_err(|e| (e.field.to_string(), e.reason))
}

/// The documented example package, used by the test message and the preview's example.
const EXAMPLE_PROJECT: &str = "666666af0f00445f85dec483fbc97c78";
const EXAMPLE_PACKAGE: &str = "codeartsStorageExtension";
const EXAMPLE_RESOURCE: &str = "7590809a5c9d42ae92b49b1190e94666";
const EXAMPLE_SERVICE_TYPE: &str = "hws.resource.type.codearts.extension.storage";
const EXAMPLE_REMAIN_DAYS: i64 = 11;
const EXAMPLE_URL: &str = "https://localhost.com/usercenter/?region=region&locale=zh-cn#/renewal?subscriptionId=01154-618666699-0&orderId=CS24066664337FWPY&isFrom=expense";

/// One package of the examples ([`ExamplePackage::alert`] makes an alert of it).
struct ExamplePackage {
    key: &'static str,
    resource_id: &'static str,
    service_type: &'static str,
    status: i64,
    remain_days: i64,
    url: &'static str,
}

impl ExamplePackage {
    const STORAGE: ExamplePackage = ExamplePackage {
        key: EXAMPLE_PACKAGE,
        resource_id: EXAMPLE_RESOURCE,
        service_type: EXAMPLE_SERVICE_TYPE,
        status: 2,
        remain_days: EXAMPLE_REMAIN_DAYS,
        url: EXAMPLE_URL,
    };

    fn alert(
        &self,
        receiver: &str,
        now: DateTime<Utc>,
        kind: AlertKind,
        severity: Severity,
        threshold: Option<i64>,
        summary: String,
    ) -> Alert {
        Alert {
            id: crate::model::stable_id(&["example", receiver, self.key, kind.as_str()]),
            kind,
            severity,
            rule: if kind == AlertKind::Test {
                "test"
            } else {
                "example"
            }
            .into(),
            account: "example".into(),
            project_id: Some(EXAMPLE_PROJECT.into()),
            source: Default::default(),
            package: Some(self.key.into()),
            resource_id: Some(self.resource_id.into()),
            service_type: Some(self.service_type.into()),
            package_status: Some(self.status),
            resource: Default::default(),
            package_status_name: Some(crate::model::package_status_name(Some(self.status)).into()),
            remain_days: Some(self.remain_days),
            threshold,
            next_action_url: Some(self.url.into()),
            summary,
            raised_at: now,
            previous_status: None,
            reminder: false,
            error: None,
            receivers: vec![receiver.to_string()],
        }
    }
}

/// A message of kind `test`, built from the documented example package
/// (codeartsStorageExtension, 11 days, the example nextActionUrl) — used by
/// `renewd test-notify <receiver>`.
pub fn test_digest(receiver: &str, now: DateTime<Utc>, tz: chrono_tz::Tz) -> Digest {
    let mut alert = ExamplePackage::STORAGE.alert(
        receiver,
        now,
        AlertKind::Test,
        Severity::Info,
        None,
        format!(
            "Test message from renewd (example data): {EXAMPLE_PACKAGE} expires in {EXAMPLE_REMAIN_DAYS} days"
        ),
    );
    alert.id = crate::model::DecisionKey::Test { receiver, at: now }.id();
    Digest::new(receiver, vec![alert], now, tz)
}

/// What `renewd preview` shows when the state holds no alert for the receiver: a realistic
/// digest of the account `example` — the documented example package expiring in 11 days, one
/// package expiring in 6 days and one expired, in its grace period.
pub fn example_digest(receiver: &str, now: DateTime<Utc>, tz: chrono_tz::Tz) -> Digest {
    const PIPELINE: ExamplePackage = ExamplePackage {
        key: "codeartsPipelineExtension",
        resource_id: "5b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e",
        service_type: "hws.resource.type.codearts.extension.pipeline",
        status: 2,
        remain_days: 6,
        url: "https://localhost.com/usercenter/?region=region&locale=zh-cn#/renewal?subscriptionId=01154-618366664-0&orderId=CS24052666638LJS2&isFrom=expense",
    };
    const BUILD: ExamplePackage = ExamplePackage {
        key: "codeartsBuildExtension",
        resource_id: "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
        service_type: "hws.resource.type.codearts.extension.build",
        status: 5,
        remain_days: 0,
        url: "https://localhost.com/usercenter/?region=region&locale=zh-cn#/renewal?subscriptionId=01154-618366665-0&orderId=CS24052666639LJS3&isFrom=expense",
    };
    let storage = ExamplePackage::STORAGE;
    let alerts = vec![
        storage.alert(
            receiver,
            now,
            AlertKind::Expiring,
            Severity::Info,
            Some(14),
            format!("{} expires in {} days", storage.key, storage.remain_days),
        ),
        PIPELINE.alert(
            receiver,
            now,
            AlertKind::Expiring,
            Severity::Warning,
            Some(7),
            format!("{} expires in {} days", PIPELINE.key, PIPELINE.remain_days),
        ),
        BUILD.alert(
            receiver,
            now,
            AlertKind::Expired,
            Severity::Critical,
            None,
            format!("{} expired (grace period)", BUILD.key),
        ),
    ];
    Digest::new(receiver, alerts, now, tz)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_digest_carries_the_documented_example() {
        let now = DateTime::parse_from_rfc3339("2026-11-26T01:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let d = test_digest("ops", now, chrono_tz::Asia::Shanghai);
        assert_eq!(d.receiver, "ops");
        assert_eq!(d.alerts.len(), 1);
        let a = &d.alerts[0];
        assert_eq!(a.kind, AlertKind::Test);
        assert_eq!(a.package.as_deref(), Some("codeartsStorageExtension"));
        assert_eq!(a.remain_days, Some(11));
        assert_eq!(a.renew_link(), Some(EXAMPLE_URL));
    }

    #[test]
    fn example_digest_has_an_expired_and_two_expiring_packages_with_https_links() {
        let now = DateTime::parse_from_rfc3339("2026-11-26T01:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let d = example_digest("ops", now, chrono_tz::UTC);
        let seen: Vec<(AlertKind, Severity, Option<i64>)> = d
            .alerts
            .iter()
            .map(|a| (a.kind, a.severity, a.remain_days))
            .collect();
        assert_eq!(
            seen,
            [
                (AlertKind::Expiring, Severity::Info, Some(11)),
                (AlertKind::Expiring, Severity::Warning, Some(6)),
                (AlertKind::Expired, Severity::Critical, Some(0)),
            ]
        );
        assert!(d.alerts.iter().all(|a| a.renew_link().is_some()));
        let ids: std::collections::BTreeSet<&str> =
            d.alerts.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids.len(), 3);
    }

    #[test]
    fn receivers_take_their_own_locale_and_timezone_else_the_daemons() {
        let config = Config::from_toml_with_env(
            r#"
[daemon]
timezone = "Asia/Shanghai"
locale = "zh-CN"

[[accounts]]
name = "prod"
region = "cn-north-4"
auth = { method = "token", token = "tok" }

[[rules]]
name = "default"
thresholds = [7]
receivers = ["daemons", "own"]

[receivers.daemons]
type = "log"

[receivers.own]
type = "log"
locale = "en"
timezone = "Europe/Berlin"
"#,
            &[],
        )
        .unwrap();
        let style = |name: &str| receiver_style(&config, &config.receivers[name]);
        assert_eq!(
            style("daemons"),
            Style {
                locale: Locale::ZhCn,
                timezone: chrono_tz::Asia::Shanghai
            }
        );
        assert_eq!(
            style("own"),
            Style {
                locale: Locale::En,
                timezone: chrono_tz::Europe::Berlin
            }
        );
    }

    #[test]
    fn the_test_message_speaks_the_receivers_language() {
        let now = DateTime::parse_from_rfc3339("2026-11-26T01:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let zh = test_digest("ops", now, chrono_tz::UTC).styled(Style {
            locale: Locale::ZhCn,
            timezone: chrono_tz::Asia::Shanghai,
        });
        assert_eq!(render::subject(&zh), "[renewd] 测试消息");
        let text = email::text_body(&zh);
        assert!(
            text.contains("[提示 测试] renewd 测试消息（示例数据）：codeartsStorageExtension 将在 11 天后到期"),
            "{text}"
        );
        assert!(text.contains("发送于 2026-11-26 09:00 CST"), "{text}");
        let en = test_digest("ops", now, chrono_tz::UTC);
        assert!(email::text_body(&en).contains("Receiver ops, sent 2026-11-26 01:00 UTC"));
    }

    fn silence(id: i64, ends_in_hours: i64, expired: bool) -> crate::model::Silence {
        let now = render::tests::sent_at();
        crate::model::Silence {
            id,
            matchers: crate::model::SilenceMatchers {
                account: Some("prod".into()),
                package: Some("codeartsStorage*".into()),
                ..Default::default()
            },
            created_at: now - chrono::TimeDelta::days(1),
            ends_at: now + chrono::TimeDelta::hours(ends_in_hours),
            reason: "PO 4711 in approval".into(),
            created_by: "alice".into(),
            expired_at: expired.then_some(now),
        }
    }

    #[test]
    fn silences_ending_within_a_day_are_those_in_force_soonest_first() {
        let now = render::tests::sent_at();
        let all = [
            silence(1, 30, false),
            silence(2, 9, false),
            silence(3, 2, false),
            silence(4, 5, true),
            silence(5, -1, false),
            silence(6, 24, false),
        ];
        let ids: Vec<i64> = SilenceEnding::within_a_day(&all, now)
            .iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(ids, [3, 2, 6]);
    }

    #[test]
    fn every_built_in_format_mentions_the_silences_ending_in_its_language() {
        let d = |locale| {
            render::tests::digest(vec![render::tests::alert(
                "codeartsPipelineExtension",
                Some(6),
                Severity::Warning,
            )])
            .styled(Style {
                locale,
                timezone: chrono_tz::Asia::Shanghai,
            })
            .with_silences_ending(SilenceEnding::within_a_day(
                &[silence(3, 9, false)],
                render::tests::sent_at(),
            ))
        };
        let en_line = "#3 account=prod,package=codeartsStorage* until 2026-11-26 18:00 CST, by alice: PO 4711 in approval";
        let zh_line = "#3 account=prod,package=codeartsStorage*，2026-11-26 18:00 CST 结束，由 alice 设置：PO 4711 in approval";
        for (locale, heading, line) in [
            (Locale::En, "Silences ending within a day", en_line),
            (Locale::ZhCn, "24 小时内结束的静默", zh_line),
        ] {
            let digest = d(locale);
            let text = email::text_body(&digest);
            assert!(text.contains(heading), "{text}");
            assert!(text.contains(&format!("\n- {line}\n")), "{text}");
            let html = email::html_body(&digest);
            assert!(html.contains(heading), "{html}");
            assert!(html.contains(&render::escape_html(line)), "{html}");
            let chat =
                webhook::chat::ChatTemplate::new("ops", webhook::chat::Dialect::Markdown, None)
                    .unwrap()
                    .render(&digest, 1)
                    .unwrap();
            assert!(chat.contains(&format!("**{heading}")), "{chat}");
            assert!(chat.contains("codeartsStorage*"), "{chat}");
            assert!(chat.contains("alice"), "{chat}");
        }
        let json: serde_json::Value =
            serde_json::from_slice(&webhook::json::body(&d(Locale::ZhCn)).unwrap()).unwrap();
        assert_eq!(
            json["silences_ending"],
            serde_json::json!([{
                "id": 3,
                "matchers": "account=prod,package=codeartsStorage*",
                "ends_at": "2026-11-26T10:00:00Z",
                "created_by": "alice",
                "reason": "PO 4711 in approval",
            }])
        );
        let none = render::tests::digest(vec![]);
        let json: serde_json::Value =
            serde_json::from_slice(&webhook::json::body(&none).unwrap()).unwrap();
        assert!(json.get("silences_ending").is_none(), "{json}");
    }

    #[test]
    fn error_accessors_and_display() {
        let e = NotifyError::Transient {
            receiver: "ops".into(),
            message: "HTTP 503".into(),
            retry_after: Some(Duration::from_secs(7)),
        };
        assert!(e.is_transient());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(e.to_string(), "receiver ops: HTTP 503");
        let p = NotifyError::permanent("ops", "HTTP 400");
        assert!(!p.is_transient());
        assert_eq!(p.retry_after(), None);
        assert_eq!(p.receiver(), "ops");
        assert_eq!(p.message(), "HTTP 400");
    }
}
