//! Reads of the stored log on connections of their own, never on the writer thread that
//! commits every tenant's commands: history pages, day reports, the state a feed or a
//! snapshot starts from, and a feed's catch-up. A few run at once (`slots`); heavy ones
//! (reports, a tenant's whole state) never take more than half of them, so a flood of
//! reports leaves room for pages, and a tenant's reads of each kind queue behind each
//! other, not before every other tenant's. Each costs what it answers: a history page is
//! read through the index of each user's events, a report folds on from the snapshot
//! nearest its start, found by time.
//!
//! These folds run the core natively — the same crate the plugin module is built from —
//! on what the writer's instances already decided: nothing here decides a command.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::retention::LogBegins;
use super::{PRUNED_RETRIES, REPLAY_CHUNK, ServiceError, at_of};
use crate::store::{EventLog, Seq, Store, StoreConfig, StoreError};
use agentstate_core::views::ActivityReport;
use agentstate_core::{Event, State, TenantSeed};

/// Most events on one history page, and the page a client gets when it names none.
pub const HISTORY_MAX: usize = 1000;
pub const HISTORY_DEFAULT: usize = 100;

/// The longest range a day report covers.
pub const REPORT_MAX_MS: u64 = 31 * 86_400_000;

/// Why a report's range is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("`to` is before `from`")]
    Reversed,
    #[error("a report covers at most 31 days")]
    TooLong,
}

/// The range a report covers, checked before anything is read: `to` not before `from`, at
/// most [`REPORT_MAX_MS`] apart; time after `now` has not happened (it is not counted,
/// as signed out or otherwise), so both end at `now` at the latest.
pub fn report_range(from: u64, to: u64, now: u64) -> Result<(u64, u64), RangeError> {
    if to < from {
        return Err(RangeError::Reversed);
    }
    // Time after now is not counted, so it does not count against the longest range
    // either: an hour ending next month is an hour.
    let (from, to) = (from.min(now), to.min(now));
    if to - from > REPORT_MAX_MS {
        return Err(RangeError::TooLong);
    }
    Ok((from, to))
}

/// Tenants whose state (as of some event) reads keep, to fold on from.
const STATES_KEPT: usize = 16;
/// Tenants whose description (per user) reads keep.
const DESCRIPTIONS_KEPT: usize = 64;

/// Reads of the stored log, apart from the writer.
pub struct Reads {
    /// To the reading threads, each with its own connection.
    jobs: Mutex<std::sync::mpsc::Sender<Job>>,
    slots: Arc<Semaphore>,
    /// Heavy reads running, of all tenants (at most half the slots).
    heavy: Arc<Semaphore>,
    /// Each tenant's turns, per kind of read.
    tenants: Mutex<HashMap<(String, Cost), Arc<Semaphore>>>,
    states: Mutex<HashMap<String, Arc<(Seq, State)>>>,
    described: Mutex<HashMap<String, Arc<Described>>>,
}

impl std::fmt::Debug for Reads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reads").field("slots", &self.slots.available_permits()).finish_non_exhaustive()
    }
}

/// The events of a tenant's description, by the people they touch (a history's oldest
/// page while nothing was pruned).
type Described = HashMap<String, Vec<Event>>;

/// A read, run on a reading thread with its connection (or why it has none).
type Job = Box<dyn FnOnce(Result<&dyn EventLog, StoreError>) + Send>;

/// How much less CPU time a reading thread gets than the writer and the request handlers
/// when they compete for it: niceness 9 (of -20…19; `thread_priority`'s 25 of 0…99). A
/// flood of reports then takes the cores only while nothing else wants them, so commands
/// and views of every tenant keep their latency; reads only wait longer.
const READER_PRIORITY: u8 = 25;

/// What a read costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Cost {
    /// A page, a chunk of the log: a few milliseconds.
    Light,
    /// A report, a tenant's whole state: a fold of up to a day's events or more.
    Heavy,
}

/// One page of a user's history, newest first.
#[derive(Debug)]
pub struct HistoryPage {
    /// Each event with its sequence number; 0 for those of the tenant's description.
    pub events: Vec<(Seq, Event)>,
    /// Where the next (older) page ends (`before`), while there is one.
    pub next_before: Option<Seq>,
    pub begins: Option<LogBegins>,
}

impl Reads {
    /// Reads of the store `config` opens, `slots` at a time (at least two: one always free
    /// for a light read).
    pub fn new(config: StoreConfig, slots: usize) -> Result<Reads, std::io::Error> {
        let slots = slots.max(2);
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..slots {
            let (config, queue) = (config.clone(), queue.clone());
            std::thread::Builder::new()
                .name(format!("agentstate-reader-{n}"))
                .spawn(move || read_jobs(&config, &queue))?;
        }
        Ok(Reads {
            jobs: Mutex::new(jobs),
            slots: Arc::new(Semaphore::new(slots)),
            heavy: Arc::new(Semaphore::new(slots / 2)),
            tenants: Mutex::default(),
            states: Mutex::default(),
            described: Mutex::default(),
        })
    }

    /// As many reads at once as the machine has cores, at least two.
    pub fn slots_for_this_machine() -> usize {
        std::thread::available_parallelism().map_or(2, |n| n.get()).max(2)
    }

    /// Runs `work` on a reading thread's connection once it is the tenant's turn for this
    /// kind of read and a slot (of the heavy ones, for a heavy read) is free.
    async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        tenant: &str,
        cost: Cost,
        work: impl FnOnce(&Reads, &dyn EventLog) -> Result<T, ServiceError> + Send + 'static,
    ) -> Result<T, ServiceError> {
        let turn = self.tenant_turn(tenant, cost).await?;
        let heavy = match cost {
            Cost::Heavy => Some(self.heavy.clone().acquire_owned().await.map_err(|_| closed())?),
            Cost::Light => None,
        };
        let _slot = self.slots.clone().acquire_owned().await.map_err(|_| closed())?;
        let (reads, (answer, answered)) = (self.clone(), tokio::sync::oneshot::channel());
        let job: Job = Box::new(move |log| {
            let _ = answer.send(log.map_err(ServiceError::from).and_then(|log| work(&reads, log)));
        });
        let started = std::time::Instant::now();
        self.jobs.lock().map_err(|_| closed())?.send(job).map_err(|_| closed())?;
        // A reading thread that failed (a defect: it panicked) drops the job unanswered.
        let answer = answered.await.map_err(|_| ServiceError::Store(StoreError::Backend("a read failed".into())))?;
        // The tenant's turn (and a heavy slot) stays taken a while after a read, in
        // proportion to it: one tenant's heavy reads, back to back, keep at most half a core
        // busy, its light ones two thirds — the database's processes included, which no
        // niceness of ours reaches.
        let rest = match cost {
            Cost::Heavy => started.elapsed(),
            Cost::Light => started.elapsed() / 2,
        };
        tokio::spawn(async move {
            tokio::time::sleep(rest).await;
            drop((turn, heavy));
        });
        answer
    }

    /// One of the tenant's turns: a tenant's reads queue behind each other, not before
    /// every other tenant's.
    async fn tenant_turn(&self, tenant: &str, cost: Cost) -> Result<OwnedSemaphorePermit, ServiceError> {
        let turns = {
            let mut tenants = self.tenants.lock().map_err(|_| closed())?;
            tenants.entry((tenant.to_owned(), cost)).or_insert_with(|| Arc::new(Semaphore::new(1))).clone()
        };
        turns.acquire_owned().await.map_err(|_| closed())
    }

    /// Up to `limit` events after `after`, in order (a feed catching up).
    pub async fn events_after(
        self: &Arc<Self>,
        tenant: &str,
        after: Seq,
        limit: usize,
    ) -> Result<Vec<(Seq, String)>, ServiceError> {
        let owned = tenant.to_owned();
        self.run(tenant, Cost::Light, move |_, log| log.events_after(&owned, after, limit).map_err(known)).await
    }

    /// Where the kept log begins, once events were pruned.
    pub async fn log_begins(self: &Arc<Self>, tenant: &str) -> Result<Option<LogBegins>, ServiceError> {
        let owned = tenant.to_owned();
        self.run(tenant, Cost::Light, move |_, log| begins(log, &owned)).await
    }

    /// The tenant's whole state as of the end of its stored log, with that sequence
    /// number: folded on from the state reads kept, or from the newest snapshot.
    pub async fn state(self: &Arc<Self>, tenant: &str) -> Result<Arc<(Seq, State)>, ServiceError> {
        let owned = tenant.to_owned();
        self.run(tenant, Cost::Heavy, move |reads, log| reads.state_in(log, &owned)).await
    }

    /// A page of the events that touched `user`, newest first: up to `limit` before
    /// `before` (from the newest when `None`).
    pub async fn history(
        self: &Arc<Self>,
        tenant: &str,
        user: &str,
        before: Option<Seq>,
        limit: usize,
    ) -> Result<HistoryPage, ServiceError> {
        let (owned, user) = (tenant.to_owned(), user.to_owned());
        let limit = limit.clamp(1, HISTORY_MAX);
        self.run(tenant, Cost::Light, move |reads, log| {
            history_page(log, &owned, &user, before, limit, |log| reads.described(log, &owned))
        })
        .await
    }

    /// Each agent's states per channel from `from` to `to` (checked by the caller: at
    /// most [`REPORT_MAX_MS`], not beyond now), folded from the newest snapshot at or
    /// before `from` and the events up to `to`; with where the kept log begins.
    pub async fn activity(
        self: &Arc<Self>,
        tenant: &str,
        from: u64,
        to: u64,
    ) -> Result<(ActivityReport, Option<LogBegins>), ServiceError> {
        let owned = tenant.to_owned();
        self.run(tenant, Cost::Heavy, move |_, log| {
            let report = activity(log, &owned, from, to)?;
            Ok((report, begins(log, &owned)?))
        })
        .await
    }

    fn state_in(&self, log: &dyn EventLog, tenant: &str) -> Result<Arc<(Seq, State)>, ServiceError> {
        let kept = self.states.lock().ok().and_then(|states| states.get(tenant).cloned());
        for attempt in 0..PRUNED_RETRIES {
            let start = match (&kept, attempt) {
                (Some(kept), 0) => kept.clone(),
                _ => Arc::new(self.newest_stored(log, tenant)?),
            };
            let (mut seq, mut state) = (start.0, None::<State>);
            let mut gap = false;
            loop {
                let chunk = log.events_after(tenant, seq, REPLAY_CHUNK).map_err(known)?;
                if chunk.first().is_some_and(|(first, _)| *first != seq + 1) {
                    gap = true;
                    break;
                }
                let state = state.get_or_insert_with(|| start.1.clone());
                for (at, text) in &chunk {
                    agentstate_core::evolve(state, &parse_event(tenant, *at, text)?);
                    seq = *at;
                }
                if chunk.len() < REPLAY_CHUNK {
                    break;
                }
            }
            if gap {
                continue;
            }
            let folded = match state {
                None => start,
                Some(state) => Arc::new((seq, state)),
            };
            if let Ok(mut states) = self.states.lock() {
                if states.len() >= STATES_KEPT && !states.contains_key(tenant) {
                    states.clear();
                }
                states.insert(tenant.to_owned(), folded.clone());
            }
            return Ok(folded);
        }
        Err(StoreError::Conflict(tenant.to_owned()).into())
    }

    /// The newest stored snapshot, or the tenant's description when there is none.
    fn newest_stored(&self, log: &dyn EventLog, tenant: &str) -> Result<(Seq, State), ServiceError> {
        match log.latest_snapshot(tenant).map_err(known)? {
            Some((seq, snapshot)) => Ok((seq, parse_state(tenant, &snapshot)?)),
            None => Ok((0, described_state(log, tenant)?)),
        }
    }

    fn described(&self, log: &dyn EventLog, tenant: &str) -> Result<Arc<Described>, ServiceError> {
        if let Some(found) = self.described.lock().ok().and_then(|d| d.get(tenant).cloned()) {
            return Ok(found);
        }
        let by_user = Arc::new(described_by_user(log, tenant)?);
        if let Ok(mut described) = self.described.lock() {
            if described.len() >= DESCRIPTIONS_KEPT {
                described.clear();
            }
            described.insert(tenant.to_owned(), by_user.clone());
        }
        Ok(by_user)
    }
}

/// A page of the events that touched `user`, newest first: up to `limit` before `before`
/// (from the newest when `None`), read through the store's index of each user's events.
pub fn history(
    log: &dyn EventLog,
    tenant: &str,
    user: &str,
    before: Option<Seq>,
    limit: usize,
) -> Result<HistoryPage, ServiceError> {
    history_page(log, tenant, user, before, limit, |log| Ok(Arc::new(described_by_user(log, tenant)?)))
}

fn history_page(
    log: &dyn EventLog,
    tenant: &str,
    user: &str,
    before: Option<Seq>,
    limit: usize,
    described: impl FnOnce(&dyn EventLog) -> Result<Arc<Described>, ServiceError>,
) -> Result<HistoryPage, ServiceError> {
    let begins = begins(log, tenant)?;
    let before = before.unwrap_or(Seq::MAX);
    let rows = if before == 0 { Vec::new() } else { log.history(tenant, user, before, limit).map_err(known)? };
    let full = rows.len() == limit;
    let mut events = Vec::with_capacity(rows.len());
    for (seq, text) in &rows {
        events.push((*seq, parse_event(tenant, *seq, text)?));
    }
    let mut next_before = rows.last().map(|(seq, _)| *seq).filter(|_| full);
    // The oldest page: the tenant's description, while nothing was pruned. It comes
    // whole (a person's part of it is a few events: created, assigned).
    if !full && begins.is_none() {
        if let Some(theirs) = described(log)?.get(user) {
            events.extend(theirs.iter().rev().map(|event| (0, event.clone())));
        }
        next_before = None;
    }
    Ok(HistoryPage { events, next_before, begins })
}

fn described_by_user(log: &dyn EventLog, tenant: &str) -> Result<Described, ServiceError> {
    let mut by_user: Described = HashMap::new();
    for event in described_events(log, tenant)? {
        for user in event.change.users().into_iter().flatten() {
            by_user.entry(user.as_str().to_owned()).or_default().push(event.clone());
        }
    }
    Ok(by_user)
}

/// Each agent's states per channel from `from` to `to`, folded from the newest snapshot at
/// or before `from` (the log is in time order: found by a binary search on time) and the
/// events up to `to` — never the log from its first event.
pub fn activity(log: &dyn EventLog, tenant: &str, from: u64, to: u64) -> Result<ActivityReport, ServiceError> {
    let (from_ms, to_ms) = (millis(from)?, millis(to)?);
    for _ in 0..PRUNED_RETRIES {
        let base = log.log_base(tenant).map_err(known)?.map_or(0, |b| b.seq);
        // The scene as of `from`: the newest snapshot at or before the last event
        // before it (the log is in time order), else the base the kept log follows.
        let last_before = last_at_or_before(log, tenant, base, from)?;
        let (start, state) = match log.snapshot_as_of(tenant, last_before).map_err(known)? {
            Some((seq, snapshot)) if seq >= base => (seq, parse_state(tenant, &snapshot)?),
            _ if base == 0 => (0, described_state(log, tenant)?),
            // Pruned meanwhile: the base snapshot went with it.
            _ => continue,
        };
        let mut events = Vec::new();
        let mut after = start;
        let mut gap = false;
        'read: loop {
            let chunk = log.events_after(tenant, after, REPLAY_CHUNK).map_err(known)?;
            if chunk.first().is_some_and(|(first, _)| *first != after + 1) {
                gap = true;
                break;
            }
            for (seq, text) in &chunk {
                let event = parse_event(tenant, *seq, text)?;
                if event.at > to_ms {
                    break 'read;
                }
                events.push(event);
                after = *seq;
            }
            if chunk.len() < REPLAY_CHUNK {
                break;
            }
        }
        if gap {
            continue;
        }
        return Ok(agentstate_core::views::activity_from(&state, &events, from_ms, to_ms));
    }
    Err(StoreError::Conflict(tenant.to_owned()).into())
}

/// A reading thread: takes the next job while there are any, on a connection of its own
/// (opened on the first, again after a failure), at a lower priority than the writer.
fn read_jobs(config: &StoreConfig, queue: &Mutex<std::sync::mpsc::Receiver<Job>>) {
    use thread_priority::{ThreadPriority, ThreadPriorityValue, set_current_thread_priority};
    if let Err(e) = ThreadPriorityValue::try_from(READER_PRIORITY)
        .map_err(|e| e.to_string())
        .and_then(|value| set_current_thread_priority(ThreadPriority::Crossplatform(value)).map_err(|e| e.to_string()))
    {
        tracing::warn!(error = %e, "reads run at the writer's priority");
    }
    let mut connection: Option<Box<dyn Store>> = None;
    loop {
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        if connection.is_none() {
            connection = config.open().map_err(|e| tracing::error!(error = %e, "a reading thread cannot connect")).ok();
        }
        match &connection {
            Some(log) => job(Ok(&**log)),
            None => job(Err(StoreError::Backend("no connection to read on".into()))),
        }
    }
}

/// The last sequence number after `base` whose event is at or before `at` (`base` when
/// there is none): a binary search over the log, which is in time order — a few point
/// reads however long the log.
fn last_at_or_before(log: &dyn EventLog, tenant: &str, base: Seq, at: u64) -> Result<Seq, ServiceError> {
    let end = log.last_seq(tenant).map_err(known)?;
    let (mut low, mut high) = (base, end);
    // Invariant: the event at `low` (or the base) is at or before `at`; every one after
    // `high` is after it.
    while low < high {
        let mid = low + (high - low).div_ceil(2);
        let event_at = match log.events_after(tenant, mid - 1, 1).map_err(known)?.first() {
            Some((seq, text)) if *seq == mid => at_of(text),
            // Pruned under the search: the caller reads again.
            _ => return Ok(base),
        };
        if event_at <= at {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    Ok(low)
}

fn begins(log: &dyn EventLog, tenant: &str) -> Result<Option<LogBegins>, ServiceError> {
    Ok(log.log_base(tenant).map_err(known)?.map(|base| LogBegins { seq: base.seq + 1, at: base.at }))
}

fn described_events(log: &dyn EventLog, tenant: &str) -> Result<Vec<Event>, ServiceError> {
    let description = log.description(tenant).map_err(known)?;
    let seed: TenantSeed = serde_json::from_str(&description).map_err(|e| unreadable(tenant, "description", e))?;
    seed.events().map_err(|e| unreadable(tenant, "description", e))
}

fn described_state(log: &dyn EventLog, tenant: &str) -> Result<State, ServiceError> {
    Ok(State::from_events(&described_events(log, tenant)?))
}

fn parse_event(tenant: &str, seq: Seq, text: &str) -> Result<Event, ServiceError> {
    serde_json::from_str(text).map_err(|e| unreadable(tenant, &format!("event {seq}"), e))
}

fn parse_state(tenant: &str, snapshot: &str) -> Result<State, ServiceError> {
    serde_json::from_str(snapshot).map_err(|e| unreadable(tenant, "snapshot", e))
}

fn millis(ms: u64) -> Result<agentstate_core::Millis, ServiceError> {
    agentstate_core::Millis::new(ms)
        .ok_or_else(|| ServiceError::Unreadable { what: "range".into(), problem: format!("{ms} is no time") })
}

fn unreadable(tenant: &str, what: &str, e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Unreadable { what: format!("the {what} of tenant {tenant}"), problem: e.to_string() }
}

fn known(e: StoreError) -> ServiceError {
    match e {
        StoreError::UnknownTenant(t) => ServiceError::UnknownTenant(t),
        other => other.into(),
    }
}

fn closed() -> ServiceError {
    ServiceError::Store(StoreError::Backend("the server is shutting down".into()))
}
