use serde::{Deserialize, Serialize};

use crate::model::command::{Action, Command};
use crate::model::ids::{Actor, ChannelId, Millis, PauseReason, UserId};
use crate::model::monitoring::MonitorMode;
use crate::model::state::State;
use crate::rules::decide::decide;
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
/// the buttons a dashboard enables can never disagree with the server's verdict; decided
/// on the whole state, since a verdict tells its actor no more than they see (law 3 of
/// `rules::sight`).
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
