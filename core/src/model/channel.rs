//! Channels — queues, chats, campaigns — as an admin configures them, and a user's
//! permanent assignment to one.

use serde::{Deserialize, Serialize};

use crate::model::ids::Name;

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
        let secs =
            crate::model::ids::bounded_integer(d, u64::from(WrapUpSecs::MAX), "seconds from 0 to 86400 (one day)")?;
        Ok(WrapUpSecs(u32::try_from(secs).unwrap_or(WrapUpSecs::MAX)))
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
