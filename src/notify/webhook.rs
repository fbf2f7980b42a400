//! The `webhook` receiver: an HTTP POST per digest.
//!
//! The HTTP exchange and the classification of its outcome live here, once for every format;
//! what the body looks like is a [`WebhookPayload`]. This file holds renewd's own `json`
//! format; chat formats (`slack`, `dingtalk`, …) go in sibling files and are registered in
//! [`payload_for`].
//!
//! Outcomes: 2xx delivered (unless the format finds an error inside the body); 408, 429 and 5xx,
//! timeouts and connection errors are transient (with `Retry-After` when the server sent one);
//! any other status is permanent.
//!
//! The URL is a secret (it may embed a key): messages show only its scheme and host, and any
//! echo of its path or query in a server's answer is redacted.
//!
//! Each receiver has a [`RateLimiter`] with its platform's quota (or `rate_limit_per_minute`):
//! a message over the limit waits for its slot before it is sent.

use super::ratelimit::{self, RateLimiter};
use super::{
    alertmanager, chat, dingtalk, feishu, render, slack, teams, wecom, BuildError, Digest,
    Notifier, NotifyError, Receipt,
};
use crate::config::{Secret, WebhookFormat};
use crate::model::Alert;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use reqwest::StatusCode;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Sent with every request.
pub const USER_AGENT_VALUE: &str = concat!("renewd/", env!("CARGO_PKG_VERSION"));
/// Header carrying the `json` format's signature when a `secret` is configured:
/// `t=<unix seconds>,v1=<lowercase hex HMAC-SHA256(secret, "<t>.<body>")>`. The time is part
/// of what is signed, so a receiver can refuse old (replayed) requests.
pub const SIGNATURE_HEADER: &str = "x-renewd-signature";
/// How much of a response body is read (for error messages and in-body error codes). A 2xx
/// answer that the format reads ([`WebhookPayload::reads_answer`]) and that is larger is
/// refused, not cut off and read as if whole.
const MAX_RESPONSE_BODY: usize = 64 * 1024;
/// How much of a response body an error message quotes.
const QUOTED_BODY_CHARS: usize = 200;

/// A request body for one digest, in one webhook format.
#[derive(Debug, Clone, Default)]
pub struct RenderedRequest {
    pub body: Vec<u8>,
    pub content_type: &'static str,
    /// Added after the configured custom headers (e.g. a signature).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Appended to the URL's query (e.g. DingTalk's `timestamp` and `sign`).
    pub query: Vec<(String, String)>,
}

/// A 2xx answer that the platform nonetheless uses to refuse the message, e.g. DingTalk's
/// `{"errcode":310000,"errmsg":"sign not match"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The platform's error code (`310000`), or empty when the answer had none.
    pub code: String,
    /// The platform's message, one line.
    pub message: String,
    /// Worth retrying (a rate limit, "system busy").
    pub retryable: bool,
    /// How long the platform asks to wait, when it says.
    pub retry_after: Option<Duration>,
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

/// One webhook format: how a digest becomes a request, and how a 2xx answer is read.
pub trait WebhookPayload: Send + Sync {
    fn format(&self) -> WebhookFormat;

    /// Renders the request for one digest; `now` is the time of this attempt (for signatures).
    fn render(&self, digest: &Digest, now: DateTime<Utc>) -> Result<RenderedRequest, String>;

    /// Reads a 2xx answer's body: some platforms (DingTalk, Feishu, WeCom) answer 200 with an
    /// error code inside. The default accepts every 2xx.
    fn check_accepted(&self, _body: &[u8]) -> Result<(), Rejection> {
        Ok(())
    }

    /// Whether [`check_accepted`](Self::check_accepted) reads the body, so that a 2xx answer
    /// too large to read whole cannot be taken as an acceptance.
    fn reads_answer(&self) -> bool {
        false
    }
}

/// The payload of a configured format. `text_template` is the receiver's own chat text (chat
/// formats only; config validation refuses it elsewhere).
pub fn payload_for(
    receiver: &str,
    format: WebhookFormat,
    secret: Option<&Secret>,
    text_template: Option<&str>,
) -> Result<Box<dyn WebhookPayload>, BuildError> {
    let secret = secret.filter(|s| !s.is_empty()).cloned();
    let template = |format: WebhookFormat| -> Result<chat::ChatTemplate, BuildError> {
        let dialect =
            chat::Dialect::for_format(format).ok_or_else(|| BuildError::UnsupportedFormat {
                receiver: receiver.to_string(),
                format: format.as_str().to_string(),
            })?;
        chat::ChatTemplate::new(receiver, dialect, text_template)
    };
    if text_template.is_some() && chat::Dialect::for_format(format).is_none() {
        return Err(BuildError::InvalidTemplate {
            receiver: receiver.to_string(),
            field: "text_template".into(),
            reason: format!("the {} format has no chat text", format.as_str()),
        });
    }
    Ok(match format {
        WebhookFormat::Json => Box::new(JsonPayload::new(secret)),
        WebhookFormat::Alertmanager => Box::new(alertmanager::AlertmanagerPayload::new()),
        WebhookFormat::Slack => Box::new(slack::SlackPayload::new(template(format)?)),
        WebhookFormat::Teams => Box::new(teams::TeamsPayload::new(template(format)?)),
        WebhookFormat::Dingtalk => {
            Box::new(dingtalk::DingtalkPayload::new(template(format)?, secret))
        }
        WebhookFormat::Feishu => Box::new(feishu::FeishuPayload::new(template(format)?, secret)),
        WebhookFormat::Wecom => Box::new(wecom::WecomPayload::new(template(format)?)),
    })
}

// ---------------------------------------------------------------------------------------------
// renewd's own JSON
// ---------------------------------------------------------------------------------------------

/// renewd's own JSON (DESIGN.md): `{"version":"1","source":"renewd","sent_at","receiver","alerts"}`.
pub struct JsonPayload {
    secret: Option<Secret>,
}

#[derive(Serialize)]
struct JsonBody<'a> {
    version: &'static str,
    source: &'static str,
    sent_at: String,
    receiver: &'a str,
    alerts: Vec<&'a Alert>,
}

impl JsonPayload {
    pub fn new(secret: Option<Secret>) -> Self {
        JsonPayload {
            secret: secret.filter(|s| !s.is_empty()),
        }
    }

    /// The body bytes, alerts most urgent first.
    pub fn body(digest: &Digest) -> Result<Vec<u8>, String> {
        let body = JsonBody {
            version: "1",
            source: "renewd",
            sent_at: digest.sent_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            receiver: &digest.receiver,
            alerts: render::sorted_by_urgency(&digest.alerts),
        };
        serde_json::to_vec(&body).map_err(|e| format!("cannot encode the JSON body: {e}"))
    }
}

/// The `X-Renewd-Signature` value: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature(secret: &Secret, unix_seconds: i64, body: &[u8]) -> String {
    let t = unix_seconds.to_string();
    let mac = hmac_sha256(
        secret.expose().as_bytes(),
        &[t.as_bytes(), b".", body].concat(),
    );
    format!("t={t},v1={}", hex::encode(mac))
}

/// HMAC-SHA256 of `message` keyed by `key` (the one primitive every signing platform uses).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    use hmac::{Hmac, Mac};
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

impl WebhookPayload for JsonPayload {
    fn format(&self) -> WebhookFormat {
        WebhookFormat::Json
    }

    fn render(&self, digest: &Digest, now: DateTime<Utc>) -> Result<RenderedRequest, String> {
        let body = Self::body(digest)?;
        let mut headers = Vec::new();
        if let Some(secret) = &self.secret {
            let value = HeaderValue::from_str(&signature(secret, now.timestamp(), &body))
                .map_err(|e| format!("cannot build the signature header: {e}"))?;
            headers.push((HeaderName::from_static(SIGNATURE_HEADER), value));
        }
        Ok(RenderedRequest {
            body,
            content_type: "application/json",
            headers,
            query: Vec::new(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The notifier
// ---------------------------------------------------------------------------------------------

pub struct WebhookNotifier {
    name: String,
    url: url::Url,
    /// `scheme://host[:port]`: all of the URL that messages may show.
    origin: String,
    headers: HeaderMap,
    payload: Box<dyn WebhookPayload>,
    http: reqwest::Client,
    timeout: Duration,
    /// The receiver's quota; shared by concurrent deliveries to it.
    limiter: RateLimiter,
}

impl std::fmt::Debug for WebhookNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookNotifier")
            .field("name", &self.name)
            .field("origin", &self.origin)
            .field("format", &self.payload.format().as_str())
            .field("rate_limit", &self.limiter.quotas())
            .finish_non_exhaustive()
    }
}

impl WebhookNotifier {
    pub fn new(
        name: &str,
        url: &Secret,
        headers: &BTreeMap<String, Secret>,
        payload: Box<dyn WebhookPayload>,
        http: reqwest::Client,
        timeout: Duration,
    ) -> Result<Self, BuildError> {
        let invalid_url = || BuildError::InvalidUrl {
            receiver: name.to_string(),
        };
        let parsed = url::Url::parse(url.expose()).map_err(|_| invalid_url())?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(invalid_url());
        }
        let mut header_map = HeaderMap::new();
        for (key, value) in headers {
            let invalid = |reason: String| BuildError::InvalidHeader {
                receiver: name.to_string(),
                header: key.clone(),
                reason,
            };
            let header_name = HeaderName::from_bytes(key.as_bytes())
                .map_err(|e| invalid(format!("not a valid header name: {e}")))?;
            let mut header_value = HeaderValue::from_str(value.expose())
                .map_err(|e| invalid(format!("not a valid header value: {e}")))?;
            // Custom headers often carry tokens: keep them out of any debug output.
            header_value.set_sensitive(true);
            header_map.insert(header_name, header_value);
        }
        let limiter = RateLimiter::new(&ratelimit::default_quotas(payload.format()));
        Ok(WebhookNotifier {
            name: name.to_string(),
            origin: origin(&parsed),
            url: parsed,
            headers: header_map,
            payload,
            http,
            timeout,
            limiter,
        })
    }

    /// Replaces the platform's default quota with `rate_limit_per_minute`, when configured.
    pub fn with_rate_limit_per_minute(mut self, per_minute: Option<u32>) -> Self {
        if per_minute.is_some() {
            self.limiter =
                RateLimiter::new(&ratelimit::quotas_for(self.payload.format(), per_minute));
        }
        self
    }

    /// The quotas this receiver keeps.
    pub fn rate_limit(&self) -> Vec<ratelimit::Quota> {
        self.limiter.quotas()
    }

    /// Removes any echo of the URL's secret parts (path, query) from a text shown to people.
    fn redact(&self, text: &str) -> String {
        let mut out = text.replace(self.url.as_str(), &self.origin);
        for part in [self.url.query().unwrap_or(""), self.url.path()] {
            if part.len() > 1 {
                out = out.replace(part, "<redacted>");
            }
        }
        out
    }

    fn transient(&self, message: String, retry_after: Option<Duration>) -> NotifyError {
        NotifyError::Transient {
            receiver: self.name.clone(),
            message: self.redact(&message),
            retry_after,
        }
    }

    fn permanent(&self, message: String) -> NotifyError {
        NotifyError::Permanent {
            receiver: self.name.clone(),
            message: self.redact(&message),
        }
    }

    fn describe_send_error(&self, error: reqwest::Error) -> NotifyError {
        let error = error.without_url();
        let what = if error.is_timeout() {
            format!(
                "POST to {} timed out after {}",
                self.origin,
                humantime::format_duration(self.timeout)
            )
        } else if error.is_connect() {
            format!(
                "cannot connect to {}: {}",
                self.origin,
                crate::error_chain(&error)
            )
        } else {
            format!(
                "POST to {} failed: {}",
                self.origin,
                crate::error_chain(&error)
            )
        };
        self.transient(what, None)
    }
}

#[async_trait::async_trait]
impl Notifier for WebhookNotifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "webhook"
    }

    async fn send(&self, digest: &Digest) -> Result<Receipt, NotifyError> {
        let wait = self.limiter.reserve();
        if !wait.is_zero() {
            tracing::info!(
                event = "notify.rate_limited",
                receiver = %self.name,
                wait_ms = wait.as_millis() as u64,
                rate_limit = %self
                    .limiter
                    .quotas()
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                "rate limit reached; the message waits for its slot"
            );
            tokio::time::sleep(wait).await;
        }
        // Signatures carry the time of the attempt itself, after any wait.
        let now = Utc::now();
        let rendered = self
            .payload
            .render(digest, now)
            .map_err(|e| self.permanent(e))?;
        let mut url = self.url.clone();
        if !rendered.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&rendered.query);
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(rendered.content_type),
        );
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        for (key, value) in &self.headers {
            headers.insert(key.clone(), value.clone());
        }
        for (key, value) in rendered.headers {
            headers.insert(key, value);
        }
        let mut response = self
            .http
            .post(url)
            .timeout(self.timeout)
            .headers(headers)
            .body(rendered.body)
            .send()
            .await
            .map_err(|e| self.describe_send_error(e))?;

        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, now));
        let body = match crate::capped::read(&mut response, MAX_RESPONSE_BODY).await {
            Ok(body) => body,
            // A 2xx whose body cannot be read was still received; for formats that look inside
            // the body the attempt is not confirmed, so it is retried.
            Err(e) if status.is_success() => {
                return Err(self.transient(
                    format!(
                        "{} answered HTTP {status} but its body could not be read: {}",
                        self.origin,
                        crate::error_chain(&e.without_url())
                    ),
                    None,
                ));
            }
            Err(_) => crate::capped::Body::default(),
        };
        if body.too_large && status.is_success() && self.payload.reads_answer() {
            return Err(self.permanent(format!(
                "{} answered HTTP {status} with an answer larger than {}, not read further: \
                 not taken for the platform's acceptance",
                self.origin,
                crate::capped::describe(MAX_RESPONSE_BODY)
            )));
        }
        let body = body.bytes;

        match classify(status) {
            Outcome::Delivered => match self.payload.check_accepted(&body) {
                Ok(()) => Ok(Receipt {
                    detail: format!("HTTP {}", status.as_u16()),
                }),
                Err(rejection) => {
                    let error_msg = self.redact(&rejection.message);
                    tracing::warn!(
                        event = "notify.rejected",
                        receiver = %self.name,
                        format = self.payload.format().as_str(),
                        http_status = status.as_u16(),
                        error_code = %rejection.code,
                        error_msg = %error_msg,
                        retryable = rejection.retryable,
                        "the platform answered HTTP 2xx but refused the message"
                    );
                    let message = format!(
                        "{} answered HTTP {status} but refused the message: {rejection}",
                        self.origin
                    );
                    if rejection.retryable {
                        Err(self.transient(message, rejection.retry_after.or(retry_after)))
                    } else {
                        Err(self.permanent(message))
                    }
                }
            },
            Outcome::Transient => Err(self.transient(
                format!(
                    "{} answered HTTP {status}{}",
                    self.origin,
                    quote_body(&body)
                ),
                retry_after,
            )),
            Outcome::Permanent => Err(self.permanent(format!(
                "{} refused the message: HTTP {status}{}",
                self.origin,
                quote_body(&body)
            ))),
        }
    }
}

/// What an HTTP status means for a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    Transient,
    Permanent,
}

/// 2xx delivered; 408, 429 and 5xx transient; anything else (other 4xx, an unfollowed
/// redirect) permanent, since sending the same request again cannot change the answer.
pub fn classify(status: StatusCode) -> Outcome {
    if status.is_success() {
        Outcome::Delivered
    } else if status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
    {
        Outcome::Transient
    } else {
        Outcome::Permanent
    }
}

/// `Retry-After` as seconds (`120`) or as an HTTP date, relative to `now`.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// `scheme://host[:port]` of a URL.
pub fn origin(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

/// `: <start of the body>` for an error message, or nothing for an empty body.
fn quote_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = render::single_line(text.trim());
    if text.is_empty() {
        String::new()
    } else {
        format!(": {}", render::truncate(&text, QUOTED_BODY_CHARS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;
    use crate::notify::render::tests::alert;

    #[test]
    fn statuses_are_classified() {
        assert_eq!(classify(StatusCode::OK), Outcome::Delivered);
        assert_eq!(classify(StatusCode::NO_CONTENT), Outcome::Delivered);
        assert_eq!(
            classify(StatusCode::SERVICE_UNAVAILABLE),
            Outcome::Transient
        );
        assert_eq!(
            classify(StatusCode::INTERNAL_SERVER_ERROR),
            Outcome::Transient
        );
        assert_eq!(classify(StatusCode::TOO_MANY_REQUESTS), Outcome::Transient);
        assert_eq!(classify(StatusCode::REQUEST_TIMEOUT), Outcome::Transient);
        assert_eq!(classify(StatusCode::BAD_REQUEST), Outcome::Permanent);
        assert_eq!(classify(StatusCode::NOT_FOUND), Outcome::Permanent);
        assert_eq!(classify(StatusCode::FOUND), Outcome::Permanent);
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:29:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn json_body_has_the_documented_shape_and_order() {
        let sent_at = DateTime::parse_from_rfc3339("2026-11-26T01:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc);
        let digest = Digest {
            receiver: "ops".into(),
            alerts: vec![
                alert("later", Some(20), Severity::Info),
                alert("soon", Some(2), Severity::Warning),
            ],
            sent_at,
            timezone: chrono_tz::UTC,
        };
        let body: serde_json::Value =
            serde_json::from_slice(&JsonPayload::body(&digest).unwrap()).unwrap();
        assert_eq!(body["version"], "1");
        assert_eq!(body["source"], "renewd");
        assert_eq!(body["sent_at"], "2026-11-26T01:00:00Z");
        assert_eq!(body["receiver"], "ops");
        assert_eq!(body["alerts"][0]["package"], "soon");
        assert_eq!(body["alerts"][1]["package"], "later");
    }

    #[test]
    fn hmac_is_rfc_4231() {
        // RFC 4231 test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn signature_signs_time_and_body() {
        let s = signature(&Secret::new("Jefe"), 1_700_000_000, b"{}");
        let expected = hex::encode(hmac_sha256(b"Jefe", b"1700000000.{}"));
        assert_eq!(s, format!("t=1700000000,v1={expected}"));
    }

    #[test]
    fn origin_hides_path_and_query() {
        let u = url::Url::parse("https://oapi.example.com/robot/send?access_token=abc").unwrap();
        assert_eq!(origin(&u), "https://oapi.example.com");
        let u = url::Url::parse("http://127.0.0.1:8080/hook/secret").unwrap();
        assert_eq!(origin(&u), "http://127.0.0.1:8080");
    }

    #[test]
    fn messages_are_redacted() {
        // Building a reqwest client needs a crypto provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let n = WebhookNotifier::new(
            "chat",
            &Secret::new("https://hooks.example.com/services/T000/B000/XXXX?token=abc"),
            &BTreeMap::new(),
            Box::new(JsonPayload::new(None)),
            reqwest::Client::new(),
            Duration::from_secs(30),
        )
        .unwrap();
        let m = n.redact("Cannot POST /services/T000/B000/XXXX?token=abc");
        assert!(!m.contains("XXXX"), "{m}");
        assert!(!m.contains("abc"), "{m}");
    }
}
