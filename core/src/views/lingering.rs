use serde::{Deserialize, Serialize};

use crate::model::ids::{Actor, ChannelId, Millis, Name, UserId};
use crate::model::state::State;

/// An unassigned sign-in: it persists until someone signs the user out (R4).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LingeringSignIn {
    pub user: UserId,
    pub name: Name,
    pub channel: ChannelId,
    pub channel_name: Name,
    pub since: Millis,
    pub by: Actor,
    /// Set while `unassigned_sign_in` is off: the admin restricted access, yet this
    /// sign-in lingers — the source document's "next step" is to review it.
    pub flagged: bool,
}

/// Every unassigned sign-in of the tenant, by user then channel.
pub fn lingering_unassigned(state: &State) -> Vec<LingeringSignIn> {
    let flagged = !state.settings().unassigned_sign_in;
    state
        .users()
        .flat_map(|(id, u)| {
            u.unassigned_sign_ins().filter_map(move |(c, s)| {
                Some(LingeringSignIn {
                    user: id.clone(),
                    name: u.name.clone(),
                    channel: c.clone(),
                    channel_name: state.channel(c)?.name.clone(),
                    since: s.since,
                    by: s.by.clone(),
                    flagged,
                })
            })
        })
        .collect()
}
