//! Heap held by the state of the 10,000-user, 500-channel tenant, before and during a
//! shift, and the size of its JSON snapshot.
//!
//! `cargo bench -p agentstate-core --bench memory`

mod shift;

use agentstate_core::State;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

fn held_by(build: impl FnOnce() -> State) -> (State, isize) {
    let region = Region::new(GLOBAL);
    let state = build();
    let change = region.change();
    (state, change.bytes_allocated as isize - change.bytes_deallocated as isize + change.bytes_reallocated)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: run quickly then.
    let full = std::env::args().any(|a| a == "--bench");
    let shift = shift::shift(if full { 200_000 } else { 2_000 });
    let seed_events = shift.seed_events.clone();
    let (seeded, seeded_bytes) = held_by(|| State::from_events(&seed_events));
    let start = shift.start.clone();
    let (signed_in, signed_in_bytes) = held_by(|| start.clone());
    let log = shift.log.clone();
    let (busy, busy_bytes) = held_by(|| State::from_events(&log));
    let snapshot = serde_json::to_string(&busy).expect("serialises");
    let mib = |b: isize| b as f64 / (1024.0 * 1024.0);
    println!("state memory, 10,000 users, 500 channels:");
    println!("  as configured:            {:8.2} MiB", mib(seeded_bytes));
    println!("  80% of agents signed in:  {:8.2} MiB", mib(signed_in_bytes));
    println!(
        "  after {} commands:   {:8.2} MiB (ended interaction ids are kept: unique forever)",
        shift.commands.len(),
        mib(busy_bytes)
    );
    println!("  JSON snapshot:            {:8.2} MiB", mib(snapshot.len() as isize));
    drop((seeded, signed_in));
}
