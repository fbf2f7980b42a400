//! `format = "feishu"`: a Feishu (Lark) custom bot message card, `msg_type` `interactive`:
//! `{"msg_type":"interactive","card":{"config","header","elements":[{"tag":"div","text":
//! {"tag":"lark_md","content":…}},{"tag":"action","actions":[<button>…]}]}}`, the header
//! coloured by the worst severity, and a `button` "Renew <package>" (with its `url`) per listed
//! package with an `https://` link — or one for the most urgent when there are more than
//! [`MAX_BUTTONS`](super::chat::MAX_BUTTONS).
//!
//! Signing (Feishu "自定义机器人使用指南", 签名校验): with a `secret`, the body carries
//! `timestamp` (seconds, as a string) and `sign` = `base64(HmacSHA256(key = timestamp + "\n" +
//! secret, message = ""))` — the key is the string to sign and the message is empty, unlike
//! DingTalk. Feishu refuses a timestamp more than an hour off.
//!
//! Answers: `{"code":0,"msg":"success"}` (older robots: `StatusCode`/`StatusMessage`); any
//! other code is a failure. `11232` (rate limited) and `99991400` ("request trigger frequency
//! limit") are worth retrying; `9499` ("Bad Request": malformed or over 20 KB), `19021` (sign
//! or timestamp), `19022` (IP not allowed), `19024` (keyword missing) are permanent.
//!
//! Limits (same guide): 100 requests per minute and 5 per second per bot; a request body of at
//! most 20 KB — renewd keeps it within [`MAX_BODY_BYTES`].

#[cfg(test)]
use super::format::SizeLimit;
use super::chat::{read_answer, renew_buttons, Dialect};
use super::format::{
    hmac_sha256, ReceiverSetup, Rejection, RenderedRequest, WebhookFormat,
};
use crate::config::Secret;
use crate::model::Severity;
use crate::notify::ratelimit::Quota;
use crate::notify::{render, Digest};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::time::Duration;

/// Bytes of the whole request body (Feishu: at most 20 KB).
pub(crate) const MAX_BODY_BYTES: usize = 18_000;
const RETRYABLE: &[(i64, Option<Duration>)] = &[(11232, None), (99991400, None)];

pub(crate) struct Feishu;

/// `(timestamp, sign)` for Feishu's body.
pub(crate) fn sign(secret: &Secret, now: DateTime<Utc>) -> (String, String) {
    let timestamp = now.timestamp().to_string();
    let key = format!("{timestamp}\n{}", secret.expose());
    let mac = hmac_sha256(key.as_bytes(), b"");
    (
        timestamp,
        base64::engine::general_purpose::STANDARD.encode(mac),
    )
}

/// The card header's colour: red for critical, orange for warning, blue for info, green when
/// every alert says a problem is over.
fn header_colour(digest: &Digest) -> &'static str {
    match render::worst_severity(digest) {
        Some(Severity::Critical) => "red",
        Some(Severity::Warning) => "orange",
        Some(Severity::Info) => "blue",
        None => "green",
    }
}

impl WebhookFormat for Feishu {
    fn name(&self) -> &'static str {
        "feishu"
    }

    fn dialect(&self) -> Option<Dialect> {
        Some(Dialect::Markdown)
    }

    fn signs(&self) -> bool {
        true
    }

    /// 100 per minute and 5 per second per robot (custom bot guide).
    fn default_quotas(&self) -> Vec<Quota> {
        vec![Quota::per_second(5), Quota::per_minute(100)]
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
        let signature = receiver.secret.as_ref().map(|s| sign(s, now));
        let colour = header_colour(digest);
        let body = receiver.text()?.fit(
            digest,
            |shown, text| {
                let mut elements =
                    vec![json!({"tag": "div", "text": {"tag": "lark_md", "content": text}})];
                let buttons: Vec<Value> = renew_buttons(digest, shown)
                    .into_iter()
                    .enumerate()
                    .map(|(i, (title, url))| {
                        json!({
                            "tag": "button",
                            "text": {"tag": "plain_text", "content": title},
                            // The most urgent package's button stands out.
                            "type": if i == 0 { "primary" } else { "default" },
                            "url": url,
                        })
                    })
                    .collect();
                if !buttons.is_empty() {
                    elements.push(json!({"tag": "action", "actions": buttons}));
                }
                let mut body = json!({
                    "msg_type": "interactive",
                    "card": {
                        "config": {"wide_screen_mode": true},
                        "header": {
                            "title": {"tag": "plain_text", "content": "renewd"},
                            "template": colour,
                        },
                        "elements": elements,
                    },
                });
                if let Some((timestamp, sign)) = &signature {
                    body["timestamp"] = Value::String(timestamp.clone());
                    body["sign"] = Value::String(sign.clone());
                }
                serde_json::to_vec(&body).map_err(|e| format!("cannot encode the Feishu body: {e}"))
            },
            |body| body.len() <= MAX_BODY_BYTES,
        )?;
        Ok(RenderedRequest::json(body))
    }

    fn reads_answer(&self) -> bool {
        true
    }

    fn check_accepted(&self, body: &[u8]) -> Result<(), Rejection> {
        read_answer(body, &["code", "StatusCode"], &["msg", "StatusMessage"])
            .verdict("Feishu", body, RETRYABLE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_keys_hmac_with_the_string_and_signs_nothing() {
        // From Feishu's Python sample: hmac.new(f"{ts}\n{secret}".encode(), b"", sha256).
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let (ts, sign) = sign(&Secret::new("SECtest"), now);
        assert_eq!(ts, "1700000000");
        assert_eq!(sign, "G7XpBpG8NgG02fJOAhX6FRAObIljmFoxVReo8I62pEk=");
    }
}
