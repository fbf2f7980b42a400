//! SIGHUP: the new config is loaded and built like at start; a good one replaces the old
//! between cycles, a bad one is refused and the old one stays in force.

use super::*;

/// A validated new config, ready to replace the old one between cycles.
pub(super) struct Reload {
    pub(super) runtime: Arc<App>,
    pub(super) schedule: Schedule,
    /// The store at a new `state_path`, opened while validating.
    pub(super) store: Option<StateStore>,
    /// Changed keys that only take effect at the next start.
    pub(super) restart_required: Vec<&'static str>,
}

impl Daemon {
    /// `RELOADING=1`, validate the file, then `READY=1` whatever the verdict: the old config
    /// stays in force when the new one is refused; a good one replaces it between cycles.
    pub(super) fn reload(&mut self) {
        self.systemd.reloading();
        match self.prepare_reload() {
            Ok(reload) => {
                self.observed.health.set_config_problem(None);
                if self.job.is_some() {
                    tracing::info!(
                        event = "config.reload_pending",
                        path = %self.config_path.display(),
                        "new config is valid; it takes over when the running work ends"
                    );
                    self.pending_reload = Some(reload);
                } else {
                    self.apply_reload(reload);
                }
            }
            Err(reason) => {
                tracing::error!(
                    event = "config.rejected",
                    path = %self.config_path.display(),
                    reason = %reason,
                    "new config rejected; the previous config stays in force"
                );
                self.observed.health.set_config_problem(Some(reason));
            }
        }
        self.systemd.ready(&self.status_line());
    }

    fn prepare_reload(&mut self) -> Result<Reload, String> {
        let config = Config::load(&self.config_path).map_err(|e| crate::error_chain(&e))?;
        let new_path = config.daemon.state_path.clone();
        let old = &self.runtime.config;
        let mut restart_required = Vec::new();
        if config.http.listen != old.http.listen {
            restart_required.push("http.listen");
        }
        if config.log.format != old.log.format || config.log.level != old.log.level {
            restart_required.push("log");
        }
        let moved = !same_state_file(&new_path, &old.daemon.state_path);
        let runtime = App::build(config).map_err(|e| match e {
            BuildError::Invalid(problems) => crate::config::ConfigError::Invalid {
                path: self.config_path.clone(),
                problems,
            }
            .to_string(),
            other => other.to_string(),
        })?;
        let schedule = runtime.schedule.clone();
        // Last, once nothing else can fail: a file is opened (and its writer lock taken) once.
        // A reload still waiting for the running job may hold the new file already.
        let store = if !moved {
            None
        } else if let Some(waiting) = self.pending_reload.as_mut().and_then(|pending| {
            pending
                .store
                .take_if(|s| same_state_file(s.path(), &new_path))
        }) {
            Some(waiting)
        } else {
            Some(StateStore::open(&new_path).map_err(|e| crate::error_chain(&e))?)
        };
        Ok(Reload {
            runtime: Arc::new(runtime),
            schedule,
            store,
            restart_required,
        })
    }

    /// Only between jobs (the store is home).
    pub(super) fn apply_reload(&mut self, reload: Reload) {
        self.runtime = reload.runtime;
        self.clock = CycleClock::new(reload.schedule.clone(), Utc::now());
        self.observed.health.set_schedule(reload.schedule);
        if let Some(store) = reload.store {
            seed_from_store(&store, &self.observed);
            self.store = Some(store);
        }
        self.observed
            .metrics
            .add_receivers(self.runtime.notifiers.names());
        self.observed
            .metrics
            .keep_accounts(self.runtime.config.accounts.iter().map(|a| a.name.as_str()));
        let config = &self.runtime.config;
        tracing::info!(
            event = "config.reloaded",
            path = %self.config_path.display(),
            schedule = %config.daemon.schedule,
            timezone = %config.daemon.timezone,
            next_run = %self.next_run_text(),
            accounts = config.accounts.len(),
            rules = config.rules.len(),
            receivers = config.receivers.len(),
            "config reloaded"
        );
        if !reload.restart_required.is_empty() {
            tracing::warn!(
                event = "config.restart_required",
                keys = %reload.restart_required.join(","),
                "these keys changed and take effect only after a restart"
            );
        }
        self.systemd.status(&self.status_line());
    }
}
