//! The state a host's handlers share ([`App`]), and the guard on looking credentials up in
//! the store: a few at a time, and a slow lane for addresses that guess.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{broadcast, watch};

use super::auth::Credential;
use super::config::ServeConfig;
use super::errors::ApiError;
use super::feed_slots;
use super::grants::{self, Cached, GrantCache};
use super::guesses::GuessBudget;
use crate::demo;
use crate::service::Reads;
use crate::service::projector::Projectors;
use crate::service::writer::{self, Writer};
use crate::store::{Followed, TokenGrant};

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
/// can replace all of them), then one every 6 s (10 a minute).
const SIGN_INS_PER_TOKEN_BURST: NonZeroU32 = NonZeroU32::new(30).expect("not zero");
const SIGN_INS_PER_TOKEN_PER_MINUTE: NonZeroU32 = NonZeroU32::new(10).expect("not zero");
/// Sign-ins per client address, whatever the tokens: an office's morning behind one NAT
/// (a burst of 300, then 10 a second), not a flood of fsynced writes.
const SIGN_INS_PER_ADDRESS_BURST: NonZeroU32 = NonZeroU32::new(300).expect("not zero");
const SIGN_INS_PER_ADDRESS_PER_SEC: NonZeroU32 = NonZeroU32::new(10).expect("not zero");

/// How often the rate limiters forget keys whose budget is full again.
const LIMITER_PRUNE_EVERY: Duration = Duration::from_secs(60);

/// What every handler gets: the state the host shares.
#[derive(Clone)]
pub struct App {
    pub(super) shared: Arc<Shared>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

pub(super) struct Shared {
    pub(super) writer: Writer,
    /// The store's read connections (history, reports, snapshots, feed catch-up).
    pub(super) reads: Arc<Reads>,
    /// Credentials already looked up: whom they speak for, their token's hash, and when.
    pub(super) grants: GrantCache,
    pub(super) limiter: DefaultKeyedRateLimiter<String>,
    /// Sign-ins per token hash and per client address.
    pub(super) sign_ins_by_token: DefaultKeyedRateLimiter<String>,
    pub(super) sign_ins_by_address: DefaultKeyedRateLimiter<IpAddr>,
    /// What tenants' sign-in pages offer (`GET /api/signin/{tenant}`), asked per address.
    pub(super) offers_by_address: DefaultKeyedRateLimiter<IpAddr>,
    /// Unknown tokens per client address.
    pub(super) guesses: GuessBudget,
    /// Token lookups in flight (they run on the writer thread).
    pub(super) lookup_slots: tokio::sync::Semaphore,
    /// The slow lane of addresses over their unknown-token budget, and how many wait for it.
    pub(super) slow_lane: Arc<tokio::sync::Semaphore>,
    pub(super) slow_lane_waiting: AtomicUsize,
    /// Live feeds per token and on this host.
    pub(super) feeds: Arc<feed_slots::FeedSlots>,
    /// The tenants this host's feeds follow: those it hears other hosts' appends to.
    pub(super) followed: Followed,
    /// One projector per followed tenant, shared by its people's feeds.
    pub(super) projectors: Projectors,
    pub(super) notices: broadcast::Sender<writer::Notice>,
    pub(super) shutdown: watch::Receiver<bool>,
    pub(super) demo_tokens: Option<demo::DemoTokens>,
    /// The tenants' identity providers for single sign-on, their documents and keys cached.
    pub(super) providers: crate::sso::Providers,
    pub(super) metrics: metrics_exporter_prometheus::PrometheusHandle,
}

/// Leave to look a credential up in the store, from `App::admit`; say how it went with
/// [`Lookup::answered`].
pub(super) struct Lookup<'a> {
    app: &'a App,
    client: IpAddr,
    _slot: tokio::sync::SemaphorePermit<'a>,
    /// Held in the slow lane: given back no sooner than `SLOW_LANE_PACE` after it was taken.
    slow: Option<(tokio::sync::OwnedSemaphorePermit, Instant)>,
}

impl Lookup<'_> {
    /// Charges an unknown credential to the client's address; one that came through the
    /// slow lane is refused as well (guessing answers 429, whatever the store said).
    pub(super) fn answered(self, known: bool) -> Result<(), ApiError> {
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
    ApiError::RateLimited { what: "unknown tokens from this address", wait }
}

/// What a host's [`App`] is made of besides its limits (those come from the configuration).
pub(super) struct Parts {
    pub writer: Writer,
    pub reads: Arc<Reads>,
    pub followed: Followed,
    pub notices: broadcast::Sender<writer::Notice>,
    pub shutdown: watch::Receiver<bool>,
    pub demo_tokens: Option<demo::DemoTokens>,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
}

impl App {
    pub(super) fn new(config: &ServeConfig, parts: Parts) -> App {
        let Parts { writer, reads, followed, notices, shutdown, demo_tokens, metrics } = parts;
        let rate = NonZeroU32::new(config.rate_per_sec).unwrap_or(NonZeroU32::MIN);
        let burst = rate.saturating_add(rate.get());
        let projectors = Projectors::new(reads.clone(), notices.clone(), followed.clone(), shutdown.clone());
        App {
            shared: Arc::new(Shared {
                writer,
                reads,
                projectors,
                grants: GrantCache::new(grants::MAX_ENTRIES),
                limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
                sign_ins_by_token: RateLimiter::keyed(
                    Quota::per_minute(SIGN_INS_PER_TOKEN_PER_MINUTE).allow_burst(SIGN_INS_PER_TOKEN_BURST),
                ),
                sign_ins_by_address: RateLimiter::keyed(
                    Quota::per_second(SIGN_INS_PER_ADDRESS_PER_SEC).allow_burst(SIGN_INS_PER_ADDRESS_BURST),
                ),
                offers_by_address: RateLimiter::keyed(
                    Quota::per_second(SIGN_INS_PER_ADDRESS_PER_SEC).allow_burst(SIGN_INS_PER_ADDRESS_BURST),
                ),
                guesses: GuessBudget::new(UNKNOWN_TOKENS_PER_SEC, UNKNOWN_TOKEN_BURST),
                lookup_slots: tokio::sync::Semaphore::new(LOOKUP_SLOTS),
                slow_lane: Arc::new(tokio::sync::Semaphore::new(1)),
                slow_lane_waiting: AtomicUsize::new(0),
                feeds: Arc::new(feed_slots::FeedSlots::new(config.feeds_per_token, config.max_feeds)),
                followed,
                notices,
                shutdown,
                demo_tokens,
                providers: crate::sso::Providers::default(),
                metrics,
            }),
        }
    }

    /// Whom a token or session speaks for, and the hash of the token (a session's own).
    pub(super) async fn grant(
        &self,
        credential: &Credential,
        client: IpAddr,
    ) -> Result<Option<(TokenGrant, String)>, ApiError> {
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
    pub(super) async fn admit(&self, client: IpAddr, known: bool) -> Result<Lookup<'_>, ApiError> {
        let shared = &self.shared;
        if known || shared.guesses.refused(client, Instant::now()).is_none() {
            let Ok(slot) = shared.lookup_slots.acquire().await else { return Err(ApiError::ShuttingDown) };
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
                return Err(ApiError::ShuttingDown);
            };
            (permit, Instant::now() + SLOW_LANE_PACE)
        };
        let Ok(slot) = shared.lookup_slots.acquire().await else { return Err(ApiError::ShuttingDown) };
        Ok(Lookup { app: self, client, _slot: slot, slow: Some(slow) })
    }

    /// Forgets a credential this host looked up (a session signed out here ends here at
    /// once; on other hosts within [`grants::TTL`]).
    pub(super) fn forget(&self, credential: &Credential) {
        self.shared.grants.forget(credential);
    }

    /// The handle the simulator submits through.
    pub fn writer(&self) -> &Writer {
        &self.shared.writer
    }
}

/// Forgets, now and then, the rate limiters' keys whose budget is full again: the sign-in
/// limiters are keyed by whatever tokens and addresses clients send.
pub(super) async fn prune_limiters(app: App, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(LIMITER_PRUNE_EVERY) => {}
            _ = shutdown.changed() => return,
        }
        let shared = &app.shared;
        shared.limiter.retain_recent();
        shared.sign_ins_by_token.retain_recent();
        shared.sign_ins_by_address.retain_recent();
        shared.offers_by_address.retain_recent();
        shared.limiter.shrink_to_fit();
        shared.sign_ins_by_token.shrink_to_fit();
        shared.sign_ins_by_address.shrink_to_fit();
        shared.offers_by_address.shrink_to_fit();
    }
}
