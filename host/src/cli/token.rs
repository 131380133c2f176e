//! `token`: access tokens and sign-in links for the API.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use agentstate_server::service::{ServiceError, TenantService};
use agentstate_server::store::{Store, StoreConfig, StoreError, TokenSelector};
use agentstate_server::{sessions, tokens};
use clap::Subcommand;

use super::{Failure, Ran, StoreArgs, load_runtime};

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token for a user of a tenant (or `system`, for routing and telephony).
    /// Prints the token once; only its hash is stored. Given several `--user`s (a shift
    /// of agents), prints one token a line, in their order.
    Create {
        #[arg(long)]
        tenant: String,
        /// A user id of the tenant, or `system`; again for more users.
        #[arg(long, required = true)]
        user: Vec<String>,
        /// Print a one-time sign-in link to the dashboard instead of the token (valid for
        /// 24 hours; its secret is after `#`, which browsers never send to a server).
        #[arg(long)]
        link: bool,
        /// Where the dashboard is served, for the link.
        #[arg(long, env = "AGENTSTATE_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
        #[command(flatten)]
        store: StoreArgs,
        /// The plugin module, which reads the tenant's users (default: as for `serve`).
        #[arg(long)]
        module: Option<PathBuf>,
    },
    /// List a tenant's tokens: fingerprint and actor (the tokens themselves are not kept).
    List {
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke tokens: every token of a user, or one by its fingerprint. A running server
    /// refuses them within seconds.
    Revoke {
        #[arg(long)]
        tenant: String,
        /// Every token of this user (or `system`).
        #[arg(long, conflicts_with = "fingerprint", required_unless_present = "fingerprint")]
        user: Option<String>,
        /// The token whose fingerprint (`token list`) starts with these hex digits.
        #[arg(long, value_parser = tokens::parse_fingerprint)]
        fingerprint: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub fn run(command: TokenCommand) -> Ran {
    match command {
        TokenCommand::Create { tenant, user, link, url, store, module } => {
            let store = store.config();
            known_actors(&tenant, &user, &store, module)?;
            let mut opened = store.open()?;
            for user in &user {
                match link {
                    false => create_token(&tenant, user, &mut *opened)?,
                    true => create_link(&tenant, user, &url, &mut *opened)?,
                };
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::List { tenant, store } => list_tokens(&tenant, &store.config()),
        TokenCommand::Revoke { tenant, user, fingerprint, store } => {
            let which = match (&user, &fingerprint) {
                (Some(user), _) => TokenSelector::Actor(user),
                (None, Some(digits)) => TokenSelector::Fingerprint(digits),
                (None, None) => return Err("give --user or --fingerprint".into()),
            };
            revoke_tokens(&tenant, which, &store.config())
        }
    }
}

/// Refuses a token or link for anyone but a user the tenant has now, or `system`: one for
/// an id nobody holds would be a typo at best, and at worst speak for whoever is given that
/// id later. Nothing is created unless every one is known.
fn known_actors(tenant: &str, users: &[String], store: &StoreConfig, module: Option<PathBuf>) -> Result<(), Failure> {
    let no_tenant = || format!("there is no tenant {tenant}").into();
    if users.iter().all(|user| user == "system") {
        return match store.open()?.description(tenant) {
            Ok(_) => Ok(()),
            Err(StoreError::UnknownTenant(_)) => Err(no_tenant()),
            Err(e) => Err(e.into()),
        };
    }
    let mut service = TenantService::open(store.open()?, load_runtime(module)?, 10_000)?;
    let state = match service.snapshot(tenant) {
        Ok((_, state)) => state,
        Err(ServiceError::UnknownTenant(_) | ServiceError::Store(StoreError::UnknownTenant(_))) => {
            return Err(no_tenant());
        }
        Err(e) => return Err(e.into()),
    };
    /// The users of a tenant's state, by id (the rest is not read).
    #[derive(serde::Deserialize)]
    struct Users {
        users: HashMap<String, serde::de::IgnoredAny>,
    }
    let Users { users: known } = serde_json::from_str(&state)?;
    match users.iter().find(|user| *user != "system" && !known.contains_key(*user)) {
        None => Ok(()),
        Some(user) => {
            Err(format!("tenant {tenant} has no user {user:?}; a token is for one of its users, or for `system`")
                .into())
        }
    }
}

fn create_token(tenant: &str, user: &str, store: &mut dyn Store) -> Result<(), Failure> {
    let token = tokens::issue(store, tenant, user)?;
    println!("{token}");
    eprintln!("fingerprint {} (for `agentstate token revoke`)", tokens::fingerprint(&tokens::hash(&token)));
    Ok(())
}

fn create_link(tenant: &str, user: &str, url: &str, store: &mut dyn Store) -> Result<(), Failure> {
    let (link, token_hash) = sessions::issue_link(store, tenant, user)?;
    println!("{}/signin#{link}", url.trim_end_matches('/'));
    eprintln!(
        "one use, within 24 hours; fingerprint {} (for `agentstate token revoke`)",
        tokens::fingerprint(&token_hash)
    );
    Ok(())
}

fn list_tokens(tenant: &str, store: &StoreConfig) -> Ran {
    let store = store.open()?;
    let mut out = std::io::stdout().lock();
    for (hash, actor) in store.tokens_of(tenant)? {
        writeln!(out, "{}  {actor}", tokens::fingerprint(&hash))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn revoke_tokens(tenant: &str, which: TokenSelector<'_>, store: &StoreConfig) -> Ran {
    let mut store = store.open()?;
    match store.revoke_tokens(tenant, which)? {
        0 => {
            Err(format!("no token of tenant {tenant} fits; `agentstate token list --tenant {tenant}` shows them")
                .into())
        }
        n => {
            println!("revoked {n} token{}", if n == 1 { "" } else { "s" });
            Ok(ExitCode::SUCCESS)
        }
    }
}
