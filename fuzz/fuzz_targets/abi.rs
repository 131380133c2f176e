#![no_main]
//! See `agentstate_tests::fuzzing::abi`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| agentstate_tests::fuzzing::abi(data));
