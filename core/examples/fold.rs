//! Folds the benchmark shift's log (`benches/shift`) and prints the best time of FOLDS
//! folds of EVENTS events: `cargo run --profile bench -p agentstate-core --example fold --
//! [FOLDS] [EVENTS]`. On a machine whose timings wander, count instructions instead — the
//! same for every run: `valgrind --tool=callgrind target/release/examples/fold 1 200000`
//! minus the same with `0` folds is what one fold of 200,000 events costs.

#[path = "../benches/shift/mod.rs"]
mod shift;

/// Not inlined, so a profiler can count this alone: `--toggle-collect='*fold_log*'`.
#[inline(never)]
fn fold_log(log: &[agentstate_core::Event]) -> agentstate_core::State {
    agentstate_core::State::from_events(log)
}

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>().ok());
    let folds = args.next().flatten().unwrap_or(10);
    let events = args.next().flatten().unwrap_or(1_000_000);
    let shift = shift::shift_until(usize::MAX, events);
    let log = &shift.log[..events.min(shift.log.len())];
    let (mut fold, mut whole) = (f64::MAX, f64::MAX);
    for _ in 0..folds {
        let started = std::time::Instant::now();
        let state = fold_log(std::hint::black_box(log));
        fold = fold.min(started.elapsed().as_secs_f64());
        drop(std::hint::black_box(state));
        whole = whole.min(started.elapsed().as_secs_f64());
    }
    if folds > 0 {
        let rate = log.len() as f64 / whole / 1e6;
        println!(
            "{} events, best of {folds}: fold {:.1} ms, with drop {:.1} ms ({rate:.2} M events/s)",
            log.len(),
            fold * 1e3,
            whole * 1e3
        );
    }
}
