//! `tenant`: create a tenant from its description, or one with a long generated log.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use agentstate_host::tools;
use agentstate_server::long_log::{self, Shape};
use agentstate_server::service::TenantService;
use agentstate_server::sso;
use agentstate_server::store::{SsoProvider, StoreConfig};
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
    /// Create a tenant with a long, realistic log for load tests and benchmarks: agents
    /// (1,000 unless told) on queues (20) signing in, taking calls, pausing and signing
    /// out, about 100 events a day per agent, ending now, decided by the rules and stored
    /// through the store's append.
    Generate {
        id: String,
        /// How many events.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// How many agents (ids `a0000`…), each assigned to one queue.
        #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        agents: u32,
        /// How many queues (`q00`…), each with one supervisor (`s00`…).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1_000))]
        channels: u32,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Single sign-on with the tenant's OpenID Connect provider (Entra ID, Okta, Keycloak…).
    #[command(subcommand)]
    Sso(SsoCommand),
}

#[derive(Subcommand)]
pub enum SsoCommand {
    /// Register (or replace) the tenant's identity provider. Its people then sign in at
    /// `/signin/<tenant>`; the claim's value must be their user id.
    Set {
        tenant: String,
        /// The provider's issuer URL (its `/.well-known/openid-configuration` lies below).
        #[arg(long)]
        issuer: String,
        /// The client (application) id registered at the provider.
        #[arg(long)]
        client_id: String,
        /// The environment variable that holds the client secret (kept off the command
        /// line, where other users of the machine could read it).
        #[arg(long, value_name = "VAR")]
        client_secret_env: String,
        /// This server's callback as registered at the provider:
        /// `https://<this server>/signin/<tenant>/callback`.
        #[arg(long)]
        redirect_uri: String,
        /// The ID-token claim whose value is the user id: email, preferred_username or sub.
        #[arg(long, default_value = "email")]
        claim: String,
        /// What the sign-in page calls the provider: "Sign in with <name>".
        #[arg(long, default_value = "your company account")]
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Show the tenant's identity provider (not its secret).
    Show {
        tenant: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// End single sign-on for the tenant. Sessions made with it last until they expire
    /// (12 hours) or their user's tokens are revoked (`token revoke --user`).
    Remove {
        tenant: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub fn run(command: TenantCommand) -> Ran {
    match command {
        TenantCommand::Sso(command) => sso(command),
        TenantCommand::Create { id, description, store, module } => {
            create_tenant(&id, &description, &store.config(), module)
        }
        TenantCommand::Generate { id, events, agents, channels, store } => {
            // The center's size; a day holds about 100 events per agent, as the default's.
            let per_agent = Shape::CONTACT_CENTER.events_per_day / Shape::CONTACT_CENTER.agents as u64;
            let (agents, channels) = (agents as usize, channels as usize);
            let shape = Shape { agents, channels, events_per_day: per_agent * agents as u64, ..Shape::CONTACT_CENTER };
            generate_tenant(&id, events, shape, &store.config())
        }
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

fn generate_tenant(id: &str, events: u64, shape: Shape, store: &StoreConfig) -> Ran {
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

fn sso(command: SsoCommand) -> Ran {
    match command {
        SsoCommand::Set { tenant, issuer, client_id, client_secret_env, redirect_uri, claim, name, store } => {
            let client_secret = std::env::var(&client_secret_env)
                .map_err(|e| format!("--client-secret-env {client_secret_env}: {e}"))?;
            let provider = SsoProvider { issuer, client_id, client_secret, redirect_uri, claim, name };
            sso::check_provider(&tenant, &provider)?;
            store.config().open()?.put_sso_provider(&tenant, &provider)?;
            println!("tenant {tenant} signs in with {} at /signin/{tenant}", provider.issuer);
        }
        SsoCommand::Show { tenant, store } => match store.config().open()?.sso_provider(&tenant)? {
            Some(p) => println!(
                "name: {}\nissuer: {}\nclient id: {}\nclaim: {}\nredirect uri: {}\nsign-in page: /signin/{tenant}",
                p.name, p.issuer, p.client_id, p.claim, p.redirect_uri
            ),
            None => println!("tenant {tenant} has no single sign-on"),
        },
        SsoCommand::Remove { tenant, store } => {
            let removed = store.config().open()?.remove_sso_provider(&tenant)?;
            match removed {
                true => println!("tenant {tenant}: single sign-on removed"),
                false => println!("tenant {tenant} had no single sign-on"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
