//! `[heartbeat]`: a dead man's switch. renewd requests `url` after every cycle that saw
//! everything and delivered or queued every message, `fail_url` after one with failures; the
//! monitor (healthchecks-style ping URLs, Uptime Kuma push monitors) raises the alarm when the
//! pings stop. Both URLs carry the monitor's key, so both are secrets.

use super::checks::check_endpoint;
use super::{Problem, Secret};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// Longest `heartbeat.timeout`: a ping runs after the cycle, and must not hold up the next.
const MAX_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HeartbeatConfig {
    pub(crate) url: Option<Secret>,
    pub(crate) url_file: Option<PathBuf>,
    pub(crate) fail_url: Option<Secret>,
    pub(crate) fail_url_file: Option<PathBuf>,
    #[serde(default)]
    pub(crate) method: HeartbeatMethod,
    /// Per attempt; one retry follows a failed attempt.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub(crate) timeout: Duration,
}

/// `GET` pings; `POST` also carries the cycle's summary as JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub(crate) enum HeartbeatMethod {
    #[default]
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "POST")]
    Post,
}

impl HeartbeatMethod {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            HeartbeatMethod::Get => "GET",
            HeartbeatMethod::Post => "POST",
        }
    }
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

impl HeartbeatConfig {
    /// `[heartbeat]`'s own checks (after the `*_file` secrets were read).
    pub(super) fn check(&self, problems: &mut Vec<Problem>) {
        match &self.url {
            None => problems.push(Problem::new(
                "heartbeat.url",
                "give `url` or `url_file` (the monitor's ping URL)",
            )),
            Some(url) => check_url("heartbeat.url", url, problems),
        }
        if let Some(url) = &self.fail_url {
            check_url("heartbeat.fail_url", url, problems);
        }
        if self.timeout.is_zero() || self.timeout > MAX_TIMEOUT {
            problems.push(Problem::new(
                "heartbeat.timeout",
                format!(
                    "must be more than 0 s and at most {} s",
                    MAX_TIMEOUT.as_secs()
                ),
            ));
        }
    }
}

/// The reason never quotes the URL: it is a secret.
fn check_url(path: &str, url: &Secret, problems: &mut Vec<Problem>) {
    if let Err(reason) = check_endpoint(url.expose()) {
        let reason = reason
            .replace(&format!("{:?}", url.expose()), "the URL")
            .replace(url.expose(), "the URL");
        problems.push(Problem::new(path, reason));
    }
}
