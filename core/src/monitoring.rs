//! A supervisor listening to, whispering to or barging into an agent's live call.

use serde::{Deserialize, Serialize};

use crate::authority;
use crate::decide::Ctx;
use crate::event::{Change, Event};
use crate::ids::UserId;
use crate::rejection::Rejection;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MonitorMode {
    /// Hear both sides; nobody hears the supervisor.
    Listen,
    /// Talk to the agent only.
    Whisper,
    /// Join the call for everyone.
    Barge,
}

impl MonitorMode {
    pub const ALL: [MonitorMode; 3] = [MonitorMode::Listen, MonitorMode::Whisper, MonitorMode::Barge];

    pub fn as_str(self) -> &'static str {
        match self {
            MonitorMode::Listen => "listen",
            MonitorMode::Whisper => "whisper",
            MonitorMode::Barge => "barge",
        }
    }

    /// The German name, as the product's German dashboard says it.
    pub fn de(self) -> &'static str {
        match self {
            MonitorMode::Listen => "Mithören",
            MonitorMode::Whisper => "Flüstern",
            MonitorMode::Barge => "Aufschalten",
        }
    }
}

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
