//! The rules of `docs/rules.md`, one module per domain idea: `decide` runs the steps every
//! command takes (§4.4) and hands each command to its rule; `authority` says who may act
//! where, `sight` who may see what.

pub mod authority;
pub mod configuration;
pub mod ctx;
pub mod decide;
pub mod devices;
pub mod monitoring;
pub mod pause;
pub mod routing;
pub mod sight;
pub mod sign_in;
pub mod wrap_up;
