//! `check`, `apply`, `replay`: the rules on files, without a server.

use std::path::PathBuf;
use std::process::ExitCode;

use agentstate_host::check::{check, scenario_files};
use agentstate_host::engines::WasmEngine;
use agentstate_host::tools;
use agentstate_scenario::{Engine, NativeEngine};
use clap::ValueEnum;

use super::{Failure, Ran, load_runtime};

#[derive(clap::Args)]
pub struct CheckArgs {
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
}

#[derive(clap::Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    source: TenantSource,
    #[arg(default_value = "-")]
    commands: PathBuf,
}

#[derive(clap::Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    source: TenantSource,
    events: PathBuf,
    #[arg(long)]
    view: Option<String>,
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

/// Runs the suites: 0 when every expectation holds, 1 when one does not, 2 when a file is
/// not a scenario (or the module cannot be loaded).
pub fn check_suites(args: CheckArgs) -> ExitCode {
    let runtime = match args.engine {
        EngineKind::Native => None,
        EngineKind::Wasm => match load_runtime(args.module) {
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
    let files = scenario_files(&args.files);
    let mut out = std::io::stdout().lock();
    match check(&files, &mut new_engine, args.json, args.verbose, &mut out) {
        Ok(verdict) => ExitCode::from(verdict as u8),
        Err(e) => {
            eprintln!("agentstate: cannot write the report: {e}");
            ExitCode::from(2)
        }
    }
}

/// Decides each command, printing its outcome; 1 when any was rejected.
pub fn apply(args: ApplyArgs) -> Ran {
    let mut engine = engine_for(&args.source)?;
    let rejected = tools::apply(engine.as_mut(), &args.commands, &mut std::io::stdout().lock())?;
    Ok(if rejected == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Folds the events and prints the snapshot or the view asked.
pub fn replay(args: ReplayArgs) -> Ran {
    let mut engine = engine_for(&args.source)?;
    tools::replay(engine.as_mut(), &args.events, args.view.as_deref(), &mut std::io::stdout().lock())?;
    Ok(ExitCode::SUCCESS)
}

fn engine_for(source: &TenantSource) -> Result<Box<dyn Engine>, Failure> {
    let mut engine: Box<dyn Engine> = match source.engine {
        EngineKind::Native => Box::new(NativeEngine::default()),
        EngineKind::Wasm => Box::new(WasmEngine::new(load_runtime(source.module.clone())?)),
    };
    tools::load(engine.as_mut(), source.tenant.as_deref(), source.snapshot.as_deref())?;
    Ok(engine)
}
