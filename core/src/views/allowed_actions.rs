use serde::{Deserialize, Serialize};

use crate::command::{Action, Command};
use crate::decide::decide;
use crate::ids::{Actor, ChannelId, Millis, PauseReason, UserId};
use crate::monitoring::MonitorMode;
use crate::state::State;
use crate::wire::RejectionReport;

/// Whether one action would be accepted, and if not, exactly why.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Verdict {
    pub allowed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub rejection: Option<RejectionReport>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ByMode {
    pub listen: Verdict,
    pub whisper: Verdict,
    pub barge: Verdict,
}

/// The Actions menu of one agent for one supervisor: each §4.1 action with the verdict
/// `decide` gives at `at`. Channel-bound actions (`sign_in`, `sign_out`) are judged
/// only when a channel is given; `pause` and `resume` then act on that channel, else on
/// every channel.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AllowedActions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub sign_in: Option<Verdict>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub sign_out: Option<Verdict>,
    pub sign_in_assigned: Verdict,
    pub sign_out_all: Verdict,
    pub sign_out_unassigned: Verdict,
    /// Judged with the first of the tenant's pause reasons (any reason when none are
    /// configured): the reason is picked from that list in the dashboard.
    pub pause: Verdict,
    pub resume: Verdict,
    pub end_wrap_up: Verdict,
    pub monitor: ByMode,
    pub stop_monitor: Verdict,
}

/// What `actor` may do to `user` (on `channel`) at `at`. Built on [`decide`] itself, so
/// the buttons a dashboard enables can never disagree with the server's verdict.
pub fn allowed_actions(
    state: &State,
    actor: &Actor,
    user: &UserId,
    channel: Option<&ChannelId>,
    at: Millis,
) -> AllowedActions {
    let judge = |action: Action| {
        let command = Command { actor: actor.clone(), at, id: None, action };
        match decide(state, &command) {
            Ok(_) => Verdict { allowed: true, rejection: None },
            Err(r) => Verdict { allowed: false, rejection: Some(r.into()) },
        }
    };
    let user = || user.clone();
    let channel_owned = channel.cloned();
    let reason = state.pause_reasons().as_slice().first().cloned().unwrap_or_else(|| PauseReason::from_static("break"));
    let monitor = |mode| judge(Action::Monitor { user: user(), mode });
    AllowedActions {
        sign_in: channel.map(|c| judge(Action::SignIn { user: user(), channel: c.clone() })),
        sign_out: channel.map(|c| judge(Action::SignOut { user: user(), channel: c.clone() })),
        sign_in_assigned: judge(Action::SignInAssigned { user: user() }),
        sign_out_all: judge(Action::SignOutAll { user: user() }),
        sign_out_unassigned: judge(Action::SignOutUnassigned { user: Some(user()) }),
        pause: judge(Action::Pause { user: user(), reason, channel: channel_owned.clone() }),
        resume: judge(Action::Resume { user: user(), channel: channel_owned }),
        end_wrap_up: judge(Action::EndWrapUp { user: user() }),
        monitor: ByMode {
            listen: monitor(MonitorMode::Listen),
            whisper: monitor(MonitorMode::Whisper),
            barge: monitor(MonitorMode::Barge),
        },
        stop_monitor: judge(Action::StopMonitor { user: user() }),
    }
}

/// The verdicts as `actor` may see them: decided on what they see of the tenant (law 2 of
/// `crate::sight`: for a person and channel in sight, the same as on the whole state). A
/// person outside their sight whom "+ Log agent" finds is judged on their card alone (name,
/// roles, devices: never signed in anywhere the actor cannot see); anyone else, and a
/// channel outside sight, is judged as one that does not exist.
pub fn allowed_actions_seen(
    state: &State,
    actor: &Actor,
    user: &UserId,
    channel: Option<&ChannelId>,
    at: Millis,
) -> AllowedActions {
    let sight = crate::Sight::of(state, actor);
    if sight.sees_everything() {
        return allowed_actions(state, actor, user, channel, at);
    }
    let mut seen = crate::sight::configuration(state);
    for (id, c) in state.channels.sorted_where(|id, _| sight.sees_channel(id)) {
        seen.channels.insert(id.clone(), c.clone());
    }
    let mut admit = |id: &UserId, record: crate::User| crate::sight::admit(&mut seen, state, id, record);
    if let Some((me, record)) = actor.user().and_then(|me| state.users.get_key_value(me)) {
        admit(me, record.clone());
    }
    if let Some((id, record)) = state.users.get_key_value(user) {
        if sight.sees_user(id, record) {
            admit(id, record.clone());
        } else if sight.finds(id) {
            let card = crate::User {
                name: record.name.clone(),
                roles: record.roles,
                assignments: Default::default(),
                sign_ins: Default::default(),
                interaction: None,
                wrap_up: None,
                devices: record.devices.clone(),
                work_ended: None,
                signed_out: Default::default(),
            };
            admit(id, card);
        }
    }
    allowed_actions(&seen, actor, user, channel, at)
}
