//! `serve`: the API and the dashboards.

use std::path::PathBuf;
use std::process::ExitCode;

use agentstate_host::dashboard;
use agentstate_runtime::module;
use agentstate_server::http::{self, ServeConfig};
use agentstate_server::service::Retention;

use super::{Ran, StoreArgs};

#[derive(clap::Args)]
pub struct ServeArgs {
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: std::net::SocketAddr,
    #[command(flatten)]
    store: StoreArgs,
    /// Run the simulated routing system on the demo tenant.
    #[arg(long)]
    demo: bool,
    /// Do not seed the demo tenant (nor publish its tokens).
    #[arg(long)]
    no_demo_tenant: bool,
    /// Requests per second per token; bursts of twice that.
    #[arg(long, default_value_t = 500)]
    rate_limit: u32,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    max_body: usize,
    /// Live feeds (`/events`) this server holds at most; one more is `503`.
    #[arg(long, default_value_t = http::MAX_FEEDS, value_parser = at_least_one)]
    max_feeds: usize,
    /// Live feeds one token (with its sessions) holds at most; one more is `429`.
    #[arg(long, default_value_t = http::FEEDS_PER_TOKEN, value_parser = at_least_one)]
    feeds_per_token: usize,
    /// Connections this server holds at most (fewer if the process may not open that many
    /// descriptors); one more is answered `503` and closed.
    #[arg(long, default_value_t = http::listen::MAX_CONNECTIONS, value_parser = at_least_one)]
    max_connections: usize,
    /// Seconds a keep-alive connection may wait for its next request before it is closed
    /// (a live feed is a response under way, never idle).
    #[arg(long, default_value_t = http::listen::IDLE_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout_secs: u64,
    /// Store a snapshot of a tenant every this many events.
    #[arg(long, default_value_t = 10_000)]
    snapshot_every: u64,
    /// Keep each tenant's events this many days: older ones are folded into a base
    /// snapshot and deleted, at start and then hourly (default: keep everything).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    retain_days: Option<u32>,
    /// How often to prune, in seconds (for tests).
    #[arg(long, default_value_t = 3600, hide = true)]
    retain_check_secs: u64,
    /// The built dashboard (default: web-demo/dist of this workspace).
    #[arg(long)]
    web: Option<PathBuf>,
    /// The browser package (default: wasm/pkg of this workspace).
    #[arg(long)]
    pkg: Option<PathBuf>,
    /// The plugin module (default: AGENTSTATE_MODULE, or the one built by `cargo xtask wasm`).
    #[arg(long)]
    module: Option<PathBuf>,
    /// Log as JSON lines instead of text.
    #[arg(long)]
    log_json: bool,
}

/// A count that must be 1 or more.
fn at_least_one(text: &str) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.into()),
    }
}

/// Serves until SIGINT or SIGTERM.
pub fn serve(args: ServeArgs) -> Ran {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colour);
    if args.log_json {
        logs.json().init()
    } else {
        logs.init()
    }
    let (web, pkg) = dashboard::locate_dashboard();
    let config = ServeConfig {
        addr: args.addr,
        store: args.store.config(),
        data: args.store.data,
        module: match args.module {
            Some(path) => path,
            None => module::locate()?,
        },
        web: args.web.or(web),
        pkg: args.pkg.or(pkg),
        demo_tenant: !args.no_demo_tenant,
        simulate: args.demo,
        rate_per_sec: args.rate_limit,
        max_body: args.max_body,
        max_feeds: args.max_feeds,
        feeds_per_token: args.feeds_per_token,
        max_connections: args.max_connections,
        idle_timeout: std::time::Duration::from_secs(args.idle_timeout_secs),
        snapshot_every: args.snapshot_every.max(1),
        retention: args.retain_days.map(|days| Retention {
            every: std::time::Duration::from_secs(args.retain_check_secs.max(1)),
            ..Retention::days(days)
        }),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(http::serve(config))?;
    Ok(ExitCode::SUCCESS)
}
