//! `tenant`: create a tenant from its description, or one with a long generated log.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use agentstate_host::tools;
use agentstate_server::long_log::{self, Shape};
use agentstate_server::service::TenantService;
use agentstate_server::store::StoreConfig;
use clap::Subcommand;

use super::{Ran, StoreArgs, load_runtime};

#[derive(Subcommand)]
pub enum TenantCommand {
    /// Create a tenant from its description (YAML or JSON, as the `tenant:` of a rule suite).
    Create {
        id: String,
        description: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        module: Option<PathBuf>,
    },
    /// Create a tenant with a long, realistic log for load tests and benchmarks: 1,000
    /// agents on 20 queues signing in, taking calls, pausing and signing out, 100,000
    /// events a day ending now, decided by the rules and stored through the store's append.
    Generate {
        id: String,
        /// How many events.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub fn run(command: TenantCommand) -> Ran {
    match command {
        TenantCommand::Create { id, description, store, module } => {
            create_tenant(&id, &description, &store.config(), module)
        }
        TenantCommand::Generate { id, events, store } => generate_tenant(&id, events, &store.config()),
    }
}

fn create_tenant(id: &str, description: &Path, store: &StoreConfig, module: Option<PathBuf>) -> Ran {
    let text =
        std::fs::read_to_string(description).map_err(|e| format!("cannot read {}: {e}", description.display()))?;
    let json = tools::description_json(&text).map_err(|e| format!("{}: {e}", description.display()))?;
    let mut service = TenantService::open(store.open()?, load_runtime(module)?, 10_000)?;
    service.create_tenant(id, &json)?;
    println!("created tenant {id}");
    Ok(ExitCode::SUCCESS)
}

fn generate_tenant(id: &str, events: u64, store: &StoreConfig) -> Ran {
    let shape = Shape::CONTACT_CENTER;
    // The log ends about now: its days are the last ones before today's.
    let span = events.saturating_mul(86_400_000) / shape.events_per_day;
    let start = agentstate_server::clock::now_ms().saturating_sub(span);
    let started = std::time::Instant::now();
    let written = long_log::write(&mut *store.open()?, id, shape, events, start)?;
    println!(
        "created tenant {id}: {} events, {} snapshots, from {} to {} ms, in {:.1} s",
        written.events,
        written.snapshots,
        written.first_at,
        written.last_at,
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
