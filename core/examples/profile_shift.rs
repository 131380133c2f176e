//! Runs the benchmark's shift once, for a profiler: `perf record cargo run --release
//! --example profile_shift`. With `json`, times the JSON wire path by stage; with
//! `export FILE`, writes the shift's start snapshot and commands for other runtimes'
//! benchmarks (`tests/node/bench.mjs`).

#[path = "../benches/shift/mod.rs"]
mod shift;

use agentstate_core::wire::{handle_json, to_json};
use agentstate_core::{decide, evolve};

fn main() {
    let shift = shift::shift(200_000);
    let args: Vec<String> = std::env::args().collect();
    if let Some(file) = args.iter().position(|a| a == "export").and_then(|i| args.get(i + 1)) {
        let commands: Vec<&agentstate_core::Command> = shift.commands.iter().take(20_000).collect();
        let export = serde_json::json!({ "snapshot": shift.start, "commands": commands });
        std::fs::write(file, export.to_string()).expect("writes the export");
        return;
    }
    if args.iter().any(|a| a == "json") {
        let json: Vec<String> = shift.commands.iter().map(to_json).collect();
        let started = std::time::Instant::now();
        for _ in 0..5 {
            let mut state = shift.start.clone();
            for command in &json {
                std::hint::black_box(to_json(&handle_json(&mut state, command)));
            }
        }
        let per = started.elapsed().as_secs_f64() / 5.0;
        println!("{:.0} JSON commands/s", json.len() as f64 / per);
        let n = json.len() as f64;
        let t = std::time::Instant::now();
        let decoded: Vec<_> = json.iter().map(|j| agentstate_core::wire::decode_command(j).unwrap()).collect();
        println!("  decode:  {:.0} ns", t.elapsed().as_nanos() as f64 / n);
        let mut state = shift.start.clone();
        let t = std::time::Instant::now();
        let results: Vec<_> = decoded.iter().map(|c| agentstate_core::handle(&mut state, c)).collect();
        println!("  handle:  {:.0} ns", t.elapsed().as_nanos() as f64 / n);
        let t = std::time::Instant::now();
        let outcomes: Vec<_> = results.into_iter().map(agentstate_core::wire::Outcome::from_result).collect();
        println!("  outcome (messages): {:.0} ns", t.elapsed().as_nanos() as f64 / n);
        let t = std::time::Instant::now();
        let bytes: usize = outcomes.iter().map(|o| to_json(o).len()).sum();
        println!("  encode:  {:.0} ns ({} bytes/outcome)", t.elapsed().as_nanos() as f64 / n, bytes / json.len());
        return;
    }
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
