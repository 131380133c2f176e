//! The day at a glance: for each agent and channel, the intervals of each state in a time
//! range and their totals — a fold of the event log, like `history`, because the state
//! keeps no past. Wrap-up ends at its deadline without an event, so the fold ends it there
//! too.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::channel::AssignAs;
use crate::model::event::{Change, Event};
use crate::model::ids::{ChannelId, Millis, PauseReason, UserId};
use crate::model::state::State;

/// What an agent is doing on a channel. Work comes first: an agent on a call, or in its
/// wrap-up, is busy on every channel they are signed in to, paused or not.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    SignedOut,
    Available,
    /// On a call or in a chat (on this channel or another).
    OnInteraction,
    WrapUp,
    Paused,
}

impl AgentState {
    pub const ALL: [AgentState; 5] = [
        AgentState::SignedOut,
        AgentState::Available,
        AgentState::OnInteraction,
        AgentState::WrapUp,
        AgentState::Paused,
    ];

    /// What an agent shows on a channel, the one order every view uses: signed out there,
    /// else work first (a call, a chat, or its wrap-up keeps an agent busy on every channel
    /// they are signed in to), then a pause of this sign-in, else available.
    pub fn of(situation: Situation) -> AgentState {
        match situation {
            Situation { signed_in: false, .. } => AgentState::SignedOut,
            Situation { on_interaction: true, .. } => AgentState::OnInteraction,
            Situation { in_wrap_up: true, .. } => AgentState::WrapUp,
            Situation { paused: true, .. } => AgentState::Paused,
            Situation { .. } => AgentState::Available,
        }
    }
}

/// What decides an agent's state on one channel ([`AgentState::of`]).
#[derive(Clone, Copy, Debug)]
pub struct Situation {
    /// Signed in on this channel.
    pub signed_in: bool,
    /// On an interaction, on this channel or another.
    pub on_interaction: bool,
    /// In wrap-up, on this channel or another.
    pub in_wrap_up: bool,
    /// This sign-in is paused.
    pub paused: bool,
}

/// One stretch of one state, `from` inclusive, `to` exclusive.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StateInterval {
    pub state: AgentState,
    pub from: Millis,
    pub to: Millis,
    /// The pause reason, for `paused`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub reason: Option<PauseReason>,
}

/// Time per state in the range, in milliseconds; they add up to the range's length.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivityTotals {
    /// Everything but `signed_out_ms`.
    pub signed_in_ms: u64,
    pub signed_out_ms: u64,
    pub available_ms: u64,
    pub on_interaction_ms: u64,
    pub wrap_up_ms: u64,
    pub paused_ms: u64,
    /// `paused_ms` by reason.
    #[cfg_attr(feature = "typescript", tsify(type = "Record<string, number>"))]
    pub paused_by_reason: BTreeMap<PauseReason, u64>,
    /// Interactions on this channel that ended in the range.
    pub interactions_handled: u32,
}

/// One agent on one channel.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivityRow {
    pub user: UserId,
    pub channel: ChannelId,
    /// In time order, adjacent, covering the whole range.
    pub intervals: Vec<StateInterval>,
    pub totals: ActivityTotals,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivityReport {
    pub from: Millis,
    pub to: Millis,
    /// Every agent and channel with a sign-in during the range, and every agent assigned
    /// to a channel at some time in it (signed out throughout, when they never signed in:
    /// the absent agent is what a supervisor looks for), by user, then channel.
    pub rows: Vec<ActivityRow>,
}

/// A state with what distinguishes one pause from another.
type Shown = (AgentState, Option<PauseReason>);

/// One user's sign-in to one channel, as the fold goes.
struct Seat {
    signed_in: bool,
    paused: Option<PauseReason>,
    /// The state shown now, and since when.
    shown: Shown,
    since: Millis,
    intervals: Vec<StateInterval>,
    handled: u32,
    /// Since when the person is assigned to the channel as an agent, while they are.
    assigned_since: Option<Millis>,
    /// Whether they were assigned as an agent at some time in the range.
    assigned_in_range: bool,
}

impl Seat {
    /// The agent assignment ends at `at`: it counts for the range when it overlapped it.
    fn unassign(&mut self, at: Millis, (from, to): (Millis, Millis)) {
        if let Some(since) = self.assigned_since.take()
            && at > from
            && since < to
        {
            self.assigned_in_range = true;
        }
    }
}

/// One user, as the fold goes.
#[derive(Default)]
struct Person {
    on_interaction: bool,
    wrap_up_until: Option<Millis>,
    seats: BTreeMap<ChannelId, Seat>,
}

impl Person {
    fn shown(&self, seat: &Seat) -> Shown {
        let state = AgentState::of(Situation {
            signed_in: seat.signed_in,
            on_interaction: self.on_interaction,
            in_wrap_up: self.wrap_up_until.is_some(),
            paused: seat.paused.is_some(),
        });
        let reason = seat.paused.clone().filter(|_| state == AgentState::Paused);
        (state, reason)
    }

    /// Every seat shows what the person's state says as of `at`.
    fn show(&mut self, at: Millis, range: (Millis, Millis)) {
        let shown: Vec<Shown> = self.seats.values().map(|seat| self.shown(seat)).collect();
        for (seat, shown) in self.seats.values_mut().zip(shown) {
            if seat.shown != shown {
                close(seat, at, range);
                seat.shown = shown;
                seat.since = at;
            }
        }
    }

    /// A wrap-up whose deadline has come by `at` ends at its deadline.
    fn expire(&mut self, at: Millis, range: (Millis, Millis)) {
        if let Some(until) = self.wrap_up_until
            && until <= at
        {
            self.wrap_up_until = None;
            self.show(until, range);
        }
    }

    fn seat(&mut self, channel: &ChannelId, range: (Millis, Millis)) -> &mut Seat {
        self.seats.entry(channel.clone()).or_insert_with(|| Seat {
            signed_in: false,
            paused: None,
            shown: (AgentState::SignedOut, None),
            since: range.0,
            intervals: Vec::new(),
            handled: 0,
            assigned_since: None,
            assigned_in_range: false,
        })
    }
}

/// Records the seat's current state from its start to `at`, as far as it lies in `range`.
fn close(seat: &mut Seat, at: Millis, (from, to): (Millis, Millis)) {
    let start = seat.since.max(from);
    let end = at.min(to);
    if end > start {
        let (state, reason) = seat.shown.clone();
        seat.intervals.push(StateInterval { state, from: start, to: end, reason });
    }
}

/// Each agent's states on each channel from `from` to `to`, folded from `log` (in log
/// order; events before `from` set the scene). An empty range has no rows.
pub fn activity<'e>(log: impl IntoIterator<Item = &'e Event>, from: Millis, to: Millis) -> ActivityReport {
    fold(BTreeMap::new(), log, (from, to))
}

/// As [`activity`], for a log that does not begin with the tenant: `log` follows `start`
/// (the state folded from the events before it — a base snapshot, once older events were
/// pruned). `start` sets the scene as of its clock, the time of its last event: before
/// that nothing is known, so a range reaching back before it shows `signed_out` there; a
/// range from the clock on gives exactly what the whole log would.
pub fn activity_from<'e>(
    start: &State,
    log: impl IntoIterator<Item = &'e Event>,
    from: Millis,
    to: Millis,
) -> ActivityReport {
    let range = (from, to);
    let since = start.clock().unwrap_or(Millis::ZERO);
    let mut people: BTreeMap<UserId, Person> = BTreeMap::new();
    for (id, user) in start.users() {
        let assigned = user.assignments.iter().any(|(_, a)| a.agent);
        if user.sign_ins.is_empty() && user.interaction.is_none() && user.wrap_up.is_none() && !assigned {
            continue;
        }
        // What the fold of the whole log would hold at `since`: a wrap-up past its deadline
        // is over (the state keeps it until the next event about it), and work comes first.
        let on_interaction = user.interaction.is_some();
        let wrap_up_until = user.wrap_up.as_ref().map(|w| w.until).filter(|until| *until > since && !on_interaction);
        let mut person = Person { on_interaction, wrap_up_until, seats: BTreeMap::new() };
        for (channel, sign_in) in user.sign_ins.iter() {
            let seat = person.seat(channel, range);
            seat.signed_in = true;
            seat.paused = sign_in.pause.as_ref().map(|p| p.reason.clone());
        }
        for (channel, assignment) in user.assignments.iter() {
            if assignment.agent {
                // Since when is not known before the base; from its clock on is what counts.
                person.seat(channel, range).assigned_since = Some(since);
            }
        }
        person.show(since, range);
        people.insert(id.clone(), person);
    }
    fold(people, log, range)
}

/// The events that change no agent's state on a channel. Written out, not `_`, so that a
/// new event type does not compile until the day at a glance says what it does with it.
macro_rules! not_about_a_seat {
    () => {
        Change::PlanSet { .. }
            | Change::SettingChanged { .. }
            | Change::PauseReasonsSet { .. }
            | Change::UserCreated { .. }
            | Change::RolesSet { .. }
            | Change::ChannelCreated { .. }
            | Change::MonitoringStarted { .. }
            | Change::MonitoringModeChanged { .. }
            | Change::MonitoringStopped { .. }
            | Change::DeviceRegistered { .. }
            | Change::DeviceActivity { .. }
            | Change::UserSeen { .. }
            | Change::UserUnseen { .. }
            | Change::ChannelSeen { .. }
            | Change::ChannelUnseen { .. }
    };
}

/// Folds `log` on from `people` (as the fold left them before it) into the report.
fn fold<'e>(
    mut people: BTreeMap<UserId, Person>,
    log: impl IntoIterator<Item = &'e Event>,
    range: (Millis, Millis),
) -> ActivityReport {
    let (from, to) = range;
    if to > from {
        for event in log {
            let at = event.at;
            if at > to {
                break;
            }
            let (user, channel) = match &event.change {
                Change::SignedIn { user, channel }
                | Change::SignedOut { user, channel }
                | Change::Paused { user, channel, .. }
                | Change::Resumed { user, channel }
                | Change::WrapUpEnded { user, channel }
                | Change::InteractionStarted { user, channel, .. }
                | Change::InteractionEnded { user, channel, .. }
                | Change::Assigned { user, channel, .. }
                | Change::Unassigned { user, channel } => (user, channel),
                not_about_a_seat!() => continue,
            };
            let person = people.entry(user.clone()).or_default();
            person.expire(at, range);
            match &event.change {
                Change::SignedIn { .. } => person.seat(channel, range).signed_in = true,
                Change::SignedOut { .. } => {
                    let seat = person.seat(channel, range);
                    seat.signed_in = false;
                    seat.paused = None;
                }
                Change::Paused { reason, .. } => person.seat(channel, range).paused = Some(reason.clone()),
                Change::Resumed { .. } => person.seat(channel, range).paused = None,
                Change::WrapUpEnded { .. } => person.wrap_up_until = None,
                Change::Assigned { r#as: AssignAs::Agent, .. } => {
                    let seat = person.seat(channel, range);
                    seat.assigned_since = seat.assigned_since.or(Some(at));
                }
                Change::Assigned { r#as: AssignAs::Supervisor, .. } => {}
                Change::Unassigned { .. } => person.seat(channel, range).unassign(at, range),
                Change::InteractionStarted { .. } => {
                    person.on_interaction = true;
                    person.wrap_up_until = None;
                }
                Change::InteractionEnded { wrap_up_until, .. } => {
                    person.on_interaction = false;
                    person.wrap_up_until = wrap_up_until.filter(|until| *until > at);
                    if at >= from && at < to {
                        person.seat(channel, range).handled += 1;
                    }
                }
                not_about_a_seat!() => {}
            }
            person.show(at, range);
        }
    }
    ActivityReport { from, to, rows: rows(people, range) }
}

/// Each person's seats as of the range's end: a row per seat they were assigned to or
/// signed in on within it.
fn rows(people: BTreeMap<UserId, Person>, range: (Millis, Millis)) -> Vec<ActivityRow> {
    let to = range.1;
    let mut rows = Vec::new();
    for (user, mut person) in people {
        person.expire(to, range);
        for (channel, mut seat) in person.seats {
            close(&mut seat, to, range);
            seat.unassign(to, range);
            if !seat.assigned_in_range && seat.intervals.iter().all(|i| i.state == AgentState::SignedOut) {
                continue;
            }
            let totals = totals(&seat.intervals, seat.handled);
            rows.push(ActivityRow { user: user.clone(), channel, intervals: seat.intervals, totals });
        }
    }
    rows
}

fn totals(intervals: &[StateInterval], handled: u32) -> ActivityTotals {
    let mut totals = ActivityTotals { interactions_handled: handled, ..ActivityTotals::default() };
    for interval in intervals {
        let ms = interval.from.until(interval.to);
        match interval.state {
            AgentState::SignedOut => totals.signed_out_ms += ms,
            AgentState::Available => totals.available_ms += ms,
            AgentState::OnInteraction => totals.on_interaction_ms += ms,
            AgentState::WrapUp => totals.wrap_up_ms += ms,
            AgentState::Paused => {
                totals.paused_ms += ms;
                if let Some(reason) = &interval.reason {
                    *totals.paused_by_reason.entry(reason.clone()).or_default() += ms;
                }
            }
        }
        if interval.state != AgentState::SignedOut {
            totals.signed_in_ms += ms;
        }
    }
    totals
}
