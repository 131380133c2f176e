//! A tenant description (the `tenant:` of a scenario, or a new tenant at the host),
//! turned into the events that create it — so a tenant's whole life is one event log.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::model::channel::{AssignAs, ChannelKind, WrapUpSecs};
use crate::model::event::{Change, Event};
use crate::model::ids::{Actor, ChannelId, Millis, Name, UserId};
use crate::model::roles::{Plan, RoleSet};
use crate::model::settings::{PauseReasons, Setting, Settings};
use crate::model::state::State;

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TenantSeed {
    pub plan: Plan,
    #[serde(default)]
    pub settings: Settings,
    #[serde(default)]
    pub pause_reasons: PauseReasons,
    #[serde(default)]
    pub users: Vec<UserSeed>,
    #[serde(default)]
    pub channels: Vec<ChannelSeed>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UserSeed {
    pub id: UserId,
    pub name: Name,
    #[serde(default)]
    pub roles: RoleSet,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChannelSeed {
    pub id: ChannelId,
    pub kind: ChannelKind,
    pub name: Name,
    #[serde(default)]
    pub wrap_up_secs: WrapUpSecs,
    /// Users assigned as agent.
    #[serde(default)]
    pub agents: Vec<UserId>,
    /// Users assigned as supervisor.
    #[serde(default)]
    pub supervisors: Vec<UserId>,
}

/// A tenant description that cannot be a tenant; `path` points into it.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct SeedError {
    pub path: String,
    pub problem: String,
}

impl TenantSeed {
    /// The events that create this tenant, all by `"system"` at time 0.
    pub fn events(&self) -> Result<Vec<Event>, SeedError> {
        let fail = |path: String, problem: String| Err(SeedError { path, problem });
        let mut users = BTreeSet::new();
        for (i, u) in self.users.iter().enumerate() {
            if u.id.as_str() == Actor::SYSTEM {
                return fail(format!("users[{i}].id"), "\"system\" is reserved for the routing system".into());
            }
            if !users.insert(&u.id) {
                return fail(format!("users[{i}].id"), format!("user {} is listed twice", u.id));
            }
        }
        let mut channels = BTreeSet::new();
        for (i, c) in self.channels.iter().enumerate() {
            if !channels.insert(&c.id) {
                return fail(format!("channels[{i}].id"), format!("channel {} is listed twice", c.id));
            }
            for (list, members) in [("agents", &c.agents), ("supervisors", &c.supervisors)] {
                let mut seen = BTreeSet::new();
                for (j, m) in members.iter().enumerate() {
                    let path = format!("channels[{i}].{list}[{j}]");
                    if !users.contains(m) {
                        return fail(path, format!("there is no user {m}"));
                    }
                    if !seen.insert(m) {
                        return fail(path, format!("user {m} is listed twice"));
                    }
                }
            }
        }

        let event = |change| Event { at: Millis::ZERO, by: Actor::System, change };
        let mut events = vec![event(Change::PlanSet { plan: self.plan })];
        for setting in [Setting::UnassignedSignIn, Setting::SupervisorWrapUpEnd, Setting::SupervisorsLimitedToAssigned]
        {
            events.push(event(Change::SettingChanged { setting, value: self.settings.get(setting) }));
        }
        events.push(event(Change::PauseReasonsSet { reasons: self.pause_reasons.clone() }));
        for u in &self.users {
            events.push(event(Change::UserCreated { user: u.id.clone(), name: u.name.clone(), roles: u.roles }));
        }
        for c in &self.channels {
            events.push(event(Change::ChannelCreated {
                channel: c.id.clone(),
                kind: c.kind,
                name: c.name.clone(),
                wrap_up_secs: c.wrap_up_secs,
            }));
            for (role, members) in [(AssignAs::Agent, &c.agents), (AssignAs::Supervisor, &c.supervisors)] {
                for m in members {
                    events.push(event(Change::Assigned { user: m.clone(), channel: c.id.clone(), r#as: role }));
                }
            }
        }
        Ok(events)
    }

    /// The tenant's initial state.
    pub fn state(&self) -> Result<State, SeedError> {
        Ok(State::from_events(&self.events()?))
    }
}
