//! agentstate-core compiled to WebAssembly.
//!
//! * feature `abi` — the plugin ABI for hosts such as wasmtime: plain exports taking and
//!   returning bytes in linear memory, one tenant per instance. Documented in `ABI.md`.
//! * feature `bindgen` — for browsers and Node: a `Tenant` class taking and returning
//!   plain JS objects, with TypeScript types generated from the Rust types (tsify).
//!
//! Both wrap [`agentstate_core::Tenant`] through its JSON edge ([`facade`]), which the
//! native engine of the rule suites takes too.

#[cfg(feature = "abi")]
mod abi;
#[cfg(feature = "bindgen")]
mod bindgen;
pub mod facade;
pub mod plugin;
