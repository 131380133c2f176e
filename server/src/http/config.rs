//! How `agentstate serve` runs: what the command line sets, and its defaults.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::store::StoreConfig;

/// How `agentstate serve` runs.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub addr: SocketAddr,
    /// Where the tenants' logs and the tokens are.
    pub store: StoreConfig,
    /// Holds the demo's tokens (and, with the embedded store, `agentstate.db`).
    pub data: PathBuf,
    /// The plugin module.
    pub module: PathBuf,
    /// The built dashboard (`web-demo/dist`) and the browser package (`wasm/pkg`).
    pub web: Option<PathBuf>,
    pub pkg: Option<PathBuf>,
    /// Seed the demo tenant on first start and publish its users' tokens at `/demo/tokens`.
    pub demo_tenant: bool,
    /// Run the simulated routing system on the demo tenant.
    pub simulate: bool,
    /// Requests per second per token (bursts of twice that).
    pub rate_per_sec: u32,
    /// Largest request body, in bytes.
    pub max_body: usize,
    /// A snapshot is stored every this many events per tenant.
    pub snapshot_every: u64,
    /// How long tenants keep their events (`--retain-days`); `None` keeps everything.
    pub retention: Option<crate::service::Retention>,
    /// Live feeds this host holds at most (`--max-feeds`; [`MAX_FEEDS`]), and per token
    /// ([`FEEDS_PER_TOKEN`]).
    pub max_feeds: usize,
    pub feeds_per_token: usize,
    /// Connections this host holds at most (`--max-connections`; [`super::listen::MAX_CONNECTIONS`]),
    /// fewer when the process may not open that many descriptors.
    pub max_connections: usize,
    /// How long a keep-alive connection may wait for its next request
    /// ([`super::listen::IDLE_TIMEOUT`]).
    pub idle_timeout: Duration,
}

/// Live feeds one token (with the sessions made from it) may hold.
pub const FEEDS_PER_TOKEN: usize = 20;
/// Live feeds a host holds at most, by default (`--max-feeds`).
pub const MAX_FEEDS: usize = 12_000;
