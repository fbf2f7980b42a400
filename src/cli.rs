//! The command line's definition, in the library so that the man page and the shell completions
//! are generated from it (examples/gen-assets.rs) rather than written by hand.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Watches the renewal deadlines of Huawei Cloud CodeArts packages and warns people in time.
#[derive(Parser)]
#[command(name = "renewd", version, about, long_about = None)]
pub struct Cli {
    /// Config file [default: $RENEWD_CONFIG, else /etc/renewd/renewd.toml]
    #[arg(long, short = 'c', global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run as a daemon: cycles on the schedule, SIGHUP reloads the config, SIGTERM stops.
    /// Talks to systemd (Type=notify) when NOTIFY_SOCKET is set.
    Run,
    /// Run one full cycle now (retrying pending deliveries first), print every package, exit.
    /// Exits 1 when a poll failed or a delivery is still pending.
    Once {
        /// Evaluate and print, but send and record nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the cycle as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Validate the config and print what was understood (never a secret).
    Check,
    /// Show what the state store knows: packages, last alerts, pending deliveries.
    Status {
        /// Print it as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Send a test message through one receiver (or ping the heartbeat) and print what its
    /// server answered.
    TestNotify {
        /// The receiver's name from [receivers.NAME].
        #[arg(required_unless_present = "heartbeat", conflicts_with = "heartbeat")]
        receiver: Option<String>,
        /// Ping [heartbeat] url once instead, as after a cycle that went well.
        #[arg(long)]
        heartbeat: bool,
    },
    /// Print what one receiver would get, sending nothing.
    ///
    /// Renders the alerts that currently hold for the receiver per the state file (or a
    /// built-in example when none do; stderr says which) through the receiver's own code.
    /// Reads the state file read-only, so it works beside a running daemon.
    Preview {
        /// The receiver's name from [receivers.NAME].
        receiver: String,
        /// Which part to print [default: text for email and log receivers, json for webhooks
        /// and alertmanager_api]. email: text (subject and text part), html (HTML part), json
        /// ({subject, text, html}); webhook: json (the body it would POST), text (the chat
        /// text, for chat formats); log: text or json (the log lines).
        #[arg(long, value_enum)]
        format: Option<crate::notify::PreviewFormat>,
        /// The language of the message (`en` or `zh-CN`); the receiver's own by default.
        #[arg(long, value_name = "LOCALE", value_parser = parse_locale)]
        locale: Option<crate::model::Locale>,
    },
    /// Hold back what is decided about some packages for a while, without editing rules.
    ///
    /// Silences live in the state file: a running daemon honours them at its next cycle, and
    /// these commands work beside it. A silenced decision is recorded, not delivered; what is
    /// still due when the silence ends goes out at the next cycle.
    #[command(subcommand)]
    Silence(SilenceCommand),
    /// Run the whole pipeline twice against a built-in simulated CodeArts endpoint (no account needed).
    Demo,
}

#[derive(Subcommand)]
pub enum SilenceCommand {
    /// Add a silence.
    Add {
        /// What it holds back: key=glob pairs separated by commas, over account, project,
        /// package and resource (e.g. 'account=prod,package=codeartsStorage*').
        #[arg(long = "match", value_name = "KEY=GLOB,...")]
        matchers: String,
        /// Until when: a date (2026-12-20, the end of that day in the daemon's time zone), an
        /// RFC 3339 time (2026-12-20T09:00:00+08:00) or a duration from now (36h, 7d).
        #[arg(long, value_name = "WHEN")]
        until: String,
        /// Why (shown beside every silenced package).
        #[arg(long)]
        reason: String,
        /// Who silences [default: the user behind sudo, else the login name].
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
    },
    /// List every silence, in force or ended.
    List {
        #[arg(long)]
        json: bool,
    },
    /// End a silence now.
    Expire {
        /// The silence's id (as `silence list` shows it).
        id: String,
    },
}

/// A locale messages exist in ([`crate::model::Locale`]).
fn parse_locale(locale: &str) -> Result<crate::model::Locale, String> {
    crate::model::Locale::from_name(locale).ok_or_else(|| {
        format!(
            "no such locale; messages exist in: {}",
            crate::model::Locale::names()
        )
    })
}
