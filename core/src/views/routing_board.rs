//! What a routing system asks before it offers work: who may take an interaction on each
//! channel now, and which interactions run. Built on the check `interaction_started` decides
//! with, so a router never offers work the rules would refuse.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::ids::{ChannelId, InteractionId, Millis, UserId};
use crate::model::state::State;
use crate::rules::routing::unroutable;

#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoutingBoard {
    /// Each channel's users who can take work there now, by id (channels with nobody too).
    #[cfg_attr(feature = "typescript", tsify(type = "Record<string, UserId[]>"))]
    pub routable: BTreeMap<ChannelId, Vec<UserId>>,
    /// Every running interaction, by id.
    pub interactions: Vec<RunningInteraction>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunningInteraction {
    pub interaction: InteractionId,
    pub user: UserId,
    pub channel: ChannelId,
    pub since: Millis,
}

/// The routing board at `at`.
pub fn routing_board(state: &State, at: Millis) -> RoutingBoard {
    let routable = state
        .channels()
        .map(|(channel, _)| {
            let free = state.users().filter(|(_, u)| unroutable(u, channel, at).is_none()).map(|(id, _)| id.clone());
            (channel.clone(), free.collect())
        })
        .collect();
    let interactions = state
        .interactions()
        .map(|(id, i)| RunningInteraction {
            interaction: id.clone(),
            user: i.user.clone(),
            channel: i.channel.clone(),
            since: i.since,
        })
        .collect();
    RoutingBoard { routable, interactions }
}
