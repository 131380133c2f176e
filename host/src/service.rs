//! Tenants served durably: each tenant's state lives in its wasm instance, its log in the
//! [`EventStore`]. A command is decided in the instance and its events appended to the
//! store before the outcome is returned, so an acknowledged command is never lost; a
//! command id already decided returns its stored outcome instead of deciding again.
//! Opening the service rebuilds every tenant from its newest snapshot plus the log after it.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;

use crate::store::{EventStore, Seq, StoreError};
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
        let id = serde_json::from_str::<CommandId>(command).ok().and_then(|c| c.id).map(|id| id.into_owned());
        if let Some(id) = &id
            && let Some(outcome) = self.store.outcome(tenant, id)?
        {
            return Ok(Submitted { outcome, seq: self.store.last_seq(tenant)?, retried: true });
        }
        let served = self.tenants.get_mut(tenant).ok_or_else(|| ServiceError::UnknownTenant(tenant.to_owned()))?;
        let decision = served.wasm.handle_with_events(command)?;
        let (outcome, accepted) = (decision.outcome, decision.accepted);
        let events: Vec<String> = decision.events.iter().map(|e| e.get().to_owned()).collect();
        // Only accepted commands and commands with an id leave a trace in the store.
        if !accepted && id.is_none() {
            return Ok(Submitted { outcome, seq: self.store.last_seq(tenant)?, retried: false });
        }
        match self.store.append(tenant, id.as_deref(), &outcome, &events) {
            Ok(seq) => {
                served.since_snapshot += events.len() as u64;
                if served.since_snapshot >= self.snapshot_every {
                    let snapshot = served.wasm.snapshot()?;
                    self.store.put_snapshot(tenant, seq, &snapshot)?;
                    served.since_snapshot = 0;
                }
                Ok(Submitted { outcome, seq, retried: false })
            }
            Err(e) => {
                // The instance applied what the store refused: reload it from the store.
                let rebuilt = self.rebuild(tenant)?;
                self.tenants.insert(tenant.to_owned(), rebuilt);
                Err(e.into())
            }
        }
    }

    /// Answers a view query (JSON) for `tenant`.
    pub fn query(&mut self, tenant: &str, query: &str) -> Result<String, ServiceError> {
        let served = self.tenants.get_mut(tenant).ok_or_else(|| ServiceError::UnknownTenant(tenant.to_owned()))?;
        Ok(served.wasm.query(query)?)
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
        let mut next = after;
        let mut since_snapshot = 0;
        loop {
            let chunk = self.store.events_after(tenant, next, REPLAY_CHUNK)?;
            let Some((last, _)) = chunk.last() else { break };
            next = *last;
            since_snapshot += chunk.len() as u64;
            let events = format!("[{}]", chunk.iter().map(|(_, e)| e.as_str()).collect::<Vec<_>>().join(","));
            wasm.apply(&events)?;
        }
        Ok(Served { wasm, since_snapshot })
    }
}
