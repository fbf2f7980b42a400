//! What a webhook format is: the [`WebhookFormat`] trait, which carries everything about one
//! format — its name, its payload, how it reads the platform's answer, its default quota,
//! whether it signs, its size limit and what `check` says about it — and what formats share
//! (the request they make, a refusal inside a 2xx answer, HMAC-SHA256).

use super::chat::{ChatTemplate, Dialect};
use crate::config::{ReceiverConfig, Secret};
use crate::notify::ratelimit::Quota;
use crate::notify::{BuildError, Digest};
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderName, HeaderValue};
use std::time::Duration;

/// One webhook format. Implemented by a unit type in its own file and listed once in the
/// registry (`webhook/mod.rs`).
pub(crate) trait WebhookFormat: Send + Sync {
    /// The name `format = "…"` gives.
    fn name(&self) -> &'static str;

    /// The markup of the format's chat text, for formats whose text comes from a chat template
    /// (the built-in one or the receiver's `text_template`); `None` for a fixed JSON shape.
    fn dialect(&self) -> Option<Dialect> {
        None
    }

    /// Whether a `secret` signs the requests.
    fn signs(&self) -> bool {
        false
    }

    /// The platform's documented quota for one webhook; none for renewd's own formats.
    fn default_quotas(&self) -> Vec<Quota> {
        Vec::new()
    }

    /// The largest message renewd sends to the platform (a digest is shortened to fit it).
    #[cfg(test)]
    fn size_limit(&self) -> Option<SizeLimit> {
        None
    }

    /// Renders the request for one digest; `now` is the time of this attempt (for signatures).
    fn render(
        &self,
        receiver: &ReceiverSetup,
        digest: &Digest,
        now: DateTime<Utc>,
    ) -> Result<RenderedRequest, String>;

    /// Whether [`check_accepted`](Self::check_accepted) reads the body, so that a 2xx answer
    /// too large to read whole cannot be taken as an acceptance.
    fn reads_answer(&self) -> bool {
        false
    }

    /// Reads a 2xx answer's body: some platforms (DingTalk, Feishu, WeCom) answer 200 with an
    /// error code inside. The default accepts every 2xx.
    fn check_accepted(&self, _body: &[u8]) -> Result<(), Rejection> {
        Ok(())
    }

    /// The quotas of one receiver: `rate_limit_per_minute` when configured (it replaces the
    /// platform's defaults), else [`default_quotas`](Self::default_quotas).
    fn quotas(&self, per_minute: Option<u32>) -> Vec<Quota> {
        match per_minute {
            Some(n) if n > 0 => vec![Quota::per_minute(n)],
            _ => self.default_quotas(),
        }
    }

    /// What `check` prints about a receiver of this format, never a secret's value, e.g.
    /// `webhook (dingtalk) https://oapi.dingtalk.com/…, signed, at most 20/min`.
    fn describe(&self, receiver: &ReceiverConfig) -> String {
        let ReceiverConfig::Webhook {
            url,
            secret,
            headers,
            rate_limit_per_minute,
            text_template,
            ..
        } = receiver
        else {
            return receiver.kind().to_string();
        };
        let mut s = format!(
            "webhook ({}) {}",
            self.name(),
            url.as_ref()
                .map(|u| super::redacted_url(u.expose()))
                .unwrap_or_default()
        );
        if secret.is_some() {
            s.push_str(", signed");
        }
        if !headers.is_empty() {
            s.push_str(&format!(
                ", headers {}",
                headers.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        let quotas = self.quotas(*rate_limit_per_minute);
        if !quotas.is_empty() {
            let quotas: Vec<String> = quotas.iter().map(ToString::to_string).collect();
            s.push_str(&format!(", at most {}", quotas.join(" and ")));
        }
        if text_template.is_some() {
            // Config validation rendered it against the example package already.
            s.push_str(", text_template renders against the example package");
        }
        s
    }
}

/// What one receiver adds to its format: its compiled chat text (formats with a
/// [`dialect`](WebhookFormat::dialect)) and its signing secret (formats that
/// [`sign`](WebhookFormat::signs), when configured).
#[derive(Debug, Default)]
pub(crate) struct ReceiverSetup {
    pub(crate) text: Option<ChatTemplate>,
    pub(crate) secret: Option<Secret>,
}

impl ReceiverSetup {
    /// Compiles a receiver's chat text (the built-in template unless `text_template` is set)
    /// for a format with chat text, and keeps its secret for a format that signs.
    pub(crate) fn new(
        receiver: &str,
        format: &dyn WebhookFormat,
        secret: Option<&Secret>,
        text_template: Option<&str>,
    ) -> Result<ReceiverSetup, BuildError> {
        let text = match (format.dialect(), text_template) {
            (Some(dialect), custom) => Some(ChatTemplate::new(receiver, dialect, custom)?),
            (None, Some(_)) => {
                return Err(BuildError::InvalidTemplate {
                    receiver: receiver.to_string(),
                    field: "text_template".into(),
                    reason: format!("the {} format has no chat text", format.name()),
                })
            }
            (None, None) => None,
        };
        let secret = secret.filter(|s| format.signs() && !s.is_empty()).cloned();
        Ok(ReceiverSetup { text, secret })
    }

    /// The chat text; every receiver of a format with a dialect has one (the builder sees to it).
    pub(crate) fn text(&self) -> Result<&ChatTemplate, String> {
        self.text
            .as_ref()
            .ok_or_else(|| "this receiver has no chat template".to_string())
    }
}

/// The largest message a platform takes, as renewd keeps it: `max` of what `counted` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SizeLimit {
    pub(crate) max: usize,
    /// e.g. `bytes of the request body`.
    pub(crate) counted: &'static str,
}

impl SizeLimit {
    /// A limit on the whole request body.
    #[cfg(test)]
    pub(crate) const fn body_bytes(max: usize) -> SizeLimit {
        SizeLimit {
            max,
            counted: "bytes of the request body",
        }
    }
}

impl std::fmt::Display for SizeLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.max, self.counted)
    }
}

/// A request body for one digest, in one webhook format.
#[derive(Debug, Clone, Default)]
pub(crate) struct RenderedRequest {
    pub(crate) body: Vec<u8>,
    pub(crate) content_type: &'static str,
    /// Added after the configured custom headers (e.g. a signature).
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    /// Appended to the URL's query (e.g. DingTalk's `timestamp` and `sign`).
    pub(crate) query: Vec<(String, String)>,
}

impl RenderedRequest {
    /// A JSON body with nothing else added.
    pub(crate) fn json(body: Vec<u8>) -> Self {
        RenderedRequest {
            body,
            content_type: "application/json",
            headers: Vec::new(),
            query: Vec::new(),
        }
    }
}

/// A 2xx answer that the platform nonetheless uses to refuse the message, e.g. DingTalk's
/// `{"errcode":310000,"errmsg":"sign not match"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejection {
    /// The platform's error code (`310000`), or empty when the answer had none.
    pub(crate) code: String,
    /// The platform's message, one line.
    pub(crate) message: String,
    /// Worth retrying (a rate limit, "system busy").
    pub(crate) retryable: bool,
    /// How long the platform asks to wait, when it says.
    pub(crate) retry_after: Option<Duration>,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.code.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "error code {}: {}", self.code, self.message)
        }
    }
}

/// HMAC-SHA256 of `message` keyed by `key` (the one primitive every signing platform uses).
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    use hmac::{Hmac, Mac};
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_is_rfc_4231() {
        // RFC 4231 test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
