use std::path::PathBuf;
use std::process::ExitCode;

use agentstate_host::check::{check, scenario_files};
use agentstate_host::engines::WasmEngine;
use agentstate_host::wasm_engine::{Limits, Runtime};
use agentstate_host::{module, tools};
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
    /// Decide commands (one JSON object per line, from FILE or `-` for stdin) against a
    /// tenant, printing each outcome with its events as a JSON line. Exits 1 when any
    /// command was rejected.
    Apply {
        #[command(flatten)]
        source: TenantSource,
        #[arg(default_value = "-")]
        commands: PathBuf,
    },
    /// Fold an event log (a JSON array or one event per line) into a tenant and print its
    /// snapshot, or the answer to a view query such as '{"view":"lingering_unassigned"}'.
    Replay {
        #[command(flatten)]
        source: TenantSource,
        events: PathBuf,
        #[arg(long)]
        view: Option<String>,
    },
}

#[derive(clap::Args)]
struct TenantSource {
    /// A tenant description (YAML or JSON), as the `tenant:` of a rule suite.
    #[arg(long)]
    tenant: Option<PathBuf>,
    /// A snapshot (JSON) to start from instead.
    #[arg(long)]
    snapshot: Option<PathBuf>,
    /// Which runtime decides the commands.
    #[arg(long, value_enum, default_value_t = EngineKind::Wasm)]
    engine: EngineKind,
    /// The plugin module (default: AGENTSTATE_MODULE, or the one built by `cargo xtask wasm`).
    #[arg(long)]
    module: Option<PathBuf>,
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
        Command::Apply { source, commands } => finish(engine_for(&source).and_then(|mut engine| {
            let rejected = tools::apply(engine.as_mut(), &commands, &mut std::io::stdout().lock())?;
            Ok(if rejected == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
        })),
        Command::Replay { source, events, view } => finish(engine_for(&source).and_then(|mut engine| {
            tools::replay(engine.as_mut(), &events, view.as_deref(), &mut std::io::stdout().lock())?;
            Ok(ExitCode::SUCCESS)
        })),
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

fn engine_for(source: &TenantSource) -> Result<Box<dyn Engine>, String> {
    let mut engine: Box<dyn Engine> = match source.engine {
        EngineKind::Native => Box::new(NativeEngine::default()),
        EngineKind::Wasm => Box::new(WasmEngine::new(load_runtime(source.module.clone())?)),
    };
    tools::load(engine.as_mut(), source.tenant.as_deref(), source.snapshot.as_deref())?;
    Ok(engine)
}

fn finish(result: Result<ExitCode, String>) -> ExitCode {
    result.unwrap_or_else(|e| {
        eprintln!("agentstate: {e}");
        ExitCode::from(2)
    })
}

fn load_runtime(module: Option<PathBuf>) -> Result<std::sync::Arc<Runtime>, String> {
    let path = match module {
        Some(path) => path,
        None => module::locate()?,
    };
    Runtime::from_file(&path, Some(&module::cache_dir(&path)), Limits::default()).map_err(|e| e.to_string())
}
