//! Where tenants' logs and the access tokens live: the [`EventLog`] (append-only, a
//! sequence per tenant, snapshots, the first outcome of every command id) and the
//! [`TokenStore`] (token hashes). Two backends: SQLite — one file, the embedded default for
//! one machine — and PostgreSQL, shared by any number of hosts. Both acknowledge an append
//! only once its transaction is durable, which is what lets the server acknowledge it.
//!
//! Every append is conditional on where the tenant's log ends ([`Append::expected`]): a
//! host whose instance is behind gets [`StoreError::Conflict`], catches up from the log and
//! decides again. That is what lets several hosts serve one tenant without a leader.

mod postgres;
mod sqlite;
mod sso;
mod tokens;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

pub use postgres::PgStore;
pub use sqlite::{DB_FILE, SqliteStore};
pub use sso::MAX_SIGN_INS_UNDER_WAY;

/// Position of an event in its tenant's log, from 1.
pub type Seq = u64;

#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    #[error("there is no tenant {0}")]
    UnknownTenant(String),
    #[error("tenant {0} exists already")]
    TenantExists(String),
    #[error("the fingerprint {0} fits more than one token; give more of its digits")]
    Ambiguous(String),
    /// The log of this tenant grew since the appending host last read it (another host
    /// appended), or the command id was stored meanwhile: nothing of the append was stored.
    #[error("the log of tenant {0} moved on; catch up and decide again")]
    Conflict(String),
    #[error("storage failed: {0}")]
    Backend(String),
    /// The store's files, or a thread of its own, could not be set up.
    #[error("{place}: {problem}")]
    Setup { place: String, problem: String },
}

impl StoreError {
    /// `place` could not be set up for `problem`.
    pub(crate) fn setup(place: impl std::fmt::Display, problem: impl std::fmt::Display) -> StoreError {
        StoreError::Setup { place: place.to_string(), problem: problem.to_string() }
    }
}

/// One decided command, ready to be stored.
#[derive(Clone, Copy, Debug)]
pub struct Append<'a> {
    pub tenant: &'a str,
    /// Where the tenant's log ended when the command was decided. Only the first append of
    /// a tenant in one `append_all` is checked; the ones after it follow on from it.
    pub expected: Seq,
    pub command_id: Option<&'a str>,
    /// Who sent the command: its id belongs to them (`""` when the command names nobody).
    pub actor: &'a str,
    pub outcome: &'a str,
    pub events: &'a [String],
}

/// The outcome stored for a command id, and whose id it is. A command id is its actor's
/// own: two actors' commands with the same id are two commands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredOutcome {
    pub outcome: String,
    /// The actor who sent the command; `None` for an outcome stored before ids belonged to
    /// their actor (stored under the actor `""`), which answers any actor's retry (as it
    /// did then).
    pub actor: Option<String>,
    /// Where the log ended when the command was decided (its events follow); `None` for
    /// an outcome stored before that was kept.
    pub log_end: Option<Seq>,
}

impl StoredOutcome {
    /// Whether `actor` may have this outcome back: the id is theirs (or from before ids
    /// had owners).
    pub fn belongs_to(&self, actor: &str) -> bool {
        self.actor.as_deref().is_none_or(|owner| owner == actor)
    }
}

/// Where a tenant's kept log begins once its oldest events were folded into a base
/// snapshot and deleted (retention).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogBase {
    /// The last event folded into the base snapshot (itself deleted): the kept log begins
    /// with the event after it.
    pub seq: Seq,
    /// The cutoff of the prune that made the base (Unix ms): every event at or after it
    /// is kept, none before it.
    pub at: u64,
}

/// What one prune deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub events: u64,
    /// Stored outcomes of commands decided before the new base.
    pub outcomes: u64,
    /// Snapshots older than the new base.
    pub snapshots: u64,
}

impl std::ops::AddAssign for Pruned {
    fn add_assign(&mut self, other: Pruned) {
        self.events += other.events;
        self.outcomes += other.outcomes;
        self.snapshots += other.snapshots;
    }
}

/// Who an access token speaks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenGrant {
    pub tenant: String,
    /// A user id of the tenant, or `system`.
    pub actor: String,
}

/// Which of a tenant's tokens to revoke.
#[derive(Clone, Copy, Debug)]
pub enum TokenSelector<'a> {
    /// Every token of this actor (a person who left, a compromised integration).
    Actor(&'a str),
    /// The one token whose hash starts with these hex digits (its fingerprint).
    Fingerprint(&'a str),
}

/// Tenants' event logs.
pub trait EventLog: Send {
    /// Registers a tenant with its description (the base its state is folded from).
    fn create_tenant(&mut self, tenant: &str, description: &str) -> Result<(), StoreError>;
    /// Every tenant, by id.
    fn tenants(&self) -> Result<Vec<String>, StoreError>;
    fn description(&self, tenant: &str) -> Result<String, StoreError>;
    /// Stores the outcome of one decided command of no named actor (see
    /// [`EventLog::append_all`]).
    fn append(
        &mut self,
        tenant: &str,
        expected: Seq,
        command_id: Option<&str>,
        outcome: &str,
        events: &[String],
    ) -> Result<Seq, StoreError> {
        let last = self.append_all(&[Append { tenant, expected, command_id, actor: "", outcome, events }])?;
        Ok(last.first().copied().unwrap_or_default())
    }
    /// Stores several decided commands in one transaction (group commit: one sync to disk
    /// for all of them), all or none: each command's events get the next sequence numbers
    /// and, when it has an id, its outcome is kept for retries. Refused as a whole with
    /// [`StoreError::Conflict`] when a tenant's log no longer ends at the first `expected`
    /// given for it, or a command id is stored already. Returns each tenant's last
    /// sequence number after each command.
    fn append_all(&mut self, appends: &[Append<'_>]) -> Result<Vec<Seq>, StoreError>;
    /// Locks the logs of `tenants` — other hosts' appends to them wait — runs `work` in
    /// one transaction and commits what it appended; nothing of it when `work` or the
    /// commit fails. A host that reads, decides and appends under the lock never decides
    /// on a stale log. (The default locks nothing: the appends stay conditional, and a
    /// host that lost a race learns it as a `Conflict`.)
    fn locked(
        &mut self,
        tenants: &[&str],
        work: &mut dyn FnMut(&mut dyn LockedLogs) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let _ = tenants;
        work(&mut Unlocked(self))
    }
    /// As [`EventLog::locked`], for a host that believes its instances of these tenants
    /// stand at the given ends of their logs: nothing is locked or read before `work`
    /// appends (`log_end` answers with the belief), and each append locks, checks and
    /// stores on its own — refused whole with `Conflict` when a log moved on, which the
    /// host then decides again under [`EventLog::locked`]. Where hosts are routed by
    /// tenant the belief holds, and a group of commands costs one round trip to a shared
    /// database instead of four. (The default: [`EventLog::locked`].)
    fn optimistic(
        &mut self,
        believed: &[(&str, Seq)],
        work: &mut dyn FnMut(&mut dyn LockedLogs) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let tenants: Vec<&str> = believed.iter().map(|(tenant, _)| *tenant).collect();
        self.locked(&tenants, work)
    }
    /// The stored outcome of `actor`'s command `id`, if it was decided before.
    fn outcome(&self, tenant: &str, actor: &str, id: &str) -> Result<Option<String>, StoreError>;
    /// The stored outcomes of the commands with those of `ids` decided before, each with
    /// whose command it was, by id: an id several actors used has one per actor (in one
    /// round trip).
    fn outcomes(&self, tenant: &str, ids: &[&str]) -> Result<HashMap<String, Vec<StoredOutcome>>, StoreError>;
    /// Up to `limit` events after `after`, in order.
    fn events_after(&self, tenant: &str, after: Seq, limit: usize) -> Result<Vec<(Seq, String)>, StoreError>;
    /// Up to `limit` of the events that touched `user` (see [`touched`]) before `before`,
    /// newest first — read through the index of each user's events, so a page costs the
    /// page, not the log.
    fn history(&self, tenant: &str, user: &str, before: Seq, limit: usize) -> Result<Vec<(Seq, String)>, StoreError>;
    fn last_seq(&self, tenant: &str) -> Result<Seq, StoreError>;
    /// Stores the state as of event `seq` (the same state whoever stores it: a second
    /// host storing the same snapshot is no error).
    fn put_snapshot(&mut self, tenant: &str, seq: Seq, snapshot: &str) -> Result<(), StoreError>;
    /// The newest snapshot and the sequence number it is as of.
    fn latest_snapshot(&self, tenant: &str) -> Result<Option<(Seq, String)>, StoreError>;
    /// The newest snapshot as of event `seq` or before it. (The default: the newest, when
    /// it is old enough.)
    fn snapshot_as_of(&self, tenant: &str, seq: Seq) -> Result<Option<(Seq, String)>, StoreError> {
        Ok(self.latest_snapshot(tenant)?.filter(|(at, _)| *at <= seq))
    }
    /// Where the kept log begins; `None` while nothing was pruned. (The default: a log
    /// that keeps everything.)
    fn log_base(&self, tenant: &str) -> Result<Option<LogBase>, StoreError> {
        self.last_seq(tenant).map(|_| None)
    }
    /// Makes `snapshot` — the state as of event `base.seq` — the tenant's base and deletes,
    /// in one transaction, the events up to it, the snapshots before it and the outcomes
    /// of commands decided before it. Conditional on the base being `expected` still
    /// (another host pruning meanwhile is a `Conflict`) and on `base.seq` being stored.
    fn rebase(&mut self, tenant: &str, expected: Seq, base: LogBase, snapshot: &str) -> Result<Pruned, StoreError> {
        let _ = (expected, base, snapshot);
        Err(StoreError::Backend(format!("the store of tenant {tenant} keeps every event")))
    }
    /// Whether the store answers now (for `/healthz`: a host that cannot commit should get
    /// no traffic).
    fn ping(&self) -> Result<(), StoreError>;
    /// After a bulk load (`agentstate tenant generate`): brings the database's statistics
    /// and bookkeeping up to date now, as its documentation asks after loading many rows,
    /// so that its own maintenance does not start later under the load's first users.
    fn settle(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// The logs of some tenants inside one transaction (see [`EventLog::locked`]).
pub trait LockedLogs {
    /// Up to `limit` events after `after`, in order, as the log is inside the transaction.
    fn events_after(&mut self, tenant: &str, after: Seq, limit: usize) -> Result<Vec<(Seq, String)>, StoreError>;
    /// As [`EventLog::append_all`], inside the transaction: a refused append leaves
    /// nothing behind, and the transaction goes on.
    fn append_all(&mut self, appends: &[Append<'_>]) -> Result<Vec<Seq>, StoreError>;
    /// Where the tenant's log ends, as taking its lock read it (none where the store did
    /// not read it): an instance that stands there has nothing to catch up on, and is
    /// spared the read — which a host that other hosts never append to always is.
    fn log_end(&self, _tenant: &str) -> Option<Seq> {
        None
    }
}

/// A log used as it is, without a transaction around the work.
struct Unlocked<'a, T: ?Sized>(&'a mut T);

impl<T: EventLog + ?Sized> LockedLogs for Unlocked<'_, T> {
    fn events_after(&mut self, tenant: &str, after: Seq, limit: usize) -> Result<Vec<(Seq, String)>, StoreError> {
        self.0.events_after(tenant, after, limit)
    }
    fn append_all(&mut self, appends: &[Append<'_>]) -> Result<Vec<Seq>, StoreError> {
        self.0.append_all(appends)
    }
}

/// Hashes of access tokens and whom they speak for.
pub trait TokenStore: Send {
    /// Records an access token by its hash (the token itself is never stored).
    fn put_token(&mut self, hash: &str, grant: &TokenGrant) -> Result<(), StoreError>;
    fn token(&self, hash: &str) -> Result<Option<TokenGrant>, StoreError>;
    /// A tenant's tokens as (hash, actor), by actor.
    fn tokens_of(&self, tenant: &str) -> Result<Vec<(String, String)>, StoreError>;
    /// Forgets the selected tokens of a tenant; returns how many there were. A fingerprint
    /// that fits more than one token revokes none (`Ambiguous`).
    fn revoke_tokens(&mut self, tenant: &str, which: TokenSelector<'_>) -> Result<usize, StoreError>;
    /// Records a browser session by its hash, made from the token `token` (a hash) and
    /// valid until `expires` (Unix ms). Revoking the token ends the session. Returns the
    /// hashes of the token's sessions this one ended (it keeps its newest only).
    fn put_session(&mut self, session: &str, token: &str, expires: u64) -> Result<Vec<String>, StoreError>;
    /// Whom a session speaks for, and the hash of its token, while it has not expired at
    /// `now` and neither it nor its token was revoked.
    fn session(&self, session: &str, now: u64) -> Result<Option<(TokenGrant, String)>, StoreError>;
    /// Ends a session (sign-out); whether there was one.
    fn end_session(&mut self, session: &str) -> Result<bool, StoreError>;
    /// Records a one-time sign-in link by its hash, for the token `token` (a hash).
    fn put_link(&mut self, link: &str, token: &str, expires: u64) -> Result<(), StoreError>;
    /// Uses a sign-in link up: the hash of its token, when the link was neither used nor
    /// expired at `now` (and its token stands). A second use finds nothing.
    fn take_link(&mut self, link: &str, now: u64) -> Result<Option<String>, StoreError>;
}

/// A tenant's identity provider for single sign-on, as the operator registered it.
#[derive(Clone, PartialEq, Eq)]
pub struct SsoProvider {
    /// The OpenID Provider's issuer URL (its discovery document lies below it).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Where the provider sends the browser back: `…/signin/<tenant>/callback`.
    pub redirect_uri: String,
    /// The ID-token claim whose value is the user id (`email`, `preferred_username`, `sub`).
    pub claim: String,
    /// What the sign-in page calls it: "Sign in with <name>".
    pub name: String,
}

impl std::fmt::Debug for SsoProvider {
    // The secret stays out of logs and panics.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoProvider")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("claim", &self.claim)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A single sign-on under way, kept by the hash of its `state` until its callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsoSignIn {
    pub tenant: String,
    /// The hash of the cookie of the browser that began it: only that browser may end it.
    pub browser: String,
    pub nonce: String,
    /// The PKCE code verifier.
    pub verifier: String,
    /// Unix ms.
    pub expires: u64,
}

/// What single sign-on keeps (`store/sso.rs`).
pub trait SsoStore: Send {
    /// Registers (or replaces) the tenant's identity provider.
    fn put_sso_provider(&mut self, tenant: &str, provider: &SsoProvider) -> Result<(), StoreError>;
    fn sso_provider(&self, tenant: &str) -> Result<Option<SsoProvider>, StoreError>;
    /// Whether there was one.
    fn remove_sso_provider(&mut self, tenant: &str) -> Result<bool, StoreError>;
    /// Records a sign-in under way by the hash of its `state`; false when too many are
    /// under way for its tenant ([`MAX_SIGN_INS_UNDER_WAY`]).
    fn put_sso_sign_in(&mut self, state: &str, sign_in: &SsoSignIn, now: u64) -> Result<bool, StoreError>;
    /// Uses a sign-in up: it, when it was recorded and has not expired at `now`. A second
    /// use finds nothing.
    fn take_sso_sign_in(&mut self, state: &str, now: u64) -> Result<Option<SsoSignIn>, StoreError>;
    /// The hash of the token `actor`'s single sign-on sessions hang on, while it stands.
    fn sso_token(&self, tenant: &str, actor: &str) -> Result<Option<String>, StoreError>;
    fn put_sso_token(&mut self, tenant: &str, actor: &str, token: &str) -> Result<(), StoreError>;
}

/// A backend holds all three.
pub trait Store: EventLog + TokenStore + SsoStore {}
impl<T: EventLog + TokenStore + SsoStore + ?Sized> Store for T {}

/// What a host hears of other hosts' appends, from a backend shared between hosts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Heard {
    /// The tenant's log now ends at `seq`.
    Appended { tenant: String, seq: Seq },
    /// Notices may have been missed — of one tenant (the host began to listen for it just
    /// now) or of all (the connection they come on was lost): their followers read the log
    /// again from where they stand.
    Missed { tenant: Option<String> },
}

/// The tenants this host's live feeds follow. On a store shared between hosts, a host
/// hears of other hosts' appends to these tenants only: routed by tenant, a host hears of
/// little but its own tenants, and adding hosts adds no work to the others.
#[derive(Clone, Debug, Default)]
pub struct Followed(Arc<std::sync::Mutex<HashMap<String, usize>>>);

impl Followed {
    /// `tenant` is followed while the returned guard lives.
    pub fn follow(&self, tenant: &str) -> FollowedTenant {
        if let Ok(mut tenants) = self.0.lock() {
            *tenants.entry(tenant.to_owned()).or_default() += 1;
        }
        FollowedTenant { followed: self.clone(), tenant: tenant.to_owned() }
    }

    /// The tenants followed now.
    pub fn tenants(&self) -> std::collections::BTreeSet<String> {
        self.0.lock().map(|tenants| tenants.keys().cloned().collect()).unwrap_or_default()
    }
}

/// One follower of a tenant (a live feed), counted in [`Followed`] while it lives.
#[derive(Debug)]
pub struct FollowedTenant {
    followed: Followed,
    tenant: String,
}

impl Drop for FollowedTenant {
    fn drop(&mut self) {
        if let Ok(mut tenants) = self.followed.0.lock()
            && let Some(count) = tenants.get_mut(&self.tenant)
        {
            *count -= 1;
            if *count == 0 {
                tenants.remove(&self.tenant);
            }
        }
    }
}

/// The people a stored event touches — its subject, and the supervisor of a monitoring —
/// under whom the history index files it: exactly `Change::users` of the core (tested on
/// every event of the rule suites), so the index and the history view never disagree; an
/// event that is not JSON touches nobody.
pub(crate) fn touched(event: &str) -> Vec<String> {
    /// The two fields `Change::users` reads: an event's subject (`user`) and, of a
    /// monitoring, its `supervisor`. Read by themselves, borrowed where the text allows:
    /// the writer files every stored event, and building the whole event to ask it for two
    /// ids was a second full parse of each on the writer thread.
    #[derive(serde::Deserialize)]
    struct Named<'a> {
        #[serde(borrow, default)]
        user: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow, default)]
        supervisor: Option<std::borrow::Cow<'a, str>>,
    }
    match serde_json::from_str::<Named<'_>>(event) {
        Ok(Named { user, supervisor }) => [user, supervisor].into_iter().flatten().map(|u| u.into_owned()).collect(),
        Err(_) => Vec::new(),
    }
}

/// Sessions one token keeps at most: opening one more ends the oldest (in the same
/// transaction, on every store). Each browser signed in with the token holds one, so this
/// is more than anyone's devices; without it, sign-ins would pile up rows until they expire.
pub const MAX_SESSIONS_PER_TOKEN: usize = 20;

/// Events read per step while indexing a log stored before the history index existed.
const INDEX_CHUNK: usize = 10_000;

/// Times as both databases hold them (a signed 64-bit integer).
pub(crate) fn millis(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// Where the server keeps its tenants: chosen once, on the command line.
#[derive(Clone, Debug)]
pub enum StoreConfig {
    /// `agentstate.db` in this folder.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (`postgres://USER@HOST:PORT/DB`).
    Postgres(String),
}

impl StoreConfig {
    /// Opens the store, creating or migrating its schema.
    pub fn open(&self) -> Result<Box<dyn Store>, StoreError> {
        Ok(match self {
            StoreConfig::Sqlite(data) => Box::new(SqliteStore::open_in(data)?),
            StoreConfig::Postgres(url) => Box::new(PgStore::connect(url)?),
        })
    }

    /// Starts a thread telling `changed` what other hosts append to the tenants in
    /// `followed`, until `stop` is set; none for a store only one host writes to.
    pub fn follow(
        &self,
        followed: Followed,
        stop: Arc<AtomicBool>,
        changed: impl FnMut(Heard) + Send + 'static,
    ) -> Result<Option<std::thread::JoinHandle<()>>, StoreError> {
        match self {
            StoreConfig::Sqlite(_) => Ok(None),
            StoreConfig::Postgres(url) => postgres::follow(url.clone(), followed, stop, changed).map(Some),
        }
    }

    /// Where the store is, for logs (never with a password).
    pub fn describe(&self) -> String {
        match self {
            StoreConfig::Sqlite(data) => data.join(DB_FILE).display().to_string(),
            StoreConfig::Postgres(url) => postgres::redacted(url),
        }
    }
}

#[cfg(test)]
mod tests {
    use agentstate_scenario::{Engine, NativeEngine, Scenario};

    /// Every event the rule suites produce names, read by itself, whom the core says it
    /// touches.
    #[test]
    fn the_history_index_files_an_event_under_whom_the_core_says_it_touches() {
        let suites = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/suites");
        let mut checked = 0;
        for file in std::fs::read_dir(&suites).expect("the suites").flatten() {
            if file.path().extension().is_none_or(|e| e != "yaml") {
                continue;
            }
            let scenario = Scenario::load(&file.path()).expect("a suite");
            let mut engine = NativeEngine::default();
            engine.start(&serde_json::to_string(&scenario.tenant).expect("a tenant")).expect("starts");
            for step in &scenario.steps {
                engine.handle(&step.command.to_string()).expect("answers");
            }
            for event in engine.tenant().journal() {
                let named: Vec<String> = event.change.users().into_iter().flatten().map(|u| u.to_string()).collect();
                assert_eq!(super::touched(&agentstate_core::wire::to_json(event)), named, "{event:?}");
                checked += 1;
            }
        }
        assert!(checked > 300, "only {checked} events");
        assert!(super::touched("not json").is_empty());
    }
}
