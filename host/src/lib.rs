//! The agentstate host: runs the core as a wasm module inside wasmtime (and natively, for
//! comparison), and the CLI on top.

pub mod check;
pub mod demo;
pub mod engines;
pub mod module;
pub mod server;
pub mod service;
pub mod store;
pub mod tokens;
pub mod tools;
pub mod wasm_engine;
