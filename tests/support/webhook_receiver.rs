//! A real HTTP webhook receiver on 127.0.0.1 for tests (axum). It records every request
//! (method, path, query, headers, body) as it arrives and answers from a script: e.g.
//! `[503, 503]` then 200 for ever, a fixed status, or "hold the response forever" (crash tests).
//!
//! It runs on its own thread and runtime, so it works the same from `#[test]` and
//! `#[tokio::test]`, and outlives nothing: dropping it stops the server and its connections.

use axum::body::Body;
use axum::http::{HeaderMap, Request, Response, StatusCode};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// What the receiver answers to one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// This status, with an empty body.
    Status(u16),
    /// This status with extra headers (e.g. `Retry-After`) and a body.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Never answer (the request is still recorded).
    Hold,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply::Status(status)
    }

    pub fn with_retry_after(status: u16, seconds: u64) -> Reply {
        Reply::Full {
            status,
            headers: vec![("retry-after".into(), seconds.to_string())],
            body: String::new(),
        }
    }

    pub fn with_body(status: u16, body: &str) -> Reply {
        Reply::Full {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
        }
    }
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl ReceivedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

struct Script {
    next: VecDeque<Reply>,
    then: Reply,
}

struct Shared {
    script: Mutex<Script>,
    received: Mutex<Vec<ReceivedRequest>>,
    arrived: Condvar,
}

pub struct WebhookReceiver {
    server: super::ThreadServer,
    shared: Arc<Shared>,
}

impl WebhookReceiver {
    /// Answers 200 to everything.
    pub fn start() -> WebhookReceiver {
        Self::with_script(Vec::new(), Reply::Status(200))
    }

    /// Answers `script` in order, then `then` for ever.
    pub fn with_script(script: Vec<Reply>, then: Reply) -> WebhookReceiver {
        let shared = Arc::new(Shared {
            script: Mutex::new(Script {
                next: script.into(),
                then,
            }),
            received: Mutex::new(Vec::new()),
            arrived: Condvar::new(),
        });
        let state = Arc::clone(&shared);
        let app = axum::Router::new().fallback(move |request: Request<Body>| {
            let state = Arc::clone(&state);
            async move { handle(state, request).await }
        });
        WebhookReceiver {
            server: super::ThreadServer::start(app),
            shared,
        }
    }

    /// `http://127.0.0.1:<port>/hook`.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.server.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// Replaces the script: `script` in order, then `then` for ever.
    pub fn set_script(&self, script: Vec<Reply>, then: Reply) {
        let mut s = self.shared.script.lock().expect("script lock");
        s.next = script.into();
        s.then = then;
    }

    /// Every request so far, in arrival order.
    pub fn received(&self) -> Vec<ReceivedRequest> {
        self.shared.received.lock().expect("received lock").clone()
    }

    /// Waits (blocking this thread) until at least `n` requests arrived, or panics after
    /// `timeout`. From an async test, call it once the sender has finished, or through
    /// `tokio::task::spawn_blocking`.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedRequest> {
        let deadline = Instant::now() + timeout;
        let mut received = self.shared.received.lock().expect("received lock");
        while received.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!(
                    "expected {n} request(s) within {timeout:?}, got {}",
                    received.len()
                );
            }
            received = self
                .shared
                .arrived
                .wait_timeout(received, left)
                .expect("received lock")
                .0;
        }
        received.clone()
    }
}

async fn handle(shared: Arc<Shared>, request: Request<Body>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 16 * 1024 * 1024)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let reply = {
        let mut script = shared.script.lock().expect("script lock");
        script
            .next
            .pop_front()
            .unwrap_or_else(|| script.then.clone())
    };
    {
        let mut received = shared.received.lock().expect("received lock");
        received.push(ReceivedRequest {
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            query: parts.uri.query().map(str::to_string),
            headers: parts.headers,
            body,
        });
        shared.arrived.notify_all();
    }
    let (status, headers, body) = match reply {
        Reply::Status(status) => (status, Vec::new(), String::new()),
        Reply::Full {
            status,
            headers,
            body,
        } => (status, headers, body),
        Reply::Hold => std::future::pending().await,
    };
    let mut response = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    for (name, value) in headers {
        response = response.header(name, value);
    }
    response
        .body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}
