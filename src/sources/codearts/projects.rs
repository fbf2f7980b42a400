//! The wire format of ProjectMan's `GET /v4/projects` (`ListProjectsV4` in the official SDK
//! `huaweicloudsdkprojectman`): `{"projects": [{"project_id", "project_name", …}], "total"}`,
//! paged by `offset` (a multiple of `limit`) and `limit` (1 to 1000). Pure functions, no I/O.

use crate::huawei::gateway::Answer;
use crate::huawei::gateway::{answer_object, json_type, string_field};
use crate::sources::BadEntry;
use serde_json::Value;

/// Path of the project list, appended to the account's ProjectMan base.
pub(crate) const PROJECTS_PATH: &str = "/v4/projects";
/// The largest page ProjectMan serves.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// One project of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: String,
    pub name: Option<String>,
}

/// One page of the list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub projects: Vec<Project>,
    /// Entries without a readable project id.
    pub bad_entries: Vec<BadEntry>,
    /// How many entries the page had, readable or not.
    pub entries: usize,
    pub total: u64,
}

/// The reading of a response body: `Read` for a page.
pub type Body = Answer<Page>;

/// Reads a response body (of any HTTP status).
pub fn read_body(body: &[u8]) -> Body {
    let object = match answer_object(body) {
        Ok(object) => object,
        Err(answer) => return answer,
    };
    let total = match object.get("total") {
        Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64().unwrap_or_default(),
        Some(other) => {
            return Body::Unexpected {
                reason: format!("`total` is {}, not a count", json_type(other)),
            }
        }
        None => {
            return Body::Unexpected {
                reason: "no `total` in the project list".into(),
            }
        }
    };
    let entries = match object.get("projects") {
        Some(Value::Array(entries)) => entries,
        // An empty account may leave the list out.
        None | Some(Value::Null) => &Vec::new(),
        Some(other) => {
            return Body::Unexpected {
                reason: format!("`projects` is {}, not a list", json_type(other)),
            }
        }
    };
    let mut projects = Vec::with_capacity(entries.len());
    let mut bad_entries = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let Value::Object(entry) = entry else {
            bad_entries.push(BadEntry {
                key: format!("projects[{i}]"),
                reason: format!("{}, not an object", json_type(entry)),
            });
            continue;
        };
        match string_field(entry, "project_id") {
            Some(id) if crate::config::is_project_id(&id) => projects.push(Project {
                id,
                name: string_field(entry, "project_name"),
            }),
            Some(id) => bad_entries.push(BadEntry {
                key: format!("projects[{i}]"),
                reason: format!(
                    "{id:?} is not a CodeArts project id (32 lowercase hex characters)"
                ),
            }),
            None => bad_entries.push(BadEntry {
                key: format!("projects[{i}]"),
                reason: "no `project_id`".into(),
            }),
        }
    }
    Body::Read(Page {
        projects,
        bad_entries,
        entries: entries.len(),
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_lists_its_projects_and_reports_unreadable_entries() {
        let body = br#"{"projects": [
            {"project_num_id": 1, "project_id": "666666af0f00445f85dec483fbc97c78",
             "project_name": "shop", "project_type": "scrum", "created_time": 1, "extra": true},
            {"project_id": "NOT-AN-ID"},
            {"project_name": "no id"},
            7
        ], "total": 2345}"#;
        let Body::Read(page) = read_body(body) else {
            panic!("not a page")
        };
        assert_eq!(page.total, 2345);
        assert_eq!(page.entries, 4);
        assert_eq!(
            page.projects,
            vec![Project {
                id: "666666af0f00445f85dec483fbc97c78".into(),
                name: Some("shop".into())
            }]
        );
        let keys: Vec<&str> = page.bad_entries.iter().map(|b| b.key.as_str()).collect();
        assert_eq!(keys, ["projects[1]", "projects[2]", "projects[3]"]);
    }

    #[test]
    fn errors_and_other_shapes_are_told_apart() {
        assert!(matches!(
            read_body(br#"{"error_code":"APIG.0301","error_msg":"bad token","request_id":"r"}"#),
            Body::Error(_)
        ));
        assert!(matches!(read_body(b"<html>"), Body::NotJson { .. }));
        assert!(matches!(
            read_body(br#"{"projects": []}"#),
            Body::Unexpected { .. }
        ));
        assert!(matches!(
            read_body(br#"{"projects": {}, "total": 0}"#),
            Body::Unexpected { .. }
        ));
        assert!(matches!(
            read_body(br#"{"total": 0}"#),
            Body::Read(Page { entries: 0, .. })
        ));
    }
}
