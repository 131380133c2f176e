//! A tenant's state: a pure fold of its events (R6). Every observable order — of the
//! events a command produces, of views, of snapshots — is by id, so it is the same on
//! every runtime and after a snapshot is reloaded (see `IdMap`).

use serde::{Deserialize, Serialize};

use crate::model::channel::{Assignment, Channel};
use crate::model::device::Device;
use crate::model::ended_interactions::{EndedInteractions, Written};
use crate::model::id_map::{IdMap, SmallMap};
use crate::model::ids::{ChannelId, DeviceId, InteractionId, Millis, Name, UserId};
use crate::model::monitoring::MonitorMode;
use crate::model::roles::{Plan, RoleSet};
use crate::model::settings::{PauseReasons, Settings};
pub use crate::model::sign_ins::{Pause, SignIn, SignIns};
use crate::model::sign_ins::{SignInsOnly, SignedOutOnly};

/// One tenant. Build it by folding events ([`State::from_events`], `evolve`) or from
/// a snapshot (serde).
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct State {
    pub(crate) plan: Plan,
    pub(crate) settings: Settings,
    pub(crate) pause_reasons: PauseReasons,
    #[cfg_attr(feature = "typescript", tsify(type = "Record<string, User>"))]
    #[cfg_attr(feature = "openapi", schema(value_type = HashMap<String, record::User>))]
    pub(crate) users: IdMap<UserId, User>,
    #[cfg_attr(feature = "typescript", tsify(type = "Record<string, Channel>"))]
    #[cfg_attr(feature = "openapi", schema(value_type = HashMap<String, Channel>))]
    pub(crate) channels: IdMap<ChannelId, Channel>,
    /// Running interactions.
    #[cfg_attr(feature = "typescript", tsify(type = "Record<string, Interaction>"))]
    #[cfg_attr(feature = "openapi", schema(value_type = HashMap<String, Interaction>))]
    pub(crate) interactions: IdMap<InteractionId, Interaction>,
    /// Interactions that ended less than 24 hours of the tenant's clock ago, with when they
    /// ended: their ids are still taken (§7, §8).
    #[cfg_attr(feature = "typescript", tsify(type = "Record<string, Millis>"))]
    #[cfg_attr(feature = "openapi", schema(value_type = HashMap<String, Millis>))]
    pub(crate) ended_interactions: EndedInteractions,
    #[cfg_attr(feature = "typescript", tsify(type = "Record<string, Device>"))]
    #[cfg_attr(feature = "openapi", schema(value_type = HashMap<String, Device>))]
    pub(crate) devices: IdMap<DeviceId, Device>,
    /// The last accepted `at` (R7); `null` before the first event.
    #[cfg_attr(feature = "typescript", tsify(type = "Millis | null"))]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub(crate) clock: Option<Millis>,
}

/// A [`State`] as a snapshot holds it: the same fields, with the ended interactions as
/// written — by snapshots of this version or, as a list of ids, of versions before the
/// rule book's v2 — and settled against the snapshot's clock.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateRecord {
    plan: Plan,
    settings: Settings,
    pause_reasons: PauseReasons,
    users: IdMap<UserId, User>,
    channels: IdMap<ChannelId, Channel>,
    interactions: IdMap<InteractionId, Interaction>,
    ended_interactions: Written,
    devices: IdMap<DeviceId, Device>,
    clock: Option<Millis>,
}

impl<'de> Deserialize<'de> for State {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<State, D::Error> {
        let r = StateRecord::deserialize(d)?;
        Ok(State {
            plan: r.plan,
            settings: r.settings,
            pause_reasons: r.pause_reasons,
            users: r.users,
            channels: r.channels,
            interactions: r.interactions,
            ended_interactions: r.ended_interactions.into_ledger(r.clock),
            devices: r.devices,
            clock: r.clock,
        })
    }
}

/// A user and everything the runtime knows about them. On the wire — snapshots, the API,
/// TypeScript — as a [`record::User`] (its sign-ins and sign-out times as two maps).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct User {
    pub name: Name,
    pub roles: RoleSet,
    /// Permanent configuration; never changed by a sign-in (R1).
    pub assignments: SmallMap<ChannelId, Assignment>,
    /// Runtime sign-ins, ended only by a sign-out (R4), and when the user last signed out
    /// of each channel they are not signed in to now.
    pub sign_ins: SignIns,
    pub interaction: Option<InteractionId>,
    /// The last wrap-up; over once a command's `at` reaches `until`.
    pub wrap_up: Option<WrapUp>,
    /// In order of registration.
    pub devices: Vec<DeviceId>,
    /// When the user's last interaction and its wrap-up were over (the deadline of a
    /// wrap-up still running): where "available" or "paused" begins again.
    pub work_ended: Option<Millis>,
}

/// A [`User`] as it is written and read — snapshots, the API, TypeScript — with its
/// sign-ins and sign-out times as two maps.
pub mod record {
    use serde::Deserialize;

    use super::{SignIn, WrapUp};
    use crate::model::channel::Assignment;
    use crate::model::id_map::SmallMap;
    use crate::model::ids::{ChannelId, DeviceId, InteractionId, Millis, Name};
    use crate::model::roles::RoleSet;

    /// A user and everything the runtime knows about them.
    #[derive(Debug, Deserialize)]
    #[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct User {
        pub(super) name: Name,
        pub(super) roles: RoleSet,
        /// Permanent configuration; never changed by a sign-in (R1).
        #[cfg_attr(feature = "typescript", tsify(type = "Record<string, Assignment>"))]
        #[cfg_attr(feature = "openapi", schema(value_type = HashMap<String, Assignment>))]
        pub(super) assignments: SmallMap<ChannelId, Assignment>,
        /// Runtime sign-ins; ended only by a sign-out (R4).
        #[cfg_attr(feature = "typescript", tsify(type = "Record<string, SignIn>"))]
        #[cfg_attr(feature = "openapi", schema(value_type = HashMap<String, SignIn>))]
        pub(super) sign_ins: SmallMap<ChannelId, SignIn>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(nullable = false))]
        pub(super) interaction: Option<InteractionId>,
        /// The last wrap-up; over once a command's `at` reaches `until`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(nullable = false))]
        pub(super) wrap_up: Option<WrapUp>,
        /// In order of registration.
        pub(super) devices: Vec<DeviceId>,
        /// When the user's last interaction and its wrap-up were over (the deadline of a
        /// wrap-up still running): where "available" or "paused" begins again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(nullable = false))]
        pub(super) work_ended: Option<Millis>,
        /// When the user last signed out of each channel they are not signed in to now.
        #[serde(default, skip_serializing_if = "SmallMap::is_empty")]
        #[cfg_attr(feature = "typescript", tsify(type = "Record<string, number>"))]
        #[cfg_attr(feature = "openapi", schema(value_type = HashMap<String, Millis>))]
        pub(super) signed_out: SmallMap<ChannelId, Millis>,
    }
}

impl From<record::User> for User {
    fn from(r: record::User) -> User {
        let sign_ins = SignIns::from_record(r.sign_ins, r.signed_out);
        User {
            name: r.name,
            roles: r.roles,
            assignments: r.assignments,
            sign_ins,
            interaction: r.interaction,
            wrap_up: r.wrap_up,
            devices: r.devices,
            work_ended: r.work_ended,
        }
    }
}

impl<'de> Deserialize<'de> for User {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<User, D::Error> {
        record::User::deserialize(d).map(User::from)
    }
}

/// A [`User`] written as its [`record::User`], borrowed.
#[derive(Serialize)]
struct UserOut<'a> {
    name: &'a Name,
    roles: RoleSet,
    assignments: &'a SmallMap<ChannelId, Assignment>,
    sign_ins: SignInsOnly<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    interaction: Option<&'a InteractionId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wrap_up: Option<&'a WrapUp>,
    devices: &'a [DeviceId],
    #[serde(skip_serializing_if = "Option::is_none")]
    work_ended: Option<Millis>,
    #[serde(skip_serializing_if = "SignedOutOnly::is_empty")]
    signed_out: SignedOutOnly<'a>,
}

impl Serialize for User {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        UserOut {
            name: &self.name,
            roles: self.roles,
            assignments: &self.assignments,
            sign_ins: SignInsOnly(&self.sign_ins),
            interaction: self.interaction.as_ref(),
            wrap_up: self.wrap_up.as_ref(),
            devices: &self.devices,
            work_ended: self.work_ended,
            signed_out: SignedOutOnly(&self.sign_ins),
        }
        .serialize(s)
    }
}

impl User {
    pub fn is_assigned_agent(&self, channel: &ChannelId) -> bool {
        self.assignments.get(channel).is_some_and(|a| a.agent)
    }

    pub fn is_assigned_supervisor(&self, channel: &ChannelId) -> bool {
        self.assignments.get(channel).is_some_and(|a| a.supervisor)
    }

    /// The wrap-up still running at `at`.
    pub fn wrap_up_at(&self, at: Millis) -> Option<&WrapUp> {
        self.wrap_up.as_ref().filter(|w| at < w.until)
    }

    /// Sign-ins to channels the user is not assigned to as agent, judged now (§4).
    pub fn unassigned_sign_ins(&self) -> impl Iterator<Item = (&ChannelId, &SignIn)> {
        self.sign_ins.iter().filter(|(c, _)| !self.is_assigned_agent(c))
    }
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WrapUp {
    pub channel: ChannelId,
    pub until: Millis,
    /// When the interaction ended (absent in snapshots of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub since: Option<Millis>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Interaction {
    pub user: UserId,
    pub channel: ChannelId,
    pub since: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub monitoring: Option<Monitoring>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Monitoring {
    pub supervisor: UserId,
    pub mode: MonitorMode,
    pub since: Millis,
}

impl State {
    /// An empty tenant on the `basic` plan with default settings.
    pub fn new() -> State {
        State::default()
    }

    pub fn plan(&self) -> Plan {
        self.plan
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn pause_reasons(&self) -> &PauseReasons {
        &self.pause_reasons
    }

    pub fn clock(&self) -> Option<Millis> {
        self.clock
    }

    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.get(id)
    }

    /// Every user, by id.
    pub fn users(&self) -> impl Iterator<Item = (&UserId, &User)> {
        self.users.sorted().into_iter()
    }

    /// The users `keep` keeps, by id.
    pub fn users_where(&self, mut keep: impl FnMut(&User) -> bool) -> Vec<(&UserId, &User)> {
        self.users.sorted_where(|_, u| keep(u))
    }

    /// The ids of the users `keep` keeps, sorted.
    pub fn users_where_id(&self, mut keep: impl FnMut(&UserId, &User) -> bool) -> Vec<UserId> {
        self.users.sorted_where(|id, u| keep(id, u)).into_iter().map(|(id, _)| id.clone()).collect()
    }

    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    pub fn channel(&self, id: &str) -> Option<&Channel> {
        self.channels.get(id)
    }

    /// Every channel, by id.
    pub fn channels(&self) -> impl Iterator<Item = (&ChannelId, &Channel)> {
        self.channels.sorted().into_iter()
    }

    pub fn interaction(&self, id: &str) -> Option<&Interaction> {
        self.interactions.get(id)
    }

    /// Every running interaction, by id.
    pub fn interactions(&self) -> impl Iterator<Item = (&InteractionId, &Interaction)> {
        self.interactions.sorted().into_iter()
    }

    /// The interaction `user` is in now, if any.
    pub fn interaction_of(&self, user: &User) -> Option<(&InteractionId, &Interaction)> {
        let id = user.interaction.as_ref()?;
        self.interactions.get_key_value(id)
    }

    /// Whether interaction id `id` is taken at `at`: its interaction runs, or it ended less
    /// than 24 hours before `at` (§7).
    pub fn interaction_id_taken(&self, id: &str, at: Millis) -> bool {
        self.interactions.contains_key(id) || self.ended_interactions.taken_at(id, at)
    }

    /// The ended interactions whose ids are still taken, with when each ended.
    pub fn ended_interactions(&self) -> &EndedInteractions {
        &self.ended_interactions
    }

    pub fn device(&self, id: &str) -> Option<&Device> {
        self.devices.get(id)
    }

    pub fn assignment(&self, user: &str, channel: &str) -> Assignment {
        self.users.get(user).and_then(|u| u.assignments.get(channel)).copied().unwrap_or_default()
    }
}
