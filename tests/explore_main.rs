//! `cargo xtask explore [--depth N]`: the exhaustive check of a small tenant (see
//! `explore.rs`). Prints what it explored; a violation with the shortest command sequence
//! that reaches it, and exits 1.

use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let depth = match args.iter().position(|a| a == "--depth").and_then(|i| args.get(i + 1)) {
        Some(n) => match n.parse() {
            Ok(n) => n,
            Err(_) => {
                eprintln!("explore: --depth takes a number, not {n:?}");
                return ExitCode::from(2);
            }
        },
        None => 6,
    };
    let started = Instant::now();
    let report = agentstate_tests::explore::explore(depth);
    let took = started.elapsed();
    println!(
        "states {} · transitions {} ({} accepted) · invariant checks {} · depth {}{} · {:.1} s",
        report.states,
        report.transitions,
        report.accepted,
        report.checks,
        report.depth,
        match (&report.violation, report.closed) {
            (Some(_), _) => " (stopped at a violation)",
            (None, true) => " (closed: every reachable state seen)",
            (None, false) => " (bound)",
        },
        took.as_secs_f64()
    );
    match report.violation {
        None => ExitCode::SUCCESS,
        Some((problem, commands)) => {
            println!("violation: {problem}");
            for (i, command) in commands.iter().enumerate() {
                println!("  {}. {command}", i + 1);
            }
            ExitCode::from(1)
        }
    }
}
