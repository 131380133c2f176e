//! The `agentstate` command line: rule suites (`check`), tenants driven from files
//! (`tools`: `apply`, `replay`), on either engine (`engines`: the plugin module in
//! wasmtime, or the core compiled in), and `serve` (the server crate) with the dashboard
//! it finds (`dashboard`).

pub mod check;
pub mod dashboard;
pub mod engines;
pub mod tools;
