//! Runs the benchmark's shift once, for a profiler: `perf record cargo run --release
//! --example profile_shift`.

#[path = "../benches/shift/mod.rs"]
mod shift;

use agentstate_core::{decide, evolve};

fn main() {
    let shift = shift::shift(200_000);
    let started = std::time::Instant::now();
    for _ in 0..25 {
        let mut state = shift.start.clone();
        for command in &shift.commands {
            if let Ok(events) = decide(&state, command) {
                for e in &events {
                    evolve(&mut state, e);
                }
            }
        }
        std::hint::black_box(state);
    }
    let per = started.elapsed().as_secs_f64() / 25.0;
    println!("{:.0} commands/s", shift.commands.len() as f64 / per);
}
