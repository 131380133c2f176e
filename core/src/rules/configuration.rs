//! The admin commands that configure a tenant: users, roles, channels, assignments,
//! settings, pause reasons, the plan. None of them ends a sign-in (R4).

use crate::model::channel::{AssignAs, Assignment, Channel};
use crate::model::event::{Change, Event};
use crate::model::ids::{Actor, ChannelId, Name, UserId};
use crate::model::rejection::{IdKind, Rejection};
use crate::model::roles::{Plan, RoleSet};
use crate::model::settings::{PauseReasons, Setting};
use crate::rules::authority;
use crate::rules::ctx::Ctx;

pub(crate) fn create_user(ctx: &Ctx, user: &UserId, name: &Name, roles: RoleSet) -> Result<Vec<Event>, Rejection> {
    authority::require_admin(ctx)?;
    if user.as_str() == Actor::SYSTEM || ctx.state.user(user).is_some() {
        return Err(Rejection::DuplicateId { kind: IdKind::User, id: user.to_string() });
    }
    Ok(vec![ctx.event(Change::UserCreated { user: user.clone(), name: name.clone(), roles })])
}

pub(crate) fn set_roles(ctx: &Ctx, user: &UserId, roles: RoleSet) -> Result<Vec<Event>, Rejection> {
    authority::require_admin(ctx)?;
    Ok(vec![ctx.event(Change::RolesSet { user: user.clone(), roles })])
}

pub(crate) fn create_channel(ctx: &Ctx, channel: &ChannelId, spec: &Channel) -> Result<Vec<Event>, Rejection> {
    authority::require_admin(ctx)?;
    if ctx.state.channel(channel).is_some() {
        return Err(Rejection::DuplicateId { kind: IdKind::Channel, id: channel.to_string() });
    }
    Ok(vec![ctx.event(Change::ChannelCreated {
        channel: channel.clone(),
        kind: spec.kind,
        name: spec.name.clone(),
        wrap_up_secs: spec.wrap_up_secs,
    })])
}

pub(crate) fn assign(ctx: &Ctx, user: &UserId, channel: &ChannelId, role: AssignAs) -> Result<Vec<Event>, Rejection> {
    authority::require_admin(ctx)?;
    if ctx.state.assignment(user, channel).is(role) {
        return Err(Rejection::AlreadyAssigned { user: user.clone(), channel: channel.clone(), r#as: role });
    }
    Ok(vec![ctx.event(Change::Assigned { user: user.clone(), channel: channel.clone(), r#as: role })])
}

pub(crate) fn unassign(ctx: &Ctx, user: &UserId, channel: &ChannelId) -> Result<Vec<Event>, Rejection> {
    authority::require_admin(ctx)?;
    if ctx.state.assignment(user, channel) == Assignment::default() {
        return Err(Rejection::NotAssigned { user: user.clone(), channel: channel.clone() });
    }
    Ok(vec![ctx.event(Change::Unassigned { user: user.clone(), channel: channel.clone() })])
}

pub(crate) fn set_setting(ctx: &Ctx, setting: Setting, value: bool) -> Result<Vec<Event>, Rejection> {
    authority::require_admin(ctx)?;
    Ok(vec![ctx.event(Change::SettingChanged { setting, value })])
}

pub(crate) fn set_pause_reasons(ctx: &Ctx, reasons: &PauseReasons) -> Result<Vec<Event>, Rejection> {
    authority::require_admin(ctx)?;
    Ok(vec![ctx.event(Change::PauseReasonsSet { reasons: reasons.clone() })])
}

pub(crate) fn set_plan(ctx: &Ctx, plan: Plan) -> Result<Vec<Event>, Rejection> {
    authority::require_system(ctx)?;
    Ok(vec![ctx.event(Change::PlanSet { plan })])
}
