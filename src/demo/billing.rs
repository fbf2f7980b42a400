//! The simulated billing API of `renewd demo`: a few yearly/monthly resources of the account
//! (`ListPayPerUseCustomerResources`), one of them renewing itself, its renewal price
//! (`ListRenewRateOnPeriod`) and a balance that does not cover it
//! (`ShowCustomerAccountBalances`). Answers have the documented shape
//! (tests/fixtures/billing/), and the listing pages and filters as the real API does, so the
//! demo runs the same code as a real account.

use super::{refusal, DEMO_TOKEN};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::str::FromStr;
use std::sync::Arc;

const RESOURCES_QUERY_PATH: &str = "/v2/orders/suscriptions/resources/query";
const RENEW_RATE_PATH: &str = "/v2/bills/ratings/period-resources/renew-rate";
const BALANCES_PATH: &str = "/v2/accounts/customer-accounts/balances";

/// The account's cash balance, in CNY as the API writes amounts (a JSON number).
const BALANCE: &str = "128.45";

/// One resource of the demo account and, for one that renews itself, its price for a month.
struct DemoResource {
    resource: Value,
    monthly_price: Option<&'static str>,
}

/// The demo account's subscriptions, with expiry times counted from `now` as Huawei counts
/// them (the end of a billing day in GMT+08:00):
/// - ECS `web-01`, 6 days, with its system disk attached (counted in with it);
/// - RDS `db-main`, 4 days, renewing itself, priced 532.00 a month against a balance of
///   128.45: auto-renewal at risk;
/// - a certificate at 13 days, and an EIP's bandwidth at 120 days (nothing to say yet).
fn demo_resources(now: DateTime<Utc>) -> Vec<DemoResource> {
    let expiring_in = |days: i64| {
        crate::model::billing_expiry(now, days)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default()
    };
    let resource = |id: &str, name: &str, service: (&str, &str), kind: (&str, &str), spec: &str| {
        json!({
            "id": format!("CS2412{}", &id[..8]),
            "resource_id": id,
            "resource_name": name,
            "region_code": "cn-north-4",
            "service_type_code": service.0,
            "service_type_name": service.1,
            "resource_type_code": kind.0,
            "resource_type_name": kind.1,
            "resource_spec_code": spec,
            "project_id": "0123456789abcdef0123456789abcdef",
            "parent_resource_id": null,
            "is_main_resource": 1,
            "status": 2,
            "effective_time": "2025-12-08T02:11:45Z",
            "expire_policy": 0,
            "enterprise_project": {"id": "0", "name": "default"}
        })
    };
    let ecs = ("hws.service.type.ec2", "Elastic Cloud Server");
    let mut web = resource(
        "8d1c6a4e-6f1b-4f5e-9c1a-2b7c1f0e9a11",
        "web-01",
        ecs,
        ("hws.resource.type.vm", "Cloud Server"),
        "c7.large.2.linux",
    );
    web["expire_time"] = json!(expiring_in(6));
    let mut disk = resource(
        "a1b2c3d4-0000-4000-8000-000000000001",
        "web-01-sys",
        ("hws.service.type.ebs", "Elastic Volume Service"),
        ("hws.resource.type.volume", "Disk"),
        "SSD",
    );
    disk["expire_time"] = json!(expiring_in(6));
    disk["parent_resource_id"] = json!("8d1c6a4e-6f1b-4f5e-9c1a-2b7c1f0e9a11");
    disk["is_main_resource"] = json!(0);
    let mut db = resource(
        "3f5b2d9e-1c4a-4d2b-8e7f-6a5b4c3d2e1f",
        "db-main",
        ("hws.service.type.rds", "Relational Database Service"),
        ("hws.resource.type.rds.vm", "RDS DB instance"),
        "rds.mysql.n1.large.2.ha",
    );
    db["expire_time"] = json!(expiring_in(4));
    db["expire_policy"] = json!(3);
    let mut cert = resource(
        "5c9e1f3a-7b2d-4e6f-8a0c-1d3e5f7a9b2c",
        "shop.example.com",
        ("hws.service.type.scm", "Cloud Certificate Manager"),
        ("hws.resource.type.scm", "SSL Certificate"),
        "scm.ov.wildcard",
    );
    cert["expire_time"] = json!(expiring_in(13));
    let mut bandwidth = resource(
        "9e8d7c6b-5a4f-4e3d-9c2b-1a0f9e8d7c6b",
        "bandwidth-web",
        ("hws.service.type.vpc", "Virtual Private Cloud"),
        ("hws.resource.type.bandwidth", "Bandwidth"),
        "19_bgp",
    );
    bandwidth["expire_time"] = json!(expiring_in(120));
    let plain = |resource| DemoResource {
        resource,
        monthly_price: None,
    };
    vec![
        plain(web),
        plain(disk),
        DemoResource {
            resource: db,
            monthly_price: Some("532.00"),
        },
        plain(cert),
        plain(bandwidth),
    ]
}

/// The billing API's routes, over the demo account's resources as of `now`.
pub(crate) fn router(now: DateTime<Utc>) -> Router {
    let resources: Arc<Vec<DemoResource>> = Arc::new(demo_resources(now));
    Router::new()
        .route(RESOURCES_QUERY_PATH, post(resources_query))
        .route(RENEW_RATE_PATH, post(renew_rate))
        .route(BALANCES_PATH, get(balances))
        .with_state(resources)
}

fn invalid(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error_code": "CBC.0100", "error_msg": message})),
    )
        .into_response()
}

/// `ListPayPerUseCustomerResources`: the resources that pass the query's filters, paged by
/// `offset`/`limit`.
async fn resources_query(
    State(resources): State<Arc<Vec<DemoResource>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    answer_query(&headers, &body, |query| listing(&resources, query))
}

/// A POST answered as the gateway and the API do: refused without the token, a 400 for a body
/// that is not JSON, else `answer` of the body.
fn answer_query(
    headers: &HeaderMap,
    body: &[u8],
    answer: impl FnOnce(&Value) -> Response,
) -> Response {
    if let Some(refused) = refusal(headers, DEMO_TOKEN) {
        return refused;
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(query) => answer(&query),
        Err(_) => invalid("Invalid parameter."),
    }
}

fn listing(resources: &[DemoResource], query: &Value) -> Response {
    let offset = query["offset"].as_u64().unwrap_or(0) as usize;
    let limit = query["limit"].as_u64().unwrap_or(10);
    if !(1..=500).contains(&limit) {
        return invalid("limit must be between 1 and 500.");
    }
    let texts = |field: &str| -> Vec<String> {
        query[field]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| Some(v.as_str()?.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let ids = texts("resource_ids");
    let statuses: Vec<i64> = query["status_list"]
        .as_array()
        .map(|s| s.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    let end = query["expire_time_end"].as_str();
    let service = query["service_type_code"].as_str();
    let main_only = query["only_main_resource"].as_i64() == Some(1);
    let matching: Vec<&Value> = resources
        .iter()
        .map(|r| &r.resource)
        .filter(|r| {
            let text = |field: &str| r[field].as_str().unwrap_or_default().to_string();
            (ids.is_empty()
                || ids.contains(&text("resource_id"))
                || (!main_only && ids.contains(&text("parent_resource_id"))))
                && (statuses.is_empty() || statuses.contains(&r["status"].as_i64().unwrap_or(0)))
                // The API writes every time as `yyyy-MM-ddTHH:mm:ssZ`: they compare as text.
                && end.is_none_or(|end| text("expire_time").as_str() <= end)
                && service.is_none_or(|s| text("service_type_code") == s)
                && (!main_only || r["is_main_resource"].as_i64() == Some(1))
        })
        .collect();
    let data: Vec<&Value> = matching
        .iter()
        .skip(offset)
        .take(limit as usize)
        .copied()
        .collect();
    axum::Json(json!({"total_count": matching.len(), "data": data})).into_response()
}

/// `ListRenewRateOnPeriod`: one period's price of each resource asked for, as decimal text;
/// a resource without a price is reported in `fail_resource_infos`.
async fn renew_rate(
    State(resources): State<Arc<Vec<DemoResource>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    answer_query(&headers, &body, |query| prices(&resources, query))
}

fn prices(resources: &[DemoResource], query: &Value) -> Response {
    let ids: Vec<&str> = query["resource_ids"]
        .as_array()
        .map(|ids| ids.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if ids.is_empty() || ids.len() > 10 {
        return invalid("resource_ids must hold 1 to 10 ids.");
    }
    let mut results = Vec::new();
    let mut failed = Vec::new();
    for id in ids {
        let price = resources
            .iter()
            .find(|r| r.resource["resource_id"] == id)
            .and_then(|r| r.monthly_price);
        match price {
            Some(amount) => results.push(json!({"resource_id": id, "amount": amount})),
            None => failed.push(json!({
                "error_code": "CBC.30000052",
                "error_msg": "The resource does not exist.",
                "resource_id": id
            })),
        }
    }
    let total: Decimal = results
        .iter()
        .filter_map(|r| Decimal::from_str(r["amount"].as_str()?).ok())
        .sum();
    let total = format!("{total:.2}");
    axum::Json(json!({
        "currency": "CNY",
        "official_website_rating_result": {
            "official_website_amount": total,
            "installment_official_website_amount": null,
            "installment_period_type": null
        },
        "optional_discount_rating_results": [{
            "discount_id": "", "amount": total, "official_website_amount": total,
            "discount_amount": "0.00", "discount_type": 0, "discount_name": "", "best_offer": 1
        }],
        "renew_inquiry_results": results,
        "fail_resource_infos": failed
    }))
    .into_response()
}

/// `ShowCustomerAccountBalances`: the cash account only, short of the renewal above.
async fn balances(headers: HeaderMap) -> Response {
    if let Some(refused) = refusal(&headers, DEMO_TOKEN) {
        return refused;
    }
    let amount: Value = serde_json::from_str(BALANCE).unwrap_or(json!(0));
    axum::Json(json!({
        "account_balances": [{
            "account_id": "7f3c0d9e2b1a4c5d8e6f7a8b9c0d1e2f",
            "account_type": 1,
            "amount": amount,
            "currency": "CNY",
            "designated_amount": 0,
            "credit_amount": 0,
            "measure_id": 1
        }],
        "debt_amount": 0,
        "measure_id": 1,
        "currency": "CNY"
    }))
    .into_response()
}
