//! Commands: what an actor asks for, at a time (§4). Decoding from JSON with located
//! errors lives in [`crate::wire`].

use serde::{Deserialize, Serialize};

use crate::model::channel::{AssignAs, ChannelKind, WrapUpSecs};
use crate::model::device::DeviceKind;
use crate::model::ids::{
    Actor, ChannelId, CommandId, DeviceId, InteractionId, Label, Millis, Name, PauseReason, UserId,
};
use crate::model::monitoring::MonitorMode;
use crate::model::roles::{Plan, RoleSet};
use crate::model::settings::{PauseReasons, Setting};

/// One command: who asks, when, an optional client id for retries, and what.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "typescript", tsify(type = "Action & { actor: Actor; at: Millis; id?: CommandId | null }"))]
pub struct Command {
    pub actor: Actor,
    pub at: Millis,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<CommandId>,
    #[serde(flatten)]
    pub action: Action,
}

/// Declares [`Action`] once, plus a twin used only to decode it. The wire form is
/// internally tagged (`{"type": "sign_in", ...}`), but serde buffers internally tagged
/// input and loses the path of a bad field; decoding therefore reshapes the object to
/// `{"sign_in": {...}}` and reads the externally tagged twin, whose errors name the
/// exact field (`roles[1]`).
macro_rules! actions {
    ($(
        $(#[$vmeta:meta])*
        $variant:ident = $wire:literal { $( $(#[$fmeta:meta])* $field:ident : $ty:ty ),* $(,)? }
    ),* $(,)?) => {
        /// What a command asks for. The wire form is one flat JSON object whose `type` is
        /// the variant's snake_case name; unknown fields are refused (a typo like
        /// `chanel` must never turn `pause` into "pause every channel").
        #[derive(Clone, PartialEq, Eq, Debug, Serialize)]
        #[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(tag = "type", rename_all = "snake_case")]
        pub enum Action {
            $( $(#[$vmeta])* $variant { $( $(#[$fmeta])* $field: $ty ),* } ),*
        }

        #[derive(Deserialize)]
        #[serde(rename_all = "snake_case", deny_unknown_fields)]
        pub(crate) enum ExternallyTagged {
            $( $variant { $( $(#[$fmeta])* $field: $ty ),* } ),*
        }

        impl From<ExternallyTagged> for Action {
            fn from(decoded: ExternallyTagged) -> Action {
                match decoded {
                    $( ExternallyTagged::$variant { $($field),* } => Action::$variant { $($field),* } ),*
                }
            }
        }

        impl Action {
            /// Every wire `type`, in declaration order.
            pub const TYPES: &'static [&'static str] = &[$($wire),*];

            /// The wire `type` of this action.
            pub fn type_name(&self) -> &'static str {
                match self {
                    $( Action::$variant { .. } => $wire ),*
                }
            }
        }
    };
}

actions! {
    // §4.1 agent status
    SignIn = "sign_in" { user: UserId, channel: ChannelId },
    SignInAssigned = "sign_in_assigned" { user: UserId },
    SignOut = "sign_out" { user: UserId, channel: ChannelId },
    SignOutAll = "sign_out_all" { user: UserId },
    SignOutUnassigned = "sign_out_unassigned" {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<UserId>,
    },
    Pause = "pause" {
        user: UserId,
        reason: PauseReason,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<ChannelId>,
    },
    Resume = "resume" {
        user: UserId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<ChannelId>,
    },
    EndWrapUp = "end_wrap_up" { user: UserId },
    Monitor = "monitor" { user: UserId, mode: MonitorMode },
    StopMonitor = "stop_monitor" { user: UserId },
    // §4.2 routing system
    InteractionStarted = "interaction_started" { user: UserId, channel: ChannelId, interaction: InteractionId },
    InteractionEnded = "interaction_ended" { interaction: InteractionId },
    DeviceRegistered = "device_registered" { user: UserId, device: DeviceId, kind: DeviceKind, label: Label },
    DeviceActivity = "device_activity" { device: DeviceId, active: bool },
    SetPlan = "set_plan" { plan: Plan },
    // §4.3 configuration
    CreateUser = "create_user" {
        user: UserId,
        name: Name,
        #[serde(default)]
        roles: RoleSet,
    },
    SetRoles = "set_roles" { user: UserId, roles: RoleSet },
    CreateChannel = "create_channel" {
        channel: ChannelId,
        kind: ChannelKind,
        name: Name,
        #[serde(default)]
        wrap_up_secs: WrapUpSecs,
    },
    Assign = "assign" { user: UserId, channel: ChannelId, r#as: AssignAs },
    Unassign = "unassign" { user: UserId, channel: ChannelId },
    SetSetting = "set_setting" { setting: Setting, value: bool },
    SetPauseReasons = "set_pause_reasons" { reasons: PauseReasons },
}
