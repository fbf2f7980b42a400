//! `renewd demo`: the whole pipeline against the built-in simulated endpoint.

use super::print_report;
use super::CommandError;
use super::EXIT_FAILURE;
use super::EXIT_OK;
use crate::app::App;
use crate::app::BuildError;
use crate::config::Config;
use crate::cycle;
use crate::cycle::CycleOptions;
use crate::state::StateStore;
use chrono::Utc;
use std::io::Write;

/// `renewd demo`: two cycles against the simulated endpoint; the second sends nothing.
pub async fn demo(out: &mut dyn Write) -> Result<u8, CommandError> {
    let endpoint = crate::demo::SimulatedEndpoint::start().await?;
    let dir = tempfile::tempdir()?;
    let state_path = dir.path().join("state.db");
    let text = crate::demo::demo_config_toml(&endpoint.url(), &state_path);
    let invalid = |problems: Vec<crate::config::Problem>| {
        CommandError::Failed(format!(
            "built-in demo config is invalid: {}",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        ))
    };
    let config = Config::from_toml_with_env(&text, &[]).map_err(invalid)?;
    let app = App::build(config).map_err(|e| match e {
        BuildError::Invalid(problems) => invalid(problems),
        other => CommandError::Build(other),
    })?;
    writeln!(
        out,
        "renewd demo: a simulated CodeArts endpoint at {} serving 5 packages (the documented example: 11 and 11 days; and 45, 6 and 0 days),\n\
         state in a temporary file, alerts to the log receiver (on stderr).\n",
        endpoint.url()
    )?;
    let mut store = StateStore::open(&state_path)?;
    let mut code = EXIT_OK;
    for n in 1..=2 {
        writeln!(out, "== cycle {n} ==")?;
        out.flush()?;
        let report =
            cycle::run_cycle(&app, &mut store, CycleOptions::default(), Utc::now()).await?;
        print_report(&report, store.pending_deliveries()?.len(), out)?;
        if n == 2 && report.alerts.is_empty() {
            writeln!(out, "\nThe second cycle decided nothing new, so nothing was sent: every step is told once.")?;
        }
        if report.failed_polls() > 0 {
            code = EXIT_FAILURE;
        }
        writeln!(out)?;
    }
    Ok(code)
}
