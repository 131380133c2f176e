//! `agentstate serve`: the HTTP API over the tenants in wasmtime and the durable log, the
//! live feed, and the supervisor dashboard's files.

pub mod answers;
mod api;
mod auth;
pub mod body;
pub mod errors;
mod feed;
mod feed_slots;
mod front;
mod grants;
mod guesses;
pub mod listen;
mod metrics;
pub mod openapi;
mod query;
mod request_bounds;
pub mod retention;
mod session;

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
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
use crate::service::writer::{self, Health, Writer};
use crate::service::{Reads, TenantService};
use crate::store::{Change, Followed, StoreConfig, TokenGrant};
use agentstate_runtime::{Limits, Runtime};
use auth::Credential;
use errors::ApiError;
use grants::{Cached, GrantCache};
use guesses::GuessBudget;

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
    /// Connections this host holds at most (`--max-connections`; [`listen::MAX_CONNECTIONS`]),
    /// fewer when the process may not open that many descriptors.
    pub max_connections: usize,
    /// How long a keep-alive connection may wait for its next request
    /// ([`listen::IDLE_TIMEOUT`]).
    pub idle_timeout: Duration,
}

/// Unknown tokens a client address may present per second (bursts of 100) before its
/// lookups take the slow lane (see `App::admit`); valid tokens never count.
const UNKNOWN_TOKENS_PER_SEC: u32 = 20;
const UNKNOWN_TOKEN_BURST: u32 = 100;

/// Token lookups on the writer thread at a time.
const LOOKUP_SLOTS: usize = 16;

/// The slow lane: the lookups of addresses over their unknown-token budget go one at a
/// time, each holding the lane at least this long (at most 50 a second from all such
/// addresses together), and at most `SLOW_LANE_WAITING` wait for it — beyond that they
/// are refused at once, as any overloaded server sheds load.
const SLOW_LANE_PACE: Duration = Duration::from_millis(20);
const SLOW_LANE_WAITING: usize = 256;

/// Sign-ins per token: a burst of 30 (more than the sessions a token keeps, so a token
/// can replace all of them), then one every 6 s.
const SIGN_INS_PER_TOKEN_BURST: u32 = 30;
const SIGN_IN_PER_TOKEN_EVERY: Duration = Duration::from_secs(6);
/// Sign-ins per client address, whatever the tokens: an office's morning behind one NAT
/// (a burst of 300, then 10 a second), not a flood of fsynced writes.
const SIGN_INS_PER_ADDRESS_BURST: u32 = 300;
const SIGN_INS_PER_ADDRESS_PER_SEC: u32 = 10;

/// How often the rate limiters forget keys whose budget is full again.
const LIMITER_PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Live feeds one token (with the sessions made from it) may hold.
pub const FEEDS_PER_TOKEN: usize = 20;
/// Live feeds a host holds at most, by default (`--max-feeds`).
pub const MAX_FEEDS: usize = 12_000;

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
    /// The store's read connections (history, reports, snapshots, feed catch-up).
    reads: Arc<Reads>,
    /// Credentials already looked up: whom they speak for, their token's hash, and when.
    grants: GrantCache,
    limiter: DefaultKeyedRateLimiter<String>,
    /// Sign-ins per token hash and per client address.
    sign_ins_by_token: DefaultKeyedRateLimiter<String>,
    sign_ins_by_address: DefaultKeyedRateLimiter<IpAddr>,
    /// Unknown tokens per client address.
    guesses: GuessBudget,
    /// Token lookups in flight (they run on the writer thread).
    lookup_slots: tokio::sync::Semaphore,
    /// The slow lane of addresses over their unknown-token budget, and how many wait for it.
    slow_lane: Arc<tokio::sync::Semaphore>,
    slow_lane_waiting: AtomicUsize,
    /// Live feeds per token and on this host.
    feeds: Arc<feed_slots::FeedSlots>,
    /// The tenants this host's feeds follow: those it hears other hosts' appends to.
    followed: Followed,
    /// One projector per followed tenant, shared by its people's feeds.
    projectors: crate::service::projector::Projectors,
    notices: broadcast::Sender<writer::Notice>,
    shutdown: watch::Receiver<bool>,
    demo_tokens: Option<serde_json::Value>,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
}

/// Leave to look a credential up in the store, from `App::admit`; say how it went with
/// [`Lookup::answered`].
struct Lookup<'a> {
    app: &'a App,
    client: IpAddr,
    _slot: tokio::sync::SemaphorePermit<'a>,
    /// Held in the slow lane: given back no sooner than `SLOW_LANE_PACE` after it was taken.
    slow: Option<(tokio::sync::OwnedSemaphorePermit, Instant)>,
}

impl Lookup<'_> {
    /// Charges an unknown credential to the client's address; one that came through the
    /// slow lane is refused as well (guessing answers 429, whatever the store said).
    fn answered(self, known: bool) -> Result<(), ApiError> {
        if known {
            return Ok(());
        }
        let now = Instant::now();
        self.app.shared.guesses.unknown(self.client, now);
        match self.slow {
            Some(_) => Err(guessing(self.app.shared.guesses.refused(self.client, now).unwrap_or(SLOW_LANE_PACE))),
            None => Ok(()),
        }
    }
}

impl Drop for Lookup<'_> {
    fn drop(&mut self) {
        if let Some((permit, until)) = self.slow.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                tokio::time::sleep_until(until.into()).await;
                drop(permit);
            });
        }
    }
}

/// Counts a request waiting for the slow lane while it waits.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The refusal of an address that has shown too many unknown credentials.
fn guessing(wait: Duration) -> ApiError {
    ApiError::too_many(
        format!("too many unknown tokens from this address; retry in {} ms", wait.as_millis().max(1)),
        wait,
    )
}

impl App {
    /// Whom a token or session speaks for, and the hash of the token (a session's own).
    async fn grant(&self, credential: &Credential, client: IpAddr) -> Result<Option<(TokenGrant, String)>, ApiError> {
        let known = match self.shared.grants.get(credential, Instant::now()) {
            Cached::Fresh(grant, token) => return Ok(Some((grant, token))),
            Cached::Known => true,
            Cached::Unknown => false,
        };
        let lookup = self.admit(client, known).await?;
        let grant = match credential {
            Credential::Bearer(hash) => {
                self.shared.writer.token(hash.clone()).await?.map(|grant| (grant, hash.clone()))
            }
            Credential::Session(hash) => self.shared.writer.session(hash.clone()).await?,
        };
        match &grant {
            Some((grant, token)) => self.shared.grants.put(credential, grant, token, Instant::now()),
            None => self.shared.grants.forget(credential),
        }
        lookup.answered(grant.is_some())?;
        Ok(grant)
    }

    /// Leave for `client` to look a credential up in the store. Few lookups run at a time:
    /// a flood of requests waits here, not in the writer's queue.
    ///
    /// An address that has shown too many unknown credentials is not refused outright: an
    /// office of hundreds behind one NAT address shares it with whoever there guesses, and
    /// a valid token must still be served. Only the store can tell a valid token from a
    /// guess, so such an address's lookups still happen, but in the slow lane — one at a
    /// time for all such addresses, paced, with a bounded queue — and an unknown credential
    /// found there is answered 429. Guessing thus costs the store at most a trickle of
    /// lookups and gains a guesser nothing, while a valid token is answered after at most
    /// the queue's wait. A credential valid within the hour skips the lane (`known`).
    async fn admit(&self, client: IpAddr, known: bool) -> Result<Lookup<'_>, ApiError> {
        let shared = &self.shared;
        if known || shared.guesses.refused(client, Instant::now()).is_none() {
            let Ok(slot) = shared.lookup_slots.acquire().await else { return Err(ApiError::shutting_down()) };
            // The budget may have run out while this waited for a slot.
            if known || shared.guesses.refused(client, Instant::now()).is_none() {
                return Ok(Lookup { app: self, client, _slot: slot, slow: None });
            }
        }
        let slow = {
            if shared.slow_lane_waiting.fetch_add(1, Ordering::Relaxed) >= SLOW_LANE_WAITING {
                shared.slow_lane_waiting.fetch_sub(1, Ordering::Relaxed);
                let wait = shared.guesses.refused(client, Instant::now()).unwrap_or(SLOW_LANE_PACE);
                return Err(guessing(wait));
            }
            let _waiting = Waiting(&shared.slow_lane_waiting);
            let Ok(permit) = shared.slow_lane.clone().acquire_owned().await else {
                return Err(ApiError::shutting_down());
            };
            (permit, Instant::now() + SLOW_LANE_PACE)
        };
        let Ok(slot) = shared.lookup_slots.acquire().await else { return Err(ApiError::shutting_down()) };
        Ok(Lookup { app: self, client, _slot: slot, slow: Some(slow) })
    }

    /// Forgets a credential this host looked up (a session signed out here ends here at
    /// once; on other hosts within [`grants::TTL`]).
    fn forget(&self, credential: &Credential) {
        self.shared.grants.forget(credential);
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
        (status = 200, description = "The store answers", body = answers::Health),
        (status = 503, description = "The store does not answer", body = answers::Health),
    ))]
async fn healthz(State(app): State<App>) -> Response {
    match app.shared.writer.health().await {
        Ok(Health { store: Ok(()), loaded }) => {
            Json(answers::Health { status: "ok", store: "ok".into(), tenants: loaded }).into_response()
        }
        Ok(Health { store: Err(e), loaded }) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Json(answers::Health { status: "unavailable", store: e.to_string(), tenants: loaded }),
        )
            .into_response(),
        Err(gone) => ApiError::from(gone).into_response(),
    }
}

/// The demo tenant's users and their tokens (only with `--demo`, on loopback, asked for
/// from this machine by a loopback name).
#[utoipa::path(get, path = "/demo/tokens", tag = "operations", security(()),
    responses(
        (status = 200, description = "User id → token", body = std::collections::HashMap<String, String>),
        (status = 403, description = "Not asked for from this machine by a loopback name (`not_loopback`)", body = answers::ErrorBody),
        (status = 404, description = "This server runs no demo tenant (`no_demo`)", body = answers::ErrorBody),
    ))]
async fn demo_tokens(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
) -> Response {
    let Some(tokens) = &app.shared.demo_tokens else {
        return ApiError::new(axum::http::StatusCode::NOT_FOUND, "no_demo", "this server runs no demo tenant")
            .into_response();
    };
    // The listen address alone is not enough: with DNS rebinding a page of evil.example,
    // its name now resolving to 127.0.0.1, reaches a loopback server from the victim's
    // browser and may read the answer (same origin as far as the browser knows). Its
    // requests still say `Host: evil.example`, so the name asked for must be loopback too.
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok());
    if !peer.ip().to_canonical().is_loopback() || !host.is_some_and(loopback_host) {
        return ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "not_loopback",
            "the demo's tokens are given only to this machine, asked for as localhost, 127.0.0.1 or [::1]",
        )
        .into_response();
    }
    Json(tokens.clone()).into_response()
}

/// Whether a `Host` header names this machine by a loopback name: `localhost`, an address
/// in 127.0.0.0/8, or `[::1]`, with or without a port.
fn loopback_host(host: &str) -> bool {
    // A Host header is `host[:port]` and nothing else; the URI parser also takes a user
    // part (`user@host`) and more, which no browser sends as a Host.
    let Ok(authority) = host.parse::<axum::http::uri::Authority>() else { return false };
    let name = authority.host();
    let port = authority.port_u16();
    let exact = match port {
        Some(port) => host.strip_suffix(&format!(":{port}")) == Some(name),
        None => host == name,
    };
    if !exact {
        return false;
    }
    let name = name.strip_prefix('[').and_then(|v6| v6.strip_suffix(']')).unwrap_or(name);
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok_and(|ip| ip.to_canonical().is_loopback())
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
    let (router, _) = routes(config.max_body).split_for_parts();
    let mut router = router;
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

/// Why the server could not start, or stopped on its own.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot load the rule module {}: {source}", path.display())]
    Module { path: std::path::PathBuf, source: agentstate_runtime::HostError },
    #[error("cannot set up metrics: {0}")]
    Metrics(#[from] metrics_exporter_prometheus::BuildError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Service(#[from] crate::service::ServiceError),
    #[error(transparent)]
    Demo(#[from] demo::DemoError),
    #[error("cannot start the {what} thread: {source}")]
    Thread { what: &'static str, source: std::io::Error },
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("no sign-in quota")]
    NoQuota,
    #[error("the writer thread failed; see the log")]
    WriterFailed,
    #[error("the writer did not finish within 30 s")]
    WriterSlow,
}

impl ServeError {
    fn thread(what: &'static str) -> impl FnOnce(std::io::Error) -> ServeError {
        move |source| ServeError::Thread { what, source }
    }
}

/// Runs the server until SIGINT or SIGTERM, then stops taking requests, lets running ones
/// finish, ends live feeds, and stores what was queued before returning.
pub async fn serve(config: ServeConfig) -> Result<(), ServeError> {
    let runtime = Runtime::from_file(
        &config.module,
        Some(&agentstate_runtime::module::cache_dir(&config.module)),
        Limits::default(),
    )
    .map_err(|source| ServeError::Module { path: config.module.clone(), source })?;
    let metrics = metrics::install()?;
    // The store's clients block (PostgreSQL's runs a runtime of its own): set up off the
    // async workers, as everything that touches the store runs on the writer thread.
    let (service, demo_tokens) = tokio::task::block_in_place(|| -> Result<_, ServeError> {
        let store = config.store.open()?;
        let mut service = TenantService::open(store, runtime, config.snapshot_every)?;
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
    let (writer, writer_thread) =
        Writer::start(service, notices.clone(), Arc::new(writer_failed)).map_err(ServeError::thread("writer"))?;
    // On a shared store, other hosts' appends reach this host's live feeds.
    let stop_following = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tell = notices.clone();
    let followed = Followed::default();
    let follower = config.store.follow(followed.clone(), stop_following.clone(), move |change| {
        let notice = match change {
            Change::Appended { tenant, seq } => writer::Notice::Appended { tenant, seq },
            Change::Missed { tenant } => writer::Notice::Missed { tenant },
        };
        let _ = tell.send(notice);
    })?;

    let (stop, shutdown) = watch::channel(false);
    let rate = NonZeroU32::new(config.rate_per_sec.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(config.rate_per_sec.saturating_mul(2).max(1)).unwrap_or(NonZeroU32::MIN);
    let per_token = Quota::with_period(SIGN_IN_PER_TOKEN_EVERY)
        .and_then(|q| Some(q.allow_burst(NonZeroU32::new(SIGN_INS_PER_TOKEN_BURST)?)))
        .ok_or(ServeError::NoQuota)?;
    let per_address = NonZeroU32::new(SIGN_INS_PER_ADDRESS_PER_SEC)
        .zip(NonZeroU32::new(SIGN_INS_PER_ADDRESS_BURST))
        .map(|(rate, burst)| Quota::per_second(rate).allow_burst(burst))
        .ok_or(ServeError::NoQuota)?;
    let reads = Arc::new(
        Reads::new(config.store.clone(), Reads::slots_for_this_machine()).map_err(ServeError::thread("reading"))?,
    );
    let projectors =
        crate::service::projector::Projectors::new(reads.clone(), notices.clone(), followed.clone(), shutdown.clone());
    let app = App {
        shared: Arc::new(Shared {
            writer,
            reads,
            projectors,
            grants: GrantCache::new(grants::MAX_ENTRIES),
            limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            sign_ins_by_token: RateLimiter::keyed(per_token),
            sign_ins_by_address: RateLimiter::keyed(per_address),
            guesses: GuessBudget::new(UNKNOWN_TOKENS_PER_SEC, UNKNOWN_TOKEN_BURST),
            lookup_slots: tokio::sync::Semaphore::new(LOOKUP_SLOTS),
            slow_lane: Arc::new(tokio::sync::Semaphore::new(1)),
            slow_lane_waiting: AtomicUsize::new(0),
            feeds: Arc::new(feed_slots::FeedSlots::new(config.feeds_per_token, config.max_feeds)),
            followed,
            notices,
            shutdown: shutdown.clone(),
            demo_tokens: demo_tokens.map(|t| t.public()),
            metrics,
        }),
    };
    let pruning = tokio::spawn(prune_limiters(app.clone(), shutdown.clone()));
    let simulator = config.simulate.then(|| tokio::spawn(demo::simulate(app.writer().clone(), shutdown.clone())));
    let pruner = config.retention.map(|retention| {
        tokio::spawn(retention::prune_periodically(app.writer().clone(), retention, shutdown.clone()))
    });

    let bounds = listen::Bounds {
        max_connections: listen::connection_budget(config.max_connections),
        idle: config.idle_timeout,
    };
    let listen = |source| ServeError::Listen { addr: config.addr, source };
    let listener = tokio::net::TcpListener::bind(config.addr).await.map_err(listen)?;
    let bound = listener.local_addr().map_err(listen)?;
    tracing::info!("serving the dashboard at http://{bound}/");
    println!("agentstate: serving http://{bound}/");
    let routes = router(app, &config);
    let mut failure_seen = failure.clone();
    // Stopping ends the live feeds, and the connections once their requests are answered.
    tokio::spawn(async move {
        tokio::select! {
            () = shutdown_signal() => tracing::info!("shutting down: finishing running requests"),
            _ = failure_seen.wait_for(|failed| *failed) => {}
        }
        let _ = stop.send(true);
    });
    listen::serve(listener, front::Front::new(routes, config.max_body), bounds, shutdown).await;
    pruning.abort();
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
        Ok(_) if *failure.borrow() => return Err(ServeError::WriterFailed),
        Ok(_) => tracing::info!("stopped; every acknowledged command is stored"),
        Err(_) => return Err(ServeError::WriterSlow),
    }
    Ok(())
}

/// Forgets, now and then, the rate limiters' keys whose budget is full again: the sign-in
/// limiters are keyed by whatever tokens and addresses clients send.
async fn prune_limiters(app: App, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(LIMITER_PRUNE_EVERY) => {}
            _ = shutdown.changed() => return,
        }
        let shared = &app.shared;
        shared.limiter.retain_recent();
        shared.sign_ins_by_token.retain_recent();
        shared.sign_ins_by_address.retain_recent();
        shared.limiter.shrink_to_fit();
        shared.sign_ins_by_token.shrink_to_fit();
        shared.sign_ins_by_address.shrink_to_fit();
    }
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

#[cfg(test)]
mod tests {
    use super::loopback_host;

    #[test]
    fn only_loopback_names_are_loopback_hosts() {
        for host in ["localhost", "LOCALHOST:8080", "127.0.0.1", "127.0.0.1:8080", "127.1.2.3:1", "[::1]", "[::1]:8080"]
        {
            assert!(loopback_host(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example:8080",
            "127.0.0.1.evil.example",
            "10.0.0.1:8080",
            "[::2]:8080",
            "[::1]x",
            "::1",
            "",
            // Found by the red team: a user part, a port that is no number.
            "127.0.0.1:1@evil.example",
            "localhost@evil.example",
            "127.0.0.1:80x",
            "127.0.0.1:",
        ] {
            assert!(!loopback_host(host), "{host}");
        }
    }
}
