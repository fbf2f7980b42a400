//! What every Huawei API answers with: a JSON object, its documented error shapes, and the
//! request id a support ticket asks for.

use super::*;

/// What an error body said, whichever of the documented shapes it had.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorBody {
    pub code: Option<String>,
    pub message: Option<String>,
    /// The gateway's `request_id`.
    pub request_id: Option<String>,
    /// The v5 API's `trace_id`.
    pub trace_id: Option<String>,
}

/// The reading of an answer: what its reader looks for (`Read`), or how the answer is not it.
/// Every reader of a Huawei API answers this way, and [`Gateway::read`] turns the ways it
/// is not into errors.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer<T> {
    Read(T),
    /// An error shape (`status: error`, or an `error_code` at the top level).
    Error(ErrorBody),
    /// Valid JSON not in the documented shape.
    Unexpected {
        reason: String,
    },
    /// Not JSON; a short, sanitized start of the body.
    NotJson {
        prefix: String,
    },
}

/// What every reader starts from: the answer's JSON object when it carries no error, or the
/// reading of an answer that is not one or that does.
pub(crate) fn answer_object<T>(body: &[u8]) -> Result<Map<String, Value>, Answer<T>> {
    match json_object(body) {
        Ok(object) => match error_of(&object) {
            Some(error) => Err(Answer::Error(error)),
            None => Ok(object),
        },
        Err(NotObject::NotJson(prefix)) => Err(Answer::NotJson { prefix }),
        Err(NotObject::Other(kind)) => Err(Answer::Unexpected {
            reason: format!("expected a JSON object, got {kind}"),
        }),
    }
}

/// An answer that is not a JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotObject {
    /// Valid JSON of another type (its type, in words).
    Other(&'static str),
    /// Not JSON; a short, sanitized start of the body.
    NotJson(String),
}

/// An answer's body as the JSON object every Huawei API answers with.
pub(crate) fn json_object(body: &[u8]) -> Result<Map<String, Value>, NotObject> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(other) => Err(NotObject::Other(json_type(&other))),
        Err(_) => Err(NotObject::NotJson(sanitized_prefix(body))),
    }
}

/// A JSON value's type, in words.
pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The error an answer's JSON object carries, in any of Huawei's shapes: `status: "error"`
/// with `error_code`/`error_msg` (CodeArts v5), or an `error_code` at the top level without a
/// `status` (the gateway's, with `request_id`; older CodeArts; the billing API). `None` when it
/// carries none.
pub(crate) fn error_of(object: &Map<String, Value>) -> Option<ErrorBody> {
    let status = object.get("status").and_then(Value::as_str);
    let has_error_code = object.get("error_code").is_some_and(|v| !v.is_null());
    (status == Some("error") || (status.is_none() && has_error_code)).then(|| ErrorBody {
        code: string_field(object, "error_code"),
        message: string_field(object, "error_msg"),
        request_id: string_field(object, "request_id"),
        trace_id: string_field(object, "trace_id"),
    })
}

/// A field as a string: JSON strings as they are, numbers written out, anything else absent.
pub(crate) fn string_field(object: &Map<String, Value>, name: &str) -> Option<String> {
    match object.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(super) fn not_json_message(prefix: &str) -> String {
    format!("response is not JSON: {prefix}")
}

/// The gateway's `X-Request-Id` of an answer, when it has a non-empty, visible-ASCII one.
pub fn request_id_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        // An id is an opaque token that goes into logs: one with a tab or other control
        // character in it is not an id worth quoting.
        .filter(|v| !v.is_empty() && !v.chars().any(char::is_control))
        .map(str::to_string)
}
