//! Where items come from: one folder per source, each turning one scope of an account (a
//! project, or the account as a whole) into observations with a stable identity.
//! [`codearts`], the CodeArts package API; [`subscriptions`], the billing API's yearly/monthly
//! resources.
//!
//! The cycle only knows the [`Source`] interface: a second source is one new folder that
//! implements it and a config section that builds it (in `app.rs`); the rules engine, the
//! state store, the outbox and the receivers do not change.

pub mod codearts;
pub mod subscriptions;

use crate::huawei::gateway::{Call, Gateway, RawResponse};
use crate::huawei::{ApiError, ApiErrorKind};
use crate::model::{Item, RenewalFunds, Scope};
use std::future::Future;

/// One successful listing of one scope: every item it reported. A listing is whole or it is
/// an error; never a part taken for the truth, or items would be reported vanished.
#[derive(Debug, Clone, PartialEq)]
pub struct PollResult {
    pub scope: Scope,
    pub packages: Vec<Item>,
    /// Entries of the answer that could not be read; the caller reports them.
    pub bad_entries: Vec<BadEntry>,
    /// The API's trace id for the listing, when it gave one (logged).
    pub trace_id: Option<String>,
}

/// An entry of an answer that could not be turned into an item: reported, never guessed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadEntry {
    /// What names the entry in the answer (for CodeArts, its key in `result`).
    pub key: String,
    pub reason: String,
}

/// What a discovery of an account's scopes found (see [`Source::discover_scopes`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Discovery {
    /// Every scope the listing had, in a stable order.
    pub scopes: Vec<Scope>,
    /// Entries of the listing that could not be read (reported). While there are any, the
    /// listing may lack a scope it really has: none is taken for removed.
    pub bad_entries: Vec<BadEntry>,
}

/// One account's view of one kind of thing that expires. Long-lived: built once per config
/// (holding caches such as IAM tokens across cycles) and asked once per scope per cycle.
#[async_trait::async_trait]
pub trait Source: Send + Sync + std::fmt::Debug {
    /// The account, as named in the config.
    fn account(&self) -> &str;

    /// Every scope a cycle lists, in a stable order; for a source that
    /// [`discovers_scopes`](Source::discovers_scopes), none: they are found at each cycle.
    fn scopes(&self) -> Vec<Scope>;

    /// True when the scopes are found by asking the API at the start of every cycle
    /// ([`discover_scopes`](Source::discover_scopes)) rather than configured.
    fn discovers_scopes(&self) -> bool {
        false
    }

    /// The scopes of this cycle, as the API lists them now: the whole listing or an error
    /// (the caller then keeps to the scopes it knew). Only asked of a source that
    /// [`discovers_scopes`](Source::discovers_scopes); by default, [`scopes`](Source::scopes).
    async fn discover_scopes(&self) -> Result<Discovery, ApiError> {
        Ok(Discovery {
            scopes: self.scopes(),
            bad_entries: Vec::new(),
        })
    }

    /// Lists one scope: every item or an error, retried and paced as the source needs.
    async fn fetch(&self, scope: &Scope) -> Result<PollResult, ApiError>;

    /// True when a listing covers only part of a scope (the billing source's expiry window)
    /// and [`fetch_knowing`](Source::fetch_knowing) must be told the resource ids the state
    /// file knows of it, to account for those outside that part.
    fn needs_known_items(&self) -> bool {
        false
    }

    /// Lists one scope knowing the resource ids of the items the last listings had (only
    /// asked of a source that [`needs_known_items`](Source::needs_known_items)): each of them
    /// is in the result or really gone.
    async fn fetch_knowing(&self, scope: &Scope, known: &[String]) -> Result<PollResult, ApiError> {
        let _ = known;
        self.fetch(scope).await
    }

    /// Days before the end of their term within which the coming auto-renewals of a scope's
    /// items are checked against the account's balance; `None` for a source without
    /// auto-renewal (only the billing source has it).
    fn auto_renew_check_days(&self) -> Option<i64> {
        None
    }

    /// What renewing `resource_ids` (main resources of `scope`) for one period costs and what
    /// the account holds to pay for it; `None` from a source that cannot tell.
    async fn renewal_funds(
        &self,
        scope: &Scope,
        resource_ids: &[String],
    ) -> Result<Option<RenewalFunds>, ApiError> {
        let _ = (scope, resource_ids);
        Ok(None)
    }
}

/// A paged listing that could not be finished, before it is an [`ApiError`].
pub(crate) enum Listing {
    Failed(ApiError),
    /// The total changed from `before` to `after` between pages.
    Moved {
        before: u64,
        after: u64,
    },
}

impl Listing {
    /// Keeps the total of a listing's first page in `total`; a later page with another total
    /// means the listing moved under us.
    // As every `Listing` result: the error is built once per failed listing.
    #[allow(clippy::result_large_err)]
    pub(crate) fn same_total(total: &mut Option<u64>, page_total: u64) -> Result<(), Listing> {
        let before = *total.get_or_insert(page_total);
        if before == page_total {
            Ok(())
        } else {
            Err(Listing::Moved {
                before,
                after: page_total,
            })
        }
    }
}

impl From<ApiError> for Listing {
    fn from(error: ApiError) -> Self {
        Listing::Failed(error)
    }
}

/// How many times a paged listing starts over after its total changed between pages.
const MAX_RESTARTS: u32 = 1;

/// Runs `list` (every page of one listing of `things`, e.g. "projects") and, when its total
/// moved between pages (things bought or deleted meanwhile), once more, logging
/// `restarted_event`; a second move fails the listing: a part of a listing is never taken for
/// the whole, or what was on the missing pages would look gone.
pub(crate) async fn list_restarting<T, Fut>(
    gateway: &Gateway,
    scope: &Scope,
    things: &str,
    restarted_event: &'static str,
    mut list: impl FnMut() -> Fut,
) -> Result<T, ApiError>
where
    Fut: Future<Output = Result<T, Listing>>,
{
    let mut restarts = 0;
    loop {
        match list().await {
            Ok(listed) => return Ok(listed),
            Err(Listing::Failed(error)) => return Err(error),
            Err(Listing::Moved { before, after }) if restarts < MAX_RESTARTS => {
                restarts += 1;
                tracing::info!(
                    event = restarted_event,
                    account = %gateway.account(),
                    before,
                    after,
                    "the number of {things} changed while they were listed; listing again"
                );
            }
            Err(Listing::Moved { before, after }) => {
                return Err(gateway.error(
                    scope,
                    ApiErrorKind::Api,
                    format!(
                        "the number of {things} changed while they were listed ({before} → \
                         {after}), again after listing them anew; nothing of this listing is \
                         used, the next cycle lists again"
                    ),
                ))
            }
        }
    }
}

/// One `GET` of `url` through `gateway`, answered with a 2xx or failed for good.
pub(crate) async fn get(
    gateway: &Gateway,
    scope: &Scope,
    url: &url::Url,
) -> Result<RawResponse, ApiError> {
    let call = Call {
        method: reqwest::Method::GET,
        url,
        body: b"",
        content_type: None,
    };
    gateway.call(scope, &call).await
}
