//! The routing system starting and ending interactions. Ending one starts the user's
//! wrap-up and ends any monitoring of it.

use crate::model::event::{Change, Event};
use crate::model::ids::{ChannelId, InteractionId, Millis, UserId};
use crate::model::rejection::{IdKind, Rejection, Unroutable};
use crate::model::state::User;
use crate::rules::authority;
use crate::rules::ctx::Ctx;

/// Why `user` cannot be routed work on `channel` at `at`, if they cannot. Wrap-up and a
/// running interaction block every channel; a pause only its own.
pub(crate) fn unroutable(user: &User, channel: &ChannelId, at: Millis) -> Option<Unroutable> {
    match user.sign_ins.get(channel) {
        None => Some(Unroutable::NotSignedIn),
        Some(s) if s.pause.is_some() => Some(Unroutable::Paused),
        Some(_) if user.interaction.is_some() => Some(Unroutable::Busy),
        Some(_) if user.wrap_up_at(at).is_some() => Some(Unroutable::InWrapUp),
        Some(_) => None,
    }
}

pub(crate) fn interaction_started(
    ctx: &Ctx,
    user: &UserId,
    channel: &ChannelId,
    interaction: &InteractionId,
) -> Result<Vec<Event>, Rejection> {
    authority::require_system(ctx)?;
    if let Some(because) = unroutable(ctx.user(user)?, channel, ctx.at) {
        return Err(Rejection::NotRoutable { user: user.clone(), channel: channel.clone(), because });
    }
    if ctx.state.interaction_id_taken(interaction, ctx.at) {
        return Err(Rejection::DuplicateId { kind: IdKind::Interaction, id: interaction.to_string() });
    }
    Ok(vec![ctx.event(Change::InteractionStarted {
        user: user.clone(),
        channel: channel.clone(),
        interaction: interaction.clone(),
    })])
}

pub(crate) fn interaction_ended(ctx: &Ctx, interaction: &InteractionId) -> Result<Vec<Event>, Rejection> {
    authority::require_system(ctx)?;
    let running = ctx
        .state
        .interaction(interaction)
        .ok_or_else(|| Rejection::UnknownInteraction { interaction: interaction.clone() })?;
    let mut events = Vec::with_capacity(2);
    if let Some(m) = &running.monitoring {
        events.push(ctx.event(Change::MonitoringStopped {
            user: running.user.clone(),
            supervisor: m.supervisor.clone(),
            interaction: interaction.clone(),
        }));
    }
    // The channel's wrap-up time at this moment decides the deadline (§4).
    let secs = ctx.state.channel(&running.channel).map_or(0, |c| c.wrap_up_secs.get());
    events.push(ctx.event(Change::InteractionEnded {
        user: running.user.clone(),
        channel: running.channel.clone(),
        interaction: interaction.clone(),
        wrap_up_until: (secs > 0).then(|| ctx.at.plus_secs(secs)),
    }));
    Ok(events)
}
