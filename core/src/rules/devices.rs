//! Devices are registered and report activity through the system; they never change a
//! decision.

use crate::model::device::DeviceKind;
use crate::model::event::{Change, Event};
use crate::model::ids::{DeviceId, Label, UserId};
use crate::model::rejection::{IdKind, Rejection};
use crate::rules::authority;
use crate::rules::ctx::Ctx;

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
