//! The simulated CodeArts package API of `renewd demo`: the documented example and three more
//! packages, behind the same token check as the real gateway's.

use super::{refusal, DEMO_PROJECT, DEMO_TOKEN};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use std::collections::HashMap;

const PACKAGE_INFO_PATH: &str = "/devreposerver/v5/data/package/info";

/// Packages served: the documented example as it is (two packages at 11 days) plus one far
/// from expiry, one close and one expired in its grace period.
fn demo_packages() -> Value {
    json!({
        "codeartsStorageExtension": {
            "resourceId": "7590809a5c9d42ae92b49b1190e94666",
            "serviceType": "hws.resource.type.codearts.extension.storage",
            "packageStatus": 2,
            "remainDays": 11,
            "nextActionUrl": "https://localhost.com/usercenter/?region=region&locale=zh-cn#/renewal?subscriptionId=01154-618666699-0&orderId=CS24066664337FWPY&isFrom=expense"
        },
        "codeartsTrafficExtension": {
            "resourceId": "37c9064954924750b2350e2d03e66666",
            "serviceType": "hws.resource.type.codearts.extension.flow",
            "packageStatus": 2,
            "remainDays": 11,
            "nextActionUrl": "https://localhost.com/usercenter/?region=region&locale=zh-cn#/renewal?subscriptionId=01154-618366663-0&orderId=CS24052666637LJS1&isFrom=expense"
        },
        "codeartsDeployExtension": {
            "resourceId": "2e4c6a8b0d1f3e5a7c9b2d4f6a8c0e1b",
            "serviceType": "hws.resource.type.codearts.extension.deploy",
            "packageStatus": 2,
            "remainDays": 45,
            "nextActionUrl": "https://localhost.com/usercenter/?region=region&locale=zh-cn#/renewal?subscriptionId=01154-618366662-0&orderId=CS24052666636LJS0&isFrom=expense"
        },
        "codeartsPipelineExtension": {
            "resourceId": "5b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e",
            "serviceType": "hws.resource.type.codearts.extension.pipeline",
            "packageStatus": 2,
            "remainDays": 6,
            "nextActionUrl": "https://localhost.com/usercenter/?region=region&locale=zh-cn#/renewal?subscriptionId=01154-618366664-0&orderId=CS24052666638LJS2&isFrom=expense"
        },
        "codeartsBuildExtension": {
            "resourceId": "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
            "serviceType": "hws.resource.type.codearts.extension.build",
            "packageStatus": 5,
            "remainDays": 0,
            "nextActionUrl": "https://localhost.com/usercenter/?region=region&locale=zh-cn#/renewal?subscriptionId=01154-618366665-0&orderId=CS24052666639LJS3&isFrom=expense"
        }
    })
}

async fn package_info(
    State(packages): State<Value>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refusal(&headers, DEMO_TOKEN) {
        return refused;
    }
    if query.get("project_id").map(String::as_str) != Some(DEMO_PROJECT) {
        return (
            StatusCode::FORBIDDEN,
            axum::Json(
                json!({"error_code": "CR.4102", "error_msg": "no permission on this project"}),
            ),
        )
            .into_response();
    }
    axum::Json(json!({
        "status": "success",
        "trace_id": "demo-trace-0001",
        "result": packages
    }))
    .into_response()
}

/// The package API's route.
pub(crate) fn router() -> Router {
    Router::new()
        .route(PACKAGE_INFO_PATH, get(package_info))
        .with_state(demo_packages())
}
