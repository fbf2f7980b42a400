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

mod access_key;
mod password;

use access_key::*;
use password::*;

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
