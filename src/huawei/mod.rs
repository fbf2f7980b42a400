//! What every Huawei Cloud API renewd calls shares: the three ways of authenticating (static
//! IAM token, IAM password login, AK/SK signing), the error shapes and how errors are told,
//! retries with backoff, and the pace of one account's requests. See docs/design.md,
//! "Authentication".

pub(crate) mod auth;
mod error;
pub(crate) mod gateway;
mod iam;
pub(crate) mod pacer;
pub(crate) mod retry;
pub mod signer;

pub(crate) use error::sanitized_prefix;
pub(crate) use error::transport_reason;
pub use error::{ApiError, ApiErrorKind, ClientError};
pub use iam::{IssuedToken, LoginError, LoginScope, PasswordLogin};
pub use retry::retry_after;
