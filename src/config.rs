//! The configuration: one TOML file, then `RENEWD_*` environment overrides, then secrets read
//! from `*_file` paths, then validation. Nothing runs on a config that did not pass all four.

use crate::model::Severity;
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Value};
use figment::Figment;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the config is looked for when neither `--config` nor `RENEWD_CONFIG` says.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/renewd/renewd.toml";
/// Where systemd puts `renewd.service`'s `LoadCredential=` files while it runs.
const SERVICE_CREDENTIALS: &str = "/run/credentials/renewd.service";
/// Prefix of the environment overrides, e.g. `RENEWD_DAEMON__STATE_PATH`.
pub const ENV_PREFIX: &str = "RENEWD_";
/// Environment variables with the prefix that are not config overrides.
const ENV_NOT_OVERRIDES: &[&str] = &["RENEWD_CONFIG", "RENEWD_LOG"];

// ---------------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------------

/// A secret value (token, password, key, secret-bearing URL). Its `Debug` and `Display` never
/// show the value; call [`Secret::expose`] at the one place that needs it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("<redacted>")
    }
}

// ---------------------------------------------------------------------------------------------
// The config tree. Every struct denies unknown keys: a typo is an error, not a silent default.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub daemon: DaemonConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub accounts: Vec<AccountConfig>,
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
    pub smtp: Option<SmtpConfig>,
    #[serde(default)]
    pub receivers: BTreeMap<String, ReceiverConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonConfig {
    /// Cron expression with seconds, evaluated in `timezone`.
    #[serde(default = "default_schedule")]
    pub schedule: String,
    /// IANA time zone name.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    #[serde(default = "default_true")]
    pub run_on_start: bool,
    #[serde(default = "default_state_path")]
    pub state_path: PathBuf,
    /// Consecutive failed cycles of one account/project before `poll_failed` is sent.
    #[serde(default = "default_failure_alert_after")]
    pub failure_alert_after: u32,
    /// How many polls run at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Timeout of one API request.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// How long an undelivered message is retried before it is abandoned.
    #[serde(default = "default_max_delivery_age", with = "humantime_serde")]
    pub max_delivery_age: Duration,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            schedule: default_schedule(),
            timezone: default_timezone(),
            run_on_start: true,
            state_path: default_state_path(),
            failure_alert_after: default_failure_alert_after(),
            concurrency: default_concurrency(),
            timeout: default_timeout(),
            max_delivery_age: default_max_delivery_age(),
        }
    }
}

impl DaemonConfig {
    /// The configured time zone (validated at load).
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::UTC)
    }
}

fn default_schedule() -> String {
    "0 0 9 * * *".into()
}
fn default_timezone() -> String {
    "UTC".into()
}
fn default_true() -> bool {
    true
}
/// `$STATE_DIRECTORY/state.db` under systemd's `StateDirectory=`, else `/var/lib/renewd/state.db`.
fn default_state_path() -> PathBuf {
    match std::env::var_os("STATE_DIRECTORY") {
        // systemd may pass several directories separated by ':'; the first is ours.
        Some(dirs) if !dirs.is_empty() => {
            let first = dirs
                .to_string_lossy()
                .split(':')
                .next()
                .unwrap_or("")
                .to_string();
            PathBuf::from(first).join("state.db")
        }
        _ => PathBuf::from("/var/lib/renewd/state.db"),
    }
}
fn default_failure_alert_after() -> u32 {
    3
}
fn default_concurrency() -> usize {
    4
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_max_delivery_age() -> Duration {
    Duration::from_secs(7 * 24 * 3600)
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    #[serde(default)]
    pub format: LogFormat,
    /// A tracing filter such as `info` or `renewd=debug`; `RENEWD_LOG` wins over it.
    pub level: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// journald when stderr is the journal (`JOURNAL_STREAM`), else text.
    #[default]
    Auto,
    Text,
    Json,
    Journald,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address of the metrics and health listener; off when absent.
    pub listen: Option<SocketAddr>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    pub name: String,
    /// Huawei Cloud region, e.g. `cn-north-4`; gives the API and IAM endpoints.
    pub region: Option<String>,
    /// Overrides the CodeArts endpoint derived from the region (`https://…`).
    pub endpoint: Option<String>,
    /// CodeArts project ids; when empty, the account as a whole is asked.
    #[serde(default)]
    pub projects: Vec<String>,
    /// The most API requests a second for this account, shared by all of its projects.
    #[serde(default = "default_max_requests_per_second")]
    pub max_requests_per_second: f64,
    pub auth: AuthConfig,
}

/// Huawei's API gateway throttles per API and per user, with limits CodeArts does not
/// publish: 20 a second stays well below what gateways commonly allow, and polls 10,000
/// projects in under nine minutes.
pub const DEFAULT_MAX_REQUESTS_PER_SECOND: f64 = 20.0;

fn default_max_requests_per_second() -> f64 {
    DEFAULT_MAX_REQUESTS_PER_SECOND
}

impl AccountConfig {
    /// The CodeArts base URL: the `endpoint` override, else the region's (validated at load).
    pub fn api_base(&self) -> String {
        if let Some(endpoint) = &self.endpoint {
            return endpoint.trim_end_matches('/').to_string();
        }
        let region = self.region.as_deref().unwrap_or_default();
        match codearts_host(region) {
            Some(host) => format!("https://{host}"),
            None => String::new(),
        }
    }

    /// The IAM base URL: `iam_endpoint` when given, else `https://iam.<region>.myhuaweicloud.com`.
    pub fn iam_base(&self) -> Option<String> {
        if let AuthConfig::Password {
            iam_endpoint: Some(e),
            ..
        } = &self.auth
        {
            return Some(e.trim_end_matches('/').to_string());
        }
        self.region
            .as_ref()
            .map(|r| format!("https://iam.{r}.myhuaweicloud.com"))
    }
}

/// The CodeArts host of a region (DESIGN.md, "The CodeArts API").
pub fn codearts_host(region: &str) -> Option<String> {
    const EXT: &[&str] = &[
        "cn-east-3",
        "cn-east-2",
        "cn-north-1",
        "cn-north-4",
        "cn-southwest-2",
        "cn-south-2",
        "sa-brazil-1",
        "la-south-2",
        "la-north-2",
        "tr-west-1",
    ];
    const ARTIFACT: &[&str] = &[
        "cn-south-1",
        "ap-southeast-3",
        "me-east-1",
        "af-south-1",
        "af-north-1",
    ];
    if EXT.contains(&region) {
        Some(format!("cloudartifacts-ext.{region}.myhuaweicloud.com"))
    } else if ARTIFACT.contains(&region) {
        Some(format!("artifact.{region}.myhuaweicloud.com"))
    } else {
        None
    }
}

/// How an account authenticates. Each secret can be inline or read from `<name>_file`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "method", rename_all = "lowercase", deny_unknown_fields)]
pub enum AuthConfig {
    /// A static IAM token sent as `X-Auth-Token`.
    Token {
        token: Option<Secret>,
        token_file: Option<PathBuf>,
    },
    /// IAM user + password, exchanged for a token at `POST /v3/auth/tokens`.
    Password {
        domain: String,
        user: String,
        password: Option<Secret>,
        password_file: Option<PathBuf>,
        /// IAM project name the token is scoped to; default the account's region.
        project: Option<String>,
        iam_endpoint: Option<String>,
    },
    /// Access key / secret key with `SDK-HMAC-SHA256` signing.
    Aksk {
        ak: String,
        sk: Option<Secret>,
        sk_file: Option<PathBuf>,
        security_token: Option<Secret>,
        security_token_file: Option<PathBuf>,
        /// Sent as `X-Project-Id`.
        project_id: Option<String>,
    },
}

impl AuthConfig {
    pub fn method(&self) -> &'static str {
        match self {
            AuthConfig::Token { .. } => "token",
            AuthConfig::Password { .. } => "password",
            AuthConfig::Aksk { .. } => "aksk",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub name: String,
    /// Globs over account names; empty means all.
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Globs over project ids ("" is the account as a whole); empty means all.
    #[serde(default)]
    pub projects: Vec<String>,
    /// Globs over package keys; empty means all.
    #[serde(default)]
    pub packages: Vec<String>,
    /// Days before expiry at which to warn, e.g. `[30, 14, 7, 3, 1, 0]`.
    pub thresholds: Vec<i64>,
    pub receivers: Vec<String>,
    /// Remind again every `repeat_every` while at or below this many days (or expired).
    pub repeat_below: Option<i64>,
    #[serde(default, with = "humantime_serde")]
    pub repeat_every: Option<Duration>,
    /// Remind of an `expired` package at this interval until it is renewed; default
    /// `repeat_every` (when set), else no reminders.
    #[serde(default, with = "humantime_serde")]
    pub repeat_expired_every: Option<Duration>,
    /// Send a `renewed` notice when a package that was alerted on is renewed.
    #[serde(default = "default_true")]
    pub notify_renewed: bool,
    /// Overrides the severity of this rule's `expiring` and `expired` alerts.
    pub severity: Option<Severity>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    /// Default by `security`: 587 (starttls), 465 (tls), 25 (none).
    pub port: Option<u16>,
    #[serde(default)]
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub password_file: Option<PathBuf>,
    pub from: String,
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// PEM file of a private CA that signs the relay's certificate.
    pub ca_file: Option<PathBuf>,
}

impl SmtpConfig {
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        })
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    #[default]
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ReceiverConfig {
    Email {
        to: Vec<String>,
        #[serde(default)]
        cc: Vec<String>,
        /// minijinja template of the subject; the built-in default when absent.
        subject_template: Option<String>,
        text_template: Option<String>,
        html_template: Option<String>,
    },
    Webhook {
        /// May embed a key (DingTalk's `access_token`), so it is held as a secret.
        url: Option<Secret>,
        url_file: Option<PathBuf>,
        #[serde(default)]
        format: WebhookFormat,
        /// Signing secret (json, dingtalk, feishu).
        secret: Option<Secret>,
        secret_file: Option<PathBuf>,
        #[serde(default)]
        /// Values are held as secrets: custom headers often carry tokens.
        headers: BTreeMap<String, Secret>,
        /// Messages per minute; the platform's quota when absent.
        rate_limit_per_minute: Option<u32>,
        /// minijinja template of the chat text.
        text_template: Option<String>,
    },
    Log {
        /// Level of the alert events: `warn` (default) or `error`.
        #[serde(default)]
        level: LogLevel,
    },
}

impl ReceiverConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            ReceiverConfig::Email { .. } => "email",
            ReceiverConfig::Webhook { .. } => "webhook",
            ReceiverConfig::Log { .. } => "log",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    #[default]
    Warn,
    Error,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    #[default]
    Json,
    Alertmanager,
    Slack,
    Teams,
    Dingtalk,
    Feishu,
    Wecom,
}

impl WebhookFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Json => "json",
            WebhookFormat::Alertmanager => "alertmanager",
            WebhookFormat::Slack => "slack",
            WebhookFormat::Teams => "teams",
            WebhookFormat::Dingtalk => "dingtalk",
            WebhookFormat::Feishu => "feishu",
            WebhookFormat::Wecom => "wecom",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// One thing wrong with the config: the key's path (e.g. `rules[0].receivers`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub reason: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Problem {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "{}: {}", self.path, self.reason)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config {path}:\n{}", list_problems(.problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

/// The problems, one indented line each.
pub fn list_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl ConfigError {
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid { problems, .. } => problems,
            ConfigError::Unreadable { .. } => &[],
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/// Which file to read: `--config`, else `RENEWD_CONFIG`, else the default path.
pub fn resolve_path(cli: Option<&Path>) -> PathBuf {
    if let Some(p) = cli {
        return p.to_path_buf();
    }
    match std::env::var_os("RENEWD_CONFIG") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(DEFAULT_CONFIG_PATH),
    }
}

impl Config {
    /// Reads, overrides from the process environment, resolves secrets and validates.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let mut env: Vec<(String, String)> = std::env::vars().collect();
        // Outside the unit (an operator's `renewd status` while the service runs), the
        // service's credentials are still where systemd put them for it.
        if !env.iter().any(|(k, _)| k == "CREDENTIALS_DIRECTORY")
            && Path::new(SERVICE_CREDENTIALS).is_dir()
        {
            env.push(("CREDENTIALS_DIRECTORY".into(), SERVICE_CREDENTIALS.into()));
        }
        Self::load_with_env(path, &env)
    }

    /// [`Config::load`] with an explicit environment (tests).
    pub fn load_with_env(path: &Path, env: &[(String, String)]) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml_with_env(&text, env).map_err(|problems| ConfigError::Invalid {
            path: path.to_path_buf(),
            problems,
        })
    }

    /// Parses a config from TOML text and the given environment, then validates it.
    pub fn from_toml_with_env(
        text: &str,
        env: &[(String, String)],
    ) -> Result<Config, Vec<Problem>> {
        // Syntax first, by line and column: figment's message would quote the line, which may
        // hold a secret (`password = "…` without its closing quote).
        if let Err(e) = text.parse::<toml::Table>() {
            return Err(vec![toml_syntax_problem(text, &e)]);
        }
        let figment = Figment::from(Toml::string(text));
        let mut root: Dict = figment
            .extract::<Dict>()
            .map_err(|e| figment_problems(&e))?;
        apply_env_overrides(&mut root, env)?;
        let mut config: Config = Figment::from(Serialized::globals(root))
            .extract_lossy()
            .map_err(|e| figment_problems(&e))?;
        let credentials_dir = env
            .iter()
            .find(|(k, _)| k == "CREDENTIALS_DIRECTORY")
            .map(|(_, v)| PathBuf::from(v));
        let mut problems = config.resolve_secret_files(credentials_dir.as_deref());
        problems.extend(config.validate());
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems)
        }
    }

    /// True when the file itself holds a secret inline (warned about when it is readable by others).
    pub fn has_inline_secrets(text: &str) -> bool {
        // Parse, not grep: a comment that mentions "password" is not a secret.
        let Ok(value) = text.parse::<toml::Table>() else {
            return false;
        };
        fn walk(v: &toml::Value) -> bool {
            match v {
                // Custom headers count too: they often carry tokens.
                toml::Value::Table(t) => t.iter().any(|(k, v)| {
                    (SECRET_KEYS.contains(&k.as_str()) && v.is_str())
                        || (k == "headers" && v.as_table().is_some_and(|h| !h.is_empty()))
                        || walk(v)
                }),
                toml::Value::Array(a) => a.iter().any(walk),
                _ => false,
            }
        }
        walk(&toml::Value::Table(value))
    }
}

/// A TOML syntax error: where it is and what is wrong, never the text there.
fn toml_syntax_problem(text: &str, error: &toml::de::Error) -> Problem {
    let place = error
        .span()
        .and_then(|span| text.get(..span.start))
        .map(|before| {
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            format!(" at line {line}, column {column}")
        })
        .unwrap_or_default();
    Problem::new(
        "",
        format!("TOML parse error{place}: {}", error.message().trim()),
    )
}

/// Keys that hold secrets, each also accepted as `<key>_file`.
const SECRET_KEYS: &[&str] = &["token", "password", "sk", "security_token", "secret", "url"];

/// Turns figment's error chain into problems with `a.b[0].c` paths and plain-spoken reasons.
fn figment_problems(error: &figment::Error) -> Vec<Problem> {
    use figment::error::Kind;
    error
        .clone()
        .into_iter()
        .map(|e| {
            let mut path = e.path.clone();
            let one_of = |names: &[&str]| {
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let reason = match &e.kind {
                Kind::Message(m) => m.trim().to_string(),
                Kind::UnknownField(field, expected) => {
                    // serde leaves the key itself out of the path inside tagged enums.
                    if path.last() != Some(field) {
                        path.push(field.clone());
                    }
                    format!(
                        "unknown key `{field}` (expected one of {})",
                        one_of(expected)
                    )
                }
                Kind::MissingField(field) => {
                    path.push(field.to_string());
                    "is required".to_string()
                }
                Kind::UnknownVariant(value, expected) => {
                    format!(
                        "unknown value {value:?} (expected one of {})",
                        one_of(expected)
                    )
                }
                // A secret given as a number, say: what is wrong, without echoing the value.
                Kind::InvalidType(_, expected) | Kind::InvalidValue(_, expected)
                    if may_hold_secret(&path) =>
                {
                    format!("invalid value (expected {expected}; a secret must be a quoted string)")
                }
                other => other.to_string(),
            };
            Problem::new(format_path(&path), reason)
        })
        .collect()
}

/// True for keys whose values must not be echoed in errors: anything under an account's `auth`
/// (serde cannot name the key inside it), custom headers, and the secret keys themselves.
fn may_hold_secret(path: &[String]) -> bool {
    path.iter().any(|k| k == "auth" || k == "headers")
        || path
            .last()
            .is_some_and(|k| SECRET_KEYS.contains(&k.as_str()))
}

/// `["rules", "0", "receivers"]` → `rules[0].receivers`.
pub fn format_path(segments: &[String]) -> String {
    let mut out = String::new();
    for segment in segments {
        if !segment.is_empty() && segment.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(segment);
        }
    }
    out
}

/// Applies `RENEWD_A__B__C=value` overrides. Values stay strings (a password `0123` must not
/// become the number 123); numbers and booleans are read leniently at extraction. Accounts (an
/// array) and receivers are addressed by name: `RENEWD_ACCOUNTS__PROD__AUTH__SK`.
fn apply_env_overrides(root: &mut Dict, env: &[(String, String)]) -> Result<(), Vec<Problem>> {
    let mut problems = Vec::new();
    let mut vars: Vec<&(String, String)> = env
        .iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX) && !ENV_NOT_OVERRIDES.contains(&k.as_str()))
        .collect();
    vars.sort();
    for (name, value) in vars {
        let keys: Vec<String> = name[ENV_PREFIX.len()..]
            .split("__")
            .map(|s| s.to_ascii_lowercase())
            .collect();
        if keys.iter().any(|k| k.is_empty()) {
            problems.push(Problem::new(name.clone(), "empty key between `__`"));
            continue;
        }
        let leaf = Value::from(value.clone());
        let result = match keys[0].as_str() {
            "accounts" if keys.len() >= 3 => patch_named_array(root, &keys, leaf),
            "receivers" if keys.len() >= 3 => patch_named_map(root, &keys, leaf),
            "accounts" | "receivers" => Err(format!(
                "use {ENV_PREFIX}{}__<NAME>__<KEY>",
                keys[0].to_ascii_uppercase()
            )),
            _ => {
                set_path(root, &keys, leaf);
                Ok(())
            }
        };
        if let Err(reason) = result {
            problems.push(Problem::new(name.clone(), reason));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Names in environment variables are upper case and cannot hold `-`: compare loosely.
fn env_name_matches(env_name: &str, name: &str) -> bool {
    let norm = |s: &str| s.to_ascii_lowercase().replace('-', "_");
    norm(env_name) == norm(name)
}

fn patch_named_array(root: &mut Dict, keys: &[String], leaf: Value) -> Result<(), String> {
    let Some(Value::Array(_, items)) = root.get_mut(&keys[0]) else {
        return Err(format!("there is no [[{}]] in the config file", keys[0]));
    };
    for item in items.iter_mut() {
        if let Value::Dict(_, dict) = item {
            let named = matches!(dict.get("name"), Some(Value::String(_, n)) if env_name_matches(&keys[1], n));
            if named {
                set_path(dict, &keys[2..], leaf);
                return Ok(());
            }
        }
    }
    Err(format!(
        "no {} named {:?}",
        &keys[0][..keys[0].len() - 1],
        keys[1]
    ))
}

fn patch_named_map(root: &mut Dict, keys: &[String], leaf: Value) -> Result<(), String> {
    let Some(Value::Dict(_, map)) = root.get_mut(&keys[0]) else {
        return Err(format!("there is no [{}] in the config file", keys[0]));
    };
    let Some(name) = map.keys().find(|n| env_name_matches(&keys[1], n)).cloned() else {
        return Err(format!("no receiver named {:?}", keys[1]));
    };
    match map.get_mut(&name) {
        Some(Value::Dict(_, dict)) => {
            set_path(dict, &keys[2..], leaf);
            Ok(())
        }
        _ => Err(format!("receivers.{name} is not a table")),
    }
}

fn set_path(dict: &mut Dict, keys: &[String], leaf: Value) {
    if keys.len() == 1 {
        dict.insert(keys[0].clone(), leaf);
        return;
    }
    let entry = dict
        .entry(keys[0].clone())
        .or_insert_with(|| Value::from(Dict::new()));
    if !matches!(entry, Value::Dict(..)) {
        *entry = Value::from(Dict::new());
    }
    if let Value::Dict(_, inner) = entry {
        set_path(inner, &keys[1..], leaf);
    }
}

// ---------------------------------------------------------------------------------------------
// Secret files
// ---------------------------------------------------------------------------------------------

/// Reads `<name>_file` into `<name>`. A relative path is taken in `$CREDENTIALS_DIRECTORY`
/// (systemd's `LoadCredential=`). One trailing newline is trimmed.
fn read_secret_file(
    path_key: &str,
    inline: &mut Option<Secret>,
    file: &Option<PathBuf>,
    credentials_dir: Option<&Path>,
    problems: &mut Vec<Problem>,
) {
    let Some(file) = file else { return };
    let key = path_key.trim_end_matches("_file");
    if inline.is_some() {
        problems.push(Problem::new(
            path_key,
            format!(
                "give either `{}` or `{}`, not both",
                last(key),
                last(path_key)
            ),
        ));
        return;
    }
    let full = match credentials_dir {
        Some(dir) if file.is_relative() => dir.join(file),
        _ => file.clone(),
    };
    match std::fs::read_to_string(&full) {
        Ok(text) => {
            let value = text
                .strip_suffix("\r\n")
                .or_else(|| text.strip_suffix('\n'))
                .unwrap_or(&text);
            if value.is_empty() {
                problems.push(Problem::new(
                    path_key,
                    format!("{} is empty", full.display()),
                ));
            }
            *inline = Some(Secret::new(value));
        }
        Err(e) => problems.push(Problem::new(
            path_key,
            format!("cannot read {}: {e}", full.display()),
        )),
    }
}

fn last(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

impl Config {
    fn resolve_secret_files(&mut self, creds: Option<&Path>) -> Vec<Problem> {
        let mut problems = Vec::new();
        for (i, account) in self.accounts.iter_mut().enumerate() {
            let p = format!("accounts[{i}].auth");
            match &mut account.auth {
                AuthConfig::Token { token, token_file } => read_secret_file(
                    &format!("{p}.token_file"),
                    token,
                    token_file,
                    creds,
                    &mut problems,
                ),
                AuthConfig::Password {
                    password,
                    password_file,
                    ..
                } => read_secret_file(
                    &format!("{p}.password_file"),
                    password,
                    password_file,
                    creds,
                    &mut problems,
                ),
                AuthConfig::Aksk {
                    sk,
                    sk_file,
                    security_token,
                    security_token_file,
                    ..
                } => {
                    read_secret_file(&format!("{p}.sk_file"), sk, sk_file, creds, &mut problems);
                    read_secret_file(
                        &format!("{p}.security_token_file"),
                        security_token,
                        security_token_file,
                        creds,
                        &mut problems,
                    );
                }
            }
        }
        if let Some(smtp) = &mut self.smtp {
            read_secret_file(
                "smtp.password_file",
                &mut smtp.password,
                &smtp.password_file,
                creds,
                &mut problems,
            );
        }
        for (name, receiver) in self.receivers.iter_mut() {
            if let ReceiverConfig::Webhook {
                url,
                url_file,
                secret,
                secret_file,
                ..
            } = receiver
            {
                read_secret_file(
                    &format!("receivers.{name}.url_file"),
                    url,
                    url_file,
                    creds,
                    &mut problems,
                );
                read_secret_file(
                    &format!("receivers.{name}.secret_file"),
                    secret,
                    secret_file,
                    creds,
                    &mut problems,
                );
            }
        }
        problems
    }
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

/// `https://…`, or `http://` to a loopback address (tests, local proxies).
pub fn check_endpoint(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if parsed.host_str().is_none() {
        return Err(format!("{url:?} has no host"));
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_host(parsed.host_str().unwrap_or("")) => Ok(()),
        "http" => Err(format!(
            "{url:?} must be https:// (http:// is allowed only on a loopback address)"
        )),
        other => Err(format!(
            "{url:?}: unsupported scheme {other:?}, use https://"
        )),
    }
}

/// True for `localhost`, 127.0.0.0/8 and ::1.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

fn is_project_id(s: &str) -> bool {
    s.len() == 32
        && s.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

impl Config {
    /// Every problem at once, so an operator fixes the file in one go.
    fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut push = |path: String, reason: String| problems.push(Problem::new(path, reason));

        if self.daemon.timezone.parse::<chrono_tz::Tz>().is_err() {
            push(
                "daemon.timezone".into(),
                format!(
                    "{:?} is not an IANA time zone name (e.g. \"Asia/Shanghai\")",
                    self.daemon.timezone
                ),
            );
        }
        if self.daemon.concurrency == 0 {
            push("daemon.concurrency".into(), "must be at least 1".into());
        }
        if self.daemon.failure_alert_after == 0 {
            push(
                "daemon.failure_alert_after".into(),
                "must be at least 1".into(),
            );
        }
        if self.daemon.timeout.is_zero() {
            push("daemon.timeout".into(), "must be more than 0".into());
        }

        if self.accounts.is_empty() {
            push(
                "accounts".into(),
                "at least one [[accounts]] is required".into(),
            );
        }
        let mut account_names = std::collections::HashSet::new();
        for (i, account) in self.accounts.iter().enumerate() {
            let p = format!("accounts[{i}]");
            if account.name.trim().is_empty() {
                push(format!("{p}.name"), "must not be empty".into());
            } else if !account_names.insert(account.name.as_str()) {
                push(
                    format!("{p}.name"),
                    format!("duplicate account name {:?}", account.name),
                );
            }
            match (&account.endpoint, &account.region) {
                (Some(endpoint), _) => {
                    if let Err(e) = check_endpoint(endpoint) {
                        push(format!("{p}.endpoint"), e);
                    }
                }
                (None, Some(region)) => {
                    if codearts_host(region).is_none() {
                        push(
                            format!("{p}.region"),
                            format!("unknown region {region:?}; set `endpoint` for a region renewd does not know"),
                        );
                    }
                }
                (None, None) => push(format!("{p}.region"), "give `region` or `endpoint`".into()),
            }
            let rate = account.max_requests_per_second;
            if !(rate.is_finite() && (0.01..=100_000.0).contains(&rate)) {
                push(
                    format!("{p}.max_requests_per_second"),
                    format!("{rate} is not between 0.01 and 100000"),
                );
            }
            let mut seen = std::collections::HashSet::new();
            for (j, project) in account.projects.iter().enumerate() {
                if !is_project_id(project) {
                    push(
                        format!("{p}.projects[{j}]"),
                        format!("{project:?} is not a CodeArts project id (32 lowercase hex characters)"),
                    );
                } else if !seen.insert(project) {
                    push(
                        format!("{p}.projects[{j}]"),
                        format!("duplicate project {project:?}"),
                    );
                }
            }
            let a = format!("{p}.auth");
            match &account.auth {
                AuthConfig::Token { token, .. } => {
                    if token.as_ref().is_none_or(Secret::is_empty) {
                        push(format!("{a}.token"), "give `token` or `token_file`".into());
                    }
                }
                AuthConfig::Password {
                    domain,
                    user,
                    password,
                    iam_endpoint,
                    project,
                    ..
                } => {
                    if domain.trim().is_empty() {
                        push(format!("{a}.domain"), "must not be empty".into());
                    }
                    if user.trim().is_empty() {
                        push(format!("{a}.user"), "must not be empty".into());
                    }
                    if password.as_ref().is_none_or(Secret::is_empty) {
                        push(
                            format!("{a}.password"),
                            "give `password` or `password_file`".into(),
                        );
                    }
                    match iam_endpoint {
                        Some(e) => {
                            if let Err(e) = check_endpoint(e) {
                                push(format!("{a}.iam_endpoint"), e);
                            }
                        }
                        None if account.region.is_none() => push(
                            format!("{a}.iam_endpoint"),
                            "give the account a `region` or set `iam_endpoint`".into(),
                        ),
                        None => {}
                    }
                    if project.is_none() && account.region.is_none() {
                        push(
                            format!("{a}.project"),
                            "give the account a `region` or set the IAM `project` name".into(),
                        );
                    }
                }
                AuthConfig::Aksk {
                    ak, sk, project_id, ..
                } => {
                    if ak.trim().is_empty() {
                        push(format!("{a}.ak"), "must not be empty".into());
                    }
                    if sk.as_ref().is_none_or(Secret::is_empty) {
                        push(format!("{a}.sk"), "give `sk` or `sk_file`".into());
                    }
                    if let Some(pid) = project_id {
                        if !is_project_id(pid) {
                            push(
                                format!("{a}.project_id"),
                                format!("{pid:?} is not an IAM project id (32 lowercase hex characters)"),
                            );
                        }
                    }
                }
            }
        }

        if self.receivers.is_empty() {
            push(
                "receivers".into(),
                "at least one [receivers.NAME] is required".into(),
            );
        }
        for (name, receiver) in &self.receivers {
            let p = format!("receivers.{name}");
            match receiver {
                ReceiverConfig::Email { to, cc, .. } => {
                    if self.smtp.is_none() {
                        push(
                            format!("{p}.type"),
                            "an email receiver needs an [smtp] section".into(),
                        );
                    }
                    if to.is_empty() {
                        push(format!("{p}.to"), "at least one address is required".into());
                    }
                    for (field, list) in [("to", to), ("cc", cc)] {
                        for (j, addr) in list.iter().enumerate() {
                            if addr.parse::<lettre::message::Mailbox>().is_err() {
                                push(
                                    format!("{p}.{field}[{j}]"),
                                    format!("{addr:?} is not an email address"),
                                );
                            }
                        }
                    }
                }
                ReceiverConfig::Webhook {
                    url,
                    format,
                    secret,
                    rate_limit_per_minute,
                    headers,
                    text_template: _,
                    ..
                } => {
                    // A secret that nothing uses would look like signing that is not there.
                    if secret.is_some()
                        && !matches!(
                            format,
                            WebhookFormat::Json | WebhookFormat::Dingtalk | WebhookFormat::Feishu
                        )
                    {
                        push(
                            format!("{p}.secret"),
                            format!(
                                "the {} format has no signing; `secret` is for json, dingtalk and feishu",
                                format.as_str()
                            ),
                        );
                    }
                    match url {
                        None => push(format!("{p}.url"), "give `url` or `url_file`".into()),
                        Some(u) => {
                            // The URL may embed a key: describe the problem without echoing it.
                            if let Err(e) = check_endpoint(u.expose()) {
                                let _ = e;
                                push(
                                    format!("{p}.url"),
                                    "must be an https:// URL (http:// only on a loopback address)"
                                        .into(),
                                );
                            }
                        }
                    }
                    if *rate_limit_per_minute == Some(0) {
                        push(
                            format!("{p}.rate_limit_per_minute"),
                            "must be at least 1".into(),
                        );
                    }
                    for (header, value) in headers {
                        if reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_err() {
                            push(
                                format!("{p}.headers"),
                                format!("{header:?} is not a valid header name"),
                            );
                        }
                        // The value may be a token: say what is wrong without echoing it.
                        if reqwest::header::HeaderValue::from_str(value.expose()).is_err() {
                            push(
                                format!("{p}.headers.{header}"),
                                "the value holds characters a header cannot carry (control characters or non-ASCII)".into(),
                            );
                        }
                    }
                }
                ReceiverConfig::Log { .. } => {}
            }
        }

        if let Some(smtp) = &self.smtp {
            if smtp.timeout.is_zero() {
                push("smtp.timeout".into(), "must be more than 0".into());
            }
            if smtp.host.trim().is_empty() {
                push("smtp.host".into(), "must not be empty".into());
            }
            if smtp.from.parse::<lettre::message::Mailbox>().is_err() {
                push(
                    "smtp.from".into(),
                    format!(
                        "{:?} is not an email address (e.g. \"renewd <renewd@example.com>\")",
                        smtp.from
                    ),
                );
            }
            if smtp.security == SmtpSecurity::None && !is_loopback_host(smtp.host.trim()) {
                push(
                    "smtp.security".into(),
                    format!(
                        "\"none\" (mail and any SMTP password in clear text) is allowed only \
                         for a relay on this machine (localhost, 127.0.0.1, ::1), not {:?}: use \
                         \"starttls\" or \"tls\" (with ca_file for a private CA)",
                        smtp.host.trim()
                    ),
                );
            }
            if smtp.password.is_some() && smtp.username.is_none() {
                push("smtp.username".into(), "a password needs a username".into());
            }
            if let Some(ca) = &smtp.ca_file {
                if !ca.is_file() {
                    push(
                        "smtp.ca_file".into(),
                        format!("{} is not a readable file", ca.display()),
                    );
                }
            }
        }

        if self.rules.is_empty() {
            push("rules".into(), "at least one [[rules]] is required".into());
        }
        let mut rule_names = std::collections::HashSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let p = format!("rules[{i}]");
            if rule.name.trim().is_empty() {
                push(format!("{p}.name"), "must not be empty".into());
            } else if !rule_names.insert(rule.name.as_str()) {
                push(
                    format!("{p}.name"),
                    format!("duplicate rule name {:?}", rule.name),
                );
            }
            if rule.thresholds.is_empty() {
                push(
                    format!("{p}.thresholds"),
                    "at least one threshold (in days) is required".into(),
                );
            }
            for (j, t) in rule.thresholds.iter().enumerate() {
                if *t < 0 {
                    push(
                        format!("{p}.thresholds[{j}]"),
                        format!("{t} is negative; thresholds are whole days >= 0"),
                    );
                }
            }
            if rule.receivers.is_empty() {
                push(
                    format!("{p}.receivers"),
                    "at least one receiver is required".into(),
                );
            }
            for (j, r) in rule.receivers.iter().enumerate() {
                if !self.receivers.contains_key(r) {
                    let _ = j;
                    push(format!("{p}.receivers"), format!("no receiver named {r:?}"));
                }
            }
            match (rule.repeat_below, rule.repeat_every) {
                (Some(_), None) => push(
                    format!("{p}.repeat_every"),
                    "`repeat_below` needs `repeat_every`".into(),
                ),
                (None, Some(_)) => push(
                    format!("{p}.repeat_below"),
                    "`repeat_every` needs `repeat_below`".into(),
                ),
                (Some(b), Some(_)) if b < 0 => {
                    push(format!("{p}.repeat_below"), "must be >= 0".into())
                }
                (_, Some(e)) if e < Duration::from_secs(60) => {
                    push(format!("{p}.repeat_every"), "must be at least 1m".into())
                }
                (_, Some(e)) if e > Duration::from_secs(366 * 24 * 3600) => {
                    push(format!("{p}.repeat_every"), "must be at most 366d".into())
                }
                _ => {}
            }
            match rule.repeat_expired_every {
                Some(e) if e < Duration::from_secs(60) => push(
                    format!("{p}.repeat_expired_every"),
                    "must be at least 1m".into(),
                ),
                Some(e) if e > Duration::from_secs(366 * 24 * 3600) => push(
                    format!("{p}.repeat_expired_every"),
                    "must be at most 366d".into(),
                ),
                _ => {}
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[[accounts]]
name = "prod"
region = "cn-north-4"
auth = { method = "token", token = "tok-123" }

[[rules]]
name = "default"
thresholds = [30, 7]
receivers = ["log"]

[receivers.log]
type = "log"
"#;

    fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, Vec<Problem>> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_toml_with_env(text, &env)
    }

    #[test]
    fn minimal_config_loads_with_defaults() {
        let c = load(MINIMAL, &[]).unwrap();
        assert_eq!(c.daemon.schedule, "0 0 9 * * *");
        assert_eq!(c.daemon.timeout, Duration::from_secs(30));
        assert_eq!(
            c.accounts[0].api_base(),
            "https://cloudartifacts-ext.cn-north-4.myhuaweicloud.com"
        );
    }

    #[test]
    fn environment_overrides_nested_keys_and_accounts_by_name() {
        let c = load(
            MINIMAL,
            &[
                ("RENEWD_DAEMON__STATE_PATH", "/tmp/x.db"),
                ("RENEWD_DAEMON__CONCURRENCY", "9"),
                ("RENEWD_ACCOUNTS__PROD__AUTH__TOKEN", "0123"),
                ("RENEWD_LOG", "debug"),
            ],
        )
        .unwrap();
        assert_eq!(c.daemon.state_path, PathBuf::from("/tmp/x.db"));
        assert_eq!(c.daemon.concurrency, 9);
        match &c.accounts[0].auth {
            AuthConfig::Token { token, .. } => assert_eq!(token.as_ref().unwrap().expose(), "0123"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unknown_keys_are_errors_with_their_path() {
        let text = MINIMAL.replace(
            "thresholds = [30, 7]",
            "thresholds = [30, 7]\nthreshold = 3",
        );
        let problems = load(&text, &[]).unwrap_err();
        assert_eq!(problems[0].path, "rules[0].threshold");
        assert!(problems[0].reason.contains("threshold"), "{problems:?}");
    }

    /// Found by fuzzing (fuzz/corpus/config): the parse error quoted the line it was on.
    #[test]
    fn a_syntax_error_names_the_line_not_its_text() {
        let text = MINIMAL.replace("token = \"tok-123\"", "token = \"tok-123 }");
        let problems = load(&text, &[]).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        let shown = problems[0].to_string();
        assert!(
            shown.starts_with("TOML parse error at line 5, column "),
            "{shown}"
        );
        assert!(!shown.contains("tok-123"), "{shown}");
    }

    #[test]
    fn secret_debug_is_redacted() {
        let c = load(MINIMAL, &[]).unwrap();
        let dump = format!("{c:?}");
        assert!(!dump.contains("tok-123"), "{dump}");
        assert!(dump.contains("redacted"));
    }

    #[test]
    fn inline_secrets_are_detected() {
        assert!(Config::has_inline_secrets(MINIMAL));
        assert!(Config::has_inline_secrets(
            "[receivers.x]\nheaders = { Authorization = \"Bearer t\" }\n"
        ));
        assert!(!Config::has_inline_secrets(
            "# password here\n[smtp]\npassword_file = \"/x\"\n"
        ));
    }

    #[test]
    fn paths_format_array_indices() {
        let p = format_path(&["rules".into(), "0".into(), "receivers".into()]);
        assert_eq!(p, "rules[0].receivers");
    }
}
