//! The `[smtp]` section made ready: TLS parameters and credentials, shared by every email
//! receiver.

use super::smtp::Security;
use crate::config::{SmtpConfig, SmtpSecurity};
use crate::notify::BuildError;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, TlsParameters};
use std::time::Duration;

/// The `[smtp]` section, checked, with its TLS parameters and credentials ready.
#[derive(Clone)]
pub(crate) struct SmtpSettings {
    /// `host:port`, for messages.
    pub(super) server: String,
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) security: Security,
    pub(super) credentials: Option<Credentials>,
    pub(super) from: Mailbox,
    pub(super) username: Option<String>,
    /// Only to scrub it from any server text that might echo it.
    pub(super) password: Option<crate::config::Secret>,
    pub(super) timeout: Duration,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("server", &self.server)
            .field("from", &self.from)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl SmtpSettings {
    /// Checks the `[smtp]` section and loads `ca_file`.
    pub(crate) fn from_config(config: &SmtpConfig) -> Result<SmtpSettings, BuildError> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|_| BuildError::InvalidAddress {
                key: "smtp.from".into(),
                address: config.from.clone(),
            })?;
        // `[::1]` is how an IPv6 address is often written; the resolver wants it bare.
        let host = config
            .host
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = config.effective_port();
        let security = match config.security {
            SmtpSecurity::Starttls => Security::Starttls(tls_parameters(config)?),
            SmtpSecurity::Tls => Security::Tls(tls_parameters(config)?),
            // Config validation allows plain SMTP only to a relay on this machine.
            SmtpSecurity::None => Security::Plain,
        };
        let credentials = config.username.as_ref().map(|user| {
            let password = config
                .password
                .as_ref()
                .map(|p| p.expose().to_string())
                .unwrap_or_default();
            Credentials::new(user.clone(), password)
        });
        Ok(SmtpSettings {
            server: format!("{host}:{port}"),
            host,
            port,
            security,
            credentials,
            from,
            username: config.username.clone(),
            password: config.password.clone(),
            timeout: config.timeout,
        })
    }

    /// Removes the SMTP password from a text, should a server ever echo it.
    pub(super) fn scrub(&self, text: String) -> String {
        match &self.password {
            Some(p) if !p.is_empty() => text.replace(p.expose(), "<redacted>"),
            _ => text,
        }
    }
}

/// TLS parameters for `host`: the system's roots, plus `ca_file` when given.
fn tls_parameters(config: &SmtpConfig) -> Result<TlsParameters, BuildError> {
    let host = config.host.trim().to_string();
    let mut params = TlsParameters::builder(host.clone());
    if let Some(path) = &config.ca_file {
        let ca_error = |reason: String| BuildError::CaFile {
            path: path.clone(),
            reason,
        };
        let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
        // lettre accepts a file without any certificate as an empty list: say so instead.
        if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
            return Err(ca_error("no PEM certificate in the file".into()));
        }
        let certificate = Certificate::from_pem(&pem).map_err(|e| ca_error(e.to_string()))?;
        params = params.add_root_certificate(certificate);
    }
    params.build_rustls().map_err(|e| BuildError::Tls {
        host,
        reason: e.to_string(),
    })
}
