#![no_main]
//! See `agentstate_tests::fuzzing::http_body`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| agentstate_tests::fuzzing::http_body(data));
