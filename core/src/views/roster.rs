use serde::{Deserialize, Serialize};

use crate::model::channel::{Assignment, ChannelKind};
use crate::model::device::{Device, DeviceKind};
use crate::model::ids::{Actor, ChannelId, DeviceId, InteractionId, Label, Millis, Name, UserId};
use crate::model::monitoring::MonitorMode;
use crate::model::roles::RoleSet;
use crate::model::state::{Pause, State, User};

/// Everyone on one channel, as the Supervisor dashboard lists them.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Roster {
    pub channel: ChannelId,
    pub kind: ChannelKind,
    pub name: Name,
    /// Sorted by name, then id.
    pub entries: Vec<RosterEntry>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RosterEntry {
    pub user: UserId,
    pub name: Name,
    pub roles: RoleSet,
    /// The permanent assignment to this channel (both flags false when none).
    pub assigned: Assignment,
    pub signed_in: Option<SignInView>,
    /// Signed in without being assigned as agent: what a supervisor may need to review.
    pub unassigned_sign_in: bool,
    pub paused: Option<Pause>,
    /// The user's running interaction, on whichever channel.
    pub interaction: Option<InteractionView>,
    /// The user's wrap-up, on whichever channel, while it runs.
    pub wrap_up: Option<WrapUpView>,
    pub monitored_by: Option<MonitorView>,
    pub active_device: Option<DeviceView>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignInView {
    pub since: Millis,
    pub by: Actor,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InteractionView {
    pub interaction: InteractionId,
    pub channel: ChannelId,
    pub since: Millis,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WrapUpView {
    pub channel: ChannelId,
    pub until: Millis,
    pub remaining_ms: u64,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MonitorView {
    pub supervisor: UserId,
    pub mode: MonitorMode,
    pub since: Millis,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceView {
    pub device: DeviceId,
    pub kind: DeviceKind,
    pub label: Label,
    pub active: bool,
}

impl WrapUpView {
    /// The user's wrap-up while it runs at `at`.
    pub(crate) fn of(u: &User, at: Millis) -> Option<WrapUpView> {
        u.wrap_up_at(at).map(|w| WrapUpView {
            channel: w.channel.clone(),
            until: w.until,
            remaining_ms: at.until(w.until),
        })
    }
}

impl DeviceView {
    pub(crate) fn new(id: &DeviceId, d: &Device) -> DeviceView {
        DeviceView { device: id.clone(), kind: d.kind, label: d.label.clone(), active: d.active }
    }
}

/// Everyone assigned to or signed into `channel` — and whoever is in an interaction or
/// wrap-up there after signing out, since a supervisor still sees and monitors them.
/// `None` for an unknown channel.
pub fn roster(state: &State, channel: &str, at: Millis) -> Option<Roster> {
    let (id, c) = state.channels.get_key_value(channel)?;
    let mut entries: Vec<RosterEntry> = state
        .users_where(|u| on_channel(state, u, id, at))
        .into_iter()
        .map(|(uid, u)| entry(state, uid, u, id, at))
        .collect();
    entries.sort_by(|a, b| (&a.name, &a.user).cmp(&(&b.name, &b.user)));
    Some(Roster { channel: id.clone(), kind: c.kind, name: c.name.clone(), entries })
}

pub(crate) fn on_channel(state: &State, u: &User, channel: &ChannelId, at: Millis) -> bool {
    u.assignments.contains_key(channel)
        || u.sign_ins.contains_key(channel)
        || state.interaction_of(u).is_some_and(|(_, i)| &i.channel == channel)
        || u.wrap_up_at(at).is_some_and(|w| &w.channel == channel)
}

pub(crate) fn active_device(state: &State, u: &User) -> Option<DeviceView> {
    u.devices.iter().find_map(|id| state.device(id).filter(|d| d.active).map(|d| DeviceView::new(id, d)))
}

fn entry(state: &State, id: &UserId, u: &User, channel: &ChannelId, at: Millis) -> RosterEntry {
    let sign_in = u.sign_ins.get(channel);
    let interaction = state.interaction_of(u);
    RosterEntry {
        user: id.clone(),
        name: u.name.clone(),
        roles: u.roles,
        assigned: u.assignments.get(channel).copied().unwrap_or_default(),
        signed_in: sign_in.map(|s| SignInView { since: s.since, by: s.by.clone() }),
        unassigned_sign_in: sign_in.is_some() && !u.is_assigned_agent(channel),
        paused: sign_in.and_then(|s| s.pause.clone()),
        interaction: interaction.map(|(iid, i)| InteractionView {
            interaction: iid.clone(),
            channel: i.channel.clone(),
            since: i.since,
        }),
        wrap_up: WrapUpView::of(u, at),
        monitored_by: interaction.and_then(|(_, i)| i.monitoring.as_ref()).map(|m| MonitorView {
            supervisor: m.supervisor.clone(),
            mode: m.mode,
            since: m.since,
        }),
        active_device: active_device(state, u),
    }
}

/// The roster as `observer` may see it: `None` for a channel outside their sight (as for
/// one that does not exist), else only the people they see.
pub fn roster_seen(state: &State, observer: &crate::model::ids::Actor, channel: &str, at: Millis) -> Option<Roster> {
    let sight = crate::Sight::of(state, observer);
    sight.channel(state, channel)?;
    let mut roster = roster(state, channel, at)?;
    roster.entries.retain(|e| sight.sees(state, &e.user));
    Some(roster)
}
