//! What every Huawei Cloud API renewd calls shares: the three ways of authenticating (static
//! IAM token, IAM password login, AK/SK signing), the error shapes and how errors are told,
//! retries with backoff, and the pace of one account's requests. See docs/design.md,
//! "Authentication".

pub(crate) mod auth;
mod error;
mod iam;
pub(crate) mod pacer;
pub(crate) mod retry;
pub mod signer;

pub(crate) use error::transport_reason;
pub(crate) use error::{sanitized_prefix, ClientError};
pub use error::{ApiError, ApiErrorKind};
pub(crate) use iam::LoginError;
pub use iam::PasswordLogin;
pub use retry::retry_after;
