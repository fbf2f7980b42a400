//! IAM password login: `POST {iam}/v3/auth/tokens` with user, password and account (domain)
//! name, scoped to a project (regional services such as CodeArts) or to the domain (global
//! services such as billing); IAM answers `201` with the token in `X-Subject-Token` and its
//! expiry in `token.expires_at`.

use super::error::sanitized_prefix;
use super::error::transport_reason;
use super::retry;
use crate::backoff::Backoff;
use crate::config::Secret;
use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use std::time::Duration;

const SUBJECT_TOKEN_HEADER: &str = "X-Subject-Token";
const REQUEST_ID_HEADER: &str = "X-Request-Id";
/// The largest answer read. A token answer with its service catalog is tens of KiB; a larger
/// one is refused as a whole, unread beyond this.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Who logs in, where, and to what the token is scoped.
#[derive(Debug, Clone)]
pub struct PasswordLogin {
    /// Base URL of IAM, without trailing slash.
    pub iam_base: String,
    pub domain: String,
    pub user: String,
    pub password: Secret,
    pub scope: LoginScope,
}

/// What a token is good for: a token of one scope is refused by the services of the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginScope {
    /// An IAM project, by name (usually the region name): regional services (CodeArts).
    Project(String),
    /// The account (domain) itself: global services (billing).
    Domain,
}

/// A token IAM issued.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: Secret,
    pub expires_at: DateTime<Utc>,
}

/// A login that did not give a token. Never carries the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("IAM login of user {user:?} in account {domain:?} failed: {reason}")]
pub struct LoginError {
    pub(crate) user: String,
    pub(crate) domain: String,
    pub http_status: Option<u16>,
    pub(crate) code: Option<String>,
    pub reason: String,
    pub request_id: Option<String>,
}

impl LoginError {
    /// IAM refused the credentials (a 4xx): trying again with the same ones will not help and
    /// may lock the user.
    pub fn is_rejection(&self) -> bool {
        self.http_status.is_some_and(|s| (400..500).contains(&s))
    }
}

impl PasswordLogin {
    fn url(&self) -> String {
        format!("{}/v3/auth/tokens", self.iam_base)
    }

    /// The documented request body.
    fn body(&self) -> Value {
        json!({
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": self.user,
                            "password": self.password.expose(),
                            "domain": {"name": self.domain}
                        }
                    }
                },
                "scope": match &self.scope {
                    LoginScope::Project(project) => json!({"project": {"name": project}}),
                    LoginScope::Domain => json!({"domain": {"name": self.domain}}),
                }
            }
        })
    }

    fn error(&self, http_status: Option<u16>, reason: String) -> LoginError {
        LoginError {
            user: self.user.clone(),
            domain: self.domain.clone(),
            http_status,
            code: None,
            reason,
            request_id: None,
        }
    }

    /// Logs in, retrying transient failures (5xx, 429, timeouts) like any API request; a
    /// rejection (4xx) is returned after the first attempt.
    pub(crate) async fn login(
        &self,
        http: &reqwest::Client,
        timeout: Duration,
        policy: &Backoff,
    ) -> Result<IssuedToken, LoginError> {
        let url = self.url();
        let mut failed = 0;
        loop {
            let sent = http
                .post(&url)
                .timeout(timeout)
                .json(&self.body())
                .send()
                .await;
            let (error, retry_after) = match sent {
                Ok(mut response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    tracing::debug!(
                        event = "iam.request",
                        method = "POST",
                        path = "/v3/auth/tokens",
                        status = status.as_u16(),
                        "IAM answered"
                    );
                    match crate::capped::read(&mut response, MAX_ANSWER_BYTES).await {
                        // Its start could read as a whole answer; the same server would send
                        // the same again, so it is not retried either.
                        Ok(body) if body.too_large => {
                            return Err(self.error(
                                Some(status.as_u16()),
                                format!(
                                    "IAM's answer is larger than {}, not read further",
                                    crate::capped::describe(MAX_ANSWER_BYTES)
                                ),
                            ))
                        }
                        Ok(body) => {
                            match self.read_answer(status.as_u16(), &headers, &body.bytes) {
                                Err(error) if retry::is_transient(status) => {
                                    (error, retry::retry_after(&headers))
                                }
                                answer => return answer,
                            }
                        }
                        Err(e) => (
                            self.error(Some(status.as_u16()), transport_reason(&e)),
                            None,
                        ),
                    }
                }
                Err(e) => (self.error(None, transport_reason(&e)), None),
            };
            failed += 1;
            if !policy.allows_retry(failed) {
                return Err(error);
            }
            let delay = policy.delay_or_capped(failed, retry_after);
            tracing::debug!(
                event = "iam.retrying",
                attempt = failed + 1,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "retrying the IAM login"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// Reads IAM's answer to a login: a 2xx gives the token (`X-Subject-Token`) and its expiry
    /// (`token.expires_at`), anything else the error IAM describes. No I/O.
    // The error is built once per failed login; boxing it would only add noise.
    #[allow(clippy::result_large_err)]
    pub fn read_answer(
        &self,
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<IssuedToken, LoginError> {
        if (200..300).contains(&status) {
            self.issued_token(status, headers, body)
        } else {
            Err(self.rejection(status, headers, body))
        }
    }

    #[allow(clippy::result_large_err)]
    fn issued_token(
        &self,
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<IssuedToken, LoginError> {
        let token = headers
            .get(SUBJECT_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                self.error(
                    Some(status),
                    format!("IAM answered without an {SUBJECT_TOKEN_HEADER} header"),
                )
            })?;
        let expires_at = expires_at(body).ok_or_else(|| {
            self.error(
                Some(status),
                "IAM answered without a readable token.expires_at".into(),
            )
        })?;
        Ok(IssuedToken {
            token: Secret::new(token),
            expires_at,
        })
    }

    fn rejection(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> LoginError {
        let (code, message) = error_fields(body);
        let reason = message.unwrap_or_else(|| {
            let prefix = sanitized_prefix(body);
            if prefix.is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status}: {prefix}")
            }
        });
        LoginError {
            code,
            request_id: headers
                .get(REQUEST_ID_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            ..self.error(Some(status), reason)
        }
    }
}

/// `token.expires_at` of a login answer.
fn expires_at(body: &[u8]) -> Option<DateTime<Utc>> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let text = value.get("token")?.get("expires_at")?.as_str()?;
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Code and message of IAM's two error shapes: `{"error":{"code","message","title"}}` and
/// `{"error_code","error_msg"}`.
fn error_fields(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return (None, None);
    };
    if let Some(error) = value.get("error").filter(|e| e.is_object()) {
        let message = error
            .get("message")
            .or_else(|| error.get("title"))
            .and_then(Value::as_str)
            .map(str::to_string);
        // The nested `code` is the HTTP status again: the status already says it.
        return (None, message);
    }
    let code = value
        .get("error_code")
        .and_then(Value::as_str)
        .map(str::to_string);
    let message = value
        .get("error_msg")
        .and_then(Value::as_str)
        .map(str::to_string);
    (code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_iam_error_shapes_are_read() {
        let (code, message) = error_fields(
            br#"{"error":{"code":401,"message":"The username or password is wrong.","title":"Unauthorized"}}"#,
        );
        assert_eq!(code, None);
        assert_eq!(
            message.as_deref(),
            Some("The username or password is wrong.")
        );
        let (code, message) =
            error_fields(br#"{"error_msg":"The account is locked.","error_code":"IAM.0101"}"#);
        assert_eq!(code.as_deref(), Some("IAM.0101"));
        assert_eq!(message.as_deref(), Some("The account is locked."));
        assert_eq!(error_fields(b"<html>"), (None, None));
    }

    #[test]
    fn expiry_is_read_from_the_token() {
        let at = expires_at(
            br#"{"token":{"expires_at":"2026-11-27T09:05:22.701000Z","methods":["password"]}}"#,
        )
        .expect("expiry");
        assert_eq!(at.to_rfc3339(), "2026-11-27T09:05:22.701+00:00");
        assert!(expires_at(br#"{"token":{}}"#).is_none());
    }

    #[test]
    fn login_body_is_the_documented_one() {
        let login = PasswordLogin {
            iam_base: "https://iam.cn-north-4.myhuaweicloud.com".into(),
            domain: "corp".into(),
            user: "alice".into(),
            password: Secret::new("s3cr3t-Pa55"),
            scope: LoginScope::Project("cn-north-4".into()),
        };
        assert_eq!(
            login.body(),
            json!({"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"alice",
                "password":"s3cr3t-Pa55","domain":{"name":"corp"}}}},"scope":{"project":{"name":"cn-north-4"}}}})
        );
        let error = login.error(Some(401), "The username or password is wrong.".into());
        assert!(!error.to_string().contains("s3cr3t-Pa55"));
        assert!(error.to_string().contains("alice"));
        assert!(error.is_rejection());
        let global = PasswordLogin {
            scope: LoginScope::Domain,
            ..login
        };
        assert_eq!(
            global.body()["auth"]["scope"],
            json!({"domain": {"name": "corp"}})
        );
    }
}
