//! Tenants served durably: restart rebuilds the same state, retried ids decide once.

use agentstate_host::module;
use agentstate_host::service::TenantService;
use agentstate_host::store::{EventLog, SqliteStore};
use agentstate_host::wasm_engine::{Limits, Runtime};

const TENANT: &str = r#"{"plan":"complete","users":[{"id":"ana","name":"Ana","roles":["agent"]},
  {"id":"sam","name":"Sam","roles":["supervisor"]}],
  "channels":[{"id":"support","kind":"queue","name":"Support","supervisors":["sam"]}]}"#;

fn open(path: &std::path::Path, snapshot_every: u64) -> TenantService<SqliteStore> {
    let module = module::locate().unwrap_or_else(|e| panic!("{e}"));
    let runtime = Runtime::from_file(&module, Some(&module::cache_dir(&module)), Limits::default()).expect("runtime");
    TenantService::open(SqliteStore::open(path).expect("store"), runtime, snapshot_every).expect("service")
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
        service.query("acme", r#"{"view":"snapshot"}"#).expect("answers")
    };
    let store = SqliteStore::open(&path).expect("store");
    assert_eq!(store.last_seq("acme").expect("reads"), 11);
    assert!(store.latest_snapshot("acme").expect("reads").is_some_and(|(seq, _)| seq < 11), "a snapshot plus a tail");
    drop(store);

    let mut service = open(&path, 3);
    assert!(service.loaded().is_empty(), "tenants load on their first request, not at start");
    assert_eq!(service.query("acme", r#"{"view":"snapshot"}"#).expect("answers"), snapshot_before);
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
    let mut run = |service: &mut TenantService<SqliteStore>, pairs: u64| {
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

#[test]
fn bad_tenants_and_unknown_tenants_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut service = open(&dir.path().join("events.db"), 1000);
    assert!(service.create_tenant("acme", r#"{"plan":"gold"}"#).is_err());
    assert!(service.submit("nobody", &sign_in(1, None)).is_err());
    service.create_tenant("acme", TENANT).expect("creates");
    assert!(service.create_tenant("acme", TENANT).is_err(), "ids are unique");
}
