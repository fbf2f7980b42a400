//! The CodeArts API client of one account: one `package/info` call per project, with bounded
//! retries of transient failures and the account's authentication applied to every request
//! (both by [`Gateway`]).

use super::models::{self, Body};
use crate::config::AccountConfig;
use crate::huawei::auth::{check_base_url, Authenticator};
use crate::huawei::gateway::{Call, Events, Gateway, RawResponse};
use crate::huawei::signer::encode_rfc3986;
use crate::huawei::{ApiError, ClientError};
use crate::model::Scope;
use crate::sources::{PollResult, Source};
use reqwest::Method;
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

/// One account's client. Long-lived: it holds the IAM token cache across cycles.
#[derive(Debug)]
pub struct CodeArtsClient {
    projects: Vec<String>,
    package_info_url: Url,
    gateway: Gateway,
}

#[async_trait::async_trait]
impl Source for CodeArtsClient {
    /// The account's name.
    fn account(&self) -> &str {
        self.gateway.account()
    }

    /// Each project of the account, or the account as a whole when it lists none.
    fn scopes(&self) -> Vec<Scope> {
        let account = self.gateway.account();
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
            projects: account.projects.clone(),
            package_info_url,
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
        let url = self.url_for(scope);
        let call = Call {
            method: Method::GET,
            url: &url,
            body: b"",
            content_type: None,
        };
        let response = self.gateway.call(scope, &call).await?;
        self.read_success(scope, &response)
    }

    /// A 2xx answer: the packages, or the error it carries, or a parse error.
    // `ApiError`'s fields are the public contract; an error is built once per failed poll.
    #[allow(clippy::result_large_err)]
    fn read_success(&self, scope: &Scope, response: &RawResponse) -> Result<PollResult, ApiError> {
        match models::read_body(scope, &response.body) {
            Body::Success(list) => Ok(PollResult {
                scope: scope.clone(),
                packages: list.packages,
                bad_entries: list.bad_entries,
                trace_id: list.trace_id,
            }),
            Body::Error(body) => Err(self.gateway.answered_error(scope, response, body)),
            Body::Unexpected { reason } => Err(self.gateway.unexpected(scope, response, &reason)),
            Body::NotJson { prefix } => Err(self.gateway.not_json(scope, response, &prefix)),
        }
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
