//! The wire format of `GET /devreposerver/v5/data/package/info` and how its bodies are read:
//! the success map of packages and the three documented error shapes (docs/design.md,
//! "The CodeArts API"). Pure functions, no I/O.

pub use crate::huawei::gateway::Answer;
use crate::huawei::gateway::{answer_object, json_type, string_field};
use crate::model::{Item, PackageStatus, Scope};
use crate::sources::BadEntry;
use serde_json::{Map, Value};

/// The packages of a successful response.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageList {
    pub packages: Vec<Item>,
    pub bad_entries: Vec<BadEntry>,
    pub trace_id: Option<String>,
}

/// The reading of a response body: `Read` for `status: success` with a `result` map.
pub type Body = Answer<PackageList>;

/// Reads a response body (of any HTTP status).
pub fn read_body(scope: &Scope, body: &[u8]) -> Body {
    let object = match answer_object(body) {
        Ok(object) => object,
        Err(answer) => return answer,
    };
    let object = &object;
    let status = object.get("status").and_then(Value::as_str);
    if status.is_some_and(|s| s != "success") {
        return Body::Unexpected {
            reason: format!("unknown status {:?}", status.unwrap_or_default()),
        };
    }
    match object.get("result") {
        Some(Value::Object(result)) => Body::Read(package_list(
            scope,
            result,
            string_field(object, "trace_id"),
        )),
        Some(other) => Body::Unexpected {
            reason: format!("`result` is {}, not an object", json_type(other)),
        },
        None => Body::Unexpected {
            reason: "no `result` in a success response".into(),
        },
    }
}

fn package_list(
    scope: &Scope,
    result: &Map<String, Value>,
    trace_id: Option<String>,
) -> PackageList {
    let mut packages = Vec::new();
    let mut bad_entries = Vec::new();
    for (key, entry) in result {
        match package(scope, key, entry) {
            Ok(p) => packages.push(p),
            Err(reason) => bad_entries.push(BadEntry {
                key: key.clone(),
                reason,
            }),
        }
    }
    PackageList {
        packages,
        bad_entries,
        trace_id,
    }
}

/// One entry of `result`. `resourceId` and `remainDays` are required; `packageStatus` must be
/// an integer when present; unknown fields are ignored.
fn package(scope: &Scope, key: &str, entry: &Value) -> Result<Item, String> {
    let Some(entry) = entry.as_object() else {
        return Err(format!("entry is {}, not an object", json_type(entry)));
    };
    let resource_id = match entry.get("resourceId") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) => return Err("`resourceId` is empty".into()),
        None | Some(Value::Null) => return Err("`resourceId` is missing".into()),
        Some(other) => {
            return Err(format!(
                "`resourceId` is {}, not a string",
                json_type(other)
            ))
        }
    };
    let remain_days = match entry.get("remainDays") {
        None | Some(Value::Null) => return Err("`remainDays` is missing".into()),
        Some(v) => integer(v).ok_or_else(|| format!("`remainDays` is not an integer: {v}"))?,
    };
    let package_status = match entry.get("packageStatus") {
        None | Some(Value::Null) => None,
        Some(v) => {
            Some(integer(v).ok_or_else(|| format!("`packageStatus` is not an integer: {v}"))?)
        }
    };
    Ok(Item {
        scope: scope.clone(),
        key: key.to_string(),
        resource_id,
        service_type: optional_string(entry, "serviceType"),
        status: package_status.map(PackageStatus::from),
        remain_days,
        next_action_url: optional_string(entry, "nextActionUrl"),
        details: None,
    })
}

/// A JSON number with an integral value (`11` or `11.0`); strings and fractions are not.
fn integer(value: &Value) -> Option<i64> {
    let n = value.as_number()?;
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    let f = n.as_f64()?;
    // i64::MAX as f64 rounds up to 2^63, which must stay out of range.
    (f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64).then_some(f as i64)
}

fn optional_string(entry: &Map<String, Value>, name: &str) -> Option<String> {
    entry
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            account: "prod".into(),
            project_id: Some("666666af0f00445f85dec483fbc97c78".into()),
            source: Default::default(),
        }
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/codearts/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(path).expect("fixture is readable")
    }

    #[test]
    fn documented_example_gives_two_packages() {
        let Body::Read(list) = read_body(&scope(), &fixture("package_info_example.json")) else {
            panic!("not a success");
        };
        assert_eq!(list.trace_id.as_deref(), Some("76629-1718767405716-27335"));
        assert!(list.bad_entries.is_empty());
        assert_eq!(list.packages.len(), 2);
        let storage = list
            .packages
            .iter()
            .find(|p| p.key == "codeartsStorageExtension")
            .expect("storage package");
        assert_eq!(storage.resource_id, "7590809a5c9d42ae92b49b1190e94666");
        assert_eq!(
            storage.service_type.as_deref(),
            Some("hws.resource.type.codearts.extension.storage")
        );
        assert_eq!(storage.status_code(), Some(2));
        assert_eq!(storage.remain_days, 11);
        assert!(storage
            .next_action_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://localhost.com/usercenter/")));
        assert_eq!(storage.scope, scope());
    }

    #[test]
    fn error_shapes_are_recognised() {
        let Body::Error(v5) = read_body(&scope(), &fixture("error_v5_unauthorized.json")) else {
            panic!("v5 error not recognised");
        };
        assert_eq!(v5.code.as_deref(), Some("DEV.00000001"));
        assert_eq!(v5.trace_id.as_deref(), Some("76629-1718767405716-99999"));
        let Body::Error(gw) = read_body(&scope(), &fixture("error_gateway_token_expired.json"))
        else {
            panic!("gateway error not recognised");
        };
        assert_eq!(gw.code.as_deref(), Some("APIG.0301"));
        assert_eq!(
            gw.request_id.as_deref(),
            Some("b9c2c1f2a1d84b3c8e6f1a2b3c4d5e6f")
        );
        let Body::Error(old) = read_body(&scope(), &fixture("error_no_permission.json")) else {
            panic!("old error not recognised");
        };
        assert_eq!(old.code.as_deref(), Some("CR.4102"));
        assert_eq!(old.message.as_deref(), Some("当前用户没有该项目权限"));
    }

    #[test]
    fn bad_entries_are_reported_not_guessed() {
        let body = serde_json::json!({
            "status": "success",
            "result": {
                "ok": {"resourceId": "r1", "remainDays": 5, "extra": [1]},
                "float": {"resourceId": "r2", "remainDays": 7.0, "packageStatus": 2},
                "noDays": {"resourceId": "r3", "packageStatus": 2},
                "noId": {"remainDays": 3},
                "stringDays": {"resourceId": "r4", "remainDays": "3"},
                "fraction": {"resourceId": "r5", "remainDays": 2.5},
                "stringStatus": {"resourceId": "r6", "remainDays": 2, "packageStatus": "2"},
                "notObject": 42
            }
        });
        let Body::Read(list) = read_body(&scope(), body.to_string().as_bytes()) else {
            panic!("not a success");
        };
        let mut good: Vec<_> = list.packages.iter().map(|p| p.key.as_str()).collect();
        good.sort();
        assert_eq!(good, ["float", "ok"]);
        let mut bad: Vec<_> = list.bad_entries.iter().map(|b| b.key.as_str()).collect();
        bad.sort();
        assert_eq!(
            bad,
            [
                "fraction",
                "noDays",
                "noId",
                "notObject",
                "stringDays",
                "stringStatus"
            ]
        );
        let no_days = list.bad_entries.iter().find(|b| b.key == "noDays").unwrap();
        assert!(no_days.reason.contains("remainDays"), "{}", no_days.reason);
    }

    #[test]
    fn odd_bodies_are_unexpected_or_not_json() {
        assert!(matches!(
            read_body(&scope(), b"[]"),
            Body::Unexpected { .. }
        ));
        assert!(matches!(
            read_body(&scope(), br#"{"status":"success"}"#),
            Body::Unexpected { .. }
        ));
        assert!(matches!(
            read_body(&scope(), br#"{"status":"success","result":[]}"#),
            Body::Unexpected { .. }
        ));
        let Body::NotJson { prefix } = read_body(&scope(), b"<html>\r\n<b>502</b>") else {
            panic!("not flagged as non-JSON");
        };
        assert_eq!(prefix, "<html>  <b>502</b>");
    }
}
