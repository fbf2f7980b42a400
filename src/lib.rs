//! renewd: watches the renewal deadlines of Huawei Cloud CodeArts packages and tells people in
//! time, with the renewal link in hand. See docs/design.md for the contract.

// `pub` only for what main.rs and the integration tests use; the rest is pub(crate), and
// this lint (an error under CI's clippy -D warnings) keeps it so.
#![warn(unreachable_pub)]

pub mod app;
pub(crate) mod backoff;
pub(crate) mod capped;
// pub: examples/gen-assets.rs writes the man pages and completions from it.
pub mod cli;
pub mod commands;
pub mod config;
pub mod cycle;
pub mod daemon;
pub(crate) mod demo;
pub(crate) mod heartbeat;
pub mod huawei;
pub mod logging;
pub mod model;
pub mod notify;
pub mod rules;
pub(crate) mod schedule;
pub mod sources;
pub mod state;

/// The `User-Agent` of every request renewd makes (HTTP APIs, webhooks, SMTP's mailer header).
pub(crate) const USER_AGENT: &str = concat!("renewd/", env!("CARGO_PKG_VERSION"));

/// An error and its sources, `a: b: c`: how every error reaches a person or a log. renewd's own
/// errors say only their own part and leave the error they wrap to `source()`, so printing one
/// with `{}` alone drops its cause. A source whose text was already printed is skipped: reqwest
/// and lettre repeat the error they wrap in their own message.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let part = e.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = e.source();
    }
    text
}

#[cfg(test)]
pub(crate) mod tests {
    use std::error::Error;

    /// The crate's convention for an error that wraps another: its own message does not say
    /// the cause, its `source()` does, and [`super::error_chain`] says it exactly once.
    pub(crate) fn assert_cause_told_once(error: &dyn Error, cause: &str) {
        let own = error.to_string();
        assert!(
            !own.contains(cause),
            "{own:?} should leave {cause:?} to source()"
        );
        let source = error.source().expect("the cause is the source");
        assert!(source.to_string().contains(cause), "{source}");
        let chain = super::error_chain(error);
        assert!(chain.starts_with(&format!("{own}: ")), "{chain}");
        assert_eq!(chain.matches(cause).count(), 1, "{chain}");
    }

    fn io() -> std::io::Error {
        std::io::Error::other("the root cause")
    }

    #[test]
    fn errors_leave_their_cause_to_source() {
        let state = || crate::state::StateError::Io {
            path: "/var/lib/renewd/state.db".into(),
            what: "opening",
            source: io(),
        };
        let errors: Vec<Box<dyn Error>> = vec![
            Box::new(crate::config::ConfigError::Unreadable {
                path: "/etc/renewd/renewd.toml".into(),
                source: io(),
            }),
            Box::new(crate::commands::CommandError::Output(io())),
            Box::new(crate::commands::CommandError::State(state())),
            Box::new(crate::daemon::DaemonError::State(state())),
            Box::new(crate::daemon::DaemonError::Signals {
                signal: "SIGHUP",
                source: io(),
            }),
            Box::new(crate::logging::LoggingError::Journald(io())),
        ];
        for error in errors {
            assert_cause_told_once(error.as_ref(), "the root cause");
        }
    }

    /// reqwest and lettre put the text of the error they wrap in their own message too.
    #[derive(Debug, thiserror::Error)]
    #[error("error sending request: {0}")]
    struct Repeats(#[source] std::io::Error);

    #[test]
    fn a_cause_its_wrapper_already_printed_is_not_printed_again() {
        assert_eq!(
            super::error_chain(&Repeats(io())),
            "error sending request: the root cause"
        );
    }
}
