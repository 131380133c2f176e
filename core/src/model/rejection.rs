//! Why a command was refused: one enum, stable snake_case codes (§4.4), the offending
//! ids, and a message in English (`Display`) and German ([`Rejection::message`]).

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::channel::AssignAs;
use crate::model::ids::{Actor, ChannelId, DeviceId, InteractionId, Millis, PauseReason, UserId};
use crate::model::monitoring::MonitorMode;
use crate::model::roles::Plan;

/// What kind of refusal a code is; hosts map it onto their protocol (HTTP statuses) without
/// knowing the codes one by one.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// The command is not a well-formed command.
    Input,
    /// The actor may not do this, whatever the state.
    Authority,
    /// The command names something the tenant does not have.
    UnknownId,
    /// The state does not allow it now (it may later).
    State,
    /// An admin's configuration does not allow it.
    Policy,
}

/// Declares every rejection once: its variant and fields, code, category, and English and
/// German message. From it follow the [`Rejection`] enum (whose serde tag is the code),
/// [`RejectionCode`] in precedence order (the order of declaration), its list, parsing and
/// names, [`Rejection::code`], [`Rejection::category`] and [`Rejection::message`].
macro_rules! rejections {
    ($(
        $(#[$doc:meta])*
        $variant:ident { $($(#[$field_attr:meta])* $field:ident : $ty:ty),* $(,)? }
            = $code:literal, $category:ident,
            en: ($($en:tt)+),
            de: ($($de:tt)+);
    )+) => {
        /// A refused command. Serialises as `{"code": "...", <ids>}`.
        #[derive(Clone, PartialEq, Eq, Debug, thiserror::Error, Serialize, Deserialize)]
        #[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(tag = "code")]
        #[error("{}", self.message(Lang::En))]
        pub enum Rejection {
            $(
                $(#[$doc])*
                #[serde(rename = $code)]
                #[cfg_attr(feature = "openapi", schema(rename = $code))]
                $variant { $($(#[$field_attr])* $field: $ty),* },
            )+
        }

        /// The stable codes (`docs/rules.md`), in precedence order.
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
        #[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub enum RejectionCode {
            $(#[serde(rename = $code)] #[cfg_attr(feature = "openapi", schema(rename = $code))] $variant,)+
        }

        impl RejectionCode {
            pub const ALL: &'static [RejectionCode] = &[$(RejectionCode::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(RejectionCode::$variant => $code,)+
                }
            }

            pub fn category(self) -> Category {
                match self {
                    $(RejectionCode::$variant => Category::$category,)+
                }
            }
        }

        impl Rejection {
            /// The stable code of this rejection.
            pub fn code(&self) -> RejectionCode {
                match self {
                    $(Rejection::$variant { .. } => RejectionCode::$variant,)+
                }
            }

            /// The message in `lang`.
            #[allow(unused_variables)]
            pub fn message(&self, lang: Lang) -> String {
                match (self, lang) {
                    $(
                        (Rejection::$variant { $($field),* }, Lang::En) => format!($($en)+),
                        (Rejection::$variant { $($field),* }, Lang::De) => format!($($de)+),
                    )+
                }
            }
        }
    };
}

rejections! {
    InvalidCommand { location: String, problem: String } = "invalid_command", Input,
        en: ("not a valid command: {location}: {problem}"),
        de: ("Kein gültiger Befehl: {location}: {problem}");
    ClockWentBackwards { at: Millis, last: Millis } = "clock_went_backwards", State,
        en: ("the command's time {at} is earlier than the last accepted time {last}"),
        de: ("Die Zeit des Befehls ({at}) liegt vor der zuletzt angenommenen Zeit ({last})");

    UnknownActor { actor: Actor } = "unknown_actor", Authority,
        en: ("{actor} is neither \"system\" nor a known user"),
        de: ("{actor} ist weder \"system\" noch ein bekannter Benutzer");
    UnknownUser { user: UserId } = "unknown_user", UnknownId,
        en: ("there is no user {user}"),
        de: ("Es gibt keinen Benutzer {user}");
    UnknownChannel { channel: ChannelId } = "unknown_channel", UnknownId,
        en: ("there is no channel {channel}"),
        de: ("Es gibt keinen Kanal {channel}");
    UnknownDevice { device: DeviceId } = "unknown_device", UnknownId,
        en: ("there is no device {device}"),
        de: ("Es gibt kein Gerät {device}");
    UnknownInteraction { interaction: InteractionId } = "unknown_interaction", UnknownId,
        en: ("there is no running interaction {interaction}"),
        de: ("Es gibt keine laufende Interaktion {interaction}");

    NotAuthorized {
        actor: Actor,
        #[cfg_attr(feature = "typescript", tsify(type = "string"))]
        command: Cow<'static, str>,
        needs: Needs,
    } = "not_authorized", Authority,
        en: ("{actor} may not {command}: that needs {}", needs.en()),
        de: ("{actor} darf {command} nicht ausführen: dafür braucht es {}", needs.de());
    NoAgentDashboard { user: UserId } = "no_agent_dashboard", Authority,
        en: ("{user} has no agent role, so no Agent dashboard to act from"),
        de: ("{user} hat keine Beraterrolle und daher kein Berater-Dashboard");
    PlanNotEligible { plan: Plan } = "plan_not_eligible", Authority,
        en: ("managing other agents needs the Complete or Support Center plan, not {}", plan.as_str()),
        de: ("Andere Berater verwalten erfordert den Tarif Complete oder Support Center, nicht {}", plan.as_str());
    /// `channels` empty: the person is out of the supervisor's sight, and what they are
    /// doing, and where, is not told.
    OutsideSupervisorScope { supervisor: UserId, channels: Vec<ChannelId> } = "outside_supervisor_scope", Authority,
        en: ("{supervisor} does not supervise {}", list_or(channels, "this person")),
        de: ("{supervisor} ist nicht Supervisor {}", if channels.is_empty() { "dieser Person".to_owned() } else { format!("von {}", list(channels)) });
    CannotMonitorSelf { user: UserId } = "cannot_monitor_self", Authority,
        en: ("{user} cannot monitor themself"),
        de: ("{user} kann sich nicht selbst mithören");

    AlreadySignedIn { user: UserId, channel: ChannelId } = "already_signed_in", State,
        en: ("{user} is already signed into {channel}"),
        de: ("{user} ist bereits bei {channel} angemeldet");
    NotSignedIn {
        user: UserId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(nullable = false))]
        channel: Option<ChannelId>,
    } = "not_signed_in", State,
        en: ("{user} is not signed into {}", or(channel, "any channel")),
        de: ("{user} ist bei {} nicht angemeldet", or(channel, "keinem Kanal"));
    AlreadyPaused {
        user: UserId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(nullable = false))]
        channel: Option<ChannelId>,
    } = "already_paused", State,
        en: ("{user} is already paused on {}", or(channel, "every channel")),
        de: ("{user} ist bereits bei {} in Pause", or(channel, "allen Kanälen"));
    NotPaused {
        user: UserId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(nullable = false))]
        channel: Option<ChannelId>,
    } = "not_paused", State,
        en: ("{user} is not paused on {}", or(channel, "any channel")),
        de: ("{user} ist bei {} nicht in Pause", or(channel, "keinem Kanal"));
    NotInWrapUp { user: UserId } = "not_in_wrap_up", State,
        en: ("{user} is not in wrap-up"),
        de: ("{user} ist nicht in der Nachbearbeitung");
    NotOnCall { user: UserId } = "not_on_call", State,
        en: ("{user} is not on a call"),
        de: ("{user} führt kein Telefonat");
    AlreadyMonitored { user: UserId, supervisor: UserId, mode: MonitorMode } = "already_monitored", State,
        en: ("{user}'s call is already monitored by {supervisor} ({})", mode.as_str()),
        de: ("Das Gespräch von {user} wird bereits von {supervisor} überwacht ({})", mode.de());
    NotMonitored { user: UserId } = "not_monitored", State,
        en: ("{user}'s call is not monitored by you"),
        de: ("Sie hören das Gespräch von {user} nicht mit");
    NotRoutable { user: UserId, channel: ChannelId, because: Unroutable } = "not_routable", State,
        en: ("{user} cannot take work on {channel}: {}", because.en()),
        de: ("{user} kann auf {channel} keine Arbeit annehmen: {}", because.de());
    DuplicateId { kind: IdKind, id: String } = "duplicate_id", State,
        en: ("the {} id {id} is already taken", kind.en()),
        de: ("Die {}-ID {id} ist bereits vergeben", kind.de());
    AlreadyAssigned { user: UserId, channel: ChannelId, r#as: AssignAs } = "already_assigned", State,
        en: ("{user} is already assigned to {channel} as {}", as_str(*r#as)),
        de: ("{user} ist {channel} bereits als {} zugewiesen", als(*r#as));
    NotAssigned { user: UserId, channel: ChannelId } = "not_assigned", State,
        en: ("{user} is not assigned to {channel}"),
        de: ("{user} ist {channel} nicht zugewiesen");
    NothingToDo {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(nullable = false))]
        user: Option<UserId>,
    } = "nothing_to_do", State,
        en: ("there is nothing to do{}", user.as_ref().map_or_else(String::new, |u| format!(" for {u}"))),
        de: ("Es gibt nichts zu tun{}", user.as_ref().map_or_else(String::new, |u| format!(" für {u}")));

    UnassignedSignInDisabled { user: UserId, channel: ChannelId } = "unassigned_sign_in_disabled", Policy,
        en: ("{user} is not assigned to {channel} and self sign-in to unassigned channels is turned off"),
        de: ("{user} ist {channel} nicht zugewiesen und die Selbstanmeldung bei nicht zugewiesenen Kanälen ist ausgeschaltet");
    WrapUpEndNotEnabled { user: UserId } = "wrap_up_end_not_enabled", Policy,
        en: ("ending another user's wrap-up ({user}) is not enabled by an admin"),
        de: ("Das Beenden der Nachbearbeitung anderer Benutzer ({user}) hat kein Administrator aktiviert");
    UnknownPauseReason { reason: PauseReason } = "unknown_pause_reason", Policy,
        en: ("{reason} is not one of the tenant's pause reasons"),
        de: ("{reason} ist kein Pausengrund dieses Mandanten");
}

/// Why a user cannot be routed an interaction (`not_routable`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// The channels, or `none` when the rejection names none.
fn list_or(channels: &[ChannelId], none: &str) -> String {
    if channels.is_empty() { none.to_owned() } else { list(channels) }
}

/// The channel, or `none` when the rejection is about every channel.
fn or(channel: &Option<ChannelId>, none: &str) -> String {
    channel.as_ref().map_or_else(|| none.to_owned(), ToString::to_string)
}

fn as_str(role: AssignAs) -> &'static str {
    match role {
        AssignAs::Agent => "agent",
        AssignAs::Supervisor => "supervisor",
    }
}

fn als(role: AssignAs) -> &'static str {
    match role {
        AssignAs::Agent => "Berater",
        AssignAs::Supervisor => "Supervisor",
    }
}

/// A language a message can be given in.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Messages {
    pub en: String,
    pub de: String,
}

impl Rejection {
    pub fn invalid(location: impl Into<String>, problem: impl fmt::Display) -> Rejection {
        Rejection::InvalidCommand { location: location.into(), problem: problem.to_string() }
    }

    pub fn messages(&self) -> Messages {
        Messages { en: self.message(Lang::En), de: self.message(Lang::De) }
    }

    /// What kind of refusal this is.
    pub fn category(&self) -> Category {
        self.code().category()
    }
}

impl RejectionCode {
    pub fn parse(code: &str) -> Option<RejectionCode> {
        Self::ALL.iter().copied().find(|c| c.as_str() == code)
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
        let mut sorted = RejectionCode::ALL.to_vec();
        sorted.sort();
        assert_eq!(sorted, RejectionCode::ALL);
        for &c in RejectionCode::ALL {
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
