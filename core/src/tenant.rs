//! One tenant as a runtime holds it: the state, and the journal of events applied to it
//! (what `history` reads). Every runtime — native, the plugin ABI in wasmtime, the
//! browser build — wraps this type, so they differ only in how bytes reach it.

use serde::{Deserialize, Serialize};

use crate::decide::handle;
use crate::event::Event;
use crate::ids::{Actor, ChannelId, Millis, UserId};
use crate::roles::RoleSet;
use crate::seed::TenantSeed;
use crate::state::State;
use crate::views;
use crate::wire::{self, Outcome};

#[derive(Clone, Debug, Default)]
pub struct Tenant {
    state: State,
    journal: Vec<Event>,
}

/// A question to a tenant, as JSON: `{"view": "roster", "channel": "sales", "at": 5000}`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "view", rename_all = "snake_case", deny_unknown_fields)]
pub enum Query {
    Roster {
        channel: ChannelId,
        at: Millis,
    },
    /// Time in state: each agent of the channel's roster, their state and since when, and
    /// the counts per state.
    ChannelStates {
        channel: ChannelId,
        at: Millis,
    },
    /// The agent's own dashboard: their channels with their state on each, their call or
    /// chat, wrap-up and devices.
    AgentDashboard {
        user: UserId,
        at: Millis,
    },
    AllowedActions {
        actor: Actor,
        user: UserId,
        #[serde(default)]
        channel: Option<ChannelId>,
        at: Millis,
    },
    SearchUsers {
        #[serde(default)]
        text: String,
        #[serde(default)]
        roles: RoleSet,
    },
    LingeringUnassigned,
    /// Who can take work on each channel now, and the running interactions: what a
    /// routing system asks before it offers work.
    RoutingBoard {
        at: Millis,
    },
    /// The events that touched `user`: of `events` when given (a host holding the log
    /// outside the instance), else of the tenant's journal.
    History {
        user: UserId,
        #[serde(default)]
        events: Option<Vec<Event>>,
    },
    /// Each agent's states per channel from `from` to `to` (the day at a glance): of
    /// `events` when given — the whole log from the tenant's description on — else of the
    /// tenant's journal (complete only for a tenant started from its description).
    Activity {
        from: Millis,
        to: Millis,
        #[serde(default)]
        events: Option<Vec<Event>>,
    },
    /// The whole state, as a snapshot.
    Snapshot,
}

impl Tenant {
    /// A new tenant from its description.
    pub fn from_seed(seed: &TenantSeed) -> Result<Tenant, crate::SeedError> {
        let journal = seed.events()?;
        Ok(Tenant { state: State::from_events(&journal), journal })
    }

    /// A tenant from a snapshot; its journal starts empty.
    pub fn from_state(state: State) -> Tenant {
        Tenant { state, journal: Vec::new() }
    }

    /// A tenant from the JSON of a [`TenantSeed`].
    pub fn from_seed_json(json: &str) -> Result<Tenant, String> {
        let seed: TenantSeed = serde_json::from_str(json).map_err(|e| format!("not a tenant: {e}"))?;
        Tenant::from_seed(&seed).map_err(|e| format!("not a tenant: {e}"))
    }

    /// A tenant from the JSON of a snapshot.
    pub fn from_snapshot_json(json: &str) -> Result<Tenant, String> {
        serde_json::from_str(json).map(Tenant::from_state).map_err(|e| format!("not a snapshot: {e}"))
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn journal(&self) -> &[Event] {
        &self.journal
    }

    /// Decides and applies one command.
    pub fn handle(&mut self, command: &crate::Command) -> Outcome {
        let outcome = Outcome::from_result(handle(&mut self.state, command));
        if let Outcome::Accepted { events } = &outcome {
            self.journal.extend_from_slice(events);
        }
        outcome
    }

    /// Decodes, decides and applies one JSON command; the outcome as JSON.
    pub fn handle_json(&mut self, command: &str) -> String {
        let outcome = match wire::decode_command(command) {
            Ok(command) => self.handle(&command),
            Err(rejection) => Outcome::from_result(Err(rejection)),
        };
        wire::to_json(&outcome)
    }

    /// A JSON array of commands, each decided in turn (a rejected one does not stop the
    /// rest); the JSON array of their outcomes, or why the text is no array.
    pub fn handle_batch_json(&mut self, commands: &str) -> Result<String, String> {
        let commands: Vec<&serde_json::value::RawValue> =
            serde_json::from_str(commands).map_err(|e| format!("not a JSON array of commands: {e}"))?;
        let mut out = String::with_capacity(commands.len() * 160 + 2);
        out.push('[');
        for (i, command) in commands.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&self.handle_json(command.get()));
        }
        out.push(']');
        Ok(out)
    }

    /// Answers a view [`Query`].
    pub fn query(&self, query: &Query) -> serde_json::Value {
        let json = |v: &dyn erased::Json| v.to_value();
        match query {
            Query::Roster { channel, at } => json(&views::roster(&self.state, channel, *at)),
            Query::AgentDashboard { user, at } => json(&views::agent_dashboard(&self.state, user, *at)),
            Query::ChannelStates { channel, at } => json(&views::channel_states(&self.state, channel, *at)),
            Query::AllowedActions { actor, user, channel, at } => {
                json(&views::allowed_actions(&self.state, actor, user, channel.as_ref(), *at))
            }
            Query::SearchUsers { text, roles } => json(&views::search_users(&self.state, text, *roles)),
            Query::LingeringUnassigned => json(&views::lingering_unassigned(&self.state)),
            Query::RoutingBoard { at } => json(&views::routing_board(&self.state, *at)),
            Query::History { user, events: Some(events) } => json(&views::history(events, user)),
            Query::History { user, events: None } => json(&views::history(&self.journal, user)),
            Query::Activity { from, to, events: Some(events) } => json(&views::activity(events, *from, *to)),
            Query::Activity { from, to, events: None } => json(&views::activity(&self.journal, *from, *to)),
            Query::Snapshot => json(&self.state),
        }
    }

    /// Answers a view query given as JSON; the view as JSON, or why the text is no query.
    pub fn query_json(&self, query: &str) -> Result<String, String> {
        let query: Query = serde_json::from_str(query).map_err(|e| format!("not a view query: {e}"))?;
        Ok(wire::to_json(&self.query(&query)))
    }

    /// Folds a JSON array of events (a log's tail after a snapshot) into the tenant.
    /// All or nothing: a malformed array changes nothing.
    pub fn apply_json(&mut self, events: &str) -> Result<(), String> {
        let events: Vec<Event> =
            serde_json::from_str(events).map_err(|e| format!("not a JSON array of events: {e}"))?;
        for event in &events {
            crate::evolve(&mut self.state, event);
        }
        self.journal.extend(events);
        Ok(())
    }

    pub fn snapshot_json(&self) -> String {
        wire::to_json(&self.state)
    }
}

mod erased {
    /// Lets `query` hand differently typed views to one serialiser.
    pub trait Json {
        fn to_value(&self) -> serde_json::Value;
    }

    impl<T: serde::Serialize> Json for T {
        fn to_value(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
        }
    }
}
