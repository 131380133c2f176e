//! Retention, tried on SQLite and on PostgreSQL with a log that crosses the cutoff: after
//! a prune nothing inside the window changed — state, views, history, the activity report,
//! the outcomes of retried commands — a restarted host loads the same state, a second prune
//! does nothing, a backlog is pruned in bounded steps, and pruning while two hosts keep
//! deciding loses no command.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use agentstate_core::{Actor, ChannelId, Millis, Query};
use agentstate_runtime::module;
use agentstate_runtime::{Limits, Runtime};
use agentstate_server::service::{Incoming, LogBegins, PRUNE_CHUNK, TenantService};
use agentstate_server::store::StoreConfig;
use agentstate_testkit::PgCluster;
use serde_json::Value;

const TENANT: &str = r#"{"plan":"complete","pause_reasons":["lunch","training"],
  "users":[{"id":"ana","name":"Ana","roles":["agent"]},{"id":"ben","name":"Ben","roles":["agent"]},
  {"id":"sam","name":"Sam","roles":["supervisor"]}],
  "channels":[{"id":"support","kind":"queue","name":"Support","wrap_up_secs":60,"agents":["ana","ben"],"supervisors":["sam"]},
  {"id":"sales","kind":"queue","name":"Sales","agents":["ana","ben"]}]}"#;

/// The retention cutoff of the tests: events before it go.
const CUTOFF: u64 = 1_000_000;

type Service = TenantService;

fn runtime() -> Arc<Runtime> {
    let module = module::locate().unwrap_or_else(|e| panic!("{e}"));
    Runtime::from_file(&module, Some(&module::cache_dir(&module)), Limits::default()).expect("runtime")
}

fn open(place: &StoreConfig, snapshot_every: u64) -> Service {
    TenantService::open(place.open().expect("store"), runtime(), snapshot_every).expect("service")
}

fn command(at: u64, kind: &str, fields: &str, id: Option<&str>) -> String {
    let id = id.map(|i| format!(r#","id":"{i}""#)).unwrap_or_default();
    format!(r#"{{"at":{at},"type":"{kind}"{fields}{id}}}"#)
}

fn by(actor: &str, user: &str, channel: &str) -> String {
    format!(r#","actor":"{actor}","user":"{user}","channel":"{channel}""#)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn events_of(history: &str) -> Vec<Value> {
    match json(history) {
        Value::Array(events) => events,
        other => panic!("no history: {other}"),
    }
}

/// Everything a client can see of the tenant inside the window.
#[derive(Debug, PartialEq)]
struct Seen {
    snapshot: String,
    roster: String,
    states: String,
    history: Vec<Value>,
    /// Activity reports for ranges inside the window.
    reports: Vec<String>,
}

fn seen(service: &mut Service) -> Seen {
    let history = |service: &mut Service, user: &str| events_of(&service.history("acme", user).expect("history"));
    let mut kept: Vec<Value> = history(service, "ana");
    kept.extend(history(service, "ben"));
    kept.extend(history(service, "sam"));
    kept.retain(|e| e["at"].as_u64().is_some_and(|at| at >= CUTOFF));
    Seen {
        snapshot: service.query("acme", &Query::Snapshot { actor: Actor::System }).expect("snapshot"),
        roster: service
            .query(
                "acme",
                &Query::Roster {
                    actor: Actor::System,
                    channel: ChannelId::new("support").unwrap(),
                    at: Millis::new(1_100_000).unwrap(),
                },
            )
            .expect("roster"),
        states: service
            .query(
                "acme",
                &Query::ChannelStates {
                    actor: Actor::System,
                    channel: ChannelId::new("support").unwrap(),
                    at: Millis::new(1_100_000).unwrap(),
                },
            )
            .expect("states"),
        history: kept,
        reports: [(CUTOFF, 1_100_000), (CUTOFF + 1_500, CUTOFF + 61_000), (CUTOFF + 10_000, 2_000_000)]
            .iter()
            .map(|&(from, to)| service.activity("acme", from, to).expect("activity"))
            .collect(),
    }
}

/// A day that crosses the cutoff: sign-ins, a pause, a call and a monitoring before it,
/// their ends and new work after it; commands with ids on both sides, accepted and
/// rejected, one rejected right at the boundary (after the last old event, before the
/// first kept one).
fn a_day_across_the_cutoff(service: &mut Service, lagging: &mut [Service]) -> Vec<(String, String)> {
    let old = [
        command(1_000, "sign_in", &by("ana", "ana", "support"), Some("old-sign-in")),
        command(2_000, "sign_in", &by("ben", "ben", "support"), None),
        command(2_500, "sign_in", &by("ana", "ana", "sales"), None),
        command(3_000, "pause", &(by("ana", "ana", "support") + r#","reason":"lunch""#), Some("old-pause")),
        command(
            4_000,
            "interaction_started",
            &(by("system", "ben", "support") + r#","interaction":"c1""#),
            Some("old-call"),
        ),
        command(5_000, "monitor", r#","actor":"sam","user":"ben","mode":"listen""#, None),
        command(6_000, "sign_in", &by("ana", "ana", "support"), Some("old-rejected")),
        // Right at the boundary: decided after the last old event, at the cutoff.
        command(CUTOFF, "sign_in", &by("ben", "ben", "support"), Some("edge-rejected")),
    ];
    let new = [
        command(CUTOFF + 1_000, "resume", &by("ana", "ana", "support"), Some("new-resume")),
        command(CUTOFF + 2_000, "interaction_ended", r#","actor":"system","interaction":"c1""#, Some("new-end")),
        command(CUTOFF + 3_000, "sign_in", &by("ana", "ana", "support"), Some("new-rejected")),
        command(
            CUTOFF + 4_000,
            "interaction_started",
            &(by("system", "ana", "sales") + r#","interaction":"c2""#),
            None,
        ),
        command(CUTOFF + 9_000, "interaction_ended", r#","actor":"system","interaction":"c2""#, None),
        command(CUTOFF + 20_000, "sign_out", &by("ben", "ben", "support"), Some("new-sign-out")),
        command(CUTOFF + 30_000, "pause", &(by("ana", "ana", "sales") + r#","reason":"training""#), None),
    ];
    let mut outcomes = Vec::new();
    for (n, text) in old.iter().chain(&new).enumerate() {
        if n == 2 {
            // Other hosts load the tenant now and then look away while it is pruned.
            for other in lagging.iter_mut() {
                other.query("acme", &Query::Snapshot { actor: Actor::System }).expect("loads");
            }
        }
        let submitted = service.submit("acme", text).expect("submits");
        if let Some(id) = json(text)["id"].as_str() {
            outcomes.push((id.to_owned(), submitted.outcome));
        }
    }
    for (id, outcome) in &outcomes {
        let rejected = id.ends_with("rejected");
        assert_eq!(outcome.contains("accepted"), !rejected, "{id}: {outcome}");
    }
    outcomes
}

/// Who sent the command with this id in [`a_day_across_the_cutoff`]: an id is its sender's,
/// so a retry comes from them.
fn sender(id: &str) -> &'static str {
    match id {
        "old-call" | "new-end" => "system",
        "edge-rejected" | "new-sign-out" => "ben",
        _ => "ana",
    }
}

fn retry(service: &mut Service, id: &str) -> (bool, String) {
    // Another text under the same id, from its sender: a retry answers the first outcome,
    // a new decision would be a different one.
    let text = command(CUTOFF + 100_000, "sign_out", &by(sender(id), "sam", "sales"), Some(id));
    let submitted = service.submit("acme", &text).expect("submits");
    (submitted.retried, submitted.outcome)
}

fn a_log_across_the_cutoff_is_pruned_without_changing_the_window(place: &StoreConfig) {
    let mut service = open(place, 3);
    service.create_tenant("acme", TENANT).expect("creates");
    let mut lagging = [open(place, 3), open(place, 3)];
    let outcomes = a_day_across_the_cutoff(&mut service, &mut lagging);
    let last = service.last_seq("acme").expect("reads");
    let before = seen(&mut service);
    assert!(!before.history.is_empty() && before.reports.iter().all(|r| r.contains("\"rows\":[{")), "{before:?}");
    assert_eq!(service.log_begins("acme").expect("reads"), None, "nothing pruned yet");

    let pruned = service.prune("acme", CUTOFF).expect("prunes");
    assert!(pruned.events >= 6, "{pruned:?}");
    let begins = service.log_begins("acme").expect("reads").expect("pruned");
    assert_eq!(begins, LogBegins { seq: pruned.events + 1, at: CUTOFF });

    // The host that had the tenant loaded, and a host starting afresh, see the window as
    // it was.
    assert_eq!(seen(&mut service), before, "the pruning host");
    let mut restarted = open(place, 3);
    assert_eq!(seen(&mut restarted), before, "a restarted host");
    // A host whose loaded tenant fell behind the new base loads it again from the base:
    // on a read, and on a command (decided in the round after it noticed).
    let [mut reading, mut deciding] = lagging;
    assert_eq!(seen(&mut reading), before, "a host that had the tenant loaded before the prune");
    let (id, outcome) = outcomes.iter().find(|(id, _)| id == "new-resume").expect("new-resume");
    assert_eq!(retry(&mut deciding, id), (true, outcome.clone()), "a lagging host answers a retry");
    assert_eq!(seen(&mut deciding), before);
    assert_eq!(restarted.last_seq("acme").expect("reads"), last);

    // The history holds only kept events.
    let history = events_of(&restarted.history("acme", "ana").expect("history"));
    assert!(history.iter().all(|e| e["at"].as_u64().is_some_and(|at| at >= CUTOFF)), "{history:?}");
    assert!(!history.is_empty());

    // Outcomes inside the window answer retries as before; older ones went with their
    // events (decided anew: not a retry). A refusal was never kept: its retry is decided
    // anew wherever it stands.
    for (id, outcome) in &outcomes {
        let (retried, answer) = retry(&mut restarted, id);
        if id.ends_with("rejected") {
            assert!(!retried, "{id} was refused, and refusals are not kept: {answer}");
        } else if id.starts_with("old") {
            assert!(!retried, "{id} was pruned: {answer}");
        } else {
            assert!(retried, "{id} is inside the window");
            assert_eq!(&answer, outcome, "{id}");
        }
    }

    // A second prune with the same cutoff does nothing.
    let state = restarted.query("acme", &Query::Snapshot { actor: Actor::System }).expect("snapshot");
    assert_eq!(restarted.prune("acme", CUTOFF).expect("prunes"), Default::default());
    assert_eq!(service.prune("acme", CUTOFF).expect("prunes"), Default::default());
    assert_eq!(restarted.log_begins("acme").expect("reads"), Some(begins));
    assert_eq!(restarted.query("acme", &Query::Snapshot { actor: Actor::System }).expect("snapshot"), state);
    // The first host catches up with what the second one stored since.
    assert_eq!(service.query("acme", &Query::Snapshot { actor: Actor::System }).expect("snapshot"), state);
}

/// A backlog larger than one step is pruned in several, each leaving a complete base.
fn a_backlog_is_pruned_in_bounded_steps(place: &StoreConfig) {
    let mut service = open(place, 1_000);
    service.create_tenant("acme", TENANT).expect("creates");
    let toggles = PRUNE_CHUNK as u64 + 2_500;
    let texts: Vec<String> = (0..toggles)
        .map(|i| {
            let kind = if i % 2 == 0 { "sign_in" } else { "sign_out" };
            command(1_000 + i * 10, kind, &by("ana", "ana", "sales"), None)
        })
        .chain([command(CUTOFF + 1, "sign_in", &by("ben", "ben", "sales"), None)])
        .collect();
    for chunk in texts.chunks(1_000) {
        let commands: Vec<(&str, &str)> = chunk.iter().map(|c| ("acme", c.as_str())).collect();
        for submitted in service.submit_all(&commands) {
            assert!(submitted.expect("submits").outcome.contains("accepted"));
        }
    }
    let before = service.query("acme", &Query::Snapshot { actor: Actor::System }).expect("snapshot");
    let report = service.activity("acme", CUTOFF, CUTOFF + 1_000).expect("activity");
    let first = service.prune_step("acme", CUTOFF).expect("prunes");
    assert!(first.more && first.pruned.events as usize >= PRUNE_CHUNK, "{first:?}");
    let halfway = service.log_begins("acme").expect("reads").expect("pruned");
    assert!(halfway.at < CUTOFF, "a step short of the cutoff says the time it kept from: {halfway:?}");
    assert_eq!(open(place, 1_000).query("acme", &Query::Snapshot { actor: Actor::System }).expect("snapshot"), before);
    let rest = service.prune("acme", CUTOFF).expect("prunes");
    assert_eq!(first.pruned.events + rest.events, toggles);
    assert_eq!(service.log_begins("acme").expect("reads"), Some(LogBegins { seq: toggles + 1, at: CUTOFF }));
    let mut fresh = open(place, 1_000);
    assert_eq!(fresh.query("acme", &Query::Snapshot { actor: Actor::System }).expect("snapshot"), before);
    assert_eq!(fresh.activity("acme", CUTOFF, CUTOFF + 1_000).expect("activity"), report);
}

/// Two hosts on one store keep deciding (each its own agent, stamped by the host's clock)
/// while one of them prunes with a cutoff that keeps moving into the log: every accepted
/// command is either kept or pruned for its age, the hosts agree with a fresh one, and the
/// ids inside the window still answer retries.
fn pruning_while_commands_arrive_loses_none(place: &StoreConfig) {
    let mut setup = open(place, 50);
    setup.create_tenant("acme", TENANT).expect("creates");
    drop(setup);
    let clock = Arc::new(AtomicU64::new(1_000));
    let done = Arc::new(AtomicBool::new(false));
    let host = |user: &'static str, rounds: u64, prune: bool| {
        let (place, clock, done) = (place.clone(), clock.clone(), done.clone());
        std::thread::spawn(move || {
            let mut service = open(&place, 50);
            let mut signed_in = false;
            let (mut accepted, mut pruned, mut ids) = (0u64, 0u64, Vec::new());
            for i in 0..rounds {
                let kind = if signed_in { "sign_out" } else { "sign_in" };
                let id = format!("{user}-{i}");
                let text =
                    format!(r#"{{"type":"{kind}","actor":"{user}","user":"{user}","channel":"support","id":"{id}"}}"#);
                let now = clock.fetch_add(10, Ordering::SeqCst);
                let incoming = [("acme", Incoming::Object { text, id: Some(id.clone()) })];
                let submitted = match service.submit_incoming(&incoming, now).pop().expect("an answer") {
                    Ok(submitted) => submitted,
                    // Two hosts racing may be told to try again: a command not acknowledged.
                    Err(e) => {
                        eprintln!("{user}: {e}");
                        continue;
                    }
                };
                assert!(submitted.outcome.contains("accepted"), "{user} {i}: {}", submitted.outcome);
                signed_in = !signed_in;
                accepted += 1;
                ids.push((id, submitted.outcome, now));
                if prune && i % 7 == 0 {
                    let cutoff = clock.load(Ordering::SeqCst).saturating_sub(500);
                    pruned += service.prune("acme", cutoff).expect("prunes").events;
                }
            }
            done.store(true, Ordering::SeqCst);
            (service, accepted, pruned, ids)
        })
    };
    let (a, b) = (host("ana", 300, true), host("ben", 300, false));
    let (mut a, a_accepted, pruned, a_ids) = a.join().expect("host a");
    let (mut b, b_accepted, _, b_ids) = b.join().expect("host b");
    assert!(done.load(Ordering::SeqCst));
    assert!(pruned > 0, "the cutoff moved into the log");
    let last = a.last_seq("acme").expect("reads");
    assert_eq!(last, a_accepted + b_accepted, "one event per accepted command, none lost");
    let begins = a.log_begins("acme").expect("reads").expect("pruned");
    assert_eq!(begins.seq, pruned + 1, "the base is where the pruned events end");
    let snapshot =
        |service: &mut Service| service.query("acme", &Query::Snapshot { actor: Actor::System }).expect("snapshot");
    let state = snapshot(&mut open(place, 50));
    assert_eq!(snapshot(&mut a), state);
    assert_eq!(snapshot(&mut b), state);
    // Every command decided at or after the base's time is still answered as it was (to
    // its sender: `USER-N` is USER's id).
    // Refusals are not kept, so only accepted commands are asked again.
    let kept = |(_, outcome, at): &&(String, String, u64)| *at >= begins.at && outcome.contains("accepted");
    for (id, outcome, at) in a_ids.iter().chain(&b_ids).filter(kept) {
        let user = id.split('-').next().unwrap_or_default();
        let text = format!(r#"{{"type":"sign_out","actor":"{user}","user":"sam","channel":"sales","id":"{id}"}}"#);
        let incoming = [("acme", Incoming::Object { text, id: Some(id.clone()) })];
        let again = a.submit_incoming(&incoming, *at).pop().expect("an answer").expect("answers");
        assert!(again.retried, "{id} inside the window");
        assert_eq!(&again.outcome, outcome, "{id}");
    }
}

type Case = (&'static str, fn(&StoreConfig));

const SUITE: &[Case] = &[
    ("a log across the cutoff", a_log_across_the_cutoff_is_pruned_without_changing_the_window),
    ("bounded steps", a_backlog_is_pruned_in_bounded_steps),
    ("commands keep arriving", pruning_while_commands_arrive_loses_none),
];

#[test]
fn retention_on_sqlite() {
    let root = tempfile::tempdir().expect("tempdir");
    for (n, (name, case)) in SUITE.iter().enumerate() {
        eprintln!("sqlite: {name}");
        case(&StoreConfig::Sqlite(root.path().join(format!("store-{n}"))));
    }
}

#[test]
fn retention_on_postgres() {
    let cluster = PgCluster::start().expect("a private PostgreSQL cluster");
    for (n, (name, case)) in SUITE.iter().enumerate() {
        eprintln!("postgres: {name}");
        case(&StoreConfig::Postgres(cluster.database(&format!("retention_{n}")).expect("creates a database")));
    }
}
