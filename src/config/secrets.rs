//! Secrets: a value that never shows in logs, errors or `Debug`, and the `*_file` keys that
//! read one from a file (a systemd credential).

use super::*;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

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

    pub(crate) fn is_empty(&self) -> bool {
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

/// Reads `<name>_file` into `<name>`. A relative path is taken in `$CREDENTIALS_DIRECTORY`
/// (systemd's `LoadCredential=`). One trailing newline is trimmed.
pub(super) fn read_secret_file(
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

pub(super) fn last(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

impl Config {
    pub(super) fn resolve_secret_files(&mut self, creds: Option<&Path>) -> Vec<Problem> {
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
        if let Some(heartbeat) = &mut self.heartbeat {
            read_secret_file(
                "heartbeat.url_file",
                &mut heartbeat.url,
                &heartbeat.url_file,
                creds,
                &mut problems,
            );
            read_secret_file(
                "heartbeat.fail_url_file",
                &mut heartbeat.fail_url,
                &heartbeat.fail_url_file,
                creds,
                &mut problems,
            );
        }
        for (name, receiver) in self.receivers.iter_mut() {
            if let ReceiverConfig::AlertmanagerApi {
                password,
                password_file,
                bearer_token,
                bearer_token_file,
                ..
            } = receiver
            {
                read_secret_file(
                    &format!("receivers.{name}.password_file"),
                    password,
                    password_file,
                    creds,
                    &mut problems,
                );
                read_secret_file(
                    &format!("receivers.{name}.bearer_token_file"),
                    bearer_token,
                    bearer_token_file,
                    creds,
                    &mut problems,
                );
            }
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
