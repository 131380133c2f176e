//! Tenants served durably: each tenant's state lives in its wasm instance, its log in the
//! [`EventStore`]. A command is decided in the instance and its events appended to the
//! store before the outcome is returned, so an acknowledged command is never lost; a
//! command id already decided returns its stored outcome instead of deciding again.
//! Opening the service rebuilds every tenant from its newest snapshot plus the log after it.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;

use crate::store::{Append, EventStore, Seq, StoreError, TokenGrant};
use crate::wasm_engine::{HostError, Runtime, WasmTenant};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("there is no tenant {0}")]
    UnknownTenant(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Host(#[from] HostError),
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

/// A decided command on its way into the store.
struct Decided<'a> {
    index: usize,
    tenant: &'a str,
    id: Option<String>,
    outcome: String,
    events: Vec<String>,
}

struct Served {
    wasm: WasmTenant,
    since_snapshot: u64,
}

/// Every tenant of a store, each in its own instance.
pub struct TenantService<S: EventStore> {
    store: S,
    runtime: Arc<Runtime>,
    tenants: BTreeMap<String, Served>,
    snapshot_every: u64,
}

impl<S: EventStore> std::fmt::Debug for TenantService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantService").field("tenants", &self.tenants.keys()).finish_non_exhaustive()
    }
}

/// How many events are folded per `apply` call while rebuilding.
const REPLAY_CHUNK: usize = 10_000;

#[derive(Deserialize)]
struct CommandId<'a> {
    #[serde(default, borrow)]
    id: Option<std::borrow::Cow<'a, str>>,
}

impl<S: EventStore> TenantService<S> {
    /// Opens the service on `store`, rebuilding every tenant; a snapshot is stored every
    /// `snapshot_every` events.
    pub fn open(store: S, runtime: Arc<Runtime>, snapshot_every: u64) -> Result<Self, ServiceError> {
        let mut service = TenantService { store, runtime, tenants: BTreeMap::new(), snapshot_every };
        for tenant in service.store.tenants()? {
            let served = service.rebuild(&tenant)?;
            service.tenants.insert(tenant, served);
        }
        Ok(service)
    }

    /// Every tenant, by id.
    pub fn tenants(&self) -> impl Iterator<Item = &str> {
        self.tenants.keys().map(String::as_str)
    }

    /// Creates a tenant from its description; refused when the description is not a
    /// tenant or the id is taken.
    pub fn create_tenant(&mut self, tenant: &str, description: &str) -> Result<(), ServiceError> {
        let mut wasm = WasmTenant::new(self.runtime.clone())?;
        wasm.start(description)?;
        self.store.create_tenant(tenant, description)?;
        self.tenants.insert(tenant.to_owned(), Served { wasm, since_snapshot: 0 });
        Ok(())
    }

    /// Decides one command (JSON) for `tenant` and stores its events durably.
    pub fn submit(&mut self, tenant: &str, command: &str) -> Result<Submitted, ServiceError> {
        let mut results = self.submit_all(&[(tenant, command)]);
        results.pop().unwrap_or_else(|| Err(ServiceError::UnknownTenant(tenant.to_owned())))
    }

    /// Decides commands in turn, each `(tenant, command JSON)`, and stores all their events
    /// in one transaction (group commit) before returning: one sync to disk for all of
    /// them. A command id seen before — in the store or earlier in `commands` — gets its
    /// first outcome back. When the store refuses the transaction, every command of it
    /// fails and the tenants it touched are reloaded from the store.
    pub fn submit_all(&mut self, commands: &[(&str, &str)]) -> Vec<Result<Submitted, ServiceError>> {
        let mut results: Vec<Result<Submitted, ServiceError>> = Vec::with_capacity(commands.len());
        let mut decided: Vec<Decided<'_>> = Vec::new();
        // A command id seen earlier in this call: (its index, the first one's index).
        let mut echoes: Vec<(usize, usize)> = Vec::new();
        let mut in_flight: BTreeMap<(&str, String), usize> = BTreeMap::new();
        for &(tenant, command) in commands {
            let index = results.len();
            self.load(tenant);
            let id = serde_json::from_str::<CommandId>(command).ok().and_then(|c| c.id).map(|id| id.into_owned());
            if let Some(id) = &id {
                if let Some(&first) = in_flight.get(&(tenant, id.clone())) {
                    echoes.push((index, first));
                    results.push(Ok(Submitted { outcome: String::new(), seq: 0, retried: true, stored: Vec::new() }));
                    continue;
                }
                match self.store.outcome(tenant, id) {
                    Ok(Some(outcome)) => {
                        let seq = self.store.last_seq(tenant).unwrap_or_default();
                        results.push(Ok(Submitted { outcome, seq, retried: true, stored: Vec::new() }));
                        continue;
                    }
                    Ok(None) => {}
                    Err(StoreError::UnknownTenant(t)) => {
                        results.push(Err(ServiceError::UnknownTenant(t)));
                        continue;
                    }
                    Err(e) => {
                        results.push(Err(e.into()));
                        continue;
                    }
                }
            }
            let Some(served) = self.tenants.get_mut(tenant) else {
                results.push(Err(ServiceError::UnknownTenant(tenant.to_owned())));
                continue;
            };
            let decision = match served.wasm.handle_with_events(command) {
                Ok(decision) => decision,
                Err(e) => {
                    results.push(Err(e.into()));
                    continue;
                }
            };
            let events: Vec<String> = decision.events.iter().map(|e| e.get().to_owned()).collect();
            // Only accepted commands and commands with an id leave a trace in the store.
            if !decision.accepted && id.is_none() {
                results.push(Ok(Submitted { outcome: decision.outcome, seq: 0, retried: false, stored: Vec::new() }));
                continue;
            }
            if let Some(id) = &id {
                in_flight.insert((tenant, id.clone()), index);
            }
            results.push(Ok(Submitted { outcome: String::new(), seq: 0, retried: false, stored: Vec::new() }));
            decided.push(Decided { index, tenant, id, outcome: decision.outcome, events });
        }
        let stored = if decided.is_empty() {
            Ok(Vec::new())
        } else {
            let appends: Vec<Append<'_>> = decided
                .iter()
                .map(|d| Append {
                    tenant: d.tenant,
                    command_id: d.id.as_deref(),
                    outcome: &d.outcome,
                    events: &d.events,
                })
                .collect();
            self.store.append_all(&appends)
        };
        match stored {
            Ok(seqs) => {
                for (done, seq) in decided.into_iter().zip(seqs) {
                    let count = done.events.len() as u64;
                    if let Err(e) = self.count_towards_snapshot(done.tenant, count, seq) {
                        // The events are stored; only the snapshot failed. The next cadence
                        // tries again, and the log alone rebuilds the tenant meanwhile.
                        tracing::warn!(tenant = done.tenant, error = %e, "storing a snapshot failed");
                    }
                    if let Some(Ok(result)) = results.get_mut(done.index) {
                        result.seq = seq;
                        result.outcome = done.outcome;
                        result.stored = (seq + 1 - count..=seq).zip(done.events).collect();
                    }
                }
            }
            Err(e) => {
                let touched: std::collections::BTreeSet<&str> = decided.iter().map(|d| d.tenant).collect();
                for done in &decided {
                    if let Some(slot) = results.get_mut(done.index) {
                        *slot = Err(ServiceError::Store(e.clone()));
                    }
                }
                // The instances applied what the store refused: reload them from the store.
                for tenant in touched {
                    match self.rebuild(tenant) {
                        Ok(rebuilt) => {
                            self.tenants.insert(tenant.to_owned(), rebuilt);
                        }
                        Err(_) => {
                            self.tenants.remove(tenant);
                        }
                    }
                }
            }
        }
        for (echo, first) in echoes {
            let copy = match results.get(first) {
                Some(Ok(first)) => {
                    Ok(Submitted { outcome: first.outcome.clone(), seq: first.seq, retried: true, stored: Vec::new() })
                }
                Some(Err(ServiceError::Store(e))) => Err(ServiceError::Store(e.clone())),
                _ => Err(ServiceError::UnknownTenant(String::new())),
            };
            if let Some(slot) = results.get_mut(echo) {
                *slot = copy;
            }
        }
        results
    }

    fn count_towards_snapshot(&mut self, tenant: &str, events: u64, seq: Seq) -> Result<(), ServiceError> {
        let Some(served) = self.tenants.get_mut(tenant) else { return Ok(()) };
        served.since_snapshot += events;
        if served.since_snapshot >= self.snapshot_every {
            let snapshot = served.wasm.snapshot()?;
            self.store.put_snapshot(tenant, seq, &snapshot)?;
            served.since_snapshot = 0;
            // The instance starts over from what was just stored: the journal it keeps for
            // its own history (the server reads history from the log) and the events kept
            // for its recovery are bounded by the snapshot cadence, not by the log.
            served.wasm.restore(&snapshot)?;
        }
        Ok(())
    }

    /// The tenant's last sequence number.
    pub fn last_seq(&self, tenant: &str) -> Result<Seq, ServiceError> {
        Ok(self.store.last_seq(tenant)?)
    }

    /// The `at` of the tenant's newest event (0 for an empty log), so a host stamping
    /// commands with its clock never goes behind what is stored.
    pub fn last_at(&self, tenant: &str) -> Result<u64, ServiceError> {
        #[derive(Deserialize)]
        struct At {
            at: u64,
        }
        let last = self.store.last_seq(tenant)?;
        let tail = self.store.events_after(tenant, last.saturating_sub(1), 1)?;
        Ok(tail.first().and_then(|(_, e)| serde_json::from_str::<At>(e).ok()).map_or(0, |e| e.at))
    }

    /// The state as of sequence number `seq`, as one consistent pair.
    pub fn snapshot(&mut self, tenant: &str) -> Result<(Seq, String), ServiceError> {
        let seq = self.store.last_seq(tenant)?;
        Ok((seq, self.query(tenant, r#"{"view":"snapshot"}"#)?))
    }

    /// Every event that touched `user`, from the whole log — the tenant's description
    /// first, then every stored event (an instance holds only the events since its
    /// snapshot); the module picks them, chunk by chunk.
    pub fn history(&mut self, tenant: &str, user: &str) -> Result<String, ServiceError> {
        self.load(tenant);
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
        each_chunk(&self.store, tenant, 0, |events, _| {
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

    /// Serves a tenant created in the store by another process (`agentstate tenant
    /// create` beside a running server) from its first request on.
    fn load(&mut self, tenant: &str) {
        if self.tenants.contains_key(tenant) || self.store.description(tenant).is_err() {
            return;
        }
        match self.rebuild(tenant) {
            Ok(served) => {
                self.tenants.insert(tenant.to_owned(), served);
            }
            Err(e) => tracing::error!(tenant, error = %e, "cannot rebuild the tenant"),
        }
    }

    /// Answers a view query (JSON) for `tenant`.
    pub fn query(&mut self, tenant: &str, query: &str) -> Result<String, ServiceError> {
        self.load(tenant);
        let served = self.tenants.get_mut(tenant).ok_or_else(|| ServiceError::UnknownTenant(tenant.to_owned()))?;
        Ok(served.wasm.query(query)?)
    }

    /// The linear memory of the tenant's instance, in bytes (for operators and tests).
    pub fn instance_memory(&self, tenant: &str) -> Option<usize> {
        self.tenants.get(tenant).map(|served| served.wasm.memory_bytes())
    }

    /// Up to `limit` stored events of `tenant` after `after` (for live feeds).
    pub fn events_after(&self, tenant: &str, after: Seq, limit: usize) -> Result<Vec<(Seq, String)>, ServiceError> {
        Ok(self.store.events_after(tenant, after, limit)?)
    }

    fn rebuild(&self, tenant: &str) -> Result<Served, ServiceError> {
        let mut wasm = WasmTenant::new(self.runtime.clone())?;
        let after = match self.store.latest_snapshot(tenant)? {
            Some((seq, snapshot)) => {
                wasm.restore(&snapshot)?;
                seq
            }
            None => {
                wasm.start(&self.store.description(tenant)?)?;
                0
            }
        };
        let mut since_snapshot = 0;
        each_chunk(&self.store, tenant, after, |events, count| {
            since_snapshot += count as u64;
            Ok(wasm.apply(events)?)
        })?;
        Ok(Served { wasm, since_snapshot })
    }
}

/// Reads the tenant's log after `after` in chunks of [`REPLAY_CHUNK`], handing each to
/// `each` as a JSON array (the form the module takes) with its length.
fn each_chunk<S: EventStore>(
    store: &S,
    tenant: &str,
    after: Seq,
    mut each: impl FnMut(&str, usize) -> Result<(), ServiceError>,
) -> Result<(), ServiceError> {
    let mut next = after;
    loop {
        let chunk = store.events_after(tenant, next, REPLAY_CHUNK)?;
        let Some((last, _)) = chunk.last() else { return Ok(()) };
        next = *last;
        let events = format!("[{}]", chunk.iter().map(|(_, e)| e.as_str()).collect::<Vec<_>>().join(","));
        each(&events, chunk.len())?;
    }
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}
