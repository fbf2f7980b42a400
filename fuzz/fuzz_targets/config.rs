#![no_main]
//! See `fuzz/harness.rs`, `config`.

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::config(data));
