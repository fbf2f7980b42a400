//! The state file under the daemon: refreshing gauges from it, noticing when writing to it
//! fails (a full disk, a read-only mount), and reopening it once it works again.

use super::*;

impl Daemon {
    /// A write to the state store failed on its file system: an error that names the file,
    /// `/healthz` unhealthy, and a fresh connection before the next job. What was recorded
    /// stays recorded; what this job could not record, the next cycle decides again.
    pub(super) fn state_write_failed(&mut self, during: &'static str, error: &StateError) {
        let path = &self.runtime.config.daemon.state_path;
        let error = crate::error_chain(error);
        tracing::error!(
            event = "state.write_failed",
            path = %path.display(),
            during,
            error = %error,
            "the state store cannot be written; cycles are tried again at every retry tick"
        );
        self.observed.health.set_state_problem(Some(error));
        self.store_broken = true;
        self.state_failing = true;
    }
    pub(super) fn state_recovered(&mut self) {
        if std::mem::take(&mut self.state_failing) {
            tracing::info!(
                event = "state.recovered",
                path = %self.runtime.config.daemon.state_path.display(),
                "the state store can be written again"
            );
            self.observed.health.set_state_problem(None);
        }
    }
    /// After a failed write: drops the open store (its connection and writer lock) and opens
    /// the file again. False when that fails too; the next job tries again.
    pub(super) fn reopen_if_broken(&mut self) -> bool {
        if !self.store_broken {
            return true;
        }
        if self.job.is_some() {
            return false;
        }
        let path = self.runtime.config.daemon.state_path.clone();
        drop(self.store.take());
        // A file that is gone (its file system not mounted, say) is not made again here: an
        // empty state would decide everything afresh.
        let opened = if path.exists() {
            StateStore::open(&path)
        } else {
            Err(StateError::Missing { path: path.clone() })
        };
        match opened {
            Ok(store) => {
                tracing::info!(event = "state.reopened", path = %path.display(), "state file opened again");
                self.store = Some(store);
                self.store_broken = false;
                true
            }
            Err(e) => {
                self.state_write_failed("reopening", &e);
                false
            }
        }
    }
}

/// Gauges and readiness from what the store already knows, so a restarted daemon reports its
/// packages (and is ready when its last cycle is recent) before its first cycle.
pub(super) fn seed_from_store(store: &StateStore, observed: &Observed) {
    refresh_package_gauges(store, observed);
    refresh_outbox_gauge(store, observed);
    match store.recent_cycles(20) {
        Ok(cycles) => {
            if let Some(at) = cycles.iter().find_map(|c| c.finished_at) {
                observed.health.cycle_finished(at);
            }
            if let Some(at) = cycles
                .iter()
                .filter(|c| c.ok == Some(true))
                .find_map(|c| c.finished_at)
            {
                observed.metrics.set_last_cycle_success(at);
            }
        }
        Err(e) => metrics_source_failed(store.path(), &e),
    }
}

pub(super) fn refresh_package_gauges(store: &StateStore, observed: &Observed) {
    match store.all_packages() {
        Ok(packages) => observed.metrics.set_packages(&packages),
        Err(e) => metrics_source_failed(store.path(), &e),
    }
}

pub(super) fn refresh_outbox_gauge(store: &StateStore, observed: &Observed) {
    match store.outbox_counts() {
        Ok(counts) => observed.metrics.set_outbox_pending(counts.pending),
        Err(e) => metrics_source_failed(store.path(), &e),
    }
}

pub(super) fn metrics_source_failed(path: &Path, error: &StateError) {
    tracing::warn!(
        event = "metrics.refresh_failed",
        path = %path.display(),
        error = %crate::error_chain(error),
        "cannot read the state store for metrics"
    );
}
