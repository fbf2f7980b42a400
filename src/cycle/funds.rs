//! The funds check of a billing scope: its coming auto-renewals priced against the balance,
//! after its listing succeeded.

use super::*;

/// What a scope's funds check found (the billing source's auto-renewals against the
/// balance), after its listing succeeded.
#[derive(Debug)]
pub(super) enum FundsCheck {
    /// Not asked (a source without auto-renewal, a failed listing): the episode is unchanged.
    NotAsked,
    /// Nothing renews itself soon (or no rule would hear of it): the episode ends.
    NothingComing,
    /// The prices and the balance, for resources renewing within `check_days`.
    Checked {
        funds: RenewalFunds,
        check_days: i64,
    },
    /// Asking failed (logged): nothing is known, the episode is unchanged.
    Failed,
}

/// After a successful listing: when some of its items renew themselves within the source's
/// `auto_renew_check_days`, asks their price for one period and the account's balance. A
/// failure is logged (`billing.funds_check_failed`) and changes nothing else: the listing
/// stands.
pub(super) async fn check_funds(
    app: &App,
    source: &dyn Source,
    scope: &Scope,
    poll: &PollResult,
    now: DateTime<Utc>,
) -> FundsCheck {
    let Some(check_days) = source.auto_renew_check_days() else {
        return FundsCheck::NotAsked;
    };
    let ids = rules::funds_check_ids(&app.rules, &poll.packages, check_days, now);
    if ids.is_empty() {
        return FundsCheck::NothingComing;
    }
    match source.renewal_funds(scope, &ids).await {
        Ok(Some(funds)) => {
            tracing::info!(
                event = "billing.funds_checked",
                account = %scope.account,
                resources = ids.len(),
                priced = funds.prices.len(),
                unpriced = funds.unpriced.len(),
                total = %funds.total(),
                balance = %funds.balance,
                currency = %funds.currency,
                "auto-renewals priced against the balance"
            );
            FundsCheck::Checked { funds, check_days }
        }
        Ok(None) => FundsCheck::NotAsked,
        Err(error) => {
            tracing::warn!(
                event = "billing.funds_check_failed",
                account = %scope.account,
                resources = ids.len(),
                http_status = error.http_status,
                error_code = error.code.as_deref().unwrap_or(""),
                request_id = error.request_id.as_deref().unwrap_or(""),
                error = %error,
                "cannot price the coming auto-renewals or read the balance; the listing stands"
            );
            FundsCheck::Failed
        }
    }
}
