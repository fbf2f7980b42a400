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
use crate::model::Alert;
use crate::notify::Digest;
use crate::state::StateStore;
use chrono::Utc;
use std::io::Write;
use std::path::Path;

/// `renewd demo`: two cycles against the simulated endpoint; the second sends nothing. Then
/// writes what each kind of receiver would have received into the demo's directory, which is
/// kept, and prints the paths.
pub async fn demo(out: &mut dyn Write) -> Result<u8, CommandError> {
    let endpoint = crate::demo::SimulatedEndpoint::start().await?;
    let dir = tempfile::Builder::new().prefix("renewd-demo-").tempdir()?;
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
        "renewd demo: a simulated Huawei Cloud account at {}:\n\
         - CodeArts: 5 packages (the documented example: 11 and 11 days; and 45, 6 and 0 days);\n\
         - billing: 5 subscriptions (ECS web-01 and its disk at 6 days, a certificate at 13 days, a bandwidth at\n  \
         120 days, and RDS db-main at 4 days renewing itself for 532.00 CNY against a balance of 128.45 CNY).\n\
         State in {}, alerts to the log receiver (on stderr).\n",
        endpoint.url(),
        dir.path().display()
    )?;
    let mut store = StateStore::open(&state_path)?;
    let mut code = EXIT_OK;
    let mut first_alerts = Vec::new();
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
        if n == 1 {
            first_alerts = report.alerts;
        }
        writeln!(out)?;
    }
    write_previews(&app, first_alerts, dir.path(), out)?;
    // Kept, so that the previews can be opened.
    let dir = dir.keep();
    writeln!(
        out,
        "The directory {} is kept (with the state file); remove it when done.",
        dir.display()
    )?;
    Ok(code)
}

/// Writes [`crate::demo::PREVIEWS`]: what each kind of receiver would have received for the
/// first cycle's alerts, and lists them on `out`.
fn write_previews(
    app: &App,
    alerts: Vec<Alert>,
    dir: &Path,
    out: &mut dyn Write,
) -> Result<(), CommandError> {
    writeln!(
        out,
        "What each kind of receiver would have received for the first cycle's {} alert(s) (`renewd preview` shows it for yours):",
        alerts.len()
    )?;
    let width = crate::demo::PREVIEWS
        .iter()
        .map(|(file, ..)| dir.join(file).display().to_string().len())
        .max()
        .unwrap_or(0);
    for (file, receiver, format, what) in crate::demo::PREVIEWS {
        let notifier = super::notifier(app, receiver).map_err(CommandError::Failed)?;
        let digest = Digest::new(
            *receiver,
            alerts.clone(),
            Utc::now(),
            app.config.daemon.tz(),
        )
        .styled(app.notifiers.style(receiver, app.config.daemon.tz()));
        let path = dir.join(file);
        std::fs::write(
            &path,
            super::preview::render(notifier, &digest, Some(*format))?,
        )?;
        writeln!(out, "  {:<width$}  {what}", path.display())?;
    }
    Ok(())
}
