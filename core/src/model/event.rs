//! Events: the facts a tenant's state is folded from. Every event records who caused
//! it and when (R8).

use serde::{Deserialize, Serialize};

use crate::model::channel::{AssignAs, Channel, ChannelKind, WrapUpSecs};
use crate::model::device::Device;
use crate::model::device::DeviceKind;
use crate::model::id_map::IdMap;
use crate::model::ids::{Actor, ChannelId, DeviceId, InteractionId, Label, Millis, Name, PauseReason, UserId};
use crate::model::monitoring::MonitorMode;
use crate::model::roles::{Plan, RoleSet};
use crate::model::settings::{PauseReasons, Setting};
use crate::model::state::{Interaction, State, User};

/// One recorded change: `at` and `by` of the command that caused it, plus the change.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "typescript", tsify(type = "Change & { at: Millis; by: Actor }"))]
pub struct Event {
    pub at: Millis,
    pub by: Actor,
    #[serde(flatten)]
    pub change: Change,
}

/// What changed. Wire form: `type` in snake_case next to `at` and `by`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    PlanSet {
        plan: Plan,
    },
    SettingChanged {
        setting: Setting,
        value: bool,
    },
    PauseReasonsSet {
        reasons: PauseReasons,
    },
    UserCreated {
        user: UserId,
        name: Name,
        roles: RoleSet,
    },
    RolesSet {
        user: UserId,
        roles: RoleSet,
    },
    ChannelCreated {
        channel: ChannelId,
        kind: ChannelKind,
        name: Name,
        wrap_up_secs: WrapUpSecs,
    },
    Assigned {
        user: UserId,
        channel: ChannelId,
        r#as: AssignAs,
    },
    /// Removes both the agent and the supervisor assignment (§4).
    Unassigned {
        user: UserId,
        channel: ChannelId,
    },
    SignedIn {
        user: UserId,
        channel: ChannelId,
    },
    /// Ends the sign-in and drops its pause; a running interaction goes on.
    SignedOut {
        user: UserId,
        channel: ChannelId,
    },
    Paused {
        user: UserId,
        channel: ChannelId,
        reason: PauseReason,
    },
    Resumed {
        user: UserId,
        channel: ChannelId,
    },
    /// Wrap-up ended early by a command; expiry at the deadline records nothing.
    WrapUpEnded {
        user: UserId,
        channel: ChannelId,
    },
    MonitoringStarted {
        user: UserId,
        supervisor: UserId,
        interaction: InteractionId,
        mode: MonitorMode,
    },
    MonitoringModeChanged {
        user: UserId,
        supervisor: UserId,
        interaction: InteractionId,
        mode: MonitorMode,
    },
    MonitoringStopped {
        user: UserId,
        supervisor: UserId,
        interaction: InteractionId,
    },
    InteractionStarted {
        user: UserId,
        channel: ChannelId,
        interaction: InteractionId,
    },
    /// `wrap_up_until` is absent when the channel has no wrap-up time.
    InteractionEnded {
        user: UserId,
        channel: ChannelId,
        interaction: InteractionId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(nullable = false))]
        wrap_up_until: Option<Millis>,
    },
    DeviceRegistered {
        user: UserId,
        device: DeviceId,
        kind: DeviceKind,
        label: Label,
    },
    /// Activating a device deactivates the user's others.
    DeviceActivity {
        user: UserId,
        device: DeviceId,
        active: bool,
    },
    /// Sight (`docs/rules.md` §6), never in the log, only in what an observer is sent: a
    /// person came into the observer's sight or changed as a whole; their record, devices
    /// and running interaction replace what the observer held.
    UserSeen {
        user: UserId,
        seen: Box<SeenUser>,
    },
    /// Sight: a person left the observer's sight.
    UserUnseen {
        user: UserId,
    },
    /// Sight: a channel came into the observer's sight (or changed).
    ChannelSeen {
        channel: ChannelId,
        seen: Channel,
    },
    /// Sight: a channel left the observer's sight.
    ChannelUnseen {
        channel: ChannelId,
    },
}

impl Change {
    /// The users this change is about: its subject, and the supervisor of a monitoring.
    pub fn users(&self) -> [Option<&UserId>; 2] {
        use Change::*;
        match self {
            PlanSet { .. }
            | SettingChanged { .. }
            | PauseReasonsSet { .. }
            | ChannelCreated { .. }
            | ChannelSeen { .. }
            | ChannelUnseen { .. } => [None, None],
            UserSeen { user, .. } | UserUnseen { user } => [Some(user), None],
            UserCreated { user, .. }
            | RolesSet { user, .. }
            | Assigned { user, .. }
            | Unassigned { user, .. }
            | SignedIn { user, .. }
            | SignedOut { user, .. }
            | Paused { user, .. }
            | Resumed { user, .. }
            | WrapUpEnded { user, .. }
            | InteractionStarted { user, .. }
            | InteractionEnded { user, .. }
            | DeviceRegistered { user, .. }
            | DeviceActivity { user, .. } => [Some(user), None],
            MonitoringStarted { user, supervisor, .. }
            | MonitoringModeChanged { user, supervisor, .. }
            | MonitoringStopped { user, supervisor, .. } => [Some(user), Some(supervisor)],
        }
    }
}

/// A person as an observer may see them, whole: their record, their devices and their
/// running interaction. The payload of [`Change::UserSeen`].
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SeenUser {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::model::state::record::User))]
    pub record: User,
    #[cfg_attr(feature = "typescript", tsify(type = "Record<string, Device>"))]
    #[cfg_attr(feature = "openapi", schema(value_type = HashMap<String, Device>))]
    pub devices: IdMap<DeviceId, Device>,
    /// The interaction `record.interaction` names, while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub interaction: Option<Interaction>,
}

impl SeenUser {
    pub(crate) fn of(state: &State, user: &User) -> SeenUser {
        let mut devices = IdMap::default();
        for d in &user.devices {
            if let Some(device) = state.devices.get(d) {
                devices.insert(d.clone(), device.clone());
            }
        }
        let interaction = user.interaction.as_ref().and_then(|i| state.interactions.get(i)).cloned();
        SeenUser { record: user.clone(), devices, interaction }
    }
}
