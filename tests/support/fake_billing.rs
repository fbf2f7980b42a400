//! The billing API of the fake cloud ([`super::fake_cloud::FakeCloud`] serves it on the same
//! loopback port, behind the same gateway): `POST /v2/orders/suscriptions/resources/query`
//! over a programmable list of resources, paged by `offset`/`limit` as the real API pages,
//! with faults a listing must survive or fail on — a total that changes mid-listing, a page
//! that fails once or always. The gateway part (tokens that must be domain-scoped, AK/SK
//! signatures that must sign `X-Domain-Id`) is in fake_cloud.rs, with IAM's
//! `GET /v3/auth/domains`.
//!
//! Also the renewal price (`POST /v2/bills/ratings/period-resources/renew-rate`: at most 10
//! main resources a request, prices as decimal strings, the best offer among the optional
//! discounts, unknown resources in `fail_resource_infos`) and the balance
//! (`GET /v2/accounts/customer-accounts/balances`: amounts as JSON numbers), shaped as
//! tests/fixtures/billing/renew_rate.json and balances.json.

use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::str::FromStr;

pub const RESOURCES_QUERY_PATH: &str = "/v2/orders/suscriptions/resources/query";
pub const IAM_DOMAINS_PATH: &str = "/v3/auth/domains";
pub const RENEW_RATE_PATH: &str = "/v2/bills/ratings/period-resources/renew-rate";
pub const BALANCES_PATH: &str = "/v2/accounts/customer-accounts/balances";
/// The access key of the billing tests, its secret key and its account's domain id.
pub const AK: &str = "HPUAEXAMPLEAK0000001";
pub const SK: &str = "ExampleSecretKey0123456789abcdefghijklmn";
pub const DOMAIN_ID: &str = "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0";

/// An expiry `days` billing days from today, as the API writes it.
pub fn expiring_in(days: i64) -> String {
    renewd::model::billing_expiry(chrono::Utc::now(), days)
        .expect("in range")
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The most resource ids one price inquiry takes.
pub const MAX_RENEW_RATE_IDS: usize = 10;

/// How a page request fails (after authentication passed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageFault {
    /// The `offset` of the page that fails.
    pub offset: u64,
    /// How many more times it fails (`None`: always).
    pub remaining: Option<u32>,
}

#[derive(Debug, Default)]
pub struct BillingState {
    pub resources: Vec<Value>,
    /// Every query body received (authenticated), in order.
    pub queries: Vec<Value>,
    /// After this many answered pages, one more resource appears (a purchase mid-listing);
    /// `Some((after, times))`: it happens `times` times, each after `after` more pages.
    pub grow: Option<(u32, u32)>,
    pages_since_growth: u32,
    pub fault: Option<PageFault>,
    pub domain_lookups: u32,
    /// One month's renewal price of each main resource (attached ones included), as the API
    /// writes it ("532.00"); a resource without one cannot be priced.
    pub prices: BTreeMap<String, String>,
    /// Every price inquiry body received (authenticated), in order.
    pub renew_rate_queries: Vec<Value>,
    /// The balance answer; the documented one (128.45 CNY cash) unless set.
    pub balance: Option<Value>,
    /// Balance queries answered.
    pub balance_queries: u32,
    /// Price inquiries and balance queries fail with a 500.
    pub funds_down: bool,
}

/// A resource like the documented ones: a main ECS of `cn-north-4`, in use, that expires at
/// the end of the billing day `days` after 2026-12-01 in GMT+08:00.
pub fn resource(id: &str, expire_time: &str) -> Value {
    json!({
        "id": format!("CS{id}"),
        "resource_id": id,
        "resource_name": format!("vm-{id}"),
        "region_code": "cn-north-4",
        "service_type_code": "hws.service.type.ec2",
        "service_type_name": "Elastic Cloud Server",
        "resource_type_code": "hws.resource.type.vm",
        "resource_type_name": "Cloud Server",
        "project_id": "0123456789abcdef0123456789abcdef",
        "parent_resource_id": null,
        "is_main_resource": 1,
        "status": 2,
        "effective_time": "2025-12-08T02:11:45Z",
        "expire_time": expire_time,
        "expire_policy": 0,
        "enterprise_project": {"id": "0", "name": "default"}
    })
}

impl BillingState {
    /// Answers one authenticated query: a page, or the fault's 500.
    pub fn answer(&mut self, body: &[u8]) -> (u16, Value) {
        let Ok(query) = serde_json::from_slice::<Value>(body) else {
            return (
                400,
                json!({"error_code": "CBC.0100", "error_msg": "Invalid parameter."}),
            );
        };
        self.queries.push(query.clone());
        let offset = query["offset"].as_u64().unwrap_or(0);
        let limit = query["limit"].as_u64().unwrap_or(10);
        if !(1..=500).contains(&limit) {
            return (
                400,
                json!({"error_code": "CBC.0100", "error_msg": "limit must be between 1 and 500."}),
            );
        }
        if let Some(fault) = &mut self.fault {
            if fault.offset == offset {
                match &mut fault.remaining {
                    Some(0) => self.fault = None,
                    Some(n) => {
                        *n -= 1;
                        return server_error();
                    }
                    None => return server_error(),
                }
            }
        }
        let ids: Vec<&str> = query["resource_ids"]
            .as_array()
            .map(|ids| ids.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let statuses: Vec<i64> = query["status_list"]
            .as_array()
            .map(|s| s.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default();
        let end = query["expire_time_end"].as_str();
        let service = query["service_type_code"].as_str();
        let main_only = query["only_main_resource"].as_i64() == Some(1);
        let matching: Vec<&Value> = self
            .resources
            .iter()
            .filter(|r| {
                let id = r["resource_id"].as_str().unwrap_or_default();
                let parent = r["parent_resource_id"].as_str().unwrap_or_default();
                (ids.is_empty() || ids.contains(&id) || (!main_only && ids.contains(&parent)))
                    && (statuses.is_empty()
                        || statuses.contains(&r["status"].as_i64().unwrap_or_default()))
                    // The API's times are all `yyyy-MM-ddTHH:mm:ssZ`: they compare as text.
                    && end.is_none_or(|end| r["expire_time"].as_str().unwrap_or_default() <= end)
                    && service.is_none_or(|s| r["service_type_code"].as_str() == Some(s))
                    && (!main_only || r["is_main_resource"].as_i64() == Some(1))
            })
            .collect();
        let data: Vec<Value> = matching
            .iter()
            .skip(offset as usize)
            .take(limit as usize)
            .map(|r| (*r).clone())
            .collect();
        let answer = json!({"total_count": matching.len(), "data": data});
        if let Some((after, times)) = &mut self.grow {
            self.pages_since_growth += 1;
            if *times > 0 && self.pages_since_growth >= *after {
                *times -= 1;
                self.pages_since_growth = 0;
                let n = self.resources.len();
                // Bought just now: it sorts first, moving every later resource one on.
                self.resources
                    .insert(0, resource(&format!("new-{n}"), "2026-12-20T15:59:59Z"));
            }
        }
        (200, answer)
    }
}

impl BillingState {
    /// Answers one authenticated price inquiry.
    pub fn renew_rate(&mut self, body: &[u8]) -> (u16, Value) {
        let Ok(query) = serde_json::from_slice::<Value>(body) else {
            return invalid("Invalid parameter.");
        };
        self.renew_rate_queries.push(query.clone());
        if self.funds_down {
            return server_error();
        }
        let ids: Vec<String> = query["resource_ids"]
            .as_array()
            .map(|ids| {
                ids.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if ids.is_empty() || ids.len() > MAX_RENEW_RATE_IDS {
            return invalid("resource_ids must hold 1 to 10 ids.");
        }
        if query["period_type"] != json!(2) && query["period_type"] != json!(3) {
            return invalid("period_type must be 2 or 3.");
        }
        if !query["period_num"].is_u64() {
            return invalid("period_num is required.");
        }
        let mut results = Vec::new();
        let mut failed = Vec::new();
        let mut total = Decimal::ZERO;
        for id in &ids {
            match self.prices.get(id) {
                Some(price) => {
                    total += Decimal::from_str(price).expect("a test price is a decimal");
                    results.push(json!({"resource_id": id, "amount": price}));
                }
                None => failed.push(json!({
                    "error_code": "CBC.30000052",
                    "error_msg": "The resource does not exist.",
                    "resource_id": id
                })),
            }
        }
        let total = format!("{:.2}", total);
        (
            200,
            json!({
                "currency": "CNY",
                "official_website_rating_result": {
                    "official_website_amount": total,
                    "installment_official_website_amount": null,
                    "installment_period_type": null
                },
                "optional_discount_rating_results": [{
                    "discount_id": "", "amount": total, "official_website_amount": total,
                    "discount_amount": "0.00", "discount_type": 0, "discount_name": "",
                    "best_offer": 1
                }],
                "renew_inquiry_results": results,
                "fail_resource_infos": failed
            }),
        )
    }

    /// Answers one authenticated balance query.
    pub fn balances(&mut self) -> (u16, Value) {
        self.balance_queries += 1;
        if self.funds_down {
            return server_error();
        }
        let documented = || {
            serde_json::from_str(include_str!("../fixtures/billing/balances.json"))
                .expect("the fixture is JSON")
        };
        (200, self.balance.clone().unwrap_or_else(documented))
    }
}

/// A balance answer: `cash` in the cash account, as the API writes amounts (JSON numbers).
pub fn cash_balance(cash: &str) -> Value {
    let number: Value = serde_json::from_str(cash).expect("a JSON number");
    json!({
        "account_balances": [{
            "account_id": "7f3c0d9e2b1a4c5d8e6f7a8b9c0d1e2f",
            "account_type": 1,
            "amount": number,
            "currency": "CNY",
            "designated_amount": 0,
            "credit_amount": 0,
            "measure_id": 1
        }],
        "debt_amount": 0,
        "measure_id": 1,
        "currency": "CNY"
    })
}

fn invalid(message: &str) -> (u16, Value) {
    (400, json!({"error_code": "CBC.0100", "error_msg": message}))
}

fn server_error() -> (u16, Value) {
    (
        500,
        json!({"error_code": "CBC.0999", "error_msg": "System error."}),
    )
}
