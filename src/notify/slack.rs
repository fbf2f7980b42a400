//! `format = "slack"`: a Slack incoming-webhook message — `text` (the notification fallback)
//! and `blocks` of `section`s in `mrkdwn`, with links as `<url|Renew>`.
//!
//! Slack's rules (docs.slack.dev: incoming webhooks, Block Kit `section` reference, "Formatting
//! text: escaping"): a section's text is at most 3000 characters, a message has at most 50
//! blocks, `&`, `<` and `>` in text are escaped as `&amp;`, `&lt;`, `&gt;`; the webhook answers
//! `200 ok` on success and an error word (e.g. `invalid_payload`) otherwise. Slack also refuses
//! long block messages as `msg_blocks_too_long` well below 50 × 3000 characters (around 13,000
//! in practice), so all sections together are kept within 12,000 characters.

use super::chat::{self, ChatTemplate};
use super::webhook::{Rejection, RenderedRequest, WebhookPayload};
use super::Digest;
use crate::config::WebhookFormat;
use chrono::{DateTime, Utc};
use serde_json::json;

/// Characters in one section's text (Slack's limit).
pub const MAX_SECTION_CHARS: usize = 3000;
/// Blocks in one message (Slack's limit).
pub const MAX_BLOCKS: usize = 50;
/// Characters of all sections together (below the observed `msg_blocks_too_long`).
pub const MAX_TOTAL_CHARS: usize = 12_000;
/// Characters of the fallback `text`.
const MAX_FALLBACK_CHARS: usize = 300;

pub struct SlackPayload {
    template: ChatTemplate,
}

impl SlackPayload {
    pub fn new(template: ChatTemplate) -> Self {
        SlackPayload { template }
    }
}

/// Lines packed into sections of at most [`MAX_SECTION_CHARS`]; a longer line is cut.
pub fn sections(text: &str) -> Vec<String> {
    let mut sections: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut current_chars = 0;
    for line in text.lines() {
        let line = super::render::truncate(line, MAX_SECTION_CHARS - 1);
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

impl WebhookPayload for SlackPayload {
    fn format(&self) -> WebhookFormat {
        WebhookFormat::Slack
    }

    fn render(&self, digest: &Digest, _now: DateTime<Utc>) -> Result<RenderedRequest, String> {
        let fallback = super::render::truncate(
            &self.template.dialect().escape(&chat::headline(digest)),
            MAX_FALLBACK_CHARS,
        );
        let build = |_shown: usize, text: &str| -> Result<Candidate, String> {
            let sections = sections(text);
            let chars = sections.iter().map(|s| s.chars().count()).sum();
            let blocks: Vec<_> = sections
                .iter()
                .map(|s| json!({"type": "section", "text": {"type": "mrkdwn", "text": s}}))
                .collect();
            Ok(Candidate {
                blocks: blocks.len(),
                chars,
                body: json!({"text": fallback, "blocks": blocks}),
            })
        };
        let fitted = chat::fit(
            digest.alerts.len(),
            |shown| {
                self.template
                    .render(digest, shown)
                    .map_err(|e| e.to_string())
            },
            build,
            |c| c.blocks <= MAX_BLOCKS && c.chars <= MAX_TOTAL_CHARS,
        )?;
        Ok(RenderedRequest {
            body: serde_json::to_vec(&fitted.body)
                .map_err(|e| format!("cannot encode the Slack body: {e}"))?,
            content_type: "application/json",
            headers: Vec::new(),
            query: Vec::new(),
        })
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
                super::render::truncate(&super::render::single_line(text.trim()), 200)
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
