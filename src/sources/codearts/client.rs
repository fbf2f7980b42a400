//! The CodeArts API client of one account: one `package/info` call per project, with bounded
//! retries of transient failures and the account's authentication applied to every request.

use super::models::{self, Body, ErrorBody};
use crate::backoff::Backoff;
use crate::config::AccountConfig;
use crate::huawei::auth::{check_base_url, Authenticator, CredentialsError};
use crate::huawei::pacer::Pacer;
use crate::huawei::retry;
use crate::huawei::signer::encode_rfc3986;
use crate::huawei::LoginError;
use crate::huawei::{transport_reason, ApiError, ApiErrorKind, ClientError};
use crate::model::Scope;
use crate::sources::{PollResult, Source};
use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::{HeaderMap, ACCEPT, USER_AGENT};
use reqwest::StatusCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::time::Instant;
use url::Url;

/// Path of the package API, appended to the account's API base.
pub const PACKAGE_INFO_PATH: &str = "/devreposerver/v5/data/package/info";
const REQUEST_ID_HEADER: &str = "X-Request-Id";
/// The largest answer read (the real ones are a few hundred bytes, a few KiB for a big
/// project); a larger one is refused as a whole, unread beyond this.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// One account's client. Long-lived: it holds the IAM token cache across cycles.
#[derive(Debug)]
pub struct CodeArtsClient {
    account: String,
    projects: Vec<String>,
    package_info_url: Url,
    http: reqwest::Client,
    timeout: Duration,
    retry: Backoff,
    /// `max_requests_per_second`, shared by the account's projects; slower after a 429.
    pacer: Pacer,
    auth: Authenticator,
    /// False after a start or a refusal: the next request goes alone, and the others follow
    /// once it was not refused, so wrong credentials cost one refused request, not one per
    /// project in flight.
    verified: AtomicBool,
    probe: tokio::sync::Mutex<()>,
    /// The API refused the credentials (see [`REFUSAL_HOLD`]).
    refused: std::sync::Mutex<Option<Refusal>>,
}

/// How often one request may be throttled (429) before its poll fails: the account slows
/// down after each one, so a project is not dropped for a burst, but a gateway that never
/// lets anything through is reported.
const MAX_THROTTLED_ATTEMPTS: u32 = 20;

/// How long refused credentials are not sent again. The gateway locks an access key for five
/// minutes after more than five consecutive signature failures, which would also stop every
/// other user of that key: one refused request per account in this time, whatever the number
/// of projects and cycles.
pub const REFUSAL_HOLD: Duration = Duration::from_secs(10 * 60);

#[derive(Debug, Clone)]
struct Refusal {
    error: ApiError,
    at: DateTime<Utc>,
    until: Instant,
}

/// A response as received.
struct RawResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
    /// The body went on past [`MAX_BODY_BYTES`]: `body` is only its start.
    too_large: bool,
}

/// A request that got no complete response.
struct SendFailure {
    kind: ApiErrorKind,
    message: String,
}

#[async_trait::async_trait]
impl Source for CodeArtsClient {
    /// The account's name.
    fn account(&self) -> &str {
        &self.account
    }

    /// Each project of the account, or the account as a whole when it lists none.
    fn scopes(&self) -> Vec<Scope> {
        if self.projects.is_empty() {
            return vec![Scope::packages(&self.account, None)];
        }
        self.projects
            .iter()
            .map(|p| Scope::packages(&self.account, Some(p)))
            .collect()
    }

    /// Fetches the packages of one scope.
    ///
    /// A 429 slows the whole account down and the request goes again when its turn comes, up
    /// to [`MAX_THROTTLED_ATTEMPTS`] times. Other transient failures (5xx, timeouts,
    /// connection errors) are tried up to three times in all; a 401 under password auth gets exactly one new login and one more request;
    /// every other failure, authentication failures first, is returned at once. Credentials
    /// the API refused are not sent again for [`REFUSAL_HOLD`]: the account's other scopes
    /// fail at once with that refusal.
    async fn fetch(&self, scope: &Scope) -> Result<PollResult, ApiError> {
        let mut _probe = None;
        if !self.verified.load(Ordering::Acquire) {
            let held = self.probe.lock().await;
            // Checked again once the lock is ours: when the request that held it was not
            // refused, this one and every other waiting one go at once, side by side.
            if !self.verified.load(Ordering::Acquire) {
                _probe = Some(held);
            }
        }
        if let Some(held) = self.refusal_in_force(scope) {
            return Err(held);
        }
        let result = self.fetch_once(scope).await;
        match &result {
            Err(error) if is_refusal(error) => {
                self.verified.store(false, Ordering::Release);
                *self.refused.lock().unwrap_or_else(|e| e.into_inner()) = Some(Refusal {
                    error: error.clone(),
                    at: Utc::now(),
                    until: Instant::now() + REFUSAL_HOLD,
                });
            }
            // Not refused (even if it failed otherwise): the other scopes may go at once.
            _ => {
                self.verified.store(true, Ordering::Release);
                *self.refused.lock().unwrap_or_else(|e| e.into_inner()) = None;
            }
        }
        result
    }
}

impl CodeArtsClient {
    /// A client for `account`, sending through `http`, each request limited to `timeout`.
    ///
    /// `http` should not follow redirects (`reqwest::redirect::Policy::none()`): reqwest keeps
    /// custom headers such as `X-Auth-Token` on a redirect to another host. With redirects off,
    /// a 3xx is reported as an HTTP error.
    pub fn new(
        account: &AccountConfig,
        http: reqwest::Client,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        let base = account.api_base();
        check_base_url(&account.name, "endpoint", &base)?;
        let package_info_url = check_base_url(
            &account.name,
            "endpoint",
            &format!("{base}{PACKAGE_INFO_PATH}"),
        )?;
        Ok(CodeArtsClient {
            account: account.name.clone(),
            projects: account.projects.clone(),
            package_info_url,
            http,
            timeout,
            retry: retry::api_backoff(),
            pacer: Pacer::new(account.max_requests_per_second),
            auth: Authenticator::from_config(account)?,
            verified: AtomicBool::new(false),
            probe: tokio::sync::Mutex::new(()),
            refused: std::sync::Mutex::new(None),
        })
    }

    /// Sets the delay before the first retry (default 300 ms; tests make it short).
    pub fn with_retry_base(mut self, base: Duration) -> Self {
        self.retry.base = base;
        self
    }

    /// The URL asked for `scope`.
    fn url_for(&self, scope: &Scope) -> Url {
        let mut url = self.package_info_url.clone();
        // Encoded as the signer encodes it, so that what is sent is what is signed.
        let query = scope
            .project_id
            .as_deref()
            .map(|p| format!("project_id={}", encode_rfc3986(p)));
        url.set_query(query.as_deref());
        url
    }

    /// The refusal still in force, as this scope's error.
    fn refusal_in_force(&self, scope: &Scope) -> Option<ApiError> {
        let refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        // Measured on the monotonic clock: a wall-clock step does not stretch the hold.
        let Refusal { error, at, .. } = refused.as_ref().filter(|r| Instant::now() < r.until)?;
        Some(ApiError {
            scope: scope.clone(),
            message: format!(
                "not sent: the API refused this account's credentials at {} for {} ({}); \
                 they are not sent again before {}",
                at.format("%H:%M:%S UTC"),
                error.scope,
                error.message,
                (*at + TimeDelta::from_std(REFUSAL_HOLD).unwrap_or_default())
                    .format("%H:%M:%S UTC"),
            ),
            request_id: None,
            trace_id: None,
            ..error.clone()
        })
    }

    async fn fetch_once(&self, scope: &Scope) -> Result<PollResult, ApiError> {
        let url = self.url_for(scope);
        let mut failed = 0u32;
        let mut throttled = 0u32;
        let mut renewed_credentials = false;
        loop {
            // Before signing: a signature dated before a long wait could be refused.
            self.pacer.wait_turn().await;
            let credentials = self
                .auth
                .credentials(&self.http, self.timeout, &self.retry, "GET", &url, b"")
                .await
                .map_err(|e| self.credentials_error(scope, e))?;
            let attempt = failed + 1;
            let (error, retry_after) = match self.send(&url, credentials.headers.clone()).await {
                Ok(response) => {
                    tracing::debug!(
                        event = "codearts.response",
                        account = %self.account,
                        project_id = scope.project_label(),
                        method = "GET",
                        path = url.path(),
                        status = response.status.as_u16(),
                        attempt,
                        "CodeArts answered"
                    );
                    if response.status == StatusCode::TOO_MANY_REQUESTS {
                        throttled += 1;
                        if throttled >= MAX_THROTTLED_ATTEMPTS {
                            let error = self.http_error(scope, response);
                            return Err(ApiError {
                                message: format!("{} (throttled {throttled} times)", error.message),
                                ..error
                            });
                        }
                        // The account slows down; the request waits its turn again and this
                        // attempt does not count against the retries of real failures.
                        let pause = self.pacer.throttled(retry::retry_after(&response.headers));
                        tracing::debug!(
                            event = "codearts.throttled",
                            account = %self.account,
                            project_id = scope.project_label(),
                            pause_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
                            throttled,
                            "the gateway throttled the account; slowing down"
                        );
                        continue;
                    }
                    self.pacer.answered();
                    if response.too_large {
                        return Err(self.too_large_error(scope, &response));
                    }
                    if response.status.is_success() {
                        return self.read_success(scope, response);
                    }
                    if response.status == StatusCode::UNAUTHORIZED
                        && !renewed_credentials
                        && self.auth.renew_after_rejection(&credentials).await
                    {
                        renewed_credentials = true;
                        tracing::debug!(event = "codearts.reauthenticating", account = %self.account, project_id = scope.project_label(), "token refused; logging in to IAM again");
                        continue;
                    }
                    let retry_after = retry::retry_after(&response.headers);
                    let transient = retry::is_transient(response.status);
                    let error = self.http_error(scope, response);
                    // An auth failure is never retried, whatever its status: the gateway locks
                    // an access key after repeated signature failures.
                    if !transient || error.kind == ApiErrorKind::Auth {
                        return Err(error);
                    }
                    (error, retry_after)
                }
                Err(failure) => {
                    tracing::debug!(
                        event = "codearts.request_failed",
                        account = %self.account,
                        project_id = scope.project_label(),
                        method = "GET",
                        path = url.path(),
                        kind = failure.kind.as_str(),
                        attempt,
                        "CodeArts request failed"
                    );
                    (self.send_error(scope, failure), None)
                }
            };
            failed += 1;
            if !self.retry.allows_retry(failed) {
                return Err(ApiError {
                    message: format!("{} (after {failed} attempts)", error.message),
                    ..error
                });
            }
            let delay = self.retry.delay_or_capped(failed, retry_after);
            tracing::debug!(
                event = "codearts.retrying",
                account = %self.account,
                project_id = scope.project_label(),
                attempt = failed + 1,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "retrying the CodeArts request"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// One GET with the given auth headers; the body is read in full (within the timeout), up to
    /// [`MAX_BODY_BYTES`].
    async fn send(
        &self,
        url: &Url,
        auth_headers: Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>,
    ) -> Result<RawResponse, SendFailure> {
        let mut request = self
            .http
            .get(url.clone())
            .timeout(self.timeout)
            .header(USER_AGENT, crate::USER_AGENT)
            .header(ACCEPT, "application/json");
        for (name, value) in auth_headers {
            request = request.header(name, value);
        }
        let mut response = request.send().await.map_err(|e| self.failure(&e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = crate::capped::read(&mut response, MAX_BODY_BYTES)
            .await
            .map_err(|e| self.failure(&e))?;
        Ok(RawResponse {
            status,
            headers,
            body: body.bytes,
            too_large: body.too_large,
        })
    }

    fn failure(&self, error: &reqwest::Error) -> SendFailure {
        if error.is_timeout() {
            SendFailure {
                kind: ApiErrorKind::Timeout,
                message: format!(
                    "no complete answer within {}",
                    humantime::format_duration(self.timeout)
                ),
            }
        } else {
            SendFailure {
                kind: ApiErrorKind::Transport,
                message: transport_reason(error),
            }
        }
    }

    fn error(&self, scope: &Scope, kind: ApiErrorKind, message: String) -> ApiError {
        ApiError {
            scope: scope.clone(),
            kind,
            http_status: None,
            code: None,
            message,
            request_id: None,
            trace_id: None,
        }
    }

    fn send_error(&self, scope: &Scope, failure: SendFailure) -> ApiError {
        self.error(scope, failure.kind, failure.message)
    }

    /// An answer over [`MAX_BODY_BYTES`]: not read as an answer (its start could read as a
    /// complete one), and not retried (the same server would send the same again).
    fn too_large_error(&self, scope: &Scope, response: &RawResponse) -> ApiError {
        ApiError {
            http_status: Some(response.status.as_u16()),
            request_id: request_id_header(&response.headers),
            ..self.error(
                scope,
                ApiErrorKind::Parse,
                format!(
                    "answer larger than {}, not read further",
                    crate::capped::describe(MAX_BODY_BYTES)
                ),
            )
        }
    }

    fn credentials_error(&self, scope: &Scope, error: CredentialsError) -> ApiError {
        match error {
            CredentialsError::Login(login) => self.login_error(scope, login),
            CredentialsError::Header(header) => self.error(
                scope,
                ApiErrorKind::Auth,
                format!("cannot build the {header} header from the configured credentials"),
            ),
        }
    }

    fn login_error(&self, scope: &Scope, error: LoginError) -> ApiError {
        ApiError {
            http_status: error.http_status,
            code: error.code.clone(),
            request_id: error.request_id.clone(),
            ..self.error(scope, ApiErrorKind::Login, error.to_string())
        }
    }

    /// A 2xx answer: the packages, or the error it carries, or a parse error.
    // `ApiError`'s fields are the public contract; an error is built once per failed poll.
    #[allow(clippy::result_large_err)]
    fn read_success(&self, scope: &Scope, response: RawResponse) -> Result<PollResult, ApiError> {
        let status = response.status.as_u16();
        let header_request_id = request_id_header(&response.headers);
        let parse_error = |message: String| ApiError {
            http_status: Some(status),
            request_id: header_request_id.clone(),
            ..self.error(scope, ApiErrorKind::Parse, message)
        };
        match models::read_body(scope, &response.body) {
            Body::Success(list) => Ok(PollResult {
                scope: scope.clone(),
                packages: list.packages,
                bad_entries: list.bad_entries,
                trace_id: list.trace_id,
            }),
            Body::Error(body) => {
                let kind = if is_auth_code(body.code.as_deref()) {
                    ApiErrorKind::Auth
                } else {
                    ApiErrorKind::Api
                };
                Err(self.body_error(scope, kind, status, header_request_id, body))
            }
            Body::Unexpected { reason } => {
                Err(parse_error(format!("unexpected response: {reason}")))
            }
            Body::NotJson { prefix } => Err(parse_error(not_json_message(&prefix))),
        }
    }

    /// A non-2xx answer, in whichever shape its body has.
    fn http_error(&self, scope: &Scope, response: RawResponse) -> ApiError {
        let status = response.status;
        let header_request_id = request_id_header(&response.headers);
        let body = match models::read_body(scope, &response.body) {
            Body::Error(body) => body,
            Body::NotJson { prefix } if prefix.is_empty() => ErrorBody::default(),
            Body::NotJson { prefix } => ErrorBody {
                message: Some(not_json_message(&prefix)),
                ..ErrorBody::default()
            },
            Body::Success(_) | Body::Unexpected { .. } => ErrorBody::default(),
        };
        let kind = if status == StatusCode::UNAUTHORIZED
            || status == StatusCode::FORBIDDEN
            || is_auth_code(body.code.as_deref())
        {
            ApiErrorKind::Auth
        } else {
            ApiErrorKind::Http
        };
        self.body_error(scope, kind, status.as_u16(), header_request_id, body)
    }

    fn body_error(
        &self,
        scope: &Scope,
        kind: ApiErrorKind,
        status: u16,
        header_request_id: Option<String>,
        body: ErrorBody,
    ) -> ApiError {
        let message = body.message.unwrap_or_else(|| {
            StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("error without a message")
                .to_string()
        });
        ApiError {
            http_status: Some(status),
            code: body.code,
            request_id: body.request_id.or(header_request_id),
            trace_id: body.trace_id,
            ..self.error(scope, kind, message)
        }
    }
}

fn not_json_message(prefix: &str) -> String {
    format!("response is not JSON: {prefix}")
}

/// The gateway's `X-Request-Id` of an answer, when it has a non-empty, visible-ASCII one.
pub fn request_id_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        // An id is an opaque token that goes into logs: one with a tab or other control
        // character in it is not an id worth quoting.
        .filter(|v| !v.is_empty() && !v.chars().any(char::is_control))
        .map(str::to_string)
}

/// The gateway says the credentials themselves are wrong (`APIG.0301`: bad or expired token or
/// signature), which holds for every project of the account; any other auth error (a 403, a
/// permission missing for one project) is that project's alone.
fn is_refusal(error: &ApiError) -> bool {
    error.kind == ApiErrorKind::Auth && error.code.as_deref() == Some("APIG.0301")
}

/// The gateway's authentication/authorisation codes: `APIG.0301` bad or expired token or
/// signature, `APIG.0302` IAM user not authorised, `0303`–`0305` app credentials, `0306` access
/// denied, `0307` token must be refreshed. (`APIG.0308` is throttling, not an auth failure.)
fn is_auth_code(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "APIG.0301"
                | "APIG.0302"
                | "APIG.0303"
                | "APIG.0304"
                | "APIG.0305"
                | "APIG.0306"
                | "APIG.0307"
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The daemon polls accounts from spawned tasks: the client and its futures must be `Send`.
    #[test]
    fn client_and_fetch_can_cross_threads() {
        fn is_send_sync<T: Send + Sync>() {}
        fn is_send<T: Send>(_: &T) {}
        is_send_sync::<CodeArtsClient>();
        let _check = |client: &CodeArtsClient, scope: &Scope| {
            let future = client.fetch(scope);
            is_send(&future);
        };
    }

    #[test]
    fn throttling_is_not_an_auth_code() {
        assert!(is_auth_code(Some("APIG.0301")));
        assert!(is_auth_code(Some("APIG.0302")));
        assert!(!is_auth_code(Some("APIG.0308")));
        assert!(!is_auth_code(Some("CR.4102")));
        assert!(!is_auth_code(None));
    }
}
