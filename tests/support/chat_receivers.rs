//! Loopback receivers (real axum servers on 127.0.0.1) that behave like the chat platforms and
//! Alertmanager consumers: each checks a request against the platform's documented fields and
//! limits, verifies the signature exactly as the platform documents it — written here from the
//! documentation, independently of renewd's signer — and answers the way the platform does
//! (e.g. DingTalk's HTTP 200 `{"errcode":310000,"errmsg":"sign not match"}`).
//!
//! Every request is recorded with the problems found in it, so a test can both see the
//! platform's verdict (through renewd's delivery result) and list what was wrong.
//!
//! Sources: DingTalk custom robot docs (加签, markdown message); Feishu 自定义机器人使用指南
//! (签名校验, 20 KB body, `code` answers); WeCom 群机器人配置说明 (markdown content ≤ 4096
//! bytes); Slack incoming webhooks and Block Kit (≤ 50 blocks, section text ≤ 3000
//! characters, answer `ok`); Microsoft Teams Workflows / incoming webhook docs (Adaptive Card
//! message, ≤ 28 KB); Prometheus Alertmanager `webhook_config` (version 4 body).

use axum::body::Body;
use axum::http::{HeaderMap, Request, Response, StatusCode};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// DingTalk and Feishu refuse a timestamp more than an hour away from their clock.
const SIGNATURE_WINDOW: Duration = Duration::from_secs(3600);
/// The access token a DingTalk or WeCom webhook URL carries.
pub const ACCESS_TOKEN: &str = "robot-token-5f1c";

/// Which platform a receiver plays, with the secret it expects (if the robot has signing on).
#[derive(Debug, Clone)]
pub enum Platform {
    Slack,
    Teams,
    Dingtalk { secret: Option<String> },
    Feishu { secret: Option<String> },
    Wecom,
    Alertmanager,
    Json { secret: Option<String> },
}

/// An answer the receiver gives instead of the platform's own verdict.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, body: &str) -> Reply {
        Reply {
            status,
            body: body.to_string(),
        }
    }
}

/// One request as received, with what the platform would object to.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub problems: Vec<String>,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A query parameter, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_deref()?.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

struct Shared {
    platform: Platform,
    replies: Mutex<VecDeque<Reply>>,
    received: Mutex<Vec<Received>>,
}

pub struct ChatReceiver {
    server: super::ThreadServer,
    shared: Arc<Shared>,
}

impl ChatReceiver {
    /// Starts a receiver on its own thread and runtime (so it runs on real time even when the
    /// test's clock is paused).
    pub fn start(platform: Platform) -> ChatReceiver {
        let shared = Arc::new(Shared {
            platform,
            replies: Mutex::new(VecDeque::new()),
            received: Mutex::new(Vec::new()),
        });
        let state = Arc::clone(&shared);
        let app = axum::Router::new().fallback(move |request: Request<Body>| {
            let state = Arc::clone(&state);
            async move { handle(state, request).await }
        });
        ChatReceiver {
            server: super::ThreadServer::start(app),
            shared,
        }
    }

    /// The webhook URL as the platform hands it out (with the token in it where it has one).
    pub fn url(&self) -> String {
        let path = match self.shared.platform {
            Platform::Slack => "/services/T000/B000/XXXXXXXX".to_string(),
            Platform::Teams => "/workflows/abc/triggers/manual/paths/invoke".to_string(),
            Platform::Dingtalk { .. } => format!("/robot/send?access_token={ACCESS_TOKEN}"),
            Platform::Feishu { .. } => "/open-apis/bot/v2/hook/0a1b2c3d".to_string(),
            Platform::Wecom => format!("/cgi-bin/webhook/send?key={ACCESS_TOKEN}"),
            Platform::Alertmanager => "/alerts".to_string(),
            Platform::Json { .. } => "/renewd".to_string(),
        };
        format!("http://{}{path}", self.server.addr)
    }

    /// The next requests get these answers (in order) instead of the platform's verdict.
    pub fn reply_next(&self, replies: Vec<Reply>) {
        self.shared
            .replies
            .lock()
            .expect("replies lock")
            .extend(replies);
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().expect("received lock").clone()
    }
}

async fn handle(shared: Arc<Shared>, request: Request<Body>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 16 * 1024 * 1024)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let query = parts.uri.query().map(str::to_string);
    let verdict = check(
        &shared.platform,
        parts.method.as_str(),
        query.as_deref(),
        &parts.headers,
        &body,
    );
    shared
        .received
        .lock()
        .expect("received lock")
        .push(Received {
            path: parts.uri.path().to_string(),
            query,
            headers: parts.headers,
            body,
            problems: verdict.problems.clone(),
        });
    let scripted = shared.replies.lock().expect("replies lock").pop_front();
    let reply = scripted.unwrap_or(verdict.reply);
    Response::builder()
        .status(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json")
        .body(Body::from(reply.body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

struct Verdict {
    problems: Vec<String>,
    reply: Reply,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn within_window(seconds: u64) -> bool {
    now_secs().abs_diff(seconds) <= SIGNATURE_WINDOW.as_secs()
}

fn is_str(v: &Value) -> bool {
    v.as_str().is_some_and(|s| !s.is_empty())
}

fn check(
    platform: &Platform,
    method: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Verdict {
    let mut problems = Vec::new();
    if method != "POST" {
        problems.push(format!("method {method}, expected POST"));
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/json") {
        problems.push(format!("content-type {content_type:?}"));
    }
    let json: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            problems.push(format!("body is not JSON: {e}"));
            Value::Null
        }
    };
    match platform {
        Platform::Slack => slack(&json, &mut problems),
        Platform::Teams => teams(&json, body, &mut problems),
        Platform::Dingtalk { secret } => {
            dingtalk(secret.as_deref(), query, &json, body, &mut problems)
        }
        Platform::Feishu { secret } => feishu(secret.as_deref(), &json, body, &mut problems),
        Platform::Wecom => wecom(query, &json, &mut problems),
        Platform::Alertmanager => alertmanager(&json, &mut problems),
        Platform::Json { secret } => {
            renewd_json(secret.as_deref(), headers, body, &json, &mut problems)
        }
    }
}

// Slack incoming webhook: `text` fallback, `blocks` (≤ 50) of sections whose mrkdwn text is at
// most 3000 characters. Answers 200 `ok`, or 400 with an error word.
fn slack(json: &Value, problems: &mut Vec<String>) -> Verdict {
    if !is_str(&json["text"]) {
        problems.push("text: missing fallback text".into());
    }
    match json["blocks"].as_array() {
        None => problems.push("blocks: missing".into()),
        Some(blocks) => {
            if blocks.is_empty() || blocks.len() > 50 {
                problems.push(format!("blocks: {} (1..=50 allowed)", blocks.len()));
            }
            for (i, b) in blocks.iter().enumerate() {
                if b["type"] == "actions" {
                    slack_buttons(i, b, problems);
                    continue;
                }
                if b["type"] != "section" || b["text"]["type"] != "mrkdwn" {
                    problems.push(format!("blocks[{i}]: not a mrkdwn section"));
                }
                let chars = b["text"]["text"].as_str().map(|t| t.chars().count());
                match chars {
                    Some(n) if (1..=3000).contains(&n) => {}
                    other => problems.push(format!("blocks[{i}].text.text: {other:?} characters")),
                }
            }
        }
    }
    let reply = if problems.is_empty() {
        Reply::json(200, "ok")
    } else {
        Reply::json(400, "invalid_blocks")
    };
    Verdict {
        problems: problems.clone(),
        reply,
    }
}

// Block Kit `actions` block: 1 to 25 elements; a link `button` has `plain_text` text of at
// most 75 characters, a `url` of at most 3000, an `action_id` unique in the message.
fn slack_buttons(i: usize, block: &Value, problems: &mut Vec<String>) {
    let elements = block["elements"].as_array().cloned().unwrap_or_default();
    if elements.is_empty() || elements.len() > 25 {
        problems.push(format!("blocks[{i}].elements: {} (1..=25)", elements.len()));
    }
    let mut ids = std::collections::HashSet::new();
    for (j, e) in elements.iter().enumerate() {
        let text = e["text"]["text"].as_str().unwrap_or("");
        let url = e["url"].as_str().unwrap_or("");
        if e["type"] != "button" || e["text"]["type"] != "plain_text" {
            problems.push(format!(
                "blocks[{i}].elements[{j}]: not a plain_text button"
            ));
        }
        if text.is_empty() || text.chars().count() > 75 {
            problems.push(format!("blocks[{i}].elements[{j}].text: {text:?}"));
        }
        if !url.starts_with("https://") || url.len() > 3000 {
            problems.push(format!(
                "blocks[{i}].elements[{j}].url: not https or too long"
            ));
        }
        if !ids.insert(e["action_id"].to_string()) {
            problems.push(format!("blocks[{i}].elements[{j}].action_id: not unique"));
        }
    }
}

// Teams Workflows: a message whose one attachment is an Adaptive Card; at most 28 KB.
fn teams(json: &Value, body: &[u8], problems: &mut Vec<String>) -> Verdict {
    if body.len() > 28 * 1024 {
        problems.push(format!("{} bytes, over 28 KB", body.len()));
    }
    if json["type"] != "message" {
        problems.push("type: not \"message\"".into());
    }
    let attachments = json["attachments"].as_array().cloned().unwrap_or_default();
    if attachments.len() != 1 {
        problems.push(format!("attachments: {} (expected 1)", attachments.len()));
    }
    if let Some(a) = attachments.first() {
        if a["contentType"] != "application/vnd.microsoft.card.adaptive" {
            problems.push(format!("contentType: {}", a["contentType"]));
        }
        let card = &a["content"];
        if card["type"] != "AdaptiveCard" || card["version"] != "1.4" {
            problems.push("content: not an AdaptiveCard 1.4".into());
        }
        let blocks = card["body"].as_array().cloned().unwrap_or_default();
        if blocks.is_empty() {
            problems.push("content.body: empty".into());
        }
        for (i, b) in blocks.iter().enumerate() {
            if b["type"] != "TextBlock" || !is_str(&b["text"]) {
                problems.push(format!("content.body[{i}]: not a TextBlock with text"));
            }
        }
        for (i, action) in card["actions"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let url = action["url"].as_str().unwrap_or("");
            if action["type"] != "Action.OpenUrl" || !url.starts_with("https://") {
                problems.push(format!("content.actions[{i}]: not an https Action.OpenUrl"));
            }
            if !is_str(&action["title"]) {
                problems.push(format!("content.actions[{i}].title: missing"));
            }
        }
    }
    let reply = if body.len() > 28 * 1024 {
        Reply::json(413, "Request Entity Too Large")
    } else if problems.is_empty() {
        Reply::json(202, "")
    } else {
        Reply::json(400, r#"{"error":{"code":"InvalidRequestContent"}}"#)
    };
    Verdict {
        problems: problems.clone(),
        reply,
    }
}

// DingTalk custom robot: `markdown` (title, text); with 加签, `timestamp` (ms) and
// `sign` = urlEncode(base64(HmacSHA256(secret, timestamp + "\n" + secret))) in the query.
fn dingtalk(
    secret: Option<&str>,
    query: Option<&str>,
    json: &Value,
    body: &[u8],
    problems: &mut Vec<String>,
) -> Verdict {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if param("access_token").as_deref() != Some(ACCESS_TOKEN) {
        problems.push("access_token: missing or wrong".into());
    }
    let mut sign_ok = true;
    if let Some(secret) = secret {
        let timestamp = param("timestamp").unwrap_or_default();
        let sign = param("sign").unwrap_or_default();
        // The raw query must carry the URL-encoded base64 (no bare `+`, `/` or `=`).
        let raw_sign = query
            .unwrap_or("")
            .split('&')
            .find_map(|kv| kv.strip_prefix("sign="))
            .unwrap_or("");
        if raw_sign.contains(['+', '/', '=']) {
            problems.push(format!("sign is not URL-encoded: {raw_sign}"));
        }
        let fresh = timestamp.len() == 13
            && timestamp
                .parse::<u64>()
                .is_ok_and(|ms| within_window(ms / 1000));
        let expected = b64(&hmac_sha256(
            secret.as_bytes(),
            format!("{timestamp}\n{secret}").as_bytes(),
        ));
        if !fresh || sign != expected {
            sign_ok = false;
            problems.push(format!("sign not match (timestamp {timestamp:?})"));
        }
    }
    if body.len() > 20_000 {
        problems.push(format!("{} bytes, over 20 KB", body.len()));
    }
    match json["msgtype"].as_str() {
        Some("markdown") => {
            if !is_str(&json["markdown"]["title"]) || !is_str(&json["markdown"]["text"]) {
                problems.push("markdown: title and text are required".into());
            }
        }
        Some("actionCard") => {
            let card = &json["actionCard"];
            if !is_str(&card["title"]) || !is_str(&card["text"]) {
                problems.push("actionCard: title and text are required".into());
            }
            // Either one `singleURL` (with `singleTitle`) or `btns` of `title` + `actionURL`.
            let btns = card["btns"].as_array().cloned().unwrap_or_default();
            if btns.is_empty() && !is_str(&card["singleURL"]) {
                problems.push("actionCard: neither singleURL nor btns".into());
            }
            for (i, b) in btns.iter().enumerate() {
                let url = b["actionURL"].as_str().unwrap_or("");
                if !is_str(&b["title"]) || !url.starts_with("https://") {
                    problems.push(format!(
                        "actionCard.btns[{i}]: no title or no https actionURL"
                    ));
                }
            }
        }
        other => problems.push(format!("msgtype: {other:?}")),
    }
    let reply = if !sign_ok {
        Reply::json(200, r#"{"errcode":310000,"errmsg":"sign not match"}"#)
    } else if problems.is_empty() {
        Reply::json(200, r#"{"errcode":0,"errmsg":"ok"}"#)
    } else {
        Reply::json(200, r#"{"errcode":40035,"errmsg":"缺少参数 json"}"#)
    };
    Verdict {
        problems: problems.clone(),
        reply,
    }
}

// Feishu custom bot: `interactive` card or `post`; with 签名校验, body `timestamp` (seconds,
// string) and `sign` = base64(HmacSHA256(key = timestamp + "\n" + secret, message = "")).
fn feishu(secret: Option<&str>, json: &Value, body: &[u8], problems: &mut Vec<String>) -> Verdict {
    let mut sign_ok = true;
    if let Some(secret) = secret {
        let timestamp = json["timestamp"].as_str().unwrap_or("");
        let fresh = timestamp.parse::<u64>().is_ok_and(within_window);
        let expected = b64(&hmac_sha256(
            format!("{timestamp}\n{secret}").as_bytes(),
            b"",
        ));
        if !fresh || json["sign"].as_str() != Some(expected.as_str()) {
            sign_ok = false;
            problems.push(format!("sign match fail (timestamp {timestamp:?})"));
        }
    }
    let too_big = body.len() > 20 * 1024;
    if too_big {
        problems.push(format!("{} bytes, over 20 KB", body.len()));
    }
    match json["msg_type"].as_str() {
        Some("interactive") => {
            let elements = json["card"]["elements"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if elements.is_empty() {
                problems.push("card.elements: empty".into());
            }
            for (i, e) in elements.iter().enumerate() {
                if !is_str(&e["tag"]) {
                    problems.push(format!("card.elements[{i}]: no tag"));
                }
                if e["tag"] != "action" {
                    continue;
                }
                // The action module: buttons with a text and a jump `url`.
                let actions = e["actions"].as_array().cloned().unwrap_or_default();
                if actions.is_empty() {
                    problems.push(format!("card.elements[{i}].actions: empty"));
                }
                for (j, b) in actions.iter().enumerate() {
                    let url = b["url"].as_str().unwrap_or("");
                    if b["tag"] != "button"
                        || b["text"]["tag"] != "plain_text"
                        || !is_str(&b["text"]["content"])
                        || !url.starts_with("https://")
                    {
                        problems.push(format!(
                            "card.elements[{i}].actions[{j}]: not a button with text and an https url"
                        ));
                    }
                }
            }
        }
        Some("post") => {
            if !json["content"]["post"].is_object() {
                problems.push("content.post: missing".into());
            }
        }
        other => problems.push(format!("msg_type: {other:?}")),
    }
    let reply = if !sign_ok {
        Reply::json(
            200,
            r#"{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time","data":{}}"#,
        )
    } else if problems.is_empty() {
        Reply::json(200, r#"{"code":0,"msg":"success","data":{}}"#)
    } else {
        Reply::json(200, r#"{"code":9499,"msg":"Bad Request","data":{}}"#)
    };
    Verdict {
        problems: problems.clone(),
        reply,
    }
}

// WeCom group robot: `markdown` with `content` of at most 4096 bytes (UTF-8).
fn wecom(query: Option<&str>, json: &Value, problems: &mut Vec<String>) -> Verdict {
    if !query.unwrap_or("").contains(&format!("key={ACCESS_TOKEN}")) {
        problems.push("key: missing or wrong".into());
    }
    if json["msgtype"] != "markdown" {
        problems.push(format!("msgtype: {}", json["msgtype"]));
    }
    let content = json["markdown"]["content"].as_str().unwrap_or("");
    if content.is_empty() {
        problems.push("markdown.content: empty".into());
    }
    if content.len() > 4096 {
        problems.push(format!(
            "markdown.content: {} bytes, over 4096",
            content.len()
        ));
    }
    let reply = if problems.is_empty() {
        Reply::json(200, r#"{"errcode":0,"errmsg":"ok"}"#)
    } else {
        Reply::json(
            200,
            r#"{"errcode":40058,"errmsg":"markdown.content exceed max length 4096"}"#,
        )
    };
    Verdict {
        problems: problems.clone(),
        reply,
    }
}

fn string_map(v: &Value, what: &str, problems: &mut Vec<String>) {
    match v.as_object() {
        None => problems.push(format!("{what}: not an object")),
        Some(m) => {
            for (k, val) in m {
                if !val.is_string() {
                    problems.push(format!("{what}.{k}: not a string"));
                }
            }
        }
    }
}

fn rfc3339(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok())
}

// Alertmanager webhook_config, version 4.
fn alertmanager(json: &Value, problems: &mut Vec<String>) -> Verdict {
    if json["version"] != "4" {
        problems.push(format!("version: {}", json["version"]));
    }
    for key in ["groupKey", "receiver"] {
        if !is_str(&json[key]) {
            problems.push(format!("{key}: missing"));
        }
    }
    if !json["externalURL"].is_string() {
        problems.push("externalURL: not a string".into());
    }
    if !json["truncatedAlerts"].is_u64() {
        problems.push("truncatedAlerts: not a count".into());
    }
    for key in ["groupLabels", "commonLabels", "commonAnnotations"] {
        string_map(&json[key], key, problems);
    }
    let alerts = json["alerts"].as_array().cloned().unwrap_or_default();
    if alerts.is_empty() {
        problems.push("alerts: empty".into());
    }
    let mut any_firing = false;
    for (i, a) in alerts.iter().enumerate() {
        let status = a["status"].as_str().unwrap_or("");
        if !matches!(status, "firing" | "resolved") {
            problems.push(format!("alerts[{i}].status: {status:?}"));
        }
        any_firing |= status == "firing";
        string_map(&a["labels"], &format!("alerts[{i}].labels"), problems);
        string_map(
            &a["annotations"],
            &format!("alerts[{i}].annotations"),
            problems,
        );
        if !is_str(&a["labels"]["alertname"]) {
            problems.push(format!("alerts[{i}].labels.alertname: missing"));
        }
        if !rfc3339(&a["startsAt"]) || !rfc3339(&a["endsAt"]) {
            problems.push(format!("alerts[{i}]: startsAt/endsAt not RFC 3339"));
        }
        let zero = a["endsAt"] == "0001-01-01T00:00:00Z";
        if (status == "firing") != zero {
            problems.push(format!("alerts[{i}]: endsAt {} for {status}", a["endsAt"]));
        }
        let generator = a["generatorURL"].as_str();
        if !generator.is_some_and(|g| g.is_empty() || g.starts_with("https://")) {
            problems.push(format!("alerts[{i}].generatorURL: {:?}", generator));
        }
        let fp = a["fingerprint"].as_str().unwrap_or("");
        if fp.len() != 16 || !fp.chars().all(|c| c.is_ascii_hexdigit()) {
            problems.push(format!("alerts[{i}].fingerprint: {fp:?}"));
        }
    }
    let expected_status = if any_firing { "firing" } else { "resolved" };
    if json["status"] != expected_status {
        problems.push(format!(
            "status: {} with alerts {expected_status}",
            json["status"]
        ));
    }
    let reply = if problems.is_empty() {
        Reply::json(200, "")
    } else {
        Reply::json(400, "bad alertmanager payload")
    };
    Verdict {
        problems: problems.clone(),
        reply,
    }
}

// renewd's own JSON, with `X-Renewd-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
// "<t>.<body>">` as docs/receivers.md tells receivers to verify it.
fn renewd_json(
    secret: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
    json: &Value,
    problems: &mut Vec<String>,
) -> Verdict {
    if json["version"] != "1" || json["source"] != "renewd" {
        problems.push("not renewd's JSON".into());
    }
    let mut signed = true;
    if let Some(secret) = secret {
        let header = headers
            .get("x-renewd-signature")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut t = "";
        let mut v1 = "";
        for part in header.split(',') {
            match part.split_once('=') {
                Some(("t", value)) => t = value,
                Some(("v1", value)) => v1 = value,
                _ => {}
            }
        }
        let fresh = t
            .parse::<u64>()
            .is_ok_and(|s| now_secs().abs_diff(s) <= 300);
        let expected = hex::encode(hmac_sha256(
            secret.as_bytes(),
            &[t.as_bytes(), b".", body].concat(),
        ));
        if !fresh || v1 != expected {
            signed = false;
            problems.push(format!("bad X-Renewd-Signature {header:?}"));
        }
    }
    let reply = if !signed {
        Reply::json(401, "bad signature")
    } else if problems.is_empty() {
        Reply::json(200, "")
    } else {
        Reply::json(400, "bad payload")
    };
    Verdict {
        problems: problems.clone(),
        reply,
    }
}
