//! `agentstate serve`: the HTTP API over the tenants in wasmtime and the durable log, the
//! live feed, and the supervisor dashboard's files.

pub mod answers;
mod api;
mod app;
mod auth;
pub mod body;
mod config;
pub mod errors;
mod feed;
mod feed_slots;
mod front;
mod grants;
mod guesses;
pub mod listen;
mod metrics;
pub mod openapi;
mod ops;
mod query;
mod request_bounds;
pub mod retention;
mod routes;
mod serve;
mod session;
mod sso;

pub use app::App;
pub use config::{FEEDS_PER_TOKEN, MAX_FEEDS, ServeConfig};
pub use routes::document;
pub use serve::{ServeError, serve};
