//! What every receiver that speaks HTTP shares: what a status means for a delivery, the
//! server's `Retry-After`, the part of a URL that messages may show, and how much of an
//! answer an error message quotes.

use super::render;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use std::time::Duration;

/// How much of a response body an error message quotes.
const QUOTED_BODY_CHARS: usize = 200;

/// What an HTTP status means for a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Delivered,
    Transient,
    Permanent,
}

/// 2xx delivered; 408, 429 and 5xx transient; anything else (other 4xx, an unfollowed
/// redirect) permanent, since sending the same request again cannot change the answer.
pub(crate) fn classify(status: StatusCode) -> Outcome {
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
pub(crate) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// The server's `Retry-After` header, when it sent one that reads (see [`parse_retry_after`]).
pub(crate) fn retry_after(
    headers: &reqwest::header::HeaderMap,
    now: DateTime<Utc>,
) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, now))
}

/// Why a request got no answer, for people, without its URL: `request` is e.g. `POST to`,
/// `origin` what of the URL may be shown.
pub(crate) fn describe_send_error(
    request: &str,
    origin: &str,
    timeout: Duration,
    error: reqwest::Error,
) -> String {
    let error = error.without_url();
    if error.is_timeout() {
        format!(
            "{request} {origin} timed out after {}",
            humantime::format_duration(timeout)
        )
    } else if error.is_connect() {
        format!("cannot connect to {origin}: {}", crate::error_chain(&error))
    } else {
        format!("{request} {origin} failed: {}", crate::error_chain(&error))
    }
}

/// `scheme://host[:port]` of a URL.
pub(crate) fn origin(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

/// `: <start of the body>` for an error message, or nothing for an empty body.
pub(crate) fn quote_body(body: &[u8]) -> String {
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
    fn origin_hides_path_and_query() {
        let u = url::Url::parse("https://oapi.example.com/robot/send?access_token=abc").unwrap();
        assert_eq!(origin(&u), "https://oapi.example.com");
        let u = url::Url::parse("http://127.0.0.1:8080/hook/secret").unwrap();
        assert_eq!(origin(&u), "http://127.0.0.1:8080");
    }
}
