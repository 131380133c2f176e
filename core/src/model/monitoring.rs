//! How a supervisor joins an agent's live call.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MonitorMode {
    /// Hear both sides; nobody hears the supervisor.
    Listen,
    /// Talk to the agent only.
    Whisper,
    /// Join the call for everyone.
    Barge,
}

impl MonitorMode {
    pub const ALL: [MonitorMode; 3] = [MonitorMode::Listen, MonitorMode::Whisper, MonitorMode::Barge];

    pub fn as_str(self) -> &'static str {
        match self {
            MonitorMode::Listen => "listen",
            MonitorMode::Whisper => "whisper",
            MonitorMode::Barge => "barge",
        }
    }

    /// The German name, as the product's German dashboard says it.
    pub fn de(self) -> &'static str {
        match self {
            MonitorMode::Listen => "Mithören",
            MonitorMode::Whisper => "Flüstern",
            MonitorMode::Barge => "Aufschalten",
        }
    }
}
