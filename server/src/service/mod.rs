//! Tenants served durably: each tenant's state lives in its wasm instance, its log in the
//! [`Store`]. A command is decided in the instance and its events appended to the store
//! before the outcome is returned, so an acknowledged command is never lost; a command id
//! already decided returns its stored outcome instead of deciding again.
//!
//! Several hosts may serve one tenant: a group of commands is decided in one transaction
//! that holds the logs of its tenants, after each instance folded what other hosts stored,
//! and every append is conditional on where the log ends (see `round`) — so no host ever
//! acknowledges a decision taken on a stale state.
//!
//! Tenants are loaded on their first request (newest snapshot plus the log after it) and
//! the least recently used are evicted when more are loaded than the bounds allow.

pub mod log_feed;
mod projection;
pub mod projector;
pub mod reads;
mod retention;
mod round;
pub mod stamp;
pub mod writer;

pub use reads::{HISTORY_DEFAULT, HISTORY_MAX, HistoryPage, REPORT_MAX_MS, RangeError, Reads, report_range};
pub use retention::{LogBegins, PRUNE_CHUNK, Retention, Step};

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::store::{Seq, SsoProvider, SsoSignIn, Store, StoreError, TokenGrant};
use agentstate_core::{Action, Actor, Query};
use agentstate_runtime::{HostError, Runtime, WasmTenant};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("there is no tenant {0}")]
    UnknownTenant(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Host(#[from] HostError),
    /// Something stored cannot be read as what it should be (a defect, or a database
    /// changed by hand).
    #[error("{what} cannot be read: {problem}")]
    Unreadable { what: String, problem: String },
}

/// A command as a client sent it: an object for the host to stamp with its clock, or bytes
/// taken as they are (the module rejects what is not a command as `invalid_command`, with
/// where — bytes that are not UTF-8 too).
#[derive(Clone, Debug)]
pub enum Incoming {
    /// The text of a JSON object with its actor and without `at`, which the service puts
    /// in front, never behind the tenant's last event; its `id`, read with the rest.
    Object { text: String, id: Option<String> },
    /// A command the host itself was given as text (the CLI, tests): decided as it is,
    /// its `id` and `actor` read from it.
    Raw(Vec<u8>),
    /// What a client sent that the API could not read as one object (not JSON, a key given
    /// twice): passed on for the module to refuse, saying where — and never stored under
    /// the `id` it names, since nobody could check whose command it is.
    Unread(Vec<u8>),
}

impl Incoming {
    /// A command the host itself composed (the demo's routing simulator): `action` by
    /// `actor`, stamped by the service like a client's.
    pub fn composed(actor: &Actor, action: &Action) -> Incoming {
        let mut fields = match serde_json::to_value(action) {
            Ok(Value::Object(fields)) => fields,
            _ => Map::new(),
        };
        fields.insert("actor".into(), Value::String(actor.to_string()));
        Incoming::Object { text: Value::Object(fields).to_string(), id: None }
    }
}

/// What a submitted command gave.
#[derive(Clone, Debug)]
pub struct Submitted {
    /// The outcome, as the module gave it (JSON).
    pub outcome: String,
    /// The tenant's last sequence number once the command's events are stored.
    pub seq: Seq,
    /// True when this is the stored outcome of an earlier command with the same id.
    pub retried: bool,
    /// The events this command stored, with their sequence numbers (none for a retry or
    /// a rejection): what live feeds are told without reading the store again.
    pub stored: Vec<(Seq, String)>,
    /// Of a command accepted now (not a retry), its events as read from the outcome once:
    /// what the client is answered with, without reading the outcome again.
    pub accepted: Option<Vec<Box<RawValue>>>,
}

impl Submitted {
    fn pending() -> Submitted {
        Submitted { outcome: String::new(), seq: 0, retried: false, stored: Vec::new(), accepted: None }
    }

    /// The stored outcome of an earlier command with the same id.
    fn retried(outcome: String, seq: Seq) -> Submitted {
        Submitted { outcome, seq, retried: true, ..Submitted::pending() }
    }
}

/// How many tenants a host keeps loaded, and how much memory they may take.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// A snapshot is stored every this many events per tenant.
    pub snapshot_every: u64,
    /// Most tenants loaded at once (each is an instance of the runtime's pool).
    pub loaded: usize,
    /// Most linear memory of all loaded tenants together, in bytes.
    pub memory_bytes: usize,
}

impl Bounds {
    /// The bounds for `runtime`'s pool: a few instances stay free for a history's scratch
    /// tenant and for rebuilding one that failed.
    pub fn for_runtime(runtime: &Runtime, snapshot_every: u64) -> Bounds {
        let pool = runtime.limits().instances as usize;
        Bounds { snapshot_every, loaded: pool.saturating_sub(8).max(1), memory_bytes: 2 << 30 }
    }
}

struct Served {
    wasm: WasmTenant,
    /// The last sequence number folded into the instance.
    seq: Seq,
    /// The `at` of the last event folded: the host's clock never stamps a command before it.
    last_at: u64,
    since_snapshot: u64,
    /// When it was last used, in the service's own count of uses (for eviction).
    used: u64,
    memory: usize,
    /// How many more rounds decide this tenant's commands with its log locked, because
    /// other hosts append to it too (see `round.rs`); none while this host is its only one.
    contended: u8,
}

/// Every tenant of a store, each in its own instance once loaded.
pub struct TenantService {
    store: Box<dyn Store>,
    runtime: Arc<Runtime>,
    tenants: HashMap<String, Served>,
    bounds: Bounds,
    uses: u64,
    /// Tenants used since this count are in the round under way: never evicted by it.
    round_began: u64,
    memory: usize,
}

impl std::fmt::Debug for TenantService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantService").field("loaded", &self.tenants.len()).finish_non_exhaustive()
    }
}

/// How many events are folded per `apply` call while loading or catching up.
const REPLAY_CHUNK: usize = 10_000;

#[derive(Deserialize)]
struct At {
    at: u64,
}

/// The `at` an event carries (0 when it carries none).
fn at_of(event: &str) -> u64 {
    serde_json::from_str::<At>(event).map_or(0, |e| e.at)
}

#[derive(Deserialize)]
struct Clock {
    #[serde(default)]
    clock: Option<u64>,
}

/// The time of the last event a snapshot folded (its `clock`; 0 when it has none).
fn clock_of(snapshot: &str) -> u64 {
    serde_json::from_str::<Clock>(snapshot).ok().and_then(|s| s.clock).unwrap_or(0)
}

/// How often a read that found the log pruned under it starts over before it gives up.
const PRUNED_RETRIES: usize = 4;

impl TenantService {
    /// Opens the service on `store`; tenants are loaded when first asked for.
    pub fn open(store: Box<dyn Store>, runtime: Arc<Runtime>, snapshot_every: u64) -> Result<Self, ServiceError> {
        let bounds = Bounds::for_runtime(&runtime, snapshot_every);
        Ok(Self::with_bounds(store, runtime, bounds))
    }

    pub fn with_bounds(store: Box<dyn Store>, runtime: Arc<Runtime>, bounds: Bounds) -> Self {
        TenantService { store, runtime, tenants: HashMap::new(), bounds, uses: 0, round_began: 0, memory: 0 }
    }

    /// The tenants loaded now, by id.
    pub fn loaded(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.tenants.keys().map(String::as_str).collect();
        ids.sort_unstable();
        ids
    }

    /// Whether the store has this tenant.
    pub fn has_tenant(&self, tenant: &str) -> Result<bool, ServiceError> {
        match self.store.description(tenant) {
            Ok(_) => Ok(true),
            Err(StoreError::UnknownTenant(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the store answers (for `/healthz`).
    pub fn ping(&self) -> Result<(), ServiceError> {
        Ok(self.store.ping()?)
    }

    /// Creates a tenant from its description; refused when the description is not a
    /// tenant or the id is taken.
    pub fn create_tenant(&mut self, tenant: &str, description: &str) -> Result<(), ServiceError> {
        let mut wasm = WasmTenant::new(self.runtime.clone())?;
        wasm.start(description)?;
        drop(wasm);
        self.store.create_tenant(tenant, description)?;
        Ok(())
    }

    /// Decides one command (JSON) for `tenant` and stores its events durably.
    pub fn submit(&mut self, tenant: &str, command: &str) -> Result<Submitted, ServiceError> {
        let mut results = self.submit_all(&[(tenant, command)]);
        results.pop().unwrap_or_else(|| Err(ServiceError::UnknownTenant(tenant.to_owned())))
    }

    /// Decides commands given as text, each `(tenant, command JSON)` (see
    /// [`TenantService::submit_incoming`]).
    pub fn submit_all(&mut self, commands: &[(&str, &str)]) -> Vec<Result<Submitted, ServiceError>> {
        let incoming: Vec<(&str, Incoming)> =
            commands.iter().map(|&(tenant, command)| (tenant, Incoming::Raw(command.as_bytes().to_vec()))).collect();
        self.submit_incoming(&incoming, 0)
    }

    /// Decides commands in turn, each `(tenant, command)`, objects stamped with `now`
    /// (milliseconds, never behind the tenant's last event), and stores all their events in
    /// one transaction (group commit) before returning. A command id seen before — in the
    /// store or earlier in `commands` — gets its first outcome back. When another host
    /// appended first, the commands are decided again on the caught-up state; when the
    /// store fails, every command of the transaction fails and the instances forget what
    /// they decided.
    pub fn submit_incoming(&mut self, commands: &[(&str, Incoming)], now: u64) -> Vec<Result<Submitted, ServiceError>> {
        // A round holds every tenant it touches loaded: at most half the bound at once, so
        // it can always make room by evicting tenants of earlier rounds.
        let most = (self.bounds.loaded / 2).max(1);
        let mut results = Vec::with_capacity(commands.len());
        let mut rest = commands;
        while !rest.is_empty() {
            let mut tenants: Vec<&str> = Vec::new();
            let cut = rest
                .iter()
                .position(|(tenant, _)| {
                    if !tenants.contains(tenant) {
                        tenants.push(tenant);
                    }
                    tenants.len() > most
                })
                .unwrap_or(rest.len());
            let (chunk, after) = rest.split_at(cut);
            results.extend(self.decide_and_store(chunk, now));
            rest = after;
        }
        results
    }

    /// Starts a round of work: the tenants it uses from now on are not evicted by it.
    fn begin(&mut self) {
        self.round_began = self.uses + 1;
    }

    /// The tenant, loaded (making room first) when it is not, and counted as used now.
    fn use_tenant(&mut self, tenant: &str) -> Result<&mut Served, ServiceError> {
        self.uses += 1;
        if !self.tenants.contains_key(tenant) {
            self.make_room();
            let served = self.load(tenant)?;
            self.memory += served.memory;
            self.tenants.insert(tenant.to_owned(), served);
            metrics::counter!("agentstate_tenant_loads_total").increment(1);
            metrics::gauge!("agentstate_tenants_loaded").set(self.tenants.len() as f64);
        }
        let uses = self.uses;
        let served = self.tenants.get_mut(tenant).ok_or_else(|| ServiceError::UnknownTenant(tenant.to_owned()))?;
        served.used = uses;
        Ok(served)
    }

    /// The tenant loaded and caught up with everything stored for it.
    fn ready(&mut self, tenant: &str) -> Result<&mut Served, ServiceError> {
        self.use_tenant(tenant)?;
        let store = &self.store;
        let served = self.tenants.get_mut(tenant).ok_or_else(|| ServiceError::UnknownTenant(tenant.to_owned()))?;
        let caught_up = catch_up(&mut |after| store.events_after(tenant, after, REPLAY_CHUNK), served);
        self.account(&[tenant]);
        match caught_up {
            Ok(Folded::All) => {}
            // Another host pruned the events this instance still lacked: it starts over
            // from the new base.
            Ok(Folded::Pruned) => {
                self.unload(tenant);
                self.use_tenant(tenant)?;
            }
            Err(ServiceError::Host(e)) => {
                self.unload(tenant);
                return Err(e.into());
            }
            Err(e) => return Err(e),
        }
        self.tenants.get_mut(tenant).ok_or_else(|| ServiceError::UnknownTenant(tenant.to_owned()))
    }

    /// Brings the memory count up to date for tenants that ran (memory only grows).
    fn account(&mut self, tenants: &[&str]) {
        for tenant in tenants {
            if let Some(served) = self.tenants.get_mut(*tenant) {
                let grown = served.wasm.memory_bytes();
                self.memory = self.memory + grown - served.memory.min(grown);
                served.memory = grown;
            }
        }
    }

    fn count_towards_snapshot(&mut self, tenant: &str, events: u64) -> Result<(), ServiceError> {
        let Some(served) = self.tenants.get_mut(tenant) else { return Ok(()) };
        served.since_snapshot += events;
        if served.since_snapshot >= self.bounds.snapshot_every {
            let snapshot = served.wasm.snapshot()?;
            self.store.put_snapshot(tenant, served.seq, &snapshot)?;
            served.since_snapshot = 0;
            // The instance starts over from what was just stored: the journal it keeps for
            // its own history (the server reads history from the log) and the events kept
            // for its recovery are bounded by the snapshot cadence, not by the log.
            served.wasm.restore(&snapshot)?;
        }
        Ok(())
    }

    /// The tenant's last sequence number in the store.
    pub fn last_seq(&self, tenant: &str) -> Result<Seq, ServiceError> {
        Ok(self.store.last_seq(tenant)?)
    }

    /// Now for `tenant`: `wall` (milliseconds), but never before the tenant's last event,
    /// so a host stamping commands and views with its clock never goes behind the log.
    pub fn now(&mut self, tenant: &str, wall: u64) -> Result<u64, ServiceError> {
        self.begin();
        Ok(wall.max(self.ready(tenant)?.last_at))
    }

    /// The state as of sequence number `seq`, as one consistent pair.
    pub fn snapshot(&mut self, tenant: &str) -> Result<(Seq, String), ServiceError> {
        self.begin();
        let served = self.ready(tenant)?;
        let seq = served.seq;
        Ok((seq, served.wasm.snapshot()?))
    }

    /// Every event that touched `user` in the kept log, oldest first, as a JSON array —
    /// the tenant's description first while nothing was pruned (the pages of
    /// [`reads::history`], all of them: for tests and tools, not for requests).
    pub fn history(&self, tenant: &str, user: &str) -> Result<String, ServiceError> {
        let mut events = Vec::new();
        let mut before = None;
        loop {
            let page = reads::history(&*self.store, tenant, user, before, HISTORY_MAX)?;
            events.extend(page.events.into_iter().map(|(_, event)| event));
            match page.next_before {
                Some(next) => before = Some(next),
                None => break,
            }
        }
        events.reverse();
        Ok(agentstate_core::wire::to_json(&events))
    }

    /// Each agent's states per channel from `from` to `to` as JSON (see
    /// [`reads::activity`]). Exact for a range from [`LogBegins::at`] on; before it the
    /// report knows nothing and shows `signed_out`.
    pub fn activity(&self, tenant: &str, from: u64, to: u64) -> Result<String, ServiceError> {
        Ok(agentstate_core::wire::to_json(&reads::activity(&*self.store, tenant, from, to)?))
    }

    /// Creates an access token for `actor` of `tenant` (see [`crate::tokens::issue`]).
    pub fn issue_token(&mut self, tenant: &str, actor: &str) -> Result<String, crate::tokens::TokenError> {
        crate::tokens::issue(&mut *self.store, tenant, actor)
    }

    /// Who the token with this hash speaks for.
    pub fn token(&self, hash: &str) -> Result<Option<TokenGrant>, ServiceError> {
        Ok(self.store.token(hash)?)
    }

    /// Who the session with this hash speaks for, and its token's hash.
    pub fn session(&self, hash: &str) -> Result<Option<(TokenGrant, String)>, ServiceError> {
        Ok(self.store.session(hash, crate::clock::now_ms())?)
    }

    /// Exchanges a token or a sign-in link for a session (see [`crate::sessions`]).
    pub fn open_session(
        &mut self,
        credential: &crate::sessions::Credential,
    ) -> Result<Option<crate::sessions::Opened>, crate::tokens::TokenError> {
        crate::sessions::open(&mut *self.store, credential)
    }

    /// Ends the session with this hash (sign-out).
    pub fn end_session(&mut self, hash: &str) -> Result<bool, ServiceError> {
        Ok(self.store.end_session(hash)?)
    }

    /// The tenant's identity provider for single sign-on, if it has one.
    pub fn sso_provider(&self, tenant: &str) -> Result<Option<SsoProvider>, ServiceError> {
        Ok(self.store.sso_provider(tenant)?)
    }

    /// Records a single sign-on under way (false when too many are).
    pub fn begin_sso(&mut self, state: &str, sign_in: &SsoSignIn) -> Result<bool, ServiceError> {
        Ok(self.store.put_sso_sign_in(state, sign_in, crate::clock::now_ms())?)
    }

    /// Uses a single sign-on under way up.
    pub fn take_sso(&mut self, state: &str) -> Result<Option<SsoSignIn>, ServiceError> {
        Ok(self.store.take_sso_sign_in(state, crate::clock::now_ms())?)
    }

    /// Answers a view query for `tenant`, on the state caught up with the log; the answer
    /// as the module's JSON.
    pub fn query(&mut self, tenant: &str, query: &Query) -> Result<String, ServiceError> {
        self.begin();
        let query = agentstate_core::wire::to_json(query);
        let answer = self.ready(tenant)?.wasm.query(&query)?;
        self.evict_over_bounds();
        Ok(answer)
    }

    /// The linear memory of the tenant's instance, in bytes (for operators and tests).
    pub fn instance_memory(&self, tenant: &str) -> Option<usize> {
        self.tenants.get(tenant).map(|served| served.wasm.memory_bytes())
    }

    /// Up to `limit` stored events of `tenant` after `after` (for live feeds).
    pub fn events_after(&self, tenant: &str, after: Seq, limit: usize) -> Result<Vec<(Seq, String)>, ServiceError> {
        Ok(self.store.events_after(tenant, after, limit)?)
    }

    /// Loads a tenant: its newest snapshot plus the log after it (read again when another
    /// host pruned the log in between).
    fn load(&self, tenant: &str) -> Result<Served, ServiceError> {
        for _ in 0..PRUNED_RETRIES {
            let mut wasm = WasmTenant::new(self.runtime.clone())?;
            let (seq, snapshot) = match self.store.latest_snapshot(tenant) {
                Ok(Some((seq, snapshot))) => {
                    wasm.restore(&snapshot)?;
                    (seq, Some(snapshot))
                }
                Ok(None) => {
                    wasm.start(&self.store.description(tenant)?)?;
                    (0, None)
                }
                Err(StoreError::UnknownTenant(t)) => return Err(ServiceError::UnknownTenant(t)),
                Err(e) => return Err(e.into()),
            };
            // The snapshot's own time is that of the event it is as of — from the snapshot
            // itself once that event was pruned.
            let last_at = match (seq, snapshot) {
                (0, _) | (_, None) => 0,
                (seq, Some(snapshot)) => match self.store.events_after(tenant, seq - 1, 1)?.first() {
                    Some((found, event)) if *found == seq => at_of(event),
                    _ => clock_of(&snapshot),
                },
            };
            let mut served = Served {
                memory: wasm.memory_bytes(),
                wasm,
                seq,
                last_at,
                since_snapshot: 0,
                used: self.uses,
                contended: 0,
            };
            if let Folded::All =
                catch_up(&mut |after| self.store.events_after(tenant, after, REPLAY_CHUNK), &mut served)?
            {
                served.memory = served.wasm.memory_bytes();
                return Ok(served);
            }
        }
        Err(StoreError::Conflict(tenant.to_owned()).into())
    }

    fn unload(&mut self, tenant: &str) {
        if let Some(served) = self.tenants.remove(tenant) {
            self.memory = self.memory.saturating_sub(served.memory);
            metrics::gauge!("agentstate_tenants_loaded").set(self.tenants.len() as f64);
        }
    }

    /// Evicts the least recently used tenants until one more fits the bounds (never one the
    /// round under way uses).
    fn make_room(&mut self) {
        while self.tenants.len() >= self.bounds.loaded || self.memory > self.bounds.memory_bytes {
            if !self.evict_one() {
                return;
            }
        }
    }

    /// Evicts the least recently used tenants while over the memory bound (the tenant
    /// used last stays).
    fn evict_over_bounds(&mut self) {
        self.round_began = self.uses;
        while self.memory > self.bounds.memory_bytes {
            if !self.evict_one() {
                return;
            }
        }
    }

    /// Evicts the least recently used tenant not used by the round under way; false when
    /// there is none.
    fn evict_one(&mut self) -> bool {
        let oldest = self
            .tenants
            .iter()
            .filter(|(_, served)| served.used < self.round_began)
            .min_by_key(|(_, served)| served.used)
            .map(|(id, _)| id.clone());
        let Some(tenant) = oldest else { return false };
        self.unload(&tenant);
        metrics::counter!("agentstate_tenant_evictions_total").increment(1);
        true
    }
}

/// Folds what the log gained after the instance's last event.
/// `read` gives the chunk of the log after a sequence number. [`Folded::Pruned`] when
/// events the instance lacks were pruned meanwhile (another host moved the base past it):
/// it cannot catch up and must be loaded again.
fn catch_up(
    read: &mut dyn FnMut(Seq) -> Result<Vec<(Seq, String)>, StoreError>,
    served: &mut Served,
) -> Result<Folded, ServiceError> {
    let started = std::time::Instant::now();
    let caught_up = each_chunk(read, served.seq, |events, count, (last_seq, last_event)| {
        served.wasm.apply(events)?;
        served.seq = last_seq;
        served.last_at = served.last_at.max(at_of(last_event));
        served.since_snapshot += count as u64;
        Ok(())
    });
    metrics::histogram!("agentstate_store_read_seconds", "read" => "catch_up").record(started.elapsed().as_secs_f64());
    caught_up
}

/// How a read of the log went.
#[must_use]
enum Folded {
    /// Every event from where it began, without a gap.
    All,
    /// The log no longer holds where the read began (or went on): pruned meanwhile.
    Pruned,
}

/// Reads a log after `after` in chunks of [`REPLAY_CHUNK`] (`read` gives the chunk after a
/// sequence number), handing each to `each` as a JSON array (the form the module takes)
/// with its length and its last event, until the log ends. Stops with
/// [`Folded::Pruned`] at a gap: the events after `after` were pruned by another host.
fn each_chunk(
    read: &mut dyn FnMut(Seq) -> Result<Vec<(Seq, String)>, StoreError>,
    after: Seq,
    mut each: impl FnMut(&str, usize, (Seq, &str)) -> Result<(), ServiceError>,
) -> Result<Folded, ServiceError> {
    let mut next = after;
    loop {
        let chunk = read(next)?;
        let Some((last, last_event)) = chunk.last() else { return Ok(Folded::All) };
        if chunk.first().is_some_and(|(first, _)| *first != next + 1) {
            return Ok(Folded::Pruned);
        }
        next = *last;
        let events = format!("[{}]", chunk.iter().map(|(_, e)| e.as_str()).collect::<Vec<_>>().join(","));
        each(&events, chunk.len(), (*last, last_event))?;
        if chunk.len() < REPLAY_CHUNK {
            return Ok(Folded::All);
        }
    }
}
