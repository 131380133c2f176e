use std::path::PathBuf;
use std::process::ExitCode;

use agentstate_host::check::{check, scenario_files};
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
        #[arg(long, value_enum, default_value_t = EngineKind::Native)]
        engine: EngineKind,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum EngineKind {
    /// The core compiled into this binary.
    Native,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { files, json, verbose, engine } => {
            let mut new_engine = || -> Box<dyn Engine> {
                match engine {
                    EngineKind::Native => Box::new(NativeEngine::default()),
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
