//! The billing API's yearly/monthly subscriptions of an account (`ListPayPerUseCustomerResources`),
//! one scope per account, authenticated for a global service. See docs/design.md, "More sources",
//! and docs/configuration.md, `[accounts.subscriptions]`.

mod client;
pub mod funds;
pub mod models;

pub use client::{SubscriptionsClient, RESOURCES_QUERY_PATH, WINDOW_MARGIN_DAYS};
