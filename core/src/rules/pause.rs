//! Breaks: pausing a sign-in with a reason and resuming it ("Ready"). A pause blocks
//! routing only on its channel and ends with its sign-in.

use crate::model::event::{Change, Event};
use crate::model::ids::{ChannelId, PauseReason, UserId};
use crate::model::rejection::Rejection;
use crate::rules::authority;
use crate::rules::ctx::Ctx;
use crate::rules::sign_in::all_channels;

pub(crate) fn pause(
    ctx: &Ctx,
    user: &UserId,
    reason: &PauseReason,
    channel: Option<&ChannelId>,
) -> Result<Vec<Event>, Rejection> {
    let reach = authority::over_user(ctx, user)?;
    let u = ctx.user(user)?;
    let targets = match channel {
        Some(channel) => {
            reach.require(channel)?;
            let sign_in = u
                .sign_ins
                .get(channel)
                .ok_or_else(|| Rejection::NotSignedIn { user: user.clone(), channel: Some(channel.clone()) })?;
            if sign_in.pause.is_some() {
                return Err(Rejection::AlreadyPaused { user: user.clone(), channel: Some(channel.clone()) });
            }
            vec![channel]
        }
        None => {
            if u.sign_ins.is_empty() {
                return Err(Rejection::NotSignedIn { user: user.clone(), channel: None });
            }
            let unpaused = u.sign_ins.iter().filter(|(_, s)| s.pause.is_none()).map(|(c, _)| c).collect();
            all_channels(&reach, unpaused, || Rejection::AlreadyPaused { user: user.clone(), channel: None })?
        }
    };
    if !ctx.state.pause_reasons().allows(reason) {
        return Err(Rejection::UnknownPauseReason { reason: reason.clone() });
    }
    Ok(targets
        .into_iter()
        .map(|c| ctx.event(Change::Paused { user: user.clone(), channel: c.clone(), reason: reason.clone() }))
        .collect())
}

pub(crate) fn resume(ctx: &Ctx, user: &UserId, channel: Option<&ChannelId>) -> Result<Vec<Event>, Rejection> {
    let reach = authority::over_user(ctx, user)?;
    let u = ctx.user(user)?;
    let targets = match channel {
        Some(channel) => {
            reach.require(channel)?;
            if u.sign_ins.get(channel).is_none_or(|s| s.pause.is_none()) {
                return Err(Rejection::NotPaused { user: user.clone(), channel: Some(channel.clone()) });
            }
            vec![channel]
        }
        None => {
            let paused = u.sign_ins.iter().filter(|(_, s)| s.pause.is_some()).map(|(c, _)| c).collect();
            all_channels(&reach, paused, || Rejection::NotPaused { user: user.clone(), channel: None })?
        }
    };
    Ok(targets.into_iter().map(|c| ctx.event(Change::Resumed { user: user.clone(), channel: c.clone() })).collect())
}
