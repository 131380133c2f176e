//! One tenant as a runtime holds it: the state, and the journal of events applied to it
//! (what `history` reads). Every runtime — native, the plugin ABI in wasmtime, the
//! browser build — wraps this type, so they differ only in how bytes reach it.

use serde::{Deserialize, Serialize};

use crate::model::event::Event;
use crate::model::ids::{Actor, ChannelId, Millis, UserId};
use crate::model::roles::RoleSet;
use crate::model::state::State;
use crate::rules::decide::{decide, handle};
use crate::rules::sight::Sight;
use crate::seed::TenantSeed;
use crate::views;
use crate::wire::{self, Outcome};

#[derive(Clone, Debug, Default)]
pub struct Tenant {
    state: State,
    journal: Vec<Event>,
}

/// A question to a tenant, as JSON: `{"view": "roster", "actor": "sam", "channel": "sales",
/// "at": 5000}`. Every view is asked *by* someone (`actor`: a user id or `system`) and
/// answers only what they may see (`docs/rules.md` §6): a user or channel outside their
/// sight is answered as one that does not exist (`null`, or `unknown_user` verdicts).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "view", rename_all = "snake_case", deny_unknown_fields)]
pub enum Query {
    Roster {
        actor: Actor,
        channel: ChannelId,
        at: Millis,
    },
    /// Time in state: each agent of the channel's roster, their state and since when, and
    /// the counts per state.
    ChannelStates {
        actor: Actor,
        channel: ChannelId,
        at: Millis,
    },
    /// The counts per state on each channel the actor is assigned to: what an agent sees
    /// of their team, without names.
    ChannelCounts {
        actor: Actor,
        at: Millis,
    },
    /// The agent's own dashboard: their channels with their state on each, their call or
    /// chat, wrap-up and devices.
    AgentDashboard {
        actor: Actor,
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
        actor: Actor,
        #[serde(default)]
        text: String,
        #[serde(default)]
        roles: RoleSet,
    },
    LingeringUnassigned {
        actor: Actor,
    },
    /// Who can take work on each channel now, and the running interactions: what a
    /// routing system asks before it offers work (`system` and admins only).
    RoutingBoard {
        actor: Actor,
        at: Millis,
    },
    /// The events that touched `user`: of `events` when given (a host holding the log
    /// outside the instance), else of the tenant's journal; `null` for someone out of the
    /// actor's sight.
    History {
        actor: Actor,
        user: UserId,
        #[serde(default)]
        events: Option<Vec<Event>>,
    },
    /// Each agent's states per channel from `from` to `to` (the day at a glance): of
    /// `events` when given — the log that follows the tenant's state, folded on from it — else of the
    /// tenant's journal (complete only for a tenant started from its description). Only
    /// the rows the actor may see.
    Activity {
        actor: Actor,
        from: Millis,
        to: Millis,
        #[serde(default)]
        events: Option<Vec<Event>>,
    },
    /// Whom the actor sees, as lists (for a host that reads the log apart from the tenant).
    Sight {
        actor: Actor,
    },
    /// The state as the actor may see it (for `system`, the whole state: a snapshot).
    Snapshot {
        actor: Actor,
    },
}

impl Query {
    /// Who asks: every view answers only what they may see.
    pub fn actor(&self) -> &Actor {
        match self {
            Query::Roster { actor, .. }
            | Query::ChannelStates { actor, .. }
            | Query::ChannelCounts { actor, .. }
            | Query::AgentDashboard { actor, .. }
            | Query::AllowedActions { actor, .. }
            | Query::SearchUsers { actor, .. }
            | Query::LingeringUnassigned { actor }
            | Query::RoutingBoard { actor, .. }
            | Query::History { actor, .. }
            | Query::Activity { actor, .. }
            | Query::Sight { actor }
            | Query::Snapshot { actor } => actor,
        }
    }
}

/// One of the actor's own channels with the counts per state on it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelCount {
    pub channel: ChannelId,
    pub name: crate::model::ids::Name,
    pub kind: crate::model::channel::ChannelKind,
    pub counts: views::StateCounts,
}

/// A view's answer, typed: what [`Tenant::query`] gives for each [`Query`], the view
/// itself on the wire (`null` for a user or channel out of the actor's sight). A history
/// borrows the events it answers with, from the query or the tenant's journal.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
// An answer is made once and serialized at once: boxing its largest variant would cost
// every such query an allocation for nothing.
#[allow(clippy::large_enum_variant)]
pub enum Answer<'a> {
    Roster(Option<views::Roster>),
    ChannelStates(Option<views::ChannelStates>),
    ChannelCounts(Vec<ChannelCount>),
    AgentDashboard(Option<views::AgentDashboard>),
    AllowedActions(views::AllowedActions),
    SearchUsers(Vec<views::UserMatch>),
    LingeringUnassigned(Vec<views::LingeringSignIn>),
    RoutingBoard(Option<views::RoutingBoard>),
    History(Option<Vec<&'a Event>>),
    Activity(views::ActivityReport),
    Sight(crate::rules::sight::SightSummary),
    Snapshot(Box<State>),
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

    /// Decodes, decides and applies one JSON command: the one path from a command's text to
    /// its outcome, which the native API, the plugin ABI and the browser binding all take
    /// (bad input is an `invalid_command` outcome, like any other rejection).
    pub fn answer(&mut self, command: &str) -> Outcome {
        match wire::decode_command(command) {
            Ok(command) => self.handle(&command),
            Err(rejection) => Outcome::from_result(Err(rejection)),
        }
    }

    /// What one JSON command would give, without applying it (a dashboard greys a button).
    pub fn consider(&self, command: &str) -> Outcome {
        Outcome::from_result(wire::decode_command(command).and_then(|command| decide(&self.state, &command)))
    }

    /// Answers a view [`Query`], as the actor may see it.
    pub fn query<'a>(&'a self, query: &'a Query) -> Answer<'a> {
        let state = &self.state;
        match query {
            Query::Roster { actor, channel, at } => Answer::Roster(views::roster_seen(state, actor, channel, *at)),
            Query::ChannelStates { actor, channel, at } => {
                Answer::ChannelStates(views::channel_states_seen(state, actor, channel, *at))
            }
            Query::ChannelCounts { actor, at } => Answer::ChannelCounts(channel_counts(state, actor, *at)),
            Query::AgentDashboard { actor, user, at } => {
                let shown = Sight::of(state, actor).sees(state, user);
                Answer::AgentDashboard(shown.then(|| views::agent_dashboard(state, user, *at)).flatten())
            }
            Query::AllowedActions { actor, user, channel, at } => {
                Answer::AllowedActions(views::allowed_actions(state, actor, user, channel.as_ref(), *at))
            }
            Query::SearchUsers { actor, text, roles } => {
                let sight = Sight::of(state, actor);
                let mut found = views::search_users(state, text, *roles);
                found.retain(|m| sight.finds(&m.user));
                Answer::SearchUsers(found)
            }
            Query::LingeringUnassigned { actor } => {
                let sight = Sight::of(state, actor);
                let mut lingering = views::lingering_unassigned(state);
                lingering.retain(|l| sight.sees(state, &l.user) && sight.reaches(&l.channel));
                Answer::LingeringUnassigned(lingering)
            }
            Query::RoutingBoard { actor, at } => Answer::RoutingBoard(
                Sight::of(state, actor).sees_everything().then(|| views::routing_board(state, *at)),
            ),
            Query::History { actor, user, events } => {
                // `system` (a host reading the log apart from the tenant) names users this
                // instance may not hold yet.
                let sight = Sight::of(state, actor);
                let shown = sight.sees_everything() || sight.sees(state, user);
                Answer::History(shown.then(|| match events {
                    Some(events) => views::history(events, user),
                    None => views::history(&self.journal, user),
                }))
            }
            Query::Activity { actor, from, to, events } => {
                let summary = Sight::of(state, actor).summary(state);
                let mut report = match events {
                    // The log that follows this tenant's state (a scratch tenant started from
                    // the log's base: its description, or the snapshot older events became).
                    Some(events) => views::activity_from(state, events, *from, *to),
                    None => views::activity(&self.journal, *from, *to),
                };
                report.rows.retain(|row| summary.shows(actor, &row.user, &row.channel));
                Answer::Activity(report)
            }
            Query::Sight { actor } => Answer::Sight(Sight::of(state, actor).summary(state)),
            Query::Snapshot { actor } => Answer::Snapshot(Box::new(crate::rules::sight::seen_by(state, actor))),
        }
    }

    /// Folds events decided elsewhere (a log's tail after a snapshot, a server's live feed)
    /// into the tenant.
    pub fn apply(&mut self, events: Vec<Event>) {
        for event in &events {
            crate::evolve(&mut self.state, event);
        }
        self.journal.extend(events);
    }
}

/// The counts per state on each channel the actor is assigned to; none for a user without
/// a contact-center role (they see themselves and nothing else).
fn channel_counts(state: &State, actor: &Actor, at: Millis) -> Vec<ChannelCount> {
    channel_counts_from(state, actor, &views::counts_by_channel(state, at))
}

/// [`Query::ChannelCounts`] from the counts of every channel (`views::counts_by_channel`):
/// how a host's projector sends each agent their team's counts without a view per agent.
pub fn channel_counts_from(
    state: &State,
    actor: &Actor,
    counts: &std::collections::BTreeMap<ChannelId, views::StateCounts>,
) -> Vec<ChannelCount> {
    let sight = Sight::of(state, actor);
    let Some(user) = actor.user().and_then(|u| state.user(u)) else {
        return Vec::new();
    };
    user.assignments
        .keys()
        .filter(|c| sight.counts(c))
        .filter_map(|c| {
            let (channel, counts) = (state.channel(c)?, counts.get(c)?);
            Some(ChannelCount {
                channel: c.clone(),
                name: channel.name.clone(),
                kind: channel.kind,
                counts: counts.clone(),
            })
        })
        .collect()
}
