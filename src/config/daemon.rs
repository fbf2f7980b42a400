//! `[daemon]`, `[log]` and `[http]`: when cycles run, where state lives, how renewd logs and
//! listens.

use super::*;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DaemonConfig {
    /// Cron expression with seconds, evaluated in `timezone`.
    #[serde(default = "default_schedule")]
    pub(crate) schedule: String,
    /// IANA time zone name.
    #[serde(default = "default_timezone")]
    pub(crate) timezone: String,
    /// Language of the receivers' messages unless a receiver sets its own: `en` or `zh-CN`.
    #[serde(default = "default_locale")]
    pub(crate) locale: String,
    #[serde(default = "default_true")]
    pub(crate) run_on_start: bool,
    #[serde(default = "default_state_path")]
    pub(crate) state_path: PathBuf,
    /// Consecutive failed cycles of one account/project before `poll_failed` is sent.
    #[serde(default = "default_failure_alert_after")]
    pub(crate) failure_alert_after: u32,
    /// How many polls run at once.
    #[serde(default = "default_concurrency")]
    pub(crate) concurrency: usize,
    /// Timeout of one API request.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub(crate) timeout: Duration,
    /// How long an undelivered message is retried before it is abandoned.
    #[serde(default = "default_max_delivery_age", with = "humantime_serde")]
    pub(crate) max_delivery_age: Duration,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            schedule: default_schedule(),
            timezone: default_timezone(),
            locale: default_locale(),
            run_on_start: true,
            state_path: default_state_path(),
            failure_alert_after: default_failure_alert_after(),
            concurrency: default_concurrency(),
            timeout: default_timeout(),
            max_delivery_age: default_max_delivery_age(),
        }
    }
}

impl DaemonConfig {
    /// The configured time zone (validated at load).
    pub(crate) fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::UTC)
    }

    /// The configured default locale (validated at load).
    pub(crate) fn locale(&self) -> crate::model::Locale {
        crate::model::Locale::from_name(&self.locale).unwrap_or_default()
    }
}

pub(super) fn default_locale() -> String {
    "en".into()
}

pub(super) fn default_schedule() -> String {
    "0 0 9 * * *".into()
}
pub(super) fn default_timezone() -> String {
    "UTC".into()
}
pub(super) fn default_true() -> bool {
    true
}
/// `$STATE_DIRECTORY/state.db` under systemd's `StateDirectory=`, else `/var/lib/renewd/state.db`.
pub(super) fn default_state_path() -> PathBuf {
    match std::env::var_os("STATE_DIRECTORY") {
        // systemd may pass several directories separated by ':'; the first is ours.
        Some(dirs) if !dirs.is_empty() => {
            let first = dirs
                .to_string_lossy()
                .split(':')
                .next()
                .unwrap_or("")
                .to_string();
            PathBuf::from(first).join("state.db")
        }
        _ => PathBuf::from("/var/lib/renewd/state.db"),
    }
}
pub(super) fn default_failure_alert_after() -> u32 {
    3
}
pub(super) fn default_concurrency() -> usize {
    4
}
pub(super) fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
pub(super) fn default_max_delivery_age() -> Duration {
    Duration::from_secs(7 * 24 * 3600)
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    #[serde(default)]
    pub format: LogFormat,
    /// A tracing filter such as `info` or `renewd=debug`; `RENEWD_LOG` wins over it.
    pub(crate) level: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// journald when stderr is the journal (`JOURNAL_STREAM`), else text.
    #[default]
    Auto,
    Text,
    Json,
    Journald,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HttpConfig {
    /// Address of the metrics and health listener; off when absent.
    pub(crate) listen: Option<SocketAddr>,
}

impl DaemonConfig {
    /// `[daemon]`'s own checks.
    pub(super) fn check(&self, problems: &mut Vec<Problem>) {
        super::receivers::check_timezone("daemon.timezone".into(), &self.timezone, problems);
        super::receivers::check_locale("daemon.locale".into(), &self.locale, problems);
        let mut push = |path: String, reason: String| problems.push(Problem::new(path, reason));
        if self.concurrency == 0 {
            push("daemon.concurrency".into(), "must be at least 1".into());
        }
        if self.failure_alert_after == 0 {
            push(
                "daemon.failure_alert_after".into(),
                "must be at least 1".into(),
            );
        }
        if self.timeout.is_zero() {
            push("daemon.timeout".into(), "must be more than 0".into());
        }
    }
}
