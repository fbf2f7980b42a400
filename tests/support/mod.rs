#![allow(dead_code)]

pub mod fake_cloud;
pub mod smtp_server;
pub mod webhook_receiver;
