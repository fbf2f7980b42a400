//! `renewd run`: the long-running service. One loop owns everything: it fires cycles on the
//! schedule (never two at once), retries pending deliveries between cycles, reloads the config
//! on SIGHUP, keeps systemd and the health endpoints informed, and stops cleanly on SIGTERM.
//!
//! Work (a cycle, or a pass over due deliveries) runs as one future polled by the loop next to
//! its timers and signals, so the loop keeps beating while a cycle waits on the network. The
//! work owns the state store while it runs and hands it back when it ends.

pub(crate) mod clock;
mod http;
mod metrics;
mod reload;
pub(crate) mod signals;
mod store_health;
pub(crate) mod systemd;

pub(crate) use clock::CycleClock;
pub use signals::forward_unix_signals;
pub(crate) use systemd::Systemd;

use self::http::{Health, HttpError, Observed};
use self::metrics::Metrics;
use self::reload::Reload;
use self::store_health::{refresh_outbox_gauge, refresh_package_gauges, seed_from_store};
use crate::app::{App, BuildError};
use crate::commands::EXIT_FAILURE;
use crate::config::Config;
use crate::cycle::{self, CycleError, CycleOptions, CycleReport};
use crate::heartbeat::CycleSummary;
use crate::notify::outbox::{self, DeliveryHooks, DeliveryReport, OutcomeObserver};
use crate::schedule::Schedule;
use crate::state::{same_state_file, StateError, StateStore};
use chrono::{DateTime, Utc};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// How long deliveries still in flight get once shutdown starts. What is not delivered by then
/// stays pending in the outbox and goes out after the restart.
pub(crate) const SHUTDOWN_DELIVERY_DEADLINE: Duration = Duration::from_secs(5);
/// After the deadline, how long the cycle gets to record what happened before it is dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// How often pending deliveries whose backoff has elapsed are looked for between cycles (one
/// indexed query when none is due).
pub(crate) const RETRY_INTERVAL: Duration = Duration::from_secs(30);
/// The loop wakes at least this often, for `/healthz`'s heartbeat.
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);

/// What the outside world asks of a running daemon (signals, or a test).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Re-read the config file; keep the old config when the new one is invalid.
    Reload,
    /// Stop scheduling, give deliveries in flight a short deadline, return.
    Shutdown { signal: &'static str },
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Cycle(#[from] CycleError),
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("cannot install the {signal} handler")]
    Signals {
        signal: &'static str,
        #[source]
        source: std::io::Error,
    },
}

impl DaemonError {
    /// 1: the config was valid when the daemon started (what is not exits 78 before), so a
    /// restart may fix what went wrong (a state file on a disk that failed, a port taken).
    pub fn exit_code(&self) -> u8 {
        EXIT_FAILURE
    }
}

/// Runs the daemon until `control` says stop (or is closed). Install signal handlers first
/// ([`forward_unix_signals`]): `READY=1` is sent from here.
pub async fn run(
    config_path: PathBuf,
    app: App,
    control: mpsc::Receiver<Control>,
) -> Result<(), DaemonError> {
    let result = match Daemon::start(config_path, app).await {
        Ok(daemon) => daemon.run(control).await,
        Err(e) => Err(e),
    };
    if let Err(e) = &result {
        tracing::error!(event = "daemon.failed", error = %crate::error_chain(e), "renewd stopped on an error");
    }
    result
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobKind {
    Cycle,
    /// A pass over pending deliveries whose backoff has elapsed.
    Retry,
}

/// The one piece of work in progress; it owns the state store until it ends.
struct Job {
    kind: JobKind,
    started_at: DateTime<Utc>,
    work: Pin<Box<dyn Future<Output = JobDone>>>,
}

struct JobDone {
    store: StateStore,
    outcome: JobOutcome,
}

enum JobOutcome {
    Cycle(Result<CycleReport, CycleError>),
    Retry(Result<DeliveryReport, StateError>),
}

struct Daemon {
    config_path: PathBuf,
    runtime: Arc<App>,
    clock: CycleClock,
    /// `None` while a job holds it (or after a failed reopen).
    store: Option<StateStore>,
    /// A write failed on the file system (full, read-only, I/O error): the store is opened
    /// afresh before the next job, whose connection may otherwise stay unusable.
    store_broken: bool,
    /// A write failed and no cycle has been recorded since: `/healthz` says so, and every
    /// retry tick runs a cycle, so that the daemon recovers without waiting for the schedule.
    state_failing: bool,
    job: Option<Job>,
    /// A tick came during a retry pass: the cycle starts when the pass ends.
    cycle_wanted: bool,
    pending_reload: Option<Reload>,
    systemd: Systemd,
    next_watchdog: Option<Instant>,
    next_retry: Instant,
    observed: Arc<Observed>,
    http: Option<tokio::task::JoinHandle<()>>,
    /// Raised (with the deadline) when shutdown starts; deliveries in flight see it.
    shutdown: watch::Sender<Option<Instant>>,
    /// The last cycle's summary, for `STATUS=`.
    last_summary: Option<String>,
}

impl Daemon {
    /// Everything `READY=1` promises: config loaded, state store open, clients and receivers
    /// built, the listener bound.
    async fn start(config_path: PathBuf, app: App) -> Result<Daemon, DaemonError> {
        let schedule = app.schedule.clone();
        let store = StateStore::open(&app.config.daemon.state_path)?;
        let listen = app.config.http.listen;
        let runtime = Arc::new(app);
        let observed = Arc::new(Observed {
            metrics: Arc::new(Metrics::new()),
            health: Health::new(schedule.clone()),
        });
        observed.metrics.add_receivers(runtime.notifiers.names());
        seed_from_store(&store, &observed);

        let http = match listen {
            Some(address) => {
                let listener = http::bind(address).await?;
                let bound = listener.local_addr().unwrap_or(address);
                tracing::info!(event = "http.listening", address = %bound, "serving /metrics, /healthz and /readyz");
                Some(http::spawn(listener, Arc::clone(&observed)))
            }
            None => None,
        };

        let systemd = Systemd::from_env();
        let now = Instant::now();
        Ok(Daemon {
            config_path,
            clock: CycleClock::new(schedule, Utc::now()),
            runtime,
            store: Some(store),
            store_broken: false,
            state_failing: false,
            job: None,
            cycle_wanted: false,
            pending_reload: None,
            next_watchdog: systemd.watchdog_interval().map(|_| now),
            systemd,
            next_retry: now + RETRY_INTERVAL,
            observed,
            http,
            shutdown: watch::channel(None).0,
            last_summary: None,
        })
    }

    async fn run(mut self, mut control: mpsc::Receiver<Control>) -> Result<(), DaemonError> {
        let config = Arc::clone(&self.runtime.config);
        self.systemd.ready(&self.status_line());
        tracing::info!(
            event = "daemon.started",
            version = env!("CARGO_PKG_VERSION"),
            config = %self.config_path.display(),
            schedule = %config.daemon.schedule,
            timezone = %config.daemon.timezone,
            next_run = %self.next_run_text(),
            run_on_start = config.daemon.run_on_start,
            state_path = %config.daemon.state_path.display(),
            accounts = config.accounts.len(),
            receivers = config.receivers.len(),
            watchdog_ms = self
                .systemd
                .watchdog_interval()
                .map_or(0, |d| d.as_millis() as u64 * 2),
            "renewd started"
        );
        if config.daemon.run_on_start {
            self.start_cycle();
        } else {
            // Whatever was pending when the last run stopped goes out now, not at the first tick.
            self.start_retry();
        }

        loop {
            self.observed.health.beat();
            self.pet_watchdog();
            let wake = self.next_wake();
            let event = tokio::select! {
                control = control.recv() => Event::Control(control),
                done = wait_for(&mut self.job) => Event::JobDone(Box::new(done)),
                () = tokio::time::sleep_until(wake) => Event::Timer,
            };
            match event {
                Event::Control(Some(Control::Reload)) => self.reload(),
                Event::Control(Some(Control::Shutdown { signal })) => {
                    return self.shutdown(signal).await
                }
                Event::Control(None) => return self.shutdown("none (control closed)").await,
                Event::JobDone(done) => self.job_done(*done),
                Event::Timer => self.on_timer(),
            }
        }
    }

    fn next_wake(&self) -> Instant {
        let now = Instant::now();
        let mut wake = (now + self.clock.sleep_for(Utc::now()))
            .min(self.next_retry)
            .min(now + HEARTBEAT_INTERVAL);
        if let Some(watchdog) = self.next_watchdog {
            wake = wake.min(watchdog);
        }
        wake
    }

    /// `WATCHDOG=1` at half the watchdog timeout, from this loop only: a stuck loop stops it.
    fn pet_watchdog(&mut self) {
        let (Some(due), Some(interval)) = (self.next_watchdog, self.systemd.watchdog_interval())
        else {
            return;
        };
        let now = Instant::now();
        if now >= due {
            self.systemd.watchdog();
            self.next_watchdog = Some(now + interval);
        }
    }

    fn on_timer(&mut self) {
        if let Some(scheduled_at) = self.clock.fire_if_due(Utc::now()) {
            self.tick(scheduled_at);
        }
        let now = Instant::now();
        if now >= self.next_retry {
            self.next_retry = now + RETRY_INTERVAL;
            if self.job.is_none() {
                if self.state_failing {
                    self.start_cycle();
                } else {
                    self.start_retry();
                }
            }
        }
    }

    /// A scheduled fire time came.
    fn tick(&mut self, scheduled_at: DateTime<Utc>) {
        let tz = self.runtime.config.daemon.tz();
        match self.job.as_ref().map(|job| (job.kind, job.started_at)) {
            None => self.start_cycle(),
            // Deliveries are quick to hand over; the cycle follows right after them.
            Some((JobKind::Retry, _)) if !self.cycle_wanted => self.cycle_wanted = true,
            Some((kind, running_since)) => tracing::warn!(
                event = "cycle.skipped",
                scheduled_at = %scheduled_at.with_timezone(&tz).to_rfc3339(),
                running_since = %running_since.with_timezone(&tz).to_rfc3339(),
                reason = if kind == JobKind::Cycle {
                    "the previous cycle is still running"
                } else {
                    "a cycle is already waiting for a delivery pass to end"
                },
                "cycle skipped: cycles never overlap"
            ),
        }
    }

    fn hooks(&self) -> DeliveryHooks {
        let observer: Arc<dyn OutcomeObserver> = Arc::clone(&self.observed.metrics) as _;
        DeliveryHooks {
            shutdown: Some(self.shutdown.subscribe()),
            observer: Some(observer),
        }
    }

    fn start_cycle(&mut self) {
        if !self.reopen_if_broken() {
            return;
        }
        let Some(mut store) = self.store.take() else {
            return;
        };
        let runtime = Arc::clone(&self.runtime);
        let hooks = self.hooks();
        let started_at = Utc::now();
        let work = async move {
            let options = CycleOptions {
                list_packages: false,
                hooks,
                ..CycleOptions::default()
            };
            let result = cycle::run_cycle(&runtime, &mut store, options, started_at).await;
            JobDone {
                store,
                outcome: JobOutcome::Cycle(result),
            }
        };
        self.job = Some(Job {
            kind: JobKind::Cycle,
            started_at,
            work: Box::pin(work),
        });
        self.systemd.status(&self.status_line());
    }

    fn start_retry(&mut self) {
        if !self.reopen_if_broken() {
            return;
        }
        let Some(mut store) = self.store.take() else {
            return;
        };
        let runtime = Arc::clone(&self.runtime);
        let hooks = self.hooks();
        let work = async move {
            let policy = runtime.retry_policy();
            let tz = runtime.config.daemon.tz();
            let result =
                outbox::deliver_due(&mut store, &runtime.notifiers, &policy, tz, &hooks).await;
            JobDone {
                store,
                outcome: JobOutcome::Retry(result),
            }
        };
        self.job = Some(Job {
            kind: JobKind::Retry,
            started_at: Utc::now(),
            work: Box::pin(work),
        });
    }

    fn job_done(&mut self, done: JobDone) {
        self.job = None;
        let mut store = done.store;
        match done.outcome {
            JobOutcome::Cycle(Ok(report)) => {
                self.cycle_finished(&mut store, &report);
                self.send_heartbeat(report.summary());
            }
            JobOutcome::Cycle(Err(e)) => {
                match &e {
                    CycleError::State(e) if e.is_storage_failure() => {
                        self.state_write_failed("cycle", e);
                    }
                    e => {
                        tracing::error!(event = "cycle.failed", error = %crate::error_chain(e), "cycle failed")
                    }
                }
                self.last_summary = Some(format!("last cycle failed: {}", crate::error_chain(&e)));
                self.systemd.status(&self.status_line());
                self.send_heartbeat(CycleSummary {
                    ok: false,
                    error: Some(crate::error_chain(&e)),
                    ..CycleSummary::default()
                });
            }
            JobOutcome::Retry(Ok(_)) => {}
            JobOutcome::Retry(Err(e)) if e.is_storage_failure() => {
                self.state_write_failed("deliveries", &e);
            }
            JobOutcome::Retry(Err(e)) => {
                tracing::error!(event = "outbox.failed", error = %crate::error_chain(&e), "retrying pending deliveries failed");
            }
        }
        refresh_outbox_gauge(&store, &self.observed);
        self.store = Some(store);
        if let Some(reload) = self.pending_reload.take() {
            self.apply_reload(reload);
        }
        if std::mem::take(&mut self.cycle_wanted) {
            self.start_cycle();
        }
    }

    /// Pings the monitor beside the loop: a slow monitor holds up no signal and no cycle, and a
    /// failed ping is logged and counted, never a failed cycle.
    fn send_heartbeat(&self, summary: CycleSummary) {
        if self.runtime.heartbeat.is_none() {
            return;
        }
        let runtime = Arc::clone(&self.runtime);
        let metrics = Arc::clone(&self.observed.metrics);
        tokio::spawn(async move {
            if let Some(heartbeat) = &runtime.heartbeat {
                crate::heartbeat::ping_and_log(heartbeat, &summary, || metrics.heartbeat_failed())
                    .await;
            }
        });
    }

    fn cycle_finished(&mut self, store: &mut StateStore, report: &CycleReport) {
        let finished_at = Utc::now();
        let summary = summarize(report);
        let ok = report.failed_polls() == 0;
        match store.finish_cycle(report.started_at, finished_at, ok, &summary) {
            // The cycle's decisions and deliveries were recorded: writes work again.
            Ok(()) => self.state_recovered(),
            Err(e) => self.state_write_failed("finishing the cycle", &e),
        }
        self.observed.metrics.record_cycle(report, finished_at);
        self.observed.health.cycle_finished(finished_at);
        refresh_package_gauges(store, &self.observed);
        let tz = self.runtime.config.daemon.tz();
        self.last_summary = Some(format!(
            "last cycle {}: {summary}",
            finished_at
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M:%S %Z")
        ));
        self.systemd.status(&self.status_line());
    }

    async fn shutdown(mut self, signal: &'static str) -> Result<(), DaemonError> {
        let in_flight = self.job.as_ref().map(|job| job.kind);
        tracing::info!(
            event = "daemon.stopping",
            signal,
            in_flight = match in_flight {
                Some(JobKind::Cycle) => "cycle",
                Some(JobKind::Retry) => "deliveries",
                None => "nothing",
            },
            "stopping"
        );
        self.systemd.stopping("stopping");
        self.cycle_wanted = false;
        self.pending_reload = None;
        if let Some(job) = self.job.take() {
            let deadline = Instant::now() + SHUTDOWN_DELIVERY_DEADLINE;
            self.shutdown.send_replace(Some(deadline));
            match tokio::time::timeout_at(deadline + SHUTDOWN_GRACE, job.work).await {
                Ok(done) => self.job_done(done),
                Err(_) => tracing::warn!(
                    event = "cycle.abandoned",
                    "work still running at the shutdown deadline was dropped: what it had not \
                     recorded is decided again next time, and deliveries stay pending"
                ),
            }
        }
        if let Some(http) = self.http.take() {
            http.abort();
        }
        // STOPPING=1 gets its chance, but a service manager that reads nothing cannot hold
        // the exit up for more than this.
        self.systemd.flush(Duration::from_millis(500));
        tracing::info!(event = "daemon.stopped", "stopped");
        Ok(())
    }

    fn next_run_text(&self) -> String {
        self.clock
            .next()
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| "never".into())
    }

    /// `STATUS=`: what is happening, the last cycle's summary and the next run.
    fn status_line(&self) -> String {
        let doing = match self.job.as_ref().map(|job| job.kind) {
            Some(JobKind::Cycle) => "cycle running; ",
            _ => "",
        };
        let last = self.last_summary.as_deref().unwrap_or("no cycle yet");
        format!("{doing}{last}; next run {}", self.next_run_text())
    }
}

enum Event {
    Control(Option<Control>),
    JobDone(Box<JobDone>),
    Timer,
}

/// The job's result; pending for ever when there is none.
async fn wait_for(job: &mut Option<Job>) -> JobDone {
    match job {
        Some(job) => job.work.as_mut().await,
        None => std::future::pending().await,
    }
}

/// One line about a cycle, for `STATUS=` and the state store.
pub(crate) fn summarize(report: &CycleReport) -> String {
    let d = &report.deliveries;
    format!(
        "{} poll(s), {} failed; {} package(s); {} alert(s); {} delivered, {} pending, {} failed",
        report.polls.len(),
        report.failed_polls(),
        report.package_count,
        report.alerts.len(),
        d.delivered,
        d.pending,
        d.failed
    )
}
