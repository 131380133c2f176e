//! Signing users into and out of channels (R1–R4). A sign-in is runtime state, never an
//! assignment; it ends only through a sign-out.

use crate::model::event::{Change, Event};
use crate::model::ids::{ChannelId, UserId};
use crate::model::rejection::Rejection;
use crate::rules::authority::{self, Reach};
use crate::rules::ctx::Ctx;

pub(crate) fn sign_in(ctx: &Ctx, user: &UserId, channel: &ChannelId) -> Result<Vec<Event>, Rejection> {
    authority::over_user(ctx, user)?.require(channel)?;
    let u = ctx.user(user)?;
    if u.sign_ins.contains_key(channel) {
        return Err(Rejection::AlreadySignedIn { user: user.clone(), channel: channel.clone() });
    }
    // R3 binds only self-service: a supervisor or admin may sign anyone in (R2).
    if ctx.is_self(user) && !ctx.state.settings().unassigned_sign_in && !u.is_assigned_agent(channel) {
        return Err(Rejection::UnassignedSignInDisabled { user: user.clone(), channel: channel.clone() });
    }
    Ok(vec![ctx.event(Change::SignedIn { user: user.clone(), channel: channel.clone() })])
}

pub(crate) fn sign_in_assigned(ctx: &Ctx, user: &UserId) -> Result<Vec<Event>, Rejection> {
    let reach = authority::over_user(ctx, user)?;
    let u = ctx.user(user)?;
    let targets: Vec<&ChannelId> =
        u.assignments.iter().filter(|(c, a)| a.agent && !u.sign_ins.contains_key(*c)).map(|(c, _)| c).collect();
    let targets = all_channels(&reach, targets, || Rejection::NothingToDo { user: Some(user.clone()) })?;
    Ok(targets.into_iter().map(|c| ctx.event(Change::SignedIn { user: user.clone(), channel: c.clone() })).collect())
}

pub(crate) fn sign_out(ctx: &Ctx, user: &UserId, channel: &ChannelId) -> Result<Vec<Event>, Rejection> {
    authority::over_user(ctx, user)?.require(channel)?;
    if !ctx.user(user)?.sign_ins.contains_key(channel) {
        return Err(Rejection::NotSignedIn { user: user.clone(), channel: Some(channel.clone()) });
    }
    Ok(vec![signed_out(ctx, user, channel)])
}

pub(crate) fn sign_out_all(ctx: &Ctx, user: &UserId) -> Result<Vec<Event>, Rejection> {
    let reach = authority::over_user(ctx, user)?;
    let targets: Vec<&ChannelId> = ctx.user(user)?.sign_ins.keys().collect();
    let targets = all_channels(&reach, targets, || Rejection::NothingToDo { user: Some(user.clone()) })?;
    Ok(targets.into_iter().map(|c| signed_out(ctx, user, c)).collect())
}

/// The source document's "next step": end sign-ins to channels the user is not (or no
/// longer) assigned to, for one user or — without `user` — for everyone.
pub(crate) fn sign_out_unassigned(ctx: &Ctx, user: Option<&UserId>) -> Result<Vec<Event>, Rejection> {
    let (reach, targets): (Reach, Vec<(&UserId, &ChannelId)>) = match user {
        Some(user) => {
            let reach = authority::over_user(ctx, user)?;
            let u = ctx.user(user)?;
            (reach, u.unassigned_sign_ins().map(|(c, _)| (user, c)).collect())
        }
        None => {
            let reach = authority::over_everyone(ctx)?;
            // Everyone the actor sees: a supervisor's refusal must not tell of sign-ins of
            // people out of their sight (law 3 of `rules::sight`).
            let targets = ctx
                .state
                .users()
                .filter(|(id, u)| ctx.sight.sees_user(id, u))
                .flat_map(|(id, u)| u.unassigned_sign_ins().map(move |(c, _)| (id, c)))
                .collect();
            (reach, targets)
        }
    };
    if targets.is_empty() {
        return Err(Rejection::NothingToDo { user: user.cloned() });
    }
    let targets = reach.narrow(targets, |(_, c)| c)?;
    Ok(targets.into_iter().map(|(u, c)| signed_out(ctx, u, c)).collect())
}

fn signed_out(ctx: &Ctx, user: &UserId, channel: &ChannelId) -> Event {
    ctx.event(Change::SignedOut { user: user.clone(), channel: channel.clone() })
}

/// The "all channels" rule of §4: nothing at all to touch gives the state code,
/// otherwise only what is in scope is touched.
pub(crate) fn all_channels<'c>(
    reach: &Reach,
    targets: Vec<&'c ChannelId>,
    nothing: impl FnOnce() -> Rejection,
) -> Result<Vec<&'c ChannelId>, Rejection> {
    if targets.is_empty() {
        return Err(nothing());
    }
    reach.narrow(targets, |c| c)
}
