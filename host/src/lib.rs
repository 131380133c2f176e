//! The agentstate host: the CLI today; the wasmtime engine and the server follow.

pub mod check;
