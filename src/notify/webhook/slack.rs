//! `format = "slack"`: a Slack incoming-webhook message — `text` (the notification fallback)
//! and `blocks` of `section`s in `mrkdwn`, with links as `<url|Renew>`, then an `actions`
//! block with a `button` "Renew <package>" (its `url`) per listed package with an `https://`
//! link, or one for the most urgent when there are more than
//! [`MAX_BUTTONS`](super::chat::MAX_BUTTONS).
//!
//! Slack's rules (docs.slack.dev: incoming webhooks, Block Kit `section` reference, "Formatting
//! text: escaping"): a section's text is at most 3000 characters, a message has at most 50
//! blocks, `&`, `<` and `>` in text are escaped as `&amp;`, `&lt;`, `&gt;`; the webhook answers
//! `200 ok` on success and an error word (e.g. `invalid_payload`) otherwise. Slack also refuses
//! long block messages as `msg_blocks_too_long` well below 50 × 3000 characters (around 13,000
//! in practice), so all sections together are kept within 12,000 characters.

use super::chat::{renew_buttons, Dialect};
use super::format::{Rejection, ReceiverSetup, RenderedRequest, SizeLimit, WebhookFormat};
use crate::notify::ratelimit::Quota;
use crate::notify::{render, Digest};
use chrono::{DateTime, Utc};
use serde_json::json;

/// Characters in one section's text (Slack's limit).
pub(crate) const MAX_SECTION_CHARS: usize = 3000;
/// Blocks in one message (Slack's limit).
pub(crate) const MAX_BLOCKS: usize = 50;
/// Characters of all sections together (below the observed `msg_blocks_too_long`).
pub(crate) const MAX_TOTAL_CHARS: usize = 12_000;
/// Characters of a button's `url` (Slack's limit; a longer link stays a link in the text).
const MAX_BUTTON_URL_CHARS: usize = 3000;
/// Characters of the fallback `text`.
const MAX_FALLBACK_CHARS: usize = 300;
const LIMIT: SizeLimit = SizeLimit {
    max: MAX_TOTAL_CHARS,
    counted: "characters of text, in at most 50 blocks",
};

pub(crate) struct Slack;

/// Lines packed into sections of at most [`MAX_SECTION_CHARS`]; a longer line is cut.
pub(crate) fn sections(text: &str) -> Vec<String> {
    let mut sections: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut current_chars = 0;
    for line in text.lines() {
        let line = render::truncate(line, MAX_SECTION_CHARS - 1);
        let chars = line.chars().count();
        let needed = if current.is_empty() { chars } else { chars + 1 };
        if current_chars + needed > MAX_SECTION_CHARS && !current.is_empty() {
            sections.push(std::mem::take(&mut current));
            current_chars = 0;
        }
        if !current.is_empty() {
            current.push('\n');
            current_chars += 1;
        }
        current.push_str(&line);
        current_chars += chars;
    }
    if !current.trim().is_empty() {
        sections.push(current);
    }
    sections
}

struct Candidate {
    body: serde_json::Value,
    blocks: usize,
    chars: usize,
}

impl WebhookFormat for Slack {
    fn name(&self) -> &'static str {
        "slack"
    }

    fn dialect(&self) -> Option<Dialect> {
        Some(Dialect::SlackMrkdwn)
    }

    /// About one message per second per incoming webhook (rate limits page, "Incoming
    /// webhooks … 1 per second, short bursts allowed").
    fn default_quotas(&self) -> Vec<Quota> {
        vec![Quota::per_second(1)]
    }

    #[cfg(test)]
    fn size_limit(&self) -> Option<SizeLimit> {
        Some(LIMIT)
    }

    fn render(
        &self,
        receiver: &ReceiverSetup,
        digest: &Digest,
        _now: DateTime<Utc>,
    ) -> Result<RenderedRequest, String> {
        let template = receiver.text()?;
        let fallback = render::truncate(
            &template.dialect().escape(&render::headline(digest)),
            MAX_FALLBACK_CHARS,
        );
        let build = |shown: usize, text: &str| -> Result<Candidate, String> {
            let sections = sections(text);
            let chars = sections.iter().map(|s| s.chars().count()).sum();
            let mut blocks: Vec<_> = sections
                .iter()
                .map(|s| json!({"type": "section", "text": {"type": "mrkdwn", "text": s}}))
                .collect();
            let buttons: Vec<_> = renew_buttons(digest, shown)
                .into_iter()
                .filter(|(_, url)| url.len() <= MAX_BUTTON_URL_CHARS)
                .enumerate()
                .map(|(i, (title, url))| {
                    let mut button = json!({
                        "type": "button",
                        "text": {"type": "plain_text", "text": title, "emoji": false},
                        "url": url,
                        "action_id": format!("renew-{i}"),
                    });
                    if i == 0 {
                        button["style"] = json!("primary");
                    }
                    button
                })
                .collect();
            if !buttons.is_empty() {
                blocks.push(json!({"type": "actions", "elements": buttons}));
            }
            Ok(Candidate {
                blocks: blocks.len(),
                chars,
                body: json!({"text": fallback, "blocks": blocks}),
            })
        };
        let fitted = template.fit(digest, build, |c| {
            c.blocks <= MAX_BLOCKS && c.chars <= LIMIT.max
        })?;
        Ok(RenderedRequest::json(
            serde_json::to_vec(&fitted.body)
                .map_err(|e| format!("cannot encode the Slack body: {e}"))?,
        ))
    }

    fn reads_answer(&self) -> bool {
        true
    }

    /// Slack's webhook answers exactly `ok`; anything else in a 200 is not a delivery.
    fn check_accepted(&self, body: &[u8]) -> Result<(), Rejection> {
        let text = String::from_utf8_lossy(body);
        if text.trim() == "ok" {
            return Ok(());
        }
        Err(Rejection {
            code: String::new(),
            message: format!(
                "Slack answered {:?} instead of \"ok\"",
                render::truncate(&render::single_line(text.trim()), 200)
            ),
            retryable: false,
            retry_after: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_respect_the_character_limit() {
        let line = "x".repeat(999);
        let text = [line.as_str(); 7].join("\n");
        let s = sections(&text);
        assert!(s.iter().all(|s| s.chars().count() <= MAX_SECTION_CHARS));
        assert_eq!(s.len(), 3);
        let long = "y".repeat(5000);
        let s = sections(&long);
        assert_eq!(s.len(), 1);
        assert!(s[0].chars().count() <= MAX_SECTION_CHARS);
    }
}
