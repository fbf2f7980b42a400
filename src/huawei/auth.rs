//! The three ways an account authenticates, behind one type: the client asks for the headers
//! of a request and says when the API rejected them; which method is in use stays in here.
//!
//! - `token`: a static IAM token in `X-Auth-Token`.
//! - `password`: a token from an IAM login, cached and shared by all projects of the account,
//!   refreshed an hour before it expires, and renewed once when the API rejects it.
//! - `aksk`: every request signed with `SDK-HMAC-SHA256` (see [`super::signer`]).
//!
//! Regional services (CodeArts) and global ones (billing) take different credentials from the
//! same account config ([`ServiceScope`]): a project-scoped token or `X-Project-Id` for the
//! first, a domain-scoped token or `X-Domain-Id` for the second. Each source builds its own
//! [`Authenticator`], so the two kinds of token are cached apart.

use super::error::ClientError;
use super::iam::{IssuedToken, LoginError, LoginScope, PasswordLogin};
use super::signer;
use crate::backoff::Backoff;
use crate::config::{AccountConfig, AuthConfig, Secret};
use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION, HOST};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;
use url::Url;

const AUTH_TOKEN_HEADER: &str = "X-Auth-Token";
const SECURITY_TOKEN_HEADER: &str = "X-Security-Token";
const PROJECT_ID_HEADER: &str = "X-Project-Id";
const DOMAIN_ID_HEADER: &str = "X-Domain-Id";
/// IAM's list of the domains the credentials belong to: the account's domain id.
pub(crate) const IAM_DOMAINS_PATH: &str = "/v3/auth/domains";
/// The largest answer of the domain lookup read (it lists one domain).
const MAX_DOMAINS_BYTES: usize = 64 * 1024;

/// What kind of service credentials are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServiceScope {
    /// A service of one region (CodeArts): project-scoped tokens, `X-Project-Id`.
    Regional,
    /// A global service (billing): domain-scoped tokens, `X-Domain-Id`.
    Global,
}

/// How long before its expiry a cached token is replaced (at most half its lifetime).
const TOKEN_REFRESH_MARGIN: TimeDelta = TimeDelta::hours(1);
/// How long a rejected login is remembered: the projects of one cycle share one failed
/// attempt instead of each trying (IAM locks a user after a few wrong passwords).
const LOGIN_REJECTION_HOLD: TimeDelta = TimeDelta::minutes(10);

/// The headers that authenticate one request.
pub(crate) struct Credentials {
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    /// Which cached IAM token these headers carry (password method only).
    token_generation: Option<u64>,
}

/// Why no credentials could be produced.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum CredentialsError {
    #[error(transparent)]
    Login(#[from] LoginError),
    #[error("cannot build the {0} header")]
    Header(&'static str),
    #[error(transparent)]
    DomainLookup(#[from] DomainLookupError),
}

/// The account's domain id could not be looked up from IAM.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("looking up the account's domain id at IAM ({IAM_DOMAINS_PATH}) failed: {reason}")]
pub(crate) struct DomainLookupError {
    pub http_status: Option<u16>,
    pub code: Option<String>,
    pub reason: String,
    pub request_id: Option<String>,
}

/// An account's authentication method.
pub(crate) enum Authenticator {
    Token(HeaderValue),
    // Boxed: the session (token cache, lock) is much larger than the other methods.
    Password(Box<PasswordSession>),
    // Boxed: with its domain-id lookup (lock, URL) it is much larger than a token.
    Aksk(Box<AccessKey>),
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.method())
    }
}

impl Authenticator {
    /// The credentials of a regional service (CodeArts).
    pub(crate) fn from_config(account: &AccountConfig) -> Result<Self, ClientError> {
        Self::for_service(account, ServiceScope::Regional)
    }

    /// The credentials of `account` for a service of kind `service`.
    pub(crate) fn for_service(
        account: &AccountConfig,
        service: ServiceScope,
    ) -> Result<Self, ClientError> {
        let name = &account.name;
        let missing = |field| ClientError::MissingSecret {
            account: name.clone(),
            field,
        };
        match &account.auth {
            AuthConfig::Token { token, .. } => {
                let token = token
                    .as_ref()
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| missing("auth.token"))?;
                Ok(Authenticator::Token(
                    sensitive_value(token.expose()).ok_or_else(|| {
                        invalid(
                            name,
                            "auth.token",
                            "contains characters not allowed in a header",
                        )
                    })?,
                ))
            }
            AuthConfig::Password {
                domain,
                user,
                password,
                project,
                ..
            } => {
                let password = password
                    .clone()
                    .filter(|p| !p.is_empty())
                    .ok_or_else(|| missing("auth.password"))?;
                let iam_base = account
                    .iam_base()
                    .ok_or_else(|| ClientError::NoIamEndpoint {
                        account: name.clone(),
                    })?;
                check_base_url(name, "IAM endpoint", &iam_base)?;
                let scope = match service {
                    ServiceScope::Regional => LoginScope::Project(
                        project
                            .clone()
                            .or_else(|| account.region.clone())
                            .ok_or_else(|| ClientError::NoIamProject {
                                account: name.clone(),
                            })?,
                    ),
                    ServiceScope::Global => LoginScope::Domain,
                };
                Ok(Authenticator::Password(Box::new(PasswordSession {
                    login: PasswordLogin {
                        iam_base,
                        domain: domain.clone(),
                        user: user.clone(),
                        password,
                        scope,
                    },
                    cache: Mutex::new(TokenCache::Empty),
                    generations: AtomicU64::new(0),
                })))
            }
            AuthConfig::Aksk {
                ak,
                sk,
                security_token,
                project_id,
                domain_id,
                ..
            } => {
                let sk = sk
                    .clone()
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| missing("auth.sk"))?;
                if HeaderValue::from_str(ak).is_err() {
                    return Err(invalid(
                        name,
                        "auth.ak",
                        "contains characters not allowed in a header",
                    ));
                }
                let security_token = match security_token.as_ref().filter(|t| !t.is_empty()) {
                    Some(t) if sensitive_value(t.expose()).is_none() => {
                        return Err(invalid(
                            name,
                            "auth.security_token",
                            "contains characters not allowed in a header",
                        ))
                    }
                    other => other.cloned(),
                };
                if project_id
                    .as_deref()
                    .is_some_and(|p| HeaderValue::from_str(p).is_err())
                {
                    return Err(invalid(
                        name,
                        "auth.project_id",
                        "contains characters not allowed in a header",
                    ));
                }
                if domain_id
                    .as_deref()
                    .is_some_and(|d| HeaderValue::from_str(d).is_err())
                {
                    return Err(invalid(
                        name,
                        "auth.domain_id",
                        "contains characters not allowed in a header",
                    ));
                }
                let (project_id, domain) = match service {
                    ServiceScope::Regional => (project_id.clone(), None),
                    ServiceScope::Global => {
                        let domain = match domain_id {
                            Some(id) => DomainId::Configured(id.clone()),
                            None => {
                                let iam_base = account.iam_base().ok_or_else(|| {
                                    ClientError::NoIamEndpoint {
                                        account: name.clone(),
                                    }
                                })?;
                                let url = check_base_url(
                                    name,
                                    "IAM endpoint",
                                    &format!("{iam_base}{IAM_DOMAINS_PATH}"),
                                )?;
                                DomainId::Lookup {
                                    url,
                                    found: Mutex::new(None),
                                }
                            }
                        };
                        (None, Some(domain))
                    }
                };
                Ok(Authenticator::Aksk(Box::new(AccessKey {
                    ak: ak.clone(),
                    sk,
                    security_token,
                    project_id,
                    domain,
                })))
            }
        }
    }

    pub(crate) fn method(&self) -> &'static str {
        match self {
            Authenticator::Token(_) => "token",
            Authenticator::Password(_) => "password",
            Authenticator::Aksk(_) => "aksk",
        }
    }

    /// The headers that authenticate a `method` request to `url` with `body` (may log in, or
    /// look the domain id up). A `content_type` is signed too, as the official SDK signs the
    /// `Content-Type` of a request with a body: the request must send exactly that one, from
    /// these headers.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn credentials(
        &self,
        http: &reqwest::Client,
        timeout: Duration,
        policy: &Backoff,
        method: &str,
        url: &Url,
        body: &[u8],
        content_type: Option<&str>,
    ) -> Result<Credentials, CredentialsError> {
        match self {
            Authenticator::Token(token) => Ok(Credentials {
                headers: vec![(HeaderName::from_static("x-auth-token"), token.clone())],
                token_generation: None,
            }),
            Authenticator::Password(session) => {
                let (token, generation) = session.token(http, timeout, policy).await?;
                let value = sensitive_value(token.expose())
                    .ok_or(CredentialsError::Header(AUTH_TOKEN_HEADER))?;
                Ok(Credentials {
                    headers: vec![(HeaderName::from_static("x-auth-token"), value)],
                    token_generation: Some(generation),
                })
            }
            Authenticator::Aksk(key) => {
                let domain_id = key.domain_id(http, timeout, policy).await?;
                let request = SignedRequest {
                    method,
                    url,
                    body,
                    content_type,
                    domain_id: domain_id.as_deref(),
                };
                key.sign(&request, Utc::now())
            }
        }
    }

    /// The API rejected `used` with a 401: true when fresh credentials may succeed (a new IAM
    /// login), false when the same request would only be rejected again (static token, AK/SK).
    pub(crate) async fn renew_after_rejection(&self, used: &Credentials) -> bool {
        match (self, used.token_generation) {
            (Authenticator::Password(session), Some(generation)) => {
                session.forget(generation).await;
                true
            }
            _ => false,
        }
    }
}

fn invalid(account: &str, field: &'static str, reason: &'static str) -> ClientError {
    ClientError::InvalidCredential {
        account: account.to_string(),
        field,
        reason,
    }
}

/// Checks that a base URL parses and is http(s) (config validation says which are allowed).
pub(crate) fn check_base_url(
    account: &str,
    what: &'static str,
    base: &str,
) -> Result<Url, ClientError> {
    let error = |reason: String| ClientError::InvalidEndpoint {
        account: account.to_string(),
        what,
        url: base.to_string(),
        reason,
    };
    let url = Url::parse(base).map_err(|e| error(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(error("must be an http(s) URL with a host".into()));
    }
    Ok(url)
}

/// A header value marked sensitive, so that HTTP libraries never print it.
fn sensitive_value(secret: &str) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(secret).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// The `Host` header reqwest sends for `url`: the host, plus `:port` when it is not the
/// scheme's default. Signed requests set it explicitly so that what is signed is what is sent.
pub(crate) fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// password
// ---------------------------------------------------------------------------------------------

pub(crate) struct PasswordSession {
    login: PasswordLogin,
    /// Held during a login, so concurrent polls of one account wait for one login.
    cache: Mutex<TokenCache>,
    generations: AtomicU64,
}

enum TokenCache {
    Empty,
    Valid {
        token: Secret,
        refresh_at: DateTime<Utc>,
        generation: u64,
    },
    /// IAM refused the credentials; the same answer is given until `retry_at`.
    Rejected {
        error: LoginError,
        retry_at: DateTime<Utc>,
    },
}

impl PasswordSession {
    /// The cached token, or a fresh one from IAM.
    async fn token(
        &self,
        http: &reqwest::Client,
        timeout: Duration,
        policy: &Backoff,
    ) -> Result<(Secret, u64), LoginError> {
        let mut cache = self.cache.lock().await;
        let now = Utc::now();
        match &*cache {
            TokenCache::Valid {
                token,
                refresh_at,
                generation,
            } if now < *refresh_at => return Ok((token.clone(), *generation)),
            TokenCache::Rejected { error, retry_at } if now < *retry_at => {
                return Err(error.clone())
            }
            _ => {}
        }
        match self.login.login(http, timeout, policy).await {
            Ok(IssuedToken { token, expires_at }) => {
                let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
                let refresh_at = refresh_time(Utc::now(), expires_at);
                tracing::debug!(
                    event = "iam.logged_in",
                    user = %self.login.user,
                    domain = %self.login.domain,
                    expires_at = %expires_at.to_rfc3339(),
                    "logged in to IAM"
                );
                *cache = TokenCache::Valid {
                    token: token.clone(),
                    refresh_at,
                    generation,
                };
                Ok((token, generation))
            }
            Err(error) => {
                *cache = if error.is_rejection() {
                    TokenCache::Rejected {
                        error: error.clone(),
                        retry_at: Utc::now() + LOGIN_REJECTION_HOLD,
                    }
                } else {
                    TokenCache::Empty
                };
                Err(error)
            }
        }
    }

    /// Drops the cached token if it is still the one of `generation` (another poll may
    /// already have replaced it: then that new token is kept, and no second login happens).
    async fn forget(&self, generation: u64) {
        let mut cache = self.cache.lock().await;
        if matches!(&*cache, TokenCache::Valid { generation: g, .. } if *g == generation) {
            *cache = TokenCache::Empty;
        }
    }
}

/// When to replace a token issued `now` that expires at `expires_at`: an hour before expiry,
/// or halfway through its life when it lives less than two hours.
fn refresh_time(now: DateTime<Utc>, expires_at: DateTime<Utc>) -> DateTime<Utc> {
    let life = expires_at - now;
    let margin = TOKEN_REFRESH_MARGIN.min(life / 2);
    expires_at - margin.max(TimeDelta::zero())
}

// ---------------------------------------------------------------------------------------------
// aksk
// ---------------------------------------------------------------------------------------------

pub(crate) struct AccessKey {
    ak: String,
    sk: Secret,
    security_token: Option<Secret>,
    /// Sent as `X-Project-Id` (regional services).
    project_id: Option<String>,
    /// Sent as `X-Domain-Id` (global services).
    domain: Option<DomainId>,
}

/// Where a global service's `X-Domain-Id` comes from.
enum DomainId {
    Configured(String),
    /// Looked up from IAM at the first request, then kept for the life of the source.
    Lookup {
        url: Url,
        found: Mutex<Option<String>>,
    },
}

/// What of a request the signature covers.
struct SignedRequest<'a> {
    method: &'a str,
    url: &'a Url,
    body: &'a [u8],
    content_type: Option<&'a str>,
    domain_id: Option<&'a str>,
}

impl AccessKey {
    /// The `X-Domain-Id` to send: configured, cached, or looked up from IAM now (one lookup at
    /// a time; concurrent requests wait for it). `None` for a regional service.
    async fn domain_id(
        &self,
        http: &reqwest::Client,
        timeout: Duration,
        policy: &Backoff,
    ) -> Result<Option<String>, CredentialsError> {
        match &self.domain {
            None => Ok(None),
            Some(DomainId::Configured(id)) => Ok(Some(id.clone())),
            Some(DomainId::Lookup { url, found }) => {
                let mut found = found.lock().await;
                if let Some(id) = &*found {
                    return Ok(Some(id.clone()));
                }
                let id = self.look_up_domain_id(http, timeout, policy, url).await?;
                tracing::debug!(
                    event = "iam.domain_id_found",
                    domain_id = %id,
                    "looked up the account's domain id"
                );
                *found = Some(id.clone());
                Ok(Some(id))
            }
        }
    }

    /// `GET /v3/auth/domains`, signed like any request (without `X-Domain-Id`), retrying
    /// transient failures; the first domain's `id`.
    async fn look_up_domain_id(
        &self,
        http: &reqwest::Client,
        timeout: Duration,
        policy: &Backoff,
        url: &Url,
    ) -> Result<String, DomainLookupError> {
        let mut failed = 0;
        loop {
            let request = SignedRequest {
                method: "GET",
                url,
                body: b"",
                content_type: None,
                domain_id: None,
            };
            let credentials = self
                .sign(&request, Utc::now())
                .map_err(|e| DomainLookupError {
                    http_status: None,
                    code: None,
                    reason: e.to_string(),
                    request_id: None,
                })?;
            let mut builder = http
                .get(url.clone())
                .timeout(timeout)
                .header(reqwest::header::ACCEPT, "application/json");
            for (name, value) in credentials.headers {
                builder = builder.header(name, value);
            }
            let (error, retry_after) = match builder.send().await {
                Ok(mut response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    match crate::capped::read(&mut response, MAX_DOMAINS_BYTES).await {
                        Ok(body) if status.is_success() && !body.too_large => {
                            return read_domains(&body.bytes).ok_or_else(|| DomainLookupError {
                                http_status: Some(status.as_u16()),
                                code: None,
                                reason: "IAM listed no domain with an id".into(),
                                request_id: super::gateway::request_id_header(&headers),
                            });
                        }
                        Ok(body) => {
                            let error = lookup_rejection(status.as_u16(), &headers, &body.bytes);
                            if !super::retry::is_transient(status) {
                                return Err(error);
                            }
                            (error, super::retry::retry_after(&headers))
                        }
                        Err(e) => (
                            DomainLookupError {
                                http_status: Some(status.as_u16()),
                                code: None,
                                reason: super::error::transport_reason(&e),
                                request_id: None,
                            },
                            None,
                        ),
                    }
                }
                Err(e) => (
                    DomainLookupError {
                        http_status: None,
                        code: None,
                        reason: super::error::transport_reason(&e),
                        request_id: None,
                    },
                    None,
                ),
            };
            failed += 1;
            if !policy.allows_retry(failed) {
                return Err(error);
            }
            tokio::time::sleep(policy.delay_or_capped(failed, retry_after)).await;
        }
    }

    /// Signs a request made `at`: `Host`, `X-Sdk-Date` and, when set, `Content-Type`,
    /// `X-Project-Id`, `X-Domain-Id` and `X-Security-Token` are signed (as the official SDK
    /// does), then `Authorization` is added.
    // Errors are rare and moved once; boxing them would only add noise.
    #[allow(clippy::result_large_err)]
    fn sign(
        &self,
        request: &SignedRequest<'_>,
        at: DateTime<Utc>,
    ) -> Result<Credentials, CredentialsError> {
        let SignedRequest {
            method,
            url,
            body,
            content_type,
            domain_id,
        } = *request;
        let mut signed: Vec<(String, String)> = vec![
            (HOST.as_str().to_string(), host_header(url)),
            (signer::HEADER_SDK_DATE.to_string(), signer::sdk_date(at)),
        ];
        if let Some(content_type) = content_type {
            signed.push((
                reqwest::header::CONTENT_TYPE.as_str().to_string(),
                content_type.to_string(),
            ));
        }
        if let Some(project_id) = &self.project_id {
            signed.push((PROJECT_ID_HEADER.to_string(), project_id.clone()));
        }
        if let Some(domain_id) = domain_id {
            signed.push((DOMAIN_ID_HEADER.to_string(), domain_id.to_string()));
        }
        if let Some(token) = &self.security_token {
            signed.push((
                SECURITY_TOKEN_HEADER.to_string(),
                token.expose().to_string(),
            ));
        }
        let query: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let input = signer::SigningInput {
            method,
            path: url.path(),
            query: &query,
            headers: &signed,
            body,
        };
        let signature = signer::sign(&input, &self.ak, self.sk.expose())
            .ok_or(CredentialsError::Header(signer::HEADER_SDK_DATE))?;

        let mut headers = Vec::with_capacity(signed.len() + 1);
        for (name, value) in &signed {
            let header_name = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
                .map_err(|_| CredentialsError::Header("signed"))?;
            let header_value = if name == SECURITY_TOKEN_HEADER {
                sensitive_value(value)
            } else {
                HeaderValue::from_str(value).ok()
            };
            headers.push((
                header_name,
                header_value.ok_or(CredentialsError::Header("signed"))?,
            ));
        }
        headers.push((
            AUTHORIZATION,
            sensitive_value(&signature.authorization)
                .ok_or(CredentialsError::Header("Authorization"))?,
        ));
        Ok(Credentials {
            headers,
            token_generation: None,
        })
    }
}

/// The first domain's id in IAM's `{"domains": [{"id", "name"}, …]}`.
fn read_domains(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value
        .get("domains")?
        .as_array()?
        .iter()
        .find_map(|d| d.get("id")?.as_str().filter(|id| !id.is_empty()))
        .map(str::to_string)
}

/// An IAM refusal of the lookup, with IAM's code and message when it gave them.
fn lookup_rejection(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
) -> DomainLookupError {
    let value: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let field = |v: &serde_json::Value, name: &str| {
        v.get(name).and_then(|s| s.as_str()).map(str::to_string)
    };
    let (code, message) = match &value {
        Some(v) if v.get("error").is_some_and(|e| e.is_object()) => {
            (None, field(&v["error"], "message"))
        }
        Some(v) => (field(v, "error_code"), field(v, "error_msg")),
        None => (None, None),
    };
    let reason = message.unwrap_or_else(|| {
        let hint = if status == 403 {
            " (the user needs iam:users:getUser, or set auth.domain_id)"
        } else {
            ""
        };
        format!("HTTP {status}{hint}")
    });
    DomainLookupError {
        http_status: Some(status),
        code,
        reason,
        request_id: super::gateway::request_id_header(headers),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_header_keeps_non_default_ports_only() {
        let url = |s: &str| Url::parse(s).unwrap();
        assert_eq!(
            host_header(&url("http://127.0.0.1:8080/x")),
            "127.0.0.1:8080"
        );
        assert_eq!(
            host_header(&url("https://example.com:443/x")),
            "example.com"
        );
        assert_eq!(
            host_header(&url("https://example.com:8443/x")),
            "example.com:8443"
        );
        assert_eq!(host_header(&url("http://[::1]:9000/")), "[::1]:9000");
    }

    #[test]
    fn tokens_are_refreshed_an_hour_early_or_halfway() {
        let now = Utc::now();
        let day = now + TimeDelta::hours(24);
        assert_eq!(refresh_time(now, day), day - TimeDelta::hours(1));
        let short = now + TimeDelta::minutes(40);
        assert_eq!(refresh_time(now, short), now + TimeDelta::minutes(20));
        let past = now - TimeDelta::minutes(5);
        assert_eq!(refresh_time(now, past), past);
    }

    #[test]
    fn signed_request_matches_the_package_info_vector() {
        // Same inputs as the `package-info-with-project` vector, but through the request path.
        let key = AccessKey {
            ak: "HPUAEXAMPLEAK0000001".into(),
            sk: Secret::new("ExampleSecretKey0123456789abcdefghijklmn"),
            security_token: None,
            project_id: None,
            domain: None,
        };
        let url = Url::parse(
            "https://cloudartifacts-ext.cn-north-4.myhuaweicloud.com/devreposerver/v5/data/package/info?project_id=666666af0f00445f85dec483fbc97c78",
        )
        .unwrap();
        let at = DateTime::parse_from_rfc3339("2024-06-19T03:10:05Z")
            .unwrap()
            .with_timezone(&Utc);
        let request = SignedRequest {
            method: "GET",
            url: &url,
            body: b"",
            content_type: None,
            domain_id: None,
        };
        let credentials = key.sign(&request, at).unwrap();
        let authorization = credentials
            .headers
            .iter()
            .find(|(n, _)| *n == AUTHORIZATION)
            .map(|(_, v)| v.to_str().unwrap().to_string())
            .unwrap();
        assert_eq!(
            authorization,
            "SDK-HMAC-SHA256 Access=HPUAEXAMPLEAK0000001, SignedHeaders=host;x-sdk-date, Signature=f49c159d45602a943f8248c81fc0433fc242ac83f520e58d5408012f6321cc41"
        );
    }

    /// Every global-service vector (billing, and IAM's domain lookup), through the path a
    /// request takes: the key adds `Host`, `X-Sdk-Date`, `Content-Type`, `X-Domain-Id` and
    /// `X-Security-Token` itself and must send exactly the headers the SDK signed.
    #[test]
    fn signed_requests_match_every_global_vector() {
        let mut checked = 0;
        for file in ["billing_vectors.json", "global_vectors.json"] {
            let path = format!(
                "{}/tests/fixtures/signing/{file}",
                env!("CARGO_MANIFEST_DIR")
            );
            let text = std::fs::read_to_string(path).expect("vectors are readable");
            let vectors: serde_json::Value = serde_json::from_str(&text).expect("vectors parse");
            for v in vectors["vectors"].as_array().expect("a list") {
                let text = |name: &str| v[name].as_str().expect(name).to_string();
                let headers = v["headers"].as_object().expect("headers");
                let header = |name: &str| headers.get(name).and_then(|h| h.as_str());
                let key = AccessKey {
                    ak: text("ak"),
                    sk: Secret::new(text("sk")),
                    security_token: header("X-Security-Token").map(Secret::new),
                    project_id: None,
                    domain: None,
                };
                let url =
                    Url::parse(&format!("https://{}{}", text("host"), text("path"))).expect("url");
                let at = chrono::NaiveDateTime::parse_from_str(
                    header("X-Sdk-Date").expect("date"),
                    signer::SDK_DATE_FORMAT,
                )
                .expect("date")
                .and_utc();
                let body = text("body");
                let request = SignedRequest {
                    method: &text("method"),
                    url: &url,
                    body: body.as_bytes(),
                    content_type: header("Content-Type"),
                    domain_id: header("X-Domain-Id"),
                };
                let credentials = key.sign(&request, at).expect("signs");
                let sent: std::collections::BTreeMap<String, String> = credentials
                    .headers
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_str().expect("ascii").to_string()))
                    .collect();
                let mut expected: std::collections::BTreeMap<String, String> = headers
                    .iter()
                    .map(|(n, v)| (n.to_ascii_lowercase(), v.as_str().unwrap_or("").into()))
                    .collect();
                expected.insert("authorization".into(), text("authorization"));
                assert_eq!(sent, expected, "{}", text("name"));
                checked += 1;
            }
        }
        assert_eq!(checked, 7);
    }

    #[test]
    fn the_first_domain_id_is_read() {
        assert_eq!(
            read_domains(br#"{"domains":[{"id":"d0d0","name":"corp"}],"links":{}}"#).as_deref(),
            Some("d0d0")
        );
        assert_eq!(read_domains(br#"{"domains":[]}"#), None);
        assert_eq!(read_domains(b"<html>"), None);
    }
}
