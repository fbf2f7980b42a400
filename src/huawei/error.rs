//! Errors of the CodeArts client. An [`ApiError`] carries everything an operator needs to act on
//! a failed poll (account, project, HTTP status, code, message, request/trace id) and never a
//! secret: messages come from the server's error fields or from our own wording, never from
//! request headers.

use crate::model::{PollErrorInfo, Scope};
use std::fmt;

/// What kind of failure a poll ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiErrorKind {
    /// The gateway or API refused the credentials (401, 403, `APIG.030x`).
    Auth,
    /// Any other non-2xx answer (5xx after retries, 429, other 4xx).
    Http,
    /// A 2xx answer carrying an error (`status: "error"`).
    Api,
    /// The request timed out (after retries).
    Timeout,
    /// The connection failed (after retries).
    Transport,
    /// The answer could not be read (not JSON, or JSON of an unknown shape).
    Parse,
    /// The IAM password login failed (wrong credentials, or IAM unreachable).
    Login,
}

impl ApiErrorKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ApiErrorKind::Auth => "auth",
            ApiErrorKind::Http => "http",
            ApiErrorKind::Api => "api",
            ApiErrorKind::Timeout => "timeout",
            ApiErrorKind::Transport => "transport",
            ApiErrorKind::Parse => "parse",
            ApiErrorKind::Login => "login",
        }
    }
}

impl fmt::Display for ApiErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed poll of one account/project.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ApiError {
    pub scope: Scope,
    pub kind: ApiErrorKind,
    pub http_status: Option<u16>,
    /// `error_code` of the answer (e.g. `APIG.0301`, `CR.4102`, `IAM.0101`).
    pub code: Option<String>,
    /// What went wrong, in the server's words when it gave some.
    pub message: String,
    /// The gateway's `request_id` (body or `X-Request-Id` header).
    pub request_id: Option<String>,
    /// The v5 API's `trace_id`.
    pub trace_id: Option<String>,
}

impl ApiError {
    /// The gateway's request id, else the v5 API's trace id: what support asks for ("" when
    /// there is neither).
    pub fn support_id(&self) -> &str {
        self.request_id
            .as_deref()
            .or(self.trace_id.as_deref())
            .unwrap_or("")
    }

    /// The error as a `poll_failed` alert carries it.
    pub fn to_info(&self, consecutive_failures: u32) -> PollErrorInfo {
        PollErrorInfo {
            http_status: self.http_status,
            error_code: self.code.clone(),
            error_msg: self.message.clone(),
            request_id: self.request_id.clone().or_else(|| self.trace_id.clone()),
            consecutive_failures,
        }
    }

    /// The credentials were refused: by the gateway/API, or by IAM at login (a 4xx).
    /// Retrying soon will not help, and retrying often can lock the access key.
    pub fn is_auth(&self) -> bool {
        match self.kind {
            ApiErrorKind::Auth => true,
            ApiErrorKind::Login => self.http_status.is_some_and(|s| (400..500).contains(&s)),
            _ => false,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "account {}", self.scope.account)?;
        if let Some(project) = &self.scope.project_id {
            write!(f, " project {project}")?;
        }
        if !self.scope.source.is_packages() {
            write!(f, " {}", self.scope.source)?;
        }
        f.write_str(": ")?;
        match self.http_status {
            Some(status) => write!(f, "HTTP {status} ")?,
            None => write!(f, "{} error ", self.kind)?,
        }
        if let Some(code) = &self.code {
            write!(f, "{code} ")?;
        }
        // Debug quoting escapes quotes and control characters a server may have sent.
        write!(f, "{:?}", self.message)?;
        match (&self.request_id, &self.trace_id) {
            (Some(r), Some(t)) => write!(f, " (request_id {r}, trace_id {t})"),
            (Some(r), None) => write!(f, " (request_id {r})"),
            (None, Some(t)) => write!(f, " (trace_id {t})"),
            (None, None) => Ok(()),
        }
    }
}

/// A client could not be built from an account's config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("account {account}: {field} is not set")]
    MissingSecret {
        account: String,
        field: &'static str,
    },
    #[error("account {account}: {what} {url:?} is not usable: {reason}")]
    InvalidEndpoint {
        account: String,
        what: &'static str,
        url: String,
        reason: String,
    },
    #[error("account {account}: {field} {reason}")]
    InvalidCredential {
        account: String,
        field: &'static str,
        reason: &'static str,
    },
    #[error(
        "account {account}: the IAM endpoint is unknown (set `region` or `auth.iam_endpoint`)"
    )]
    NoIamEndpoint { account: String },
    #[error("account {account}: the IAM project to scope the token to is unknown (set `region` or `auth.project`)")]
    NoIamProject { account: String },
}

/// A send/receive failure in words, without request details.
pub(crate) fn transport_reason(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "no answer within the timeout".into();
    }
    let mut reason = String::from(if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    });
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    reason
}

/// How many characters of an unreadable body an error quotes.
const BODY_PREFIX_CHARS: usize = 120;

/// The start of a body, safe to put in a log line: lossy UTF-8, control characters replaced,
/// at most [`BODY_PREFIX_CHARS`] characters, `…` when cut.
pub(crate) fn sanitized_prefix(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut prefix: String = text
        .chars()
        .take(BODY_PREFIX_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().nth(BODY_PREFIX_CHARS).is_some() {
        prefix.push('…');
    }
    prefix
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(project: Option<&str>) -> ApiError {
        ApiError {
            scope: Scope {
                account: "prod".into(),
                project_id: project.map(str::to_string),
                source: Default::default(),
            },
            kind: ApiErrorKind::Auth,
            http_status: Some(401),
            code: Some("APIG.0301".into()),
            message: "Incorrect IAM authentication information: token expires".into(),
            request_id: Some("b9c2".into()),
            trace_id: None,
        }
    }

    #[test]
    fn display_names_everything_needed() {
        assert_eq!(
            error(Some("6666")).to_string(),
            "account prod project 6666: HTTP 401 APIG.0301 \"Incorrect IAM authentication information: token expires\" (request_id b9c2)"
        );
        let mut e = error(None);
        e.kind = ApiErrorKind::Timeout;
        e.http_status = None;
        e.code = None;
        e.request_id = None;
        e.message = "no answer within 2s".into();
        assert_eq!(
            e.to_string(),
            "account prod: timeout error \"no answer within 2s\""
        );
    }

    #[test]
    fn info_falls_back_to_trace_id() {
        let mut e = error(None);
        e.request_id = None;
        e.trace_id = Some("t-1".into());
        let info = e.to_info(3);
        assert_eq!(info.request_id.as_deref(), Some("t-1"));
        assert_eq!(info.consecutive_failures, 3);
        assert_eq!(info.http_status, Some(401));
        assert_eq!(info.error_code.as_deref(), Some("APIG.0301"));
    }

    #[test]
    fn login_rejections_are_auth_failures_but_outages_are_not() {
        let mut e = error(None);
        e.kind = ApiErrorKind::Login;
        assert!(e.is_auth());
        e.http_status = Some(503);
        assert!(!e.is_auth());
        e.http_status = None;
        assert!(!e.is_auth());
    }

    #[test]
    fn long_bodies_are_cut() {
        let body = "x".repeat(1000);
        let prefix = sanitized_prefix(body.as_bytes());
        assert_eq!(prefix.chars().count(), BODY_PREFIX_CHARS + 1);
        assert!(prefix.ends_with('…'));
    }
}
