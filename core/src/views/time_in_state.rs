//! Time in state: what each agent on a channel is doing now and since when, and how many
//! agents of the channel are in each state — what a supervisor's real-time board shows.
//! The states are those of the day at a glance ([`super::activity`]), and `since` is where
//! that view's current interval begins, so the board and the report never disagree.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::model::ids::{ChannelId, Millis, PauseReason, UserId};
use crate::model::state::{State, User};
use crate::views::roster::on_channel;
use crate::views::{AgentState, Situation};

/// One agent on one channel at `at`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentNow {
    pub user: UserId,
    pub state: AgentState,
    /// Since when; `None` for an agent never signed out of a channel they were never
    /// signed in to (or a state restored from an older snapshot that did not keep it).
    pub since: Option<Millis>,
    /// `at - since`.
    pub duration_ms: Option<u64>,
    /// The pause reason, for `paused`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub reason: Option<PauseReason>,
    /// The wrap-up's deadline, for `wrap_up`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub until: Option<Millis>,
}

/// How many agents of a channel are in each state.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StateCounts {
    pub available: u32,
    pub on_interaction: u32,
    pub wrap_up: u32,
    pub paused: u32,
    pub signed_out: u32,
}

impl StateCounts {
    fn count(&mut self, state: AgentState) {
        let slot = match state {
            AgentState::Available => &mut self.available,
            AgentState::OnInteraction => &mut self.on_interaction,
            AgentState::WrapUp => &mut self.wrap_up,
            AgentState::Paused => &mut self.paused,
            AgentState::SignedOut => &mut self.signed_out,
        };
        *slot += 1;
    }
}

/// A channel's board: the agents of its roster (in the roster's order) and the counts. A
/// supervisor assigned to the channel only to supervise it is no agent of it and is left
/// out, unless signed in.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelStates {
    pub channel: ChannelId,
    pub at: Millis,
    pub counts: StateCounts,
    pub agents: Vec<AgentNow>,
}

/// The board of `channel` at `at`; `None` for an unknown channel.
pub fn channel_states(state: &State, channel: &str, at: Millis) -> Option<ChannelStates> {
    let (id, _) = state.channels.get_key_value(channel)?;
    let agent = |u: &User| !u.assignments.contains_key(id) || u.is_assigned_agent(id) || u.sign_ins.contains_key(id);
    let mut people = state.users_where(|u| on_channel(state, u, id, at) && agent(u));
    people.sort_by(|a, b| (&a.1.name, a.0).cmp(&(&b.1.name, b.0)));
    let mut counts = StateCounts::default();
    let agents: Vec<AgentNow> = people
        .into_iter()
        .map(|(uid, u)| {
            let now = agent_now(state, uid, u, id, at);
            counts.count(now.state);
            now
        })
        .collect();
    Some(ChannelStates { channel: id.clone(), at, counts, agents })
}

/// The counts per state of every channel at `at`, in one pass over the people: for each
/// channel exactly the counts of [`channel_states`]. A host refreshes every agent's
/// team counts from it once a second, instead of a pass over everyone per channel.
pub fn counts_by_channel(state: &State, at: Millis) -> BTreeMap<ChannelId, StateCounts> {
    let mut counts: BTreeMap<ChannelId, StateCounts> =
        state.channels.sorted().into_iter().map(|(c, _)| (c.clone(), StateCounts::default())).collect();
    for (uid, u) in state.users_where(|_| true) {
        // The channels `on_channel` finds them on, each once.
        let mut on: Vec<&ChannelId> = u.assignments.keys().chain(u.sign_ins.keys()).collect();
        on.extend(state.interaction_of(u).map(|(_, i)| &i.channel));
        on.extend(u.wrap_up_at(at).map(|w| &w.channel));
        on.sort_unstable();
        on.dedup();
        for c in on {
            let agent = !u.assignments.contains_key(c) || u.is_assigned_agent(c) || u.sign_ins.contains_key(c);
            if let Some(count) = counts.get_mut(c)
                && agent
            {
                count.count(agent_now(state, uid, u, c, at).state);
            }
        }
    }
    counts
}

/// What `user` is doing on `channel` at `at` ([`AgentState::of`]: work first, then a
/// pause), since when, and until when for a wrap-up.
pub fn agent_now(state: &State, user: &UserId, u: &User, channel: &ChannelId, at: Millis) -> AgentNow {
    let now = |doing, since: Option<Millis>| AgentNow {
        user: user.clone(),
        state: doing,
        since,
        duration_ms: since.map(|s| s.until(at)),
        reason: None,
        until: None,
    };
    let Some(sign_in) = u.sign_ins.get(channel) else {
        return now(AgentState::SignedOut, u.sign_ins.signed_out_at(channel));
    };
    let interaction = state.interaction_of(u).map(|(_, interaction)| interaction);
    let wrap_up = u.wrap_up_at(at);
    let doing = AgentState::of(Situation {
        signed_in: true,
        on_interaction: interaction.is_some(),
        in_wrap_up: wrap_up.is_some(),
        paused: sign_in.pause.is_some(),
    });
    // A state entered before this sign-in shows on this channel from the sign-in on.
    let seated = |since: Option<Millis>| since.map(|s| s.max(sign_in.since));
    let work_ended = u.work_ended.filter(|ended| *ended <= at).unwrap_or(Millis::ZERO);
    match (doing, interaction, wrap_up, &sign_in.pause) {
        (AgentState::OnInteraction, Some(interaction), _, _) => now(doing, seated(Some(interaction.since))),
        (AgentState::WrapUp, _, Some(wrap_up), _) => {
            AgentNow { until: Some(wrap_up.until), ..now(doing, seated(wrap_up.since)) }
        }
        (AgentState::Paused, _, _, Some(pause)) => {
            AgentNow { reason: Some(pause.reason.clone()), ..now(doing, seated(Some(pause.since.max(work_ended)))) }
        }
        _ => {
            let since = [sign_in.resumed, Some(work_ended)].into_iter().flatten().fold(sign_in.since, Millis::max);
            now(AgentState::Available, Some(since))
        }
    }
}

/// Time in state as `observer` may see it: `None` for a channel outside their sight; the
/// people they see, and the counts of everyone where they may see them (their reach, or a
/// channel they are assigned to: an agent sees their team as numbers).
pub fn channel_states_seen(
    state: &State,
    observer: &crate::model::ids::Actor,
    channel: &str,
    at: Millis,
) -> Option<ChannelStates> {
    let sight = crate::Sight::of(state, observer);
    let id = sight.channel(state, channel)?;
    let mut board = channel_states(state, channel, at)?;
    board.agents.retain(|a| sight.sees(state, &a.user));
    // Anyone else counts only whom they see.
    if !sight.counts(id) {
        board.counts = StateCounts::default();
        for agent in &board.agents {
            board.counts.count(agent.state);
        }
    }
    Some(board)
}
