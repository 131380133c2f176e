//! Why a command was refused: one enum, stable snake_case codes (§4.4), the offending
//! ids, and a message in English (`Display`) and German ([`Rejection::message`]).

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::AssignAs;
use crate::ids::{Actor, ChannelId, DeviceId, InteractionId, Millis, PauseReason, UserId};
use crate::monitoring::MonitorMode;
use crate::roles::Plan;

/// A refused command. Serialises as `{"code": "...", <ids>}`.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Rejection {
    #[error("not a valid command: {location}: {problem}")]
    InvalidCommand { location: String, problem: String },
    #[error("the command's time {at} is earlier than the last accepted time {last}")]
    ClockWentBackwards { at: Millis, last: Millis },

    #[error("{actor} is neither \"system\" nor a known user")]
    UnknownActor { actor: Actor },
    #[error("there is no user {user}")]
    UnknownUser { user: UserId },
    #[error("there is no channel {channel}")]
    UnknownChannel { channel: ChannelId },
    #[error("there is no device {device}")]
    UnknownDevice { device: DeviceId },
    #[error("there is no running interaction {interaction}")]
    UnknownInteraction { interaction: InteractionId },

    #[error("{actor} may not {command}: that needs {}", needs.en())]
    NotAuthorized {
        actor: Actor,
        #[cfg_attr(feature = "typescript", tsify(type = "string"))]
        command: Cow<'static, str>,
        needs: Needs,
    },
    #[error("{user} has no agent role, so no Agent dashboard to act from")]
    NoAgentDashboard { user: UserId },
    #[error("managing other agents needs the Complete or Support Center plan, not {}", plan.as_str())]
    PlanNotEligible { plan: Plan },
    #[error("{supervisor} does not supervise {}", list(channels))]
    OutsideSupervisorScope { supervisor: UserId, channels: Vec<ChannelId> },
    #[error("{user} cannot monitor themself")]
    CannotMonitorSelf { user: UserId },

    #[error("{user} is already signed into {channel}")]
    AlreadySignedIn { user: UserId, channel: ChannelId },
    #[error("{user} is not signed into {}", any(channel))]
    NotSignedIn {
        user: UserId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<ChannelId>,
    },
    #[error("{user} is already paused on {}", every(channel))]
    AlreadyPaused {
        user: UserId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<ChannelId>,
    },
    #[error("{user} is not paused on {}", any(channel))]
    NotPaused {
        user: UserId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<ChannelId>,
    },
    #[error("{user} is not in wrap-up")]
    NotInWrapUp { user: UserId },
    #[error("{user} is not on a call")]
    NotOnCall { user: UserId },
    #[error("{user}'s call is already monitored by {supervisor} ({})", mode.as_str())]
    AlreadyMonitored { user: UserId, supervisor: UserId, mode: MonitorMode },
    #[error("{user}'s call is not monitored by you")]
    NotMonitored { user: UserId },
    #[error("{user} cannot take work on {channel}: {}", because.en())]
    NotRoutable { user: UserId, channel: ChannelId, because: Unroutable },
    #[error("the {} id {id} is already taken", kind.en())]
    DuplicateId { kind: IdKind, id: String },
    #[error("{user} is already assigned to {channel} as {}", as_str(*r#as))]
    AlreadyAssigned { user: UserId, channel: ChannelId, r#as: AssignAs },
    #[error("{user} is not assigned to {channel}")]
    NotAssigned { user: UserId, channel: ChannelId },
    #[error("there is nothing to do{}", for_user(user))]
    NothingToDo {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<UserId>,
    },

    #[error("{user} is not assigned to {channel} and self sign-in to unassigned channels is turned off")]
    UnassignedSignInDisabled { user: UserId, channel: ChannelId },
    #[error("ending another user's wrap-up ({user}) is not enabled by an admin")]
    WrapUpEndNotEnabled { user: UserId },
    #[error("{reason} is not one of the tenant's pause reasons")]
    UnknownPauseReason { reason: PauseReason },
}

/// Why a user cannot be routed an interaction (`not_routable`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum Unroutable {
    NotSignedIn,
    Paused,
    Busy,
    InWrapUp,
}

impl Unroutable {
    fn en(self) -> &'static str {
        match self {
            Unroutable::NotSignedIn => "not signed in",
            Unroutable::Paused => "paused",
            Unroutable::Busy => "already in an interaction",
            Unroutable::InWrapUp => "in wrap-up",
        }
    }

    fn de(self) -> &'static str {
        match self {
            Unroutable::NotSignedIn => "nicht angemeldet",
            Unroutable::Paused => "in Pause",
            Unroutable::Busy => "bereits in einem Gespräch",
            Unroutable::InWrapUp => "in der Nachbearbeitung",
        }
    }
}

/// What a `not_authorized` actor lacks.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum Needs {
    /// Acting on another user's status.
    SupervisorOrAdmin,
    /// Monitoring.
    Supervisor,
    /// Configuration.
    Admin,
    /// Routing, devices and the plan.
    System,
}

impl Needs {
    fn en(self) -> &'static str {
        match self {
            Needs::SupervisorOrAdmin => "the supervisor or admin role",
            Needs::Supervisor => "the supervisor role",
            Needs::Admin => "the admin role",
            Needs::System => "the routing system",
        }
    }

    fn de(self) -> &'static str {
        match self {
            Needs::SupervisorOrAdmin => "die Rolle Supervisor oder Admin",
            Needs::Supervisor => "die Rolle Supervisor",
            Needs::Admin => "die Rolle Admin",
            Needs::System => "das Routing-System",
        }
    }
}

/// What kind of id a `duplicate_id` is about.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum IdKind {
    User,
    Channel,
    Device,
    Interaction,
}

impl IdKind {
    fn en(self) -> &'static str {
        match self {
            IdKind::User => "user",
            IdKind::Channel => "channel",
            IdKind::Device => "device",
            IdKind::Interaction => "interaction",
        }
    }

    fn de(self) -> &'static str {
        match self {
            IdKind::User => "Benutzer",
            IdKind::Channel => "Kanal",
            IdKind::Device => "Gerät",
            IdKind::Interaction => "Interaktions",
        }
    }
}

fn list(channels: &[ChannelId]) -> String {
    channels.iter().map(ChannelId::as_str).collect::<Vec<_>>().join(", ")
}

fn any(channel: &Option<ChannelId>) -> String {
    channel.as_ref().map_or_else(|| "any channel".to_owned(), ToString::to_string)
}

fn every(channel: &Option<ChannelId>) -> String {
    channel.as_ref().map_or_else(|| "every channel".to_owned(), ToString::to_string)
}

fn for_user(user: &Option<UserId>) -> String {
    user.as_ref().map_or_else(String::new, |u| format!(" for {u}"))
}

fn as_str(role: AssignAs) -> &'static str {
    match role {
        AssignAs::Agent => "agent",
        AssignAs::Supervisor => "supervisor",
    }
}

/// A language a message can be given in.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    #[default]
    En,
    De,
}

impl Lang {
    /// Reads a language tag such as `de`, `de-AT` or `en-GB`; anything else is English.
    pub fn from_tag(tag: &str) -> Lang {
        let primary = tag.split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("de") { Lang::De } else { Lang::En }
    }
}

/// A rejection's message in every supported language.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
pub struct Messages {
    pub en: String,
    pub de: String,
}

impl Rejection {
    pub fn invalid(location: impl Into<String>, problem: impl fmt::Display) -> Rejection {
        Rejection::InvalidCommand { location: location.into(), problem: problem.to_string() }
    }

    /// The message in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        match lang {
            Lang::En => self.to_string(),
            Lang::De => self.german(),
        }
    }

    pub fn messages(&self) -> Messages {
        Messages { en: self.to_string(), de: self.german() }
    }

    fn german(&self) -> String {
        use Rejection::*;
        let on_any = |c: &Option<ChannelId>| c.as_ref().map_or_else(|| "keinem Kanal".to_owned(), ToString::to_string);
        match self {
            InvalidCommand { location, problem } => format!("Kein gültiger Befehl: {location}: {problem}"),
            ClockWentBackwards { at, last } => {
                format!("Die Zeit des Befehls ({at}) liegt vor der zuletzt angenommenen Zeit ({last})")
            }
            UnknownActor { actor } => format!("{actor} ist weder \"system\" noch ein bekannter Benutzer"),
            UnknownUser { user } => format!("Es gibt keinen Benutzer {user}"),
            UnknownChannel { channel } => format!("Es gibt keinen Kanal {channel}"),
            UnknownDevice { device } => format!("Es gibt kein Gerät {device}"),
            UnknownInteraction { interaction } => format!("Es gibt keine laufende Interaktion {interaction}"),
            NotAuthorized { actor, command, needs } => {
                format!("{actor} darf {command} nicht ausführen: dafür braucht es {}", needs.de())
            }
            NoAgentDashboard { user } => {
                format!("{user} hat keine Beraterrolle und daher kein Berater-Dashboard")
            }
            PlanNotEligible { plan } => format!(
                "Andere Berater verwalten erfordert den Tarif Complete oder Support Center, nicht {}",
                plan.as_str()
            ),
            OutsideSupervisorScope { supervisor, channels } => {
                format!("{supervisor} ist nicht Supervisor von {}", list(channels))
            }
            CannotMonitorSelf { user } => format!("{user} kann sich nicht selbst mithören"),
            AlreadySignedIn { user, channel } => format!("{user} ist bereits bei {channel} angemeldet"),
            NotSignedIn { user, channel } => format!("{user} ist bei {} nicht angemeldet", on_any(channel)),
            AlreadyPaused { user, channel } => format!(
                "{user} ist bereits bei {} in Pause",
                channel.as_ref().map_or_else(|| "allen Kanälen".to_owned(), ToString::to_string)
            ),
            NotPaused { user, channel } => format!("{user} ist bei {} nicht in Pause", on_any(channel)),
            NotInWrapUp { user } => format!("{user} ist nicht in der Nachbearbeitung"),
            NotOnCall { user } => format!("{user} führt kein Telefonat"),
            AlreadyMonitored { user, supervisor, mode } => {
                format!("Das Gespräch von {user} wird bereits von {supervisor} überwacht ({})", mode.de())
            }
            NotMonitored { user } => format!("Sie hören das Gespräch von {user} nicht mit"),
            NotRoutable { user, channel, because } => {
                format!("{user} kann auf {channel} keine Arbeit annehmen: {}", because.de())
            }
            DuplicateId { kind, id } => format!("Die {}-ID {id} ist bereits vergeben", kind.de()),
            AlreadyAssigned { user, channel, r#as } => format!(
                "{user} ist {channel} bereits als {} zugewiesen",
                match r#as {
                    AssignAs::Agent => "Berater",
                    AssignAs::Supervisor => "Supervisor",
                }
            ),
            NotAssigned { user, channel } => format!("{user} ist {channel} nicht zugewiesen"),
            NothingToDo { user } => {
                format!("Es gibt nichts zu tun{}", user.as_ref().map_or_else(String::new, |u| format!(" für {u}")))
            }
            UnassignedSignInDisabled { user, channel } => format!(
                "{user} ist {channel} nicht zugewiesen und die Selbstanmeldung bei nicht zugewiesenen Kanälen ist ausgeschaltet"
            ),
            WrapUpEndNotEnabled { user } => {
                format!("Das Beenden der Nachbearbeitung anderer Benutzer ({user}) hat kein Administrator aktiviert")
            }
            UnknownPauseReason { reason } => format!("{reason} ist kein Pausengrund dieses Mandanten"),
        }
    }

    /// The stable code of this rejection.
    pub fn code(&self) -> RejectionCode {
        use Rejection::*;
        use RejectionCode as C;
        match self {
            InvalidCommand { .. } => C::InvalidCommand,
            ClockWentBackwards { .. } => C::ClockWentBackwards,
            UnknownActor { .. } => C::UnknownActor,
            UnknownUser { .. } => C::UnknownUser,
            UnknownChannel { .. } => C::UnknownChannel,
            UnknownDevice { .. } => C::UnknownDevice,
            UnknownInteraction { .. } => C::UnknownInteraction,
            NotAuthorized { .. } => C::NotAuthorized,
            NoAgentDashboard { .. } => C::NoAgentDashboard,
            PlanNotEligible { .. } => C::PlanNotEligible,
            OutsideSupervisorScope { .. } => C::OutsideSupervisorScope,
            CannotMonitorSelf { .. } => C::CannotMonitorSelf,
            AlreadySignedIn { .. } => C::AlreadySignedIn,
            NotSignedIn { .. } => C::NotSignedIn,
            AlreadyPaused { .. } => C::AlreadyPaused,
            NotPaused { .. } => C::NotPaused,
            NotInWrapUp { .. } => C::NotInWrapUp,
            NotOnCall { .. } => C::NotOnCall,
            AlreadyMonitored { .. } => C::AlreadyMonitored,
            NotMonitored { .. } => C::NotMonitored,
            NotRoutable { .. } => C::NotRoutable,
            DuplicateId { .. } => C::DuplicateId,
            AlreadyAssigned { .. } => C::AlreadyAssigned,
            NotAssigned { .. } => C::NotAssigned,
            NothingToDo { .. } => C::NothingToDo,
            UnassignedSignInDisabled { .. } => C::UnassignedSignInDisabled,
            WrapUpEndNotEnabled { .. } => C::WrapUpEndNotEnabled,
            UnknownPauseReason { .. } => C::UnknownPauseReason,
        }
    }
}

/// The stable codes of §4.4, in precedence order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum RejectionCode {
    InvalidCommand,
    ClockWentBackwards,
    UnknownActor,
    UnknownUser,
    UnknownChannel,
    UnknownDevice,
    UnknownInteraction,
    NotAuthorized,
    NoAgentDashboard,
    PlanNotEligible,
    OutsideSupervisorScope,
    CannotMonitorSelf,
    AlreadySignedIn,
    NotSignedIn,
    AlreadyPaused,
    NotPaused,
    NotInWrapUp,
    NotOnCall,
    AlreadyMonitored,
    NotMonitored,
    NotRoutable,
    DuplicateId,
    AlreadyAssigned,
    NotAssigned,
    NothingToDo,
    UnassignedSignInDisabled,
    WrapUpEndNotEnabled,
    UnknownPauseReason,
}

impl RejectionCode {
    pub const ALL: [RejectionCode; 28] = {
        use RejectionCode::*;
        [
            InvalidCommand,
            ClockWentBackwards,
            UnknownActor,
            UnknownUser,
            UnknownChannel,
            UnknownDevice,
            UnknownInteraction,
            NotAuthorized,
            NoAgentDashboard,
            PlanNotEligible,
            OutsideSupervisorScope,
            CannotMonitorSelf,
            AlreadySignedIn,
            NotSignedIn,
            AlreadyPaused,
            NotPaused,
            NotInWrapUp,
            NotOnCall,
            AlreadyMonitored,
            NotMonitored,
            NotRoutable,
            DuplicateId,
            AlreadyAssigned,
            NotAssigned,
            NothingToDo,
            UnassignedSignInDisabled,
            WrapUpEndNotEnabled,
            UnknownPauseReason,
        ]
    };

    pub fn as_str(self) -> &'static str {
        use RejectionCode::*;
        match self {
            InvalidCommand => "invalid_command",
            ClockWentBackwards => "clock_went_backwards",
            UnknownActor => "unknown_actor",
            UnknownUser => "unknown_user",
            UnknownChannel => "unknown_channel",
            UnknownDevice => "unknown_device",
            UnknownInteraction => "unknown_interaction",
            NotAuthorized => "not_authorized",
            NoAgentDashboard => "no_agent_dashboard",
            PlanNotEligible => "plan_not_eligible",
            OutsideSupervisorScope => "outside_supervisor_scope",
            CannotMonitorSelf => "cannot_monitor_self",
            AlreadySignedIn => "already_signed_in",
            NotSignedIn => "not_signed_in",
            AlreadyPaused => "already_paused",
            NotPaused => "not_paused",
            NotInWrapUp => "not_in_wrap_up",
            NotOnCall => "not_on_call",
            AlreadyMonitored => "already_monitored",
            NotMonitored => "not_monitored",
            NotRoutable => "not_routable",
            DuplicateId => "duplicate_id",
            AlreadyAssigned => "already_assigned",
            NotAssigned => "not_assigned",
            NothingToDo => "nothing_to_do",
            UnassignedSignInDisabled => "unassigned_sign_in_disabled",
            WrapUpEndNotEnabled => "wrap_up_end_not_enabled",
            UnknownPauseReason => "unknown_pause_reason",
        }
    }

    pub fn parse(code: &str) -> Option<RejectionCode> {
        Self::ALL.into_iter().find(|c| c.as_str() == code)
    }
}

impl fmt::Display for RejectionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_serde_tags_and_listed_in_precedence_order() {
        let r = Rejection::NothingToDo { user: None };
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["code"], r.code().as_str());
        let mut sorted = RejectionCode::ALL;
        sorted.sort();
        assert_eq!(sorted, RejectionCode::ALL);
        for c in RejectionCode::ALL {
            assert_eq!(RejectionCode::parse(c.as_str()), Some(c));
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
    }

    #[test]
    fn language_tags_pick_german_or_fall_back_to_english() {
        assert_eq!(Lang::from_tag("de-AT"), Lang::De);
        assert_eq!(Lang::from_tag("DE"), Lang::De);
        assert_eq!(Lang::from_tag("fr"), Lang::En);
        assert_eq!(Lang::from_tag(""), Lang::En);
    }
}
