//! `renewd demo`: the whole pipeline against a simulated CodeArts endpoint on 127.0.0.1, with a
//! temporary state store and the log receiver. No account, network or config file needed.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;

/// What `renewd demo` writes into its directory after its cycles: for each file, the receiver
/// of the demo config that renders it, the part, and what it is.
pub(crate) const PREVIEWS: &[(&str, &str, crate::notify::PreviewFormat, &str)] = {
    use crate::notify::PreviewFormat::{Html, Json, Text};
    &[
        (
            "mail.html",
            "mail",
            Html,
            "the email, HTML part: open it in a browser",
        ),
        ("mail.txt", "mail", Text, "the email: subject and text part"),
        (
            "renewd.json",
            "renewd-json",
            Json,
            "renewd's own JSON webhook body",
        ),
        (
            "dingtalk.json",
            "dingtalk",
            Json,
            "a DingTalk robot message (one of the chat formats)",
        ),
    ]
};

/// The receiver of the demo config whose alerts the previews show.
pub(crate) const DEMO_RECEIVER: &str = "journal";

/// The token the simulated endpoint accepts.
pub(crate) const DEMO_TOKEN: &str = "demo-token";
/// The project the simulated endpoint serves.
pub(crate) const DEMO_PROJECT: &str = "666666af0f00445f85dec483fbc97c78";

/// Packages served: the documented example as it is (two packages at 11 days) plus one far
/// from expiry, one close and one expired in its grace period.
pub(crate) fn demo_packages() -> Value {
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
    let token = headers.get("x-auth-token").and_then(|v| v.to_str().ok());
    if token != Some(DEMO_TOKEN) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({
                "error_code": "APIG.0301",
                "error_msg": "Incorrect IAM authentication information: token missing or invalid",
                "request_id": "demo-unauthorized"
            })),
        )
            .into_response();
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

/// A running simulated endpoint; it stops when dropped.
pub(crate) struct SimulatedEndpoint {
    pub(crate) addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl SimulatedEndpoint {
    pub(crate) async fn start() -> std::io::Result<SimulatedEndpoint> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/devreposerver/v5/data/package/info", get(package_info))
            .with_state(demo_packages());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(SimulatedEndpoint { addr, task })
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for SimulatedEndpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The config the demo runs with: one account on the simulated endpoint, the usual thresholds,
/// the log receiver, and the receivers it only previews ([`PREVIEWS`]).
pub(crate) fn demo_config_toml(endpoint: &str, state_path: &std::path::Path) -> String {
    format!(
        r#"
[daemon]
state_path = {state:?}
timezone = "Asia/Shanghai"

[[accounts]]
name = "demo"
endpoint = "{endpoint}"
projects = ["{DEMO_PROJECT}"]
auth = {{ method = "token", token = "{DEMO_TOKEN}" }}

[[rules]]
name = "default"
thresholds = [30, 14, 7, 3, 1, 0]
receivers = ["{DEMO_RECEIVER}"]

[receivers.{DEMO_RECEIVER}]
type = "log"

# Receivers no rule routes to, so nothing is ever sent to them: `renewd demo` writes what
# they would have received into its directory (as `renewd preview` prints it).
[smtp]
host = "smtp.example.invalid"
port = 587
security = "starttls"
from = "renewd demo <renewd@example.invalid>"

[receivers.mail]
type = "email"
to = ["ops@example.invalid"]

[receivers.renewd-json]
type = "webhook"
format = "json"
url = "https://hooks.example.invalid/renewd"

[receivers.dingtalk]
type = "webhook"
format = "dingtalk"
url = "https://robot.example.invalid/send?access_token=demo"
"#,
        state = state_path.display().to_string(),
    )
}
