//! The `webhook` receiver: an HTTP POST per digest.
//!
//! The HTTP exchange and the classification of its outcome live here, once for every format;
//! everything about one format (its body, its answers, its quota, its signing, its size limit,
//! what `check` says) is a [`WebhookFormat`] in its own file, listed once in [`FORMATS`].
//! Formats share only `format.rs` (the trait and what it speaks of), `chat.rs` (the chat text)
//! and `notify::render` (the wording); none imports another.
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

pub mod chat;
pub(crate) mod format;

pub(crate) use format::{ReceiverSetup, RenderedRequest, WebhookFormat};

pub(crate) use super::http::{classify, origin, Outcome};

use super::http::{describe_send_error, quote_body, retry_after};
use super::ratelimit::RateLimiter;
use super::{BuildError, Digest, Notifier, NotifyError, Preview, PreviewFormat, Receipt};
use crate::config::{Config, Problem, ReceiverConfig, Secret};
use chrono::Utc;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, USER_AGENT};
use std::collections::BTreeMap;
use std::time::Duration;

/// How much of a response body is read (for error messages and in-body error codes). A 2xx
/// answer that the format reads ([`WebhookFormat::reads_answer`]) and that is larger is
/// refused, not cut off and read as if whole.
const MAX_RESPONSE_BODY: usize = 64 * 1024;

/// The registry: each format's file (a module of this folder) and its type. Adding a format
/// is its file plus one line here.
macro_rules! registry {
    ($($module:ident :: $format:ident),* $(,)?) => {
        $(pub(crate) mod $module;)*
        /// Every format, in the order messages list them.
        pub(crate) static FORMATS: &[&dyn WebhookFormat] = &[$(&$module::$format),*];
    };
}

registry! {
    json::Json,
    alertmanager::Alertmanager,
    slack::Slack,
    teams::Teams,
    dingtalk::Dingtalk,
    feishu::Feishu,
    wecom::Wecom,
}

/// The format `format = "…"` names.
pub(crate) fn find(name: &str) -> Option<&'static dyn WebhookFormat> {
    FORMATS.iter().copied().find(|f| f.name() == name)
}

/// The names of the formats that have `property`, as a list for people: `a, b and c`.
pub(crate) fn names_where(property: impl Fn(&dyn WebhookFormat) -> bool) -> String {
    let names: Vec<&str> = FORMATS
        .iter()
        .filter(|f| property(**f))
        .map(|f| f.name())
        .collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        Some((last, _)) => last.to_string(),
        None => String::new(),
    }
}

/// The build phase's checks of every webhook receiver's format: it exists, and a `secret` is
/// set only where the format signs.
pub(crate) fn check_formats(config: &Config, problems: &mut Vec<Problem>) {
    for (name, receiver) in &config.receivers {
        let ReceiverConfig::Webhook { format, secret, .. } = receiver else {
            continue;
        };
        let p = format!("receivers.{name}");
        match find(format) {
            None => problems.push(Problem::new(
                format!("{p}.format"),
                format!(
                    "unknown variant `{format}`, expected one of {}",
                    FORMATS
                        .iter()
                        .map(|f| format!("`{}`", f.name()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
            // A secret that nothing uses would look like signing that is not there.
            Some(f) if secret.is_some() && !f.signs() => problems.push(Problem::new(
                format!("{p}.secret"),
                format!(
                    "the {} format has no signing; `secret` is for {}",
                    f.name(),
                    names_where(|f| f.signs())
                ),
            )),
            Some(_) => {}
        }
    }
}

/// The [`origin`] of a configured URL and `/…`, for people: webhook URLs often carry a key in
/// the path or query.
pub(crate) fn redacted_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!("{}/…", origin(&u)),
        Err(_) => "<invalid url>".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// The notifier
// ---------------------------------------------------------------------------------------------

pub(crate) struct WebhookNotifier {
    name: String,
    url: url::Url,
    /// `scheme://host[:port]`: all of the URL that messages may show.
    origin: String,
    headers: HeaderMap,
    format: &'static dyn WebhookFormat,
    setup: ReceiverSetup,
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
            .field("format", &self.format.name())
            .field("rate_limit", &self.limiter.quotas())
            .finish_non_exhaustive()
    }
}

impl WebhookNotifier {
    pub(crate) fn new(
        name: &str,
        url: &Secret,
        headers: &BTreeMap<String, Secret>,
        format: &'static dyn WebhookFormat,
        setup: ReceiverSetup,
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
        let limiter = RateLimiter::new(&format.default_quotas());
        Ok(WebhookNotifier {
            name: name.to_string(),
            origin: origin(&parsed),
            url: parsed,
            headers: header_map,
            format,
            setup,
            http,
            timeout,
            limiter,
        })
    }

    /// Replaces the platform's default quota with `rate_limit_per_minute`, when configured.
    pub(crate) fn with_rate_limit_per_minute(mut self, per_minute: Option<u32>) -> Self {
        if per_minute.is_some() {
            self.limiter = RateLimiter::new(&self.format.quotas(per_minute));
        }
        self
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

    /// The request for `digest` in this receiver's format, signed at `now`.
    fn render(
        &self,
        digest: &Digest,
        now: chrono::DateTime<Utc>,
    ) -> Result<RenderedRequest, NotifyError> {
        self.format
            .render(&self.setup, digest, now)
            .map_err(|e| self.permanent(e))
    }

    fn describe_send_error(&self, error: reqwest::Error) -> NotifyError {
        let what = describe_send_error("POST to", &self.origin, self.timeout, error);
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

    /// `json`: the body as it would be POSTed (signature headers and query left out);
    /// `text`: the chat text, for formats that have one (the body lists fewer alerts when the
    /// platform's size limit asks for it).
    fn preview(&self, digest: &Digest) -> Result<Preview, NotifyError> {
        let rendered = self.render(digest, Utc::now())?;
        let json = String::from_utf8(rendered.body)
            .map_err(|e| self.permanent(format!("the body is not UTF-8: {e}")))?;
        let text = match &self.setup.text {
            Some(template) => Some(
                template
                    .render(digest, digest.alerts.len())
                    .map_err(|e| self.permanent(e.to_string()))?,
            ),
            None => None,
        };
        Ok(Preview {
            default: PreviewFormat::Json,
            text,
            html: None,
            json: Some(json),
        })
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
        let rendered = self.render(digest, now)?;
        let mut url = self.url.clone();
        if !rendered.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&rendered.query);
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(rendered.content_type),
        );
        headers.insert(USER_AGENT, HeaderValue::from_static(crate::USER_AGENT));
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
        let retry_after = retry_after(response.headers(), now);
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
        if body.too_large && status.is_success() && self.format.reads_answer() {
            return Err(self.permanent(format!(
                "{} answered HTTP {status} with an answer larger than {}, not read further: \
                 not taken for the platform's acceptance",
                self.origin,
                crate::capped::describe(MAX_RESPONSE_BODY)
            )));
        }
        let body = body.bytes;

        match classify(status) {
            Outcome::Delivered => match self.format.check_accepted(&body) {
                Ok(()) => Ok(Receipt {
                    detail: format!("HTTP {}", status.as_u16()),
                }),
                Err(rejection) => {
                    let error_msg = self.redact(&rejection.message);
                    tracing::warn!(
                        event = "notify.rejected",
                        receiver = %self.name,
                        format = self.format.name(),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A config with one webhook receiver "chat" whose table ends with `extra`.
    fn config(extra: &str) -> Config {
        let text = format!(
            r#"
[daemon]
state_path = "/tmp/renewd-format-test.db"

[[accounts]]
name = "prod"
endpoint = "http://127.0.0.1:9"
auth = {{ method = "token", token = "t" }}

[[rules]]
name = "default"
thresholds = [30]
receivers = ["chat"]

[receivers.chat]
type = "webhook"
url = "http://127.0.0.1:9/hook/key"
{extra}
"#
        );
        Config::from_toml_with_env(&text, &[]).expect("the config parses")
    }

    fn problems(config: &Config) -> Vec<String> {
        let mut problems = Vec::new();
        check_formats(config, &mut problems);
        problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_registry_finds_every_format_by_its_own_name() {
        let names: Vec<&str> = FORMATS.iter().map(|f| f.name()).collect();
        assert_eq!(
            names,
            [
                "json",
                "alertmanager",
                "slack",
                "teams",
                "dingtalk",
                "feishu",
                "wecom"
            ]
        );
        for name in names {
            assert_eq!(find(name).map(|f| f.name()), Some(name));
        }
        assert!(find("xml").is_none());
        assert_eq!(names_where(|f| f.signs()), "json, dingtalk and feishu");
    }

    #[test]
    fn every_chat_format_keeps_a_size_limit() {
        // A chat text grows with the digest; only a limit keeps it within the platform's.
        for format in FORMATS.iter().filter(|f| f.dialect().is_some()) {
            assert!(format.size_limit().is_some(), "{}", format.name());
        }
    }

    #[test]
    fn unknown_formats_and_unused_secrets_are_refused_with_their_key() {
        assert_eq!(
            problems(&config("format = \"dingtalk\"\nsecret = \"SEC\"")),
            Vec::<String>::new()
        );
        assert_eq!(problems(&config("")), Vec::<String>::new());
        let unknown = problems(&config("format = \"xml\""));
        assert_eq!(unknown.len(), 1, "{unknown:?}");
        assert!(
            unknown[0].starts_with("receivers.chat.format: unknown variant `xml`"),
            "{unknown:?}"
        );
        assert!(unknown[0].contains("`wecom`"), "{unknown:?}");
        assert_eq!(
            problems(&config("format = \"slack\"\nsecret = \"s\"")),
            [
                "receivers.chat.secret: the slack format has no signing; `secret` is for json, \
              dingtalk and feishu"
            ]
        );
    }

    #[test]
    fn check_describes_a_receiver_by_its_format_without_secrets() {
        let signed = config("format = \"dingtalk\"\nsecret = \"SEC\"");
        let receiver = &signed.receivers["chat"];
        assert_eq!(
            find("dingtalk").unwrap().describe(receiver),
            "webhook (dingtalk) http://127.0.0.1:9/…, signed, at most 20/min"
        );
        let limited = config("format = \"json\"\nrate_limit_per_minute = 6");
        assert_eq!(
            find("json").unwrap().describe(&limited.receivers["chat"]),
            "webhook (json) http://127.0.0.1:9/…, at most 6/min"
        );
    }

    #[test]
    fn messages_are_redacted() {
        // Building a reqwest client needs a crypto provider.
        crate::app::install_crypto_provider();
        let n = WebhookNotifier::new(
            "chat",
            &Secret::new("https://hooks.example.com/services/T000/B000/XXXX?token=abc"),
            &BTreeMap::new(),
            &json::Json,
            ReceiverSetup::default(),
            reqwest::Client::new(),
            Duration::from_secs(30),
        )
        .unwrap();
        let m = n.redact("Cannot POST /services/T000/B000/XXXX?token=abc");
        assert!(!m.contains("XXXX"), "{m}");
        assert!(!m.contains("abc"), "{m}");
    }
}
