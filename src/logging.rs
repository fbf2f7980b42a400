//! Log output: text for people, JSON (one flat object per line) for log shippers, journald under
//! systemd. Every event renewd emits carries a stable `event` field.

use crate::config::{LogConfig, LogFormat};
use std::io::IsTerminal;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer, Registry};

/// Crates whose own debug/trace output could carry request headers or SMTP credentials. They are
/// capped at `info` whatever level is asked for, so a secret never reaches the log.
const CAPPED_CRATES: &[&str] = &[
    "hyper",
    "hyper_util",
    "reqwest",
    "h2",
    "rustls",
    "lettre",
    "tower",
    "axum",
    "tokio_cron_scheduler",
];

#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("invalid log level {level:?}: {reason}")]
    BadLevel { level: String, reason: String },
    #[error("cannot connect to journald: {0}")]
    Journald(std::io::Error),
    #[error("a logger is already installed")]
    AlreadyInstalled,
}

/// The filter: `RENEWD_LOG`, else `RUST_LOG`, else `[log] level`, else `info`; secret-bearing
/// third-party crates capped at `info`.
pub fn filter(config: &LogConfig) -> Result<EnvFilter, LoggingError> {
    let level = std::env::var("RENEWD_LOG")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("RUST_LOG").ok().filter(|s| !s.is_empty()))
        .or_else(|| config.level.clone())
        .unwrap_or_else(|| "info".to_string());
    let mut directives = level.clone();
    for krate in CAPPED_CRATES {
        directives.push_str(&format!(",{krate}=info"));
    }
    EnvFilter::builder()
        .parse(&directives)
        .map_err(|e| LoggingError::BadLevel {
            level,
            reason: e.to_string(),
        })
}

/// Which format `auto` means here: journald when stderr is connected to the journal.
pub fn effective_format(format: LogFormat) -> LogFormat {
    match format {
        LogFormat::Auto if stderr_is_journal() => LogFormat::Journald,
        LogFormat::Auto => LogFormat::Text,
        other => other,
    }
}

/// systemd sets `JOURNAL_STREAM=<dev>:<inode>` of the stream it connected; compare with stderr's.
fn stderr_is_journal() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(value) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = value.split_once(':') else {
        return false;
    };
    let Ok(meta) = std::fs::metadata("/proc/self/fd/2") else {
        return false;
    };
    dev.parse::<u64>().ok() == Some(meta.dev()) && ino.parse::<u64>().ok() == Some(meta.ino())
}

/// Installs the global subscriber. Logs go to stderr (stdout is for command output).
pub fn init(config: &LogConfig) -> Result<(), LoggingError> {
    let filter = filter(config)?;
    let layer: Box<dyn Layer<Registry> + Send + Sync> = match effective_format(config.format) {
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Journald => tracing_journald::layer()
            .map_err(LoggingError::Journald)?
            .with_syslog_identifier("renewd".into())
            .boxed(),
        LogFormat::Text | LogFormat::Auto => fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(layer.with_filter(filter))
        .try_init()
        .map_err(|_| LoggingError::AlreadyInstalled)
}
