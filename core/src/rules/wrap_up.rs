//! Wrap-up after an interaction (R5). It runs until its deadline, which a command's
//! `at` reaching it ends without an event; the agent may end it early, anyone else
//! only while an admin enabled `supervisor_wrap_up_end`.

use crate::model::event::{Change, Event};
use crate::model::ids::UserId;
use crate::model::rejection::Rejection;
use crate::rules::authority;
use crate::rules::ctx::Ctx;

pub(crate) fn end_wrap_up(ctx: &Ctx, user: &UserId) -> Result<Vec<Event>, Rejection> {
    let reach = authority::over_user(ctx, user)?;
    let wrap_up = ctx.user(user)?.wrap_up_at(ctx.at);
    // Scope is the wrap-up's channel; without a wrap-up the state rejection comes next.
    if let Some(w) = wrap_up {
        reach.require(&w.channel)?;
    }
    let wrap_up = wrap_up.ok_or_else(|| Rejection::NotInWrapUp { user: user.clone() })?;
    if !ctx.is_self(user) && !ctx.state.settings().supervisor_wrap_up_end {
        return Err(Rejection::WrapUpEndNotEnabled { user: user.clone() });
    }
    Ok(vec![ctx.event(Change::WrapUpEnded { user: user.clone(), channel: wrap_up.channel.clone() })])
}
