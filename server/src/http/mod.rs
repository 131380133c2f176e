//! `agentstate serve`: the HTTP API over the tenants in wasmtime and the durable log, the
//! live feed, and the supervisor dashboard's files.

mod api;
mod auth;
pub mod body;
pub mod errors;
mod feed;
mod guesses;
mod metrics;
pub mod openapi;
pub mod retention;
mod session;
pub mod writer;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Json, Response};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{broadcast, watch};
use tower::Layer;
use tower_http::LatencyUnit;
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::demo;
use crate::service::TenantService;
use crate::store::{Change, StoreConfig, TokenGrant};
use agentstate_runtime::{Limits, Runtime};
use auth::Credential;
use errors::ApiError;
use guesses::GuessBudget;
use writer::Writer;

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
}

/// Unknown tokens a client address may present per second (bursts of 100) before its
/// uncached tokens are refused without asking the store (see `guesses`); valid tokens
/// never count.
const UNKNOWN_TOKENS_PER_SEC: u32 = 20;
const UNKNOWN_TOKEN_BURST: u32 = 100;

/// Token lookups on the writer thread at a time.
const LOOKUP_SLOTS: usize = 16;

/// How long a looked-up token is trusted before the store is asked again: a token revoked
/// with `agentstate token revoke` (another process) is refused at most this much later.
const GRANT_TTL: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct App {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

struct Shared {
    writer: Writer,
    /// Credentials already looked up: whom they speak for, their token's hash, and when.
    grants: RwLock<HashMap<Credential, (TokenGrant, String, Instant)>>,
    limiter: DefaultKeyedRateLimiter<String>,
    /// Unknown tokens per client address.
    guesses: GuessBudget,
    /// Token lookups in flight (they run on the writer thread).
    lookup_slots: tokio::sync::Semaphore,
    notices: broadcast::Sender<writer::Notice>,
    shutdown: watch::Receiver<bool>,
    demo_tokens: Option<serde_json::Value>,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
}

impl App {
    /// Whom a token or session speaks for, and the hash of the token (a session's own).
    async fn grant(&self, credential: &Credential, client: IpAddr) -> Result<Option<(TokenGrant, String)>, ApiError> {
        let cached = self.shared.grants.read().ok().and_then(|g| g.get(credential).cloned());
        let known_before = match cached {
            Some((grant, token, since)) if since.elapsed() < GRANT_TTL => return Ok(Some((grant, token))),
            Some(_) => true,
            None => false,
        };
        // A credential that was valid a moment ago is rechecked even from a refused address.
        if !known_before {
            self.refuse_if_guessing(client)?;
        }
        // Few lookups at a time: a flood of requests waits here, not in the writer's queue,
        // and is refused here once its address has shown enough unknown tokens.
        let Ok(_slot) = self.shared.lookup_slots.acquire().await else { return Err(ApiError::shutting_down()) };
        if !known_before {
            self.refuse_if_guessing(client)?;
        }
        let key = credential.clone();
        let grant = self
            .shared
            .writer
            .run(move |desk| match &key {
                Credential::Bearer(hash) => Ok(desk.service.token(hash)?.map(|grant| (grant, hash.clone()))),
                Credential::Session(hash) => desk.service.session(hash),
            })
            .await??;
        if let Ok(mut cache) = self.shared.grants.write() {
            match &grant {
                Some((grant, token)) => {
                    cache.insert(credential.clone(), (grant.clone(), token.clone(), Instant::now()))
                }
                None => cache.remove(credential),
            };
        }
        if grant.is_none() {
            self.shared.guesses.unknown(client, Instant::now());
        }
        Ok(grant)
    }

    /// Forgets a credential this host looked up (a session signed out here ends here at
    /// once; on other hosts within [`GRANT_TTL`]).
    fn forget(&self, credential: &Credential) {
        if let Ok(mut cache) = self.shared.grants.write() {
            cache.remove(credential);
        }
    }

    /// Refuses `client` while it has presented too many unknown tokens.
    fn refuse_if_guessing(&self, client: IpAddr) -> Result<(), ApiError> {
        let Some(wait) = self.shared.guesses.refused(client, Instant::now()) else { return Ok(()) };
        let mut error = ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many unknown tokens from this address; retry in {} ms", wait.as_millis().max(1)),
        );
        error.retry_after_secs = Some(wait.as_secs().max(1));
        Err(error)
    }

    /// The handle the simulator submits through.
    pub fn writer(&self) -> &Writer {
        &self.shared.writer
    }
}

/// 200 while the store answers, else 503 — so a load balancer stops sending to a host
/// that cannot commit.
#[utoipa::path(get, path = "/healthz", tag = "operations", security(()),
    responses(
        (status = 200, description = "The store answers", body = openapi::Health),
        (status = 503, description = "The store does not answer", body = openapi::Health),
    ))]
async fn healthz(State(app): State<App>) -> Response {
    let checked = app.shared.writer.run(|desk| (desk.service.ping(), desk.service.loaded().len())).await;
    match checked {
        Ok((Ok(()), loaded)) => {
            Json(openapi::Health { status: "ok", store: "ok".into(), tenants: loaded }).into_response()
        }
        Ok((Err(e), loaded)) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Json(openapi::Health { status: "unavailable", store: e.to_string(), tenants: loaded }),
        )
            .into_response(),
        Err(gone) => ApiError::from(gone).into_response(),
    }
}

/// The demo tenant's users and their tokens (only with `--demo`, on loopback).
#[utoipa::path(get, path = "/demo/tokens", tag = "operations", security(()),
    responses(
        (status = 200, description = "User id → token", body = std::collections::HashMap<String, String>),
        (status = 404, description = "This server runs no demo tenant (`no_demo`)", body = openapi::ErrorBody),
    ))]
async fn demo_tokens(State(app): State<App>) -> Response {
    match &app.shared.demo_tokens {
        Some(tokens) => Json(tokens.clone()).into_response(),
        None => ApiError::new(axum::http::StatusCode::NOT_FOUND, "no_demo", "this server runs no demo tenant")
            .into_response(),
    }
}

async fn no_dashboard() -> Response {
    (
        axum::http::StatusCode::NOT_FOUND,
        "The dashboard is not built. `cargo xtask run` builds it (web-demo/dist) and starts the server.",
    )
        .into_response()
}

/// Every route of the API and of operations, each registered with its OpenAPI declaration
/// (`routes!`), so the document (`openapi::document`) and the router cannot disagree. Only
/// this function registers routes that answer JSON; static files are added in `router`.
fn routes(max_body: usize) -> OpenApiRouter<App> {
    let api = OpenApiRouter::new()
        .routes(routes!(api::post_commands))
        .routes(routes!(api::roster))
        .routes(routes!(api::channel_states))
        .routes(routes!(api::channel_counts))
        .routes(routes!(api::search_users))
        .routes(routes!(api::allowed_actions))
        .routes(routes!(api::history))
        .routes(routes!(api::lingering_unassigned))
        .routes(routes!(api::snapshot))
        .routes(routes!(api::activity_report))
        .routes(routes!(feed::events))
        .routes(routes!(api::me))
        .routes(routes!(session::sign_in, session::sign_out))
        .routes(routes!(openapi::openapi_json))
        .route_layer(axum::middleware::from_fn(metrics::track))
        .fallback(|| async {
            ApiError::new(axum::http::StatusCode::NOT_FOUND, "no_such_route", "there is no such API route")
        })
        .layer(DefaultBodyLimit::max(max_body));
    // Nested, so that its fallback answers unknown /api/… paths with a JSON error.
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(metrics::render))
        .routes(routes!(demo_tokens))
        .route_layer(axum::middleware::from_fn(metrics::track))
        .nest("/api", api)
}

fn router(app: App, config: &ServeConfig) -> Router {
    let (mut router, _) = routes(config.max_body).split_for_parts();
    // Static files go out gzipped to browsers that accept it (the browser module shrinks
    // to about a quarter); the API and the live feed are not compressed.
    if let Some(pkg) = &config.pkg {
        router = router.nest_service("/pkg", CompressionLayer::new().gzip(true).layer(ServeDir::new(pkg)));
    }
    router = match &config.web {
        // The sign-in page, also at `/signin#<link secret>` (what `token create --link` prints).
        Some(web) => router
            .route_service("/signin", ServeFile::new(web.join("signin.html")))
            .fallback_service(CompressionLayer::new().gzip(true).layer(ServeDir::new(web))),
        None => router.fallback(no_dashboard),
    };
    // One span and one line per request (method, path, status, latency), at INFO.
    let trace = TraceLayer::new_for_http()
        .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
        .on_request(())
        .on_response(DefaultOnResponse::new().level(Level::INFO).latency_unit(LatencyUnit::Micros));
    router.layer(trace).with_state(app)
}

/// Runs the server until SIGINT or SIGTERM, then stops taking requests, lets running ones
/// finish, ends live feeds, and stores what was queued before returning.
pub async fn serve(config: ServeConfig) -> Result<(), String> {
    let runtime = Runtime::from_file(
        &config.module,
        Some(&agentstate_runtime::module::cache_dir(&config.module)),
        Limits::default(),
    )
    .map_err(|e| format!("cannot load the rule module {}: {e}", config.module.display()))?;
    let metrics = metrics::install()?;
    // The store's clients block (PostgreSQL's runs a runtime of its own): set up off the
    // async workers, as everything that touches the store runs on the writer thread.
    let (service, demo_tokens) = tokio::task::block_in_place(|| -> Result<_, String> {
        let store = config.store.open()?;
        let mut service = TenantService::open(store, runtime, config.snapshot_every).map_err(|e| e.to_string())?;
        let demo_tokens = if config.demo_tenant { Some(demo::ensure(&mut service, &config.data)?) } else { None };
        Ok((service, demo_tokens))
    })?;
    // Anyone who can reach /demo/tokens can act as the demo's admin: publish them only to
    // this machine.
    let demo_tokens = demo_tokens.filter(|_| {
        let local = config.addr.ip().is_loopback();
        if !local {
            tracing::warn!(addr = %config.addr, "not publishing the demo tokens on a non-loopback address");
        }
        local
    });
    tracing::info!(store = %config.store.describe(), "store open; tenants load on their first request");

    let (notices, _) = broadcast::channel(1024);
    let (writer_failed, failure) = watch::channel(false);
    let (writer, writer_thread) = Writer::start(service, notices.clone(), Arc::new(writer_failed))?;
    // On a shared store, other hosts' appends reach this host's live feeds.
    let stop_following = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tell = notices.clone();
    let follower = config.store.follow(stop_following.clone(), move |change| {
        let notice = match change {
            Change::Appended { tenant, seq } => writer::Notice::Appended { tenant, seq },
            Change::Missed => writer::Notice::Missed,
        };
        let _ = tell.send(notice);
    })?;

    let (stop, shutdown) = watch::channel(false);
    let rate = NonZeroU32::new(config.rate_per_sec.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(config.rate_per_sec.saturating_mul(2).max(1)).unwrap_or(NonZeroU32::MIN);
    let app = App {
        shared: Arc::new(Shared {
            writer,
            grants: RwLock::new(HashMap::new()),
            limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            guesses: GuessBudget::new(UNKNOWN_TOKENS_PER_SEC, UNKNOWN_TOKEN_BURST),
            lookup_slots: tokio::sync::Semaphore::new(LOOKUP_SLOTS),
            notices,
            shutdown: shutdown.clone(),
            demo_tokens: demo_tokens.map(|t| t.public()),
            metrics,
        }),
    };
    let simulator = config.simulate.then(|| tokio::spawn(demo::simulate(app.writer().clone(), shutdown.clone())));
    let pruner = config.retention.map(|retention| {
        tokio::spawn(retention::prune_periodically(app.writer().clone(), retention, shutdown.clone()))
    });

    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.addr))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!("serving the dashboard at http://{bound}/");
    println!("agentstate: serving http://{bound}/");
    let routes = router(app, &config);
    let mut failure_seen = failure.clone();
    let stopped = async move {
        tokio::select! {
            () = shutdown_signal() => tracing::info!("shutting down: finishing running requests"),
            _ = failure_seen.wait_for(|failed| *failed) => {}
        }
        let _ = stop.send(true);
    };
    axum::serve(listener, routes.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(stopped)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(simulator) = simulator {
        simulator.abort();
        let _ = simulator.await;
    }
    // A prune step under way finishes on the writer thread; none starts after this.
    if let Some(pruner) = pruner {
        pruner.abort();
        let _ = pruner.await;
    }
    stop_following.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(follower) = follower {
        let _ = tokio::task::spawn_blocking(move || follower.join()).await;
    }
    // Every handle on the writer is gone now; it drains its queue and ends.
    let joined = tokio::task::spawn_blocking(move || writer_thread.join());
    match tokio::time::timeout(Duration::from_secs(30), joined).await {
        Ok(_) if *failure.borrow() => return Err("the writer thread failed; see the log".into()),
        Ok(_) => tracing::info!("stopped; every acknowledged command is stored"),
        Err(_) => return Err("the writer did not finish within 30 s".into()),
    }
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
