#![no_main]
//! See `fuzz/harness.rs`, `api_response`.

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::api_response(data));
