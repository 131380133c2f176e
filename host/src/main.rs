//! `agentstate`: the command groups and where each is run (`cli/`, one file per group).

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use cli::finish;
use cli::report::ReportCommand;
use cli::rules::{ApplyArgs, CheckArgs, ReplayArgs};
use cli::serve::ServeArgs;
use cli::tenant::TenantCommand;
use cli::token::TokenCommand;

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
    Check(CheckArgs),
    /// Decide commands (one JSON object per line, from FILE or `-` for stdin) against a
    /// tenant, printing each outcome with its events as a JSON line. Exits 1 when any
    /// command was rejected.
    Apply(ApplyArgs),
    /// Fold an event log (a JSON array or one event per line) into a tenant and print its
    /// snapshot, or the answer to a view query such as '{"view":"lingering_unassigned","actor":"system"}'.
    Replay(ReplayArgs),
    /// Serve the API and the supervisor dashboard (SIGINT/SIGTERM stop it gracefully).
    Serve(ServeArgs),
    /// Access tokens for the API.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Tenants of a server's data folder.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Reports over a tenant's stored log.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Print the HTTP API's OpenAPI 3.1 document (what `serve` answers at /api/openapi.json).
    Openapi,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Check(args) => cli::rules::check_suites(args),
        Command::Apply(args) => finish(cli::rules::apply(args)),
        Command::Replay(args) => finish(cli::rules::replay(args)),
        Command::Serve(args) => finish(cli::serve::serve(args)),
        Command::Token(command) => finish(cli::token::run(command)),
        Command::Tenant(command) => finish(cli::tenant::run(command)),
        Command::Report(command) => finish(cli::report::run(command)),
        Command::Openapi => {
            println!("{}", agentstate_server::http::document());
            ExitCode::SUCCESS
        }
    }
}
