//! The wire format of the billing API's `ListPayPerUseCustomerResources`
//! (`POST /v2/orders/suscriptions/resources/query`, the path's spelling is Huawei's): the query
//! body renewd sends, and how an answer's resources become items. Pure functions, no I/O.
//! Fields as the official SDK's `QueryResourcesReq` and `OrderInstanceV2` (`huaweicloudsdkbss`).

use crate::huawei::gateway::answer_object;
use crate::huawei::gateway::Answer;
use crate::model::{remain_days_until, Item, ItemDetails, PackageStatus, Scope};
use crate::sources::BadEntry;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

/// The most resources one page may ask for.
pub const MAX_PAGE_SIZE: u32 = 500;
/// The most ids one `resource_ids` query may carry.
pub const MAX_RESOURCE_IDS: usize = 50;
/// `only_main_resource`: main resources and the ones attached to them.
pub const MAIN_AND_ATTACHED: u8 = 0;
/// `only_main_resource`: main resources only.
pub const MAIN_ONLY: u8 = 1;

/// The request body (`QueryResourcesReq`), fields in the order renewd writes them (the
/// signing vectors in tests/fixtures/signing/global_vectors.json are of such bodies).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueryBody {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resource_ids: Vec<String>,
    pub only_main_resource: u8,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub status_list: Vec<i64>,
    pub offset: u32,
    pub limit: u32,
    /// UTC, `yyyy-MM-ddTHH:mm:ssZ`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expire_time_end: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_type_code: Option<String>,
}

/// The end of the expiry window: the last second (23:59:59 GMT+08:00) of the billing day
/// `days` after today's, as the API writes times.
pub fn window_end(now: DateTime<Utc>, days: i64) -> Option<DateTime<Utc>> {
    crate::model::billing_expiry(now, days)
}

/// A time as the API writes them.
pub fn api_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// One resource of an answer (`OrderInstanceV2`), the fields renewd reads.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Resource {
    pub resource_id: Option<String>,
    pub resource_name: Option<String>,
    pub region_code: Option<String>,
    pub service_type_code: Option<String>,
    pub service_type_name: Option<String>,
    pub resource_type_code: Option<String>,
    pub resource_type_name: Option<String>,
    pub resource_spec_code: Option<String>,
    pub parent_resource_id: Option<String>,
    pub is_main_resource: Option<i64>,
    pub status: Option<i64>,
    pub expire_time: Option<String>,
    pub expire_policy: Option<i64>,
    pub enterprise_project: Option<EnterpriseProject>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct EnterpriseProject {
    pub id: Option<String>,
    pub name: Option<String>,
}

/// One page of an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub total_count: u64,
    /// Each entry of `data`, read, or why it could not be (with its position).
    pub entries: Vec<Result<Resource, BadEntry>>,
}

/// The reading of a 2xx response body: `Read` for a page.
pub type Body = Answer<Page>;

/// Reads a 2xx response body.
pub fn read_body(body: &[u8]) -> Body {
    let object = match answer_object(body) {
        Ok(object) => object,
        Err(answer) => return answer,
    };
    let object = &object;
    let Some(total_count) = object.get("total_count").and_then(Value::as_u64) else {
        return Body::Unexpected {
            reason: "no `total_count` (a whole number) in the answer".into(),
        };
    };
    let data = match object.get("data") {
        Some(Value::Array(data)) => data.as_slice(),
        // An empty page may leave `data` out.
        None | Some(Value::Null) => &[],
        Some(_) => {
            return Body::Unexpected {
                reason: "`data` is not a list".into(),
            }
        }
    };
    let entries = data
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            serde_json::from_value::<Resource>(entry.clone()).map_err(|e| BadEntry {
                key: entry
                    .get("resource_id")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("data[{i}]"), str::to_string),
                reason: format!("not a resource: {e}"),
            })
        })
        .collect();
    Body::Read(Page {
        total_count,
        entries,
    })
}

/// How resources become items.
#[derive(Debug, Clone)]
pub struct ItemsOf<'a> {
    pub scope: &'a Scope,
    /// Fold attached resources into their main one (counted in its `attached`).
    pub main_only: bool,
    /// The renewal page of the account's site.
    pub renewal_page: &'a str,
    pub now: DateTime<Utc>,
}

impl ItemsOf<'_> {
    /// Every resource of a listing as an item; with `main_only`, a resource attached to a
    /// main resource of the same listing is counted into it rather than listed (one that is
    /// attached to nothing listed stays an item of its own: nothing is dropped). The same
    /// resource listed twice (a listing that moved between pages) is one item.
    pub fn items(&self, resources: Vec<Resource>) -> (Vec<Item>, Vec<BadEntry>) {
        let mut seen = HashSet::new();
        let resources: Vec<Resource> = resources
            .into_iter()
            .filter(|r| match &r.resource_id {
                Some(id) => seen.insert(id.clone()),
                None => true,
            })
            .collect();
        let mains: HashSet<&str> = resources
            .iter()
            .filter(|r| r.is_main_resource != Some(0))
            .filter_map(|r| r.resource_id.as_deref())
            .collect();
        let mut attached: BTreeMap<String, u32> = BTreeMap::new();
        let mut listed = Vec::new();
        for resource in &resources {
            let parent = resource
                .parent_resource_id
                .as_deref()
                .filter(|p| mains.contains(p));
            match parent {
                Some(parent) if self.main_only && resource.is_main_resource == Some(0) => {
                    *attached.entry(parent.to_string()).or_default() += 1;
                }
                _ => listed.push(resource),
            }
        }
        let mut items = Vec::new();
        let mut bad = Vec::new();
        for resource in listed {
            match self.item(resource) {
                Ok(mut item) => {
                    if let (Some(n), Some(details)) =
                        (attached.get(&item.resource_id), item.details.as_mut())
                    {
                        details.attached = *n;
                    }
                    items.push(item);
                }
                Err(entry) => bad.push(entry),
            }
        }
        (items, bad)
    }

    /// One resource as an item: `resource_id`, `resource_type_code` and a readable
    /// `expire_time` are required; an unknown `status` is kept as its number.
    fn item(&self, r: &Resource) -> Result<Item, BadEntry> {
        let bad = |reason: &str| BadEntry {
            key: r
                .resource_id
                .clone()
                .or_else(|| r.resource_name.clone())
                .unwrap_or_else(|| "(no resource_id)".into()),
            reason: reason.to_string(),
        };
        let resource_id =
            non_empty(&r.resource_id).ok_or_else(|| bad("`resource_id` is missing"))?;
        let key = non_empty(&r.resource_type_code)
            .ok_or_else(|| bad("`resource_type_code` is missing"))?;
        let text = r
            .expire_time
            .as_deref()
            .ok_or_else(|| bad("`expire_time` is missing"))?;
        let expire_time = parse_api_time(text)
            .ok_or_else(|| bad(&format!("`expire_time` {text:?} is not a UTC time")))?;
        let remain_days = remain_days_until(expire_time, self.now)
            .ok_or_else(|| bad("`expire_time` is out of range"))?;
        let enterprise_project = r
            .enterprise_project
            .as_ref()
            .and_then(|p| non_empty(&p.name).or_else(|| non_empty(&p.id)));
        Ok(Item {
            scope: self.scope.clone(),
            key,
            resource_id,
            service_type: non_empty(&r.service_type_code),
            status: r.status.map(PackageStatus::from),
            remain_days,
            next_action_url: Some(self.renewal_page.to_string()),
            details: Some(Box::new(ItemDetails {
                name: non_empty(&r.resource_name),
                region: non_empty(&r.region_code),
                service_type_name: non_empty(&r.service_type_name),
                resource_type_name: non_empty(&r.resource_type_name),
                spec: non_empty(&r.resource_spec_code),
                expire_time: Some(expire_time),
                expire_policy: r.expire_policy,
                enterprise_project,
                attached: 0,
                attached_to: non_empty(&r.parent_resource_id)
                    .filter(|_| r.is_main_resource == Some(0)),
            })),
        })
    }
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `yyyy-MM-ddTHH:mm:ssZ` (and any RFC 3339 time, which the API may send with fractions).
fn parse_api_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%SZ")
                .ok()
                .map(|t| t.and_utc())
        })
        .or_else(|| {
            // A date alone: its end in GMT+08:00, as a billing day ends.
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(15, 59, 59))
                .map(|t| t.and_utc())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = include_str!("../../../tests/fixtures/billing/resources_query_page.json");
    const RENEW: &str = "https://account.huaweicloud.com/usercenter/#/userindex/renewalManagement";

    fn now() -> DateTime<Utc> {
        // 2026-12-01 09:00 GMT+08:00.
        DateTime::parse_from_rfc3339("2026-12-01T01:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn resources() -> Vec<Resource> {
        let Body::Read(page) = read_body(PAGE.as_bytes()) else {
            panic!("the fixture is a page");
        };
        assert_eq!(page.total_count, 3);
        page.entries
            .into_iter()
            .map(|e| e.expect("readable"))
            .collect()
    }

    fn items(main_only: bool) -> Vec<Item> {
        let scope = Scope::subscriptions("prod");
        let of = ItemsOf {
            scope: &scope,
            main_only,
            renewal_page: RENEW,
            now: now(),
        };
        let (items, bad) = of.items(resources());
        assert!(bad.is_empty(), "{bad:?}");
        items
    }

    #[test]
    fn the_documented_page_gives_main_resources_with_their_attached_ones_counted() {
        let items = items(true);
        assert_eq!(items.len(), 2);
        let ecs = &items[0];
        assert_eq!(ecs.scope, Scope::subscriptions("prod"));
        assert_eq!(ecs.key, "hws.resource.type.vm");
        assert_eq!(ecs.resource_id, "8d1c6a4e-6f1b-4f5e-9c1a-2b7c1f0e9a11");
        assert_eq!(ecs.service_type.as_deref(), Some("hws.service.type.ec2"));
        assert_eq!(ecs.status_code(), Some(2));
        assert_eq!(ecs.status_name(), "in_use");
        // Ends 2026-12-08T15:59:59Z, the end of Dec 8 in GMT+08:00; today is Dec 1 there.
        assert_eq!(ecs.remain_days, 7);
        assert_eq!(ecs.next_action_url.as_deref(), Some(RENEW));
        let details = ecs.details.as_deref().expect("details");
        assert_eq!(details.name.as_deref(), Some("web-01"));
        assert_eq!(details.region.as_deref(), Some("cn-north-4"));
        assert_eq!(
            details.service_type_name.as_deref(),
            Some("Elastic Cloud Server")
        );
        assert_eq!(details.resource_type_name.as_deref(), Some("Cloud Server"));
        assert_eq!(details.expire_policy_name(), Some("grace period"));
        assert_eq!(details.enterprise_project.as_deref(), Some("default"));
        assert_eq!(details.attached, 1);
        let rds = &items[1];
        assert_eq!(rds.remain_days, 5);
        assert_eq!(
            rds.details.as_deref().unwrap().expire_policy_name(),
            Some("auto-renew")
        );
        assert_eq!(rds.details.as_deref().unwrap().attached, 0);
    }

    #[test]
    fn without_main_only_every_resource_is_an_item() {
        let items = items(false);
        assert_eq!(items.len(), 3);
        assert!(items
            .iter()
            .all(|i| i.details.as_deref().unwrap().attached == 0));
        assert_eq!(items[2].key, "hws.resource.type.volume");
    }

    #[test]
    fn bad_resources_are_reported_and_unknown_statuses_kept() {
        let scope = Scope::subscriptions("prod");
        let of = ItemsOf {
            scope: &scope,
            main_only: true,
            renewal_page: RENEW,
            now: now(),
        };
        let body = serde_json::json!({"total_count": 5, "data": [
            {"resource_id": "a", "resource_type_code": "t", "expire_time": "2026-12-01T15:59:59Z", "status": 9},
            {"resource_id": "b", "resource_type_code": "t"},
            {"resource_id": "c", "expire_time": "2026-12-01T15:59:59Z"},
            {"resource_id": "d", "resource_type_code": "t", "expire_time": "next week"},
            {"resource_id": "e", "status": "two"}
        ]});
        let Body::Read(page) = read_body(body.to_string().as_bytes()) else {
            panic!("a page");
        };
        let mut bad: Vec<BadEntry> = Vec::new();
        let mut resources = Vec::new();
        for entry in page.entries {
            match entry {
                Ok(r) => resources.push(r),
                Err(b) => bad.push(b),
            }
        }
        let (items, more) = of.items(resources);
        bad.extend(more);
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].remain_days, 0);
        assert_eq!(items[0].status_code(), Some(9));
        assert_eq!(items[0].status_name(), "unknown");
        let keys: Vec<&str> = bad.iter().map(|b| b.key.as_str()).collect();
        assert_eq!(keys, ["e", "b", "c", "d"]);
    }

    #[test]
    fn bodies_are_written_as_the_vectors_were_signed() {
        let body = QueryBody {
            resource_ids: vec![],
            only_main_resource: MAIN_AND_ATTACHED,
            status_list: vec![2, 4, 5],
            offset: 500,
            limit: MAX_PAGE_SIZE,
            expire_time_end: window_end(now(), 60).map(api_time),
            service_type_code: None,
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"only_main_resource":0,"status_list":[2,4,5],"offset":500,"limit":500,"expire_time_end":"2027-01-30T15:59:59Z"}"#
        );
    }

    #[test]
    fn odd_answers_are_told_apart() {
        assert!(matches!(
            read_body(br#"{"error_code":"CBC.0150","error_msg":"no"}"#),
            Body::Error(_)
        ));
        assert!(matches!(
            read_body(br#"{"data":[]}"#),
            Body::Unexpected { .. }
        ));
        assert!(matches!(read_body(b"<html>"), Body::NotJson { .. }));
        assert!(matches!(
            read_body(br#"{"total_count":0}"#),
            Body::Read(Page { total_count: 0, .. })
        ));
    }
}
