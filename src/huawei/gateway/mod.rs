//! One account's requests to one Huawei Cloud API behind the API gateway, whatever the API:
//! the account's pace, its authentication on every request, bounded retries of transient
//! failures, the slow-down after a 429, one new login after a 401, and the hold on credentials
//! the gateway refused. Each source (CodeArts, billing) reads the answers; this is how they
//! are asked for.

use super::auth::{Authenticator, CredentialsError};
use super::pacer::Pacer;
use super::retry;
use super::{sanitized_prefix, transport_reason, ApiError, ApiErrorKind, LoginError};
use crate::backoff::Backoff;
use crate::model::Scope;
use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, USER_AGENT};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::time::Instant;
use url::Url;

mod answer;
pub use answer::*;

const REQUEST_ID_HEADER: &str = "X-Request-Id";
/// The largest answer read (CodeArts answers are a few KiB, a billing page of 500 resources
/// under a MiB); a larger one is refused as a whole, unread beyond this.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// How often one request may be throttled (429) before its poll fails: the account slows
/// down after each one, so a scope is not dropped for a burst, but a gateway that never
/// lets anything through is reported.
const MAX_THROTTLED_ATTEMPTS: u32 = 20;

/// How long refused credentials are not sent again. The gateway locks an access key for five
/// minutes after more than five consecutive signature failures, which would also stop every
/// other user of that key: one refused request per account in this time, whatever the number
/// of scopes and cycles.
pub const REFUSAL_HOLD: Duration = Duration::from_secs(10 * 60);

/// The names of the debug events of one API's requests.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Events {
    pub api: &'static str,
    pub response: &'static str,
    pub throttled: &'static str,
    pub reauthenticating: &'static str,
    pub request_failed: &'static str,
    pub retrying: &'static str,
}

/// One account's way to one API. Long-lived: it holds the IAM token cache across cycles.
#[derive(Debug)]
pub(crate) struct Gateway {
    account: String,
    events: Events,
    http: reqwest::Client,
    timeout: Duration,
    retry: Backoff,
    /// `max_requests_per_second`, shared by the account's scopes; slower after a 429.
    pacer: Pacer,
    auth: Authenticator,
    /// False after a start or a refusal: the next listing goes alone, and the others follow
    /// once it was not refused, so wrong credentials cost one refused request, not one per
    /// scope in flight.
    verified: AtomicBool,
    probe: tokio::sync::Mutex<()>,
    /// The API refused the credentials (see [`REFUSAL_HOLD`]).
    refused: std::sync::Mutex<Option<Refusal>>,
}

#[derive(Debug, Clone)]
struct Refusal {
    error: ApiError,
    at: DateTime<Utc>,
    until: Instant,
}

/// A 2xx answer as received.
pub(crate) struct RawResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The body went on past [`MAX_BODY_BYTES`]: `body` is only its start.
    too_large: bool,
}

/// One request: its method, URL and (JSON) body.
pub(crate) struct Call<'a> {
    pub method: Method,
    pub url: &'a Url,
    /// Empty for none.
    pub body: &'a [u8],
    /// The `Content-Type` of a body, sent and signed exactly as given.
    pub content_type: Option<&'static str>,
}

/// A request that got no complete response.
struct SendFailure {
    kind: ApiErrorKind,
    message: String,
}

impl Gateway {
    pub(crate) fn new(
        account: &str,
        events: Events,
        http: reqwest::Client,
        timeout: Duration,
        auth: Authenticator,
        max_requests_per_second: f64,
    ) -> Gateway {
        Gateway {
            account: account.to_string(),
            events,
            http,
            timeout,
            retry: retry::api_backoff(),
            pacer: Pacer::new(max_requests_per_second),
            auth,
            verified: AtomicBool::new(false),
            probe: tokio::sync::Mutex::new(()),
            refused: std::sync::Mutex::new(None),
        }
    }

    pub(crate) fn account(&self) -> &str {
        &self.account
    }

    /// Sets the delay before the first retry (default 300 ms; tests make it short).
    pub(crate) fn set_retry_base(&mut self, base: Duration) {
        self.retry.base = base;
    }

    /// Runs the requests of one scope's listing under the account's guard: while the account's
    /// credentials are unproven, listings go one at a time; credentials the API refused are
    /// not sent again for [`REFUSAL_HOLD`] (the account's other scopes fail at once with that
    /// refusal).
    pub(crate) async fn guarded<T, F>(&self, scope: &Scope, listing: F) -> Result<T, ApiError>
    where
        F: Future<Output = Result<T, ApiError>>,
    {
        let mut _probe = None;
        if !self.verified.load(Ordering::Acquire) {
            let held = self.probe.lock().await;
            // Checked again once the lock is ours: when the listing that held it was not
            // refused, this one and every other waiting one go at once, side by side.
            if !self.verified.load(Ordering::Acquire) {
                _probe = Some(held);
            }
        }
        if let Some(held) = self.refusal_in_force(scope) {
            return Err(held);
        }
        let result = listing.await;
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

    /// One request, until it is answered with a 2xx or fails for good.
    ///
    /// A 429 slows the whole account down and the request goes again when its turn comes, up
    /// to [`MAX_THROTTLED_ATTEMPTS`] times. Other transient failures (5xx, timeouts,
    /// connection errors) are tried up to three times in all; a 401 under password auth gets
    /// exactly one new login and one more request; every other failure, authentication
    /// failures first, is returned at once.
    pub(crate) async fn call(
        &self,
        scope: &Scope,
        call: &Call<'_>,
    ) -> Result<RawResponse, ApiError> {
        let events = self.events;
        let url = call.url;
        let mut failed = 0u32;
        let mut throttled = 0u32;
        let mut renewed_credentials = false;
        loop {
            // Before signing: a signature dated before a long wait could be refused.
            self.pacer.wait_turn().await;
            let credentials = self
                .auth
                .credentials(
                    &self.http,
                    self.timeout,
                    &self.retry,
                    call.method.as_str(),
                    url,
                    call.body,
                    call.content_type,
                )
                .await
                .map_err(|e| self.credentials_error(scope, e))?;
            let attempt = failed + 1;
            let (error, retry_after) = match self.send(call, credentials.headers.clone()).await {
                Ok(response) => {
                    tracing::debug!(
                        event = events.response,
                        account = %self.account,
                        project_id = scope.project_label(),
                        method = call.method.as_str(),
                        path = url.path(),
                        status = response.status.as_u16(),
                        attempt,
                        "{} answered",
                        events.api
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
                            event = events.throttled,
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
                        return Ok(response);
                    }
                    if response.status == StatusCode::UNAUTHORIZED
                        && !renewed_credentials
                        && self.auth.renew_after_rejection(&credentials).await
                    {
                        renewed_credentials = true;
                        tracing::debug!(event = events.reauthenticating, account = %self.account, project_id = scope.project_label(), "token refused; logging in to IAM again");
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
                        event = events.request_failed,
                        account = %self.account,
                        project_id = scope.project_label(),
                        method = call.method.as_str(),
                        path = url.path(),
                        kind = failure.kind.as_str(),
                        attempt,
                        "{} request failed",
                        events.api
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
                event = events.retrying,
                account = %self.account,
                project_id = scope.project_label(),
                attempt = failed + 1,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "retrying the {} request",
                events.api
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// One request with the given auth headers; the body is read in full (within the
    /// timeout), up to [`MAX_BODY_BYTES`].
    async fn send(
        &self,
        call: &Call<'_>,
        auth_headers: Vec<(HeaderName, HeaderValue)>,
    ) -> Result<RawResponse, SendFailure> {
        let mut request = self
            .http
            .request(call.method.clone(), call.url.clone())
            .timeout(self.timeout)
            .header(USER_AGENT, crate::USER_AGENT)
            .header(ACCEPT, "application/json");
        let mut content_type_sent = false;
        for (name, value) in auth_headers {
            content_type_sent |= name == reqwest::header::CONTENT_TYPE;
            request = request.header(name, value);
        }
        if let (Some(content_type), false) = (call.content_type, content_type_sent) {
            request = request.header(reqwest::header::CONTENT_TYPE, content_type);
        }
        if !call.body.is_empty() {
            request = request.body(call.body.to_vec());
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

    /// An error of this account's `scope`, without HTTP details.
    pub(crate) fn error(&self, scope: &Scope, kind: ApiErrorKind, message: String) -> ApiError {
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
            CredentialsError::DomainLookup(lookup) => ApiError {
                http_status: lookup.http_status,
                code: lookup.code.clone(),
                request_id: lookup.request_id.clone(),
                ..self.error(scope, ApiErrorKind::Login, lookup.to_string())
            },
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

    /// A 2xx answer that could not be read as one.
    pub(crate) fn parse_error(
        &self,
        scope: &Scope,
        response: &RawResponse,
        message: String,
    ) -> ApiError {
        ApiError {
            http_status: Some(response.status.as_u16()),
            request_id: request_id_header(&response.headers),
            ..self.error(scope, ApiErrorKind::Parse, message)
        }
    }

    /// What the reader of a 2xx answer found, or the error the answer is: the error body it
    /// carries, valid JSON in no shape its API documents, or no JSON at all.
    // `ApiError`'s fields are the public contract; an error is built once per failed call.
    #[allow(clippy::result_large_err)]
    pub(crate) fn read<T>(
        &self,
        scope: &Scope,
        response: &RawResponse,
        answer: Answer<T>,
    ) -> Result<T, ApiError> {
        match answer {
            Answer::Read(value) => Ok(value),
            Answer::Error(body) => Err(self.answered_error(scope, response, body)),
            Answer::Unexpected { reason } => {
                Err(self.parse_error(scope, response, format!("unexpected response: {reason}")))
            }
            Answer::NotJson { prefix } => {
                Err(self.parse_error(scope, response, not_json_message(&prefix)))
            }
        }
    }

    /// A 2xx answer that carries an error body.
    fn answered_error(&self, scope: &Scope, response: &RawResponse, body: ErrorBody) -> ApiError {
        let kind = if is_auth_code(body.code.as_deref()) {
            ApiErrorKind::Auth
        } else {
            ApiErrorKind::Api
        };
        self.body_error(
            scope,
            kind,
            response.status.as_u16(),
            request_id_header(&response.headers),
            body,
        )
    }

    /// A non-2xx answer, in whichever shape its body has.
    fn http_error(&self, scope: &Scope, response: RawResponse) -> ApiError {
        let status = response.status;
        let header_request_id = request_id_header(&response.headers);
        let body = match json_object(&response.body) {
            Ok(object) => error_of(&object).unwrap_or_default(),
            Err(NotObject::NotJson(prefix)) if !prefix.is_empty() => ErrorBody {
                message: Some(not_json_message(&prefix)),
                ..ErrorBody::default()
            },
            Err(_) => ErrorBody::default(),
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

/// The gateway says the credentials themselves are wrong (`APIG.0301`: bad or expired token or
/// signature), which holds for every scope of the account; any other auth error (a 403, a
/// permission missing for one project) is that scope's alone.
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

    /// The daemon polls accounts from spawned tasks: the gateway and its futures must be `Send`.
    #[test]
    fn gateway_and_calls_can_cross_threads() {
        fn is_send_sync<T: Send + Sync>() {}
        fn is_send<T: Send>(_: &T) {}
        is_send_sync::<Gateway>();
        let _check = |gateway: &Gateway, scope: &Scope, call: &Call<'_>| {
            let future = gateway.call(scope, call);
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

    #[test]
    fn error_shapes_are_told_from_answers() {
        let object = |v: Value| v.as_object().cloned().expect("object");
        let billing = error_of(&object(
            serde_json::json!({"error_code": "CBC.0150", "error_msg": "access denied"}),
        ))
        .expect("an error");
        assert_eq!(billing.code.as_deref(), Some("CBC.0150"));
        assert!(error_of(&object(serde_json::json!({"total_count": 0, "data": []}))).is_none());
        assert!(error_of(&object(
            serde_json::json!({"status": "success", "error_code": "x", "result": {}})
        ))
        .is_none());
    }
}
