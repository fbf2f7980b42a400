//! Huawei Cloud's billing day (it ends at 23:59:59 GMT+08:00), remaining days of an absolute
//! expiry, and money (decimal, never floating point).

use super::*;

/// What renewing an account's soon-to-renew resources for one period costs, and what the
/// account holds to pay for it (billing `ListRenewRateOnPeriod` and
/// `ShowCustomerAccountBalances`). Money is decimal, in the unit the API states (yuan for CNY).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenewalFunds {
    /// The currency of the prices and the balance (they were checked to agree).
    pub currency: String,
    /// The price of one period per main resource id (attached resources included).
    pub prices: BTreeMap<String, Decimal>,
    /// Resources the price inquiry could not price (their cost is not in the sum).
    pub unpriced: Vec<String>,
    /// What the account can pay with: cash plus credit, less any arrears.
    pub balance: Decimal,
}

impl RenewalFunds {
    /// The sum of the prices.
    pub fn total(&self) -> Decimal {
        self.prices.values().copied().sum()
    }
}

/// Huawei Cloud's billing day: a billing cycle ends at 23:59:59 GMT+08:00 on its last day.
pub(super) const BILLING_OFFSET_SECONDS: i32 = 8 * 3600;

/// The estimated last day of a package: the day (in GMT+08:00, Huawei's billing day) on which
/// `remain_days` was read, plus those days.
pub fn billing_last_day(read_at: DateTime<Utc>, remain_days: i64) -> Option<NaiveDate> {
    let billing = chrono::FixedOffset::east_opt(BILLING_OFFSET_SECONDS)?;
    let read_on = read_at.with_timezone(&billing).date_naive();
    read_on.checked_add_signed(chrono::Duration::try_days(remain_days)?)
}

/// The instant a package expires: the end (23:59:59 GMT+08:00) of its [`billing_last_day`].
pub fn billing_expiry(read_at: DateTime<Utc>, remain_days: i64) -> Option<DateTime<Utc>> {
    let billing = chrono::FixedOffset::east_opt(BILLING_OFFSET_SECONDS)?;
    let end = billing_last_day(read_at, remain_days)?.and_hms_opt(23, 59, 59)?;
    Some(
        end.and_local_timezone(billing)
            .single()?
            .with_timezone(&Utc),
    )
}

/// The billing day of an instant: its calendar day in GMT+08:00.
pub fn billing_day(t: DateTime<Utc>) -> Option<NaiveDate> {
    let billing = chrono::FixedOffset::east_opt(BILLING_OFFSET_SECONDS)?;
    Some(t.with_timezone(&billing).date_naive())
}

/// The days left until `expire_time` as Huawei counts them: the [`billing_day`] of
/// `expire_time` minus that of `now`. The same count the CodeArts API reports as
/// `remainDays`: 0 on the last day, negative after.
pub fn remain_days_until(expire_time: DateTime<Utc>, now: DateTime<Utc>) -> Option<i64> {
    let last = billing_day(expire_time)?;
    let today = billing_day(now)?;
    Some(last.signed_duration_since(today).num_days())
}
