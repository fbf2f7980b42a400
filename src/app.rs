//! The build phase: a [`Config`] (plain data that passed its syntax checks) becomes everything
//! that runs — the rule set (globs compiled once), the schedule, the log filter, one client
//! per account and every receiver (templates compiled once) — or the list of every problem,
//! each with its key path. `check`, `once`, `status`, `run`, a reload and `demo` all build
//! through here, so what `check` accepts is exactly what runs.

use crate::config::{Config, Problem, RuleConfig};
use crate::notify::outbox::DeliveryPolicy;
use crate::notify::Notifiers;
use crate::rules::{RuleDefinition, RuleSet};
use crate::schedule::Schedule;
use crate::sources::codearts::CodeArtsClient;
use crate::sources::subscriptions::SubscriptionsClient;
use crate::sources::Source;
use std::sync::Arc;
use tracing_subscriber::filter::Targets;

/// Everything built once from a config and reused by every cycle: rules, API clients (with
/// their cached logins) and receivers. A reload builds a new one.
pub struct App {
    pub config: Arc<Config>,
    pub(crate) rules: RuleSet,
    pub(crate) schedule: Schedule,
    /// `log.level` as a filter (`RENEWD_LOG` still wins when logging starts).
    pub log_filter: Option<Targets>,
    /// Every source of every account, each asked once per scope per cycle.
    pub sources: Vec<Box<dyn Source>>,
    pub(crate) notifiers: Notifiers,
    /// `[heartbeat]`, when configured.
    pub(crate) heartbeat: Option<crate::heartbeat::Heartbeat>,
}

/// Why no [`App`] could be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The config says something that cannot run; every problem, with its key path.
    #[error("{}", crate::config::list_problems(.0))]
    Invalid(Vec<Problem>),
    /// The machine cannot make HTTPS requests (no CA certificates, typically).
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

impl App {
    /// Builds every part, collecting every problem rather than stopping at the first.
    pub fn build(config: Config) -> Result<App, BuildError> {
        let mut problems = Vec::new();
        let rules = build_rules(&config.rules, &mut problems);
        let schedule = build_schedule(&config, &mut problems);
        let log_filter = build_log_filter(&config, &mut problems);
        crate::notify::webhook::check_formats(&config, &mut problems);
        crate::notify::check_templates(&config, &mut problems);
        if !problems.is_empty() {
            return Err(BuildError::Invalid(problems));
        }
        let http = http_client()?;
        let mut sources: Vec<Box<dyn Source>> = Vec::with_capacity(config.accounts.len());
        // The billing listing reaches as far as the earliest alert any rule can raise.
        let largest_threshold = config
            .rules
            .iter()
            .flat_map(|r| r.thresholds.iter().copied())
            .max();
        for (i, account) in config.accounts.iter().enumerate() {
            if account.packages {
                match CodeArtsClient::new(account, http.clone(), config.daemon.timeout) {
                    Ok(client) => sources.push(Box::new(client)),
                    Err(e) => problems.push(Problem::new(format!("accounts[{i}]"), e.to_string())),
                }
            }
            if let Some(subscriptions) = &account.subscriptions {
                match SubscriptionsClient::new(
                    account,
                    subscriptions,
                    largest_threshold,
                    http.clone(),
                    config.daemon.timeout,
                ) {
                    Ok(client) => sources.push(Box::new(client)),
                    Err(e) => problems.push(Problem::new(
                        format!("accounts[{i}].subscriptions"),
                        e.to_string(),
                    )),
                }
            }
        }
        let heartbeat = config
            .heartbeat
            .as_ref()
            .and_then(|h| crate::heartbeat::Heartbeat::new(h, http.clone()));
        let notifiers = match Notifiers::from_config(&config, http) {
            Ok(notifiers) => Some(notifiers),
            Err(e) => {
                problems.push(Problem::new("", e.to_string()));
                None
            }
        };
        match (rules, schedule, notifiers) {
            (Some(rules), Some(schedule), Some(notifiers)) if problems.is_empty() => Ok(App {
                config: Arc::new(config),
                rules,
                schedule,
                log_filter,
                sources,
                notifiers,
                heartbeat,
            }),
            _ => Err(BuildError::Invalid(problems)),
        }
    }

    pub(crate) fn retry_policy(&self) -> DeliveryPolicy {
        DeliveryPolicy::new(self.config.daemon.max_delivery_age)
    }
}

fn build_rules(configs: &[RuleConfig], problems: &mut Vec<Problem>) -> Option<RuleSet> {
    let definitions: Vec<RuleDefinition> = configs.iter().map(rule_definition).collect();
    match RuleSet::compile(&definitions) {
        Ok(rules) => Some(rules),
        Err(errors) => {
            for (rule, error) in errors {
                let path = match error.field() {
                    (field, Some(index)) => format!("rules[{rule}].{field}[{index}]"),
                    (field, None) => format!("rules[{rule}].{field}"),
                };
                problems.push(Problem::new(path, crate::error_chain(&error)));
            }
            None
        }
    }
}

/// What the rules engine compiles from a `[[rules]]` table: the same fields, without the
/// file's syntax.
fn rule_definition(rule: &RuleConfig) -> RuleDefinition {
    RuleDefinition {
        name: rule.name.clone(),
        accounts: rule.accounts.clone(),
        projects: rule.projects.clone(),
        packages: rule.packages.clone(),
        thresholds: rule.thresholds.clone(),
        receivers: rule.receivers.clone(),
        repeat_below: rule.repeat_below,
        repeat_every: rule.repeat_every,
        repeat_expired_every: rule.repeat_expired_every,
        notify_renewed: rule.notify_renewed,
        severity: rule.severity,
        sources: rule.sources.clone().unwrap_or_default(),
        auto_renew: rule.auto_renew,
    }
}

fn build_schedule(config: &Config, problems: &mut Vec<Problem>) -> Option<Schedule> {
    let daemon = &config.daemon;
    match Schedule::new(&daemon.schedule, daemon.tz()) {
        // Asked of the wall clock: a date that no longer comes (`0 0 0 30 2 *`) never fires.
        Ok(schedule) if schedule.next_after(chrono::Utc::now()).is_none() => {
            problems.push(Problem::new(
                "daemon.schedule",
                format!("{:?} never fires (no such date)", daemon.schedule),
            ));
            None
        }
        Ok(schedule) => Some(schedule),
        Err(e) => {
            problems.push(Problem::new("daemon.schedule", e));
            None
        }
    }
}

fn build_log_filter(config: &Config, problems: &mut Vec<Problem>) -> Option<Targets> {
    let level = config.log.level.as_deref()?;
    match crate::logging::parse_filter(level) {
        Ok(filter) => Some(filter),
        Err(e) => {
            problems.push(Problem::new(
                "log.level",
                format!(
                    "{level:?} is not a log level or filter (e.g. \"info\", \"warn,renewd=debug\"): {e}"
                ),
            ));
            None
        }
    }
}

/// Makes ring rustls's process-wide crypto provider (reqwest and lettre are built without
/// one); the first call wins, later ones do nothing.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The shared HTTP client (rustls with ring; no proxy guessing beyond the environment).
pub(crate) fn http_client() -> Result<reqwest::Client, BuildError> {
    install_crypto_provider();
    reqwest::Client::builder()
        .user_agent(crate::USER_AGENT)
        // A redirect could carry X-Auth-Token to another host: report 3xx instead of following.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| {
            let mut reason = crate::error_chain(&e);
            // rustls-platform-verifier reads the system's CA store; a minimal image may have none.
            if reason.contains("certificates") {
                reason.push_str(
                    " (renewd verifies servers against the system's CA certificates: install them, \
                     e.g. Debian's ca-certificates package, or point SSL_CERT_FILE at a bundle)",
                );
            }
            BuildError::Http(reason)
        })
}
