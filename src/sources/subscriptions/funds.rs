//! The wire format of the billing API's renewal price and balance (fields as the official
//! SDK's `ListRenewRateOnPeriodReq`/`ListRenewRateOnPeriodResponse` and
//! `ShowCustomerAccountBalancesResponse`/`AccountBalanceV3`, `huaweicloudsdkbss`). Pure
//! functions, no I/O.
//!
//! Money is read as [`Decimal`] from the answer's own text, whether the API writes an amount
//! as a string (`"532.00"`, the price) or as a JSON number (`128.45`, the balance): never
//! through a floating-point number.

use crate::huawei::gateway::answer_object;
use crate::huawei::gateway::Answer;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::str::FromStr;

/// `ListRenewRateOnPeriod`.
pub const RENEW_RATE_PATH: &str = "/v2/bills/ratings/period-resources/renew-rate";
/// `ShowCustomerAccountBalances`.
pub const BALANCES_PATH: &str = "/v2/accounts/customer-accounts/balances";
/// The most resource ids one price inquiry may carry (the SDK: "最多10个资源ID").
pub const MAX_RENEW_RATE_IDS: usize = 10;
/// `period_type`: months.
pub const PERIOD_MONTH: u8 = 2;
/// `account_type` of the cash account.
pub const ACCOUNT_CASH: i64 = 1;
/// `account_type` of the credit account.
pub const ACCOUNT_CREDIT: i64 = 2;
/// The currency an answer that names none is in (the SDK: "值为空代表人民币").
pub const DEFAULT_CURRENCY: &str = "CNY";

/// The price inquiry's body: one month for main resources, their attached ones included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenewRateBody {
    pub resource_ids: Vec<String>,
    pub period_type: u8,
    pub period_num: u8,
    pub include_relative_resources: bool,
}

impl RenewRateBody {
    /// One month's renewal of `resource_ids` (main resources), attached resources included.
    pub fn one_month(resource_ids: &[String]) -> Self {
        RenewRateBody {
            resource_ids: resource_ids.to_vec(),
            period_type: PERIOD_MONTH,
            period_num: 1,
            include_relative_resources: true,
        }
    }
}

/// What one price inquiry said.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Quote {
    pub currency: String,
    /// `renew_inquiry_results`: the price of each main resource with its attached ones.
    pub prices: Vec<(String, Decimal)>,
    /// The total of the inquiry: the best offer's `amount` among the optional discounts, else
    /// the official website price (used when no resource is priced on its own).
    pub total: Option<Decimal>,
    /// `fail_resource_infos`: resources that could not be priced, with the reason.
    pub failed: Vec<(String, String)>,
}

/// What the balance query said, in its currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    pub currency: String,
    /// Cash plus credit (`account_type` 1 and 2), as the API reports them.
    pub cash_and_credit: Decimal,
    /// `debt_amount`: arrears, which a payment settles first.
    pub debt: Decimal,
}

impl Balance {
    /// What the account can pay with: cash plus credit less arrears.
    pub fn available(&self) -> Decimal {
        self.cash_and_credit - self.debt.max(Decimal::ZERO)
    }
}

#[derive(Deserialize)]
struct RenewRateWire<'a> {
    #[serde(default)]
    currency: Option<String>,
    #[serde(default, borrow)]
    renew_inquiry_results: Option<Vec<InquiryWire<'a>>>,
    #[serde(default, borrow)]
    official_website_rating_result: Option<OfficialWire<'a>>,
    #[serde(default, borrow)]
    optional_discount_rating_results: Option<Vec<DiscountWire<'a>>>,
    #[serde(default)]
    fail_resource_infos: Option<Vec<FailWire>>,
}

#[derive(Deserialize)]
struct InquiryWire<'a> {
    resource_id: Option<String>,
    #[serde(borrow)]
    amount: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct OfficialWire<'a> {
    #[serde(default, borrow)]
    official_website_amount: Option<&'a RawValue>,
    #[serde(default)]
    measure_id: Option<i64>,
}

#[derive(Deserialize)]
struct DiscountWire<'a> {
    #[serde(default, borrow)]
    amount: Option<&'a RawValue>,
    #[serde(default)]
    best_offer: Option<i64>,
    #[serde(default)]
    measure_id: Option<i64>,
}

#[derive(Deserialize)]
struct FailWire {
    #[serde(default)]
    resource_id: Option<String>,
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    error_msg: Option<String>,
}

#[derive(Deserialize)]
struct BalancesWire<'a> {
    #[serde(default, borrow)]
    account_balances: Option<Vec<AccountWire<'a>>>,
    #[serde(default, borrow)]
    debt_amount: Option<&'a RawValue>,
    #[serde(default)]
    measure_id: Option<i64>,
    #[serde(default)]
    currency: Option<String>,
}

#[derive(Deserialize)]
struct AccountWire<'a> {
    #[serde(default)]
    account_type: Option<i64>,
    #[serde(default, borrow)]
    amount: Option<&'a RawValue>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    measure_id: Option<i64>,
}

/// An amount as the API wrote it — a JSON string or number, or null — read as a decimal in
/// yuan (`measure_id` 1 yuan, 2 jiao, 3 fen; none means yuan).
pub fn read_amount(
    raw: Option<&RawValue>,
    measure_id: Option<i64>,
) -> Result<Option<Decimal>, String> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let text = raw.get().trim();
    let text = if text == "null" {
        return Ok(None);
    } else if text.starts_with('"') {
        serde_json::from_str::<String>(text).map_err(|e| format!("amount {text}: {e}"))?
    } else {
        text.to_string()
    };
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let amount = if text.contains(['e', 'E']) {
        Decimal::from_scientific(text)
    } else {
        Decimal::from_str(text)
    }
    .map_err(|e| format!("amount {text:?} is not a decimal number: {e}"))?;
    let scale = match measure_id {
        None | Some(1) => Decimal::ONE,
        Some(2) => Decimal::new(1, 1),
        Some(3) => Decimal::new(1, 2),
        Some(other) => return Err(format!("unknown unit of money (measure_id {other})")),
    };
    Ok(Some(amount * scale))
}

fn currency_of(text: Option<&str>) -> String {
    match text.map(str::trim) {
        Some(c) if !c.is_empty() => c.to_ascii_uppercase(),
        _ => DEFAULT_CURRENCY.to_string(),
    }
}

/// Reads a 2xx answer: an error shape, or `W` (what the answer is, in `what`) turned by
/// `convert`.
fn read<'a, W: Deserialize<'a>, T>(
    body: &'a [u8],
    what: &str,
    convert: impl FnOnce(W) -> Result<T, String>,
) -> Answer<T> {
    if let Err(answer) = answer_object(body) {
        return answer;
    }
    match serde_json::from_slice(body)
        .map_err(|e| format!("not {what}: {e}"))
        .and_then(convert)
    {
        Ok(value) => Answer::Read(value),
        Err(reason) => Answer::Unexpected { reason },
    }
}

/// Reads a 2xx answer of `ListRenewRateOnPeriod`.
pub fn read_renew_rate(body: &[u8]) -> Answer<Quote> {
    read(body, "a renewal price", quote)
}

fn quote(wire: RenewRateWire<'_>) -> Result<Quote, String> {
    let mut prices = Vec::new();
    for entry in wire.renew_inquiry_results.unwrap_or_default() {
        let Some(id) = entry.resource_id.filter(|id| !id.trim().is_empty()) else {
            return Err("a price without `resource_id`".into());
        };
        match read_amount(entry.amount, None)? {
            Some(amount) => prices.push((id, amount)),
            None => return Err(format!("the price of {id} has no `amount`")),
        }
    }
    let mut best = None;
    for discount in wire.optional_discount_rating_results.unwrap_or_default() {
        if discount.best_offer == Some(1) {
            best = read_amount(discount.amount, discount.measure_id)?;
        }
    }
    let official = match wire.official_website_rating_result {
        Some(o) => read_amount(o.official_website_amount, o.measure_id)?,
        None => None,
    };
    let failed = wire
        .fail_resource_infos
        .unwrap_or_default()
        .into_iter()
        .map(|f| {
            let reason = [f.error_code, f.error_msg]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            (f.resource_id.unwrap_or_default(), reason)
        })
        .collect();
    Ok(Quote {
        currency: currency_of(wire.currency.as_deref()),
        prices,
        total: best.or(official),
        failed,
    })
}

/// Reads a 2xx answer of `ShowCustomerAccountBalances`: cash and credit summed, in the one
/// currency they are in (accounts in another currency than the answer's are refused, not
/// added).
pub fn read_balances(body: &[u8]) -> Answer<Balance> {
    read(body, "a balance", balance)
}

fn balance(wire: BalancesWire<'_>) -> Result<Balance, String> {
    let Some(accounts) = wire.account_balances else {
        return Err("no `account_balances` in the answer".into());
    };
    let currency = currency_of(wire.currency.as_deref());
    let mut cash_and_credit = Decimal::ZERO;
    for account in accounts {
        if !matches!(account.account_type, Some(ACCOUNT_CASH | ACCOUNT_CREDIT)) {
            continue;
        }
        let own = currency_of(account.currency.as_deref().or(Some(&currency)));
        if own != currency {
            return Err(format!(
                "an account balance in {own}, the answer in {currency}: not added up"
            ));
        }
        if let Some(amount) = read_amount(account.amount, account.measure_id.or(wire.measure_id))? {
            cash_and_credit += amount;
        }
    }
    let debt = read_amount(wire.debt_amount, wire.measure_id)?.unwrap_or_default();
    Ok(Balance {
        currency,
        cash_and_credit,
        debt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RENEW: &str = include_str!("../../../tests/fixtures/billing/renew_rate.json");
    const BALANCES: &str = include_str!("../../../tests/fixtures/billing/balances.json");

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    #[test]
    fn the_documented_price_is_read_as_decimals() {
        let Answer::Read(quote) = read_renew_rate(RENEW.as_bytes()) else {
            panic!("a quote");
        };
        assert_eq!(quote.currency, "CNY");
        assert_eq!(
            quote.prices,
            vec![(
                "3f5b2d9e-1c4a-4d2b-8e7f-6a5b4c3d2e1f".to_string(),
                dec("532.00")
            )]
        );
        assert_eq!(quote.total, Some(dec("532.00")));
        assert!(quote.failed.is_empty());
    }

    #[test]
    fn the_documented_balance_is_read_as_decimals() {
        let Answer::Read(balance) = read_balances(BALANCES.as_bytes()) else {
            panic!("a balance");
        };
        assert_eq!(balance.currency, "CNY");
        assert_eq!(balance.cash_and_credit, dec("128.45"));
        assert_eq!(balance.available(), dec("128.45"));
    }

    #[test]
    fn amounts_keep_every_digit_whatever_their_json_type() {
        // 0.1 + 0.2 is 0.30000000000000004 in floating point; in decimal it is 0.3.
        let body = br#"{"account_balances":[
            {"account_type":1,"amount":0.1,"currency":"CNY"},
            {"account_type":2,"amount":"0.2","currency":"CNY"},
            {"account_type":5,"amount":1000,"currency":"CNY"}],
            "debt_amount":0,"measure_id":1,"currency":"CNY"}"#;
        let Answer::Read(balance) = read_balances(body) else {
            panic!("a balance");
        };
        assert_eq!(balance.available(), dec("0.3"));
        // A number no f64 holds exactly, read digit for digit.
        let raw = RawValue::from_string("12345678901234567.89".into()).unwrap();
        assert_eq!(
            read_amount(Some(&raw), None).unwrap(),
            Some(dec("12345678901234567.89"))
        );
        let raw = RawValue::from_string("1.5e2".into()).unwrap();
        assert_eq!(read_amount(Some(&raw), None).unwrap(), Some(dec("150")));
        // In fen.
        let raw = RawValue::from_string("\"12345\"".into()).unwrap();
        assert_eq!(
            read_amount(Some(&raw), Some(3)).unwrap(),
            Some(dec("123.45"))
        );
        let raw = RawValue::from_string("\"abc\"".into()).unwrap();
        assert!(read_amount(Some(&raw), None).is_err());
    }

    #[test]
    fn arrears_come_off_and_other_accounts_are_left_out() {
        let body = br#"{"account_balances":[
            {"account_type":1,"amount":100.50},
            {"account_type":2,"amount":50},
            {"account_type":7,"amount":900}],
            "debt_amount":20.25,"currency":"CNY"}"#;
        let Answer::Read(balance) = read_balances(body) else {
            panic!("a balance");
        };
        assert_eq!(balance.cash_and_credit, dec("150.50"));
        assert_eq!(balance.available(), dec("130.25"));
        let body = br#"{"account_balances":[{"account_type":1,"amount":1,"currency":"USD"}],"currency":"CNY"}"#;
        assert!(matches!(read_balances(body), Answer::Unexpected { .. }));
    }

    #[test]
    fn odd_answers_are_told_apart() {
        assert!(matches!(
            read_renew_rate(br#"{"error_code":"CBC.0100","error_msg":"bad"}"#),
            Answer::Error(_)
        ));
        assert!(matches!(read_balances(b"<html>"), Answer::NotJson { .. }));
        assert!(matches!(read_balances(b"{}"), Answer::Unexpected { .. }));
        assert!(matches!(
            read_renew_rate(br#"{"renew_inquiry_results":[{"resource_id":"a","amount":"x"}]}"#),
            Answer::Unexpected { .. }
        ));
        let Answer::Read(quote) = read_renew_rate(
            br#"{"fail_resource_infos":[{"resource_id":"a","error_code":"CBC.1","error_msg":"no"}],
                "official_website_rating_result":{"official_website_amount":"10.00"}}"#,
        ) else {
            panic!("a quote");
        };
        assert_eq!(
            quote.failed,
            vec![("a".to_string(), "CBC.1 no".to_string())]
        );
        assert_eq!(quote.total, Some(dec("10.00")));
        assert_eq!(quote.currency, "CNY");
    }

    #[test]
    fn bodies_are_written_as_the_sdk_writes_them() {
        assert_eq!(
            serde_json::to_string(&RenewRateBody::one_month(&["a".into(), "b".into()])).unwrap(),
            r#"{"resource_ids":["a","b"],"period_type":2,"period_num":1,"include_relative_resources":true}"#
        );
    }
}
