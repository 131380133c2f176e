//! `report`: the day at a glance and time in state, read from a tenant's stored log.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use agentstate_core::{Actor, ChannelId, Millis, Query};
use agentstate_server::service::TenantService;
use agentstate_server::store::StoreConfig;
use clap::Subcommand;

use super::{Ran, StoreArgs, load_runtime};

#[derive(Subcommand)]
pub enum ReportCommand {
    /// The day at a glance: each agent's states per channel from FROM to TO (milliseconds
    /// since the epoch, like `at`), with the time in each state and per pause reason.
    Activity {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        from: u64,
        #[arg(long)]
        to: u64,
        /// One CSV line per agent and channel instead of the JSON report.
        #[arg(long)]
        csv: bool,
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        module: Option<PathBuf>,
    },
    /// Time in state on a channel at AT (default: now): each agent's state and since when,
    /// and the counts per state — what the dashboard's channel shows.
    States {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        channel: String,
        /// Milliseconds since the epoch; never before the tenant's last event.
        #[arg(long)]
        at: Option<u64>,
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        module: Option<PathBuf>,
    },
}

pub fn run(command: ReportCommand) -> Ran {
    match command {
        ReportCommand::Activity { tenant, from, to, csv, store, module } => {
            activity_report(&tenant, (from, to), csv, &store.config(), module)
        }
        ReportCommand::States { tenant, channel, at, store, module } => {
            states_report(&tenant, &channel, at, &store.config(), module)
        }
    }
}

fn states_report(tenant: &str, channel: &str, at: Option<u64>, store: &StoreConfig, module: Option<PathBuf>) -> Ran {
    let mut service = TenantService::open(store.open()?, load_runtime(module)?, 10_000)?;
    let at = service.now(tenant, at.unwrap_or_else(agentstate_server::clock::now_ms))?;
    let channel = ChannelId::new(channel).map_err(|e| format!("--channel: {e}"))?;
    let at = Millis::new(at).ok_or_else(|| format!("--at: {at} is after 2^53 ms"))?;
    let query = Query::ChannelStates { actor: Actor::System, channel: channel.clone(), at };
    let answer = service.query(tenant, &query)?;
    if answer == "null" {
        return Err(format!("tenant {tenant} has no channel {channel}").into());
    }
    println!("{answer}");
    Ok(ExitCode::SUCCESS)
}

fn activity_report(
    tenant: &str,
    (from, to): (u64, u64),
    csv: bool,
    store: &StoreConfig,
    module: Option<PathBuf>,
) -> Ran {
    // As the API: at most 31 days, none of them after now.
    let now = agentstate_server::clock::now_ms();
    let (from, to) =
        agentstate_server::service::report_range(from, to, now).map_err(|e| format!("--from/--to: {e}"))?;
    let service = TenantService::open(store.open()?, load_runtime(module)?, 10_000)?;
    let answer = service.activity(tenant, from, to)?;
    // An operator reading a report of a pruned log learns where it begins.
    if let Some(begins) = service.log_begins(tenant)? {
        eprintln!(
            "the kept log of tenant {tenant} begins at event {} (every event from {} ms on is kept; the report is exact from then on)",
            begins.seq, begins.at
        );
    }
    let text = if csv {
        let report: agentstate_core::views::ActivityReport =
            serde_json::from_str(&answer).map_err(|e| format!("the module answered no report: {e}"))?;
        agentstate_server::reports::activity_csv(&report)?
    } else {
        answer + "\n"
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
