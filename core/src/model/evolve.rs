//! The fold: a state is its events applied in order (R6). Total: an event naming
//! something the state does not hold (a corrupted or foreign log) changes nothing rather
//! than panicking.

use crate::model::channel::Channel;
use crate::model::device::Device;
use crate::model::event::{Change, Event};
use crate::model::id_map::SmallMap;
use crate::model::ids::{ChannelId, UserId};
use crate::model::state::{Interaction, Monitoring, Pause, SignIn, SignIns, State, User, WrapUp};

impl State {
    /// Folds `events` from an empty tenant.
    pub fn from_events<'e>(events: impl IntoIterator<Item = &'e Event>) -> State {
        let mut state = State::new();
        for e in events {
            evolve(&mut state, e);
        }
        state
    }
}

/// Applies one event. Total: an event naming something the state does not hold (a
/// corrupted or foreign log) changes nothing rather than panicking.
pub fn evolve(state: &mut State, event: &Event) {
    let clock = state.clock.map_or(event.at, |c| c.max(event.at));
    state.clock = Some(clock);
    // Ids that ended a day or more ago are free from now on: forgetting them is part of the
    // fold, decided by event time alone (§7), and costs a look at the oldest one.
    state.ended_interactions.forget_until(clock);
    let at = event.at;
    match &event.change {
        Change::PlanSet { plan } => state.plan = *plan,
        Change::SettingChanged { setting, value } => state.settings.set(*setting, *value),
        Change::PauseReasonsSet { reasons } => state.pause_reasons = reasons.clone(),
        Change::UserCreated { user, name, roles } => {
            state.users.entry(user.clone()).or_insert_with(|| User {
                name: name.clone(),
                roles: *roles,
                assignments: SmallMap::default(),
                sign_ins: SignIns::default(),
                interaction: None,
                wrap_up: None,
                devices: Vec::new(),
                work_ended: None,
            });
        }
        Change::RolesSet { user, roles } => {
            if let Some(u) = state.users.get_mut(user) {
                u.roles = *roles;
            }
        }
        Change::ChannelCreated { channel, kind, name, wrap_up_secs } => {
            state.channels.entry(channel.clone()).or_insert_with(|| Channel {
                kind: *kind,
                name: name.clone(),
                wrap_up_secs: *wrap_up_secs,
            });
        }
        Change::Assigned { user, channel, r#as } => {
            if let Some(u) = state.users.get_mut(user) {
                u.assignments.upsert(channel.clone(), |a| a.set(*r#as));
            }
        }
        Change::Unassigned { user, channel } => {
            if let Some(u) = state.users.get_mut(user) {
                u.assignments.remove(channel);
            }
        }
        Change::SignedIn { user, channel } => {
            if let Some(u) = state.users.get_mut(user) {
                u.sign_ins
                    .sign_in(channel.clone(), SignIn { since: at, by: event.by.clone(), pause: None, resumed: None });
            }
        }
        Change::SignedOut { user, channel } => {
            if let Some(u) = state.users.get_mut(user) {
                u.sign_ins.sign_out(channel, at);
            }
        }
        Change::Paused { user, channel, reason } => {
            if let Some(s) = sign_in_mut(state, user, channel) {
                s.pause = Some(Pause { reason: reason.clone(), since: at, by: event.by.clone() });
            }
        }
        Change::Resumed { user, channel } => {
            if let Some(s) = sign_in_mut(state, user, channel)
                && s.pause.take().is_some()
            {
                s.resumed = Some(at);
            }
        }
        Change::WrapUpEnded { user, .. } => {
            if let Some(u) = state.users.get_mut(user) {
                if u.wrap_up_at(at).is_some() {
                    u.work_ended = Some(at);
                }
                u.wrap_up = None;
            }
        }
        Change::MonitoringStarted { supervisor, interaction, mode, .. } => {
            if let Some(i) = state.interactions.get_mut(interaction) {
                i.monitoring = Some(Monitoring { supervisor: supervisor.clone(), mode: *mode, since: at });
            }
        }
        Change::MonitoringModeChanged { interaction, mode, .. } => {
            if let Some(m) = state.interactions.get_mut(interaction).and_then(|i| i.monitoring.as_mut()) {
                m.mode = *mode;
            }
        }
        Change::MonitoringStopped { interaction, .. } => {
            if let Some(i) = state.interactions.get_mut(interaction) {
                i.monitoring = None;
            }
        }
        Change::InteractionStarted { user, channel, interaction } => {
            if let Some(u) = state.users.get_mut(user) {
                u.interaction = Some(interaction.clone());
                state.interactions.insert(
                    interaction.clone(),
                    Interaction { user: user.clone(), channel: channel.clone(), since: at, monitoring: None },
                );
            }
        }
        Change::InteractionEnded { user, channel, interaction, wrap_up_until } => {
            state.interactions.remove(interaction);
            state.ended_interactions.record(interaction.clone(), at);
            if let Some(u) = state.users.get_mut(user) {
                if u.interaction.as_ref() == Some(interaction) {
                    u.interaction = None;
                }
                u.wrap_up = wrap_up_until.map(|until| WrapUp { channel: channel.clone(), until, since: Some(at) });
                u.work_ended = Some(wrap_up_until.map_or(at, |until| until.max(at)));
            }
        }
        Change::DeviceRegistered { user, device, kind, label } => {
            if let Some(u) = state.users.get_mut(user)
                && !state.devices.contains_key(device)
            {
                u.devices.push(device.clone());
                state.devices.insert(
                    device.clone(),
                    Device { user: user.clone(), kind: *kind, label: label.clone(), active: false },
                );
            }
        }
        // What an observer's copy learns when someone comes into or leaves their sight.
        Change::UserSeen { user, seen } => {
            forget(state, user);
            for (id, device) in seen.devices.sorted() {
                state.devices.insert(id.clone(), device.clone());
            }
            if let (Some(id), Some(interaction)) = (&seen.record.interaction, &seen.interaction) {
                state.interactions.insert(id.clone(), interaction.clone());
            }
            state.users.insert(user.clone(), seen.record.clone());
        }
        Change::UserUnseen { user } => forget(state, user),
        Change::ChannelSeen { channel, seen } => {
            state.channels.insert(channel.clone(), seen.clone());
        }
        Change::ChannelUnseen { channel } => {
            state.channels.remove(channel);
        }
        Change::DeviceActivity { user, device, active } => {
            if *active {
                for other in state.users.get(user).map(|u| u.devices.as_slice()).unwrap_or_default() {
                    if let Some(d) = state.devices.get_mut(other) {
                        d.active = false;
                    }
                }
            }
            if let Some(d) = state.devices.get_mut(device) {
                d.active = *active;
            }
        }
    }
}

fn sign_in_mut<'s>(state: &'s mut State, user: &UserId, channel: &ChannelId) -> Option<&'s mut SignIn> {
    state.users.get_mut(user)?.sign_ins.get_mut(channel)
}

/// Removes a person from a projection, with their devices and running interaction.
fn forget(state: &mut State, user: &UserId) {
    if let Some(old) = state.users.remove(user) {
        for d in &old.devices {
            state.devices.remove(d);
        }
        if let Some(i) = &old.interaction {
            state.interactions.remove(i);
        }
    }
}
