//! The agent's own dashboard: the channels they are assigned to or signed in to, with their
//! state on each; their call or chat, their wrap-up, and their devices. What they may *do*
//! is `allowed_actions` with themselves as actor and user (self-service, §2).

use serde::{Deserialize, Serialize};

use crate::model::channel::ChannelKind;
use crate::model::ids::{ChannelId, InteractionId, Millis, Name, UserId};
use crate::model::monitoring::MonitorMode;
use crate::model::roles::RoleSet;
use crate::model::state::State;
use crate::views::roster::{DeviceView, WrapUpView};
use crate::views::{AgentNow, agent_now};

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentDashboard {
    pub user: UserId,
    pub name: Name,
    pub roles: RoleSet,
    /// Assigned as agent or signed in, by name then id.
    pub channels: Vec<MyChannel>,
    pub interaction: Option<MyInteraction>,
    /// The wrap-up while it runs.
    pub wrap_up: Option<WrapUpView>,
    /// In order of registration; the active one marked.
    pub devices: Vec<DeviceView>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MyChannel {
    pub channel: ChannelId,
    pub name: Name,
    pub kind: ChannelKind,
    pub assigned: bool,
    pub signed_in: bool,
    /// Signed in without an assignment as agent: it lasts until someone signs them out.
    pub unassigned_sign_in: bool,
    /// An unassigned sign-in while the tenant does not allow them any more.
    pub flagged: bool,
    pub now: AgentNow,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MyInteraction {
    pub interaction: InteractionId,
    pub channel: ChannelId,
    pub since: Millis,
    /// A supervisor the agent hears — whispering or barging in. Listening is silent, and
    /// the agent is not told of it.
    pub heard_supervisor: Option<HeardSupervisor>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeardSupervisor {
    pub supervisor: UserId,
    pub name: Name,
    pub mode: MonitorMode,
}

/// The dashboard of `user` at `at`; `None` for an unknown user. (Whether they may have one —
/// the agent role — is a rule of `decide`: ask `allowed_actions`.)
pub fn agent_dashboard(state: &State, user: &str, at: Millis) -> Option<AgentDashboard> {
    let (id, u) = state.users.get_key_value(user)?;
    let flagged = !state.settings().unassigned_sign_in;
    let mut channels: Vec<MyChannel> = u
        .assignments
        .keys()
        .filter(|c| u.is_assigned_agent(c))
        .chain(u.sign_ins.keys().filter(|c| !u.is_assigned_agent(c)))
        .filter_map(|c| {
            let info = state.channel(c)?;
            let assigned = u.is_assigned_agent(c);
            let signed_in = u.sign_ins.contains_key(c);
            Some(MyChannel {
                channel: c.clone(),
                name: info.name.clone(),
                kind: info.kind,
                assigned,
                signed_in,
                unassigned_sign_in: signed_in && !assigned,
                flagged: signed_in && !assigned && flagged,
                now: agent_now(state, id, u, c, at),
            })
        })
        .collect();
    channels.sort_by(|a, b| (&a.name, &a.channel).cmp(&(&b.name, &b.channel)));
    let interaction = state.interaction_of(u).map(|(iid, i)| MyInteraction {
        interaction: iid.clone(),
        channel: i.channel.clone(),
        since: i.since,
        heard_supervisor: i.monitoring.as_ref().filter(|m| m.mode != MonitorMode::Listen).and_then(|m| {
            let name = state.user(&m.supervisor)?.name.clone();
            Some(HeardSupervisor { supervisor: m.supervisor.clone(), name, mode: m.mode })
        }),
    });
    let wrap_up = WrapUpView::of(u, at);
    let devices = u.devices.iter().filter_map(|d| state.device(d).map(|dev| DeviceView::new(d, dev))).collect();
    Some(AgentDashboard {
        user: id.clone(),
        name: u.name.clone(),
        roles: u.roles,
        channels,
        interaction,
        wrap_up,
        devices,
    })
}
