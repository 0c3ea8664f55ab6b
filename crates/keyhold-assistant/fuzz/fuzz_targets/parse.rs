//! Any bytes, read as a sentence: the parser must not panic and must keep its promises
//! (see `keyhold_assistant::fuzz_one`). Run with `cargo +nightly fuzz run parse` from
//! `crates/keyhold-assistant`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| keyhold_assistant::fuzz_one(data));
