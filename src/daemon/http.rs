//! The optional `[http] listen` endpoint: `/metrics` (Prometheus), `/healthz` (the scheduler
//! loop is alive and the state store can be written) and `/readyz` (cycles are happening and
//! the config is good). Off unless configured.

use super::metrics::{self, Metrics};
use crate::schedule::Schedule;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `/healthz` fails when the scheduler loop has not been seen for this long. The loop beats at
/// least every few seconds (see `daemon`), whatever the schedule.
pub(crate) const HEARTBEAT_STALE_AFTER: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("http.listen: cannot listen on {address}")]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// What `/healthz` and `/readyz` answer from; the daemon loop keeps it current.
pub(crate) struct Health {
    started: Instant,
    /// Milliseconds after `started` at which the scheduler loop last ran.
    heartbeat_ms: AtomicU64,
    readiness: Mutex<Readiness>,
    /// Why the state store cannot be written now (the last write failed).
    state_problem: Mutex<Option<String>>,
}

struct Readiness {
    schedule: Schedule,
    last_cycle_finished: Option<DateTime<Utc>>,
    /// Why the config on disk is not the one in force (the last reload was rejected).
    config_problem: Option<String>,
}

impl Health {
    pub(crate) fn new(schedule: Schedule) -> Health {
        Health {
            started: Instant::now(),
            heartbeat_ms: AtomicU64::new(0),
            readiness: Mutex::new(Readiness {
                schedule,
                last_cycle_finished: None,
                config_problem: None,
            }),
            state_problem: Mutex::new(None),
        }
    }

    fn readiness(&self) -> std::sync::MutexGuard<'_, Readiness> {
        self.readiness.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The scheduler loop is alive now.
    pub(crate) fn beat(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.heartbeat_ms.store(ms, Ordering::Relaxed);
    }

    /// How long ago the loop last beat.
    pub(crate) fn since_heartbeat(&self) -> Duration {
        let beat = Duration::from_millis(self.heartbeat_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(beat)
    }

    pub(crate) fn cycle_finished(&self, at: DateTime<Utc>) {
        self.readiness().last_cycle_finished = Some(at);
    }

    /// A reload was accepted (`None`) or rejected (the reason).
    pub(crate) fn set_config_problem(&self, problem: Option<String>) {
        self.readiness().config_problem = problem;
    }

    /// A write to the state store failed (the reason), or writes work again (`None`).
    pub(crate) fn set_state_problem(&self, problem: Option<String>) {
        *self.state_problem.lock().unwrap_or_else(|e| e.into_inner()) = problem;
    }

    /// Why `/healthz` fails, if it does.
    pub(crate) fn unhealthy(&self) -> Option<String> {
        let since = self.since_heartbeat();
        if since > HEARTBEAT_STALE_AFTER {
            return Some(format!(
                "the scheduler loop has not run for {}",
                humantime::format_duration(Duration::from_secs(since.as_secs()))
            ));
        }
        self.state_problem
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|problem| format!("the state store cannot be written: {problem}"))
    }

    pub(crate) fn set_schedule(&self, schedule: Schedule) {
        self.readiness().schedule = schedule;
    }

    /// `Ok` when ready at `now`; otherwise every reason why not.
    pub(crate) fn ready(&self, now: DateTime<Utc>) -> Result<(), Vec<String>> {
        let readiness = self.readiness();
        let mut reasons = Vec::new();
        if let Some(problem) = &readiness.config_problem {
            reasons.push(format!(
                "the config file was rejected at the last reload (the previous config is still in force): {problem}"
            ));
        }
        let window = readiness.schedule.period(now).map(|p| p * 2);
        match (readiness.last_cycle_finished, window) {
            (None, _) => reasons.push("no cycle has finished yet".into()),
            (Some(last), Some(window)) if now - last > window => reasons.push(format!(
                "the last cycle finished at {}, more than two schedule periods ({}) ago",
                last.to_rfc3339(),
                humantime::format_duration(window.to_std().unwrap_or_default())
            )),
            _ => {}
        }
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(reasons)
        }
    }
}

/// What the handlers share.
pub(crate) struct Observed {
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) health: Health,
}

/// Binds the listener (before readiness is announced, so a taken port fails the start).
pub(crate) async fn bind(address: SocketAddr) -> Result<tokio::net::TcpListener, HttpError> {
    tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| HttpError::Bind { address, source })
}

pub(crate) fn router(observed: Arc<Observed>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(observed)
}

/// Serves until the task is aborted.
pub(crate) fn spawn(
    listener: tokio::net::TcpListener,
    observed: Arc<Observed>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router(observed)).await {
            tracing::error!(event = "http.failed", error = %crate::error_chain(&e), "metrics and health listener failed");
        }
    })
}

async fn metrics_handler(State(observed): State<Arc<Observed>>) -> Response {
    match observed.metrics.encode() {
        Ok(text) => ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{}\n", crate::error_chain(&e)),
        )
            .into_response(),
    }
}

async fn healthz(State(observed): State<Arc<Observed>>) -> Response {
    match observed.health.unhealthy() {
        None => (StatusCode::OK, "ok\n").into_response(),
        Some(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")).into_response(),
    }
}

async fn readyz(State(observed): State<Arc<Observed>>) -> Response {
    match observed.health.ready(Utc::now()) {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(reasons) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready:\n{}\n", reasons.join("\n")),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn hourly() -> Schedule {
        Schedule::new("0 0 * * * *", chrono_tz::UTC).unwrap()
    }

    #[test]
    fn a_bind_error_leaves_its_cause_to_source() {
        let error = HttpError::Bind {
            address: "127.0.0.1:9797".parse().unwrap(),
            source: std::io::Error::from(std::io::ErrorKind::AddrInUse),
        };
        assert_eq!(
            error.to_string(),
            "http.listen: cannot listen on 127.0.0.1:9797"
        );
        crate::tests::assert_cause_told_once(&error, "address in use");
    }

    #[test]
    fn ready_only_within_two_periods_of_the_last_cycle() {
        let health = Health::new(hourly());
        let now = utc("2026-11-26T12:00:00Z");
        assert_eq!(
            health.ready(now),
            Err(vec!["no cycle has finished yet".to_string()])
        );
        health.cycle_finished(utc("2026-11-26T10:30:00Z"));
        assert_eq!(health.ready(now), Ok(()));
        let reasons = health.ready(utc("2026-11-26T12:30:01Z")).unwrap_err();
        assert!(
            reasons[0].contains("more than two schedule periods (2h)"),
            "{reasons:?}"
        );
    }

    #[test]
    fn a_rejected_config_makes_it_unready_with_the_reason() {
        let health = Health::new(hourly());
        let now = utc("2026-11-26T12:00:00Z");
        health.cycle_finished(now);
        health.set_config_problem(Some("rules[0].receivers: no receiver named \"x\"".into()));
        let reasons = health.ready(now).unwrap_err();
        assert!(reasons[0].contains("no receiver named"), "{reasons:?}");
        health.set_config_problem(None);
        assert_eq!(health.ready(now), Ok(()));
    }

    #[test]
    fn healthy_while_the_loop_beats() {
        let health = Health::new(hourly());
        health.beat();
        assert!(health.since_heartbeat() < HEARTBEAT_STALE_AFTER);
        assert_eq!(health.unhealthy(), None);
    }

    #[test]
    fn unhealthy_while_the_state_store_cannot_be_written() {
        let health = Health::new(hourly());
        health.beat();
        health.set_state_problem(Some(
            "state file /s/state.db: database or disk is full".into(),
        ));
        assert_eq!(
            health.unhealthy().as_deref(),
            Some("the state store cannot be written: state file /s/state.db: database or disk is full")
        );
        health.set_state_problem(None);
        assert_eq!(health.unhealthy(), None);
    }
}
