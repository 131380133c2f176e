#![no_main]
//! See `agentstate_tests::fuzzing::events`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| agentstate_tests::fuzzing::events(data));
