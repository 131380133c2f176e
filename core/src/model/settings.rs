//! The tenant's policy: the settings an admin switches and the list of pause reasons.

use serde::{Deserialize, Serialize};

use crate::model::ids::PauseReason;

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
