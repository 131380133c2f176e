//! Sight: who may *see* what (`docs/rules.md` §5a), beside `authority` (who may *act*).
//! Agent-state data is employee-monitoring data: an agent sees themselves, a supervisor the
//! people in their reach, an admin everything. Sight is a pure function of the state and
//! the observer, like every rule; nothing here reads a clock.
//!
//! Two forms, and three laws that tie them to the rules (checked by the property tests and
//! in every state of the exhaustive check):
//! * [`seen_by`] — what an observer may see of a state is itself a [`State`];
//! * [`project`] — what an observer may see of an event is itself zero or more events.
//!
//! 1. Folding the projected events gives the projection of the folded state (the
//!    browser's mirror stays exact) — up to the clock, which stands at the last event the
//!    observer saw rather than at the tenant's (`docs/decisions.md`, "Sight").
//! 2. For a command whose ids the observer can see, `decide` on the projection (with the
//!    tenant's clock) equals `decide` on the whole state (the buttons cannot disagree with
//!    the server).
//! 3. For *every* command of an actor, the verdict — accepted, or the rejection with the
//!    ids it names — is the same on the whole state and on what the actor knows of it
//!    (their projection and the "+ Log agent" cards of whoever else they can find): a
//!    refusal is never a side door to what a read hides. `decide` keeps it by checking who
//!    the actor is before the ids they name and by deciding a supervisor's command on a
//!    person out of sight on that person's card (`rules::decide`).

use serde::{Deserialize, Serialize};

use crate::model::event::{Change, Event, SeenUser};
use crate::model::evolve::evolve;
use crate::model::ids::{Actor, ChannelId, UserId};
use crate::model::roles::Role;
use crate::model::settings::Setting;
use crate::model::state::{State, User};

/// What one observer may see, as the tenant stands: cheap to build (it looks at the
/// observer's own record only) and cheap to ask.
#[derive(Clone, Copy, Debug)]
pub enum Sight<'s> {
    /// `system` (the routing engine, telephony, billing) and admins: everything.
    Everything { system: bool },
    /// A supervisor on a plan with the Supervisor dashboard: the channels in their reach
    /// (the same reach the rules give them to act), everyone assigned to or signed in on
    /// them, and themselves.
    Supervisor { me: &'s UserId, user: &'s User, limited: bool, state: &'s State },
    /// An agent, or a user without a contact-center role: themselves and their own
    /// channels' configuration.
    Own { me: &'s UserId, user: &'s User },
    /// An actor the tenant does not know.
    Nothing,
}

impl<'s> Sight<'s> {
    pub fn of(state: &'s State, observer: &Actor) -> Sight<'s> {
        let Actor::User(me) = observer else {
            return Sight::Everything { system: true };
        };
        let Some((me, user)) = state.users.get_key_value(me) else {
            return Sight::Nothing;
        };
        if user.roles.has(Role::Admin) {
            Sight::Everything { system: false }
        } else if user.roles.has(Role::Supervisor) && state.plan().has_supervisor_dashboard() {
            Sight::Supervisor { me, user, limited: state.settings().supervisors_limited_to_assigned, state }
        } else {
            Sight::Own { me, user }
        }
    }

    pub fn sees_everything(&self) -> bool {
        matches!(self, Sight::Everything { .. })
    }

    /// Whether the observer may see the people on `channel` (a supervisor's reach).
    pub fn reaches(&self, channel: &ChannelId) -> bool {
        match self {
            Sight::Everything { .. } => true,
            Sight::Supervisor { user, limited, .. } => !limited || user.is_assigned_supervisor(channel),
            Sight::Own { .. } | Sight::Nothing => false,
        }
    }

    /// Whether the observer may see channels themselves (name, kind, wrap-up time): every
    /// user of the tenant sees every channel, as the rest of its configuration. An agent
    /// may sign themself in to a channel they are not assigned to (R3), so they must be
    /// able to find it, and naming a channel must not tell more than knowing it (law 3).
    /// Who is *on* a channel is the people's sight ([`Sight::sees_user`]).
    pub fn sees_channels(&self) -> bool {
        !matches!(self, Sight::Nothing)
    }

    /// Whether the observer may see the person `id` (their record `user`): as a whole,
    /// also on channels outside reach, because a supervisor's "everywhere" commands are
    /// decided on all of it (law 2; `docs/decisions.md`). A supervisor sees whoever is
    /// assigned to, signed in on, or still on a call or chat of a channel in reach (one
    /// they may monitor).
    pub fn sees_user(&self, id: &UserId, user: &User) -> bool {
        match self {
            Sight::Everything { .. } => true,
            Sight::Supervisor { me, limited, user: mine, state } => {
                let reaches = |c: &ChannelId| !limited || mine.is_assigned_supervisor(c);
                *me == id
                    || user.assignments.keys().chain(user.sign_ins.keys()).any(reaches)
                    || user
                        .interaction
                        .as_ref()
                        .and_then(|i| state.interactions.get(i))
                        .is_some_and(|running| reaches(&running.channel))
            }
            Sight::Own { me, .. } => *me == id,
            Sight::Nothing => false,
        }
    }

    /// Whether the observer may see the person with id `id` of `state`.
    pub fn sees(&self, state: &State, id: &str) -> bool {
        state.users.get_key_value(id).is_some_and(|(id, u)| self.sees_user(id, u))
    }

    /// Whether "+ Log agent" finds `id` for the observer: a supervisor may search for any
    /// agent (the source article) and sign anyone in (R2); others find themselves.
    pub fn finds(&self, id: &UserId) -> bool {
        match self {
            Sight::Everything { .. } | Sight::Supervisor { .. } => true,
            Sight::Own { me, .. } => *me == id,
            Sight::Nothing => false,
        }
    }

    /// `channel` of `state` when the observer may see it (its id as the tenant holds it);
    /// `None` as for a channel that does not exist.
    pub fn channel<'t>(&self, state: &'t State, channel: &str) -> Option<&'t ChannelId> {
        state.channels.get_key_value(channel).map(|(id, _)| id).filter(|_| self.sees_channels())
    }

    /// Whether the observer may count everyone on `channel` by state: the people in their
    /// reach, or — as numbers, without names — the team of a channel they are assigned to
    /// while they hold a contact-center role.
    pub fn counts(&self, channel: &ChannelId) -> bool {
        self.reaches(channel)
            || match self {
                Sight::Supervisor { user, .. } | Sight::Own { user, .. } => {
                    !user.roles.is_empty() && user.assignments.contains_key(channel)
                }
                Sight::Everything { .. } | Sight::Nothing => false,
            }
    }

    /// The people and channels the observer may see, as a list a host can hand to a
    /// view over the log (history, the day report) that runs apart from the tenant.
    pub fn summary(&self, state: &State) -> SightSummary {
        if self.sees_everything() {
            return SightSummary { everything: true, users: Vec::new(), channels: Vec::new() };
        }
        SightSummary {
            everything: false,
            users: state.users_where_id(|id, u| self.sees_user(id, u)),
            channels: state.channels().filter(|(c, _)| self.reaches(c)).map(|(c, _)| c.clone()).collect(),
        }
    }
}

/// Whom an observer sees, as plain lists: what the day report and the history, read from
/// the log apart from the tenant, keep rows of.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SightSummary {
    /// An admin or `system`: nothing is left out (the lists are empty).
    pub everything: bool,
    /// The people the observer sees, by id.
    #[serde(default)]
    pub users: Vec<UserId>,
    /// The channels whose people the observer sees (their reach), by id.
    #[serde(default)]
    pub channels: Vec<ChannelId>,
}

impl SightSummary {
    /// Whether a row about `user` on `channel` is the observer's to see: their own rows,
    /// and the rows of the people they see on the channels in reach.
    pub fn shows(&self, observer: &Actor, user: &UserId, channel: &ChannelId) -> bool {
        self.everything
            || observer.is(user)
            || (self.users.binary_search(user).is_ok() && self.channels.binary_search(channel).is_ok())
    }

    pub fn sees_user(&self, user: &str) -> bool {
        self.everything || self.users.binary_search_by(|u| u.as_str().cmp(user)).is_ok()
    }
}

/// What `observer` may see of `state`, as a state of its own: the snapshot a dashboard
/// mirrors. The plan, the settings, the pause reasons and the clock are the tenant's
/// configuration and are kept for everyone; ended interaction ids only for `system`, the
/// one actor whose commands are decided on them.
pub fn seen_by(state: &State, observer: &Actor) -> State {
    let sight = Sight::of(state, observer);
    match sight {
        Sight::Everything { system: true } => return state.clone(),
        Sight::Everything { system: false } => {
            return State { ended_interactions: Default::default(), ..state.clone() };
        }
        _ => {}
    }
    let mut seen = configuration(state);
    // Only what is kept is sorted and copied: an agent's view of a large tenant costs their
    // own record and a pass over the ids.
    for (id, user) in state.users.sorted_where(|id, u| sight.sees_user(id, u)) {
        admit(&mut seen, state, id, user.clone());
    }
    if sight.sees_channels() {
        seen.channels = state.channels.clone();
    }
    seen
}

/// The tenant's configuration alone — plan, settings, pause reasons, clock — which every
/// observer sees.
pub(crate) fn configuration(state: &State) -> State {
    State {
        plan: state.plan,
        settings: state.settings,
        pause_reasons: state.pause_reasons.clone(),
        clock: state.clock,
        ..State::default()
    }
}

/// Puts the person `id` (as `record`) into the projection `seen` of `whole`, with their
/// devices and their running interaction.
pub(crate) fn admit(seen: &mut State, whole: &State, id: &UserId, record: User) {
    for d in &record.devices {
        if let Some(device) = whole.devices.get(d) {
            seen.devices.insert(d.clone(), device.clone());
        }
    }
    if let Some(i) = &record.interaction
        && let Some(running) = whole.interactions.get(i)
    {
        seen.interactions.insert(i.clone(), running.clone());
    }
    seen.users.insert(id.clone(), record);
}

/// Applies `event` to `state` (the whole tenant, as it stood before the event) and gives
/// what `observer` may see of it: the event itself, nothing (nobody they see is touched),
/// or the sight changes it causes ([`Change::UserSeen`] and its kin). Folded into the
/// observer's projection of the state before, these give their projection of the state
/// after (law 1).
pub fn project(state: &mut State, event: &Event, observer: &Actor) -> Vec<Event> {
    project_for_each(state, event, &[observer]).pop().unwrap_or_default()
}

/// [`project`] for many observers at once, the event applied once: what each of
/// `observers` may see of it, in their order. A host's one projector per tenant serves all
/// of a tenant's live feeds with it.
pub fn project_for_each(state: &mut State, event: &Event, observers: &[&Actor]) -> Vec<Vec<Event>> {
    let before: Vec<Before> = observers.iter().map(|observer| Before::of(state, event, observer)).collect();
    evolve(state, event);
    observers.iter().zip(before).map(|(observer, before)| before.seen_after(state, event, observer)).collect()
}

/// Whether `observer` can be concerned only by events about themselves (`Change::users`)
/// and by events of the whole tenant (those about no user): an agent, a user without a
/// role, an actor the tenant does not know. A projector asks only such observers whom an
/// event names, and everyone else about every event. Judged on the state as it stands: an
/// event that changes it (the plan, the observer's own roles) names them or no one.
pub fn sees_only_self(state: &State, observer: &Actor) -> bool {
    matches!(Sight::of(state, observer), Sight::Own { .. } | Sight::Nothing)
}

/// What [`project`] needs to know of the state before the event, for one observer.
enum Before {
    /// Decided before the event is applied.
    Decided(Vec<Event>),
    /// Decided on the state after it.
    After,
    /// Whether the person the event is about was seen before it.
    Seen(bool),
    /// The observer's whole projection before an event that reshapes their sight.
    Mirror(Box<State>),
}

impl Before {
    fn of(state: &State, event: &Event, observer: &Actor) -> Before {
        if let Actor::System = observer {
            return Before::Decided(vec![event.clone()]);
        }
        if reshapes(&event.change, observer) {
            return Before::Mirror(Box::new(seen_by(state, observer)));
        }
        let seen_user = |user: &UserId| {
            state.users.get_key_value(user).is_some_and(|(id, u)| Sight::of(state, observer).sees_user(id, u))
        };
        let sent_if = |seen: bool| Before::Decided(if seen { vec![event.clone()] } else { Vec::new() });
        match &event.change {
            Change::PlanSet { .. } | Change::SettingChanged { .. } | Change::PauseReasonsSet { .. } => sent_if(true),
            Change::ChannelCreated { .. } | Change::UserCreated { .. } => Before::After,
            // Assignments and sign-ins can bring a person into a supervisor's sight or take
            // them out of it; an interaction's end, too.
            Change::Assigned { user, .. }
            | Change::Unassigned { user, .. }
            | Change::SignedIn { user, .. }
            | Change::SignedOut { user, .. }
            | Change::InteractionEnded { user, .. } => Before::Seen(seen_user(user)),
            Change::ChannelSeen { .. } | Change::ChannelUnseen { .. } => {
                sent_if(Sight::of(state, observer).sees_channels())
            }
            Change::UserSeen { user, .. }
            | Change::UserUnseen { user }
            | Change::RolesSet { user, .. }
            | Change::Paused { user, .. }
            | Change::Resumed { user, .. }
            | Change::WrapUpEnded { user, .. }
            | Change::MonitoringStarted { user, .. }
            | Change::MonitoringModeChanged { user, .. }
            | Change::MonitoringStopped { user, .. }
            | Change::InteractionStarted { user, .. }
            | Change::DeviceRegistered { user, .. }
            | Change::DeviceActivity { user, .. } => sent_if(seen_user(user)),
        }
    }

    /// What the observer is sent, `state` being the tenant after the event.
    fn seen_after(self, state: &State, event: &Event, observer: &Actor) -> Vec<Event> {
        let at_event = |change: Change| Event { at: event.at, by: event.by.clone(), change };
        let seen_user = |user: &UserId| {
            state.users.get_key_value(user).is_some_and(|(id, u)| Sight::of(state, observer).sees_user(id, u))
        };
        match (self, &event.change) {
            (Before::Decided(sent), _) => sent,
            (Before::Mirror(mirror), _) => resight(*mirror, state, event, observer),
            (Before::After, Change::ChannelCreated { .. }) => {
                if Sight::of(state, observer).sees_channels() {
                    vec![event.clone()]
                } else {
                    Vec::new()
                }
            }
            (Before::After, Change::UserCreated { user, .. }) => {
                if seen_user(user) {
                    vec![event.clone()]
                } else {
                    Vec::new()
                }
            }
            // The tenant's ledger of ended interaction ids is `system`'s alone: everyone
            // else learns the end as the person they see, whole — or that they left sight (a
            // supervisor sees someone on a call in reach until it ends).
            (Before::Seen(before), Change::InteractionEnded { user, .. }) => match (before, seen_user(user)) {
                (true, true) => seen_as_now(state, user).map(at_event).into_iter().collect(),
                (true, false) => vec![at_event(Change::UserUnseen { user: user.clone() })],
                (false, _) => Vec::new(),
            },
            (Before::Seen(before), change) => {
                let [Some(user), _] = change.users() else { return Vec::new() };
                match (before, seen_user(user)) {
                    (true, true) => vec![event.clone()],
                    (false, true) => seen_as_now(state, user).map(at_event).into_iter().collect(),
                    (true, false) => vec![at_event(Change::UserUnseen { user: user.clone() })],
                    (false, false) => Vec::new(),
                }
            }
            (Before::After, _) => Vec::new(),
        }
    }
}

fn seen_as_now(state: &State, user: &UserId) -> Option<Change> {
    let record = state.users.get(user)?;
    Some(Change::UserSeen { user: user.clone(), seen: Box::new(SeenUser::of(state, record)) })
}

/// Whether `change` can change what `observer` sees as a whole: their own roles,
/// assignments or sign-ins, the plan (the Supervisor dashboard) and the reach setting.
fn reshapes(change: &Change, observer: &Actor) -> bool {
    match change {
        Change::PlanSet { .. } => true,
        Change::SettingChanged { setting, .. } => *setting == Setting::SupervisorsLimitedToAssigned,
        Change::UserCreated { user, .. }
        | Change::RolesSet { user, .. }
        | Change::Assigned { user, .. }
        | Change::Unassigned { user, .. }
        | Change::SignedIn { user, .. }
        | Change::SignedOut { user, .. } => observer.is(user),
        // Written out, not `_`: a new event type must say whether it reshapes sight.
        Change::PauseReasonsSet { .. }
        | Change::ChannelCreated { .. }
        | Change::Paused { .. }
        | Change::Resumed { .. }
        | Change::WrapUpEnded { .. }
        | Change::MonitoringStarted { .. }
        | Change::MonitoringModeChanged { .. }
        | Change::MonitoringStopped { .. }
        | Change::InteractionStarted { .. }
        | Change::InteractionEnded { .. }
        | Change::DeviceRegistered { .. }
        | Change::DeviceActivity { .. }
        | Change::UserSeen { .. }
        | Change::UserUnseen { .. }
        | Change::ChannelSeen { .. }
        | Change::ChannelUnseen { .. } => false,
    }
}

/// The sight changes between the observer's projection before `event` (`mirror`) and
/// after it (of `state`, the tenant after the event): the event itself when it is the
/// tenant's configuration, then every person and channel that came into sight, changed or
/// left it. Costs one projection of the tenant, and is taken only for the rare events that
/// reshape an observer's sight.
fn resight(mut mirror: State, state: &State, event: &Event, observer: &Actor) -> Vec<Event> {
    let now = seen_by(state, observer);
    let at_event = |change: Change| Event { at: event.at, by: event.by.clone(), change };
    let mut out = Vec::new();
    if matches!(event.change, Change::PlanSet { .. } | Change::SettingChanged { .. }) {
        evolve(&mut mirror, event);
        out.push(event.clone());
    }
    let mut users: Vec<&UserId> = mirror.users.sorted().into_iter().map(|(id, _)| id).collect();
    users.extend(now.users.sorted().into_iter().map(|(id, _)| id));
    users.sort();
    users.dedup();
    for id in users {
        let was = mirror.users.get(id).map(|u| SeenUser::of(&mirror, u));
        let is = now.users.get(id).map(|u| SeenUser::of(&now, u));
        match (was, is) {
            (Some(was), Some(is)) if was == is => {}
            (_, Some(is)) => out.push(at_event(Change::UserSeen { user: id.clone(), seen: Box::new(is) })),
            (Some(_), None) => out.push(at_event(Change::UserUnseen { user: id.clone() })),
            (None, None) => {}
        }
    }
    let mut channels: Vec<&ChannelId> = mirror.channels.sorted().into_iter().map(|(id, _)| id).collect();
    channels.extend(now.channels.sorted().into_iter().map(|(id, _)| id));
    channels.sort();
    channels.dedup();
    for id in channels {
        match (mirror.channels.get(id), now.channels.get(id)) {
            (Some(was), Some(is)) if was == is => {}
            (_, Some(is)) => out.push(at_event(Change::ChannelSeen { channel: id.clone(), seen: is.clone() })),
            (Some(_), None) => out.push(at_event(Change::ChannelUnseen { channel: id.clone() })),
            (None, None) => {}
        }
    }
    out
}

/// What `observer` knows of `state`: what they see ([`seen_by`]) and, for a supervisor,
/// the card of everyone else "+ Log agent" finds — name, roles, devices; never where they
/// are signed in, paused, on a call or in wrap-up. Law 3 holds verdicts to this: two
/// states an actor knows alike give each of their commands the same verdict.
pub fn known_to(state: &State, observer: &Actor) -> State {
    let mut known = seen_by(state, observer);
    let sight = Sight::of(state, observer);
    if let Sight::Supervisor { .. } = sight {
        for (id, record) in state.users.sorted_where(|id, u| !sight.sees_user(id, u)) {
            let card = User {
                name: record.name.clone(),
                roles: record.roles,
                assignments: Default::default(),
                sign_ins: Default::default(),
                interaction: None,
                wrap_up: None,
                devices: record.devices.clone(),
                work_ended: None,
            };
            admit(&mut known, state, id, card);
        }
    }
    known
}
