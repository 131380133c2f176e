use std::path::PathBuf;
use std::process::ExitCode;

use agentstate_host::check::{check, scenario_files};
use agentstate_host::engines::WasmEngine;
use agentstate_host::module;
use agentstate_host::wasm_engine::{Limits, Runtime};
use agentstate_scenario::{Engine, NativeEngine};
use clap::{Parser, Subcommand, ValueEnum};

/// Contact-center agent-state rules, written once.
#[derive(Parser)]
#[command(name = "agentstate", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run rule suites (YAML or JSON scenario files, or folders of them). Exits 0 when
    /// every expectation holds, 1 when one does not, 2 when a file is not a scenario.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print every step's outcome as JSON.
        #[arg(long)]
        json: bool,
        /// List every step, not only failing ones.
        #[arg(short, long)]
        verbose: bool,
        /// Which runtime decides the commands.
        #[arg(long, value_enum, default_value_t = EngineKind::Wasm)]
        engine: EngineKind,
        /// The plugin module (default: AGENTSTATE_MODULE, or the one built by `cargo xtask wasm`).
        #[arg(long)]
        module: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum EngineKind {
    /// The plugin module in wasmtime.
    Wasm,
    /// The core compiled into this binary.
    Native,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { files, json, verbose, engine, module } => {
            let runtime = match engine {
                EngineKind::Native => None,
                EngineKind::Wasm => match load_runtime(module) {
                    Ok(runtime) => Some(runtime),
                    Err(e) => {
                        eprintln!("agentstate: {e}");
                        return ExitCode::from(2);
                    }
                },
            };
            let mut new_engine = || -> Box<dyn Engine> {
                match &runtime {
                    None => Box::new(NativeEngine::default()),
                    Some(runtime) => Box::new(WasmEngine::new(runtime.clone())),
                }
            };
            let files = scenario_files(&files);
            let mut out = std::io::stdout().lock();
            match check(&files, &mut new_engine, json, verbose, &mut out) {
                Ok(verdict) => ExitCode::from(verdict as u8),
                Err(e) => {
                    eprintln!("agentstate: cannot write the report: {e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

fn load_runtime(module: Option<PathBuf>) -> Result<std::sync::Arc<Runtime>, String> {
    let path = match module {
        Some(path) => path,
        None => module::locate()?,
    };
    Runtime::from_file(&path, Some(&module::cache_dir(&path)), Limits::default()).map_err(|e| e.to_string())
}
