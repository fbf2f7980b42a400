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
pub mod heartbeat;
pub mod huawei;
pub mod logging;
pub mod model;
pub mod notify;
pub mod rules;
pub(crate) mod schedule;
pub mod sources;
pub mod state;

/// The `User-Agent` of every request renewd makes (HTTP APIs, webhooks, SMTP's mailer header).
pub const USER_AGENT: &str = concat!("renewd/", env!("CARGO_PKG_VERSION"));

/// An error and its sources, `a: b: c`, without repeating a source that its parent already
/// printed (reqwest and lettre wrap the error that says what happened in generic ones).
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
