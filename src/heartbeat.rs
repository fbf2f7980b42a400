//! The dead man's switch: one request to the monitor's ping URL after each cycle, so that the
//! monitor raises the alarm when renewd stops (a monitor that dies silently is the worst
//! failure this product can have). A heartbeat that fails is logged and counted by the caller;
//! it never fails the cycle.

use crate::config::{HeartbeatConfig, HeartbeatMethod, Secret};
use serde::Serialize;
use std::time::Duration;

/// Wait before the one retry.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// What a cycle came to, as a `POST` heartbeat carries it.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct CycleSummary {
    /// Every scope polled, every message delivered or queued: `url`, else `fail_url`.
    pub(crate) ok: bool,
    pub(crate) polls: usize,
    pub(crate) polls_failed: usize,
    pub(crate) alerts: usize,
    pub(crate) delivered: usize,
    pub(crate) failed: usize,
    pub(crate) abandoned: usize,
    pub(crate) duration_ms: u128,
    /// Why the cycle could not run at all (the state store failed), if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// Which of the two URLs a ping went to (never the URL itself: it is a secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Url,
    FailUrl,
}

impl Target {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Target::Url => "url",
            Target::FailUrl => "fail_url",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("heartbeat {} failed after {attempts} attempts: {reason}", target.as_str())]
pub(crate) struct HeartbeatError {
    pub(crate) target: Target,
    pub(crate) attempts: u32,
    /// The last attempt's failure, without the URL.
    pub(crate) reason: String,
}

/// What a ping did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pinged {
    /// The monitor answered 2xx.
    Sent { target: Target, status: u16 },
    /// A cycle with failures, and no `fail_url`: nothing is sent (the monitor's grace runs).
    NothingToSend,
}

pub(crate) struct Heartbeat {
    client: reqwest::Client,
    url: Secret,
    fail_url: Option<Secret>,
    method: HeartbeatMethod,
    timeout: Duration,
}

impl std::fmt::Debug for Heartbeat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Heartbeat")
            .field("method", &self.method)
            .field("fail_url", &self.fail_url.is_some())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Heartbeat {
    /// `None` when the checked config has no `url` (the config check refuses that).
    pub(crate) fn new(config: &HeartbeatConfig, client: reqwest::Client) -> Option<Heartbeat> {
        Some(Heartbeat {
            client,
            url: config.url.clone()?,
            fail_url: config.fail_url.clone(),
            method: config.method,
            timeout: config.timeout,
        })
    }

    /// Pings `url` (a cycle that went well) or `fail_url`: one attempt, one retry.
    pub(crate) async fn ping(&self, summary: &CycleSummary) -> Result<Pinged, HeartbeatError> {
        let (target, url) = match (summary.ok, &self.fail_url) {
            (true, _) => (Target::Url, &self.url),
            (false, Some(fail_url)) => (Target::FailUrl, fail_url),
            (false, None) => return Ok(Pinged::NothingToSend),
        };
        let mut reason = String::new();
        for attempt in 1..=2 {
            if attempt > 1 {
                tokio::time::sleep(RETRY_AFTER).await;
            }
            match self.send(url, summary).await {
                Ok(status) => return Ok(Pinged::Sent { target, status }),
                Err(why) => reason = why,
            }
        }
        Err(HeartbeatError {
            target,
            attempts: 2,
            reason,
        })
    }

    /// One request; the answer's status, or why it failed (without the URL).
    async fn send(&self, url: &Secret, summary: &CycleSummary) -> Result<u16, String> {
        let request = match self.method {
            HeartbeatMethod::Get => self.client.get(url.expose()),
            HeartbeatMethod::Post => self.client.post(url.expose()).json(summary),
        };
        let response = request
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| crate::error_chain(&e.without_url()))?;
        let status = response.status();
        // The body is not read: a ping's answer says nothing renewd acts on.
        if status.is_success() {
            Ok(status.as_u16())
        } else {
            Err(format!("HTTP {status}"))
        }
    }

    pub(crate) fn method(&self) -> HeartbeatMethod {
        self.method
    }

    /// Scheme and host of `url`, for `check` (the path and query carry the monitor's key).
    pub(crate) fn origin(&self) -> String {
        crate::notify::webhook::redacted_url(self.url.expose())
    }
}

/// Pings and logs what happened: `heartbeat.sent` at debug, `heartbeat.failed` at warn (and
/// `on_failure`, the daemon's metric).
pub(crate) async fn ping_and_log(
    heartbeat: &Heartbeat,
    summary: &CycleSummary,
    on_failure: impl FnOnce(),
) {
    match heartbeat.ping(summary).await {
        Ok(Pinged::Sent { target, status }) => tracing::debug!(
            event = "heartbeat.sent",
            ping = target.as_str(),
            status,
            "heartbeat sent"
        ),
        Ok(Pinged::NothingToSend) => tracing::debug!(
            event = "heartbeat.skipped",
            "cycle with failures and no heartbeat.fail_url: no heartbeat"
        ),
        Err(e) => {
            on_failure();
            tracing::warn!(
                event = "heartbeat.failed",
                ping = e.target.as_str(),
                attempts = e.attempts,
                error = %e.reason,
                "heartbeat failed; the cycle is not affected"
            );
        }
    }
}
