//! The `agentstate` commands, one file per group, each with its clap arguments beside the
//! code they run. `main.rs` only names the groups and hands each its arguments.

pub mod report;
pub mod rules;
pub mod serve;
pub mod tenant;
pub mod token;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use agentstate_runtime::{Limits, Runtime, module};
use agentstate_server::store::StoreConfig;

/// Why a command failed, as the operator reads it on stderr (exit status 2).
pub type Failure = Box<dyn std::error::Error>;

/// What a command ends with: its exit code, or why it failed.
pub type Ran = Result<ExitCode, Failure>;

/// Says why a command failed; exit status 2.
pub fn finish(result: Ran) -> ExitCode {
    result.unwrap_or_else(|e| {
        eprintln!("agentstate: {e}");
        ExitCode::from(2)
    })
}

/// Where tenants and tokens are stored.
#[derive(clap::Args)]
pub struct StoreArgs {
    /// The embedded store's folder (agentstate.db) and the demo's tokens.
    #[arg(long, env = "AGENTSTATE_DATA", default_value = "./data")]
    pub data: PathBuf,
    /// A PostgreSQL database shared by any number of hosts, instead of the embedded
    /// store: postgres://USER[:PASSWORD]@HOST:PORT/DB.
    #[arg(long, env = "AGENTSTATE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

impl StoreArgs {
    pub fn config(&self) -> StoreConfig {
        match &self.database_url {
            Some(url) => StoreConfig::Postgres(url.clone()),
            None => StoreConfig::Sqlite(self.data.clone()),
        }
    }
}

/// The plugin module at `module`, or the one `module::locate` finds, loaded into wasmtime.
pub fn load_runtime(module: Option<PathBuf>) -> Result<Arc<Runtime>, Failure> {
    let path = match module {
        Some(path) => path,
        None => module::locate()?,
    };
    Ok(Runtime::from_file(&path, Some(&module::cache_dir(&path)), Limits::default())?)
}
