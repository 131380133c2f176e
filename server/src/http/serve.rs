//! `agentstate serve` from start to stop: the module and the store opened, the writer,
//! the followers of other hosts' appends and the background tasks started, the listener
//! served until a signal or the writer's failure, and everything finished in order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use super::app::{self, App, Parts};
use super::front::Front;
use super::{ServeConfig, listen, metrics, retention, routes};
use crate::demo;
use crate::service::writer::{self, Writer};
use crate::service::{Reads, TenantService};
use crate::store::Followed;
use agentstate_runtime::{Limits, Runtime};

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
    let (service, demo_tokens) = open(&config)?;
    let metrics = metrics::install()?;
    let (notices, _) = broadcast::channel(1024);
    let (writer_failed, failure) = watch::channel(false);
    let (writer, writer_thread) =
        Writer::start(service, notices.clone(), Arc::new(writer_failed)).map_err(ServeError::thread("writer"))?;
    let followed = Followed::default();
    let following = Following::start(&config, followed.clone(), notices.clone())?;
    let (stop, shutdown) = watch::channel(false);
    let reads = Arc::new(
        Reads::new(config.store.clone(), Reads::slots_for_this_machine()).map_err(ServeError::thread("reading"))?,
    );
    let parts = Parts { writer, reads, followed, notices, shutdown: shutdown.clone(), demo_tokens, metrics };
    let app = App::new(&config, parts);
    let tasks = Tasks::start(&app, &config, &shutdown);

    let listen = |source| ServeError::Listen { addr: config.addr, source };
    let listener = tokio::net::TcpListener::bind(config.addr).await.map_err(listen)?;
    let bound = listener.local_addr().map_err(listen)?;
    tracing::info!("serving the dashboard at http://{bound}/");
    println!("agentstate: serving http://{bound}/");
    // Stopping ends the live feeds, and the connections once their requests are answered.
    let mut failure_seen = failure.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = shutdown_signal() => tracing::info!("shutting down: finishing running requests"),
            _ = failure_seen.wait_for(|failed| *failed) => {}
        }
        let _ = stop.send(true);
    });
    let bounds = listen::Bounds {
        max_connections: listen::connection_budget(config.max_connections),
        idle: config.idle_timeout,
    };
    let front = Front::new(routes::router(app, &config), config.max_body);
    listen::serve(listener, front, bounds, shutdown).await;

    tasks.stop().await;
    following.stop().await;
    // Every handle on the writer is gone now; it drains its queue and ends.
    let joined = tokio::task::spawn_blocking(move || writer_thread.join());
    match tokio::time::timeout(Duration::from_secs(30), joined).await {
        Ok(_) if *failure.borrow() => Err(ServeError::WriterFailed),
        Ok(_) => {
            tracing::info!("stopped; every acknowledged command is stored");
            Ok(())
        }
        Err(_) => Err(ServeError::WriterSlow),
    }
}

/// The rule module and the store, the tenants' service over them, and the demo tenant's
/// tokens when it is seeded — published only when the server listens on loopback.
fn open(config: &ServeConfig) -> Result<(TenantService, Option<demo::DemoTokens>), ServeError> {
    let runtime = Runtime::from_file(
        &config.module,
        Some(&agentstate_runtime::module::cache_dir(&config.module)),
        Limits::default(),
    )
    .map_err(|source| ServeError::Module { path: config.module.clone(), source })?;
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
    Ok((service, demo_tokens))
}

/// On a shared store, other hosts' appends reach this host's live feeds: a thread follows
/// the store for the tenants in `followed` and tells the projectors.
struct Following {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Following {
    fn start(
        config: &ServeConfig,
        followed: Followed,
        notices: broadcast::Sender<writer::Notice>,
    ) -> Result<Following, ServeError> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = config.store.follow(followed, stop.clone(), move |heard| {
            let _ = notices.send(writer::Notice::Heard(heard));
        })?;
        Ok(Following { stop, thread })
    }

    async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

/// What runs beside the requests: the limiters' pruning, the demo's simulated routing
/// system, and retention.
struct Tasks {
    pruning: JoinHandle<()>,
    simulator: Option<JoinHandle<()>>,
    retention: Option<JoinHandle<()>>,
}

impl Tasks {
    fn start(app: &App, config: &ServeConfig, shutdown: &watch::Receiver<bool>) -> Tasks {
        Tasks {
            pruning: tokio::spawn(app::prune_limiters(app.clone(), shutdown.clone())),
            simulator: config.simulate.then(|| tokio::spawn(demo::simulate(app.writer().clone(), shutdown.clone()))),
            retention: config.retention.map(|retention| {
                tokio::spawn(retention::prune_periodically(app.writer().clone(), retention, shutdown.clone()))
            }),
        }
    }

    async fn stop(self) {
        self.pruning.abort();
        // A prune step under way finishes on the writer thread; none starts after this.
        for task in [self.simulator, self.retention].into_iter().flatten() {
            task.abort();
            let _ = task.await;
        }
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
