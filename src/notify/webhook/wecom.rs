//! `format = "wecom"`: a WeCom (企业微信) group robot message, `msgtype` `markdown`:
//! `{"msgtype":"markdown","markdown":{"content":…}}`.
//!
//! WeCom's group robot docs ("群机器人配置说明"): `content` is at most 4096 bytes of UTF-8; a
//! robot may send at most 20 messages per minute; the answer is
//! `{"errcode":0,"errmsg":"ok"}`, and any other `errcode` is a failure — `45009` (API
//! frequency out of limit) and `-1` (system busy) are worth retrying, the rest (`93000`
//! invalid webhook URL, `40058` bad content, …) are permanent. WeCom robots have no signing.

use super::chat::{read_answer, Dialect};
use super::format::{ReceiverSetup, Rejection, RenderedRequest, WebhookFormat};
#[cfg(test)]
use super::format::SizeLimit;
use crate::notify::ratelimit::Quota;
use crate::notify::Digest;
use chrono::{DateTime, Utc};
use serde_json::json;
use std::time::Duration;

/// Bytes of the markdown `content` (WeCom's limit).
pub(crate) const MAX_CONTENT_BYTES: usize = 4096;
const RETRYABLE: &[(i64, Option<Duration>)] = &[(45009, None), (-1, None)];

pub(crate) struct Wecom;

impl WebhookFormat for Wecom {
    fn name(&self) -> &'static str {
        "wecom"
    }

    fn dialect(&self) -> Option<Dialect> {
        Some(Dialect::Markdown)
    }

    /// 20 messages per minute per robot (group robot docs, "消息发送频率限制").
    fn default_quotas(&self) -> Vec<Quota> {
        vec![Quota::per_minute(20)]
    }

    #[cfg(test)]
    fn size_limit(&self) -> Option<SizeLimit> {
        Some(SizeLimit {
            max: MAX_CONTENT_BYTES,
            counted: "bytes of the markdown content",
        })
    }

    fn render(
        &self,
        receiver: &ReceiverSetup,
        digest: &Digest,
        _now: DateTime<Utc>,
    ) -> Result<RenderedRequest, String> {
        let content = receiver.text()?.fit(
            digest,
            |_, text| Ok(text.to_string()),
            |content| content.len() <= MAX_CONTENT_BYTES,
        )?;
        let body = serde_json::to_vec(&json!({
            "msgtype": "markdown",
            "markdown": {"content": content},
        }))
        .map_err(|e| format!("cannot encode the WeCom body: {e}"))?;
        Ok(RenderedRequest::json(body))
    }

    fn reads_answer(&self) -> bool {
        true
    }

    fn check_accepted(&self, body: &[u8]) -> Result<(), Rejection> {
        read_answer(body, &["errcode"], &["errmsg"]).verdict("WeCom", body, RETRYABLE)
    }
}
