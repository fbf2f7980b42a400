//! `[[accounts]]`: which Huawei Cloud accounts are watched, and how each authenticates.

use super::checks::is_project_id;
use super::*;
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    pub name: String,
    /// Huawei Cloud region, e.g. `cn-north-4`; gives the API and IAM endpoints.
    pub region: Option<String>,
    /// Overrides the CodeArts endpoint derived from the region (`https://…`).
    pub endpoint: Option<String>,
    /// CodeArts project ids (when empty, the account as a whole is asked), or `"all"`: the
    /// account's projects, listed from ProjectMan at every cycle.
    #[serde(default)]
    pub projects: Projects,
    /// Overrides the ProjectMan endpoint derived from the region (`https://…`), for
    /// `projects = "all"`.
    pub projectman_endpoint: Option<String>,
    /// The most API requests a second for this account, shared by all of its projects.
    #[serde(default = "default_max_requests_per_second")]
    pub max_requests_per_second: f64,
    pub auth: AuthConfig,
    /// Whether the CodeArts packages of the account are watched (default true).
    #[serde(default = "default_true")]
    pub packages: bool,
    /// `[accounts.subscriptions]`: the account's yearly/monthly billing subscriptions are
    /// watched when the table is present.
    pub subscriptions: Option<SubscriptionsConfig>,
}

/// `projects`: a list of CodeArts project ids, or `"all"` (found at every cycle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Projects {
    /// These projects; none: the account as a whole.
    List(Vec<String>),
    /// Every project ProjectMan lists for the account, asked at every cycle.
    All,
}

impl Default for Projects {
    fn default() -> Self {
        Projects::List(Vec::new())
    }
}

impl Projects {
    /// The configured project ids (none for `"all"`: they are found at each cycle).
    pub fn listed(&self) -> &[String] {
        match self {
            Projects::List(ids) => ids,
            Projects::All => &[],
        }
    }

    pub fn is_all(&self) -> bool {
        *self == Projects::All
    }
}

impl<'de> Deserialize<'de> for Projects {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            List(Vec<String>),
        }
        match Raw::deserialize(deserializer).map_err(|_| {
            serde::de::Error::custom("expected a list of CodeArts project ids or \"all\"")
        })? {
            Raw::List(ids) => Ok(Projects::List(ids)),
            Raw::Word(word) if word == "all" => Ok(Projects::All),
            Raw::Word(word) => Err(serde::de::Error::custom(format!(
                "{word:?} is neither \"all\" nor a list of CodeArts project ids"
            ))),
        }
    }
}

/// `[accounts.subscriptions]`: the billing API's `ListPayPerUseCustomerResources`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionsConfig {
    /// Overrides the billing endpoint of `site` (`https://…`).
    pub endpoint: Option<String>,
    #[serde(default)]
    pub site: BillingSite,
    /// Resource statuses asked for (`status_list`): 2 in use, 3 closed, 4 frozen, 5 expired.
    #[serde(default = "default_subscription_status")]
    pub status: Vec<i64>,
    /// Main resources only, their attached ones (disks, …) counted in with them.
    #[serde(default = "default_true")]
    pub main_only: bool,
    /// Service type codes (e.g. `hws.service.type.ec2`); empty means all.
    #[serde(default)]
    pub service_types: Vec<String>,
    /// Days before expiry at which an auto-renewing resource is checked (used by a later
    /// step; accepted and validated now).
    #[serde(default = "default_auto_renew_check_days")]
    pub auto_renew_check_days: i64,
}

/// The Huawei Cloud site an account belongs to: each has its own billing host and console.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BillingSite {
    /// huaweicloud.com (Chinese mainland).
    #[default]
    Cn,
    /// The international site.
    Intl,
    /// Huawei Cloud Europe.
    Eu,
}

impl BillingSite {
    pub fn as_str(self) -> &'static str {
        match self {
            BillingSite::Cn => "cn",
            BillingSite::Intl => "intl",
            BillingSite::Eu => "eu",
        }
    }

    /// The billing (BSS) API base of the site.
    pub fn billing_base(self) -> &'static str {
        match self {
            BillingSite::Cn => "https://bss.myhuaweicloud.com",
            BillingSite::Intl => "https://bss-intl.myhuaweicloud.com",
            BillingSite::Eu => "https://bss.myhuaweicloud.eu",
        }
    }

    /// The console's renewal page of the site (docs/configuration.md).
    pub fn renewal_page(self) -> &'static str {
        match self {
            BillingSite::Cn => {
                "https://account.huaweicloud.com/usercenter/#/userindex/renewalManagement"
            }
            BillingSite::Intl => {
                "https://account-intl.huaweicloud.com/usercenter/#/userindex/renewalManagement"
            }
            BillingSite::Eu => {
                "https://account.eu.huaweicloud.com/usercenter/#/userindex/renewalManagement"
            }
        }
    }
}

/// The statuses a subscription can be renewed in: in use, frozen, expired (closed ones are
/// gone for good).
pub const DEFAULT_SUBSCRIPTION_STATUS: [i64; 3] = [2, 4, 5];
const SUBSCRIPTION_STATUSES: [i64; 4] = [2, 3, 4, 5];

fn default_subscription_status() -> Vec<i64> {
    DEFAULT_SUBSCRIPTION_STATUS.to_vec()
}

pub const DEFAULT_AUTO_RENEW_CHECK_DAYS: i64 = 7;

fn default_auto_renew_check_days() -> i64 {
    DEFAULT_AUTO_RENEW_CHECK_DAYS
}

impl SubscriptionsConfig {
    /// The billing base URL: the `endpoint` override, else the site's.
    pub fn billing_base(&self) -> String {
        match &self.endpoint {
            Some(e) => e.trim_end_matches('/').to_string(),
            None => self.site.billing_base().to_string(),
        }
    }

    fn check(&self, p: &str, problems: &mut Vec<Problem>) {
        let mut push = |path: String, reason: String| problems.push(Problem::new(path, reason));
        if let Some(endpoint) = &self.endpoint {
            if let Err(e) = check_endpoint(endpoint) {
                push(format!("{p}.endpoint"), e);
            }
        }
        if self.status.is_empty() {
            push(
                format!("{p}.status"),
                "give at least one status (2 in use, 3 closed, 4 frozen, 5 expired)".into(),
            );
        }
        let mut seen = std::collections::HashSet::new();
        for (j, status) in self.status.iter().enumerate() {
            if !SUBSCRIPTION_STATUSES.contains(status) {
                push(
                    format!("{p}.status[{j}]"),
                    format!("{status} is not a resource status (2 in use, 3 closed, 4 frozen, 5 expired)"),
                );
            } else if !seen.insert(status) {
                push(
                    format!("{p}.status[{j}]"),
                    format!("duplicate status {status}"),
                );
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (j, code) in self.service_types.iter().enumerate() {
            let well_formed = code.starts_with("hws.service.type.")
                && code.len() > "hws.service.type.".len()
                && code
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !well_formed {
                push(
                    format!("{p}.service_types[{j}]"),
                    format!("{code:?} is not a service type code (e.g. \"hws.service.type.ec2\")"),
                );
            } else if !seen.insert(code) {
                push(
                    format!("{p}.service_types[{j}]"),
                    format!("duplicate service type {code:?}"),
                );
            }
        }
        if !(1..=366).contains(&self.auto_renew_check_days) {
            push(
                format!("{p}.auto_renew_check_days"),
                format!(
                    "{} is not between 1 and 366 days",
                    self.auto_renew_check_days
                ),
            );
        }
    }
}

/// Huawei's API gateway throttles per API and per user, with limits CodeArts does not
/// publish: 20 a second stays well below what gateways commonly allow, and polls 10,000
/// projects in under nine minutes.
pub const DEFAULT_MAX_REQUESTS_PER_SECOND: f64 = 20.0;

pub(super) fn default_max_requests_per_second() -> f64 {
    DEFAULT_MAX_REQUESTS_PER_SECOND
}

impl AccountConfig {
    /// The CodeArts base URL: the `endpoint` override, else the region's (validated at load).
    pub(crate) fn api_base(&self) -> String {
        if let Some(endpoint) = &self.endpoint {
            return endpoint.trim_end_matches('/').to_string();
        }
        let region = self.region.as_deref().unwrap_or_default();
        match codearts_host(region) {
            Some(host) => format!("https://{host}"),
            None => String::new(),
        }
    }

    /// The ProjectMan base URL (project discovery): `projectman_endpoint` when given, else
    /// `https://projectman-ext.<region>.<api_domain>`.
    pub(crate) fn projectman_base(&self) -> Option<String> {
        if let Some(endpoint) = &self.projectman_endpoint {
            return Some(endpoint.trim_end_matches('/').to_string());
        }
        self.region
            .as_ref()
            .map(|r| format!("https://projectman-ext.{r}.{}", api_domain(r)))
    }

    /// The IAM base URL: `iam_endpoint` when given, else `https://iam.<region>.<api_domain>`.
    pub(crate) fn iam_base(&self) -> Option<String> {
        if let AuthConfig::Password {
            iam_endpoint: Some(e),
            ..
        }
        | AuthConfig::Aksk {
            iam_endpoint: Some(e),
            ..
        } = &self.auth
        {
            return Some(e.trim_end_matches('/').to_string());
        }
        self.region
            .as_ref()
            .map(|r| format!("https://iam.{r}.{}", api_domain(r)))
    }
}

/// The domain of a region's API hosts: Huawei Cloud Europe's region (`eu-west-101`, Dublin)
/// is served under `myhuaweicloud.eu` (the official SDK's IAM and billing region tables),
/// every other region under `myhuaweicloud.com`.
pub(crate) fn api_domain(region: &str) -> &'static str {
    if region == "eu-west-101" {
        "myhuaweicloud.eu"
    } else {
        "myhuaweicloud.com"
    }
}

/// The CodeArts host of a region (docs/design.md, "The CodeArts API").
pub(crate) fn codearts_host(region: &str) -> Option<String> {
    const EXT: &[&str] = &[
        "cn-east-3",
        "cn-east-2",
        "cn-north-1",
        "cn-north-4",
        "cn-southwest-2",
        "cn-south-2",
        "sa-brazil-1",
        "la-south-2",
        "la-north-2",
        "tr-west-1",
    ];
    const ARTIFACT: &[&str] = &[
        "cn-south-1",
        "ap-southeast-3",
        "me-east-1",
        "af-south-1",
        "af-north-1",
    ];
    if EXT.contains(&region) {
        Some(format!("cloudartifacts-ext.{region}.myhuaweicloud.com"))
    } else if ARTIFACT.contains(&region) {
        Some(format!("artifact.{region}.myhuaweicloud.com"))
    } else {
        None
    }
}

/// How an account authenticates. Each secret can be inline or read from `<name>_file`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "method", rename_all = "lowercase", deny_unknown_fields)]
pub enum AuthConfig {
    /// A static IAM token sent as `X-Auth-Token`.
    Token {
        token: Option<Secret>,
        token_file: Option<PathBuf>,
    },
    /// IAM user + password, exchanged for a token at `POST /v3/auth/tokens`.
    Password {
        domain: String,
        user: String,
        password: Option<Secret>,
        password_file: Option<PathBuf>,
        /// IAM project name the token is scoped to; default the account's region.
        project: Option<String>,
        iam_endpoint: Option<String>,
    },
    /// Access key / secret key with `SDK-HMAC-SHA256` signing.
    Aksk {
        ak: String,
        sk: Option<Secret>,
        sk_file: Option<PathBuf>,
        security_token: Option<Secret>,
        security_token_file: Option<PathBuf>,
        /// Sent as `X-Project-Id` (CodeArts).
        project_id: Option<String>,
        /// The account's domain id, sent as `X-Domain-Id` to global services (billing); looked
        /// up once from IAM (`GET /v3/auth/domains`) when not given.
        domain_id: Option<String>,
        /// IAM for the domain-id lookup; default the region's.
        iam_endpoint: Option<String>,
    },
}

impl AccountConfig {
    /// One `[[accounts]]` table's checks (`p` is its key path).
    pub(super) fn check(&self, p: &str, problems: &mut Vec<Problem>) {
        if let Some(subscriptions) = &self.subscriptions {
            subscriptions.check(&format!("{p}.subscriptions"), problems);
        }
        let mut push = |path: String, reason: String| problems.push(Problem::new(path, reason));
        if !self.packages && self.subscriptions.is_none() {
            push(
                format!("{p}.packages"),
                "the account watches nothing: keep `packages` on or add [accounts.subscriptions]"
                    .into(),
            );
        }
        match (&self.endpoint, &self.region) {
            // Without CodeArts, a region is only needed for IAM (checked with the auth).
            (None, _) if !self.packages => {}
            (Some(endpoint), _) => {
                if let Err(e) = check_endpoint(endpoint) {
                    push(format!("{p}.endpoint"), e);
                }
            }
            (None, Some(region)) => {
                if codearts_host(region).is_none() {
                    push(
                        format!("{p}.region"),
                        format!("unknown region {region:?}; set `endpoint` for a region renewd does not know"),
                    );
                }
            }
            (None, None) => push(format!("{p}.region"), "give `region` or `endpoint`".into()),
        }
        let rate = self.max_requests_per_second;
        if !(rate.is_finite() && (0.01..=100_000.0).contains(&rate)) {
            push(
                format!("{p}.max_requests_per_second"),
                format!("{rate} is not between 0.01 and 100000"),
            );
        }
        if let Some(endpoint) = &self.projectman_endpoint {
            if let Err(e) = check_endpoint(endpoint) {
                push(format!("{p}.projectman_endpoint"), e);
            }
        }
        if self.projects.is_all() && self.packages && self.projectman_base().is_none() {
            push(
                format!("{p}.projectman_endpoint"),
                "projects = \"all\" lists them from ProjectMan: give the account a `region` or \
                 set `projectman_endpoint`"
                    .into(),
            );
        }
        let mut seen = std::collections::HashSet::new();
        for (j, project) in self.projects.listed().iter().enumerate() {
            if !is_project_id(project) {
                push(
                    format!("{p}.projects[{j}]"),
                    format!(
                        "{project:?} is not a CodeArts project id (32 lowercase hex characters)"
                    ),
                );
            } else if !seen.insert(project) {
                push(
                    format!("{p}.projects[{j}]"),
                    format!("duplicate project {project:?}"),
                );
            }
        }
        let a = format!("{p}.auth");
        match &self.auth {
            AuthConfig::Token { token, .. } => {
                if token.as_ref().is_none_or(Secret::is_empty) {
                    push(format!("{a}.token"), "give `token` or `token_file`".into());
                }
            }
            AuthConfig::Password {
                domain,
                user,
                password,
                iam_endpoint,
                project,
                ..
            } => {
                if domain.trim().is_empty() {
                    push(format!("{a}.domain"), "must not be empty".into());
                }
                if user.trim().is_empty() {
                    push(format!("{a}.user"), "must not be empty".into());
                }
                if password.as_ref().is_none_or(Secret::is_empty) {
                    push(
                        format!("{a}.password"),
                        "give `password` or `password_file`".into(),
                    );
                }
                match iam_endpoint {
                    Some(e) => {
                        if let Err(e) = check_endpoint(e) {
                            push(format!("{a}.iam_endpoint"), e);
                        }
                    }
                    None if self.region.is_none() => push(
                        format!("{a}.iam_endpoint"),
                        "give the account a `region` or set `iam_endpoint`".into(),
                    ),
                    None => {}
                }
                if project.is_none() && self.region.is_none() {
                    push(
                        format!("{a}.project"),
                        "give the account a `region` or set the IAM `project` name".into(),
                    );
                }
            }
            AuthConfig::Aksk {
                ak,
                sk,
                project_id,
                domain_id,
                iam_endpoint,
                ..
            } => {
                if let Some(did) = domain_id {
                    if !is_project_id(did) {
                        push(
                            format!("{a}.domain_id"),
                            format!("{did:?} is not a domain (account) id (32 lowercase hex characters)"),
                        );
                    }
                }
                if let Some(e) = iam_endpoint {
                    if let Err(e) = check_endpoint(e) {
                        push(format!("{a}.iam_endpoint"), e);
                    }
                } else if self.subscriptions.is_some()
                    && domain_id.is_none()
                    && self.region.is_none()
                {
                    push(
                        format!("{a}.domain_id"),
                        "the billing API needs the account's domain id: set `domain_id`, or a \
                         `region` or `iam_endpoint` to look it up from IAM"
                            .into(),
                    );
                }
                if ak.trim().is_empty() {
                    push(format!("{a}.ak"), "must not be empty".into());
                }
                if sk.as_ref().is_none_or(Secret::is_empty) {
                    push(format!("{a}.sk"), "give `sk` or `sk_file`".into());
                }
                if let Some(pid) = project_id {
                    if !is_project_id(pid) {
                        push(
                            format!("{a}.project_id"),
                            format!(
                                "{pid:?} is not an IAM project id (32 lowercase hex characters)"
                            ),
                        );
                    }
                }
            }
        }
    }
}
