#![allow(dead_code)]

pub mod chat_receivers;
pub mod daemon_harness;
pub mod fake_cloud;
pub mod harness;
pub mod smtp_server;
pub mod webhook_receiver;
