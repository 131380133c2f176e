//! `decide`: a command against the state gives events or one rejection. The steps of
//! §4.4 run in order here — clock, actor, referenced ids — and each domain module then
//! checks authority, state preconditions and tenant policy, in that order.
//!
//! A verdict tells its actor no more than they see (law 3 of `rules::sight`). For an actor
//! who does not see everything, two steps come first or instead:
//! * what depends only on who they are and what they ask (their role, the plan, whether
//!   they name someone else) is checked before the ids they name, so an id's existence
//!   never shows through a refusal;
//! * a supervisor's command on a person out of their sight is decided on that person's
//!   card ([`out_of_sight`]).

use crate::model::channel::Channel;
use crate::model::command::{Action, Command};
use crate::model::event::Event;
use crate::model::evolve::evolve;
use crate::model::ids::{Actor, ChannelId, DeviceId, InteractionId, UserId};
use crate::model::rejection::Rejection;
use crate::model::state::{State, User};
use crate::rules::ctx::Ctx;
use crate::rules::sight::Sight;
use crate::rules::{authority, configuration, devices, monitoring, pause, routing, sign_in, wrap_up};

/// Decides `command` against `state`: the events it causes, or why it is refused.
/// Never changes anything; apply the events with [`evolve`].
pub fn decide(state: &State, command: &Command) -> Result<Vec<Event>, Rejection> {
    if let Some(last) = state.clock
        && command.at < last
    {
        return Err(Rejection::ClockWentBackwards { at: command.at, last });
    }
    let actor_user = match &command.actor {
        Actor::System => None,
        Actor::User(u) => Some(state.user(u).ok_or_else(|| Rejection::UnknownActor { actor: command.actor.clone() })?),
    };
    let sight = Sight::of(state, &command.actor);
    let mut ctx = Ctx {
        state,
        actor: &command.actor,
        actor_user,
        sight,
        subject: None,
        at: command.at,
        command: command.action.type_name(),
    };
    if !sight.sees_everything() {
        who_they_are(&ctx, &command.action)?;
    }
    ctx.subject = check_references(state, &command.action)?;
    if let Some((id, user)) = ctx.subject
        && !sight.sees_user(id, user)
    {
        out_of_sight(&ctx, &command.action)?;
    }
    match &command.action {
        Action::SignIn { user, channel } => sign_in::sign_in(&ctx, user, channel),
        Action::SignInAssigned { user } => sign_in::sign_in_assigned(&ctx, user),
        Action::SignOut { user, channel } => sign_in::sign_out(&ctx, user, channel),
        Action::SignOutAll { user } => sign_in::sign_out_all(&ctx, user),
        Action::SignOutUnassigned { user } => sign_in::sign_out_unassigned(&ctx, user.as_ref()),
        Action::Pause { user, reason, channel } => pause::pause(&ctx, user, reason, channel.as_ref()),
        Action::Resume { user, channel } => pause::resume(&ctx, user, channel.as_ref()),
        Action::EndWrapUp { user } => wrap_up::end_wrap_up(&ctx, user),
        Action::Monitor { user, mode } => monitoring::monitor(&ctx, user, *mode),
        Action::StopMonitor { user } => monitoring::stop_monitor(&ctx, user),
        Action::InteractionStarted { user, channel, interaction } => {
            routing::interaction_started(&ctx, user, channel, interaction)
        }
        Action::InteractionEnded { interaction } => routing::interaction_ended(&ctx, interaction),
        Action::DeviceRegistered { user, device, kind, label } => {
            devices::device_registered(&ctx, user, device, *kind, label)
        }
        Action::DeviceActivity { device, active } => devices::device_activity(&ctx, device, *active),
        Action::SetPlan { plan } => configuration::set_plan(&ctx, *plan),
        Action::CreateUser { user, name, roles } => configuration::create_user(&ctx, user, name, *roles),
        Action::SetRoles { user, roles } => configuration::set_roles(&ctx, user, *roles),
        Action::CreateChannel { channel, kind, name, wrap_up_secs } => configuration::create_channel(
            &ctx,
            channel,
            &Channel { kind: *kind, name: name.clone(), wrap_up_secs: *wrap_up_secs },
        ),
        Action::Assign { user, channel, r#as } => configuration::assign(&ctx, user, channel, *r#as),
        Action::Unassign { user, channel } => configuration::unassign(&ctx, user, channel),
        Action::SetSetting { setting, value } => configuration::set_setting(&ctx, *setting, *value),
        Action::SetPauseReasons { reasons } => configuration::set_pause_reasons(&ctx, reasons),
    }
}

/// The refusals that depend only on who the actor is and what they ask, for an actor who
/// does not see everything: given before any unknown id (`docs/rules.md` §4.4 step 2),
/// so that naming a colleague and naming nobody are refused alike. The same checks run
/// again in their place below and then pass.
fn who_they_are(ctx: &Ctx, action: &Action) -> Result<(), Rejection> {
    use Action::*;
    match action {
        SetPlan { .. }
        | InteractionStarted { .. }
        | InteractionEnded { .. }
        | DeviceRegistered { .. }
        | DeviceActivity { .. } => authority::require_system(ctx),
        CreateUser { .. }
        | SetRoles { .. }
        | CreateChannel { .. }
        | Assign { .. }
        | Unassign { .. }
        | SetSetting { .. }
        | SetPauseReasons { .. } => authority::require_admin(ctx),
        Monitor { user, .. } | StopMonitor { user } => authority::as_monitor(ctx, user).map(drop),
        SignOutUnassigned { user: None } => authority::over_everyone(ctx).map(drop),
        SignIn { user, .. }
        | SignInAssigned { user }
        | SignOut { user, .. }
        | SignOutAll { user }
        | SignOutUnassigned { user: Some(user) }
        | Pause { user, .. }
        | Resume { user, .. }
        | EndWrapUp { user } => {
            // Self-service is checked in its place: the actor knows themself.
            if ctx.is_self(user) { Ok(()) } else { authority::over_user(ctx, user).map(drop) }
        }
    }
}

/// A supervisor's command on a person out of their sight (someone "+ Log agent" finds, by
/// card: name, roles, devices), decided on what they know of that person: signing them in
/// on a channel in reach follows the rules as usual (R2); every other command is outside
/// the supervisor's scope, naming no channel — whatever the person is doing elsewhere.
/// Only supervisors reach this: an admin and `system` see everyone, and anyone else was
/// refused by [`who_they_are`] for naming someone else (themself they always see).
fn out_of_sight(ctx: &Ctx, action: &Action) -> Result<(), Rejection> {
    let Sight::Supervisor { me, .. } = ctx.sight else {
        return Ok(());
    };
    if let Action::SignIn { channel, .. } = action
        && ctx.sight.reaches(channel)
    {
        return Ok(());
    }
    Err(Rejection::OutsideSupervisorScope { supervisor: me.clone(), channels: Vec::new() })
}

/// Decides `command` and, when accepted, applies its events to `state`.
pub fn handle(state: &mut State, command: &Command) -> Result<Vec<Event>, Rejection> {
    let events = decide(state, command)?;
    for e in &events {
        evolve(state, e);
    }
    Ok(events)
}

/// Step 2 of §4.4: ids a command refers to must exist, checked users first, then
/// channels, devices, interactions. Ids a command creates are not references. Returns
/// the user the command is about, if it names one.
fn check_references<'a>(state: &'a State, action: &'a Action) -> Result<Option<(&'a UserId, &'a User)>, Rejection> {
    let (user, channel, device, interaction) = references(action);
    let subject = match user {
        None => None,
        Some(id) => Some((id, state.user(id).ok_or_else(|| Rejection::UnknownUser { user: id.clone() })?)),
    };
    if let Some(channel) = channel.filter(|c| state.channel(c).is_none()) {
        return Err(Rejection::UnknownChannel { channel: channel.clone() });
    }
    if let Some(device) = device.filter(|d| state.device(d).is_none()) {
        return Err(Rejection::UnknownDevice { device: device.clone() });
    }
    if let Some(interaction) = interaction.filter(|i| state.interaction(i).is_none()) {
        return Err(Rejection::UnknownInteraction { interaction: interaction.clone() });
    }
    Ok(subject)
}

type References<'a> = (Option<&'a UserId>, Option<&'a ChannelId>, Option<&'a DeviceId>, Option<&'a InteractionId>);

fn references(action: &Action) -> References<'_> {
    use Action::*;
    match action {
        SignIn { user, channel }
        | SignOut { user, channel }
        | InteractionStarted { user, channel, .. }
        | Assign { user, channel, .. }
        | Unassign { user, channel } => (Some(user), Some(channel), None, None),
        Pause { user, channel, .. } | Resume { user, channel } => (Some(user), channel.as_ref(), None, None),
        SignInAssigned { user }
        | SignOutAll { user }
        | EndWrapUp { user }
        | Monitor { user, .. }
        | StopMonitor { user }
        | DeviceRegistered { user, .. }
        | SetRoles { user, .. } => (Some(user), None, None, None),
        SignOutUnassigned { user } => (user.as_ref(), None, None, None),
        InteractionEnded { interaction } => (None, None, None, Some(interaction)),
        DeviceActivity { device, .. } => (None, None, Some(device), None),
        SetPlan { .. } | CreateUser { .. } | CreateChannel { .. } | SetSetting { .. } | SetPauseReasons { .. } => {
            (None, None, None, None)
        }
    }
}
