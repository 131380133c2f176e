//! A supervisor listening to, whispering to or barging into an agent's live call.

use crate::model::event::{Change, Event};
use crate::model::ids::UserId;
use crate::model::monitoring::MonitorMode;
use crate::model::rejection::Rejection;
use crate::rules::authority;
use crate::rules::ctx::Ctx;

pub(crate) fn monitor(ctx: &Ctx, user: &UserId, mode: MonitorMode) -> Result<Vec<Event>, Rejection> {
    let (supervisor, reach) = authority::as_monitor(ctx, user)?;
    let interaction = ctx.state.interaction_of(ctx.user(user)?);
    // Scope is the interaction's channel, also for a chat (§4).
    if let Some((_, i)) = interaction {
        reach.require(&i.channel)?;
    }
    let not_on_call = || Rejection::NotOnCall { user: user.clone() };
    let (id, running) = interaction.ok_or_else(not_on_call)?;
    let is_call = ctx.state.channel(&running.channel).is_some_and(|c| c.kind.carries_calls());
    if !is_call {
        return Err(not_on_call());
    }
    let supervisor = supervisor.clone();
    let change = match &running.monitoring {
        Some(m) if m.supervisor != supervisor || m.mode == mode => {
            return Err(Rejection::AlreadyMonitored {
                user: user.clone(),
                supervisor: m.supervisor.clone(),
                mode: m.mode,
            });
        }
        Some(_) => Change::MonitoringModeChanged { user: user.clone(), supervisor, interaction: id.clone(), mode },
        None => Change::MonitoringStarted { user: user.clone(), supervisor, interaction: id.clone(), mode },
    };
    Ok(vec![ctx.event(change)])
}

pub(crate) fn stop_monitor(ctx: &Ctx, user: &UserId) -> Result<Vec<Event>, Rejection> {
    let (supervisor, reach) = authority::as_monitor(ctx, user)?;
    let interaction = ctx.state.interaction_of(ctx.user(user)?);
    if let Some((_, i)) = interaction {
        reach.require(&i.channel)?;
    }
    let not_monitored = || Rejection::NotMonitored { user: user.clone() };
    let (id, running) = interaction.ok_or_else(not_monitored)?;
    match &running.monitoring {
        Some(m) if &m.supervisor == supervisor => Ok(vec![ctx.event(Change::MonitoringStopped {
            user: user.clone(),
            supervisor: m.supervisor.clone(),
            interaction: id.clone(),
        })]),
        _ => Err(not_monitored()),
    }
}
