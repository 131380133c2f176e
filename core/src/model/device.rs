//! A user's phones and clients. At most one is active (the green dot in "+ Log agent").

use serde::{Deserialize, Serialize};

use crate::model::ids::{Label, UserId};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    DeskPhone,
    Softphone,
    Mobile,
    Web,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Device {
    pub user: UserId,
    pub kind: DeviceKind,
    pub label: Label,
    pub active: bool,
}
