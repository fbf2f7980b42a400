//! `[receivers.NAME]` and `[smtp]`: who is told, and how.

use super::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SmtpConfig {
    pub(crate) host: String,
    /// Default by `security`: 587 (starttls), 465 (tls), 25 (none).
    pub(crate) port: Option<u16>,
    #[serde(default)]
    pub(crate) security: SmtpSecurity,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<Secret>,
    pub(crate) password_file: Option<PathBuf>,
    pub(crate) from: String,
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub(crate) timeout: Duration,
    /// PEM file of a private CA that signs the relay's certificate.
    pub(crate) ca_file: Option<PathBuf>,
}

impl SmtpConfig {
    pub(crate) fn effective_port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        })
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SmtpSecurity {
    #[default]
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub(crate) enum ReceiverConfig {
    Email {
        to: Vec<String>,
        #[serde(default)]
        cc: Vec<String>,
        /// minijinja template of the subject; the built-in default when absent.
        subject_template: Option<String>,
        text_template: Option<String>,
        html_template: Option<String>,
        /// Language of the messages: `en` (default: `[daemon] locale`) or `zh-CN`.
        locale: Option<String>,
        /// IANA time zone of the times shown (default: `[daemon] timezone`).
        timezone: Option<String>,
    },
    Webhook {
        /// May embed a key (DingTalk's `access_token`), so it is held as a secret.
        url: Option<Secret>,
        url_file: Option<PathBuf>,
        /// The name of a webhook format (`notify::webhook::FORMATS`); the build phase checks
        /// that it exists and that a `secret` is set only where it signs.
        #[serde(default = "default_webhook_format")]
        format: String,
        /// Signing secret (json, dingtalk, feishu).
        secret: Option<Secret>,
        secret_file: Option<PathBuf>,
        #[serde(default)]
        /// Values are held as secrets: custom headers often carry tokens.
        headers: BTreeMap<String, Secret>,
        /// Messages per minute; the platform's quota when absent.
        rate_limit_per_minute: Option<u32>,
        /// minijinja template of the chat text.
        text_template: Option<String>,
        /// Language of the messages: `en` (default: `[daemon] locale`) or `zh-CN`.
        locale: Option<String>,
        /// IANA time zone of the times shown (default: `[daemon] timezone`).
        timezone: Option<String>,
    },
    Log {
        /// Level of the alert events: `warn` (default) or `error`.
        #[serde(default)]
        level: LogLevel,
        /// Language of the messages: `en` (default: `[daemon] locale`) or `zh-CN`.
        locale: Option<String>,
        /// IANA time zone of the times shown (default: `[daemon] timezone`).
        timezone: Option<String>,
    },
    /// An existing Alertmanager, through its API (`POST /api/v2/alerts`).
    #[serde(rename = "alertmanager_api")]
    AlertmanagerApi {
        /// The Alertmanager's base URL (`https://am.example.com:9093`, or with the path prefix
        /// it is served under); renewd adds `/api/v2/alerts`. Credentials do not go in it.
        url: String,
        /// Basic auth: `username` with `password` (or `password_file`).
        username: Option<String>,
        password: Option<Secret>,
        password_file: Option<PathBuf>,
        /// `Authorization: Bearer …` (or `bearer_token_file`); not with basic auth.
        bearer_token: Option<Secret>,
        bearer_token_file: Option<PathBuf>,
        /// Language of the messages: `en` (default: `[daemon] locale`) or `zh-CN`.
        locale: Option<String>,
        /// IANA time zone of the times shown (default: `[daemon] timezone`).
        timezone: Option<String>,
    },
}

impl ReceiverConfig {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            ReceiverConfig::Email { .. } => "email",
            ReceiverConfig::Webhook { .. } => "webhook",
            ReceiverConfig::Log { .. } => "log",
            ReceiverConfig::AlertmanagerApi { .. } => "alertmanager_api",
        }
    }

    /// The receiver's own `locale` and `timezone`, as written (checked at load).
    pub(crate) fn style(&self) -> (Option<&str>, Option<&str>) {
        let (locale, timezone) = match self {
            ReceiverConfig::Email {
                locale, timezone, ..
            }
            | ReceiverConfig::Webhook {
                locale, timezone, ..
            }
            | ReceiverConfig::Log {
                locale, timezone, ..
            }
            | ReceiverConfig::AlertmanagerApi {
                locale, timezone, ..
            } => (locale, timezone),
        };
        (locale.as_deref(), timezone.as_deref())
    }
}

/// `locale = …`'s check: a locale messages exist in.
pub(super) fn check_locale(path: String, locale: &str, problems: &mut Vec<Problem>) {
    if crate::model::Locale::from_name(locale).is_none() {
        problems.push(Problem::new(
            path,
            format!(
                "{locale:?} is not a locale renewd has messages in ({})",
                crate::model::Locale::names()
            ),
        ));
    }
}

/// `timezone = …`'s check: an IANA time zone name.
pub(super) fn check_timezone(path: String, timezone: &str, problems: &mut Vec<Problem>) {
    if timezone.parse::<chrono_tz::Tz>().is_err() {
        problems.push(Problem::new(
            path,
            format!("{timezone:?} is not an IANA time zone name (e.g. \"Asia/Shanghai\")"),
        ));
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogLevel {
    #[default]
    Warn,
    Error,
}

fn default_webhook_format() -> String {
    "json".into()
}

impl ReceiverConfig {
    /// One `[receivers.NAME]` table's checks (`p` is its key path).
    pub(super) fn check(&self, p: &str, has_smtp: bool, problems: &mut Vec<Problem>) {
        let (locale, timezone) = self.style();
        if let Some(locale) = locale {
            check_locale(format!("{p}.locale"), locale, problems);
        }
        if let Some(timezone) = timezone {
            check_timezone(format!("{p}.timezone"), timezone, problems);
        }
        let mut push = |path: String, reason: String| problems.push(Problem::new(path, reason));
        match self {
            ReceiverConfig::Email { to, cc, .. } => {
                if !has_smtp {
                    push(
                        format!("{p}.type"),
                        "an email receiver needs an [smtp] section".into(),
                    );
                }
                if to.is_empty() {
                    push(format!("{p}.to"), "at least one address is required".into());
                }
                for (field, list) in [("to", to), ("cc", cc)] {
                    for (j, addr) in list.iter().enumerate() {
                        if addr.parse::<lettre::message::Mailbox>().is_err() {
                            push(
                                format!("{p}.{field}[{j}]"),
                                format!("{addr:?} is not an email address"),
                            );
                        }
                    }
                }
            }
            ReceiverConfig::Webhook {
                url,
                rate_limit_per_minute,
                headers,
                ..
            } => {
                match url {
                    None => push(format!("{p}.url"), "give `url` or `url_file`".into()),
                    Some(u) => {
                        // The URL may embed a key: describe the problem without echoing it.
                        if let Err(e) = check_endpoint(u.expose()) {
                            let _ = e;
                            push(
                                format!("{p}.url"),
                                "must be an https:// URL (http:// only on a loopback address)"
                                    .into(),
                            );
                        }
                    }
                }
                if *rate_limit_per_minute == Some(0) {
                    push(
                        format!("{p}.rate_limit_per_minute"),
                        "must be at least 1".into(),
                    );
                }
                for (header, value) in headers {
                    if reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_err() {
                        push(
                            format!("{p}.headers"),
                            format!("{header:?} is not a valid header name"),
                        );
                    }
                    // The value may be a token: say what is wrong without echoing it.
                    if reqwest::header::HeaderValue::from_str(value.expose()).is_err() {
                        push(
                            format!("{p}.headers.{header}"),
                            "the value holds characters a header cannot carry (control characters or non-ASCII)".into(),
                        );
                    }
                }
            }
            ReceiverConfig::Log { .. } => {}
            ReceiverConfig::AlertmanagerApi {
                url,
                username,
                password,
                bearer_token,
                ..
            } => {
                if let Err(reason) = check_endpoint(url) {
                    push(format!("{p}.url"), reason);
                } else if url::Url::parse(url)
                    .is_ok_and(|u| !u.username().is_empty() || u.password().is_some())
                {
                    // Said without the URL: what is before the @ is a credential.
                    push(
                        format!("{p}.url"),
                        "holds credentials (user:password@); give `username` and `password` \
                         (or `password_file`) instead"
                            .into(),
                    );
                }
                match (username, password) {
                    (Some(_), None) => push(
                        format!("{p}.password"),
                        "basic auth needs a password (`password` or `password_file`)".into(),
                    ),
                    (None, Some(_)) => push(
                        format!("{p}.username"),
                        "a password needs a username".into(),
                    ),
                    _ => {}
                }
                if bearer_token.is_some() && (username.is_some() || password.is_some()) {
                    push(
                        format!("{p}.bearer_token"),
                        "give basic auth (`username` and `password`) or `bearer_token`, not both"
                            .into(),
                    );
                }
            }
        }
    }
}

impl SmtpConfig {
    /// `[smtp]`'s checks.
    pub(super) fn check(&self, problems: &mut Vec<Problem>) {
        let mut push = |path: String, reason: String| problems.push(Problem::new(path, reason));
        if self.timeout.is_zero() {
            push("smtp.timeout".into(), "must be more than 0".into());
        }
        if self.host.trim().is_empty() {
            push("smtp.host".into(), "must not be empty".into());
        }
        if self.from.parse::<lettre::message::Mailbox>().is_err() {
            push(
                "smtp.from".into(),
                format!(
                    "{:?} is not an email address (e.g. \"renewd <renewd@example.com>\")",
                    self.from
                ),
            );
        }
        if self.security == SmtpSecurity::None && !is_loopback_host(self.host.trim()) {
            push(
                "smtp.security".into(),
                format!(
                    "\"none\" (mail and any SMTP password in clear text) is allowed only \
                     for a relay on this machine (localhost, 127.0.0.1, ::1), not {:?}: use \
                     \"starttls\" or \"tls\" (with ca_file for a private CA)",
                    self.host.trim()
                ),
            );
        }
        if self.password.is_some() && self.username.is_none() {
            push("smtp.username".into(), "a password needs a username".into());
        }
        if let Some(ca) = &self.ca_file {
            if !ca.is_file() {
                push(
                    "smtp.ca_file".into(),
                    format!("{} is not a readable file", ca.display()),
                );
            }
        }
    }
}
