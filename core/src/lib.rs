//! # agentstate-core
//!
//! The contact-center agent-state rules of `docs/rules.md`, written once. Sans-IO: no clock,
//! no files, no network, no randomness. The caller feeds commands (each carrying its own
//! time) and drains events:
//!
//! * [`decide`] — a [`Command`] against a [`State`] gives [`Event`]s or one [`Rejection`];
//! * [`evolve`] — folds one event into the state; a state is the fold of its events;
//! * [`views`] — pure answers to what dashboards ask (roster, allowed actions, …);
//! * [`wire`] — the JSON form every runtime speaks.
//!
//! ```
//! use agentstate_core::{decide, evolve, wire, State, TenantSeed};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let seed: TenantSeed = serde_json::from_str(r#"{"plan": "complete",
//!   "users": [{"id": "ana", "name": "Ana", "roles": ["agent"]}],
//!   "channels": [{"id": "sales", "kind": "queue", "name": "Sales", "agents": ["ana"]}]}"#)?;
//! let mut state: State = seed.state()?;
//! let command = wire::decode_command(
//!     r#"{"type": "sign_in", "actor": "ana", "at": 1000, "user": "ana", "channel": "sales"}"#)?;
//! let events = decide(&state, &command)?;
//! for e in &events {
//!     evolve(&mut state, e);
//! }
//! assert!(state.user("ana").is_some_and(|u| u.sign_ins.contains_key("sales")));
//!
//! let again = wire::decode_command(
//!     r#"{"type": "sign_in", "actor": "ana", "at": 2000, "user": "ana", "channel": "sales"}"#)?;
//! let refused = decide(&state, &again).unwrap_err();
//! assert_eq!(refused.code().as_str(), "already_signed_in");
//! assert_eq!(refused.message(agentstate_core::Lang::De), "ana ist bereits bei sales angemeldet");
//! # Ok(())
//! # }
//! ```
//!
//! Each rule lives in the module named after its domain idea: `authority` (who may
//! act where), `sign_in`, `pause`, `wrap_up`, `monitoring`, `routing`, `devices`,
//! `config`.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

mod authority;
mod command;
pub mod config;
mod decide;
pub mod devices;
mod event;
mod id_map;
mod ids;
pub mod monitoring;
#[cfg(feature = "openapi")]
mod openapi;
mod pause;
mod rejection;
mod roles;
mod routing;
mod seed;
pub mod sight;
mod sign_in;
mod state;
mod tenant;
pub mod views;
pub mod wire;
mod wrap_up;

pub use command::{Action, Command};
pub use config::{AssignAs, Assignment, Channel, ChannelKind, PauseReasons, Setting, Settings, WrapUpSecs};
pub use decide::{decide, handle};
pub use devices::{Device, DeviceKind};
pub use event::{Change, Event};
pub use id_map::{IdMap, IdSet, SmallMap};
pub use ids::{
    Actor, ChannelId, CommandId, DeviceId, InteractionId, Label, Millis, Name, PauseReason, TextError, UserId,
};
pub use monitoring::MonitorMode;
pub use rejection::{Category, IdKind, Lang, Messages, Needs, Rejection, RejectionCode, Unroutable};
pub use roles::{Plan, Role, RoleSet};
pub use seed::{ChannelSeed, SeedError, TenantSeed, UserSeed};
pub use sight::{SeenUser, Sight, SightSummary, project, seen_by};
pub use state::{Interaction, Monitoring, Pause, SignIn, State, User, WrapUp, evolve};
pub use tenant::{ChannelCount, Query, Tenant};
