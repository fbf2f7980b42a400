//! A fake Huawei Cloud on 127.0.0.1 for integration tests: the CodeArts `package/info` API
//! behind a gateway that authenticates like the real one (IAM tokens in `X-Auth-Token`, AK/SK
//! signatures recomputed and compared, a 15-minute window on `X-Sdk-Date`), and the IAM
//! password login that issues tokens.
//!
//! Packages are programmable per project (default: the documented example), each project can
//! be switched into a failure mode, and requests, logins and the last headers are recorded.
//!
//! The signature check is written here from the specification on purpose, independently of
//! `renewd::huawei::signer`, so that the two check each other.
//!
//! The billing API (a global service, see fake_billing.rs) is served too: its gateway takes
//! only domain-scoped tokens, and signatures that sign the `X-Domain-Id` of the access key's
//! account; IAM's `GET /v3/auth/domains` tells a signed caller that id.

use super::fake_billing::{
    BillingState, PageFault, BALANCES_PATH, IAM_DOMAINS_PATH, RENEW_RATE_PATH, RESOURCES_QUERY_PATH,
};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use renewd::config::{AccountConfig, AuthConfig, Secret};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub const PACKAGE_INFO_PATH: &str = "/devreposerver/v5/data/package/info";
pub const IAM_TOKENS_PATH: &str = "/v3/auth/tokens";
/// ProjectMan's project list (`ListProjectsV4`).
pub const PROJECTS_PATH: &str = "/v4/projects";

const EXAMPLE: &str = include_str!("../fixtures/codearts/package_info_example.json");
const V5_UNAUTHORIZED: &str = include_str!("../fixtures/codearts/error_v5_unauthorized.json");
const GATEWAY_TOKEN_EXPIRED: &str =
    include_str!("../fixtures/codearts/error_gateway_token_expired.json");
const NO_PERMISSION: &str = include_str!("../fixtures/codearts/error_no_permission.json");

/// How far `X-Sdk-Date` may be from the server's clock.
const SDK_DATE_WINDOW: TimeDelta = TimeDelta::minutes(15);
/// Lifetime of tokens IAM issues.
const TOKEN_LIFETIME: TimeDelta = TimeDelta::hours(24);

/// A way for the package API of one project to fail (after authentication passed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 500 with a JSON error body.
    ServerError,
    /// 200 with an HTML body.
    NonJson,
    /// 200 with `{"status":"error",…}`.
    StatusError,
    /// Never answers.
    Hang,
    /// 401 with the v5 error fixture (`DEV.00000001`).
    Unauthorized,
    /// 401 with the gateway's `APIG.0301` token-expired fixture.
    GatewayUnauthorized,
    /// 403 with the old `CR.4102` fixture.
    Forbidden,
    /// 429 with `Retry-After: <seconds>`.
    TooManyRequests { retry_after_secs: u64 },
    /// Any status and body.
    Raw { status: u16, body: String },
}

/// What a [`Responder`] serves for one package request.
#[derive(Debug, Clone)]
pub enum Served {
    /// A success with this `result` map.
    Packages(Value),
    Fail(Failure),
}

/// Decides every package request (after authentication) from its project, in place of the
/// programmed packages and failures: for tests whose data follows their own sequence.
pub type Responder = Arc<dyn Fn(Option<&str>) -> Served + Send + Sync>;

/// A failure mode and how many more requests it applies to (`None`: until cleared).
#[derive(Debug, Clone)]
struct FailureMode {
    failure: Failure,
    remaining: Option<u32>,
}

#[derive(Debug, Clone)]
struct AccessKey {
    sk: String,
    /// Temporary keys require this `X-Security-Token`.
    security_token: Option<String>,
}

#[derive(Default)]
struct CloudState {
    /// `result` maps per project; a project without an entry gets the example.
    packages: HashMap<Option<String>, Value>,
    failures: HashMap<Option<String>, FailureMode>,
    requests: HashMap<Option<String>, u32>,
    last_headers: HashMap<Option<String>, HeaderMap>,
    /// Known tokens and whether they have expired.
    tokens: HashMap<String, bool>,
    access_keys: HashMap<String, AccessKey>,
    /// (domain, user, password).
    iam_users: HashSet<(String, String, String)>,
    logins: u32,
    login_scopes: Vec<String>,
    next_id: u64,
    /// How long each package request is held before it is answered.
    latency: Duration,
    /// Package requests being answered now, and the most there ever were at once.
    in_flight: u32,
    max_in_flight: u32,
    responder: Option<Responder>,
    /// Tokens IAM scoped to a domain (the only ones the billing gateway takes).
    domain_tokens: HashSet<String>,
    /// The account (domain) id of each access key.
    key_domains: HashMap<String, String>,
    billing: BillingState,
    /// ProjectMan's projects (ids), in the order it lists them.
    projects: Vec<String>,
    /// The next so many project list requests fail with a 500 (`None`: every one).
    projects_failing: Option<Option<u32>>,
    /// Project list requests that passed the gateway: (offset, limit).
    project_pages: Vec<(u64, u64)>,
}

impl CloudState {
    fn next_request_id(&mut self) -> String {
        self.next_id += 1;
        format!("{:032x}", 0xfa4e_0000_0000_u64 + self.next_id)
    }
}

/// The running fake. Dropping it stops the server.
pub struct FakeCloud {
    addr: SocketAddr,
    state: Arc<Mutex<CloudState>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeCloud {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeCloud {
    /// Starts the fake on an ephemeral port of 127.0.0.1.
    pub async fn start() -> FakeCloud {
        let state = Arc::new(Mutex::new(CloudState::default()));
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeCloud {
            addr,
            state,
            server,
        }
    }

    /// Starts the fake on a runtime of its own, for tests that block (on child processes, say):
    /// the runtime must live as long as the fake.
    pub fn start_on_own_runtime() -> (FakeCloud, tokio::runtime::Runtime) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("fake cloud runtime");
        let cloud = runtime.block_on(FakeCloud::start());
        (cloud, runtime)
    }

    fn state(&self) -> MutexGuard<'_, CloudState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `http://127.0.0.1:<port>`: both the CodeArts endpoint and the IAM endpoint.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sets the `result` map served for `project` (`None`: requests without `project_id`).
    pub fn set_packages(&self, project: Option<&str>, result: Value) {
        self.state()
            .packages
            .insert(project.map(str::to_string), result);
    }

    /// Lets `responder` answer every package request from now on (see [`Responder`]).
    pub fn set_responder(&self, responder: Responder) {
        self.state().responder = Some(responder);
    }

    /// Makes every request for `project` fail this way until cleared.
    pub fn set_failure(&self, project: Option<&str>, failure: Failure) {
        self.state().failures.insert(
            project.map(str::to_string),
            FailureMode {
                failure,
                remaining: None,
            },
        );
    }

    /// Makes the next `times` requests for `project` fail this way, then serves normally.
    pub fn set_failure_times(&self, project: Option<&str>, failure: Failure, times: u32) {
        self.state().failures.insert(
            project.map(str::to_string),
            FailureMode {
                failure,
                remaining: Some(times),
            },
        );
    }

    pub fn clear_failure(&self, project: Option<&str>) {
        self.state().failures.remove(&project.map(str::to_string));
    }

    /// Package API requests seen for `project`, rejected ones included.
    pub fn request_count(&self, project: Option<&str>) -> u32 {
        self.state()
            .requests
            .get(&project.map(str::to_string))
            .copied()
            .unwrap_or(0)
    }

    /// IAM login attempts, failed ones included.
    /// Holds every package request this long before answering it (after authenticating it).
    pub fn set_latency(&self, latency: Duration) {
        self.state().latency = latency;
    }

    /// The most package requests that were ever being answered at the same time.
    pub fn max_in_flight(&self) -> u32 {
        self.state().max_in_flight
    }

    pub fn login_count(&self) -> u32 {
        self.state().logins
    }

    /// The IAM project names logins were scoped to, in order.
    pub fn login_scopes(&self) -> Vec<String> {
        self.state().login_scopes.clone()
    }

    /// Expires every token known so far: the next request with one gets 401 `APIG.0301`.
    pub fn expire_tokens(&self) {
        for expired in self.state().tokens.values_mut() {
            *expired = true;
        }
    }

    /// Accepts a static token.
    pub fn add_token(&self, token: &str) {
        self.state().tokens.insert(token.to_string(), false);
    }

    /// Accepts a permanent access key.
    pub fn add_access_key(&self, ak: &str, sk: &str) {
        self.state().access_keys.insert(
            ak.to_string(),
            AccessKey {
                sk: sk.to_string(),
                security_token: None,
            },
        );
    }

    /// Accepts a temporary access key, valid only with its `X-Security-Token`.
    pub fn add_temporary_access_key(&self, ak: &str, sk: &str, security_token: &str) {
        self.state().access_keys.insert(
            ak.to_string(),
            AccessKey {
                sk: sk.to_string(),
                security_token: Some(security_token.to_string()),
            },
        );
    }

    /// Lets an IAM user log in with this password.
    pub fn set_iam_user(&self, domain: &str, user: &str, password: &str) {
        self.state()
            .iam_users
            .insert((domain.to_string(), user.to_string(), password.to_string()));
    }

    /// The account (domain) id of access key `ak`: what `/v3/auth/domains` answers it, and the
    /// `X-Domain-Id` the billing gateway requires of it.
    pub fn set_key_domain(&self, ak: &str, domain_id: &str) {
        self.state()
            .key_domains
            .insert(ak.to_string(), domain_id.to_string());
    }

    /// Accepts a static token scoped to a domain.
    pub fn add_domain_token(&self, token: &str) {
        let mut s = self.state();
        s.tokens.insert(token.to_string(), false);
        s.domain_tokens.insert(token.to_string());
    }

    /// The billing API's resources, in the order it lists them.
    pub fn set_billing_resources(&self, resources: Vec<Value>) {
        self.state().billing.resources = resources;
    }

    /// After every `after` answered billing pages, one resource more is listed (first), `times`
    /// times.
    pub fn grow_billing_after(&self, after: u32, times: u32) {
        self.state().billing.grow = Some((after, times));
    }

    /// The billing page at `offset` fails with a 500 (`times` times, or always).
    pub fn fail_billing_page(&self, offset: u64, times: Option<u32>) {
        self.state().billing.fault = Some(PageFault {
            offset,
            remaining: times,
        });
    }

    /// Every billing query body the gateway let through, in order.
    pub fn billing_queries(&self) -> Vec<Value> {
        self.state().billing.queries.clone()
    }

    /// One month's renewal price of a main resource, as the API writes it ("532.00").
    pub fn set_renewal_price(&self, resource_id: &str, price: &str) {
        self.state()
            .billing
            .prices
            .insert(resource_id.to_string(), price.to_string());
    }

    /// The answer of the balance query (see `fake_billing::cash_balance`).
    pub fn set_balance(&self, answer: Value) {
        self.state().billing.balance = Some(answer);
    }

    /// Price inquiries and balance queries fail with a 500 (or work again).
    pub fn set_funds_down(&self, down: bool) {
        self.state().billing.funds_down = down;
    }

    /// Every price inquiry body the gateway let through, in order.
    pub fn renew_rate_queries(&self) -> Vec<Value> {
        self.state().billing.renew_rate_queries.clone()
    }

    /// Balance queries the gateway let through.
    pub fn balance_queries(&self) -> u32 {
        self.state().billing.balance_queries
    }

    /// The CodeArts projects ProjectMan lists (`GET /v4/projects`), in order.
    pub fn set_projects(&self, ids: Vec<String>) {
        self.state().projects = ids;
    }

    /// The project list fails with a 500 `times` times (`None`: until cleared).
    pub fn fail_projects(&self, times: Option<u32>) {
        self.state().projects_failing = Some(times);
    }

    pub fn clear_projects_failure(&self) {
        self.state().projects_failing = None;
    }

    /// The (offset, limit) of every project list request the gateway let through.
    pub fn project_pages(&self) -> Vec<(u64, u64)> {
        self.state().project_pages.clone()
    }

    /// `GET /v3/auth/domains` requests that were answered.
    pub fn domain_lookups(&self) -> u32 {
        self.state().billing.domain_lookups
    }

    /// The headers of the last package API request for `project`.
    pub fn last_headers(&self, project: Option<&str>) -> Option<HeaderMap> {
        self.state()
            .last_headers
            .get(&project.map(str::to_string))
            .cloned()
    }

    /// An account on this fake (region `cn-north-4`, endpoint overridden).
    pub fn account(&self, name: &str, projects: &[&str], auth: AuthConfig) -> AccountConfig {
        AccountConfig {
            name: name.to_string(),
            region: Some("cn-north-4".to_string()),
            endpoint: Some(self.url()),
            projects: renewd::config::Projects::List(
                projects.iter().map(|p| p.to_string()).collect(),
            ),
            projectman_endpoint: Some(self.url()),
            max_requests_per_second: renewd::config::DEFAULT_MAX_REQUESTS_PER_SECOND,
            auth,
            packages: true,
            subscriptions: None,
        }
    }

    pub fn token_auth(token: &str) -> AuthConfig {
        AuthConfig::Token {
            token: Some(Secret::new(token)),
            token_file: None,
        }
    }

    /// Password auth against this fake's IAM.
    pub fn password_auth(&self, domain: &str, user: &str, password: &str) -> AuthConfig {
        AuthConfig::Password {
            domain: domain.to_string(),
            user: user.to_string(),
            password: Some(Secret::new(password)),
            password_file: None,
            project: None,
            iam_endpoint: Some(self.url()),
        }
    }

    pub fn aksk_auth(ak: &str, sk: &str) -> AuthConfig {
        AuthConfig::Aksk {
            ak: ak.to_string(),
            sk: Some(Secret::new(sk)),
            sk_file: None,
            security_token: None,
            security_token_file: None,
            project_id: None,
            domain_id: None,
            iam_endpoint: None,
        }
    }
}

/// A reqwest client for tests (installs the ring crypto provider first; no redirects, as
/// `CodeArtsClient::new` asks).
pub fn test_http_client() -> reqwest::Client {
    renewd::app::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("reqwest client builds")
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

type Shared = Arc<Mutex<CloudState>>;

async fn handle(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match (method.clone(), uri.path()) {
        (Method::GET, PACKAGE_INFO_PATH) => {
            package_info(&state, &method, &uri, &headers, &body).await
        }
        (Method::POST, IAM_TOKENS_PATH) => iam_login(&state, &body),
        (Method::POST, RESOURCES_QUERY_PATH)
        | (Method::POST, RENEW_RATE_PATH)
        | (Method::GET, BALANCES_PATH) => billing_query(&state, &method, &uri, &headers, &body),
        (Method::GET, IAM_DOMAINS_PATH) => iam_domains(&state, &method, &uri, &headers),
        (Method::GET, PROJECTS_PATH) => project_list(&state, &method, &uri, &headers),
        _ => {
            let request_id = lock(&state).next_request_id();
            json_response(
                StatusCode::NOT_FOUND,
                &request_id,
                json!({"error_code": "APIG.0101",
                       "error_msg": "The API does not exist or has not been published in the environment",
                       "request_id": request_id}),
            )
        }
    }
}

fn lock(state: &Shared) -> MutexGuard<'_, CloudState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn json_response(status: StatusCode, request_id: &str, body: Value) -> Response {
    text_response(status, request_id, "application/json", body.to_string())
}

fn text_response(
    status: StatusCode,
    request_id: &str,
    content_type: &str,
    body: String,
) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_str(content_type).expect("content type"),
    );
    headers.insert(
        "x-request-id",
        HeaderValue::from_str(request_id).expect("request id"),
    );
    response
}

fn gateway_unauthorized(request_id: &str, message: &str) -> Response {
    json_response(
        StatusCode::UNAUTHORIZED,
        request_id,
        json!({"error_msg": format!("Incorrect IAM authentication information: {message}"),
               "error_code": "APIG.0301",
               "request_id": request_id}),
    )
}

async fn package_info(
    state: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let query = decoded_query(uri.query().unwrap_or(""));
    let project = query
        .iter()
        .find(|(k, _)| k == "project_id")
        .map(|(_, v)| v.clone());
    let (request_id, failure, result) = {
        let mut s = lock(state);
        *s.requests.entry(project.clone()).or_insert(0) += 1;
        s.last_headers.insert(project.clone(), headers.clone());
        let request_id = s.next_request_id();
        if let Err(reason) = authenticate(&s, method, uri.path(), &query, headers, body) {
            return gateway_unauthorized(&request_id, &reason);
        }
        let mut used_up = false;
        let failure = s.failures.get_mut(&project).map(|mode| {
            if let Some(remaining) = &mut mode.remaining {
                *remaining = remaining.saturating_sub(1);
                used_up = *remaining == 0;
            }
            mode.failure.clone()
        });
        if used_up {
            s.failures.remove(&project);
        }
        let mut result = s.packages.get(&project).cloned();
        let mut failure = failure;
        if let Some(responder) = s.responder.clone() {
            // Called without the lock: a responder may take its time (it reads a database).
            drop(s);
            match responder(project.as_deref()) {
                Served::Packages(value) => {
                    result = Some(value);
                    failure = None;
                }
                Served::Fail(f) => failure = Some(f),
            }
        }
        (request_id, failure, result)
    };
    let latency = {
        let mut s = lock(state);
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
        s.latency
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    lock(state).in_flight -= 1;
    match failure {
        None => {
            let result = result.unwrap_or_else(|| {
                serde_json::from_str::<Value>(EXAMPLE).expect("example fixture")["result"].clone()
            });
            json_response(
                StatusCode::OK,
                &request_id,
                json!({"status": "success", "trace_id": format!("trace-{request_id}"), "result": result}),
            )
        }
        Some(Failure::ServerError) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &request_id,
            json!({"error_code": "DEV.00000500", "error_msg": "internal server error"}),
        ),
        Some(Failure::NonJson) => text_response(
            StatusCode::OK,
            &request_id,
            "text/html",
            "<html><body><h1>Service Unavailable</h1>\n<p>try later</p></body></html>".into(),
        ),
        Some(Failure::StatusError) => json_response(
            StatusCode::OK,
            &request_id,
            json!({"status": "error", "trace_id": format!("trace-{request_id}"),
                   "error_code": "DEV.00000002", "error_msg": "project does not exist"}),
        ),
        Some(Failure::Hang) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Some(Failure::Unauthorized) => text_response(
            StatusCode::UNAUTHORIZED,
            &request_id,
            "application/json",
            V5_UNAUTHORIZED.into(),
        ),
        Some(Failure::GatewayUnauthorized) => text_response(
            StatusCode::UNAUTHORIZED,
            &request_id,
            "application/json",
            GATEWAY_TOKEN_EXPIRED.into(),
        ),
        Some(Failure::Forbidden) => text_response(
            StatusCode::FORBIDDEN,
            &request_id,
            "application/json",
            NO_PERMISSION.into(),
        ),
        Some(Failure::TooManyRequests { retry_after_secs }) => {
            let mut response = json_response(
                StatusCode::TOO_MANY_REQUESTS,
                &request_id,
                json!({"error_code": "APIG.0308", "error_msg": "The throttling threshold has been reached",
                       "request_id": request_id}),
            );
            response.headers_mut().insert(
                "retry-after",
                HeaderValue::from_str(&retry_after_secs.to_string()).expect("number"),
            );
            response
        }
        Some(Failure::Raw { status, body }) => text_response(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            &request_id,
            "application/json",
            body,
        ),
    }
}

/// The gateway's check: a known, unexpired token, or a valid AK/SK signature.
fn authenticate(
    s: &CloudState,
    method: &Method,
    path: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), String> {
    if let Some(token) = headers.get("x-auth-token") {
        let token = token
            .to_str()
            .map_err(|_| "decrypt token fail".to_string())?;
        return match s.tokens.get(token) {
            Some(false) => Ok(()),
            Some(true) => Err(format!(
                "token expires, expires_at: {}",
                (Utc::now() - TimeDelta::minutes(1)).format("%Y-%m-%dT%H:%M:%S%.6fZ")
            )),
            None => Err("decrypt token fail".into()),
        };
    }
    if let Some(authorization) = headers.get("authorization") {
        let authorization = authorization
            .to_str()
            .map_err(|_| "verify aksk signature fail".to_string())?;
        return verify_signature(s, method, path, query, headers, body, authorization);
    }
    Err("no token or signature".into())
}

fn verify_signature(
    s: &CloudState,
    method: &Method,
    path: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &[u8],
    authorization: &str,
) -> Result<(), String> {
    let fail = || "verify aksk signature fail".to_string();
    let params = authorization
        .strip_prefix("SDK-HMAC-SHA256 ")
        .ok_or_else(fail)?;
    let mut access = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in params.split(',') {
        let (name, value) = part.trim().split_once('=').ok_or_else(fail)?;
        match name {
            "Access" => access = Some(value),
            "SignedHeaders" => signed_headers = Some(value),
            "Signature" => signature = Some(value),
            _ => return Err(fail()),
        }
    }
    let (access, signed_headers, signature) = (
        access.ok_or_else(fail)?,
        signed_headers.ok_or_else(fail)?,
        signature.ok_or_else(fail)?,
    );
    let key = s
        .access_keys
        .get(access)
        .ok_or_else(|| "ak not exist".to_string())?;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let date = header("x-sdk-date").ok_or_else(|| "x-sdk-date is missing".to_string())?;
    let date = NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ")
        .map_err(|_| "x-sdk-date is invalid".to_string())?
        .and_utc();
    if (Utc::now() - date).abs() > SDK_DATE_WINDOW {
        return Err("the x-sdk-date is out of the allowed 15 minutes".into());
    }
    let names: Vec<&str> = signed_headers.split(';').collect();
    if !names.contains(&"host") || !names.contains(&"x-sdk-date") {
        return Err(fail());
    }
    if let Some(expected) = &key.security_token {
        if header("x-security-token") != Some(expected.as_str())
            || !names.contains(&"x-security-token")
        {
            return Err("security token is invalid".into());
        }
    }
    let mut canonical_headers = String::new();
    for name in &names {
        canonical_headers.push_str(&format!("{name}:{}\n", header(name).ok_or_else(fail)?));
    }
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        method.as_str(),
        canonical_path(path),
        canonical_query(query),
        canonical_headers,
        signed_headers,
        hex::encode(Sha256::digest(body))
    );
    let string_to_sign = format!(
        "SDK-HMAC-SHA256\n{}\n{}",
        date.format("%Y%m%dT%H%M%SZ"),
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(key.sk.as_bytes()).map_err(|_| fail())?;
    mac.update(string_to_sign.as_bytes());
    if hex::encode(mac.finalize().into_bytes()) == signature {
        Ok(())
    } else {
        Err(fail())
    }
}

const UNRESERVED_COMPLEMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn rfc3986(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED_COMPLEMENT).to_string()
}

fn canonical_path(path: &str) -> String {
    let mut segments: Vec<String> = Vec::new();
    for segment in path.split('/') {
        segments.push(rfc3986(&percent_decode_str(segment).decode_utf8_lossy()));
    }
    let joined = segments.join("/");
    if joined.ends_with('/') {
        joined
    } else {
        joined + "/"
    }
}

fn canonical_query(query: &[(String, String)]) -> String {
    let mut sorted = query.to_vec();
    sorted.sort();
    sorted
        .iter()
        .map(|(k, v)| format!("{}={}", rfc3986(k), rfc3986(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn decoded_query(raw: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// `POST /v3/auth/tokens` with the password method.
fn iam_login(state: &Shared, body: &[u8]) -> Response {
    let mut s = lock(state);
    s.logins += 1;
    let request_id = s.next_request_id();
    let request: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                &request_id,
                json!({"error": {"code": 400, "message": "The request body is invalid.", "title": "Bad Request"}}),
            )
        }
    };
    let user = &request["auth"]["identity"]["password"]["user"];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let key = (
        text(&user["domain"]["name"]),
        text(&user["name"]),
        text(&user["password"]),
    );
    let methods_ok = request["auth"]["identity"]["methods"] == json!(["password"]);
    if !methods_ok || !s.iam_users.contains(&key) {
        return json_response(
            StatusCode::UNAUTHORIZED,
            &request_id,
            json!({"error": {"code": 401, "message": "The username or password is wrong.", "title": "Unauthorized"}}),
        );
    }
    let domain_scope = &request["auth"]["scope"]["domain"]["name"];
    let scope = if domain_scope.is_string() {
        format!("domain:{}", text(domain_scope))
    } else {
        text(&request["auth"]["scope"]["project"]["name"])
    };
    s.login_scopes.push(scope.clone());
    let token = format!("MIIfake-{}-{}", s.logins, request_id);
    s.tokens.insert(token.clone(), false);
    if domain_scope.is_string() {
        s.domain_tokens.insert(token.clone());
    }
    let now: DateTime<Utc> = Utc::now();
    let fmt = "%Y-%m-%dT%H:%M:%S%.6fZ";
    let mut response = json_response(
        StatusCode::CREATED,
        &request_id,
        json!({"token": {
            "expires_at": (now + TOKEN_LIFETIME).format(fmt).to_string(),
            "issued_at": now.format(fmt).to_string(),
            "methods": ["password"],
            "project": {"name": scope},
            "user": {"name": key.1, "domain": {"name": key.0}}
        }}),
    );
    response.headers_mut().insert(
        "x-subject-token",
        HeaderValue::from_str(&token).expect("token is ASCII"),
    );
    response
}

/// The billing gateway: a domain-scoped token, or a signature that signs the key's own
/// `X-Domain-Id`; then the billing API's answer.
fn billing_query(
    state: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let mut s = lock(state);
    let request_id = s.next_request_id();
    let query = decoded_query(uri.query().unwrap_or(""));
    if let Err(reason) = authenticate(&s, method, uri.path(), &query, headers, body) {
        return gateway_unauthorized(&request_id, &reason);
    }
    if let Err(reason) = global_scope(&s, headers) {
        return gateway_unauthorized(&request_id, &reason);
    }
    let (status, answer) = match uri.path() {
        RENEW_RATE_PATH => s.billing.renew_rate(body),
        BALANCES_PATH => s.billing.balances(),
        _ => s.billing.answer(body),
    };
    json_response(
        StatusCode::from_u16(status).expect("a status"),
        &request_id,
        answer,
    )
}

/// What a global service requires beyond a valid token or signature.
fn global_scope(s: &CloudState, headers: &HeaderMap) -> Result<(), String> {
    if let Some(token) = headers.get("x-auth-token").and_then(|t| t.to_str().ok()) {
        return if s.domain_tokens.contains(token) {
            Ok(())
        } else {
            Err("the token is not scoped to a domain".into())
        };
    }
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let access = authorization
        .split("Access=")
        .nth(1)
        .and_then(|a| a.split(',').next())
        .unwrap_or_default();
    let signed = authorization
        .split("SignedHeaders=")
        .nth(1)
        .and_then(|a| a.split(',').next())
        .unwrap_or_default();
    let sent = headers.get("x-domain-id").and_then(|v| v.to_str().ok());
    match (s.key_domains.get(access), sent) {
        (Some(domain), Some(sent))
            if domain == sent && signed.split(';').any(|h| h == "x-domain-id") =>
        {
            Ok(())
        }
        (_, None) => Err("x-domain-id is missing".into()),
        _ => Err("x-domain-id does not match the access key".into()),
    }
}

/// ProjectMan's `GET /v4/projects?offset=&limit=`: authenticated like the package API; `limit`
/// 1 to 1000 and `offset` a multiple of it, as ProjectMan requires (else 400).
fn project_list(state: &Shared, method: &Method, uri: &Uri, headers: &HeaderMap) -> Response {
    let mut s = lock(state);
    let request_id = s.next_request_id();
    let query = decoded_query(uri.query().unwrap_or(""));
    if let Err(reason) = authenticate(&s, method, uri.path(), &query, headers, b"") {
        return gateway_unauthorized(&request_id, &reason);
    }
    let number = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.parse::<u64>().ok())
    };
    let (Some(offset), Some(limit)) = (number("offset"), number("limit")) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            &request_id,
            json!({"error_code": "PM.02176001", "error_msg": "offset and limit are required"}),
        );
    };
    if !(1..=1000).contains(&limit) || offset % limit != 0 {
        return json_response(
            StatusCode::BAD_REQUEST,
            &request_id,
            json!({"error_code": "PM.02176001",
                   "error_msg": format!("invalid paging: offset {offset}, limit {limit}")}),
        );
    }
    if let Some(times) = s.projects_failing {
        match times {
            Some(0) => s.projects_failing = None,
            Some(n) => s.projects_failing = Some(Some(n - 1)),
            None => {}
        }
        if times != Some(0) {
            return json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &request_id,
                json!({"error_code": "PM.00000500", "error_msg": "internal error"}),
            );
        }
    }
    s.project_pages.push((offset, limit));
    let page: Vec<Value> = s
        .projects
        .iter()
        .enumerate()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|(i, id)| {
            json!({"project_num_id": i + 1, "project_id": id, "project_name": format!("project {i}"),
                   "description": "", "project_type": "scrum", "created_time": 1_700_000_000_000_u64,
                   "updated_time": 1_700_000_000_000_u64,
                   "creator": {"user_num_id": 1, "user_id": "u", "user_name": "ops"}})
        })
        .collect();
    json_response(
        StatusCode::OK,
        &request_id,
        json!({"projects": page, "total": s.projects.len()}),
    )
}

/// IAM's `GET /v3/auth/domains` for a signed caller: the access key's account.
fn iam_domains(state: &Shared, method: &Method, uri: &Uri, headers: &HeaderMap) -> Response {
    let mut s = lock(state);
    let request_id = s.next_request_id();
    let query = decoded_query(uri.query().unwrap_or(""));
    if let Err(reason) = authenticate(&s, method, uri.path(), &query, headers, b"") {
        return gateway_unauthorized(&request_id, &reason);
    }
    let access = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.split("Access=").nth(1))
        .and_then(|a| a.split(',').next())
        .unwrap_or_default()
        .to_string();
    let Some(domain) = s.key_domains.get(&access).cloned() else {
        return json_response(
            StatusCode::FORBIDDEN,
            &request_id,
            json!({"error": {"code": 403, "message": "You do not have permission to perform this action.", "title": "Forbidden"}}),
        );
    };
    s.billing.domain_lookups += 1;
    json_response(
        StatusCode::OK,
        &request_id,
        json!({"domains": [{"id": domain, "name": "corp", "enabled": true}],
               "links": {"self": "https://iam.myhuaweicloud.com/v3/auth/domains"}}),
    )
}
