//! `format = "dingtalk"`: a DingTalk custom robot message, `msgtype` `actionCard`:
//! `{"msgtype":"actionCard","actionCard":{"title":…,"text":…,"btnOrientation":"0","btns":
//! [{"title":"Renew <package>","actionURL":…}]}}` — the chat text (markdown, a Renew link per
//! package) with a button per listed package with an `https://` link, or one for the most
//! urgent when there are more than [`MAX_BUTTONS`](super::chat::MAX_BUTTONS). A digest with
//! no such link (an actionCard needs a button) is a `markdown` message:
//! `{"msgtype":"markdown","markdown":{"title":…,"text":…}}`.
//!
//! Signing (DingTalk custom robot docs, "安全设置 → 加签"): with a `secret` (the robot's `SEC…`
//! string), `timestamp` is the current time in milliseconds and `sign` is
//! `urlEncode(base64(HmacSHA256(key = secret, message = timestamp + "\n" + secret)))`; both are
//! appended to the webhook URL as query parameters. DingTalk refuses a timestamp more than an
//! hour off.
//!
//! Answers: HTTP 200 with `{"errcode":0,"errmsg":"ok"}` on success; any other `errcode` is a
//! failure. `130101` ("send too fast, exceed 20 times per minute"; some robots answer `410100`)
//! is a rate limit — DingTalk then throttles the robot for 10 minutes, so the retry waits that
//! long — and `-1` ("system busy") is worth retrying; everything else (`310000` sign or
//! keyword mismatch, `300001` bad token, …) is permanent.
//!
//! Markdown line breaks follow DingTalk's advice: `\n` with two spaces on each side. The whole
//! body is kept within [`MAX_BODY_BYTES`] (DingTalk documents no exact limit; messages around
//! 20 KB are refused).

#[cfg(test)]
use super::format::SizeLimit;
use super::chat::{read_answer, renew_buttons, Dialect};
use super::format::{
    hmac_sha256, ReceiverSetup, Rejection, RenderedRequest, WebhookFormat,
};
use crate::config::Secret;
use crate::notify::ratelimit::Quota;
use crate::notify::{render, Digest};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::json;
use std::time::Duration;

/// Bytes of the whole request body.
pub(crate) const MAX_BODY_BYTES: usize = 18_000;
/// Characters of the title shown in the conversation list.
const MAX_TITLE_CHARS: usize = 64;
/// Codes worth retrying, with how long DingTalk wants the robot left alone.
const RETRYABLE: &[(i64, Option<Duration>)] = &[
    (130101, Some(Duration::from_secs(600))),
    (410100, Some(Duration::from_secs(600))),
    (-1, None),
];

pub(crate) struct Dingtalk;

/// `(timestamp, sign)` for DingTalk's query, `sign` before URL encoding (the URL builder
/// encodes it).
pub(crate) fn sign(secret: &Secret, now: DateTime<Utc>) -> (String, String) {
    let timestamp = now.timestamp_millis().to_string();
    let string_to_sign = format!("{timestamp}\n{}", secret.expose());
    let mac = hmac_sha256(secret.expose().as_bytes(), string_to_sign.as_bytes());
    (
        timestamp,
        base64::engine::general_purpose::STANDARD.encode(mac),
    )
}

impl WebhookFormat for Dingtalk {
    fn name(&self) -> &'static str {
        "dingtalk"
    }

    fn dialect(&self) -> Option<Dialect> {
        Some(Dialect::Markdown)
    }

    fn signs(&self) -> bool {
        true
    }

    /// 20 messages per minute per robot (custom robot docs, "消息发送频率限制").
    fn default_quotas(&self) -> Vec<Quota> {
        vec![Quota::per_minute(20)]
    }

    #[cfg(test)]
    fn size_limit(&self) -> Option<SizeLimit> {
        Some(SizeLimit::body_bytes(MAX_BODY_BYTES))
    }

    fn render(
        &self,
        receiver: &ReceiverSetup,
        digest: &Digest,
        now: DateTime<Utc>,
    ) -> Result<RenderedRequest, String> {
        let title = render::truncate(&render::headline(digest), MAX_TITLE_CHARS);
        let body = receiver.text()?.fit(
            digest,
            |shown, text| {
                let text = text.replace('\n', "  \n  ");
                let btns: Vec<_> = renew_buttons(digest, shown)
                    .into_iter()
                    .map(|(title, url)| json!({"title": title, "actionURL": url}))
                    .collect();
                let message = if btns.is_empty() {
                    json!({
                        "msgtype": "markdown",
                        "markdown": {"title": title, "text": text},
                    })
                } else {
                    json!({
                        "msgtype": "actionCard",
                        "actionCard": {
                            "title": title,
                            "text": text,
                            "btnOrientation": "0",
                            "btns": btns,
                        },
                    })
                };
                serde_json::to_vec(&message)
                .map_err(|e| format!("cannot encode the DingTalk body: {e}"))
            },
            |body| body.len() <= MAX_BODY_BYTES,
        )?;
        let query = match &receiver.secret {
            Some(secret) => {
                let (timestamp, sign) = sign(secret, now);
                vec![
                    ("timestamp".to_string(), timestamp),
                    ("sign".to_string(), sign),
                ]
            }
            None => Vec::new(),
        };
        Ok(RenderedRequest {
            query,
            ..RenderedRequest::json(body)
        })
    }

    fn reads_answer(&self) -> bool {
        true
    }

    fn check_accepted(&self, body: &[u8]) -> Result<(), Rejection> {
        read_answer(body, &["errcode"], &["errmsg"]).verdict("DingTalk", body, RETRYABLE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_follows_the_documented_algorithm() {
        // Computed with DingTalk's Python sample (hmac.new(secret, f"{ts}\n{secret}", sha256),
        // base64) for ts = 1700000000000 and secret "SECtest".
        let now = DateTime::from_timestamp_millis(1_700_000_000_000).unwrap();
        let (ts, sign) = sign(&Secret::new("SECtest"), now);
        assert_eq!(ts, "1700000000000");
        assert_eq!(sign, "aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g=");
    }
}
