//! One round of deciding: the commands of a group commit are decided and stored together.
//! A host that is its tenants' only writer (routed by tenant) decides on its instances as
//! they stand and appends in one step that checks each log still ends there
//! ([`EventLog::optimistic`](crate::store::EventLog::optimistic)); otherwise — and for a
//! tenant refused that way, or that other hosts append to too — the round runs in one
//! transaction that holds the logs of the tenants it touches: each instance first folds
//! what other hosts stored, then decides, then the events are appended. What the store
//! still refuses (a command id stored meanwhile; on a store without locks, another host's
//! append) is rolled back in its tenant's instance and decided again in the next round.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::{Folded, Incoming, REPLAY_CHUNK, Served, ServiceError, Submitted, TenantService, at_of, catch_up};
use crate::store::{Append, LockedLogs, Seq, StoreError, StoredOutcome};
use agentstate_runtime::{HostError, Mark};

/// How often one group of commands is decided again after other hosts appended first,
/// before its commands are answered with the conflict (503: try again).
const MAX_ROUNDS: usize = 32;

/// After another host was seen appending to a tenant, this many of its rounds decide with
/// its log locked before the host trusts its instance again.
const CONTENDED_ROUNDS: u8 = 16;

#[derive(Deserialize)]
struct CommandId<'a> {
    #[serde(default, borrow)]
    id: Option<std::borrow::Cow<'a, str>>,
    /// Any JSON: an actor that is no text is the module's to refuse, and the id still counts.
    #[serde(default)]
    actor: Option<Value>,
}

/// A command's id and who sent it: the id is theirs once stored.
struct Keyed {
    id: String,
    actor: String,
}

/// The command's `id` and `actor`, when it has an id that can be one (a text that is no
/// command has none, nor has what a client sent that the API could not read; a command that
/// names no actor is `""`'s). An id that is empty, too long or holds control characters is
/// none: the module refuses the command for it, and that refusal is not kept under an id no
/// store could hold (a NUL, or more than an index entry takes, would fail the whole group).
fn command_id(command: &Incoming) -> Option<Keyed> {
    let (bytes, known) = match command {
        Incoming::Object { id: None, .. } | Incoming::Unread(_) => return None,
        Incoming::Object { text, id } => (text.as_bytes(), id.clone()),
        Incoming::Raw(bytes) => (bytes.as_slice(), None),
    };
    // Only commands with an id are read here again (an object's id was read with the rest).
    let read = serde_json::from_slice::<CommandId>(bytes).ok();
    let id = known.or_else(|| read.as_ref().and_then(|c| c.id.as_deref()).map(str::to_owned))?;
    agentstate_core::CommandId::new(&id).ok()?;
    let actor = read.and_then(|c| c.actor).and_then(|a| a.as_str().map(str::to_owned)).unwrap_or_default();
    Some(Keyed { id, actor })
}

/// The stored outcome sent again to its own actor's retry, with where the log stood after
/// the command (as the first answer said; where it stands now for an outcome stored before
/// that was kept). `None` when none of `stored` (the outcomes under the id) is the actor's:
/// a command id is its actor's own, and another actor's command with it is a command of
/// its own, decided as any other — so an answer never tells one user which ids another
/// used, and nobody can take a client's ids before it.
fn retried<'s>(stored: impl IntoIterator<Item = &'s StoredOutcome>, keyed: &Keyed, now: Seq) -> Option<Submitted> {
    #[derive(Deserialize)]
    struct Told {
        #[serde(default)]
        events: Vec<serde::de::IgnoredAny>,
    }
    let stored = stored.into_iter().find(|s| s.belongs_to(&keyed.actor))?;
    let events = serde_json::from_str::<Told>(&stored.outcome).map_or(0, |told| told.events.len() as Seq);
    let seq = stored.log_end.map_or(now, |end| end + events);
    Some(Submitted::retried(stored.outcome.clone(), seq))
}

/// A decided command on its way into the store.
struct Decided<'a> {
    index: usize,
    tenant: &'a str,
    id: Option<String>,
    /// Who sent it: its id, when it has one, is theirs.
    actor: String,
    outcome: String,
    events: Vec<String>,
    /// The events as the runtime read them, of an accepted command.
    raw: Option<Vec<Box<RawValue>>>,
}

/// The work of one round under the store's lock (see `TenantService::round`).
struct Round<'r, 'c> {
    commands: &'r [(&'c str, Incoming)],
    pending: &'r [usize],
    ids: &'r [Option<Keyed>],
    now: u64,
    stored_outcomes: &'r HashMap<&'c str, HashMap<String, Vec<StoredOutcome>>>,
    /// Tenants that cannot be served this round, and why.
    failed: &'r mut BTreeMap<&'c str, ServiceError>,
    results: &'r mut [Option<Result<Submitted, ServiceError>>],
    /// Each caught-up tenant's instance before its decisions.
    marks: BTreeMap<&'c str, Mark>,
    decided: Vec<Decided<'c>>,
    /// A command of an actor whose id the same actor sent earlier in this round: (its
    /// index, the first one's index).
    echoes: Vec<(usize, usize)>,
    /// Tenants whose decisions the store refused: rolled back, decided again.
    lost: BTreeSet<&'c str>,
    /// Tenants whose instance is behind a base another host pruned to: loaded again from
    /// it, their commands decided in the next round.
    stale: BTreeSet<&'c str>,
    /// Which decided commands were appended, at which sequence number.
    stored: Vec<(usize, Seq)>,
    /// Commands with an id that were refused in a round that looked up no stored outcomes,
    /// with where their tenant's log stood when they were decided: their id may be a
    /// retry's, asked of the store once the round is over.
    refused: Vec<(usize, Seq)>,
}

impl<'r, 'c> Round<'r, 'c> {
    fn run(&mut self, log: &mut dyn LockedLogs, tenants: &mut HashMap<String, Served>) -> Result<(), StoreError> {
        self.marks.clear();
        self.decided.clear();
        self.echoes.clear();
        self.lost.clear();
        self.stale.clear();
        self.stored.clear();
        self.refused.clear();
        let mut in_flight: InFlight<'r, 'c> = BTreeMap::new();
        let (commands, pending, ids) = (self.commands, self.pending, self.ids);
        for (&index, id) in pending.iter().zip(ids) {
            let tenant: &'c str = commands[index].0;
            if self.failed.contains_key(tenant) || self.stale.contains(tenant) {
                continue;
            }
            let Some(served) = tenants.get_mut(tenant) else {
                self.failed.insert(tenant, ServiceError::UnknownTenant(tenant.to_owned()));
                continue;
            };
            if !self.marks.contains_key(tenant) && !self.fold_in(tenant, log, served)? {
                continue;
            }
            self.results[index] = None;
            self.decide(index, tenant, id.as_ref(), served, &mut in_flight);
        }
        self.append(log, tenants)
    }

    /// Folds into the tenant's instance what other hosts stored since it last looked
    /// (nobody can append to this tenant until the commit; nothing to read when the lock
    /// found the log where the instance stands) and marks where it stands before its
    /// decisions. `false` when its commands cannot be decided this round.
    fn fold_in(&mut self, tenant: &'c str, log: &mut dyn LockedLogs, served: &mut Served) -> Result<bool, StoreError> {
        let current = log.log_end(tenant) == Some(served.seq);
        served.contended = if current { served.contended.saturating_sub(1) } else { CONTENDED_ROUNDS };
        let mut read = |after| log.events_after(tenant, after, REPLAY_CHUNK);
        match if current { Ok(Folded::All) } else { catch_up(&mut read, served) } {
            Ok(Folded::All) => {}
            Ok(Folded::Pruned) => {
                self.stale.insert(tenant);
                return Ok(false);
            }
            Err(ServiceError::Store(e)) => return Err(e),
            Err(e) => {
                self.failed.insert(tenant, e);
                return Ok(false);
            }
        }
        self.marks.insert(tenant, served.wasm.mark());
        Ok(true)
    }

    /// Decides one command on its tenant's instance: answered at once (a retry of a stored
    /// outcome, a refusal without an id, a failure of the module), an echo of an earlier
    /// command of the round with its id, or a decision on its way into the store.
    fn decide(
        &mut self,
        index: usize,
        tenant: &'c str,
        id: Option<&'r Keyed>,
        served: &mut Served,
        in_flight: &mut InFlight<'r, 'c>,
    ) {
        if let Some(keyed) = id {
            if let Some(&first) = in_flight.get(&(tenant, keyed.actor.as_str(), keyed.id.as_str())) {
                self.echoes.push((index, first));
                return;
            }
            if let Some(retry) = self
                .stored_outcomes
                .get(tenant)
                .and_then(|found| found.get(&keyed.id))
                .and_then(|stored| retried(stored, keyed, served.seq))
            {
                self.results[index] = Some(Ok(retry));
                return;
            }
        }
        let (stamped_text, stamp);
        let bytes = match &self.commands[index].1 {
            Incoming::Object { text, .. } => {
                stamp = Some(self.now.max(served.last_at));
                stamped_text = super::stamp::with_first_key("at", &Value::from(stamp), text);
                stamped_text.as_bytes()
            }
            Incoming::Raw(bytes) | Incoming::Unread(bytes) => {
                stamp = None;
                bytes.as_slice()
            }
        };
        let decision = match served.wasm.handle_bytes(bytes, true) {
            Ok(decision) => decision,
            Err(e) => {
                self.results[index] = Some(Err(e.into()));
                return;
            }
        };
        let events: Vec<String> = decision.events.iter().map(|e| e.get().to_owned()).collect();
        // Every event of a command is at the command's `at` (R8): the stamp, when the
        // host gave it.
        if let Some(last) = events.last() {
            served.last_at = served.last_at.max(stamp.unwrap_or_else(|| at_of(last)));
        }
        // Only accepted commands leave a trace in the store. A rejected one changed
        // nothing, so its retry is simply decided again: keeping its outcome would let
        // any caller — a user without a role too — fill the store with refusals.
        if !decision.accepted {
            if id.is_none() {
                let seq = served.seq;
                self.results[index] = Some(Ok(Submitted { outcome: decision.outcome, seq, ..Submitted::pending() }));
                return;
            }
            // A refusal with an id may answer a retry: it goes to the store like a
            // decision with no events and no id, which checks that the log ends where
            // the instance stands (an instance that saw a commit the database then lost
            // with its primary, or is behind another host's append, decides again), and
            // its id is looked up once the round is over. Nothing of it is stored.
            if self.stored_outcomes.is_empty() {
                self.refused.push((index, served.seq));
            }
            let outcome = decision.outcome;
            self.decided.push(Decided { index, tenant, id: None, actor: String::new(), outcome, events, raw: None });
            return;
        }
        if let Some(keyed) = id {
            in_flight.insert((tenant, keyed.actor.as_str(), keyed.id.as_str()), index);
        }
        let raw = decision.accepted.then_some(decision.events);
        let (id, actor) = id.map_or((None, String::new()), |k| (Some(k.id.clone()), k.actor.clone()));
        self.decided.push(Decided { index, tenant, id, actor, outcome: decision.outcome, events, raw });
    }

    /// Appends the decisions of every tenant not lost yet; a tenant whose append the store
    /// refuses is lost (rolled back and decided again by the caller), the others are tried
    /// again without it.
    fn append(&mut self, log: &mut dyn LockedLogs, tenants: &mut HashMap<String, Served>) -> Result<(), StoreError> {
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
                        actor: &decided.actor,
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
                    if let Some(served) = tenants.get_mut(&tenant) {
                        served.contended = CONTENDED_ROUNDS;
                    }
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

/// The commands with an id decided so far in a round, by tenant, actor and id: a later one
/// of the same actor with the same id is its echo.
type InFlight<'r, 'c> = BTreeMap<(&'c str, &'r str, &'r str), usize>;

impl TenantService {
    /// Decides and stores `commands` (at most half the loaded bound of tenants), deciding
    /// again the commands of every tenant whose log another host appended to first.
    pub(super) fn decide_and_store(
        &mut self,
        commands: &[(&str, Incoming)],
        now: u64,
    ) -> Vec<Result<Submitted, ServiceError>> {
        let mut results: Vec<Option<Result<Submitted, ServiceError>>> = commands.iter().map(|_| None).collect();
        let mut pending: Vec<usize> = (0..commands.len()).collect();
        for round in 0..MAX_ROUNDS {
            self.begin();
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

    /// A refused command's id may be that of its actor's command stored before (a retry):
    /// the store is asked for those ids once, and such a command is answered as one whose
    /// id is found. Only a command stored before the refused one was decided counts — not
    /// one later in the same round with the same id (found by the red-team pass: a batch's
    /// refused entry was answered with the next entry's success). Refusals themselves are
    /// never stored.
    fn answer_refused_retries(
        &mut self,
        commands: &[(&str, Incoming)],
        refused: &[(usize, Seq)],
        ids: &[Option<Keyed>],
        pending: &[usize],
        results: &mut [Option<Result<Submitted, ServiceError>>],
    ) {
        let keyed = |index: usize| pending.iter().position(|&p| p == index).and_then(|at| ids[at].as_ref());
        let mut by_tenant: BTreeMap<&str, Vec<(usize, Seq)>> = BTreeMap::new();
        for &(index, decided_at) in refused {
            by_tenant.entry(commands[index].0).or_default().push((index, decided_at));
        }
        for (tenant, indexes) in by_tenant {
            let wanted: Vec<&str> = indexes.iter().filter_map(|&(i, _)| keyed(i)).map(|k| k.id.as_str()).collect();
            let found = match self.store.outcomes(tenant, &wanted) {
                Ok(found) => found,
                Err(e) => {
                    for &(index, _) in &indexes {
                        results[index] = Some(Err(ServiceError::Store(e.clone())));
                    }
                    continue;
                }
            };
            let now = self.tenants.get(tenant).map_or(0, |served| served.seq);
            for (index, decided_at) in indexes {
                // Stored before: its log ended before this one was decided (an accepted
                // command has events, so one stored earlier ends at or before it).
                let before = |stored: &&StoredOutcome| stored.log_end.is_none_or(|end| end < decided_at);
                if let Some(keyed) = keyed(index)
                    && let Some(stored) = found.get(&keyed.id)
                    && let Some(retry) = retried(stored.iter().filter(before), keyed, now)
                {
                    results[index] = Some(Ok(retry));
                }
            }
        }
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
        let (mut touched, mut failed) = self.touch(commands, pending);
        // Every command's id, and (when asked to look them up) the outcomes stored for them:
        // one lookup per tenant.
        let ids: Vec<Option<Keyed>> = pending.iter().map(|&index| command_id(&commands[index].1)).collect();
        let stored_outcomes = match look_up {
            true => self.stored_outcomes(commands, pending, &ids, &touched, &mut failed),
            false => HashMap::new(),
        };
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
            stale: BTreeSet::new(),
            stored: Vec::new(),
            refused: Vec::new(),
        };
        let committed = self.commit(&touched, look_up, &mut work);
        let Round { marks, mut decided, echoes, mut lost, stale, stored, refused, .. } = work;
        if let Err(e) = committed {
            // Nothing was stored: every decision is undone and answered with the failure,
            // and so is every command the round did not get to.
            for (tenant, mark) in &marks {
                self.roll_back(tenant, *mark);
            }
            self.account(&touched);
            let failure = || Some(Err(ServiceError::Store(e.clone())));
            for index in decided.iter().map(|d| d.index).chain(echoes.iter().map(|(echo, _)| *echo)) {
                results[index] = failure();
            }
            for &index in pending {
                if results[index].is_none() {
                    results[index] = failure();
                }
            }
            return Vec::new();
        }
        for (done, seq) in stored {
            self.finish(&mut decided[done], seq, results);
        }
        self.answer_refused_retries(commands, &refused, &ids, pending, results);
        for tenant in &lost {
            if let Some(mark) = marks.get(tenant) {
                self.roll_back(tenant, *mark);
            }
        }
        // Decided nothing; loaded again from the new base by the next round.
        for tenant in stale {
            self.unload(tenant);
            lost.insert(tenant);
        }
        for (tenant, e) in &failed {
            if matches!(e, ServiceError::Host(_)) {
                self.unload(tenant);
            }
        }
        self.account(&touched);
        let redo = answer_failed_and_lost(commands, pending, &failed, &lost, results);
        answer_echoes(commands, &echoes, &lost, results);
        redo
    }

    /// Loads the tenants of the `pending` commands (their catching up happens under the
    /// round's lock): those loaded, sorted, and why the others cannot be.
    fn touch<'a>(
        &mut self,
        commands: &[(&'a str, Incoming)],
        pending: &[usize],
    ) -> (Vec<&'a str>, BTreeMap<&'a str, ServiceError>) {
        let mut failed: BTreeMap<&str, ServiceError> = BTreeMap::new();
        let mut touched: Vec<&str> = Vec::new();
        for &index in pending {
            let tenant = commands[index].0;
            if touched.contains(&tenant) || failed.contains_key(tenant) {
                continue;
            }
            match self.use_tenant(tenant) {
                Ok(_) => touched.push(tenant),
                Err(e) => {
                    failed.insert(tenant, e);
                }
            }
        }
        touched.sort_unstable();
        (touched, failed)
    }

    /// The outcomes stored under the ids of the `pending` commands, one lookup per tenant;
    /// a tenant whose lookup fails goes to `failed`.
    fn stored_outcomes<'a>(
        &mut self,
        commands: &[(&'a str, Incoming)],
        pending: &[usize],
        ids: &[Option<Keyed>],
        touched: &[&'a str],
        failed: &mut BTreeMap<&'a str, ServiceError>,
    ) -> HashMap<&'a str, HashMap<String, Vec<StoredOutcome>>> {
        let mut stored_outcomes = HashMap::new();
        for &tenant in touched {
            let wanted: Vec<&str> = pending
                .iter()
                .zip(ids)
                .filter(|(index, _)| commands[**index].0 == tenant)
                .filter_map(|(_, id)| id.as_ref().map(|keyed| keyed.id.as_str()))
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
        stored_outcomes
    }

    /// Runs the round's work in one store transaction. A host routed by tenant is the only
    /// one appending to its tenants: its first try trusts the instances to stand where the
    /// logs end (one round trip on PostgreSQL). A tenant refused for it, or that other hosts
    /// were seen appending to lately, is decided with its log locked and caught up on
    /// first: where hosts share tenants a lost race would cost rebuilding the instance.
    fn commit(&mut self, touched: &[&str], look_up: bool, work: &mut Round<'_, '_>) -> Result<(), StoreError> {
        let tenants = &mut self.tenants;
        let started = std::time::Instant::now();
        let believed: Option<Vec<(&str, Seq)>> = touched
            .iter()
            .map(|tenant| tenants.get(*tenant).filter(|s| !look_up && s.contended == 0).map(|s| (*tenant, s.seq)))
            .collect();
        let committed = match believed {
            Some(believed) => self.store.optimistic(&believed, &mut |log| work.run(log, tenants)),
            None => self.store.locked(touched, &mut |log| work.run(log, tenants)),
        };
        metrics::histogram!("agentstate_store_append_seconds").record(started.elapsed().as_secs_f64());
        committed
    }

    /// Records a stored command: its tenant's log end, its snapshot cadence, its result.
    fn finish(&mut self, done: &mut Decided<'_>, seq: Seq, results: &mut [Option<Result<Submitted, ServiceError>>]) {
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
        let accepted = done.raw.take();
        results[done.index] =
            Some(Ok(Submitted { outcome: done.outcome.clone(), seq, retried: false, stored, accepted }));
    }

    /// Undoes this round's decisions on `tenant`'s instance; one that cannot be rolled back
    /// is loaded again on its next request.
    fn roll_back(&mut self, tenant: &str, mark: Mark) {
        let Some(served) = self.tenants.get_mut(tenant) else { return };
        if served.wasm.rollback(mark).is_err() {
            self.unload(tenant);
        }
    }
}

/// Answers the commands of tenants that failed with the failure, and clears those of
/// tenants that lost their append: returned, to be decided again.
fn answer_failed_and_lost(
    commands: &[(&str, Incoming)],
    pending: &[usize],
    failed: &BTreeMap<&str, ServiceError>,
    lost: &BTreeSet<&str>,
    results: &mut [Option<Result<Submitted, ServiceError>>],
) -> Vec<usize> {
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
    redo
}

/// Answers each echo — a command whose id its actor sent earlier in the round — as a
/// retry of the first (unless its tenant decides again).
fn answer_echoes(
    commands: &[(&str, Incoming)],
    echoes: &[(usize, usize)],
    lost: &BTreeSet<&str>,
    results: &mut [Option<Result<Submitted, ServiceError>>],
) {
    for &(echo, first) in echoes {
        if lost.contains(commands[echo].0) {
            continue;
        }
        results[echo] = Some(match &results[first] {
            Some(Ok(first)) => Ok(Submitted::retried(first.outcome.clone(), first.seq)),
            Some(Err(e)) => Err(copy_error(e)),
            // The first was stored (its tenant not lost), so it has its answer; were it ever
            // without one, its echo is told to try again rather than given a made-up one.
            None => Err(StoreError::Conflict(commands[echo].0.to_owned()).into()),
        });
    }
}

/// A copy of a failure for each command it answers (`ServiceError` is not `Clone`: a
/// module's failure is copied as its text).
fn copy_error(e: &ServiceError) -> ServiceError {
    match e {
        ServiceError::UnknownTenant(t) => ServiceError::UnknownTenant(t.clone()),
        ServiceError::Store(e) => ServiceError::Store(e.clone()),
        ServiceError::Host(e) => ServiceError::Host(HostError::Rebuild(e.to_string())),
        ServiceError::Unreadable { what, problem } => {
            ServiceError::Unreadable { what: what.clone(), problem: problem.clone() }
        }
    }
}

/// The round's bookkeeping, in memory: which commands are keyed by an id and whose, what
/// a retry is answered with, who decides again and what an echo gets. (The round itself,
/// under a store's transaction, is driven by `server/tests/service.rs`: lost races, stores
/// failing mid-commit, guests failing mid-group.)
#[cfg(test)]
mod tests {
    use super::*;

    fn object(text: &str) -> Incoming {
        Incoming::Object { text: text.to_owned(), id: None }
    }

    fn stored(outcome: &str, actor: Option<&str>, log_end: Option<Seq>) -> StoredOutcome {
        StoredOutcome { outcome: outcome.to_owned(), actor: actor.map(str::to_owned), log_end }
    }

    #[test]
    fn a_command_is_keyed_by_an_id_a_store_can_hold_and_its_actor() {
        let keyed = |incoming: Incoming| command_id(&incoming).map(|k| (k.id, k.actor));
        let raw = |text: &str| Incoming::Raw(text.as_bytes().to_vec());
        assert_eq!(keyed(raw(r#"{"id":"c1","actor":"sue","type":"pause"}"#)), Some(("c1".into(), "sue".into())));
        let read = Incoming::Object { text: r#"{"actor":"sue"}"#.into(), id: Some("c2".into()) };
        assert_eq!(keyed(read), Some(("c2".into(), "sue".into())), "the id the API read with the rest");
        assert_eq!(keyed(raw(r#"{"id":"c3","actor":7}"#)), Some(("c3".into(), String::new())), "no text: nobody's");
        assert_eq!(keyed(object(r#"{"id":"c4","actor":"sue"}"#)), None, "an object the API found no id in");
        for id in ["", "a\u{0}b", &"x".repeat(10_000)] {
            let text = serde_json::json!({"id": id, "actor": "sue"}).to_string();
            assert_eq!(keyed(raw(&text)), None, "{id:?} is no id a store could hold");
        }
        assert_eq!(keyed(Incoming::Unread(br#"{"id":"c5","id":"c6"}"#.to_vec())), None, "unread: nobody's id");
        assert_eq!(keyed(raw("not JSON")), None);
    }

    #[test]
    fn a_retry_gets_its_own_actors_stored_outcome_where_the_log_stood_after_it() {
        let keyed = Keyed { id: "c1".into(), actor: "sue".into() };
        let theirs = stored(r#"{"outcome":"accepted","events":[{},{}]}"#, Some("sue"), Some(40));
        let retry = retried([&theirs], &keyed, 99).expect("hers");
        assert_eq!((retry.seq, retry.retried, retry.stored.len()), (42, true, 0), "after its two events");
        assert_eq!(retry.outcome, theirs.outcome);
        let another = stored(r#"{"outcome":"accepted","events":[]}"#, Some("ana"), Some(40));
        assert!(retried([&another], &keyed, 99).is_none(), "an id is its actor's own");
        let older = stored(r#"{"outcome":"accepted","events":[{}]}"#, None, None);
        assert_eq!(
            retried([&another, &older], &keyed, 99).map(|r| r.seq),
            Some(99),
            "kept before actors and ends were"
        );
    }

    #[test]
    fn failed_tenants_are_answered_lost_ones_decided_again_and_echoes_get_the_first_answer() {
        let commands: Vec<(&str, Incoming)> =
            ["acme", "globex", "acme", "initech", "globex"].into_iter().map(|tenant| (tenant, object("{}"))).collect();
        let mut results: Vec<Option<Result<Submitted, ServiceError>>> = (0..5).map(|_| None).collect();
        results[0] = Some(Ok(Submitted { outcome: "first".into(), seq: 7, ..Submitted::pending() }));
        results[1] = Some(Ok(Submitted { outcome: "decided, lost".into(), ..Submitted::pending() }));
        let failed = BTreeMap::from([("initech", ServiceError::UnknownTenant("initech".into()))]);
        let lost = BTreeSet::from(["globex"]);
        let redo = answer_failed_and_lost(&commands, &[0, 1, 3, 4], &failed, &lost, &mut results);
        assert_eq!(redo, [1, 4], "the lost tenant's commands, to decide again");
        assert!(results[1].is_none(), "a lost decision's answer is forgotten");
        assert!(matches!(&results[3], Some(Err(ServiceError::UnknownTenant(t))) if t == "initech"));

        answer_echoes(&commands, &[(2, 0), (4, 1)], &lost, &mut results);
        let echo = results[2].as_ref().and_then(|r| r.as_ref().ok()).expect("answered");
        assert_eq!((echo.outcome.as_str(), echo.seq, echo.retried), ("first", 7, true));
        assert!(results[4].is_none(), "an echo of a lost tenant is decided again with it");
        let mut unanswered: Vec<Option<Result<Submitted, ServiceError>>> = (0..5).map(|_| None).collect();
        answer_echoes(&commands, &[(2, 0)], &BTreeSet::new(), &mut unanswered);
        assert!(
            matches!(&unanswered[2], Some(Err(ServiceError::Store(StoreError::Conflict(t)))) if t == "acme"),
            "an echo of a command without an answer is told to try again"
        );
    }
}
