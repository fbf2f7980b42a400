#![no_main]
//! See `fuzz/harness.rs`, `signer`.

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::signer(data));
