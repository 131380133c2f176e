//! Tenants served durably: each tenant's state lives in its wasm instance, its log in the
//! [`Store`]. A command is decided in the instance and its events appended to the store
//! before the outcome is returned, so an acknowledged command is never lost; a command id
//! already decided returns its stored outcome instead of deciding again.
//!
//! Several hosts may serve one tenant: before deciding, a host reads what the log gained
//! since its instance last saw it, and its append is conditional on the log still ending
//! there. When another host appended in between, the store refuses (`Conflict`); the
//! instance is rolled back to before the refused decisions, catches up, and the commands
//! are decided again — so no host ever acknowledges a decision taken on a stale state.
//!
//! Tenants are loaded on their first request (newest snapshot plus the log after it) and
//! the least recently used are evicted when more are loaded than the bounds allow.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::store::{Append, LockedLogs, Seq, Store, StoreError, TokenGrant};
use agentstate_runtime::{HostError, Mark, Runtime, WasmTenant};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("there is no tenant {0}")]
    UnknownTenant(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Host(#[from] HostError),
}

/// A command as a client sent it: an object for the host to stamp with its clock, or text
/// taken as it is (the module rejects what is not a command as `invalid_command`, with
/// where).
#[derive(Clone, Debug)]
pub enum Incoming {
    /// Without `at`: the service adds it, never behind the tenant's last event.
    Object(Map<String, Value>),
    Text(String),
}

/// What a submitted command gave.
#[derive(Clone, Debug, PartialEq, Eq)]
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
}

impl Submitted {
    fn pending() -> Submitted {
        Submitted { outcome: String::new(), seq: 0, retried: false, stored: Vec::new() }
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
}

/// Every tenant of a store, each in its own instance once loaded.
pub struct TenantService<S: Store> {
    store: S,
    runtime: Arc<Runtime>,
    tenants: HashMap<String, Served>,
    bounds: Bounds,
    uses: u64,
    /// Tenants used since this count are in the round under way: never evicted by it.
    round_began: u64,
    memory: usize,
}

impl<S: Store> std::fmt::Debug for TenantService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantService").field("loaded", &self.tenants.len()).finish_non_exhaustive()
    }
}

/// How many events are folded per `apply` call while loading or catching up.
const REPLAY_CHUNK: usize = 10_000;

/// How often one group of commands is decided again after other hosts appended first,
/// before its commands are answered with the conflict (503: try again).
const MAX_ROUNDS: usize = 32;

#[derive(Deserialize)]
struct CommandId<'a> {
    #[serde(default, borrow)]
    id: Option<std::borrow::Cow<'a, str>>,
}

/// The command's `id`, when it has one (a text that is no command has none).
fn command_id(command: &Incoming) -> Option<String> {
    match command {
        Incoming::Object(fields) => fields.get("id").and_then(Value::as_str).map(str::to_owned),
        Incoming::Text(text) => {
            serde_json::from_str::<CommandId>(text).ok().and_then(|c| c.id).map(|id| id.into_owned())
        }
    }
}

#[derive(Deserialize)]
struct At {
    at: u64,
}

/// The `at` an event carries (0 when it carries none).
fn at_of(event: &str) -> u64 {
    serde_json::from_str::<At>(event).map_or(0, |e| e.at)
}

/// A decided command on its way into the store.
struct Decided<'a> {
    index: usize,
    tenant: &'a str,
    id: Option<String>,
    outcome: String,
    events: Vec<String>,
}

/// The work of one round under the store's lock (see `TenantService::round`).
struct Round<'r, 'c> {
    commands: &'r [(&'c str, Incoming)],
    pending: &'r [usize],
    ids: &'r [Option<String>],
    now: u64,
    stored_outcomes: &'r HashMap<&'c str, HashMap<String, String>>,
    /// Tenants that cannot be served this round, and why.
    failed: &'r mut BTreeMap<&'c str, ServiceError>,
    results: &'r mut [Option<Result<Submitted, ServiceError>>],
    /// Each caught-up tenant's instance before its decisions.
    marks: BTreeMap<&'c str, Mark>,
    decided: Vec<Decided<'c>>,
    /// A command id seen earlier in this round: (its index, the first one's index).
    echoes: Vec<(usize, usize)>,
    /// Tenants whose decisions the store refused: rolled back, decided again.
    lost: BTreeSet<&'c str>,
    /// Which decided commands were appended, at which sequence number.
    stored: Vec<(usize, Seq)>,
}

impl<'c> Round<'_, 'c> {
    fn run(&mut self, log: &mut dyn LockedLogs, tenants: &mut HashMap<String, Served>) -> Result<(), StoreError> {
        self.marks.clear();
        self.decided.clear();
        self.echoes.clear();
        self.lost.clear();
        self.stored.clear();
        let mut in_flight: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for (&index, id) in self.pending.iter().zip(self.ids) {
            let (tenant, command) = &self.commands[index];
            let tenant: &'c str = tenant;
            if self.failed.contains_key(tenant) {
                continue;
            }
            let Some(served) = tenants.get_mut(tenant) else {
                self.failed.insert(tenant, ServiceError::UnknownTenant(tenant.to_owned()));
                continue;
            };
            if !self.marks.contains_key(tenant) {
                // What other hosts stored since this instance last looked; nobody can
                // append to this tenant until the commit.
                let mut read = |after| log.events_after(tenant, after, REPLAY_CHUNK);
                if let Err(e) = catch_up(&mut read, served) {
                    match e {
                        ServiceError::Store(e) => return Err(e),
                        e => {
                            self.failed.insert(tenant, e);
                            continue;
                        }
                    }
                }
                self.marks.insert(tenant, served.wasm.mark());
            }
            self.results[index] = None;
            if let Some(id) = id {
                if let Some(&first) = in_flight.get(&(tenant, id.as_str())) {
                    self.echoes.push((index, first));
                    continue;
                }
                if let Some(outcome) = self.stored_outcomes.get(tenant).and_then(|found| found.get(id)) {
                    let (outcome, seq) = (outcome.clone(), served.seq);
                    self.results[index] = Some(Ok(Submitted { outcome, seq, retried: true, stored: Vec::new() }));
                    continue;
                }
            }
            let text = match command {
                Incoming::Object(fields) => stamped(fields, self.now.max(served.last_at)),
                Incoming::Text(text) => text.clone(),
            };
            let decision = match served.wasm.handle_with_events(&text) {
                Ok(decision) => decision,
                Err(e) => {
                    self.results[index] = Some(Err(e.into()));
                    continue;
                }
            };
            let events: Vec<String> = decision.events.iter().map(|e| e.get().to_owned()).collect();
            if let Some(last) = events.last() {
                served.last_at = served.last_at.max(at_of(last));
            }
            // Only accepted commands and commands with an id leave a trace in the store.
            if !decision.accepted && id.is_none() {
                let seq = served.seq;
                self.results[index] = Some(Ok(Submitted { outcome: decision.outcome, seq, ..Submitted::pending() }));
                continue;
            }
            if let Some(id) = id {
                in_flight.insert((tenant, id.as_str()), index);
            }
            self.decided.push(Decided { index, tenant, id: id.clone(), outcome: decision.outcome, events });
        }
        loop {
            let appending: Vec<usize> =
                (0..self.decided.len()).filter(|d| !self.lost.contains(self.decided[*d].tenant)).collect();
            if appending.is_empty() {
                return Ok(());
            }
            let appends: Vec<Append<'_>> = appending
                .iter()
                .map(|&d| {
                    let decided = &self.decided[d];
                    Append {
                        tenant: decided.tenant,
                        expected: tenants.get(decided.tenant).map_or(0, |served| served.seq),
                        command_id: decided.id.as_deref(),
                        outcome: &decided.outcome,
                        events: &decided.events,
                    }
                })
                .collect();
            match log.append_all(&appends) {
                Ok(seqs) => {
                    self.stored = appending.into_iter().zip(seqs).collect();
                    return Ok(());
                }
                Err(StoreError::Conflict(tenant)) => {
                    metrics::counter!("agentstate_append_conflicts_total").increment(1);
                    match self.decided.iter().find(|d| d.tenant == tenant && !self.lost.contains(d.tenant)) {
                        Some(d) => {
                            self.lost.insert(d.tenant);
                        }
                        // Not told which: every tenant of the group decides again.
                        None => {
                            let all: Vec<&'c str> = self.decided.iter().map(|d| d.tenant).collect();
                            self.lost.extend(all);
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl<S: Store> TenantService<S> {
    /// Opens the service on `store`; tenants are loaded when first asked for.
    pub fn open(store: S, runtime: Arc<Runtime>, snapshot_every: u64) -> Result<Self, ServiceError> {
        let bounds = Bounds::for_runtime(&runtime, snapshot_every);
        Ok(Self::with_bounds(store, runtime, bounds))
    }

    pub fn with_bounds(store: S, runtime: Arc<Runtime>, bounds: Bounds) -> Self {
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
            commands.iter().map(|&(tenant, command)| (tenant, Incoming::Text(command.to_owned()))).collect();
        self.submit_incoming(&incoming, 0)
    }

    /// Decides commands in turn, each `(tenant, command)`, objects stamped with `now`
    /// (milliseconds, never behind the tenant's last event), and stores all their events in
    /// one transaction (group commit) before returning. A command id seen before — in the
    /// store or earlier in `commands` — gets its first outcome back. When another host
    /// appended first, the commands are decided again on the caught-up state; when the
    /// store fails, every command of the transaction fails and the tenants it touched are
    /// reloaded.
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

    /// Decides and stores `commands` (at most half the loaded bound of tenants), deciding
    /// again the commands of every tenant whose log another host appended to first.
    fn decide_and_store(&mut self, commands: &[(&str, Incoming)], now: u64) -> Vec<Result<Submitted, ServiceError>> {
        let mut results: Vec<Option<Result<Submitted, ServiceError>>> = commands.iter().map(|_| None).collect();
        let mut pending: Vec<usize> = (0..commands.len()).collect();
        for round in 0..MAX_ROUNDS {
            self.round_began = self.uses + 1;
            if round > 0 {
                metrics::counter!("agentstate_redecides_total").increment(1);
            }
            // The first round looks up no stored outcomes: a command id stored before is
            // found by the append (a conflict), and only then looked up.
            pending = self.round(commands, &pending, now, round > 0, &mut results);
            if pending.is_empty() {
                break;
            }
        }
        if !pending.is_empty() {
            tracing::warn!(rounds = MAX_ROUNDS, "other hosts kept appending first; giving up on these commands");
        }
        self.evict_over_bounds();
        results
            .into_iter()
            .zip(commands)
            .map(|(result, (tenant, _))| {
                result.unwrap_or_else(|| Err(StoreError::Conflict((*tenant).to_owned()).into()))
            })
            .collect()
    }

    /// One try at deciding and storing the `pending` commands: fills in their results and
    /// returns the ones to decide again — those of tenants whose command id was stored
    /// meanwhile, or (on a store without locks) whose log another host appended to first.
    /// Their instances are rolled back; every other tenant's commands are stored.
    ///
    /// The touched tenants are loaded first; then, with their logs locked, each instance
    /// folds what other hosts stored since it last looked, the commands are decided and
    /// their events appended, and the transaction commits.
    fn round(
        &mut self,
        commands: &[(&str, Incoming)],
        pending: &[usize],
        now: u64,
        look_up: bool,
        results: &mut [Option<Result<Submitted, ServiceError>>],
    ) -> Vec<usize> {
        let mut failed: BTreeMap<&str, ServiceError> = BTreeMap::new();
        let mut touched: Vec<&str> = Vec::new();
        for &index in pending {
            let tenant = commands[index].0;
            if touched.contains(&tenant) || failed.contains_key(tenant) {
                continue;
            }
            match self.load_for_round(tenant) {
                Ok(()) => touched.push(tenant),
                Err(e) => {
                    failed.insert(tenant, e);
                }
            }
        }
        touched.sort_unstable();
        // Every command's id, and (when asked to look them up) the outcomes stored for them:
        // one lookup per tenant.
        let ids: Vec<Option<String>> = pending.iter().map(|&index| command_id(&commands[index].1)).collect();
        let mut stored_outcomes: HashMap<&str, HashMap<String, String>> = HashMap::new();
        for &tenant in touched.iter().filter(|_| look_up) {
            let wanted: Vec<&str> = pending
                .iter()
                .zip(&ids)
                .filter(|(index, _)| commands[**index].0 == tenant)
                .filter_map(|(_, id)| id.as_deref())
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let started = std::time::Instant::now();
            let looked_up = self.store.outcomes(tenant, &wanted);
            metrics::histogram!("agentstate_store_read_seconds", "read" => "outcomes")
                .record(started.elapsed().as_secs_f64());
            match looked_up {
                Ok(found) => {
                    stored_outcomes.insert(tenant, found);
                }
                Err(e) => {
                    failed.insert(tenant, e.into());
                }
            }
        }
        touched.retain(|tenant| !failed.contains_key(tenant));

        let mut work = Round {
            commands,
            pending,
            ids: &ids,
            now,
            stored_outcomes: &stored_outcomes,
            failed: &mut failed,
            results,
            marks: BTreeMap::new(),
            decided: Vec::new(),
            echoes: Vec::new(),
            lost: BTreeSet::new(),
            stored: Vec::new(),
        };
        let tenants = &mut self.tenants;
        let started = std::time::Instant::now();
        let committed = self.store.locked(&touched, &mut |log| work.run(log, tenants));
        metrics::histogram!("agentstate_store_append_seconds").record(started.elapsed().as_secs_f64());
        let Round { marks, decided, echoes, lost, stored, .. } = work;
        match committed {
            Ok(()) => {
                for (done, seq) in stored {
                    self.finish(&decided[done], seq, results);
                }
            }
            Err(e) => {
                // Nothing was stored: every decision is undone and answered with the
                // failure, and so is every command the round did not get to.
                for done in &decided {
                    results[done.index] = Some(Err(ServiceError::Store(e.clone())));
                }
                for (echo, _) in &echoes {
                    results[*echo] = Some(Err(ServiceError::Store(e.clone())));
                }
                for &index in pending {
                    if results[index].is_none() {
                        results[index] = Some(Err(ServiceError::Store(e.clone())));
                    }
                }
                for (tenant, mark) in &marks {
                    self.roll_back(tenant, *mark);
                }
                self.account(&touched);
                return Vec::new();
            }
        }
        for tenant in &lost {
            if let Some(mark) = marks.get(tenant) {
                self.roll_back(tenant, *mark);
            }
        }
        for (tenant, e) in &failed {
            if matches!(e, ServiceError::Host(_)) {
                self.unload(tenant);
            }
        }
        self.account(&touched);
        let mut redo = Vec::new();
        for &index in pending {
            let tenant = commands[index].0;
            if let Some(e) = failed.get(tenant) {
                results[index] = Some(Err(copy_error(e)));
            } else if lost.contains(tenant) {
                results[index] = None;
                redo.push(index);
            }
        }
        for (echo, first) in echoes {
            if lost.contains(commands[echo].0) {
                continue;
            }
            results[echo] = Some(match &results[first] {
                Some(Ok(first)) => {
                    Ok(Submitted { outcome: first.outcome.clone(), seq: first.seq, retried: true, stored: Vec::new() })
                }
                Some(Err(e)) => Err(copy_error(e)),
                None => Err(ServiceError::UnknownTenant(String::new())),
            });
        }
        redo
    }

    /// Loads `tenant` for a round (its catching up happens under the round's lock).
    fn load_for_round(&mut self, tenant: &str) -> Result<(), ServiceError> {
        self.uses += 1;
        if !self.tenants.contains_key(tenant) {
            self.make_room();
            let served = self.load(tenant)?;
            self.memory += served.memory;
            self.tenants.insert(tenant.to_owned(), served);
            metrics::counter!("agentstate_tenant_loads_total").increment(1);
            metrics::gauge!("agentstate_tenants_loaded").set(self.tenants.len() as f64);
        }
        if let Some(served) = self.tenants.get_mut(tenant) {
            served.used = self.uses;
        }
        Ok(())
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

    /// Records a stored command: its tenant's log end, its snapshot cadence, its result.
    fn finish(&mut self, done: &Decided<'_>, seq: Seq, results: &mut [Option<Result<Submitted, ServiceError>>]) {
        let count = done.events.len() as u64;
        if let Some(served) = self.tenants.get_mut(done.tenant) {
            served.seq = seq;
        }
        if let Err(e) = self.count_towards_snapshot(done.tenant, count) {
            // The events are stored; only the snapshot failed. The next cadence tries
            // again, and the log alone rebuilds the tenant meanwhile.
            tracing::warn!(tenant = done.tenant, error = %e, "storing a snapshot failed");
        }
        let stored = (seq + 1 - count..=seq).zip(done.events.iter().cloned()).collect();
        results[done.index] = Some(Ok(Submitted { outcome: done.outcome.clone(), seq, retried: false, stored }));
    }

    /// Undoes this round's decisions on `tenant`'s instance; one that cannot be rolled back
    /// is loaded again on its next request.
    fn roll_back(&mut self, tenant: &str, mark: Mark) {
        let Some(served) = self.tenants.get_mut(tenant) else { return };
        if served.wasm.rollback(mark).is_err() {
            self.unload(tenant);
        }
    }

    /// The tenant loaded and caught up with everything stored for it.
    fn ready(&mut self, tenant: &str) -> Result<&mut Served, ServiceError> {
        self.uses += 1;
        let uses = self.uses;
        if !self.tenants.contains_key(tenant) {
            self.make_room();
            let served = self.load(tenant)?;
            self.memory += served.memory;
            self.tenants.insert(tenant.to_owned(), served);
            metrics::counter!("agentstate_tenant_loads_total").increment(1);
            metrics::gauge!("agentstate_tenants_loaded").set(self.tenants.len() as f64);
        }
        let Some(served) = self.tenants.get_mut(tenant) else {
            return Err(ServiceError::UnknownTenant(tenant.to_owned()));
        };
        served.used = uses;
        let store = &self.store;
        let caught_up = catch_up(&mut |after| store.events_after(tenant, after, REPLAY_CHUNK), served);
        let grown = served.wasm.memory_bytes();
        self.memory = self.memory + grown - served.memory.min(grown);
        served.memory = grown;
        match caught_up {
            Ok(()) => {}
            Err(ServiceError::Host(e)) => {
                self.unload(tenant);
                return Err(e.into());
            }
            Err(e) => return Err(e),
        }
        self.tenants.get_mut(tenant).ok_or_else(|| ServiceError::UnknownTenant(tenant.to_owned()))
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
        self.round_began = self.uses + 1;
        Ok(wall.max(self.ready(tenant)?.last_at))
    }

    /// The state as of sequence number `seq`, as one consistent pair.
    pub fn snapshot(&mut self, tenant: &str) -> Result<(Seq, String), ServiceError> {
        self.round_began = self.uses + 1;
        let served = self.ready(tenant)?;
        let seq = served.seq;
        Ok((seq, served.wasm.snapshot()?))
    }

    /// Every event that touched `user`, from the whole log — the tenant's description
    /// first, then every stored event (an instance holds only the events since its
    /// snapshot); the module picks them, chunk by chunk.
    pub fn history(&mut self, tenant: &str, user: &str) -> Result<String, ServiceError> {
        self.round_began = self.uses + 1;
        self.ready(tenant)?;
        let parse = |answer: String| -> Result<Vec<Box<serde_json::value::RawValue>>, ServiceError> {
            serde_json::from_str(&answer)
                .map_err(|e| HostError::Malformed { call: "query", problem: format!("history: {e}") }.into())
        };
        // The log begins with the tenant's description, folded into events by the module:
        // a scratch instance started from it has exactly those in its journal.
        let user_query = format!(r#"{{"view":"history","user":{}}}"#, json_string(user));
        let mut scratch = WasmTenant::new(self.runtime.clone())?;
        scratch.start(&self.store.description(tenant)?)?;
        let mut found = parse(scratch.query(&user_query)?)?;
        let served = self.tenants.get_mut(tenant).ok_or_else(|| ServiceError::UnknownTenant(tenant.to_owned()))?;
        let store = &self.store;
        each_chunk(&mut |after| store.events_after(tenant, after, REPLAY_CHUNK), 0, |events, _, _| {
            let query = format!(r#"{{"view":"history","user":{},"events":{events}}}"#, json_string(user));
            found.extend(parse(served.wasm.query(&query)?)?);
            Ok(())
        })?;
        Ok(format!("[{}]", found.iter().map(|e| e.get()).collect::<Vec<_>>().join(",")))
    }

    /// Creates an access token for `actor` of `tenant` (see [`crate::tokens::issue`]).
    pub fn issue_token(&mut self, tenant: &str, actor: &str) -> Result<String, String> {
        crate::tokens::issue(&mut self.store, tenant, actor)
    }

    /// Who the token with this hash speaks for.
    pub fn token(&self, hash: &str) -> Result<Option<TokenGrant>, ServiceError> {
        Ok(self.store.token(hash)?)
    }

    /// Answers a view query (JSON) for `tenant`, on the state caught up with the log.
    pub fn query(&mut self, tenant: &str, query: &str) -> Result<String, ServiceError> {
        self.round_began = self.uses + 1;
        let answer = self.ready(tenant)?.wasm.query(query)?;
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

    /// Loads a tenant: its newest snapshot plus the log after it.
    fn load(&self, tenant: &str) -> Result<Served, ServiceError> {
        let mut wasm = WasmTenant::new(self.runtime.clone())?;
        let (seq, description) = match self.store.latest_snapshot(tenant) {
            Ok(Some((seq, snapshot))) => {
                wasm.restore(&snapshot)?;
                (seq, None)
            }
            Ok(None) => (0, Some(self.store.description(tenant)?)),
            Err(StoreError::UnknownTenant(t)) => return Err(ServiceError::UnknownTenant(t)),
            Err(e) => return Err(e.into()),
        };
        if let Some(description) = description {
            wasm.start(&description)?;
        }
        // The snapshot's own time is that of the event it is as of.
        let last_at = match seq {
            0 => 0,
            seq => self.store.events_after(tenant, seq - 1, 1)?.first().map_or(0, |(_, e)| at_of(e)),
        };
        let mut served = Served { memory: wasm.memory_bytes(), wasm, seq, last_at, since_snapshot: 0, used: self.uses };
        catch_up(&mut |after| self.store.events_after(tenant, after, REPLAY_CHUNK), &mut served)?;
        served.memory = served.wasm.memory_bytes();
        Ok(served)
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
/// `read` gives the chunk of the log after a sequence number.
fn catch_up(
    read: &mut dyn FnMut(Seq) -> Result<Vec<(Seq, String)>, StoreError>,
    served: &mut Served,
) -> Result<(), ServiceError> {
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

/// Reads a log after `after` in chunks of [`REPLAY_CHUNK`] (`read` gives the chunk after a
/// sequence number), handing each to `each` as a JSON array (the form the module takes)
/// with its length and its last event.
fn each_chunk(
    read: &mut dyn FnMut(Seq) -> Result<Vec<(Seq, String)>, StoreError>,
    after: Seq,
    mut each: impl FnMut(&str, usize, (Seq, &str)) -> Result<(), ServiceError>,
) -> Result<(), ServiceError> {
    let mut next = after;
    loop {
        let chunk = read(next)?;
        let Some((last, last_event)) = chunk.last() else { return Ok(()) };
        next = *last;
        let events = format!("[{}]", chunk.iter().map(|(_, e)| e.as_str()).collect::<Vec<_>>().join(","));
        each(&events, chunk.len(), (*last, last_event))?;
        if chunk.len() < REPLAY_CHUNK {
            return Ok(());
        }
    }
}

/// The command's JSON with `at` added (the API refuses commands that carry one).
fn stamped(fields: &Map<String, Value>, at: u64) -> String {
    let text = serde_json::to_string(fields).unwrap_or_default();
    match text.strip_suffix('}') {
        Some(open) if open.len() > 1 => format!("{open},\"at\":{at}}}"),
        _ => format!("{{\"at\":{at}}}"),
    }
}

fn copy_error(e: &ServiceError) -> ServiceError {
    match e {
        ServiceError::UnknownTenant(t) => ServiceError::UnknownTenant(t.clone()),
        ServiceError::Store(e) => ServiceError::Store(e.clone()),
        ServiceError::Host(e) => ServiceError::Host(HostError::Rebuild(e.to_string())),
    }
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}
