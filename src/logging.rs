//! Log output: text for people, JSON (one flat object per line) for log shippers, journald under
//! systemd. Every event renewd emits carries a stable `event` field.

use crate::config::LogFormat;
use std::io::IsTerminal;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, Layer, Registry};

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
];

#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("invalid log level {level:?}: {reason}")]
    BadLevel { level: String, reason: String },
    #[error("cannot connect to journald")]
    Journald(#[source] std::io::Error),
    #[error("a logger is already installed")]
    AlreadyInstalled,
}

/// The filter: `RENEWD_LOG`, else `RUST_LOG`, else the configured one (`[log] level`, built
/// with the app), else `info`; secret-bearing third-party crates capped at `info`.
pub(crate) fn filter(configured: Option<&Targets>) -> Result<Targets, LoggingError> {
    let from_env = ["RENEWD_LOG", "RUST_LOG"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|s| !s.is_empty()));
    let targets = match from_env {
        Some(level) => {
            parse_filter(&level).map_err(|reason| LoggingError::BadLevel { level, reason })?
        }
        None => configured
            .cloned()
            .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO)),
    };
    Ok(CAPPED_CRATES.iter().fold(targets, |targets, krate| {
        targets.with_target(*krate, tracing::Level::INFO)
    }))
}

/// Parses `level[,target=level…]` (e.g. `info` or `warn,renewd=debug`). Stricter than
/// `Targets`' own parser, which reads a misspelt level such as `debgu` as a target name and so
/// silently logs nothing.
pub(crate) fn parse_filter(directives: &str) -> Result<Targets, String> {
    const LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error", "off"];
    for directive in directives
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        let (target, level) = match directive.split_once('=') {
            Some((target, level)) => (Some(target), level),
            None => (None, directive),
        };
        if !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            return Err(format!(
                "{level:?} in {directive:?} is not a level (trace, debug, info, warn, error, off)"
            ));
        }
        if let Some(target) = target {
            let valid = !target.is_empty()
                && target
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
            if !valid {
                return Err(format!("{target:?} in {directive:?} is not a module path"));
            }
        }
    }
    directives.parse::<Targets>().map_err(|e| e.to_string())
}

/// Which format `auto` means here: journald when stderr is connected to the journal.
pub(crate) fn effective_format(format: LogFormat) -> LogFormat {
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

/// The `text` format's layer, writing to `writer`.
fn text_layer<W>(writer: W, ansi: bool) -> Box<dyn Layer<Registry> + Send + Sync>
where
    W: for<'w> fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi)
        .with_target(false)
        .boxed()
}

/// The `json` format's layer (one flat object a line), writing to `writer`.
fn json_layer<W>(writer: W) -> Box<dyn Layer<Registry> + Send + Sync>
where
    W: for<'w> fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(writer)
        .boxed()
}

/// The events `emit` logs on this thread, as the `text` format (`json` = false) or the `json`
/// format would write them, instead of to the log: what `renewd preview` shows of the `log`
/// receiver.
pub fn capture(json: bool, emit: impl FnOnce()) -> String {
    let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let writer = {
        let buffer = buffer.clone();
        move || Captured(buffer.clone())
    };
    let layer = if json {
        json_layer(writer)
    } else {
        text_layer(writer, false)
    };
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), emit);
    let bytes = buffer.lock().map(|b| b.clone()).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A writer into [`capture`]'s buffer.
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("capture buffer poisoned"))?
            .extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the global subscriber. Logs go to stderr (stdout is for command output).
pub fn init(format: LogFormat, configured: Option<&Targets>) -> Result<(), LoggingError> {
    let filter = filter(configured)?;
    let text = || text_layer(std::io::stderr, std::io::stderr().is_terminal());
    // `auto` picked the journal, but its socket cannot be reached (e.g. a mount namespace
    // without /run/systemd/journal): text still reaches the journal through stderr.
    let mut journal_unreachable = None;
    let layer: Box<dyn Layer<Registry> + Send + Sync> = match effective_format(format) {
        LogFormat::Json => json_layer(std::io::stderr),
        LogFormat::Journald => match tracing_journald::layer() {
            Ok(layer) => layer.with_syslog_identifier("renewd".into()).boxed(),
            Err(e) if format == LogFormat::Auto => {
                journal_unreachable = Some(e);
                text()
            }
            Err(e) => return Err(LoggingError::Journald(e)),
        },
        LogFormat::Text | LogFormat::Auto => text(),
    };
    tracing_subscriber::registry()
        .with(layer.with_filter(filter))
        .try_init()
        .map_err(|_| LoggingError::AlreadyInstalled)?;
    if let Some(error) = journal_unreachable {
        tracing::warn!(
            event = "log.journal_unreachable",
            error = %error,
            "stderr is the journal but its socket cannot be reached; logging text to stderr"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_filter;

    #[test]
    fn filters_accept_levels_and_module_levels_only() {
        assert!(parse_filter("info").is_ok());
        assert!(parse_filter("warn,renewd=debug,renewd::cycle=trace").is_ok());
        assert!(parse_filter("debgu").unwrap_err().contains("not a level"));
        assert!(parse_filter("renewd=loud")
            .unwrap_err()
            .contains("not a level"));
        assert!(parse_filter("re[newd=info")
            .unwrap_err()
            .contains("module path"));
    }
}
