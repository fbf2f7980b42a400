//! The CodeArts API: `GET /devreposerver/v5/data/package/info` per account and project, with the
//! three ways of authenticating (static token, IAM password login, AK/SK signing) hidden behind
//! [`CodeArtsClient`]. See DESIGN.md, "The CodeArts API".

mod auth;
mod client;
mod error;
mod iam;
pub mod models;
mod pacer;
mod retry;
pub mod signer;

pub use client::{request_id_header, CodeArtsClient, PollResult, PACKAGE_INFO_PATH, REFUSAL_HOLD};
pub use error::{ApiError, ApiErrorKind, ClientError};
pub use iam::{IssuedToken, LoginError, PasswordLogin};
pub use models::BadEntry;
pub use retry::retry_after;
