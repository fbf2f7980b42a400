//! What each subcommand does, one file each. `main.rs` parses the command line and maps the
//! results to exit codes; everything else lives here so tests can drive it in-process. This
//! file holds what they share: errors, exit codes, loading the app.

mod check;
mod demo;
mod once;
mod preview;
mod silence;
mod status;
mod table;
mod test_notify;

pub use check::{check, discover_projects, Discovered};
pub use demo::demo;
pub use once::once;
pub(crate) use once::print_report;
pub use preview::preview;
pub use silence::{silence_add, silence_expire, silence_list};
pub use status::status;
pub(crate) use table::{item_cell, write_table};
pub use test_notify::{test_heartbeat, test_notify};

use crate::app::{App, BuildError};
use crate::config::{Config, ConfigError};
use crate::cycle;
use crate::state::StateError;
use std::path::{Path, PathBuf};

/// Exit codes (docs/design.md, "Interfaces").
pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_CONFIG: u8 = 78;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    State(#[from] StateError),
    /// Parts of the app that cannot be built on this machine (no CA certificates).
    #[error(transparent)]
    Build(BuildError),
    #[error(transparent)]
    Cycle(#[from] cycle::CycleError),
    #[error("cannot write output")]
    Output(#[from] std::io::Error),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Failed(String),
}

impl CommandError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::Config(_) => EXIT_CONFIG,
            // The HTTP client cannot be built; in practice, the system has no CA
            // certificates. A restart will not fix that either.
            CommandError::Build(_) => EXIT_CONFIG,
            CommandError::Usage(_) => EXIT_USAGE,
            _ => EXIT_FAILURE,
        }
    }
}

/// Loads the config at `path` (or `RENEWD_CONFIG`, or the default path) and builds the app
/// from it: every problem of either step is a config problem, named with its key.
pub fn load_app(path: Option<&Path>) -> Result<(PathBuf, App), CommandError> {
    let path = crate::config::resolve_path(path);
    let config = Config::load(&path)?;
    let app = build_app(&path, config)?;
    Ok((path, app))
}

/// [`App::build`], its problems reported as the config file's.
pub(crate) fn build_app(path: &Path, config: Config) -> Result<App, CommandError> {
    App::build(config).map_err(|e| match e {
        BuildError::Invalid(problems) => CommandError::Config(ConfigError::Invalid {
            path: path.to_path_buf(),
            problems,
        }),
        other => CommandError::Build(other),
    })
}

/// The notifier of the receiver named `name`, or why there is none (naming those configured).
fn notifier<'a>(app: &'a App, name: &str) -> Result<&'a dyn crate::notify::Notifier, String> {
    if !app.config.receivers.contains_key(name) {
        let known: Vec<&str> = app.config.receivers.keys().map(String::as_str).collect();
        return Err(format!(
            "no receiver named {name:?} (configured: {})",
            known.join(", ")
        ));
    }
    app.notifiers
        .get(name)
        .ok_or_else(|| format!("receiver {name:?} could not be built"))
}

/// Warns when a file holding inline secrets can be read by group or others.
pub fn warn_if_secrets_exposed(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    let mode = meta.permissions().mode();
    if mode & 0o077 == 0 {
        return;
    }
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    if Config::has_inline_secrets(&text) {
        tracing::warn!(
            event = "config.secrets_exposed",
            path = %path.display(),
            mode = format!("{:o}", mode & 0o777),
            "config file holds inline secrets and is readable by group or others; chmod 600 it or use *_file"
        );
    }
}
