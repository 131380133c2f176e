//! Tenants served durably: restart rebuilds the same state, retried ids decide once, a
//! host that lost the race to another decides again on the caught-up state, and tenants
//! load on demand and are evicted least recently used first.

use agentstate_core::{Actor, Query};
use agentstate_runtime::module;
use agentstate_runtime::{Limits, Runtime};
use agentstate_server::service::{Bounds, TenantService};
use agentstate_server::store::{
    Append, EventLog, LockedLogs, LogBase, Pruned, Seq, SqliteStore, SsoProvider, SsoSignIn, SsoStore, Store,
    StoreConfig, StoreError, StoredOutcome, TokenGrant, TokenSelector, TokenStore,
};
use std::collections::HashMap;

const TENANT: &str = r#"{"plan":"complete","users":[{"id":"ana","name":"Ana","roles":["agent"]},
  {"id":"sam","name":"Sam","roles":["supervisor"]}],
  "channels":[{"id":"support","kind":"queue","name":"Support","supervisors":["sam"]}]}"#;

fn open(path: &std::path::Path, snapshot_every: u64) -> TenantService {
    let module = module::locate().unwrap_or_else(|e| panic!("{e}"));
    let runtime = Runtime::from_file(&module, Some(&module::cache_dir(&module)), Limits::default()).expect("runtime");
    TenantService::open(Box::new(SqliteStore::open(path).expect("store")), runtime, snapshot_every).expect("service")
}

fn sign_in(at: u64, id: Option<&str>) -> String {
    let id = id.map(|i| format!(r#","id":"{i}""#)).unwrap_or_default();
    format!(r#"{{"actor":"ana","at":{at},"type":"sign_in","user":"ana","channel":"support"{id}}}"#)
}

fn sign_out(at: u64) -> String {
    format!(r#"{{"actor":"ana","at":{at},"type":"sign_out","user":"ana","channel":"support"}}"#)
}

#[test]
fn a_restarted_host_loads_a_tenant_from_snapshot_and_tail_on_its_first_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.db");
    let snapshot_before = {
        let mut service = open(&path, 3);
        service.create_tenant("acme", TENANT).expect("creates");
        service.create_tenant("globex", TENANT).expect("creates");
        for i in 0..5 {
            service.submit("acme", &sign_in(1000 + 10 * i, None)).expect("submits");
            service.submit("acme", &sign_out(1005 + 10 * i)).expect("submits");
        }
        service.submit("acme", &sign_in(2000, None)).expect("submits");
        service.query("acme", &Query::Snapshot { actor: Actor::System }).expect("answers")
    };
    let store = SqliteStore::open(&path).expect("store");
    assert_eq!(store.last_seq("acme").expect("reads"), 11);
    assert!(store.latest_snapshot("acme").expect("reads").is_some_and(|(seq, _)| seq < 11), "a snapshot plus a tail");
    drop(store);

    let mut service = open(&path, 3);
    assert!(service.loaded().is_empty(), "tenants load on their first request, not at start");
    assert_eq!(service.query("acme", &Query::Snapshot { actor: Actor::System }).expect("answers"), snapshot_before);
    assert_eq!(service.loaded(), ["acme"]);
    let again = service.submit("acme", &sign_in(3000, None)).expect("submits");
    assert!(again.outcome.contains("already_signed_in"), "{}", again.outcome);
}

/// A server runs for months: what the tenant's instance holds must not grow with the log
/// (history is read from the log, not from the instance).
#[test]
fn a_long_running_tenant_does_not_grow_with_its_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut service = open(&dir.path().join("events.db"), 1_000);
    service.create_tenant("acme", TENANT).expect("creates");
    let mut at = 1_000;
    let mut run = |service: &mut TenantService, pairs: u64| {
        let batch: Vec<String> = (0..pairs)
            .flat_map(|_| {
                at += 10;
                [sign_in(at, None), sign_out(at + 5)]
            })
            .collect();
        for chunk in batch.chunks(500) {
            let commands: Vec<(&str, &str)> = chunk.iter().map(|c| ("acme", c.as_str())).collect();
            for submitted in service.submit_all(&commands) {
                let outcome = submitted.expect("submits").outcome;
                assert!(outcome.contains("accepted"), "{outcome}");
            }
        }
    };
    run(&mut service, 5_000);
    let settled = service.instance_memory("acme").expect("served");
    run(&mut service, 25_000);
    let after = service.instance_memory("acme").expect("served");
    assert_eq!(
        after, settled,
        "60,000 events after the first 10,000, the instance grew from {settled} to {after} bytes"
    );
}

#[test]
fn a_retried_command_id_returns_the_first_outcome_and_stores_no_second_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.db");
    let mut service = open(&path, 1000);
    service.create_tenant("acme", TENANT).expect("creates");
    let first = service.submit("acme", &sign_in(1000, Some("retry-me"))).expect("submits");
    assert!(first.outcome.contains("accepted") && !first.retried);
    service.submit("acme", &sign_out(1100)).expect("submits");
    let retried = service.submit("acme", &sign_in(1200, Some("retry-me"))).expect("submits");
    assert!(retried.retried);
    assert_eq!(retried.outcome, first.outcome, "the first result, not a new decision");
    drop(service);
    let store = SqliteStore::open(&path).expect("store");
    assert_eq!(store.last_seq("acme").expect("reads"), 2, "signed_in and signed_out only");
    // What a command reports as stored is what the log holds (live feeds rely on it).
    assert_eq!(first.stored, store.events_after("acme", 0, 1).expect("reads"));
    assert!(retried.stored.is_empty(), "a retry stores nothing");
}

/// A refused command leaves no trace, with an id or without: its retry is decided again,
/// and a flood of refusals stores nothing (issue 26: any token stored 1,000 rows a request).
#[test]
fn a_rejected_command_stores_nothing_and_its_retry_is_decided_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.db");
    let mut service = open(&path, 1000);
    service.create_tenant("acme", TENANT).expect("creates");
    let sam_signs_in = |at: u64, id: &str| {
        format!(r#"{{"actor":"sam","at":{at},"type":"sign_in","user":"sam","channel":"support","id":"{id}"}}"#)
    };
    for n in 0..1000 {
        let refused = service.submit("acme", &sam_signs_in(1000 + n, &format!("flood-{n}"))).expect("submits");
        assert!(refused.outcome.contains("no_agent_dashboard") && !refused.retried, "{}", refused.outcome);
        assert!(refused.stored.is_empty());
    }
    // Nothing holds the refused ids: another actor's command with one of them is decided.
    let first = service.submit("acme", &sign_in(3000, Some("flood-0"))).expect("submits");
    assert!(first.outcome.contains("accepted") && !first.retried, "{}", first.outcome);
    drop(service);
    let store = SqliteStore::open(&path).expect("store");
    let ids: Vec<String> = (0..1000).map(|n| format!("flood-{n}")).collect();
    let asked: Vec<&str> = ids.iter().map(String::as_str).collect();
    let kept = store.outcomes("acme", &asked).expect("reads");
    assert_eq!(kept.keys().collect::<Vec<_>>(), ["flood-0"], "only the accepted command's outcome is kept");
}

/// A refused command keeps its own answer when a later command of the same actor in the
/// same group uses its id and is accepted (red-team finding: the refusal was answered with
/// the later command's success, marked `retried`).
#[test]
fn a_refusal_is_not_answered_with_a_later_command_that_took_its_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut service = open(&dir.path().join("events.db"), 1000);
    service.create_tenant("acme", TENANT).expect("creates");
    service.submit("acme", &sign_in(1000, None)).expect("signs in");
    let anas = |kind: &str| format!(r#"{{"actor":"ana","at":1100,"type":"{kind}","user":"ana","id":"bk"}}"#);
    let pause = anas("pause").replacen("}", r#","reason":"break"}"#, 1);
    let answers = service.submit_all(&[("acme", &anas("resume")), ("acme", &pause)]);
    let refused = answers[0].as_ref().expect("an outcome");
    assert!(refused.outcome.contains("not_paused") && !refused.retried, "{refused:?}");
    let accepted = answers[1].as_ref().expect("an outcome");
    assert!(accepted.outcome.contains("accepted") && !accepted.retried, "{accepted:?}");
    // Sent again later, the id is the accepted command's: its retry.
    let again = service.submit("acme", &anas("resume")).expect("an outcome");
    assert!(again.retried && again.outcome == accepted.outcome, "{again:?}");
}

/// A command id is its actor's own: another actor's command with the same id is a command
/// of its own, decided as any other — when both come in one group and once the first is
/// stored — so no answer tells one user which ids another used. Each actor's retry gets
/// their own outcome.
#[test]
fn another_actors_command_with_the_same_id_is_a_command_of_its_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut service = open(&dir.path().join("events.db"), 1000);
    service.create_tenant("acme", TENANT).expect("creates");
    let sams = |at: u64, id: &str| {
        format!(r#"{{"actor":"sam","at":{at},"type":"pause","user":"ana","reason":"break","id":"{id}"}}"#)
    };
    let mut group = service.submit_all(&[("acme", &sign_in(1000, Some("one"))), ("acme", &sams(1000, "one"))]);
    let sam = group.pop().expect("a result").expect("sam's command is decided");
    let ana = group.pop().expect("a result").expect("ana's command is decided");
    assert!(!sam.retried && !ana.retried && sam.outcome != ana.outcome, "{sam:?} {ana:?}");
    assert_eq!(service.last_seq("acme").expect("reads"), 2, "both sign-ins are stored");
    let sam_again = service.submit("acme", &sams(1100, "one")).expect("sam's retry");
    assert!(sam_again.retried && sam_again.outcome == sam.outcome);
    let ana_again = service.submit("acme", &sign_in(1200, Some("one"))).expect("ana's retry");
    assert!(ana_again.retried && ana_again.outcome == ana.outcome);
}

#[test]
fn bad_tenants_and_unknown_tenants_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut service = open(&dir.path().join("events.db"), 1000);
    assert!(service.create_tenant("acme", r#"{"plan":"gold"}"#).is_err());
    assert!(service.submit("nobody", &sign_in(1, None)).is_err());
    service.create_tenant("acme", TENANT).expect("creates");
    assert!(service.create_tenant("acme", TENANT).is_err(), "ids are unique");
}

/// A store that runs a hook before its first append: another host appending first (the
/// race two hosts run when they serve one tenant at once), or the store failing. Its rounds
/// run without a lock, so the hook can get in between — unless it records them, then they
/// go through the store's own `locked` and `optimistic`.
struct Hooked {
    store: Box<dyn Store>,
    before_append: Option<Box<dyn FnOnce() -> Result<(), StoreError> + Send>>,
    /// Which way each round went, when recorded.
    rounds: Option<Rounds>,
}

type Rounds = std::sync::Arc<std::sync::Mutex<Vec<&'static str>>>;

/// A hooked store's logs, used as they are.
struct Direct<'a>(&'a mut Hooked);

impl LockedLogs for Direct<'_> {
    fn events_after(&mut self, tenant: &str, after: Seq, limit: usize) -> Result<Vec<(Seq, String)>, StoreError> {
        self.0.events_after(tenant, after, limit)
    }
    fn append_all(&mut self, appends: &[Append<'_>]) -> Result<Vec<Seq>, StoreError> {
        self.0.append_all(appends)
    }
}

/// The work of one round, as the store runs it.
type RoundWork<'a> = dyn FnMut(&mut dyn LockedLogs) -> Result<(), StoreError> + 'a;

impl Hooked {
    /// Runs a round: recorded as `way` and through the store's own (`through`), or, when
    /// not recorded, without a lock.
    fn round(
        &mut self,
        way: &'static str,
        work: &mut RoundWork<'_>,
        through: impl FnOnce(&mut dyn Store, &mut RoundWork<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        match self.rounds.clone() {
            Some(rounds) => {
                rounds.lock().expect("not poisoned").push(way);
                through(&mut *self.store, work)
            }
            None => work(&mut Direct(self)),
        }
    }
}

/// Every method forwarded, the defaulted ones too: a decorator that left one out would run
/// the trait's default instead of the store's own.
impl EventLog for Hooked {
    fn locked(&mut self, tenants: &[&str], work: &mut RoundWork<'_>) -> Result<(), StoreError> {
        self.round("locked", work, |store, work| store.locked(tenants, work))
    }
    fn optimistic(&mut self, believed: &[(&str, Seq)], work: &mut RoundWork<'_>) -> Result<(), StoreError> {
        self.round("optimistic", work, |store, work| store.optimistic(believed, work))
    }
    fn create_tenant(&mut self, tenant: &str, description: &str) -> Result<(), StoreError> {
        self.store.create_tenant(tenant, description)
    }
    fn tenants(&self) -> Result<Vec<String>, StoreError> {
        self.store.tenants()
    }
    fn description(&self, tenant: &str) -> Result<String, StoreError> {
        self.store.description(tenant)
    }
    fn append_all(&mut self, appends: &[Append<'_>]) -> Result<Vec<Seq>, StoreError> {
        if let Some(hook) = self.before_append.take() {
            hook()?;
        }
        self.store.append_all(appends)
    }
    fn outcome(&self, tenant: &str, actor: &str, id: &str) -> Result<Option<String>, StoreError> {
        self.store.outcome(tenant, actor, id)
    }
    fn outcomes(&self, tenant: &str, ids: &[&str]) -> Result<HashMap<String, Vec<StoredOutcome>>, StoreError> {
        self.store.outcomes(tenant, ids)
    }
    fn events_after(&self, tenant: &str, after: Seq, limit: usize) -> Result<Vec<(Seq, String)>, StoreError> {
        self.store.events_after(tenant, after, limit)
    }
    fn history(&self, tenant: &str, user: &str, before: Seq, limit: usize) -> Result<Vec<(Seq, String)>, StoreError> {
        self.store.history(tenant, user, before, limit)
    }
    fn last_seq(&self, tenant: &str) -> Result<Seq, StoreError> {
        self.store.last_seq(tenant)
    }
    fn put_snapshot(&mut self, tenant: &str, seq: Seq, snapshot: &str) -> Result<(), StoreError> {
        self.store.put_snapshot(tenant, seq, snapshot)
    }
    fn latest_snapshot(&self, tenant: &str) -> Result<Option<(Seq, String)>, StoreError> {
        self.store.latest_snapshot(tenant)
    }
    fn snapshot_as_of(&self, tenant: &str, seq: Seq) -> Result<Option<(Seq, String)>, StoreError> {
        self.store.snapshot_as_of(tenant, seq)
    }
    fn log_base(&self, tenant: &str) -> Result<Option<LogBase>, StoreError> {
        self.store.log_base(tenant)
    }
    fn rebase(&mut self, tenant: &str, expected: Seq, base: LogBase, snapshot: &str) -> Result<Pruned, StoreError> {
        self.store.rebase(tenant, expected, base, snapshot)
    }
    fn ping(&self) -> Result<(), StoreError> {
        self.store.ping()
    }
    fn settle(&mut self) -> Result<(), StoreError> {
        self.store.settle()
    }
}

impl TokenStore for Hooked {
    fn put_token(&mut self, hash: &str, grant: &TokenGrant) -> Result<(), StoreError> {
        self.store.put_token(hash, grant)
    }
    fn token(&self, hash: &str) -> Result<Option<TokenGrant>, StoreError> {
        self.store.token(hash)
    }
    fn tokens_of(&self, tenant: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.store.tokens_of(tenant)
    }
    fn revoke_tokens(&mut self, tenant: &str, which: TokenSelector<'_>) -> Result<usize, StoreError> {
        self.store.revoke_tokens(tenant, which)
    }
    fn put_session(&mut self, session: &str, token: &str, expires: u64) -> Result<Vec<String>, StoreError> {
        self.store.put_session(session, token, expires)
    }
    fn session(&self, session: &str, now: u64) -> Result<Option<(TokenGrant, String)>, StoreError> {
        self.store.session(session, now)
    }
    fn end_session(&mut self, session: &str) -> Result<bool, StoreError> {
        self.store.end_session(session)
    }
    fn put_link(&mut self, link: &str, token: &str, expires: u64) -> Result<(), StoreError> {
        self.store.put_link(link, token, expires)
    }
    fn take_link(&mut self, link: &str, now: u64) -> Result<Option<String>, StoreError> {
        self.store.take_link(link, now)
    }
}

impl SsoStore for Hooked {
    fn put_sso_provider(&mut self, tenant: &str, provider: &SsoProvider) -> Result<(), StoreError> {
        self.store.put_sso_provider(tenant, provider)
    }
    fn sso_provider(&self, tenant: &str) -> Result<Option<SsoProvider>, StoreError> {
        self.store.sso_provider(tenant)
    }
    fn remove_sso_provider(&mut self, tenant: &str) -> Result<bool, StoreError> {
        self.store.remove_sso_provider(tenant)
    }
    fn put_sso_sign_in(&mut self, state: &str, sign_in: &SsoSignIn, now: u64) -> Result<bool, StoreError> {
        self.store.put_sso_sign_in(state, sign_in, now)
    }
    fn take_sso_sign_in(&mut self, state: &str, now: u64) -> Result<Option<SsoSignIn>, StoreError> {
        self.store.take_sso_sign_in(state, now)
    }
    fn sso_token(&self, tenant: &str, actor: &str) -> Result<Option<String>, StoreError> {
        self.store.sso_token(tenant, actor)
    }
    fn put_sso_token(&mut self, tenant: &str, actor: &str, token: &str) -> Result<(), StoreError> {
        self.store.put_sso_token(tenant, actor, token)
    }
}

fn runtime() -> std::sync::Arc<Runtime> {
    let module = module::locate().unwrap_or_else(|e| panic!("{e}"));
    Runtime::from_file(&module, Some(&module::cache_dir(&module)), Limits::default()).expect("runtime")
}

#[test]
fn a_host_that_loses_the_race_decides_again_on_the_caught_up_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.db");
    open(&path, 1000).create_tenant("acme", TENANT).expect("creates");
    open(&path, 1000).create_tenant("globex", TENANT).expect("creates");
    // Host B signs Ana in between host A's decision and A's append.
    let mut host_b = open(&path, 1000);
    let rival = Box::new(move || {
        let signed_in = host_b.submit("acme", &sign_in(1000, None)).expect("B submits");
        assert!(signed_in.outcome.contains("accepted"), "{}", signed_in.outcome);
        Ok(())
    });
    let store =
        Hooked { store: Box::new(SqliteStore::open(&path).expect("store")), before_append: Some(rival), rounds: None };
    let mut host_a = TenantService::open(Box::new(store), runtime(), 1000).expect("service");
    // A decided on the log without B's event: accepted. That decision must not stand; the
    // other tenant of the same group commit is stored as decided.
    let command = sign_in(1001, Some("a-1"));
    let mut answers = host_a.submit_all(&[("globex", &sign_in(1001, None)), ("acme", &command)]).into_iter();
    let globex = answers.next().expect("an answer").expect("stored");
    assert!(globex.outcome.contains("accepted") && globex.seq == 1, "{globex:?}");
    let answer = answers.next().expect("an answer").expect("A submits");
    assert!(answer.outcome.contains("already_signed_in"), "decided again after catching up: {}", answer.outcome);
    let store = SqliteStore::open(&path).expect("store");
    assert_eq!(store.last_seq("acme").expect("reads"), 1, "only B's sign-in is in the log");
    // A refusal leaves no trace: the id holds nothing, and a retry is decided again.
    assert_eq!(store.outcome("acme", "ana", "a-1").expect("reads"), None, "a refused command's outcome is not kept");
    // A's instance was rolled back and caught up: it goes on from the log as it is.
    let signed_out = host_a.submit("acme", &sign_out(1002)).expect("A submits");
    assert!(signed_out.outcome.contains("accepted") && signed_out.seq == 2, "{signed_out:?}");
}

/// Routed by tenant, a host is its tenants' only writer and appends trusting its instance
/// (one round trip on PostgreSQL). Once another host appends to the tenant, the trusting
/// append is refused, the command decided again under the lock on the caught-up state —
/// and the tenant's next 16 rounds run under the lock before the host trusts it again.
#[test]
fn a_host_trusts_its_instance_until_another_host_appends_to_the_tenant() {
    let cluster = agentstate_testkit::PgCluster::start().expect("a private PostgreSQL cluster");
    let place = StoreConfig::Postgres(cluster.database("trust").expect("a database"));
    let rounds = Rounds::default();
    let store = Hooked { store: place.open().expect("opens"), before_append: None, rounds: Some(rounds.clone()) };
    let mut host_a = TenantService::open(Box::new(store), runtime(), 1000).expect("service");
    host_a.create_tenant("acme", TENANT).expect("creates");
    assert!(host_a.submit("acme", &sign_in(1000, None)).expect("A submits").outcome.contains("accepted"));
    let mut host_b = TenantService::open(place.open().expect("opens"), runtime(), 1000).expect("service");
    assert!(host_b.submit("acme", &sign_out(1001)).expect("B submits").outcome.contains("accepted"));
    // A believes Ana is signed in: refused as it stands, decided again on B's sign-out.
    let answer = host_a.submit("acme", &sign_out(1002)).expect("A submits");
    assert!(answer.outcome.contains("not_signed_in") && answer.seq == 2, "{answer:?}");
    for n in 0..17 {
        let command = if n % 2 == 0 { sign_in(1003 + n, None) } else { sign_out(1003 + n) };
        assert!(host_a.submit("acme", &command).expect("A submits").outcome.contains("accepted"));
    }
    let rounds = rounds.lock().expect("not poisoned").clone();
    let mut expected = vec!["optimistic", "optimistic", "locked"];
    expected.extend(["locked"; 16]);
    expected.push("optimistic");
    assert_eq!(rounds, expected);
}

/// A command whose id no store could keep (a NUL; more than an index entry holds) is
/// refused by the module and stored under no id: the other commands of its group commit
/// are stored as ever (on PostgreSQL such an id failed the whole group).
#[test]
fn an_id_no_store_could_keep_fails_only_its_own_command() {
    let cluster = agentstate_testkit::PgCluster::start().expect("a private PostgreSQL cluster");
    let place = StoreConfig::Postgres(cluster.database("ids").expect("a database"));
    let mut service = TenantService::open(place.open().expect("opens"), runtime(), 1000).expect("service");
    service.create_tenant("acme", TENANT).expect("creates");
    let long = "x".repeat(20_000);
    for bad in [r"a\u0000b", long.as_str()] {
        let refused = sign_out(1000).replacen('{', &format!(r#"{{"id":"{bad}","#), 1);
        let answers = service.submit_all(&[("acme", &refused), ("acme", &sign_in(1001, Some("fine")))]);
        let refused = answers[0].as_ref().expect("an outcome");
        assert!(refused.outcome.contains("invalid_command"), "{}", refused.outcome);
        assert!(answers[1].as_ref().is_ok_and(|s| s.outcome.contains("accepted") || s.retried), "{answers:?}");
    }
    let store = place.open().expect("opens");
    assert_eq!(store.outcome("acme", "ana", "fine").expect("reads").map(|o| o.contains("accepted")), Some(true));
    assert_eq!(store.outcome("acme", "ana", &long).expect("reads"), None, "the long id was kept nowhere");
    assert_eq!(store.last_seq("acme").expect("reads"), 1);
}

#[test]
fn tenants_are_loaded_on_demand_and_the_least_recently_used_evicted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.db");
    let bounds = Bounds { snapshot_every: 1000, loaded: 2, memory_bytes: usize::MAX };
    let mut service = TenantService::with_bounds(Box::new(SqliteStore::open(&path).expect("store")), runtime(), bounds);
    for tenant in ["t1", "t2", "t3"] {
        service.create_tenant(tenant, TENANT).expect("creates");
    }
    assert!(service.loaded().is_empty(), "creating a tenant loads nothing");
    service.submit("t1", &sign_in(1000, None)).expect("submits");
    let t1 = service.query("t1", &Query::Snapshot { actor: Actor::System }).expect("answers");
    service.submit("t2", &sign_in(1000, None)).expect("submits");
    service.submit("t3", &sign_in(1000, None)).expect("submits");
    assert_eq!(service.loaded(), ["t2", "t3"], "t1 was used least recently");
    assert_eq!(
        service.query("t1", &Query::Snapshot { actor: Actor::System }).expect("answers"),
        t1,
        "reloaded as it was"
    );
    assert_eq!(service.loaded(), ["t1", "t3"]);
    let again = service.submit("t1", &sign_in(2000, None)).expect("submits");
    assert!(again.outcome.contains("already_signed_in"), "{}", again.outcome);
}

#[test]
fn a_group_touching_more_tenants_than_may_be_loaded_is_decided_in_rounds_that_fit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bounds = Bounds { snapshot_every: 1000, loaded: 4, memory_bytes: usize::MAX };
    let mut service = TenantService::with_bounds(
        Box::new(SqliteStore::open(&dir.path().join("e.db")).expect("store")),
        runtime(),
        bounds,
    );
    let tenants: Vec<String> = (0..10).map(|t| format!("t{t}")).collect();
    for tenant in &tenants {
        service.create_tenant(tenant, TENANT).expect("creates");
    }
    let commands: Vec<(&str, String)> = tenants.iter().map(|t| (t.as_str(), sign_in(1000, None))).collect();
    let pairs: Vec<(&str, &str)> = commands.iter().map(|(t, c)| (*t, c.as_str())).collect();
    for result in service.submit_all(&pairs) {
        let submitted = result.expect("every tenant is served");
        assert!(submitted.outcome.contains("accepted") && submitted.seq == 1, "{submitted:?}");
    }
    assert!(service.loaded().len() <= 4, "{:?}", service.loaded());
    for tenant in &tenants {
        service.query(tenant, &Query::Snapshot { actor: Actor::System }).expect("answers");
        assert!(service.loaded().len() <= 4, "queries stay within the bound too");
    }
}

#[test]
fn the_activity_report_reads_the_stored_log_up_to_its_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut service = open(&dir.path().join("events.db"), 1000);
    service.create_tenant("acme", TENANT).expect("creates");
    service.submit("acme", &sign_in(1000, None)).expect("submits");
    let pause = r#"{"actor":"ana","at":2000,"type":"pause","user":"ana","channel":"support","reason":"lunch"}"#;
    service.submit("acme", pause).expect("submits");
    service.submit("acme", &sign_out(20_000)).expect("submits");
    let answer = service.activity("acme", 0, 10_000).expect("answers");
    let report: agentstate_core::views::ActivityReport = serde_json::from_str(&answer).expect("a report");
    let ana = &report.rows[0];
    assert_eq!((ana.user.as_str(), ana.channel.as_str()), ("ana", "support"));
    assert_eq!(ana.totals.paused_by_reason.get("lunch"), Some(&8000), "{answer}");
    assert_eq!(ana.totals.signed_in_ms, 9000, "the sign-out after the range is not in it");
    let csv = agentstate_server::reports::activity_csv(&report).expect("CSV");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "user,channel,signed_in_ms,available_ms,on_interaction_ms,wrap_up_ms,paused_ms,signed_out_ms,paused_lunch_ms,interactions_handled"
        )
    );
    assert_eq!(lines.next(), Some("ana,support,9000,1000,0,0,8000,1000,8000,0"));
    assert!(matches!(
        service.activity("nobody", 0, 1),
        Err(agentstate_server::service::ServiceError::UnknownTenant(_))
    ));
}

#[test]
fn a_store_that_fails_mid_commit_stores_nothing_and_the_tenant_goes_on_from_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.db");
    open(&path, 1000).create_tenant("acme", TENANT).expect("creates");
    let failing = Box::new(|| Err(StoreError::Backend("disk I/O error".into())));
    let store = Hooked {
        store: Box::new(SqliteStore::open(&path).expect("store")),
        before_append: Some(failing),
        rounds: None,
    };
    let mut service = TenantService::open(Box::new(store), runtime(), 1000).expect("service");
    let failed = service.submit("acme", &sign_in(1000, Some("first-try")));
    assert!(
        matches!(failed, Err(agentstate_server::service::ServiceError::Store(StoreError::Backend(_)))),
        "{failed:?}"
    );
    assert_eq!(SqliteStore::open(&path).expect("store").last_seq("acme").expect("reads"), 0, "nothing half-written");
    assert_eq!(SqliteStore::open(&path).expect("store").outcome("acme", "ana", "first-try").expect("reads"), None);
    // The instance forgot the sign-in the store refused: the retry is decided anew.
    let retried = service.submit("acme", &sign_in(1001, Some("first-try"))).expect("submits");
    assert!(retried.outcome.contains("accepted") && !retried.retried && retried.seq == 1, "{retried:?}");
}

#[test]
fn a_guest_failure_mid_group_fails_only_its_command_and_the_others_keep_their_outcomes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.db");
    let module = module::locate().unwrap_or_else(|e| panic!("{e}"));
    let limits = Limits { memory_bytes: 8 << 20, ..Limits::default() };
    let runtime = Runtime::from_file(&module, Some(&module::cache_dir(&module)), limits).expect("runtime");
    let mut service =
        TenantService::open(Box::new(SqliteStore::open(&path).expect("store")), runtime, 1000).expect("service");
    for tenant in ["acme", "globex"] {
        service.create_tenant(tenant, TENANT).expect("creates");
    }
    // Acme's second command does not fit in its instance's 8 MiB: the guest fails on it.
    let huge =
        format!(r#"{{"actor":"ana","at":1001,"type":"pause","user":"ana","reason":"{}"}}"#, "x".repeat(12 << 20));
    let group = [
        ("globex", sign_in(1000, None)),
        ("acme", sign_in(1000, None)),
        ("acme", huge),
        ("acme", sign_out(1002)),
        ("globex", sign_out(1002)),
    ];
    let answers = service.submit_all(&group.iter().map(|(t, c)| (*t, c.as_str())).collect::<Vec<_>>());
    let outcome = |i: usize| answers[i].as_ref().map(|s| (s.outcome.contains("accepted"), s.seq));
    assert_eq!(outcome(0).ok(), Some((true, 1)), "{:?}", answers[0]);
    assert_eq!(outcome(1).ok(), Some((true, 1)), "{:?}", answers[1]);
    assert!(
        answers[2].is_err(),
        "the command the guest failed on fails: {:?}",
        answers[2].as_ref().map(|s| &s.outcome)
    );
    assert_eq!(outcome(3).ok(), Some((true, 2)), "acme goes on from its state before the failure: {:?}", answers[3]);
    assert_eq!(outcome(4).ok(), Some((true, 2)), "{:?}", answers[4]);
    let store = SqliteStore::open(&path).expect("store");
    assert_eq!((store.last_seq("acme").expect("reads"), store.last_seq("globex").expect("reads")), (2, 2));
}

/// A retry sent to another host, whose instance the first host's append left behind: the
/// command would now be refused there, and the stored outcome is what comes back.
#[test]
fn a_retry_on_another_host_gets_the_stored_outcome() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.db");
    let mut host_a = open(&path, 1000);
    host_a.create_tenant("acme", TENANT).expect("creates");
    let mut host_b = open(&path, 1000);
    host_b.submit("acme", &sign_out(900)).expect("B loads the tenant");
    let first = host_a.submit("acme", &sign_in(1000, Some("x"))).expect("A submits");
    assert!(first.outcome.contains("accepted"), "{}", first.outcome);
    let again = host_b.submit("acme", &sign_in(1000, Some("x"))).expect("B submits");
    assert!(again.retried && again.outcome == first.outcome, "{again:?}");
    let again = host_a.submit("acme", &sign_in(1000, Some("x"))).expect("A submits");
    assert!(again.retried && again.outcome == first.outcome, "{again:?}");
}

#[test]
fn a_retry_on_another_host_gets_the_stored_outcome_on_postgres() {
    let cluster = agentstate_testkit::PgCluster::start().expect("a private PostgreSQL cluster");
    let place = StoreConfig::Postgres(cluster.database("retry").expect("a database"));
    let mut host_a = TenantService::open(place.open().expect("opens"), runtime(), 1000).expect("service");
    host_a.create_tenant("acme", TENANT).expect("creates");
    let mut host_b = TenantService::open(place.open().expect("opens"), runtime(), 1000).expect("service");
    host_b.submit("acme", &sign_out(900)).expect("B loads the tenant");
    let first = host_a.submit("acme", &sign_in(1000, Some("x"))).expect("A submits");
    assert!(first.outcome.contains("accepted"), "{}", first.outcome);
    let again = host_b.submit("acme", &sign_in(1000, Some("x"))).expect("B submits");
    assert!(again.retried && again.outcome == first.outcome, "{again:?}");
}
