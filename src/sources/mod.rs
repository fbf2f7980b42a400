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

use crate::huawei::ApiError;
use crate::model::{Item, RenewalFunds, Scope};

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

/// One account's view of one kind of thing that expires. Long-lived: built once per config
/// (holding caches such as IAM tokens across cycles) and asked once per scope per cycle.
#[async_trait::async_trait]
pub trait Source: Send + Sync + std::fmt::Debug {
    /// The account, as named in the config.
    fn account(&self) -> &str;

    /// Every scope a cycle lists, in a stable order.
    fn scopes(&self) -> Vec<Scope>;

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
