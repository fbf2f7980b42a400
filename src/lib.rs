//! renewd: watches the renewal deadlines of Huawei Cloud CodeArts packages and tells people in
//! time, with the renewal link in hand. See DESIGN.md for the contract.

pub mod config;
pub mod model;
pub mod rules;
