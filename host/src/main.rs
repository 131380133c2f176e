use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use agentstate_host::check::{check, scenario_files};
use agentstate_host::engines::WasmEngine;
use agentstate_host::{dashboard, tools};
use agentstate_runtime::{Limits, Runtime, module};
use agentstate_scenario::{Engine, NativeEngine};
use agentstate_server::http::{self, ServeConfig};
use agentstate_server::service::{Retention, TenantService};
use agentstate_server::store::{StoreConfig, TokenSelector};
use agentstate_server::{sessions, tokens};
use clap::{Parser, Subcommand, ValueEnum};

/// Contact-center agent-state rules, written once.
#[derive(Parser)]
#[command(name = "agentstate", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run rule suites (YAML or JSON scenario files, or folders of them). Exits 0 when
    /// every expectation holds, 1 when one does not, 2 when a file is not a scenario.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print every step's outcome as JSON.
        #[arg(long)]
        json: bool,
        /// List every step, not only failing ones.
        #[arg(short, long)]
        verbose: bool,
        /// Which runtime decides the commands.
        #[arg(long, value_enum, default_value_t = EngineKind::Wasm)]
        engine: EngineKind,
        /// The plugin module (default: AGENTSTATE_MODULE, or the one built by `cargo xtask wasm`).
        #[arg(long)]
        module: Option<PathBuf>,
    },
    /// Decide commands (one JSON object per line, from FILE or `-` for stdin) against a
    /// tenant, printing each outcome with its events as a JSON line. Exits 1 when any
    /// command was rejected.
    Apply {
        #[command(flatten)]
        source: TenantSource,
        #[arg(default_value = "-")]
        commands: PathBuf,
    },
    /// Fold an event log (a JSON array or one event per line) into a tenant and print its
    /// snapshot, or the answer to a view query such as '{"view":"lingering_unassigned","actor":"system"}'.
    Replay {
        #[command(flatten)]
        source: TenantSource,
        events: PathBuf,
        #[arg(long)]
        view: Option<String>,
    },
    /// Serve the API and the supervisor dashboard (SIGINT/SIGTERM stop it gracefully).
    Serve(ServeArgs),
    /// Access tokens for the API.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Tenants of a server's data folder.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Reports over a tenant's stored log.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Print the HTTP API's OpenAPI 3.1 document (what `serve` answers at /api/openapi.json).
    Openapi,
}

#[derive(Subcommand)]
enum ReportCommand {
    /// The day at a glance: each agent's states per channel from FROM to TO (milliseconds
    /// since the epoch, like `at`), with the time in each state and per pause reason.
    Activity {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        from: u64,
        #[arg(long)]
        to: u64,
        /// One CSV line per agent and channel instead of the JSON report.
        #[arg(long)]
        csv: bool,
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        module: Option<PathBuf>,
    },
    /// Time in state on a channel at AT (default: now): each agent's state and since when,
    /// and the counts per state — what the dashboard's channel shows.
    States {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        channel: String,
        /// Milliseconds since the epoch; never before the tenant's last event.
        #[arg(long)]
        at: Option<u64>,
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        module: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token for a user of a tenant (or `system`, for routing and telephony).
    /// Prints the token once; only its hash is stored.
    Create {
        #[arg(long)]
        tenant: String,
        /// A user id of the tenant, or `system`.
        #[arg(long)]
        user: String,
        /// Print a one-time sign-in link to the dashboard instead of the token (valid for
        /// 24 hours; its secret is after `#`, which browsers never send to a server).
        #[arg(long)]
        link: bool,
        /// Where the dashboard is served, for the link.
        #[arg(long, env = "AGENTSTATE_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List a tenant's tokens: fingerprint and actor (the tokens themselves are not kept).
    List {
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke tokens: every token of a user, or one by its fingerprint. A running server
    /// refuses them within seconds.
    Revoke {
        #[arg(long)]
        tenant: String,
        /// Every token of this user (or `system`).
        #[arg(long, conflicts_with = "fingerprint", required_unless_present = "fingerprint")]
        user: Option<String>,
        /// The token whose fingerprint (`token list`) starts with these hex digits.
        #[arg(long, value_parser = tokens::parse_fingerprint)]
        fingerprint: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant from its description (YAML or JSON, as the `tenant:` of a rule suite).
    Create {
        id: String,
        description: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        module: Option<PathBuf>,
    },
    /// Create a tenant with a long, realistic log for load tests and benchmarks: 1,000
    /// agents on 20 queues signing in, taking calls, pausing and signing out, 100,000
    /// events a day ending now, decided by the rules and stored through the store's append.
    Generate {
        id: String,
        /// How many events.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// Where tenants and tokens are stored.
#[derive(clap::Args)]
struct StoreArgs {
    /// The embedded store's folder (agentstate.db) and the demo's tokens.
    #[arg(long, env = "AGENTSTATE_DATA", default_value = "./data")]
    data: PathBuf,
    /// A PostgreSQL database shared by any number of hosts, instead of the embedded
    /// store: postgres://USER[:PASSWORD]@HOST:PORT/DB.
    #[arg(long, env = "AGENTSTATE_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

impl StoreArgs {
    fn config(&self) -> StoreConfig {
        match &self.database_url {
            Some(url) => StoreConfig::Postgres(url.clone()),
            None => StoreConfig::Sqlite(self.data.clone()),
        }
    }
}

#[derive(clap::Args)]
struct ServeArgs {
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
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

#[derive(clap::Args)]
struct TenantSource {
    /// A tenant description (YAML or JSON), as the `tenant:` of a rule suite.
    #[arg(long)]
    tenant: Option<PathBuf>,
    /// A snapshot (JSON) to start from instead.
    #[arg(long)]
    snapshot: Option<PathBuf>,
    /// Which runtime decides the commands.
    #[arg(long, value_enum, default_value_t = EngineKind::Wasm)]
    engine: EngineKind,
    /// The plugin module (default: AGENTSTATE_MODULE, or the one built by `cargo xtask wasm`).
    #[arg(long)]
    module: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum EngineKind {
    /// The plugin module in wasmtime.
    Wasm,
    /// The core compiled into this binary.
    Native,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => finish(serve(args)),
        Command::Openapi => {
            println!("{}", agentstate_server::http::openapi::document());
            ExitCode::SUCCESS
        }
        Command::Token(TokenCommand::Create { tenant, user, link: false, store, .. }) => {
            finish(create_token(&tenant, &user, &store.config()))
        }
        Command::Token(TokenCommand::Create { tenant, user, link: true, url, store }) => {
            finish(create_link(&tenant, &user, &url, &store.config()))
        }
        Command::Token(TokenCommand::List { tenant, store }) => finish(list_tokens(&tenant, &store.config())),
        Command::Token(TokenCommand::Revoke { tenant, user, fingerprint, store }) => {
            let which = match (&user, &fingerprint) {
                (Some(user), _) => Ok(TokenSelector::Actor(user)),
                (None, Some(digits)) => Ok(TokenSelector::Fingerprint(digits)),
                (None, None) => Err("give --user or --fingerprint".to_owned()),
            };
            finish(which.and_then(|which| revoke_tokens(&tenant, which, &store.config())))
        }
        Command::Tenant(TenantCommand::Create { id, description, store, module }) => {
            finish(create_tenant(&id, &description, &store.config(), module))
        }
        Command::Tenant(TenantCommand::Generate { id, events, store }) => {
            finish(generate_tenant(&id, events, &store.config()))
        }
        Command::Report(ReportCommand::Activity { tenant, from, to, csv, store, module }) => {
            finish(activity_report(&tenant, (from, to), csv, &store.config(), module))
        }
        Command::Report(ReportCommand::States { tenant, channel, at, store, module }) => {
            finish(states_report(&tenant, &channel, at, &store.config(), module))
        }
        Command::Apply { source, commands } => finish(engine_for(&source).and_then(|mut engine| {
            let rejected = tools::apply(engine.as_mut(), &commands, &mut std::io::stdout().lock())?;
            Ok(if rejected == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
        })),
        Command::Replay { source, events, view } => finish(engine_for(&source).and_then(|mut engine| {
            tools::replay(engine.as_mut(), &events, view.as_deref(), &mut std::io::stdout().lock())?;
            Ok(ExitCode::SUCCESS)
        })),
        Command::Check { files, json, verbose, engine, module } => {
            let runtime = match engine {
                EngineKind::Native => None,
                EngineKind::Wasm => match load_runtime(module) {
                    Ok(runtime) => Some(runtime),
                    Err(e) => {
                        eprintln!("agentstate: {e}");
                        return ExitCode::from(2);
                    }
                },
            };
            let mut new_engine = || -> Box<dyn Engine> {
                match &runtime {
                    None => Box::new(NativeEngine::default()),
                    Some(runtime) => Box::new(WasmEngine::new(runtime.clone())),
                }
            };
            let files = scenario_files(&files);
            let mut out = std::io::stdout().lock();
            match check(&files, &mut new_engine, json, verbose, &mut out) {
                Ok(verdict) => ExitCode::from(verdict as u8),
                Err(e) => {
                    eprintln!("agentstate: cannot write the report: {e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

fn engine_for(source: &TenantSource) -> Result<Box<dyn Engine>, String> {
    let mut engine: Box<dyn Engine> = match source.engine {
        EngineKind::Native => Box::new(NativeEngine::default()),
        EngineKind::Wasm => Box::new(WasmEngine::new(load_runtime(source.module.clone())?)),
    };
    tools::load(engine.as_mut(), source.tenant.as_deref(), source.snapshot.as_deref())?;
    Ok(engine)
}

fn finish(result: Result<ExitCode, String>) -> ExitCode {
    result.unwrap_or_else(|e| {
        eprintln!("agentstate: {e}");
        ExitCode::from(2)
    })
}

fn load_runtime(module: Option<PathBuf>) -> Result<std::sync::Arc<Runtime>, String> {
    let path = match module {
        Some(path) => path,
        None => module::locate()?,
    };
    Runtime::from_file(&path, Some(&module::cache_dir(&path)), Limits::default()).map_err(|e| e.to_string())
}

fn serve(args: ServeArgs) -> Result<ExitCode, String> {
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
        snapshot_every: args.snapshot_every.max(1),
        retention: args.retain_days.map(|days| Retention {
            every: std::time::Duration::from_secs(args.retain_check_secs.max(1)),
            ..Retention::days(days)
        }),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(http::serve(config))?;
    Ok(ExitCode::SUCCESS)
}

fn create_token(tenant: &str, user: &str, store: &StoreConfig) -> Result<ExitCode, String> {
    let token = tokens::issue(&mut store.open()?, tenant, user)?;
    println!("{token}");
    eprintln!("fingerprint {} (for `agentstate token revoke`)", tokens::fingerprint(&tokens::hash(&token)));
    Ok(ExitCode::SUCCESS)
}

fn create_link(tenant: &str, user: &str, url: &str, store: &StoreConfig) -> Result<ExitCode, String> {
    let (link, token_hash) = sessions::issue_link(&mut store.open()?, tenant, user)?;
    println!("{}/signin#{link}", url.trim_end_matches('/'));
    eprintln!(
        "one use, within 24 hours; fingerprint {} (for `agentstate token revoke`)",
        tokens::fingerprint(&token_hash)
    );
    Ok(ExitCode::SUCCESS)
}

fn list_tokens(tenant: &str, store: &StoreConfig) -> Result<ExitCode, String> {
    let store = store.open()?;
    let mut out = std::io::stdout().lock();
    for (hash, actor) in store.tokens_of(tenant).map_err(|e| e.to_string())? {
        writeln!(out, "{}  {actor}", tokens::fingerprint(&hash)).map_err(|e| e.to_string())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn revoke_tokens(tenant: &str, which: TokenSelector<'_>, store: &StoreConfig) -> Result<ExitCode, String> {
    let mut store = store.open()?;
    match store.revoke_tokens(tenant, which).map_err(|e| e.to_string())? {
        0 => Err(format!("no token of tenant {tenant} fits; `agentstate token list --tenant {tenant}` shows them")),
        n => {
            println!("revoked {n} token{}", if n == 1 { "" } else { "s" });
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn create_tenant(
    id: &str,
    description: &std::path::Path,
    store: &StoreConfig,
    module: Option<PathBuf>,
) -> Result<ExitCode, String> {
    let text =
        std::fs::read_to_string(description).map_err(|e| format!("cannot read {}: {e}", description.display()))?;
    let json = tools::description_json(&text).map_err(|e| format!("{}: {e}", description.display()))?;
    let mut service = TenantService::open(store.open()?, load_runtime(module)?, 10_000).map_err(|e| e.to_string())?;
    service.create_tenant(id, &json).map_err(|e| e.to_string())?;
    println!("created tenant {id}");
    Ok(ExitCode::SUCCESS)
}

fn generate_tenant(id: &str, events: u64, store: &StoreConfig) -> Result<ExitCode, String> {
    use agentstate_server::long_log::{self, Shape};
    let shape = Shape::CONTACT_CENTER;
    // The log ends about now: its days are the last ones before today's.
    let span = events.saturating_mul(86_400_000) / shape.events_per_day;
    let start = agentstate_server::clock::now_ms().saturating_sub(span);
    let started = std::time::Instant::now();
    let written = long_log::write(&mut *store.open()?, id, shape, events, start)?;
    println!(
        "created tenant {id}: {} events, {} snapshots, from {} to {} ms, in {:.1} s",
        written.events,
        written.snapshots,
        written.first_at,
        written.last_at,
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn states_report(
    tenant: &str,
    channel: &str,
    at: Option<u64>,
    store: &StoreConfig,
    module: Option<PathBuf>,
) -> Result<ExitCode, String> {
    let mut service = TenantService::open(store.open()?, load_runtime(module)?, 10_000).map_err(|e| e.to_string())?;
    let at = service.now(tenant, at.unwrap_or_else(agentstate_server::clock::now_ms)).map_err(|e| e.to_string())?;
    let query = serde_json::json!({ "view": "channel_states", "actor": "system", "channel": channel, "at": at });
    let answer = service.query(tenant, &query.to_string()).map_err(|e| e.to_string())?;
    if answer == "null" {
        return Err(format!("tenant {tenant} has no channel {channel}"));
    }
    println!("{answer}");
    Ok(ExitCode::SUCCESS)
}

fn activity_report(
    tenant: &str,
    (from, to): (u64, u64),
    csv: bool,
    store: &StoreConfig,
    module: Option<PathBuf>,
) -> Result<ExitCode, String> {
    // As the API: at most 31 days, none of them after now.
    let now = agentstate_server::clock::now_ms();
    let (from, to) =
        agentstate_server::service::report_range(from, to, now).map_err(|e| format!("--from/--to: {e}"))?;
    let service = TenantService::open(store.open()?, load_runtime(module)?, 10_000).map_err(|e| e.to_string())?;
    let answer = service.activity(tenant, from, to).map_err(|e| e.to_string())?;
    // An operator reading a report of a pruned log learns where it begins.
    if let Some(begins) = service.log_begins(tenant).map_err(|e| e.to_string())? {
        eprintln!(
            "the kept log of tenant {tenant} begins at event {} (every event from {} ms on is kept; the report is exact from then on)",
            begins.seq, begins.at
        );
    }
    let text = if csv {
        let report: agentstate_core::views::ActivityReport =
            serde_json::from_str(&answer).map_err(|e| format!("the module answered no report: {e}"))?;
        agentstate_server::reports::activity_csv(&report)?
    } else {
        answer + "\n"
    };
    std::io::stdout().lock().write_all(text.as_bytes()).map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}
