//! The CodeArts package API: `GET /devreposerver/v5/data/package/info` per account and project,
//! authenticated as [`crate::huawei`] says. See docs/design.md, "The CodeArts API". With
//! `projects = "all"`, the projects are listed from ProjectMan (`GET /v4/projects`,
//! [`projects`]) at the start of every cycle.

mod client;
pub mod models;
pub mod projects;

pub use client::{request_id_header, CodeArtsClient, REFUSAL_HOLD};
