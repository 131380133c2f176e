//! The API tests' store and server (`agentstate_testkit::api`), on this package's binary.
// Each test binary uses part of this.
#![allow(dead_code, unused_imports)]

use std::path::Path;

pub use agentstate_testkit::ServerProcess as Server;
pub use agentstate_testkit::api::{Data, get, post, start};

/// A store with tenants `acme` and `globex` for the `agentstate` built with these tests.
pub fn data() -> Data {
    Data::new(Path::new(env!("CARGO_BIN_EXE_agentstate")))
}

/// As [`data`], the embedded store in memory (see [`Data::in_memory`]).
pub fn data_in_memory() -> Data {
    Data::in_memory(Path::new(env!("CARGO_BIN_EXE_agentstate")))
}
