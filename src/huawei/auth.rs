//! The three ways an account authenticates, behind one type: the client asks for the headers
//! of a request and says when the API rejected them; which method is in use stays in here.
//!
//! - `token`: a static IAM token in `X-Auth-Token`.
//! - `password`: a token from an IAM login, cached and shared by all projects of the account,
//!   refreshed an hour before it expires, and renewed once when the API rejects it.
//! - `aksk`: every request signed with `SDK-HMAC-SHA256` (see [`super::signer`]).

use super::error::ClientError;
use super::iam::{IssuedToken, LoginError, PasswordLogin};
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
}

/// An account's authentication method.
pub(crate) enum Authenticator {
    Token(HeaderValue),
    // Boxed: the session (token cache, lock) is much larger than the other methods.
    Password(Box<PasswordSession>),
    Aksk(AccessKey),
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.method())
    }
}

impl Authenticator {
    pub(crate) fn from_config(account: &AccountConfig) -> Result<Self, ClientError> {
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
                let project = project
                    .clone()
                    .or_else(|| account.region.clone())
                    .ok_or_else(|| ClientError::NoIamProject {
                        account: name.clone(),
                    })?;
                Ok(Authenticator::Password(Box::new(PasswordSession {
                    login: PasswordLogin {
                        iam_base,
                        domain: domain.clone(),
                        user: user.clone(),
                        password,
                        project,
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
                Ok(Authenticator::Aksk(AccessKey {
                    ak: ak.clone(),
                    sk,
                    security_token,
                    project_id: project_id.clone(),
                }))
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

    /// The headers that authenticate a `method` request to `url` with `body` (may log in).
    pub(crate) async fn credentials(
        &self,
        http: &reqwest::Client,
        timeout: Duration,
        policy: &Backoff,
        method: &str,
        url: &Url,
        body: &[u8],
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
            Authenticator::Aksk(key) => key.sign(method, url, body, Utc::now()),
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
    project_id: Option<String>,
}

impl AccessKey {
    /// Signs a request made `at`: `Host`, `X-Sdk-Date` and, when set, `X-Project-Id` and
    /// `X-Security-Token` are signed (as the official SDK does), then `Authorization` is added.
    // Errors are rare and moved once; boxing them would only add noise.
    #[allow(clippy::result_large_err)]
    fn sign(
        &self,
        method: &str,
        url: &Url,
        body: &[u8],
        at: DateTime<Utc>,
    ) -> Result<Credentials, CredentialsError> {
        let mut signed: Vec<(String, String)> = vec![
            (HOST.as_str().to_string(), host_header(url)),
            (signer::HEADER_SDK_DATE.to_string(), signer::sdk_date(at)),
        ];
        if let Some(project_id) = &self.project_id {
            signed.push((PROJECT_ID_HEADER.to_string(), project_id.clone()));
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
        };
        let url = Url::parse(
            "https://cloudartifacts-ext.cn-north-4.myhuaweicloud.com/devreposerver/v5/data/package/info?project_id=666666af0f00445f85dec483fbc97c78",
        )
        .unwrap();
        let at = DateTime::parse_from_rfc3339("2024-06-19T03:10:05Z")
            .unwrap()
            .with_timezone(&Utc);
        let credentials = key.sign("GET", &url, b"", at).unwrap();
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
}
