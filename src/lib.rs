//! renewd: watches the renewal deadlines of Huawei Cloud CodeArts packages and tells people in
//! time, with the renewal link in hand. See DESIGN.md for the contract.

pub mod codearts;
pub mod commands;
pub mod config;
pub mod cycle;
pub mod daemon;
pub mod demo;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod rules;
pub mod schedule;
pub mod state;
