//! The agentstate host: runs the core as a wasm module inside wasmtime (and natively, for
//! comparison), and the CLI on top.

pub mod check;
pub mod engines;
pub mod module;
pub mod service;
pub mod store;
pub mod tools;
pub mod wasm_engine;
