//! `format = "teams"`: a message for a Teams Workflows webhook ("Post to a channel when a
//! webhook request is received"): `{"type":"message","attachments":[{"contentType":
//! "application/vnd.microsoft.card.adaptive","content":<Adaptive Card 1.4>}]}`.
//!
//! The card has one `TextBlock` per line of the chat text (Markdown: bold and links) and an
//! `Action.OpenUrl` "Renew <package>" per listed package with an `https://` link — or, when
//! there are more than [`MAX_BUTTONS`](super::chat::MAX_BUTTONS), a single one for the most
//! urgent package (every package keeps its inline link in the text either way).
//!
//! Limits (Microsoft Learn, "Create incoming webhooks" and the Teams connector's known
//! limitations): a message is at most about 28 KB; more than four requests per second are
//! throttled. Measured payloads have been refused from about 21 KB, so renewd keeps the whole
//! request body within [`MAX_BODY_BYTES`].

#[cfg(test)]
use super::format::SizeLimit;
use super::chat::{renew_buttons, Dialect};
use super::format::{ReceiverSetup, RenderedRequest, WebhookFormat};
use crate::notify::ratelimit::Quota;
use crate::notify::Digest;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// Bytes of the whole request body.
pub(crate) const MAX_BODY_BYTES: usize = 20_000;

pub(crate) struct Teams;

impl Teams {
    fn message(digest: &Digest, shown: usize, text: &str) -> Value {
        let body: Vec<Value> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| json!({"type": "TextBlock", "text": line, "wrap": true}))
            .collect();
        let mut card = json!({
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": body,
        });
        let actions: Vec<Value> = renew_buttons(digest, shown)
            .into_iter()
            .map(|(title, url)| json!({"type": "Action.OpenUrl", "title": title, "url": url}))
            .collect();
        if !actions.is_empty() {
            card["actions"] = Value::Array(actions);
        }
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": card,
            }],
        })
    }
}

impl WebhookFormat for Teams {
    fn name(&self) -> &'static str {
        "teams"
    }

    fn dialect(&self) -> Option<Dialect> {
        Some(Dialect::Markdown)
    }

    /// More than four requests per second are throttled (incoming webhook docs).
    fn default_quotas(&self) -> Vec<Quota> {
        vec![Quota::per_second(4)]
    }

    #[cfg(test)]
    fn size_limit(&self) -> Option<SizeLimit> {
        Some(SizeLimit::body_bytes(MAX_BODY_BYTES))
    }

    fn render(
        &self,
        receiver: &ReceiverSetup,
        digest: &Digest,
        _now: DateTime<Utc>,
    ) -> Result<RenderedRequest, String> {
        let body = receiver.text()?.fit(
            digest,
            |shown, text| {
                serde_json::to_vec(&Self::message(digest, shown, text))
                    .map_err(|e| format!("cannot encode the Teams body: {e}"))
            },
            |body| body.len() <= MAX_BODY_BYTES,
        )?;
        Ok(RenderedRequest::json(body))
    }
}
