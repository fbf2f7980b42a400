//! The configuration: one TOML file, then `RENEWD_*` environment overrides, then secrets read
//! from `*_file` paths, then validation. Nothing runs on a config that did not pass all four.

mod accounts;
mod checks;
mod daemon;
mod env;
mod heartbeat;
mod load;
mod problem;
mod receivers;
mod rules;
mod secrets;
#[cfg(test)]
mod tests;

use crate::model::Severity;
use serde::Deserialize;
use std::collections::BTreeMap;

pub use accounts::*;
pub(crate) use checks::{check_endpoint, is_loopback_host, is_project_id};
pub use daemon::*;
use env::*;
pub(crate) use heartbeat::{HeartbeatConfig, HeartbeatMethod};
#[cfg(test)]
use load::format_path;
pub(crate) use load::resolve_path;
pub(crate) use problem::{list_problems, ConfigError, Problem};
pub(crate) use receivers::*;
pub(crate) use rules::*;
pub use secrets::Secret;

/// Where the config is looked for when neither `--config` nor `RENEWD_CONFIG` says.
pub(crate) const DEFAULT_CONFIG_PATH: &str = "/etc/renewd/renewd.toml";
/// Where systemd puts `renewd.service`'s `LoadCredential=` files while it runs.
const SERVICE_CREDENTIALS: &str = "/run/credentials/renewd.service";
/// Prefix of the environment overrides, e.g. `RENEWD_DAEMON__STATE_PATH`.
pub(crate) const ENV_PREFIX: &str = "RENEWD_";
/// Environment variables with the prefix that are not config overrides.
const ENV_NOT_OVERRIDES: &[&str] = &["RENEWD_CONFIG", "RENEWD_LOG"];

// ---------------------------------------------------------------------------------------------
// The config tree. Every struct denies unknown keys: a typo is an error, not a silent default.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub(crate) daemon: DaemonConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub(crate) http: HttpConfig,
    #[serde(default)]
    pub accounts: Vec<AccountConfig>,
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
    pub(crate) smtp: Option<SmtpConfig>,
    #[serde(default)]
    pub(crate) receivers: BTreeMap<String, ReceiverConfig>,
    pub(crate) heartbeat: Option<HeartbeatConfig>,
}
