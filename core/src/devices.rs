//! A user's phones and clients. At most one is active (the green dot in "+ Log agent");
//! devices never change a decision.

use serde::{Deserialize, Serialize};

use crate::authority;
use crate::decide::Ctx;
use crate::event::{Change, Event};
use crate::ids::{DeviceId, Label, UserId};
use crate::rejection::{IdKind, Rejection};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    DeskPhone,
    Softphone,
    Mobile,
    Web,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Device {
    pub user: UserId,
    pub kind: DeviceKind,
    pub label: Label,
    pub active: bool,
}

pub(crate) fn device_registered(
    ctx: &Ctx,
    user: &UserId,
    device: &DeviceId,
    kind: DeviceKind,
    label: &Label,
) -> Result<Vec<Event>, Rejection> {
    authority::require_system(ctx)?;
    if ctx.state.device(device).is_some() {
        return Err(Rejection::DuplicateId { kind: IdKind::Device, id: device.to_string() });
    }
    Ok(vec![ctx.event(Change::DeviceRegistered {
        user: user.clone(),
        device: device.clone(),
        kind,
        label: label.clone(),
    })])
}

pub(crate) fn device_activity(ctx: &Ctx, device: &DeviceId, active: bool) -> Result<Vec<Event>, Rejection> {
    authority::require_system(ctx)?;
    let d = ctx.state.device(device).ok_or_else(|| Rejection::UnknownDevice { device: device.clone() })?;
    Ok(vec![ctx.event(Change::DeviceActivity { user: d.user.clone(), device: device.clone(), active })])
}
