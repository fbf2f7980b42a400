//! The fuzz targets' logic, one function per target taking the raw input. Shared by
//! `fuzz/fuzz_targets/*.rs` (libFuzzer) and `tests/fuzz_corpus.rs` (the committed corpus as
//! ordinary `cargo test` cases), so a corpus file is checked the same way in both.
//!
//! Each function asserts properties of renewd's code on that input, not just "no panic";
//! a failed assertion is a finding. Inputs are decoded leniently (lossy UTF-8, invalid header
//! lines skipped), so every byte string is a valid case.
#![allow(dead_code)]

use renewd::config::{Config, Secret};
use renewd::huawei::signer;
use renewd::huawei::{retry_after, LoginScope, PasswordLogin};
use renewd::model::Scope;
use renewd::sources::codearts::models::{read_body, Body};
use renewd::sources::codearts::request_id_header;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Shared decoding
// ---------------------------------------------------------------------------------------------

/// Splits `data` at the first empty line: `(head, rest)`; no empty line gives `(b"", data)`.
fn split_head(data: &[u8]) -> (&[u8], &[u8]) {
    match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (&[], data),
    }
}

/// `Name: value` lines as an HTTP client would have received them; lines that are not a
/// valid header are skipped.
fn header_map(head: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in head.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let value = &line[colon + 1..];
        let value = &value[value.iter().take_while(|&&b| b == b' ').count()..];
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }
    headers
}

fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

// ---------------------------------------------------------------------------------------------
// api_response: `codearts::models::read_body`, `request_id_header`, `retry_after`
// ---------------------------------------------------------------------------------------------

/// Input: optional `Name: value` header lines, an empty line, then the body.
pub fn api_response(data: &[u8]) {
    let (head, body) = split_head(data);
    let headers = header_map(head);

    // X-Request-Id: the first one, trimmed, only when it is non-empty visible text.
    let id = request_id_header(&headers);
    let first = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    match &id {
        Some(id) => {
            assert_eq!(first, Some(id.as_str()));
            assert!(!id.is_empty() && !has_control(id), "request id {id:?}");
        }
        None => assert!(first.is_none_or(|v| v.is_empty() || has_control(v))),
    }

    // Retry-After: whole seconds only (the HTTP-date form is ignored), never a panic.
    let wait = retry_after(&headers);
    let seconds = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    assert_eq!(wait.map(|d| d.as_secs()), seconds);

    check_body(body);
}

fn check_body(body: &[u8]) {
    let scope = Scope {
        account: "fuzz".into(),
        project_id: Some("666666af0f00445f85dec483fbc97c78".into()),
        source: Default::default(),
    };
    let read = read_body(&scope, body);
    assert_eq!(read, read_body(&scope, body), "reading is deterministic");
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        // Not JSON: a short, single-line prefix for the log, never the whole body.
        let Body::NotJson { prefix } = read else {
            panic!("a body that is not JSON was read as {read:?}");
        };
        assert!(prefix.chars().count() <= 121, "prefix too long: {prefix:?}");
        assert!(!has_control(&prefix), "control character in {prefix:?}");
        let trimmed = String::from_utf8_lossy(body).trim().is_empty();
        assert_eq!(prefix.is_empty(), trimmed, "prefix {prefix:?}");
        return;
    };
    let Some(object) = json.as_object() else {
        assert!(matches!(read, Body::Unexpected { .. }), "{read:?}");
        return;
    };
    let text = |name: &str| match object.get(name) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let status = object.get("status").and_then(Value::as_str);
    let error_code = object.get("error_code").is_some_and(|v| !v.is_null());
    match read {
        Body::Error(error) => {
            assert!(status == Some("error") || (status.is_none() && error_code));
            assert_eq!(error.code, text("error_code"));
            assert_eq!(error.message, text("error_msg"));
            assert_eq!(error.request_id, text("request_id"));
            assert_eq!(error.trace_id, text("trace_id"));
        }
        Body::Read(list) => {
            assert!(status.is_none_or(|s| s == "success"));
            assert!(!(status.is_none() && error_code));
            let result = object["result"]
                .as_object()
                .expect("success has a result map");
            // Every entry is classified: a package or a bad entry, none dropped or doubled.
            assert_eq!(list.packages.len() + list.bad_entries.len(), result.len());
            assert_eq!(list.trace_id, text("trace_id"));
            for package in &list.packages {
                let entry = &result[&package.key];
                assert_eq!(package.scope, scope);
                assert_eq!(
                    entry["resourceId"].as_str(),
                    Some(package.resource_id.as_str())
                );
                assert!(!package.resource_id.trim().is_empty());
                let days = &entry["remainDays"];
                let exact = days.as_i64() == Some(package.remain_days)
                    || days.as_f64() == Some(package.remain_days as f64);
                assert!(exact, "remainDays {days} read as {}", package.remain_days);
            }
            for bad in &list.bad_entries {
                assert!(result.contains_key(&bad.key));
                assert!(!bad.reason.is_empty());
                assert!(!list.packages.iter().any(|p| p.key == bad.key));
            }
        }
        Body::Unexpected { reason } => {
            assert!(!reason.is_empty());
            let success_map = status.is_none_or(|s| s == "success")
                && !(status.is_none() && error_code)
                && object.get("result").is_some_and(Value::is_object);
            assert!(!success_map && status != Some("error"), "{reason}");
        }
        Body::NotJson { prefix } => panic!("valid JSON read as not JSON: {prefix:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// config: `Config::from_toml_with_env`
// ---------------------------------------------------------------------------------------------

/// A secret the fuzzer can place: where it stands only in secret positions, no error or Debug
/// output may show it.
pub const SECRET_MARK: &str = "s3cr3t";
/// Keys whose values are secrets (config.rs `SECRET_KEYS`); values under `headers` are too.
const SECRET_KEYS: &[&str] = &[
    "token",
    "password",
    "sk",
    "security_token",
    "secret",
    "url",
    "fail_url",
];

/// Input: TOML, then (after a NUL byte) `KEY=VALUE` overrides separated by NUL bytes; each key
/// gets the `RENEWD_` prefix when it lacks it.
pub fn config(data: &[u8]) {
    let mut parts = data.split(|&b| b == 0);
    let text = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let env: Vec<(String, String)> = parts
        .filter_map(|p| {
            let p = String::from_utf8_lossy(p);
            let (k, v) = p.split_once('=')?;
            let k = if k.starts_with("RENEWD_") {
                k.to_string()
            } else {
                format!("RENEWD_{k}")
            };
            Some((k, v.to_string()))
        })
        .collect();

    let result = Config::from_toml_with_env(&text, &env);
    // Where the mark stands outside secret positions, errors may rightly quote it.
    let secret_only = secret_only_marks(&text, &env);
    match result {
        Ok(config) => {
            let debug = format!("{config:?}");
            if secret_only {
                assert!(!debug.contains(SECRET_MARK), "secret in Debug: {debug}");
            }
            assert!(!config.accounts.is_empty() && !config.rules.is_empty());
        }
        Err(problems) => {
            assert!(!problems.is_empty(), "an invalid config names its problems");
            for problem in &problems {
                let shown = problem.to_string();
                assert!(!problem.reason.trim().is_empty(), "no reason: {shown}");
                // A key path, or for a file that is not TOML at all, where the error is.
                assert!(
                    !problem.path.is_empty() || problem.reason.contains("line "),
                    "problem without a key path or line: {shown}"
                );
                if secret_only {
                    assert!(!shown.contains(SECRET_MARK), "secret in a problem: {shown}");
                }
            }
        }
    }
}

/// True when [`SECRET_MARK`] appears and only inside secret values (of the TOML or of the
/// overrides). A file that is not TOML has no positions: any mark in it counts as secret,
/// since a syntax error must not quote the line it is on.
fn secret_only_marks(text: &str, env: &[(String, String)]) -> bool {
    let mut secret_uses = 0;
    for (key, value) in env {
        if key.to_ascii_lowercase().contains(SECRET_MARK) {
            return false;
        }
        let lower = key.to_ascii_lowercase();
        let segments: Vec<&str> = lower.trim_start_matches("renewd_").split("__").collect();
        let secret = segments.last().is_some_and(|k| SECRET_KEYS.contains(k))
            || segments.contains(&"headers");
        if value.contains(SECRET_MARK) {
            if !secret {
                return false;
            }
            secret_uses += 1;
        }
    }
    match text.parse::<toml::Table>() {
        Ok(table) => {
            let mut clean = true;
            walk_toml(
                &toml::Value::Table(table),
                false,
                &mut clean,
                &mut secret_uses,
            );
            clean && secret_uses > 0
        }
        Err(_) => secret_uses > 0 || text.contains(SECRET_MARK),
    }
}

fn walk_toml(value: &toml::Value, secret: bool, clean: &mut bool, uses: &mut usize) {
    match value {
        toml::Value::String(s) if s.contains(SECRET_MARK) => {
            if secret {
                *uses += 1;
            } else {
                *clean = false;
            }
        }
        toml::Value::Table(table) => {
            for (key, v) in table {
                if key.contains(SECRET_MARK) {
                    *clean = false;
                }
                // A secret key naming a table is a name (`[receivers.password]`), not a secret.
                let secret_here =
                    (SECRET_KEYS.contains(&key.as_str()) && !v.is_table()) || key == "headers";
                // Inside a secret key only strings (and arrays of them) stay secret.
                walk_toml(v, secret_here || (secret && !v.is_table()), clean, uses);
            }
        }
        toml::Value::Array(items) => items.iter().for_each(|v| walk_toml(v, secret, clean, uses)),
        toml::Value::Datetime(d) if d.to_string().contains(SECRET_MARK) => *clean = false,
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// signer: `codearts::signer` (the AK/SK canonicaliser)
// ---------------------------------------------------------------------------------------------

/// The date every fuzzed request is signed at (renewd always makes it itself).
pub const SIGNER_DATE: &str = "20240619T031005Z";
pub const SIGNER_AK: &str = "HPUAFUZZAK000000001";
pub const SIGNER_SK: &str = "fuzz-sk-0123456789abcdefghijklmnopqrstuv";

/// A request as the signer sees it, decoded from fuzz input.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SignerCase {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    /// Hex, so that any bytes survive the trip to the Python reference.
    pub body_hex: String,
}

/// What the Rust signer made of a [`SignerCase`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct SignerOutput {
    pub canonical_request: String,
    pub signed_headers: String,
    pub string_to_sign: String,
    pub authorization: String,
}

/// Input lines: method, path, query (`k=v&k=v`, each part percent-decoded), then header lines
/// up to an empty line, then the body. Headers are kept only when an HTTP client could send
/// them (valid name and value, each name once); `Host` and `X-Sdk-Date` are always present.
pub fn signer_case(data: &[u8]) -> SignerCase {
    let (head, body) = split_head(data);
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split('\n');
    let method = lines.next().unwrap_or_default().trim().to_string();
    let method = if !method.is_empty() && HeaderName::from_bytes(method.as_bytes()).is_ok() {
        method
    } else {
        "GET".to_string()
    };
    let path = lines.next().unwrap_or_default().to_string();
    let path = if path.starts_with('/') {
        path
    } else {
        format!("/{path}")
    };
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let query: Vec<(String, String)> = lines
        .next()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(pair), String::new()),
        })
        .collect();
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim_start_matches(' ');
        let taken = headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        if taken
            || name.eq_ignore_ascii_case(signer::HEADER_SDK_DATE)
            || HeaderName::from_bytes(name.as_bytes()).is_err()
            || HeaderValue::from_str(value).is_err()
        {
            continue;
        }
        headers.push((name.to_string(), value.to_string()));
    }
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        headers.push((
            "Host".into(),
            "cloudartifacts-ext.cn-north-4.myhuaweicloud.com".into(),
        ));
    }
    headers.push((signer::HEADER_SDK_DATE.into(), SIGNER_DATE.into()));
    SignerCase {
        method,
        path,
        query,
        headers,
        body_hex: hex::encode(body),
    }
}

pub fn sign_case(case: &SignerCase) -> SignerOutput {
    let body = hex::decode(&case.body_hex).expect("hex body");
    let input = signer::SigningInput {
        method: &case.method,
        path: &case.path,
        query: &case.query,
        headers: &case.headers,
        body: &body,
    };
    let signature = signer::sign(&input, SIGNER_AK, SIGNER_SK).expect("X-Sdk-Date is set");
    assert_eq!(
        signature.canonical_request,
        signer::canonical_request(&input)
    );
    SignerOutput {
        canonical_request: signature.canonical_request,
        signed_headers: signature.signed_headers,
        string_to_sign: signature.string_to_sign,
        authorization: signature.authorization,
    }
}

/// Checks the properties the official signer's output has (the differential comparison with
/// `fuzz/signer_reference.py` runs on the corpus, see `tests/fuzz_corpus.rs`).
pub fn signer(data: &[u8]) {
    let case = signer_case(data);
    let out = sign_case(&case);
    let lines: Vec<&str> = out.canonical_request.split('\n').collect();
    assert_eq!(lines[0], case.method.to_ascii_uppercase());
    let uri = signer::canonical_uri(&case.path);
    assert_eq!(lines[1], uri);
    assert!(uri.starts_with('/') && uri.ends_with('/'), "{uri:?}");
    assert!(is_encoded(&uri, b"/"), "not RFC 3986 encoded: {uri:?}");
    assert_eq!(
        signer::canonical_uri(&uri),
        uri,
        "canonicalising twice changes the path"
    );
    let query = signer::canonical_query(&case.query);
    assert_eq!(lines[2], query);
    assert!(is_encoded(&query, b"=&"), "not RFC 3986 encoded: {query:?}");
    let keys: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split('=').next().unwrap_or_default())
        .collect();
    assert_eq!(keys.len(), case.query.len());
    // Signed headers: lowercase, sorted, each once.
    let names: Vec<&str> = out.signed_headers.split(';').collect();
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(names, sorted, "signed headers unsorted or repeated");
    assert!(names
        .iter()
        .all(|n| !n.chars().any(|c| c.is_ascii_uppercase())));
    assert!(out
        .string_to_sign
        .starts_with(&format!("SDK-HMAC-SHA256\n{SIGNER_DATE}\n")));
    assert!(out.authorization.starts_with(&format!(
        "SDK-HMAC-SHA256 Access={SIGNER_AK}, SignedHeaders={}, Signature=",
        out.signed_headers
    )));
}

/// Only unreserved characters, `%XX` escapes and the given separators.
fn is_encoded(text: &str, separators: &[u8]) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = |c: u8| c.is_ascii_digit() || (b'A'..=b'F').contains(&c);
            if i + 2 >= bytes.len() {
                return false;
            }
            if !(hex(bytes[i + 1]) && hex(bytes[i + 2])) {
                return false;
            }
            i += 3;
        } else if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || separators.contains(&b) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

// ---------------------------------------------------------------------------------------------
// iam_token: `codearts::PasswordLogin::read_answer`
// ---------------------------------------------------------------------------------------------

const IAM_PASSWORD: &str = "iam-Pa55w0rd-fuzz";

/// Input: a status line (`201`; anything else that is not a number gives 201), header lines,
/// an empty line, then the body.
pub fn iam_token(data: &[u8]) {
    let (head, body) = split_head(data);
    let (status_line, head) = match head.iter().position(|&b| b == b'\n') {
        Some(i) => (&head[..i], &head[i + 1..]),
        None => (head, &[][..]),
    };
    let status = std::str::from_utf8(status_line)
        .ok()
        .and_then(|s| s.trim().parse::<u16>().ok())
        .filter(|s| (100..1000).contains(s))
        .unwrap_or(201);
    let headers = header_map(head);
    let login = PasswordLogin {
        iam_base: "https://iam.cn-north-4.myhuaweicloud.com".into(),
        domain: "corp".into(),
        user: "alice".into(),
        password: Secret::new(IAM_PASSWORD),
        scope: LoginScope::Project("cn-north-4".into()),
    };
    let answer = login.read_answer(status, &headers, body);
    let subject_token = headers
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .filter(|t| !t.is_empty());
    match answer {
        Ok(issued) => {
            assert!(
                (200..300).contains(&status),
                "a token from an HTTP {status}"
            );
            assert_eq!(Some(issued.token.expose()), subject_token);
            let json: Value = serde_json::from_slice(body).expect("a token answer is JSON");
            let text = json["token"]["expires_at"].as_str().expect("expires_at");
            let parsed = chrono::DateTime::parse_from_rfc3339(text).expect("RFC 3339");
            assert_eq!(issued.expires_at, parsed);
        }
        Err(error) => {
            assert_eq!(error.http_status, Some(status));
            assert_eq!(error.is_rejection(), (400..500).contains(&status));
            assert!(!error.reason.trim().is_empty());
            let shown = error.to_string();
            let debug = format!("{error:?}");
            assert!(!shown.contains(IAM_PASSWORD) && !debug.contains(IAM_PASSWORD));
            // The token of a failed answer is not repeated unless the answer itself says it.
            if let Some(token) = subject_token.filter(|t| t.len() >= 8) {
                // What the same answer with another token shows: text from the body or from
                // renewd's own wording that happens to equal the token is no leak.
                let mut without = headers.clone();
                without.insert(
                    "x-subject-token",
                    HeaderValue::from_static("other-token-of-the-same-answer"),
                );
                let baseline = login
                    .read_answer(status, &without, body)
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_default();
                let echoed = baseline.contains(token)
                    || error
                        .request_id
                        .as_deref()
                        .is_some_and(|r| r.contains(token));
                if !echoed {
                    assert!(!shown.contains(token), "token in {shown}");
                }
            }
            if !(200..300).contains(&status) {
                let id = headers.get("x-request-id").and_then(|v| v.to_str().ok());
                assert_eq!(error.request_id.as_deref(), id);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// templates: `notify::webhook::chat::ChatTemplate`, `notify::email::EmailTemplates`
// ---------------------------------------------------------------------------------------------

/// Input: one byte choosing the receiver (even: chat, Slack or Markdown; odd: email), then the
/// template source. For email the source holds subject, text and HTML templates separated by
/// NUL bytes (a missing part is the built-in one).
pub fn templates(data: &[u8]) {
    use renewd::notify::email::EmailTemplates;
    use renewd::notify::webhook::chat::{ChatTemplate, Dialect};
    let Some((&selector, source)) = data.split_first() else {
        return;
    };
    let digest = template_digest();
    if selector % 2 == 0 {
        let dialect = if selector % 4 == 0 {
            Dialect::SlackMrkdwn
        } else {
            Dialect::Markdown
        };
        let source = String::from_utf8_lossy(source);
        match ChatTemplate::new("ops", dialect, Some(&source)) {
            Ok(template) => {
                for shown in [digest.alerts.len(), 0] {
                    if let Err(e) = template.render(&digest, shown) {
                        assert_eq!(e.field, "text_template", "{e}");
                    }
                }
            }
            Err(e) => assert!(e.to_string().contains("text_template"), "{e}"),
        }
    } else {
        let parts: Vec<String> = source
            .split(|&b| b == 0)
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        let part = |i: usize| parts.get(i).map(String::as_str).filter(|s| !s.is_empty());
        match EmailTemplates::new("ops", part(0), part(1), part(2)) {
            Ok(templates) => match templates.render(&digest) {
                Ok((subject, _text, _html)) => {
                    assert!(!has_control(&subject), "subject {subject:?}");
                    assert!(subject.chars().count() <= 201, "subject {subject:?}");
                }
                Err(e) => assert!(
                    ["subject_template", "text_template", "html_template"].contains(&e.field),
                    "{e}"
                ),
            },
            Err(e) => assert!(e.to_string().contains("_template"), "{e}"),
        }
    }
}

/// The example digest at a fixed instant, plus an alert whose texts hold markup.
fn template_digest() -> renewd::notify::Digest {
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-26T01:00:00Z")
        .expect("fixed instant")
        .with_timezone(&chrono::Utc);
    let mut digest = renewd::notify::test_digest("ops", at, chrono_tz::Asia::Shanghai);
    let mut odd = digest.alerts[0].clone();
    odd.package = Some("<b>*pkg*</b> [x](y) & \n- item".into());
    odd.remain_days = Some(-3);
    odd.next_action_url = Some("javascript:alert(1)".into());
    digest.alerts.push(odd);
    digest
}
