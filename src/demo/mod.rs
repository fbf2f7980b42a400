//! `renewd demo`: the whole pipeline against a simulated Huawei Cloud on 127.0.0.1 — the
//! CodeArts package API and the billing API of one account — with a temporary state store and
//! the log receiver. No account, network or config file needed.

mod billing;
mod codearts;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
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

/// The API gateway's refusal of a request without the demo's token; `None` when it has it.
fn refusal(headers: &HeaderMap, token: &str) -> Option<Response> {
    if headers.get("x-auth-token").and_then(|v| v.to_str().ok()) == Some(token) {
        return None;
    }
    Some(
        (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({
                "error_code": "APIG.0301",
                "error_msg": "Incorrect IAM authentication information: token missing or invalid",
                "request_id": "demo-unauthorized"
            })),
        )
            .into_response(),
    )
}

/// A running simulated endpoint (both APIs on one port); it stops when dropped.
pub(crate) struct SimulatedEndpoint {
    pub(crate) addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl SimulatedEndpoint {
    pub(crate) async fn start() -> std::io::Result<SimulatedEndpoint> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = codearts::router().merge(billing::router(chrono::Utc::now()));
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

# The account's yearly/monthly subscriptions too, from the simulated billing API.
[accounts.subscriptions]
endpoint = "{endpoint}"

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
