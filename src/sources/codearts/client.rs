//! The CodeArts API client of one account: one `package/info` call per project, with bounded
//! retries of transient failures and the account's authentication applied to every request
//! (both by [`Gateway`]).

use super::models;
use super::projects::{self, PROJECTS_PATH};
use crate::config::{AccountConfig, Projects};
use crate::huawei::auth::{check_base_url, Authenticator};
use crate::huawei::gateway::{Events, Gateway, RawResponse};
use crate::huawei::signer::encode_rfc3986;
use crate::huawei::{ApiError, ApiErrorKind, ClientError};
use crate::model::Scope;
use crate::sources::{get, list_restarting, BadEntry, Discovery, Listing, PollResult, Source};
use std::collections::HashSet;
use std::time::Duration;
use url::Url;

pub use crate::huawei::gateway::{request_id_header, REFUSAL_HOLD};

/// Path of the package API, appended to the account's API base.
pub(crate) const PACKAGE_INFO_PATH: &str = "/devreposerver/v5/data/package/info";

const EVENTS: Events = Events {
    api: "CodeArts",
    response: "codearts.response",
    throttled: "codearts.throttled",
    reauthenticating: "codearts.reauthenticating",
    request_failed: "codearts.request_failed",
    retrying: "codearts.retrying",
};

/// A project listing longer than this many pages is refused.
const MAX_PAGES: u32 = 10_000;

/// One account's client. Long-lived: it holds the IAM token cache across cycles.
#[derive(Debug)]
pub struct CodeArtsClient {
    /// The configured projects; empty with `projects = "all"` (they are discovered).
    projects: Vec<String>,
    package_info_url: Url,
    /// ProjectMan's project list, with `projects = "all"`.
    projects_url: Option<Url>,
    project_page_size: u32,
    /// Asks ProjectMan through the same gateway as the package API: one pace, one login and
    /// one refusal hold per account.
    gateway: Gateway,
}

#[async_trait::async_trait]
impl Source for CodeArtsClient {
    /// The account's name.
    fn account(&self) -> &str {
        self.gateway.account()
    }

    /// Each project of the account, or the account as a whole when it lists none; none with
    /// `projects = "all"` (they are discovered at each cycle).
    fn scopes(&self) -> Vec<Scope> {
        let account = self.gateway.account();
        if self.projects_url.is_some() {
            return Vec::new();
        }
        if self.projects.is_empty() {
            return vec![Scope::packages(account, None)];
        }
        self.projects
            .iter()
            .map(|p| Scope::packages(account, Some(p)))
            .collect()
    }

    /// Fetches the packages of one scope, as [`Gateway::call`] retries and
    /// [`Gateway::guarded`] holds refused credentials.
    async fn fetch(&self, scope: &Scope) -> Result<PollResult, ApiError> {
        self.gateway.guarded(scope, self.fetch_once(scope)).await
    }

    fn discovers_scopes(&self) -> bool {
        self.projects_url.is_some()
    }

    /// Every project ProjectMan lists for the account, page by page; a listing whose total
    /// moves between pages is started over once, then fails (a part of a listing would
    /// make the projects on the missing pages look removed).
    async fn discover_scopes(&self) -> Result<Discovery, ApiError> {
        let Some(url) = &self.projects_url else {
            return Ok(Discovery {
                scopes: self.scopes(),
                bad_entries: Vec::new(),
            });
        };
        // Errors of the listing name the account as a whole.
        let scope = Scope::packages(self.gateway.account(), None);
        let listing = list_restarting(
            &self.gateway,
            &scope,
            "projects",
            "discovery.listing_restarted",
            || self.project_pages(&scope, url),
        );
        self.gateway.guarded(&scope, listing).await
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
        let projects_url = match &account.projects {
            Projects::All => {
                let base = account.projectman_base().unwrap_or_default();
                check_base_url(&account.name, "projectman_endpoint", &base)?;
                Some(check_base_url(
                    &account.name,
                    "projectman_endpoint",
                    &format!("{base}{PROJECTS_PATH}"),
                )?)
            }
            Projects::List(_) => None,
        };
        Ok(CodeArtsClient {
            projects: account.projects.listed().to_vec(),
            package_info_url,
            projects_url,
            project_page_size: projects::MAX_PAGE_SIZE,
            gateway: Gateway::new(
                &account.name,
                EVENTS,
                http,
                timeout,
                Authenticator::from_config(account)?,
                account.max_requests_per_second,
            ),
        })
    }

    /// Sets the delay before the first retry (default 300 ms; tests make it short).
    pub fn with_retry_base(mut self, base: Duration) -> Self {
        self.gateway.set_retry_base(base);
        self
    }

    /// Sets the page size of the project listing (default and most 1000; tests make it
    /// small).
    pub fn with_project_page_size(mut self, size: u32) -> Self {
        self.project_page_size = size.clamp(1, projects::MAX_PAGE_SIZE);
        self
    }

    /// The pages of one project listing: `offset` 0, `limit`, 2 × `limit`, … to the total.
    async fn project_pages(&self, scope: &Scope, url: &Url) -> Result<Discovery, Listing> {
        let limit = self.project_page_size;
        let mut seen = HashSet::new();
        let mut scopes = Vec::new();
        let mut bad_entries: Vec<BadEntry> = Vec::new();
        let mut total = None;
        for page_number in 0..MAX_PAGES {
            let offset = u64::from(page_number) * u64::from(limit);
            let page = self.project_page(scope, url, offset, limit).await?;
            Listing::same_total(&mut total, page.total)?;
            for project in page.projects {
                if seen.insert(project.id.clone()) {
                    scopes.push(Scope::packages(&scope.account, Some(&project.id)));
                }
            }
            bad_entries.extend(page.bad_entries.into_iter().map(|b| BadEntry {
                key: format!("offset {offset}: {}", b.key),
                reason: b.reason,
            }));
            let listed = offset + page.entries as u64;
            if listed < page.total && page.entries < limit as usize {
                // A short page before the end: the next offset would skip what it lacks.
                return Err(Listing::Moved {
                    before: page.total,
                    after: listed,
                });
            }
            if listed >= page.total {
                let accounted = (seen.len() + bad_entries.len()) as u64;
                if accounted != page.total {
                    // The list shifted between pages (one listed twice, another not at all):
                    // not a listing to remove projects on.
                    return Err(Listing::Moved {
                        before: page.total,
                        after: accounted,
                    });
                }
                scopes.sort();
                return Ok(Discovery {
                    scopes,
                    bad_entries,
                });
            }
            if page.entries == 0 {
                // Short of the total, and nothing more: the listing shrank under us.
                return Err(Listing::Moved {
                    before: page.total,
                    after: listed,
                });
            }
        }
        Err(Listing::Failed(self.gateway.error(
            scope,
            ApiErrorKind::Parse,
            format!("more than {MAX_PAGES} pages of projects"),
        )))
    }

    /// One page of the project listing.
    async fn project_page(
        &self,
        scope: &Scope,
        url: &Url,
        offset: u64,
        limit: u32,
    ) -> Result<projects::Page, ApiError> {
        let mut url = url.clone();
        url.set_query(Some(&format!("offset={offset}&limit={limit}")));
        let response = get(&self.gateway, scope, &url).await?;
        self.gateway
            .read(scope, &response, projects::read_body(&response.body))
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

    async fn fetch_once(&self, scope: &Scope) -> Result<PollResult, ApiError> {
        let response = get(&self.gateway, scope, &self.url_for(scope)).await?;
        self.read_success(scope, &response)
    }

    /// A 2xx answer: the packages, or the error it carries, or a parse error.
    // `ApiError`'s fields are the public contract; an error is built once per failed poll.
    #[allow(clippy::result_large_err)]
    fn read_success(&self, scope: &Scope, response: &RawResponse) -> Result<PollResult, ApiError> {
        let list = self
            .gateway
            .read(scope, response, models::read_body(scope, &response.body))?;
        Ok(PollResult {
            scope: scope.clone(),
            packages: list.packages,
            bad_entries: list.bad_entries,
            trace_id: list.trace_id,
        })
    }
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
}
