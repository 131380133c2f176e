//! agentstate-core compiled to WebAssembly.
//!
//! * feature `abi` — the plugin ABI for hosts such as wasmtime: plain exports taking and
//!   returning bytes in linear memory, one tenant per instance. Documented in `ABI.md`.
//!
//! Both wrap [`agentstate_core::Tenant`], exactly as the native engine does.

#[cfg(feature = "abi")]
mod abi;
