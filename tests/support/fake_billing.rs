//! The billing API of the fake cloud ([`super::fake_cloud::FakeCloud`] serves it on the same
//! loopback port, behind the same gateway): `POST /v2/orders/suscriptions/resources/query`
//! over a programmable list of resources, paged by `offset`/`limit` as the real API pages,
//! with faults a listing must survive or fail on — a total that changes mid-listing, a page
//! that fails once or always. The gateway part (tokens that must be domain-scoped, AK/SK
//! signatures that must sign `X-Domain-Id`) is in fake_cloud.rs, with IAM's
//! `GET /v3/auth/domains`.

use serde_json::{json, Value};

pub const RESOURCES_QUERY_PATH: &str = "/v2/orders/suscriptions/resources/query";
pub const IAM_DOMAINS_PATH: &str = "/v3/auth/domains";

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

fn server_error() -> (u16, Value) {
    (
        500,
        json!({"error_code": "CBC.0999", "error_msg": "System error."}),
    )
}
