//! Tenant configuration: channels, assignments, settings, pause reasons — and the
//! admin commands that change them. None of them ends a sign-in (R4).

use serde::{Deserialize, Serialize};

use crate::Event;
use crate::authority;
use crate::decide::Ctx;
use crate::event::Change;
use crate::ids::{ChannelId, Name, PauseReason, UserId};
use crate::rejection::{IdKind, Rejection};
use crate::roles::RoleSet;

/// What agents sign into.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// Inbound calls.
    Queue,
    /// A chat or inbox queue.
    Chat,
    /// Outbound calls.
    Campaign,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 3] = [ChannelKind::Queue, ChannelKind::Chat, ChannelKind::Campaign];

    /// Queues and campaigns carry calls; only calls can be monitored.
    pub fn carries_calls(self) -> bool {
        !matches!(self, ChannelKind::Chat)
    }
}

/// How a user is assigned to a channel (`assign … as`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AssignAs {
    Agent,
    Supervisor,
}

/// A user's permanent assignment to one channel; both flags may be set (§4).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Assignment {
    pub agent: bool,
    pub supervisor: bool,
}

impl Assignment {
    pub fn is(self, role: AssignAs) -> bool {
        match role {
            AssignAs::Agent => self.agent,
            AssignAs::Supervisor => self.supervisor,
        }
    }

    pub(crate) fn set(&mut self, role: AssignAs) {
        match role {
            AssignAs::Agent => self.agent = true,
            AssignAs::Supervisor => self.supervisor = true,
        }
    }
}

/// The tenant settings an admin can switch.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Setting {
    /// Users may sign themselves into channels they are not assigned to (R3).
    UnassignedSignIn,
    /// Supervisors and admins may end another user's wrap-up (R5).
    SupervisorWrapUpEnd,
    /// Supervisors act only on channels they are assigned to as supervisor (§2).
    SupervisorsLimitedToAssigned,
}

impl Setting {
    pub const ALL: [Setting; 3] =
        [Setting::UnassignedSignIn, Setting::SupervisorWrapUpEnd, Setting::SupervisorsLimitedToAssigned];
}

/// Current values of every [`Setting`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub unassigned_sign_in: bool,
    pub supervisor_wrap_up_end: bool,
    pub supervisors_limited_to_assigned: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { unassigned_sign_in: true, supervisor_wrap_up_end: false, supervisors_limited_to_assigned: true }
    }
}

impl Settings {
    pub fn get(&self, setting: Setting) -> bool {
        match setting {
            Setting::UnassignedSignIn => self.unassigned_sign_in,
            Setting::SupervisorWrapUpEnd => self.supervisor_wrap_up_end,
            Setting::SupervisorsLimitedToAssigned => self.supervisors_limited_to_assigned,
        }
    }

    pub(crate) fn set(&mut self, setting: Setting, value: bool) {
        *match setting {
            Setting::UnassignedSignIn => &mut self.unassigned_sign_in,
            Setting::SupervisorWrapUpEnd => &mut self.supervisor_wrap_up_end,
            Setting::SupervisorsLimitedToAssigned => &mut self.supervisors_limited_to_assigned,
        } = value;
    }
}

/// Seconds of wrap-up after each interaction on a channel; at most a day.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default, Serialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "typescript", tsify(type = "number"))]
#[serde(transparent)]
pub struct WrapUpSecs(u32);

impl WrapUpSecs {
    pub const MAX: u32 = 86_400;

    pub fn new(secs: u32) -> Option<WrapUpSecs> {
        (secs <= Self::MAX).then_some(WrapUpSecs(secs))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl<'de> Deserialize<'de> for WrapUpSecs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let secs = crate::ids::bounded_integer(d, u64::from(WrapUpSecs::MAX), "seconds from 0 to 86400 (one day)")?;
        Ok(WrapUpSecs(u32::try_from(secs).unwrap_or(WrapUpSecs::MAX)))
    }
}

/// The tenant's list of pause reasons; empty means any reason. Repeats are refused
/// because a picker showing "lunch" twice is a configuration mistake.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default, Serialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "typescript", tsify(type = "string[]"))]
#[serde(transparent)]
pub struct PauseReasons(Vec<PauseReason>);

impl PauseReasons {
    pub const MAX: usize = 100;

    pub fn new(reasons: Vec<PauseReason>) -> Result<PauseReasons, String> {
        if reasons.len() > Self::MAX {
            return Err(format!("at most {} pause reasons, got {}", Self::MAX, reasons.len()));
        }
        for (i, r) in reasons.iter().enumerate() {
            if reasons.iter().take(i).any(|earlier| earlier == r) {
                return Err(format!("pause reason {r:?} is listed twice (at {i})"));
            }
        }
        Ok(PauseReasons(reasons))
    }

    pub fn as_slice(&self) -> &[PauseReason] {
        &self.0
    }

    /// An empty list allows every reason (§4).
    pub fn allows(&self, reason: &PauseReason) -> bool {
        self.0.is_empty() || self.0.contains(reason)
    }
}

impl<'de> Deserialize<'de> for PauseReasons {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        PauseReasons::new(Vec::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A channel as configured by an admin.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Channel {
    pub kind: ChannelKind,
    pub name: Name,
    pub wrap_up_secs: WrapUpSecs,
}

pub(crate) fn create_user(ctx: &Ctx, user: &UserId, name: &Name, roles: RoleSet) -> Result<Vec<Event>, Rejection> {
    authority::require_admin(ctx)?;
    if user.as_str() == crate::Actor::SYSTEM || ctx.state.user(user).is_some() {
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

pub(crate) fn set_plan(ctx: &Ctx, plan: crate::Plan) -> Result<Vec<Event>, Rejection> {
    authority::require_system(ctx)?;
    Ok(vec![ctx.event(Change::PlanSet { plan })])
}
