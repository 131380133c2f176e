//! The demo: a tenant seeded on first start (38 people, 8 channels of all three kinds,
//! pause reasons, devices, agents signed in), its users' tokens for the dashboard's
//! "act as", and a simulated routing system that starts and ends interactions so wrap-up
//! and monitoring can be seen.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::service::writer::{Incoming, Writer};
use crate::service::{ServiceError, TenantService};
use crate::store::StoreError;
use agentstate_core::views::RoutingBoard;
use agentstate_core::{
    Action, Actor, Command, DeviceId, DeviceKind, InteractionId, Label, Millis, PauseReason, Query, TextError, UserId,
};

/// The demo tenant's id.
pub const TENANT: &str = "demo";
const DESCRIPTION: &str = include_str!("tenant.yaml");
const TOKENS_FILE: &str = "demo-tokens.json";

/// A demo user's token, as the dashboard's "act as" lists it.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DemoToken {
    pub actor: String,
    pub name: String,
    pub roles: Vec<String>,
    pub token: String,
}

/// The demo tenant and its users' tokens: what `/demo/tokens` serves (only the demo
/// tenant's tokens exist in this file).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DemoTokens {
    pub tenant: String,
    pub tokens: Vec<DemoToken>,
}

/// Why the demo tenant could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("the demo tenant's description: {0}")]
    Description(#[from] crate::DescriptionError),
    #[error("cannot seed the demo tenant: {0}")]
    Seed(ServiceError),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Token(#[from] crate::tokens::TokenError),
    #[error("the demo's first day names an invalid id: {0}")]
    Id(#[from] TextError),
    #[error("{}: {source}", path.display())]
    File { path: std::path::PathBuf, source: std::io::Error },
}

/// Seeds the demo tenant unless it exists; returns its tokens (made anew when their file
/// is gone — the old ones stay valid, as tokens are never revoked by the demo).
pub fn ensure(service: &mut TenantService, data: &Path) -> Result<DemoTokens, DemoError> {
    let description = crate::description_json(DESCRIPTION)?;
    let path = data.join(TOKENS_FILE);
    let file_error = |source| DemoError::File { path: path.clone(), source };
    if service.has_tenant(TENANT)? {
        if let Ok(text) = std::fs::read_to_string(&path)
            && let Ok(tokens) = serde_json::from_str::<DemoTokens>(&text)
        {
            // A file an older version wrote readable by everyone is closed now.
            private(&path).map_err(file_error)?;
            return Ok(tokens);
        }
    } else {
        match service.create_tenant(TENANT, &description) {
            Ok(()) => {
                for command in first_day(crate::clock::now_ms())? {
                    let seeded = service.submit(TENANT, &agentstate_core::wire::to_json(&command));
                    seeded.map_err(DemoError::Seed)?;
                }
                tracing::info!(tenant = TENANT, "seeded the demo tenant");
            }
            // Another host sharing the database seeded it a moment ago.
            Err(ServiceError::Store(StoreError::TenantExists(_))) => {}
            Err(e) => return Err(DemoError::Seed(e)),
        }
    }
    let people: Value = serde_json::from_str(&description).map_err(crate::DescriptionError::from)?;
    let mut tokens = DemoTokens { tenant: TENANT.into(), tokens: Vec::new() };
    let users = people.get("users").and_then(Value::as_array).cloned().unwrap_or_default();
    let system = json!({ "id": "system", "name": "Routing system", "roles": [] });
    for user in users.iter().chain([&system]) {
        let actor = user.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
        let token = service.issue_token(TENANT, &actor)?;
        tokens.tokens.push(DemoToken {
            actor,
            name: user.get("name").and_then(Value::as_str).unwrap_or_default().to_owned(),
            roles: serde_json::from_value(user.get("roles").cloned().unwrap_or_default()).unwrap_or_default(),
            token,
        });
    }
    let text = serde_json::to_string_pretty(&tokens).map_err(crate::DescriptionError::from)?;
    write_private(&path, &text).map_err(file_error)?;
    Ok(tokens)
}

/// Writes the tokens file readable by its owner only (`0600`): it holds the admin's and
/// `system`'s tokens, and a data folder is often shared with other users of the machine.
/// Closed before anything is written into it, also when it existed already.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Makes an existing tokens file readable by its owner only.
fn private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Devices registered, some active, and the agents signed into their channels, as a
/// morning in the contact center would leave them.
fn first_day(at: u64) -> Result<Vec<Command>, TextError> {
    let agents = [
        "mueller", "zoe", "soren", "francois", "ines", "bjorn", "aylin", "chen", "priya", "tomas", "anna", "lukas",
        "marie", "jonas", "emma", "felix", "hannah", "paul", "lea", "noah", "mia", "ben", "sofia", "elias", "clara",
        "david", "lina", "max", "nora", "oskar", "rosa", "yusuf", "lena",
    ];
    let at = Millis::new(at).unwrap_or(Millis::ZERO);
    let ada = Actor::User(UserId::new("ada")?);
    let by = |actor: &Actor, action: Action| Command { actor: actor.clone(), at, id: None, action };
    let mut commands = Vec::new();
    for (i, agent) in agents.iter().enumerate() {
        let user = UserId::new(agent)?;
        let softphone = DeviceId::new(&format!("{agent}-softphone"))?;
        let label = Label::new("Softphone")?;
        let kind = DeviceKind::Softphone;
        let registered = Action::DeviceRegistered { user: user.clone(), device: softphone.clone(), kind, label };
        commands.push(by(&Actor::System, registered));
        if i % 3 == 0 {
            let (device, label) = (DeviceId::new(&format!("{agent}-desk"))?, Label::new(&format!("Desk {}", 100 + i))?);
            let kind = DeviceKind::DeskPhone;
            commands.push(by(&Actor::System, Action::DeviceRegistered { user: user.clone(), device, kind, label }));
        }
        if i % 4 != 3 {
            commands.push(by(&Actor::System, Action::DeviceActivity { device: softphone, active: true }));
        }
        // Most agents start the day signed in; a few are not yet.
        if i % 5 != 4 && *agent != "mueller" {
            commands.push(by(&ada, Action::SignInAssigned { user }));
        }
    }
    let lunch = Action::Pause { user: UserId::new("priya")?, reason: PauseReason::new("lunch")?, channel: None };
    commands.push(by(&ada, lunch));
    Ok(commands)
}

/// What the simulator tracks between ticks: when each running interaction ends.
#[derive(Debug, Default)]
struct Calls {
    due: std::collections::HashMap<String, u64>,
    started: u64,
}

/// The simulated routing system: every second it may route work to a free agent on each
/// channel (one chance in four) and ends interactions after 5–25 s, as the actor `system`.
/// Who is free is the module's answer (the routing board), never a reading of its state.
pub async fn simulate(writer: Writer, mut shutdown: watch::Receiver<bool>) {
    let mut calls = Calls::default();
    let mut rng = fastrand::Rng::new();
    loop {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(1000)) => {}
            _ = shutdown.changed() => return,
        }
        let board = writer.run(|desk| {
            let at = desk.now(TENANT)?;
            let board = desk.service.query(TENANT, &Query::RoutingBoard { actor: Actor::System, at })?;
            Ok::<_, ServiceError>((at.get(), board))
        });
        let Ok(Ok((at, board))) = board.await else { return };
        let Ok(board) = serde_json::from_str::<RoutingBoard>(&board) else { return };
        let commands = tick(&board, at, &mut calls, &mut rng);
        if !commands.is_empty() {
            let incoming = commands.iter().map(|action| Incoming::composed(&Actor::System, action)).collect();
            if writer.submit(TENANT.into(), incoming).await.is_err() {
                return;
            }
        }
    }
}

/// One second of routing: which interactions end, which start.
fn tick(board: &RoutingBoard, at: u64, calls: &mut Calls, rng: &mut fastrand::Rng) -> Vec<Action> {
    let mut commands = Vec::new();
    calls.due.retain(|id, _| board.interactions.iter().any(|i| i.interaction.as_str() == id));
    for running in &board.interactions {
        let id = running.interaction.as_str();
        let due = *calls.due.entry(id.to_owned()).or_insert_with(|| at + rng.u64(5_000..25_000));
        if due <= at {
            commands.push(Action::InteractionEnded { interaction: running.interaction.clone() });
        }
    }
    let mut routed = std::collections::HashSet::new();
    for (channel, routable) in &board.routable {
        if rng.u8(..4) != 0 {
            continue;
        }
        let free: Vec<&str> = routable.iter().map(|u| u.as_str()).filter(|u| !routed.contains(u)).collect();
        if free.is_empty() {
            continue;
        }
        let Some(&user) = free.get(rng.usize(..free.len())) else { continue };
        let Ok(interaction) = InteractionId::new(&format!("sim-{at}-{}", calls.started + 1)) else { continue };
        routed.insert(user);
        calls.started += 1;
        let Ok(user) = UserId::new(user) else { continue };
        commands.push(Action::InteractionStarted { user, channel: channel.clone(), interaction });
    }
    commands
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentstate_core::{Tenant, views};

    const TENANT_JSON: &str = r#"{"plan": "complete", "pause_reasons": ["lunch"],
      "users": [{"id": "ana", "name": "Ana", "roles": ["agent"]}],
      "channels": [{"id": "sales", "kind": "queue", "name": "Sales", "wrap_up_secs": 30, "agents": ["ana"]}]}"#;

    /// The board after `commands` (JSON, in order, each accepted).
    fn board_after(commands: &[&str], at: u64) -> RoutingBoard {
        let seed = serde_json::from_str(TENANT_JSON).expect("a description");
        let mut tenant = Tenant::from_seed(&seed).expect("a tenant");
        for command in commands {
            assert!(tenant.answer(command).is_accepted(), "{command}");
        }
        views::routing_board(tenant.state(), agentstate_core::Millis::new(at).expect("a time"))
    }

    fn started(commands: &[Action]) -> usize {
        commands.iter().filter(|c| matches!(c, Action::InteractionStarted { .. })).count()
    }

    #[test]
    fn the_simulator_routes_only_to_free_signed_in_agents_and_ends_calls_when_due() {
        let sign_in = r#"{"actor":"ana","at":0,"type":"sign_in","user":"ana","channel":"sales"}"#;
        let mut rng = fastrand::Rng::with_seed(7);
        let free = board_after(&[sign_in], 1_000);
        let mut calls = Calls::default();
        let routed: usize = (0..40).map(|_| started(&tick(&free, 1_000, &mut calls, &mut rng))).sum();
        assert!(routed > 0, "a free agent gets work sooner or later");

        let paused =
            board_after(&[sign_in, r#"{"actor":"ana","at":0,"type":"pause","user":"ana","reason":"lunch"}"#], 1_000);
        let call = r#"{"actor":"system","at":0,"type":"interaction_started","user":"ana","channel":"sales","interaction":"c1"}"#;
        let ended = r#"{"actor":"system","at":0,"type":"interaction_ended","interaction":"c1"}"#;
        let wrapping = board_after(&[sign_in, call, ended], 1_000);
        let signed_out = board_after(&[], 1_000);
        for busy in [&paused, &wrapping, &signed_out] {
            let routed: usize = (0..40).map(|_| started(&tick(busy, 1_000, &mut calls, &mut rng))).sum();
            assert_eq!(routed, 0, "{busy:?}");
        }

        let on_call = board_after(&[sign_in, call], 1_000);
        let mut calls = Calls::default();
        let first = tick(&on_call, 1_000, &mut calls, &mut rng);
        assert!(first.is_empty(), "a call just seen runs at least 5 s: {first:?}");
        let later = tick(&on_call, 1_000 + 25_000, &mut calls, &mut rng);
        assert!(
            matches!(later.as_slice(), [Action::InteractionEnded { interaction }] if interaction.as_str() == "c1"),
            "{later:?}"
        );
    }
}
