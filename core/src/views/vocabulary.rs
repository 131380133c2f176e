//! The words a dashboard lists — every role, plan, channel kind, monitor mode, setting and agent
//! state — so that no client keeps a copy of them that could drift from the rules.

use serde::{Deserialize, Serialize};

use crate::model::channel::ChannelKind;
use crate::model::monitoring::MonitorMode;
use crate::model::roles::{Plan, Role};
use crate::model::settings::{Setting, Settings};
use crate::views::AgentState;

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Vocabulary {
    pub roles: Vec<Role>,
    pub plans: Vec<Plan>,
    pub channel_kinds: Vec<ChannelKind>,
    /// The kinds whose interactions are calls, which may be monitored.
    pub call_kinds: Vec<ChannelKind>,
    pub monitor_modes: Vec<MonitorMode>,
    /// Every setting with the value a new tenant starts with.
    pub settings: Vec<(Setting, bool)>,
    /// In the order dashboards count them.
    pub agent_states: Vec<AgentState>,
}

pub fn vocabulary() -> Vocabulary {
    let defaults = Settings::default();
    Vocabulary {
        roles: Role::ALL.to_vec(),
        plans: Plan::ALL.to_vec(),
        channel_kinds: ChannelKind::ALL.to_vec(),
        call_kinds: ChannelKind::ALL.into_iter().filter(|k| k.carries_calls()).collect(),
        monitor_modes: MonitorMode::ALL.to_vec(),
        settings: Setting::ALL.into_iter().map(|s| (s, defaults.get(s))).collect(),
        agent_states: AgentState::ALL.to_vec(),
    }
}
