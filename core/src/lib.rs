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
//! The crate in layers, each using only those below it (checked by `tests/layers.rs`):
//! [`model`] — what a tenant is made of, and the fold of events into state; `rules` — one
//! module per domain idea (`authority`: who may act where, `sight`: who may see what,
//! `sign_in`, `pause`, `wrap_up`, `monitoring`, `routing`, `devices`, `configuration`),
//! with `decide` running the steps every command takes; [`views`] — what dashboards ask;
//! [`wire`] and [`Tenant`] — the JSON every runtime speaks.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

pub mod model;
mod rules;
mod seed;
mod tenant;
pub mod views;
pub mod wire;

pub use model::channel::{AssignAs, Assignment, Channel, ChannelKind, WrapUpSecs};
pub use model::command::{Action, Command};
pub use model::device::{Device, DeviceKind};
pub use model::ended_interactions::{EndedInteractions, REMEMBERED_MS};
pub use model::event::{Change, Event, SeenUser};
pub use model::evolve::evolve;
pub use model::id_map::{IdMap, SmallMap};
pub use model::ids::{
    Actor, ChannelId, CommandId, DeviceId, InteractionId, Label, Millis, Name, PauseReason, TextError, UserId,
};
pub use model::monitoring::MonitorMode;
pub use model::rejection::{Category, IdKind, Lang, Messages, Needs, Rejection, RejectionCode, Unroutable};
pub use model::roles::{Plan, Role, RoleSet};
pub use model::settings::{PauseReasons, Setting, Settings};
pub use model::state::{Interaction, Monitoring, Pause, SignIn, SignIns, State, User, WrapUp};
pub use rules::decide::{decide, handle};
pub use rules::sight::{self, Sight, SightSummary, known_to, project, project_for_each, seen_by, sees_only_self};
pub use seed::{ChannelSeed, SeedError, TenantSeed, UserSeed};
pub use tenant::{Answer, ChannelCount, Query, Tenant, channel_counts_from};
