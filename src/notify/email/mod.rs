//! The `email` receiver: one `multipart/alternative` message (plain text + HTML) per digest,
//! over SMTP with lettre.
//!
//! One [`SmtpClient`] per receiver, which keeps a connection for the next message and bounds
//! each delivery by `smtp.timeout` and what the server may send (see `smtp.rs`). TLS
//! certificates are always verified; a private CA is added with `smtp.ca_file`. Outcomes: SMTP
//! 5xx replies are permanent (a failed login says so, quoting the server), everything else
//! that fails — connection, TLS, timeout, 4xx, a reply too large — is transient.
//!
//! Rendering ([`EmailTemplates::render`]: the subject, and the text and HTML parts from the
//! built-in minijinja templates in `templates/` or the receiver's own) returns strings, so it
//! is tested without SMTP. Every value in the HTML is escaped, and only `https://` links are
//! made clickable.

mod bodies;
mod settings;
pub(crate) mod smtp;
mod templates;
#[cfg(test)]
mod tests;

#[cfg(test)]
use super::render::subject;
#[cfg(test)]
pub(crate) use bodies::{html_body, text_body};
pub(crate) use settings::SmtpSettings;
pub use templates::EmailTemplates;

use self::smtp::{DeliveryError, SmtpClient};
use crate::notify::render::single_line;
use crate::notify::{BuildError, Digest, Notifier, NotifyError, Preview, PreviewFormat, Receipt};
use lettre::message::{Mailbox, MultiPart};
use lettre::Message;

pub(crate) struct EmailNotifier {
    name: String,
    smtp: SmtpSettings,
    to: Vec<Mailbox>,
    cc: Vec<Mailbox>,
    templates: EmailTemplates,
    client: SmtpClient,
}

impl std::fmt::Debug for EmailNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailNotifier")
            .field("name", &self.name)
            .field("server", &self.smtp.server)
            .field("to", &self.to)
            .field("cc", &self.cc)
            .finish_non_exhaustive()
    }
}

impl EmailNotifier {
    pub(crate) fn new(
        name: &str,
        smtp: &SmtpSettings,
        to: &[String],
        cc: &[String],
        templates: EmailTemplates,
    ) -> Result<Self, BuildError> {
        let parse = |field: &str, list: &[String]| -> Result<Vec<Mailbox>, BuildError> {
            list.iter()
                .enumerate()
                .map(|(i, address)| {
                    address.parse().map_err(|_| BuildError::InvalidAddress {
                        key: format!("receivers.{name}.{field}[{i}]"),
                        address: address.clone(),
                    })
                })
                .collect()
        };
        Ok(EmailNotifier {
            name: name.to_string(),
            smtp: smtp.clone(),
            to: parse("to", to)?,
            cc: parse("cc", cc)?,
            templates,
            client: SmtpClient::new(
                smtp.host.clone(),
                smtp.port,
                smtp.security.clone(),
                smtp.credentials.clone(),
                smtp.timeout,
            ),
        })
    }

    /// Subject, text part and HTML part of the message for `digest`.
    fn render(&self, digest: &Digest) -> Result<(String, String, String), NotifyError> {
        self.templates
            .render(digest)
            .map_err(|e| NotifyError::permanent(&self.name, e.to_string()))
    }

    /// The whole message, as it will be sent.
    pub(crate) fn build_message(&self, digest: &Digest) -> Result<Message, NotifyError> {
        let (subject, text, html) = self.render(digest)?;
        let mut builder = Message::builder()
            .from(self.smtp.from.clone())
            .subject(subject)
            .message_id(Some(message_id(digest, self.smtp.from.email.domain())))
            .user_agent(crate::USER_AGENT.to_string());
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        for cc in &self.cc {
            builder = builder.cc(cc.clone());
        }
        builder
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| NotifyError::permanent(&self.name, format!("cannot build the email: {e}")))
    }

    fn classify(&self, error: DeliveryError) -> NotifyError {
        let server = &self.smtp.server;
        let error = match error {
            DeliveryError::Smtp(error) => error,
            DeliveryError::Connect(e) => {
                return NotifyError::transient(
                    &self.name,
                    format!("cannot deliver to SMTP server {server}: {e}"),
                )
            }
            DeliveryError::TimedOut => {
                return NotifyError::transient(
                    &self.name,
                    format!(
                        "SMTP server {server} did not complete the delivery within {}",
                        humantime::format_duration(self.smtp.timeout)
                    ),
                )
            }
        };
        let message = if let Some(code) = error.status() {
            let number = u16::from(code);
            // lettre's message is "permanent error (535): <reply text>"; quote the reply itself.
            let reply = match std::error::Error::source(&error) {
                Some(text) => format!("{number} {}", single_line(&text.to_string())),
                None => number.to_string(),
            };
            if error.is_permanent() {
                let message = if is_auth_failure(number) {
                    format!(
                        "SMTP server {server} rejected the login of user {:?}: {reply}",
                        self.smtp.username.as_deref().unwrap_or("")
                    )
                } else {
                    format!("SMTP server {server} refused the message: {reply}")
                };
                return NotifyError::permanent(&self.name, self.smtp.scrub(message));
            }
            format!("SMTP server {server} answered {reply}")
        } else if error.is_timeout() {
            format!(
                "SMTP server {server} did not answer within {}",
                humantime::format_duration(self.smtp.timeout)
            )
        } else {
            let cause = innermost_cause(&error);
            if error.is_tls() || cause.contains("certificate") || cause.contains("handshake") {
                let hint = if cause.contains("UnknownIssuer") {
                    " (signed by a private CA? set smtp.ca_file)"
                } else {
                    ""
                };
                format!("TLS with SMTP server {server} failed: {cause}{hint}")
            } else {
                format!("cannot deliver to SMTP server {server}: {cause}")
            }
        };
        NotifyError::transient(&self.name, self.smtp.scrub(message))
    }
}

/// Replies that mean the login itself was refused (RFC 4954): bad credentials, mechanism too
/// weak, encryption required for the mechanism.
fn is_auth_failure(code: u16) -> bool {
    matches!(code, 534 | 535 | 538)
}

/// The most specific text of an error: its innermost source (lettre nests "Connection error"
/// wrappers around the I/O or TLS error that says what happened).
fn innermost_cause(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text = e.to_string();
        source = e.source();
    }
    single_line(&text)
}

#[async_trait::async_trait]
impl Notifier for EmailNotifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "email"
    }

    /// `text`: the subject and the text part; `html`: the HTML part; `json`:
    /// `{"subject","text","html"}`.
    fn preview(&self, digest: &Digest) -> Result<Preview, NotifyError> {
        let (subject, text, html) = self.render(digest)?;
        let json = serde_json::to_string_pretty(
            &serde_json::json!({"subject": subject, "text": text, "html": html}),
        )
        .map_err(|e| NotifyError::permanent(&self.name, format!("cannot encode: {e}")))?;
        Ok(Preview {
            default: PreviewFormat::Text,
            text: Some(format!("Subject: {subject}\n\n{text}")),
            html: Some(html),
            json: Some(json),
        })
    }

    async fn send(&self, digest: &Digest) -> Result<Receipt, NotifyError> {
        let message = self.build_message(digest)?;
        match self
            .client
            .send(message.envelope(), &message.formatted())
            .await
        {
            Ok(response) => {
                let text = response.message().collect::<Vec<_>>().join(" ");
                Ok(Receipt {
                    detail: single_line(format!("{} {text}", response.code()).trim()),
                })
            }
            Err(e) => Err(self.classify(e)),
        }
    }
}

/// A Message-ID that is the same for every attempt at the same digest (same receiver, same
/// alerts), so a mail system can recognise a resend after a crash as the same message.
pub(crate) fn message_id(digest: &Digest, domain: &str) -> String {
    let mut parts: Vec<&str> = vec![&digest.receiver];
    let mut ids: Vec<&str> = digest.alerts.iter().map(|a| a.id.as_str()).collect();
    ids.sort_unstable();
    parts.extend(ids);
    let domain = if domain.is_empty() { "renewd" } else { domain };
    format!("<{}.renewd@{domain}>", crate::model::stable_id(&parts))
}
