//! The `renewd` command line: parse, call into the library, map the outcome to an exit code.

use clap::Parser;
use renewd::cli::{Cli, Command, SilenceCommand};
use renewd::commands::{self, CommandError, EXIT_FAILURE};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            // The whole chain: our errors leave the cause they wrap to `source()`.
            eprintln!("renewd: {}", renewd::error_chain(e.as_ref()));
            match e.downcast_ref::<CommandError>() {
                Some(c) => c.exit_code(),
                None => EXIT_FAILURE,
            }
        }
    };
    ExitCode::from(code)
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    renewd::app::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut stdout = std::io::stdout().lock();

    let code = match cli.command {
        Command::Run => {
            let (path, app) = load(cli.config)?;
            let result = runtime.block_on(async {
                // Handlers first: the daemon announces readiness, and a SIGTERM after that
                // must find them installed.
                let control = renewd::daemon::forward_unix_signals()?;
                renewd::daemon::run(path, app, control).await
            });
            match result {
                Ok(()) => commands::EXIT_OK,
                Err(e) => {
                    eprintln!("renewd: {}", renewd::error_chain(&e));
                    e.exit_code()
                }
            }
        }
        Command::Demo => {
            // The demo shows its tables and the log receiver's alerts; set RENEWD_LOG=info for every event.
            let warn =
                tracing_subscriber::filter::Targets::new().with_default(tracing::Level::WARN);
            init_logging(renewd::config::LogFormat::Auto, Some(&warn))?;
            runtime.block_on(commands::demo(&mut stdout))?
        }
        Command::Check => {
            let (path, app) = load(cli.config)?;
            // The one request `check` makes: how many projects `projects = "all"` finds.
            let discovered = runtime.block_on(commands::discover_projects(&app));
            commands::check(&path, &app, &discovered, &mut stdout)?
        }
        Command::Once { dry_run, json } => {
            let (_, app) = load(cli.config)?;
            runtime.block_on(commands::once(app, dry_run, json, &mut stdout))?
        }
        Command::Status { json } => {
            let (_, app) = load(cli.config)?;
            commands::status(&app, json, &mut stdout)?
        }
        Command::Preview {
            receiver,
            format,
            locale,
        } => {
            let (_, app) = load(cli.config)?;
            commands::preview(
                &app,
                &receiver,
                format,
                locale,
                &mut stdout,
                &mut std::io::stderr(),
            )?
        }
        Command::Silence(command) => {
            let (_, app) = load(cli.config)?;
            let now = chrono::Utc::now();
            match command {
                SilenceCommand::Add {
                    matchers,
                    until,
                    reason,
                    by,
                } => commands::silence_add(
                    &app,
                    &matchers,
                    &until,
                    &reason,
                    by.as_deref(),
                    now,
                    &mut stdout,
                )?,
                SilenceCommand::List { json } => {
                    commands::silence_list(&app, json, now, &mut stdout)?
                }
                SilenceCommand::Expire { id } => {
                    commands::silence_expire(&app, &id, now, &mut stdout)?
                }
            }
        }
        Command::TestNotify {
            receiver,
            heartbeat,
        } => {
            let (_, app) = load(cli.config)?;
            match (receiver, heartbeat) {
                (Some(receiver), _) => {
                    runtime.block_on(commands::test_notify(app, &receiver, &mut stdout))?
                }
                (None, _) => runtime.block_on(commands::test_heartbeat(app, &mut stdout))?,
            }
        }
    };
    Ok(code)
}

/// Loads the config and builds the app (exit 78 when either is refused), then starts logging
/// as the config says.
fn load(path: Option<PathBuf>) -> anyhow::Result<(PathBuf, renewd::app::App)> {
    let (path, app) = commands::load_app(path.as_deref())?;
    init_logging(app.config.log.format, app.log_filter.as_ref())?;
    commands::warn_if_secrets_exposed(&path);
    Ok((path, app))
}

fn init_logging(
    format: renewd::config::LogFormat,
    filter: Option<&tracing_subscriber::filter::Targets>,
) -> anyhow::Result<()> {
    renewd::logging::init(format, filter)
        .map_err(|e| CommandError::Failed(renewd::error_chain(&e)).into())
}
