//! The CodeArts package API: `GET /devreposerver/v5/data/package/info` per account and project,
//! authenticated as [`crate::huawei`] says. See docs/design.md, "The CodeArts API".

mod client;
pub mod models;

pub use client::{request_id_header, CodeArtsClient, REFUSAL_HOLD};
