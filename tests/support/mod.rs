#![allow(dead_code)]

pub mod chat_receivers;
pub mod daemon_harness;
pub mod fake_cloud;
pub mod harness;
pub mod smtp_server;
pub mod webhook_receiver;

/// Variables of the test's own environment that must not reach a spawned renewd: every
/// `RENEWD_*` (they are config overrides), and what systemd, logging or proxies would set.
pub fn inherited_vars_to_scrub() -> Vec<String> {
    const OTHERS: &[&str] = &[
        "RUST_LOG",
        "CREDENTIALS_DIRECTORY",
        "STATE_DIRECTORY",
        "JOURNAL_STREAM",
        "NOTIFY_SOCKET",
        "WATCHDOG_USEC",
        "WATCHDOG_PID",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ];
    std::env::vars()
        .map(|(key, _)| key)
        .filter(|key| key.starts_with("RENEWD_") || OTHERS.contains(&key.as_str()))
        .collect()
}
