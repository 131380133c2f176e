//! Retention: a tenant keeps its events for a configured time. Older events are folded
//! into a base snapshot — the state as of the last of them — and deleted with the
//! snapshots before it and the outcomes of the commands decided before it. Loading a
//! tenant stays "newest snapshot plus the log after it", history and the activity report
//! read the kept log from that base, and nothing inside the window changes: its events,
//! the states they fold to, the views of those states and the outcomes of its commands.
//!
//! A prune advances the base in steps of about [`PRUNE_CHUNK`] events, each one
//! transaction of its own, so a large backlog never holds the tenant's log (or, on SQLite,
//! the writer) for long; each step leaves a complete base behind, so a host stopped half
//! way loses nothing.

use agentstate_runtime::WasmTenant;

use super::{REPLAY_CHUNK, ServiceError, TenantService, at_of};
use crate::store::{LogBase, Pruned, Seq, StoreError};

/// About how many events one prune step folds and deletes (a step never splits the events
/// of one instant, so it may take more when many share one `at`).
pub const PRUNE_CHUNK: usize = 10_000;

/// Where a tenant's kept log begins once older events were pruned: what history and
/// reports say (`Log-Begins: seq=…, at=…`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogBegins {
    /// The first kept sequence number (it may not be stored yet, when every event was old).
    pub seq: Seq,
    /// Every event at or after this time (Unix ms) is kept, none before it; a report from
    /// it on is exact.
    pub at: u64,
}

/// How long tenants keep their events, and how often a server prunes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Events older than this (milliseconds before now) are pruned.
    pub keep_ms: u64,
    /// How often a server prunes (at start, then every this often).
    pub every: std::time::Duration,
}

impl Retention {
    /// Keep `days` days of events; prune hourly.
    pub fn days(days: u32) -> Retention {
        Retention { keep_ms: u64::from(days) * 86_400_000, every: std::time::Duration::from_secs(3600) }
    }

    /// The cutoff at `now` (Unix ms): events before it go.
    pub fn cutoff(&self, now: u64) -> u64 {
        now.saturating_sub(self.keep_ms)
    }
}

/// What one prune step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Step {
    pub pruned: Pruned,
    /// Whether older events than the cutoff may remain (call again).
    pub more: bool,
}

impl TenantService {
    /// Where the kept log of `tenant` begins; `None` while nothing was ever pruned.
    pub fn log_begins(&self, tenant: &str) -> Result<Option<LogBegins>, ServiceError> {
        Ok(self.base(tenant)?.map(|base| LogBegins { seq: base.seq + 1, at: base.at }))
    }

    pub(super) fn base(&self, tenant: &str) -> Result<Option<LogBase>, ServiceError> {
        match self.store.log_base(tenant) {
            Err(StoreError::UnknownTenant(t)) => Err(ServiceError::UnknownTenant(t)),
            other => Ok(other?),
        }
    }

    /// Prunes every event of `tenant` before `cutoff` (Unix ms), step after step (see
    /// [`TenantService::prune_step`]); what it deleted.
    pub fn prune(&mut self, tenant: &str, cutoff: u64) -> Result<Pruned, ServiceError> {
        let mut total = Pruned::default();
        loop {
            let step = self.prune_step(tenant, cutoff)?;
            total += step.pruned;
            if !step.more {
                return Ok(total);
            }
        }
    }

    /// Folds up to about [`PRUNE_CHUNK`] of the events of `tenant` before `cutoff` into a
    /// new base snapshot and deletes them, in one transaction. Nothing to do is no error;
    /// another host pruning the same tenant at the same time makes this step do nothing.
    pub fn prune_step(&mut self, tenant: &str, cutoff: u64) -> Result<Step, ServiceError> {
        let expected = self.base(tenant)?.map_or(0, |base| base.seq);
        let Some((seq, next_at)) = self.prune_until(tenant, expected, cutoff)? else {
            return Ok(Step::default());
        };
        // The state as of `seq`: from the newest snapshot at or before it (the current
        // base, or one of the cadence's), folded on in a scratch instance.
        let mut scratch = WasmTenant::new(self.runtime.clone())?;
        let from = match self.store.snapshot_as_of(tenant, seq)? {
            Some((at, snapshot)) if at >= expected => {
                scratch.restore(&snapshot)?;
                at
            }
            _ if expected == 0 => {
                scratch.start(&self.store.description(tenant)?)?;
                0
            }
            // The base's own snapshot is missing: another host is pruning this tenant
            // right now. Its step stands; this one does nothing.
            _ => return Ok(Step::default()),
        };
        let mut after = from;
        while after < seq {
            let chunk = self.store.events_after(tenant, after, REPLAY_CHUNK.min((seq - after) as usize))?;
            let Some((last, _)) = chunk.last() else { break };
            if chunk.first().map(|(first, _)| *first) != Some(after + 1) {
                return Ok(Step::default());
            }
            after = *last;
            let events = format!("[{}]", chunk.iter().map(|(_, e)| e.as_str()).collect::<Vec<_>>().join(","));
            scratch.apply(&events)?;
        }
        if after != seq {
            return Ok(Step::default());
        }
        let snapshot = scratch.snapshot()?;
        drop(scratch);
        // Every event at or after `at` is kept and none before it: the cutoff once the
        // prune is through, else the time of the first event this step keeps (a step
        // ends between two instants, never inside one).
        let at = next_at.map_or(cutoff, |next| next.min(cutoff));
        let more = next_at.is_some_and(|next| next < cutoff);
        match self.store.rebase(tenant, expected, LogBase { seq, at }, &snapshot) {
            Ok(pruned) => {
                metrics::counter!("agentstate_pruned_events_total").increment(pruned.events);
                // A loaded instance behind the new base cannot catch up from the log any
                // more: it is loaded again on its next use (from the base).
                if self.tenants.get(tenant).is_some_and(|served| served.seq < seq) {
                    self.unload(tenant);
                }
                Ok(Step { pruned, more })
            }
            Err(StoreError::Conflict(_)) => Ok(Step::default()),
            Err(e) => Err(e.into()),
        }
    }

    /// The last event a prune step after `base` folds: the last one before `cutoff`, or
    /// the last of an instant once [`PRUNE_CHUNK`] events are passed; with the `at` of the
    /// event after it, when there is one. `None` when no event before `cutoff` is kept.
    fn prune_until(&self, tenant: &str, base: Seq, cutoff: u64) -> Result<Option<(Seq, Option<u64>)>, ServiceError> {
        let mut until: Option<(Seq, u64)> = None;
        let mut after = base;
        let mut seen = 0usize;
        loop {
            let chunk = self.store.events_after(tenant, after, REPLAY_CHUNK)?;
            for (seq, event) in &chunk {
                let at = at_of(event);
                // The log is in time order: the first event of the window ends the prune.
                if at >= cutoff {
                    return Ok(until.map(|(seq, _)| (seq, Some(at))));
                }
                if let Some((_, last_at)) = until
                    && seen >= PRUNE_CHUNK
                    && at > last_at
                {
                    return Ok(until.map(|(seq, _)| (seq, Some(at))));
                }
                until = Some((*seq, at));
                seen += 1;
            }
            match chunk.last() {
                Some((last, _)) if chunk.len() == REPLAY_CHUNK => after = *last,
                _ => return Ok(until.map(|(seq, _)| (seq, None))),
            }
        }
    }

    /// Prunes every tenant of the store (see [`TenantService::prune`]).
    pub fn prune_all(&mut self, cutoff: u64) -> Result<Pruned, ServiceError> {
        let mut total = Pruned::default();
        for tenant in self.store.tenants()? {
            total += self.prune(&tenant, cutoff)?;
        }
        Ok(total)
    }

    /// Every tenant's id (what a periodic prune walks through, one step at a time).
    pub fn tenant_ids(&self) -> Result<Vec<String>, ServiceError> {
        Ok(self.store.tenants()?)
    }
}
