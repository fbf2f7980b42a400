//! The subscriptions client of one account: every page of every listing, or an error.
//!
//! One listing per configured service type (or one for all), each read page by page
//! (`offset`/`limit` 500) until `total_count`. A page that fails (after the gateway's retries)
//! fails the whole scope: a part of a listing is never taken for the truth, or what was on
//! the missing pages would be reported vanished. A `total_count` that changes between pages
//! (resources bought or released meanwhile) restarts the listing once; a second change fails
//! the scope, and the next cycle tries again.
//!
//! The listing is limited to resources expiring within the largest rule threshold plus
//! [`WINDOW_MARGIN_DAYS`], so that a large account costs a few requests. A resource that was
//! known (the state file had it) but is not in the window is asked for by id: renewed, it is
//! reported with its new expiry (a renewal, not a disappearance); gone, it is not in that
//! answer either and is reported vanished.

use super::funds::{self, RenewRateBody};
use super::models::{self, ItemsOf, QueryBody, Resource};
use crate::config::{AccountConfig, SubscriptionsConfig};
use crate::huawei::auth::{check_base_url, Authenticator, ServiceScope};
use crate::huawei::gateway::{Call, Events, Gateway, RawResponse};
use crate::huawei::{ApiError, ApiErrorKind, ClientError};
use crate::model::{RenewalFunds, Scope};
use crate::sources::{list_restarting, BadEntry, Listing, PollResult, Source};
use chrono::{DateTime, Utc};
use reqwest::Method;
use std::collections::HashSet;
use std::time::Duration;
use url::Url;

/// `ListPayPerUseCustomerResources` (the path's spelling is Huawei's).
pub const RESOURCES_QUERY_PATH: &str = "/v2/orders/suscriptions/resources/query";
/// Days beyond the largest threshold the listing reaches: a resource is seen well before its
/// first alert, and one renewed a few days ago is still in the window.
pub const WINDOW_MARGIN_DAYS: i64 = 30;
/// The JSON body's type, as the official SDK sends (and signs) it.
const CONTENT_TYPE: &str = "application/json;charset=UTF-8";
/// A listing longer than this many pages is refused (5 million resources).
const MAX_PAGES: u32 = 10_000;

const EVENTS: Events = Events {
    api: "billing",
    response: "billing.response",
    throttled: "billing.throttled",
    reauthenticating: "billing.reauthenticating",
    request_failed: "billing.request_failed",
    retrying: "billing.retrying",
};

/// One account's subscriptions. Long-lived: it holds the domain-scoped token or the looked-up
/// domain id across cycles.
#[derive(Debug)]
pub struct SubscriptionsClient {
    url: Url,
    /// `ListRenewRateOnPeriod`.
    renew_rate_url: Url,
    /// `ShowCustomerAccountBalances`.
    balances_url: Url,
    config: SubscriptionsConfig,
    renewal_page: String,
    /// Days from today to the end of the expiry window; `None`: no window.
    window_days: Option<i64>,
    page_size: u32,
    gateway: Gateway,
}

#[async_trait::async_trait]
impl Source for SubscriptionsClient {
    fn account(&self) -> &str {
        self.gateway.account()
    }

    /// The account as a whole: one scope, its own (never the CodeArts account scope).
    fn scopes(&self) -> Vec<Scope> {
        vec![Scope::subscriptions(self.gateway.account())]
    }

    async fn fetch(&self, scope: &Scope) -> Result<PollResult, ApiError> {
        self.fetch_knowing(scope, &[]).await
    }

    fn needs_known_items(&self) -> bool {
        self.window_days.is_some()
    }

    async fn fetch_knowing(&self, scope: &Scope, known: &[String]) -> Result<PollResult, ApiError> {
        self.gateway
            .guarded(scope, self.list(scope, known, Utc::now()))
            .await
    }

    fn auto_renew_check_days(&self) -> Option<i64> {
        Some(self.config.auto_renew_check_days)
    }

    async fn renewal_funds(
        &self,
        scope: &Scope,
        resource_ids: &[String],
    ) -> Result<Option<RenewalFunds>, ApiError> {
        self.gateway
            .guarded(scope, self.funds(scope, resource_ids))
            .await
            .map(Some)
    }
}

impl SubscriptionsClient {
    /// A client for `account`'s `[accounts.subscriptions]`, whose listing reaches
    /// `largest_threshold` + [`WINDOW_MARGIN_DAYS`] days ahead (`None`: everything).
    pub fn new(
        account: &AccountConfig,
        config: &SubscriptionsConfig,
        largest_threshold: Option<i64>,
        http: reqwest::Client,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        let base = config.billing_base();
        check_base_url(&account.name, "subscriptions.endpoint", &base)?;
        let url = check_base_url(
            &account.name,
            "subscriptions.endpoint",
            &format!("{base}{RESOURCES_QUERY_PATH}"),
        )?;
        let renew_rate_url = check_base_url(
            &account.name,
            "subscriptions.endpoint",
            &format!("{base}{}", funds::RENEW_RATE_PATH),
        )?;
        let balances_url = check_base_url(
            &account.name,
            "subscriptions.endpoint",
            &format!("{base}{}", funds::BALANCES_PATH),
        )?;
        Ok(SubscriptionsClient {
            url,
            renew_rate_url,
            balances_url,
            config: config.clone(),
            renewal_page: config.site.renewal_page().to_string(),
            window_days: largest_threshold.map(|t| t.max(0) + WINDOW_MARGIN_DAYS),
            page_size: models::MAX_PAGE_SIZE,
            gateway: Gateway::new(
                &account.name,
                EVENTS,
                http,
                timeout,
                Authenticator::for_service(account, ServiceScope::Global)?,
                account.max_requests_per_second,
            ),
        })
    }

    /// Sets the delay before the first retry (default 300 ms; tests make it short).
    pub fn with_retry_base(mut self, base: Duration) -> Self {
        self.gateway.set_retry_base(base);
        self
    }

    /// Sets the page size (default and most 500; tests make it small).
    pub fn with_page_size(mut self, size: u32) -> Self {
        self.page_size = size.clamp(1, models::MAX_PAGE_SIZE);
        self
    }

    /// Every listing, then the known resources outside them, as one result.
    async fn list(
        &self,
        scope: &Scope,
        known: &[String],
        now: DateTime<Utc>,
    ) -> Result<PollResult, ApiError> {
        let window_end = self
            .window_days
            .and_then(|days| models::window_end(now, days))
            .map(models::api_time);
        let only_main_resource = models::MAIN_AND_ATTACHED;
        let service_types: Vec<Option<String>> = if self.config.service_types.is_empty() {
            vec![None]
        } else {
            self.config
                .service_types
                .iter()
                .cloned()
                .map(Some)
                .collect()
        };
        let mut resources = Vec::new();
        let mut bad = Vec::new();
        for service_type in service_types {
            let template = QueryBody {
                resource_ids: vec![],
                only_main_resource,
                status_list: self.config.status.clone(),
                offset: 0,
                limit: self.page_size,
                expire_time_end: window_end.clone(),
                service_type_code: service_type,
            };
            self.list_all_pages(scope, &template, &mut resources, &mut bad)
                .await?;
        }
        if window_end.is_some() {
            let listed: HashSet<&str> = resources
                .iter()
                .filter_map(|r| r.resource_id.as_deref())
                .collect();
            let missing: Vec<String> = known
                .iter()
                .filter(|id| !listed.contains(id.as_str()))
                .cloned()
                .collect();
            for ids in missing.chunks(models::MAX_RESOURCE_IDS) {
                let body = QueryBody {
                    resource_ids: ids.to_vec(),
                    only_main_resource,
                    status_list: vec![],
                    offset: 0,
                    limit: models::MAX_RESOURCE_IDS as u32,
                    expire_time_end: None,
                    service_type_code: None,
                };
                // A known resource's attached ones come along; it may have been closed since
                // (asked for without a status filter: its status says so).
                self.list_all_pages(scope, &body, &mut resources, &mut bad)
                    .await?;
            }
        }
        let of = ItemsOf {
            scope,
            main_only: self.config.main_only,
            renewal_page: &self.renewal_page,
            now,
        };
        let (packages, more_bad) = of.items(resources);
        bad.extend(more_bad);
        Ok(PollResult {
            scope: scope.clone(),
            packages,
            bad_entries: bad,
            trace_id: None,
        })
    }

    /// Every page of one listing into `resources`, restarted once when its total moves.
    async fn list_all_pages(
        &self,
        scope: &Scope,
        template: &QueryBody,
        resources: &mut Vec<Resource>,
        bad: &mut Vec<BadEntry>,
    ) -> Result<(), ApiError> {
        let (listed, unreadable) = list_restarting(
            &self.gateway,
            scope,
            "resources",
            "billing.listing_restarted",
            || self.pages(scope, template),
        )
        .await?;
        resources.extend(listed);
        bad.extend(unreadable);
        Ok(())
    }

    /// The pages of one listing, from offset 0 to its total.
    async fn pages(
        &self,
        scope: &Scope,
        template: &QueryBody,
    ) -> Result<(Vec<Resource>, Vec<BadEntry>), Listing> {
        let mut resources = Vec::new();
        let mut bad = Vec::new();
        let mut total = None;
        let mut offset = 0u32;
        for _ in 0..MAX_PAGES {
            let body = QueryBody {
                offset,
                ..template.clone()
            };
            let page = self.page(scope, &body).await?;
            let count = page.entries.len() as u64;
            Listing::same_total(&mut total, page.total_count)?;
            for entry in page.entries {
                match entry {
                    Ok(resource) => resources.push(resource),
                    Err(entry) => bad.push(entry),
                }
            }
            let seen = u64::from(offset) + count;
            let total = page.total_count;
            if seen >= total {
                return Ok((resources, bad));
            }
            if count == 0 {
                // Short of the total, and nothing more: the listing shrank under us.
                return Err(Listing::Moved {
                    before: total,
                    after: seen,
                });
            }
            offset = u32::try_from(seen).map_err(|_| {
                Listing::Failed(self.gateway.error(
                    scope,
                    ApiErrorKind::Parse,
                    format!("a total of {total} resources is more than renewd pages through"),
                ))
            })?;
        }
        Err(Listing::Failed(self.gateway.error(
            scope,
            ApiErrorKind::Parse,
            format!("more than {MAX_PAGES} pages of resources"),
        )))
    }

    /// The price of one month's renewal of `resource_ids`, asked
    /// [`funds::MAX_RENEW_RATE_IDS`] at a time, and the balance: in one currency, or an error.
    async fn funds(
        &self,
        scope: &Scope,
        resource_ids: &[String],
    ) -> Result<RenewalFunds, ApiError> {
        let mut result = RenewalFunds::default();
        let mut currency: Option<String> = None;
        for ids in resource_ids.chunks(funds::MAX_RENEW_RATE_IDS) {
            let body = serde_json::to_vec(&RenewRateBody::one_month(ids)).map_err(|e| {
                self.gateway.error(
                    scope,
                    ApiErrorKind::Parse,
                    format!("cannot write the price inquiry: {e}"),
                )
            })?;
            let call = Call {
                method: Method::POST,
                url: &self.renew_rate_url,
                body: &body,
                content_type: Some(CONTENT_TYPE),
            };
            let response = self.gateway.call(scope, &call).await?;
            let quote =
                self.gateway
                    .read(scope, &response, funds::read_renew_rate(&response.body))?;
            same_currency(&mut currency, &quote.currency, "a renewal price")
                .map_err(|m| self.gateway.error(scope, ApiErrorKind::Parse, m))?;
            let failed: HashSet<&str> = quote.failed.iter().map(|(id, _)| id.as_str()).collect();
            for (id, reason) in &quote.failed {
                tracing::warn!(
                    event = "billing.renewal_unpriced",
                    account = %self.gateway.account(),
                    resource_id = %id,
                    reason = %reason,
                    "the billing API could not price a resource's renewal; it is not in the sum"
                );
            }
            if quote.prices.is_empty() {
                // No price per resource: the inquiry's total stands for those it did price.
                let priced: Vec<&String> = ids
                    .iter()
                    .filter(|id| !failed.contains(id.as_str()))
                    .collect();
                match quote.total {
                    Some(total) if !priced.is_empty() => {
                        let key = priced
                            .iter()
                            .map(|id| id.as_str())
                            .collect::<Vec<_>>()
                            .join("+");
                        result.prices.insert(key, total);
                    }
                    _ => result.unpriced.extend(priced.into_iter().cloned()),
                }
            } else {
                for (id, price) in quote.prices {
                    *result.prices.entry(id).or_default() += price;
                }
                result.unpriced.extend(
                    ids.iter()
                        .filter(|id| {
                            !result.prices.contains_key(id.as_str())
                                && !failed.contains(id.as_str())
                        })
                        .cloned(),
                );
            }
            result
                .unpriced
                .extend(quote.failed.into_iter().map(|(id, _)| id));
        }
        let call = Call {
            method: Method::GET,
            url: &self.balances_url,
            body: &[],
            content_type: None,
        };
        let response = self.gateway.call(scope, &call).await?;
        let balance = self
            .gateway
            .read(scope, &response, funds::read_balances(&response.body))?;
        same_currency(&mut currency, &balance.currency, "the balance")
            .map_err(|m| self.gateway.error(scope, ApiErrorKind::Parse, m))?;
        result.currency = balance.currency.clone();
        result.balance = balance.available();
        Ok(result)
    }

    /// One page.
    async fn page(&self, scope: &Scope, body: &QueryBody) -> Result<models::Page, ApiError> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            self.gateway.error(
                scope,
                ApiErrorKind::Parse,
                format!("cannot write the query: {e}"),
            )
        })?;
        let call = Call {
            method: Method::POST,
            url: &self.url,
            body: &bytes,
            content_type: Some(CONTENT_TYPE),
        };
        let response = self.gateway.call(scope, &call).await?;
        self.read_page(scope, &response)
    }

    #[allow(clippy::result_large_err)]
    fn read_page(&self, scope: &Scope, response: &RawResponse) -> Result<models::Page, ApiError> {
        self.gateway
            .read(scope, response, models::read_body(&response.body))
    }
}

/// Amounts are compared only in one currency: the first one found, which every later one must
/// match.
fn same_currency(currency: &mut Option<String>, found: &str, what: &str) -> Result<(), String> {
    match currency {
        Some(c) if c != found => Err(format!(
            "{what} is in {found}, other amounts in {c}: they are not compared"
        )),
        Some(_) => Ok(()),
        None => {
            *currency = Some(found.to_string());
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_and_fetch_can_cross_threads() {
        fn is_send_sync<T: Send + Sync>() {}
        fn is_send<T: Send>(_: &T) {}
        is_send_sync::<SubscriptionsClient>();
        let _check = |client: &SubscriptionsClient, scope: &Scope| {
            let future = client.fetch_knowing(scope, &[]);
            is_send(&future);
        };
    }
}
