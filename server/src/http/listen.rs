//! Taking connections: what the host holds for each client is bounded (issue 26).
//!
//! - A request's head (request line and headers) must arrive within [`HEADER_TIMEOUT`] —
//!   of the connection's opening for its first request, of the head's first byte for a
//!   later one — or the connection is closed: half-sent requests hold nothing for long.
//! - A keep-alive connection waiting for its next request is closed after the idle time
//!   (`--idle-timeout-secs`, [`IDLE_TIMEOUT`]). A response being sent, however long (a live
//!   feed), is no wait: its connection stays open. A head may be [`MAX_HEAD`] long.
//! - At most `--max-connections` ([`MAX_CONNECTIONS`]) are open at once, and never more
//!   than the process's descriptors allow (the soft limit is raised to the hard one at
//!   start, and [`RESERVED_DESCRIPTORS`] are kept for the store and everything else). A
//!   connection past that is answered `503 too_many_connections` and closed. There is no
//!   cap per client address: a center's agents may all share one NAT address.
//!
//! At shutdown the listener stops taking connections, each connection finishes the request
//! it is serving (live feeds end by the server's `shutdown` watch) and closes, and this
//! returns once every one is closed.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use super::errors::ApiError;
use super::front::Front;

/// How long a request's head may take to arrive: from the connection's opening for its
/// first request, from the head's first byte for each later one.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a keep-alive connection may wait for its next request, by default
/// (`--idle-timeout-secs`).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections a host holds at most, by default (`--max-connections`): a center of 5,000
/// agents, each with a live feed and a request or two under way, and room besides.
pub const MAX_CONNECTIONS: usize = 16_384;
/// Descriptors kept for what is not a client's connection: the store's connections and
/// files, the module, the listener, the runtime, the refusals under way.
pub const RESERVED_DESCRIPTORS: u64 = 512;

/// What a connection may buffer of a request's head (request line and headers) — hyper's
/// own default is 400 KiB; a head this long is answered `431` and the connection closed.
pub const MAX_HEAD: usize = 64 * 1024;

/// Connections past the cap answered at once, at most (one past that is closed unanswered),
/// and how long each may take.
const REFUSING: usize = 64;
const REFUSAL_TIME: Duration = Duration::from_secs(2);
/// How long to wait after the operating system refused to accept (out of descriptors or
/// memory) before trying again.
const ACCEPT_PAUSE: Duration = Duration::from_millis(200);

/// How many connections the host may hold: `wanted`, or fewer when the process may not
/// open that many descriptors (after raising its soft limit to the hard one), keeping
/// [`RESERVED_DESCRIPTORS`] for everything else; at least 1.
pub fn connection_budget(wanted: usize) -> usize {
    let Some(descriptors) = descriptor_limit() else { return wanted.max(1) };
    let room = usize::try_from(descriptors.saturating_sub(RESERVED_DESCRIPTORS)).unwrap_or(usize::MAX).max(1);
    if room < wanted {
        tracing::warn!(
            wanted,
            allowed = room,
            descriptors,
            "the process may open too few descriptors for --max-connections: holding fewer connections"
        );
    }
    wanted.min(room).max(1)
}

/// The descriptors this process may open, its soft limit raised to the hard one first;
/// `None` when unlimited or unknown.
#[cfg(unix)]
fn descriptor_limit() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(maximum)) = (limit.current, limit.maximum)
        && current < maximum
    {
        match setrlimit(Resource::Nofile, Rlimit { current: Some(maximum), maximum: Some(maximum) }) {
            Ok(()) => tracing::debug!(from = current, to = maximum, "raised the descriptor limit"),
            Err(e) => tracing::warn!(error = %e, current, maximum, "cannot raise the descriptor limit"),
        }
    }
    getrlimit(Resource::Nofile).current
}

#[cfg(not(unix))]
fn descriptor_limit() -> Option<u64> {
    None
}

/// What the accept loop holds to: connections at most, and the idle time.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub max_connections: usize,
    pub idle: Duration,
}

/// Serves `front` (the router and what runs around it) on `listener` until `shutdown` says `true`, then lets the connections
/// finish what they serve and returns when all are closed.
pub async fn serve(listener: TcpListener, front: Front, bounds: Bounds, shutdown: watch::Receiver<bool>) {
    let max = bounds.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let open = Arc::new(Semaphore::new(max));
    let refusing = Arc::new(Semaphore::new(REFUSING));
    let mut stopping = shutdown.clone();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopping.wait_for(|stop| *stop) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            // The client gave up before it was accepted: nothing to do.
            Err(e) if matches!(e.kind(), io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset) => continue,
            Err(e) => {
                tracing::error!(error = %e, "cannot accept a connection");
                tokio::select! {
                    () = tokio::time::sleep(ACCEPT_PAUSE) => continue,
                    _ = stopping.wait_for(|stop| *stop) => break,
                }
            }
        };
        match open.clone().try_acquire_owned() {
            Ok(permit) => {
                let held = Held::start(permit);
                tokio::spawn(connection(stream, peer, front.clone(), bounds.idle, shutdown.clone(), held));
            }
            Err(_) => refuse(stream, &refusing),
        }
    }
    drop(listener);
    // Every connection gives its permit back when it closes.
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    let _ = open.acquire_many(all).await;
}

/// A connection's place among those the host holds, counted in `agentstate_connections`.
struct Held {
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Held {
    fn start(permit: tokio::sync::OwnedSemaphorePermit) -> Held {
        metrics::gauge!("agentstate_connections").increment(1.0);
        Held { _permit: permit }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        metrics::gauge!("agentstate_connections").decrement(1.0);
    }
}

/// Serves one connection's requests until it closes, its client is too slow or idle too
/// long, or the server shuts down (after the request under way).
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    front: Front,
    idle: Duration,
    mut shutdown: watch::Receiver<bool>,
    _held: Held,
) {
    let read = Arc::new(AtomicU64::new(0));
    let io = TokioIo::new(Counted { stream, read: read.clone() });
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        // What `ConnectInfo<SocketAddr>` extracts in the handlers.
        request.extensions_mut().insert(ConnectInfo(peer));
        let mut front = front.clone();
        async move { Ok::<_, Infallible>(front.answer(request).await) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(HeadClock { read, idle, started: AtomicBool::new(false) })
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_HEAD);
    let mut served = pin!(builder.serve_connection(io, service));
    let stopping = tokio::select! {
        ended = served.as_mut() => Some(ended),
        _ = shutdown.wait_for(|stop| *stop) => None,
    };
    let ended = match stopping {
        Some(ended) => ended,
        None => {
            served.as_mut().graceful_shutdown();
            served.await
        }
    };
    if let Err(e) = ended {
        tracing::debug!(error = %e, %peer, "connection ended");
    }
}

/// Answers a connection past the cap with `503 too_many_connections` and closes it — or,
/// when [`REFUSING`] refusals are under way already, closes it at once.
fn refuse(stream: TcpStream, refusing: &Arc<Semaphore>) {
    metrics::counter!("agentstate_connections_refused_total").increment(1);
    let Ok(slot) = refusing.clone().try_acquire_owned() else { return };
    tokio::spawn(async move {
        let _slot = slot;
        let service = hyper::service::service_fn(|_: Request<Incoming>| async { Ok::<_, Infallible>(too_many()) });
        let mut builder = http1::Builder::new();
        builder.keep_alive(false);
        let served = builder.serve_connection(TokioIo::new(stream), service);
        let _ = tokio::time::timeout(REFUSAL_TIME, served).await;
    });
}

fn too_many() -> Response {
    ApiError::TooManyConnections.into_response()
}

/// A connection's stream, counting the bytes read from it: how its [`HeadClock`] tells a
/// connection waiting for its next request from one whose request has begun to arrive.
struct Counted {
    stream: TcpStream,
    read: Arc<AtomicU64>,
}

impl AsyncRead for Counted {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        let read = buf.filled().len().saturating_sub(before);
        if read > 0 {
            self.read.fetch_add(read as u64, Ordering::Relaxed);
        }
        polled
    }
}

impl AsyncWrite for Counted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// One connection's clock for hyper. An HTTP/1 server connection asks its timer for one
/// thing only: the deadline of the request head it waits for (`header_read_timeout`),
/// asked when it starts waiting — at the opening, and again after each response. hyper's
/// own deadline would be the same for an idle connection as for a slow head; this one is
/// [`HEADER_TIMEOUT`] after the opening for the first request, and for a later one the idle
/// time, or [`HEADER_TIMEOUT`] after its first byte once that has come.
struct HeadClock {
    read: Arc<AtomicU64>,
    idle: Duration,
    /// Whether the first request's wait has started.
    started: AtomicBool,
}

impl hyper::rt::Timer for HeadClock {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(Wait { sleep: Box::pin(tokio::time::sleep(duration)), head: None })
    }

    fn sleep_until(&self, _deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        let first = !self.started.swap(true, Ordering::Relaxed);
        let now = Instant::now();
        let head = HeadWait {
            read: self.read.clone(),
            read_before: self.read.load(Ordering::Relaxed),
            begun: None,
            deadline: now + if first { HEADER_TIMEOUT } else { self.idle },
            first,
        };
        Box::pin(Wait { sleep: Box::pin(tokio::time::sleep_until(head.deadline.into())), head: Some(head) })
    }
}

/// A wait of [`HeadClock`]: a plain sleep, or the wait for a request head.
struct Wait {
    sleep: Pin<Box<tokio::time::Sleep>>,
    head: Option<HeadWait>,
}

struct HeadWait {
    read: Arc<AtomicU64>,
    /// The bytes read from the connection when the wait started.
    read_before: u64,
    /// When the head's first byte was seen.
    begun: Option<Instant>,
    deadline: Instant,
    first: bool,
}

impl Future for Wait {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        // hyper polls this each time the head it reads is still incomplete, so right after
        // each read: the first byte of the head is seen as it comes.
        if let Some(head) = &mut this.head
            && !head.first
            && head.begun.is_none()
            && head.read.load(Ordering::Relaxed) != head.read_before
        {
            let now = Instant::now();
            head.begun = Some(now);
            head.deadline = now + HEADER_TIMEOUT;
            this.sleep.as_mut().reset(head.deadline.into());
        }
        this.sleep.as_mut().poll(cx)
    }
}

impl hyper::rt::Sleep for Wait {}
