//! Who may act on whom, and where (§2, §4 Authority). Each check returns the
//! rejection of the first failing rule, in the order of §2.

use crate::model::ids::{ChannelId, UserId};
use crate::model::rejection::{Needs, Rejection};
use crate::model::roles::Role;
use crate::model::state::User;
use crate::rules::ctx::Ctx;

/// Where an actor who passed the role and plan gates may act.
#[derive(Debug)]
pub(crate) enum Reach<'s> {
    /// Self-service, an admin, or a supervisor while `supervisors_limited_to_assigned`
    /// is off.
    Everywhere,
    /// A supervisor limited to the channels they are assigned to as supervisor.
    Supervised { supervisor: &'s UserId, user: &'s User },
}

impl Reach<'_> {
    pub fn covers(&self, channel: &ChannelId) -> bool {
        match self {
            Reach::Everywhere => true,
            Reach::Supervised { user, .. } => user.is_assigned_supervisor(channel),
        }
    }

    /// Single-channel forms: the channel must be in scope.
    pub fn require(&self, channel: &ChannelId) -> Result<(), Rejection> {
        self.narrow(vec![channel.clone()], |c| c).map(drop)
    }

    /// "All channels" forms (§4): of the non-empty `targets`, keep those in scope; when
    /// none is, the command is outside the supervisor's scope.
    pub fn narrow<T>(&self, targets: Vec<T>, channel: impl Fn(&T) -> &ChannelId) -> Result<Vec<T>, Rejection> {
        let Reach::Supervised { supervisor, .. } = self else {
            return Ok(targets);
        };
        let (inside, outside): (Vec<T>, Vec<T>) = targets.into_iter().partition(|t| self.covers(channel(t)));
        if inside.is_empty() {
            let mut channels: Vec<ChannelId> = outside.iter().map(|t| channel(t).clone()).collect();
            channels.sort();
            channels.dedup();
            return Err(Rejection::OutsideSupervisorScope { supervisor: (*supervisor).clone(), channels });
        }
        Ok(inside)
    }
}

fn not_authorized(ctx: &Ctx, needs: Needs) -> Rejection {
    Rejection::NotAuthorized { actor: ctx.actor.clone(), command: ctx.command.into(), needs }
}

/// The acting user, or `not_authorized` for `"system"`.
fn acting_user<'s>(ctx: &Ctx<'s>, needs: Needs) -> Result<(&'s UserId, &'s User), Rejection> {
    match (ctx.actor.user(), ctx.actor_user) {
        (Some(id), Some(user)) => Ok((id, user)),
        _ => Err(not_authorized(ctx, needs)),
    }
}

/// An agent-status command (§4.1) on `user`: self-service needs the agent role and is
/// never plan-gated or scoped; acting on someone else needs supervisor or admin.
pub(crate) fn over_user<'s>(ctx: &Ctx<'s>, user: &UserId) -> Result<Reach<'s>, Rejection> {
    let (actor, actor_user) = acting_user(ctx, Needs::SupervisorOrAdmin)?;
    if actor == user {
        if !actor_user.roles.has(Role::Agent) {
            return Err(Rejection::NoAgentDashboard { user: user.clone() });
        }
        return Ok(Reach::Everywhere);
    }
    supervising(ctx, actor, actor_user)
}

/// A command on everyone (`sign_out_unassigned` without `user`): never self-service.
pub(crate) fn over_everyone<'s>(ctx: &Ctx<'s>) -> Result<Reach<'s>, Rejection> {
    let (actor, actor_user) = acting_user(ctx, Needs::SupervisorOrAdmin)?;
    supervising(ctx, actor, actor_user)
}

fn supervising<'s>(ctx: &Ctx<'s>, actor: &'s UserId, actor_user: &'s User) -> Result<Reach<'s>, Rejection> {
    if actor_user.roles.has(Role::Admin) {
        return Ok(Reach::Everywhere);
    }
    if !actor_user.roles.has(Role::Supervisor) {
        return Err(not_authorized(ctx, Needs::SupervisorOrAdmin));
    }
    supervisor_gates(ctx, actor, actor_user)
}

fn supervisor_gates<'s>(ctx: &Ctx<'s>, actor: &'s UserId, actor_user: &'s User) -> Result<Reach<'s>, Rejection> {
    let plan = ctx.state.plan();
    if !plan.has_supervisor_dashboard() {
        return Err(Rejection::PlanNotEligible { plan });
    }
    if !ctx.state.settings().supervisors_limited_to_assigned {
        return Ok(Reach::Everywhere);
    }
    Ok(Reach::Supervised { supervisor: actor, user: actor_user })
}

/// `monitor` / `stop_monitor` (§4): supervisor role, someone else, then plan and scope
/// unless the actor is also an admin. Gives the monitoring supervisor and their reach.
pub(crate) fn as_monitor<'s>(ctx: &Ctx<'s>, user: &UserId) -> Result<(&'s UserId, Reach<'s>), Rejection> {
    let (actor, actor_user) = acting_user(ctx, Needs::Supervisor)?;
    if !actor_user.roles.has(Role::Supervisor) {
        return Err(not_authorized(ctx, Needs::Supervisor));
    }
    if actor == user {
        return Err(Rejection::CannotMonitorSelf { user: user.clone() });
    }
    if actor_user.roles.has(Role::Admin) {
        return Ok((actor, Reach::Everywhere));
    }
    Ok((actor, supervisor_gates(ctx, actor, actor_user)?))
}

/// Configuration commands: the `admin` role, nothing else (an admin may change their
/// own roles).
pub(crate) fn require_admin(ctx: &Ctx) -> Result<(), Rejection> {
    let (_, actor_user) = acting_user(ctx, Needs::Admin)?;
    if actor_user.roles.has(Role::Admin) { Ok(()) } else { Err(not_authorized(ctx, Needs::Admin)) }
}

/// Routing, device and plan commands come only from `"system"`.
pub(crate) fn require_system(ctx: &Ctx) -> Result<(), Rejection> {
    if ctx.actor.user().is_none() { Ok(()) } else { Err(not_authorized(ctx, Needs::System)) }
}
