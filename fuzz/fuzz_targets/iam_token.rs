#![no_main]
//! See `fuzz/harness.rs`, `iam_token`.

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::iam_token(data));
