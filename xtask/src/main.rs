//! `cargo xtask <task>`: the project's set-up and checks in one place, so that a fresh
//! machine needs nothing but cargo and rustup.
//!
//! * `test` — everything CI checks: formatting, clippy, all tests, the core built for
//!   `wasm32-unknown-unknown`, and the rule suites through the CLI.
//! * `run`  — the main job as far as it exists today: the rule suites through the CLI.
//! * `wasm` — builds the plugin module for hosts (`wasm-speed` profile, feature `abi`).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const WASM_TARGET: &str = "wasm32-unknown-unknown";

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        "test" => test(),
        "run" => run(),
        "wasm" => ensure_wasm_target().and_then(|()| plugin_module()),
        _ => {
            eprintln!("usage: cargo xtask <test|run|wasm>");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {task}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Runs `program args` in the workspace root, echoing it; fails on a non-zero exit.
fn step(program: &str, args: &[&str]) -> Result<(), String> {
    eprintln!("==> {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(root())
        .status()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("`{program} {}` failed ({status})", args.join(" "))) }
}

fn ensure_wasm_target() -> Result<(), String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("rustup is needed to add the {WASM_TARGET} target: {e}"))?;
    if String::from_utf8_lossy(&installed.stdout).lines().any(|l| l.trim() == WASM_TARGET) {
        return Ok(());
    }
    step("rustup", &["target", "add", WASM_TARGET])
}

/// The plugin module the host loads: speed-tuned, raw ABI, no JS glue.
fn plugin_module() -> Result<(), String> {
    step(
        "cargo",
        &["build", "-p", "agentstate-wasm", "--features", "abi", "--target", WASM_TARGET, "--profile", "wasm-speed"],
    )
}

fn suites() -> String {
    root().join("tests/suites").display().to_string()
}

fn test() -> Result<(), String> {
    ensure_wasm_target()?;
    plugin_module()?;
    step("cargo", &["fmt", "--all", "--", "--check"])?;
    step("cargo", &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    step(
        "cargo",
        &["clippy", "-p", "agentstate-wasm", "--features", "abi", "--target", WASM_TARGET, "--", "-D", "warnings"],
    )?;
    step("cargo", &["test", "--workspace"])?;
    // The benchmarks must keep compiling and running; one quick pass, not a measurement.
    step("cargo", &["test", "--benches", "-p", "agentstate-core"])?;
    step("cargo", &["build", "-p", "agentstate-core", "--target", WASM_TARGET, "--release"])?;
    step("cargo", &["run", "-p", "agentstate-host", "--", "check", "--engine", "native", &suites()])?;
    step("cargo", &["run", "-p", "agentstate-host", "--", "check", "--engine", "wasm", &suites()])
}

fn run() -> Result<(), String> {
    ensure_wasm_target()?;
    plugin_module()?;
    step("cargo", &["run", "--release", "-p", "agentstate-host", "--", "check", "--verbose", &suites()])
}
