//! decide + evolve throughput on a 10,000-user, 500-channel tenant, the same through the
//! JSON wire, replay of 1,000,000 events, and the views dashboards ask.
//!
//! `cargo bench -p agentstate-core --bench throughput`

mod shift;

use std::hint::black_box;

use agentstate_core::wire::{handle_json, to_json};
use agentstate_core::{State, decide, evolve};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const COMMANDS: usize = 200_000;

fn decide_and_evolve(c: &mut Criterion) {
    let shift = shift::shift(COMMANDS);
    eprintln!(
        "workload: {} commands, {} accepted ({:.0}%), {} events",
        shift.commands.len(),
        shift.accepted,
        100.0 * shift.accepted as f64 / shift.commands.len() as f64,
        shift.log.len() - shift.seed_events.len()
    );
    let mut group = c.benchmark_group("commands");
    group.throughput(Throughput::Elements(shift.commands.len() as u64));
    group.sample_size(20);
    group.bench_function("decide+evolve", |b| {
        b.iter_batched(
            || shift.start.clone(),
            |mut state| {
                for command in &shift.commands {
                    if let Ok(events) = decide(&state, command) {
                        for e in &events {
                            evolve(&mut state, e);
                        }
                    }
                }
                state
            },
            BatchSize::LargeInput,
        )
    });
    let json: Vec<String> = shift.commands.iter().map(to_json).collect();
    group.bench_function("json in, json out", |b| {
        b.iter_batched(
            || shift.start.clone(),
            |mut state| {
                for command in &json {
                    black_box(to_json(&handle_json(&mut state, command)));
                }
                state
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// A million events of the shift, made once for the benchmarks that read a log.
fn million_events() -> &'static [agentstate_core::Event] {
    static SHIFT: std::sync::OnceLock<shift::Shift> = std::sync::OnceLock::new();
    let shift = SHIFT.get_or_init(|| shift::shift_until(usize::MAX, 1_000_000));
    &shift.log[..1_000_000.min(shift.log.len())]
}

fn replay(c: &mut Criterion) {
    let log = million_events();
    let mut group = c.benchmark_group("replay");
    group.throughput(Throughput::Elements(log.len() as u64));
    group.sample_size(10);
    group.bench_function("fold 1M events", |b| b.iter(|| State::from_events(black_box(log))));
    group.finish();
}

/// The day at a glance over the shift's log: events folded per second.
fn activity(c: &mut Criterion) {
    let log = million_events();
    let (from, to) = (log.first().map(|e| e.at).unwrap_or_default(), log.last().map(|e| e.at).unwrap_or_default());
    let mut group = c.benchmark_group("activity");
    group.throughput(Throughput::Elements(log.len() as u64));
    group.sample_size(10);
    group.bench_function("report over 1M events", |b| {
        b.iter(|| agentstate_core::views::activity(black_box(log), from, to))
    });
    group.finish();
}

/// What sight costs: the snapshot a dashboard loads (the end-of-shift tenant as an agent, a
/// supervisor of 10 channels and an admin see it), and the feed's work per event (project,
/// which also folds the event into the host's copy of the tenant) against a plain fold.
fn sight(c: &mut Criterion) {
    let log = million_events();
    let end = State::from_events(log);
    let observers = [("agent", 7), ("supervisor", shift::USERS - 500 + 3), ("admin", shift::USERS - 1)];
    let observer = |i: usize| agentstate_core::Actor::from(agentstate_core::UserId::new(&format!("u{i:05}")).unwrap());
    let mut group = c.benchmark_group("sight");
    group.sample_size(10);
    for (name, i) in observers {
        let who = observer(i);
        eprintln!("{name} sees {} of {} users", agentstate_core::seen_by(&end, &who).user_count(), end.user_count());
        group.bench_function(format!("snapshot as {name} (10,000 users)"), |b| {
            b.iter(|| agentstate_core::seen_by(black_box(&end), &who))
        });
    }
    group.throughput(Throughput::Elements(log.len() as u64));
    for (name, i) in observers {
        let who = observer(i);
        group.bench_function(format!("project 1M events for the {name}"), |b| {
            b.iter(|| {
                let mut whole = State::new();
                let mut sent = 0usize;
                for event in log {
                    sent += agentstate_core::project(&mut whole, event, &who).len();
                }
                black_box(sent)
            })
        });
    }
    group.finish();
}

/// The views dashboards ask, query JSON in and answer JSON out, on the end-of-shift tenant
/// (10,000 users): what one request to a view costs the module.
fn views(c: &mut Criterion) {
    let end = agentstate_core::Tenant::from_state(State::from_events(million_events()));
    let at = million_events().last().map(|e| e.at.get()).unwrap_or_default();
    let supervisor = format!("u{:05}", shift::USERS - 500 + 3);
    let queries = [
        (
            "roster of a channel, as its supervisor",
            format!(r#"{{"view":"roster","actor":"{supervisor}","channel":"ch030","at":{at}}}"#),
        ),
        (
            "allowed actions on an agent",
            format!(r#"{{"view":"allowed_actions","actor":"{supervisor}","user":"u00007","at":{at}}}"#),
        ),
        (
            "an agent's own dashboard",
            format!(r#"{{"view":"agent_dashboard","actor":"u00007","user":"u00007","at":{at}}}"#),
        ),
        ("an agent's channel counts", format!(r#"{{"view":"channel_counts","actor":"u00007","at":{at}}}"#)),
    ];
    let mut group = c.benchmark_group("views as JSON");
    for (name, query) in &queries {
        // What the plugin's query export does: the query's JSON read, the answer's written.
        let asked = |query: &str| {
            let query: agentstate_core::Query = serde_json::from_str(query).expect("a query");
            agentstate_core::wire::answer_json(&end.query(&query))
        };
        assert_ne!(asked(query), "null", "{name}");
        group.bench_function(*name, |b| b.iter(|| asked(black_box(query))));
    }
    group.finish();
}

criterion_group!(benches, decide_and_evolve, replay, activity, sight, views);
criterion_main!(benches);
