//! What a tenant's followers are sent, as a plain state machine: the tenant once, its
//! followers' queues, and the counts last sent. Events, pages of the store, notices and
//! the time come in; messages go out on the followers' queues, and [`Projection::step`]
//! says whether the store must be read. It does no I/O and reads no clock: the projector
//! task (`service::projector`) drives it, and the tests below drive it in memory.
//!
//! Each stored event is parsed once and folded once; only the followers it may concern are
//! asked what they see of it (`agentstate_core::sees_only_self`: an agent is asked about
//! events that name them or no one), and the text of an event seen whole is written once
//! for everyone who gets it. A follower whose queue is full when a message is due (a batch
//! of more events than its queue holds, a slow client) is sent a snapshot once there is
//! room, in place of what it missed; one that makes no room for half a minute is let go.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use agentstate_core::views::StateCounts;
use agentstate_core::wire::to_json;
use agentstate_core::{Actor, ChannelId, Event, Millis, State};
use tokio::sync::mpsc;

pub use crate::service::log_feed::Page;
use crate::service::log_feed::store_may_be_ahead;
use crate::service::writer::Notice;
use crate::store::Seq;

/// What a person's feed is sent, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// What the person sees of the tenant as of `seq`: `{"seq":N,"state":{…}}`.
    Snapshot { seq: Seq, data: Arc<str> },
    /// One event (`event`) or several to apply together (`events`), stored as `seq`.
    Event { seq: Seq, data: Arc<str>, several: bool },
    /// The person's channels with the counts per state (`channel_counts`'s answer): sent
    /// when they join and whenever a count changes, at most once per count.
    Counts(Arc<str>),
    /// The feed cannot go on (an unreadable stored event, the store gone).
    Error(&'static str),
}

/// How many counts ticks (seconds) a follower whose queue overflowed may take to make room
/// for its snapshot before it is let go (its client then reconnects).
const OVERFLOW_TICKS: u32 = 30;

/// A person following the tenant, and the queue their messages go to.
struct Follower {
    observer: Actor,
    to: mpsc::Sender<Message>,
    /// The counts last sent (none yet for a new follower).
    counted: Option<Arc<str>>,
    /// Their counts are to be made again at the next tick: an event named them or no one,
    /// so their channels or what they see of them may have changed with the same numbers.
    recount: bool,
    /// Its queue was full when a message was due (a burst larger than the queue, a slow
    /// client): it is sent nothing more until a snapshot of what it sees fits in its queue,
    /// which stands for everything it missed. Counts the ticks it has waited.
    overflowed: Option<u32>,
}

impl Follower {
    fn new(observer: Actor, to: mpsc::Sender<Message>) -> Follower {
        Follower { observer, to, counted: None, recount: false, overflowed: None }
    }

    /// Queues `message` unless the follower waits for its snapshot; `false` when its feed is
    /// gone.
    fn offer(&mut self, message: Message) -> bool {
        if self.overflowed.is_some() {
            return true;
        }
        match self.to.try_send(message) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.overflowed = Some(0);
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// What the projection needs next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// The store may hold events after `after` that it has not folded: read a page.
    Read { after: Seq },
    /// Nothing until a notice, a follower or the time comes.
    Wait,
}

/// A tenant as of `seq` and who follows it.
pub struct Projection {
    tenant: String,
    state: State,
    seq: Seq,
    /// How many events the store is asked for at once (a full page: there may be more).
    page: usize,
    /// Whether the store may hold events past `seq` that are not in hand.
    behind: bool,
    followers: Vec<Follower>,
    /// Every channel's counts as last refreshed.
    counts: BTreeMap<ChannelId, StateCounts>,
}

impl Projection {
    /// The tenant as loaded, `seq` its last event; what the store holds after it is read
    /// first.
    pub fn new(tenant: String, seq: Seq, state: State, page: usize) -> Projection {
        Projection {
            tenant,
            state,
            seq,
            page: page.max(1),
            behind: true,
            followers: Vec::new(),
            counts: BTreeMap::new(),
        }
    }

    pub fn step(&self) -> Step {
        if self.behind { Step::Read { after: self.seq } } else { Step::Wait }
    }

    /// A person joins where the projection stands: with a snapshot of what they see unless
    /// their client is exactly there (`at`), then every later message.
    pub fn admit(&mut self, observer: Actor, at: Option<Seq>, to: mpsc::Sender<Message>) {
        if at != Some(self.seq) && to.try_send(snapshot(&self.state, self.seq, &observer)).is_err() {
            return;
        }
        self.followers.push(Follower::new(observer, to));
    }

    /// Forgets the followers whose feed is gone; whether anyone still follows.
    pub fn followed(&mut self) -> bool {
        self.followers.retain(|f| !f.to.is_closed());
        !self.followers.is_empty()
    }

    /// A page of the store's events after where [`Step::Read`] said.
    pub fn read(&mut self, page: &[(Seq, String)]) -> Result<Page, &'static str> {
        if page.first().is_some_and(|(seq, _)| *seq > self.seq + 1) {
            return Ok(Page::Pruned);
        }
        for (seq, text) in page {
            if *seq > self.seq {
                self.apply(*seq, text)?;
            }
        }
        self.behind = page.len() >= self.page;
        self.resync();
        Ok(Page::Taken)
    }

    /// The tenant loaded again after events were pruned from under it: everyone starts anew
    /// from a snapshot (not silently missing what retention pruned).
    pub fn reload(&mut self, seq: Seq, state: State) {
        self.seq = seq;
        self.state = state;
        self.behind = true;
        for f in &mut self.followers {
            f.overflowed = f.overflowed.or(Some(0));
        }
        self.resync();
    }

    /// What the host heard; `None` when it missed some (a lagging receiver). This host's
    /// events are folded at once, in order; a gap, another host's append or anything missed
    /// makes it read the store.
    pub fn notice(&mut self, notice: Option<&Notice>) -> Result<(), &'static str> {
        match notice {
            Some(Notice::Stored { tenant, events }) if *tenant == self.tenant => {
                for (seq, text) in events.iter() {
                    if *seq <= self.seq {
                        continue;
                    }
                    if *seq != self.seq + 1 {
                        self.behind = true;
                        break;
                    }
                    self.apply(*seq, text)?;
                }
                self.resync();
            }
            other => self.behind |= store_may_be_ahead(other, &self.tenant, self.seq),
        }
        Ok(())
    }

    /// Refreshes every channel's counts as of `now` (ms since the epoch; never before the
    /// tenant's own clock) and sends each follower theirs when they changed or were never
    /// sent: one pass over the people, and per follower only a look at their own channels
    /// unless one of them changed.
    pub fn count(&mut self, now: u64) {
        for f in &mut self.followers {
            f.overflowed = f.overflowed.map(|ticks| ticks + 1);
        }
        self.followers.retain(|f| f.overflowed.is_none_or(|ticks| ticks <= OVERFLOW_TICKS));
        self.resync();
        if self.followers.is_empty() {
            return;
        }
        let clock = self.state.clock().map_or(0, |c| c.get());
        let at = Millis::new(now.max(clock)).unwrap_or(Millis::MAX);
        let counts = agentstate_core::views::counts_by_channel(&self.state, at);
        let changed: BTreeSet<&ChannelId> =
            counts.iter().filter(|(c, n)| self.counts.get(*c) != Some(*n)).map(|(c, _)| c).collect();
        let state = &self.state;
        self.followers.retain_mut(|f| {
            let mine = |c: &ChannelId| changed.contains(c);
            let theirs = state.user(f.observer.as_str()).is_some_and(|u| u.assignments.keys().any(mine));
            if f.counted.is_some() && !theirs && !f.recount {
                return true;
            }
            f.recount = false;
            let data: Arc<str> = Arc::from(to_json(&agentstate_core::channel_counts_from(state, &f.observer, &counts)));
            if f.counted.as_ref() == Some(&data) {
                return true;
            }
            f.counted = Some(data.clone());
            f.offer(Message::Counts(data))
        });
        self.counts = counts;
    }

    /// Tells every follower the feed cannot go on, and lets them go.
    pub fn end(&mut self, reason: &'static str) {
        for f in self.followers.drain(..) {
            let _ = f.to.try_send(Message::Error(reason));
        }
    }

    /// Folds stored event `seq` and hands each follower what they may see of it. A follower
    /// whose queue is full (it does not keep up) is let go; its client resumes from a
    /// snapshot.
    fn apply(&mut self, seq: Seq, text: &str) -> Result<(), &'static str> {
        let event: Event = serde_json::from_str(text).map_err(|_| {
            tracing::error!(tenant = %self.tenant, seq, "an unreadable stored event: the feeds end");
            "unreadable_event"
        })?;
        let (asked, places) = self.concerned(&event);
        let named = event.change.users();
        for f in &mut self.followers {
            f.recount |= named == [None, None] || named.iter().flatten().any(|u| f.observer.is(u));
        }
        let refs: Vec<&Actor> = asked.iter().collect();
        let sent = agentstate_core::project_for_each(&mut self.state, &event, &refs);
        self.seq = seq;
        // The event is written once for everyone who gets it whole, and only if someone does.
        let mut whole: Option<Arc<str>> = None;
        let written: Vec<Option<Message>> = sent
            .iter()
            .map(|events| match events.as_slice() {
                [] => None,
                [one] if *one == event => {
                    let data = whole.get_or_insert_with(|| Arc::from(to_json(&event))).clone();
                    Some(Message::Event { seq, data, several: false })
                }
                [one] => Some(Message::Event { seq, data: Arc::from(to_json(one)), several: false }),
                many => Some(Message::Event { seq, data: Arc::from(to_json(&many)), several: true }),
            })
            .collect();
        let mut places = places.into_iter();
        self.followers.retain_mut(|f| {
            let Some(Some(message)) = places.next().flatten().map(|i| &written[i]) else { return true };
            f.offer(message.clone())
        });
        Ok(())
    }

    /// Sends each follower whose queue overflowed a snapshot of what it sees now, once
    /// there is room for it: it stands for everything the follower missed, so its client
    /// goes on without a gap and without reconnecting.
    fn resync(&mut self) {
        let (state, seq) = (&self.state, self.seq);
        self.followers.retain_mut(|f| {
            if f.overflowed.is_none() {
                return true;
            }
            match f.to.try_send(snapshot(state, seq, &f.observer)) {
                Ok(()) => {
                    f.overflowed = None;
                    // Its counts are sent again after the snapshot.
                    f.counted = None;
                    true
                }
                Err(mpsc::error::TrySendError::Full(_)) => true,
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        })
    }

    /// The observers `event` may concern, each once (one person may have several feeds
    /// open): everyone who sees more than themselves, and those it names; and for each
    /// follower the place of its observer among them (a look-up, not a search), `None` for
    /// one it cannot concern.
    fn concerned(&self, event: &Event) -> (Vec<Actor>, Vec<Option<usize>>) {
        let named = event.change.users();
        let everyone = named == [None, None];
        let mut asked: Vec<Actor> = Vec::new();
        let mut place: HashMap<&Actor, usize> = HashMap::new();
        let places = self
            .followers
            .iter()
            .map(|f| {
                let concerned = everyone
                    || !agentstate_core::sees_only_self(&self.state, &f.observer)
                    || named.iter().flatten().any(|u| f.observer.is(u));
                concerned.then(|| {
                    *place.entry(&f.observer).or_insert_with(|| {
                        asked.push(f.observer.clone());
                        asked.len() - 1
                    })
                })
            })
            .collect();
        (asked, places)
    }
}

/// What `observer` sees of `state` as of `seq`, as the feed's first message.
fn snapshot(state: &State, seq: Seq, observer: &Actor) -> Message {
    let seen = to_json(&agentstate_core::seen_by(state, observer));
    Message::Snapshot { seq, data: Arc::from(format!(r#"{{"seq":{seq},"state":{seen}}}"#)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Heard;
    use agentstate_core::TenantSeed;
    use agentstate_core::wire::{Outcome, handle_json};

    /// Ana and Bob answer Sales, Ana also Chat; Sue supervises Sales and is an admin.
    fn seeded() -> State {
        let seed: TenantSeed = serde_json::from_str(
            r#"{"plan": "complete", "pause_reasons": ["lunch"],
                "users": [{"id": "ana", "name": "Ana", "roles": ["agent"]},
                          {"id": "bob", "name": "Bob", "roles": ["agent"]},
                          {"id": "sue", "name": "Sue", "roles": ["supervisor", "admin"]}],
                "channels": [{"id": "sales", "kind": "queue", "name": "Sales", "agents": ["ana", "bob"], "supervisors": ["sue"]},
                             {"id": "chat", "kind": "chat", "name": "Chat", "agents": ["ana"]}]}"#,
        )
        .expect("a tenant");
        State::from_events(&seed.events().expect("events"))
    }

    /// The events `commands` make on `state`, as the store holds them from `seq` + 1 on.
    fn stored(state: &mut State, seq: Seq, commands: &[&str]) -> Vec<(Seq, String)> {
        let mut events = Vec::new();
        for command in commands {
            match handle_json(state, command) {
                Outcome::Accepted { events: made } => events.extend(made),
                rejected => panic!("{command}: {rejected:?}"),
            }
        }
        (seq + 1..).zip(events.iter().map(to_json)).collect()
    }

    fn sign_in(user: &str, at: u64) -> String {
        format!(r#"{{"type":"sign_in","actor":"{user}","at":{at},"user":"{user}","channel":"sales"}}"#)
    }

    fn sign_out(user: &str, at: u64) -> String {
        format!(r#"{{"type":"sign_out","actor":"{user}","at":{at},"user":"{user}","channel":"sales"}}"#)
    }

    fn actor(name: &str) -> Actor {
        serde_json::from_value(serde_json::json!(name)).expect("an actor")
    }

    /// A projection of the seeded tenant, caught up at `seq` 3.
    fn caught_up() -> (Projection, State) {
        let state = seeded();
        let mut projection = Projection::new("acme".into(), 3, state.clone(), 10);
        assert_eq!(projection.step(), Step::Read { after: 3 });
        assert_eq!(projection.read(&[]), Ok(Page::Taken));
        assert_eq!(projection.step(), Step::Wait);
        (projection, state)
    }

    fn follow(projection: &mut Projection, who: &str, at: Option<Seq>) -> mpsc::Receiver<Message> {
        let (to, from) = mpsc::channel(16);
        projection.admit(actor(who), at, to);
        from
    }

    fn drained(from: &mut mpsc::Receiver<Message>) -> Vec<Message> {
        std::iter::from_fn(|| from.try_recv().ok()).collect()
    }

    #[test]
    fn a_feed_starts_with_what_its_person_sees_unless_its_client_stands_where_the_projection_does() {
        let (mut projection, state) = caught_up();
        let mut there = follow(&mut projection, "ana", Some(3));
        assert_eq!(drained(&mut there), [], "a client at seq 3 already has everything");
        for at in [None, Some(0), Some(7)] {
            let mut new = follow(&mut projection, "ana", at);
            let seen = to_json(&agentstate_core::seen_by(&state, &actor("ana")));
            let data = Arc::from(format!(r#"{{"seq":3,"state":{seen}}}"#));
            assert_eq!(drained(&mut new), [Message::Snapshot { seq: 3, data }], "{at:?}");
        }
        let snapshot_of =
            |who: &str, projection: &mut Projection| match drained(&mut follow(projection, who, None)).as_slice() {
                [Message::Snapshot { data, .. }] => data.clone(),
                other => panic!("{other:?}"),
            };
        let data = snapshot_of("sue", &mut projection);
        assert!(data.contains("Bob"), "the supervisor sees her agents");
        let data = snapshot_of("ana", &mut projection);
        assert!(!data.contains("Bob"), "an agent sees only herself: {data}");
    }

    #[test]
    fn each_event_goes_to_whom_it_may_concern_once_per_feed() {
        let (mut projection, mut state) = caught_up();
        let (mut ana, mut bob, mut sue, mut sue_again) = (
            follow(&mut projection, "ana", Some(3)),
            follow(&mut projection, "bob", Some(3)),
            follow(&mut projection, "sue", Some(3)),
            follow(&mut projection, "sue", Some(3)),
        );
        let page = stored(&mut state, 3, &[&sign_in("ana", 1000)]);
        assert_eq!(projection.read(&page), Ok(Page::Taken));
        let whole = Message::Event { seq: 4, data: Arc::from(page[0].1.as_str()), several: false };
        let seen = agentstate_core::project_for_each(
            &mut seeded(),
            &serde_json::from_str(&page[0].1).unwrap(),
            &[&actor("ana")],
        );
        let [ana_sees] = seen.as_slice() else { panic!("one observer") };
        let data = Arc::from(to_json(&ana_sees[0]));
        assert_eq!(
            drained(&mut ana),
            [Message::Event { seq: 4, data, several: false }],
            "her own sign-in, as she sees it"
        );
        assert_eq!(drained(&mut sue), std::slice::from_ref(&whole), "her agent's sign-in");
        assert_eq!(drained(&mut sue_again), [whole], "each of her feeds");
        assert_eq!(drained(&mut bob), [], "not his business");
        assert_eq!(projection.step(), Step::Wait, "a short page: caught up");
    }

    #[test]
    fn this_hosts_events_come_in_order_and_a_gap_another_hosts_append_or_a_lag_make_it_read() {
        let (mut projection, mut state) = caught_up();
        let mut sue = follow(&mut projection, "sue", Some(3));
        let events = stored(&mut state, 3, &[&sign_in("ana", 1000), &sign_in("bob", 1100), &sign_out("ana", 1200)]);
        let notice = |tenant: &str, events: &[(Seq, String)]| Notice::Stored {
            tenant: tenant.to_owned(),
            events: events.to_vec().into(),
        };
        projection.notice(Some(&notice("globex", &events[..1]))).unwrap();
        assert_eq!(drained(&mut sue), [], "another tenant's events are not its own");
        projection.notice(Some(&notice("acme", &events[..1]))).unwrap();
        projection.notice(Some(&notice("acme", &events[..1]))).unwrap();
        let seqs = |messages: Vec<Message>| {
            messages.iter().map(|m| if let Message::Event { seq, .. } = m { *seq } else { 0 }).collect::<Vec<_>>()
        };
        assert_eq!(seqs(drained(&mut sue)), [4], "an event it has is not sent twice");
        projection.notice(Some(&notice("acme", &events[2..]))).unwrap();
        assert_eq!((seqs(drained(&mut sue)), projection.step()), (vec![], Step::Read { after: 4 }), "5 is missing");
        projection.read(&events[1..]).unwrap();
        assert_eq!((seqs(drained(&mut sue)), projection.step()), (vec![5, 6], Step::Wait));

        let heard = |tenant: &str, seq| Notice::Heard(Heard::Appended { tenant: tenant.into(), seq });
        projection.notice(Some(&heard("acme", 6))).unwrap();
        projection.notice(Some(&heard("globex", 9))).unwrap();
        projection.notice(Some(&Notice::Heard(Heard::Missed { tenant: Some("globex".into()) }))).unwrap();
        assert_eq!(projection.step(), Step::Wait, "what it has, or another tenant's");
        for wake in [heard("acme", 7), Notice::Heard(Heard::Missed { tenant: None })] {
            projection.notice(Some(&wake)).unwrap();
            assert_eq!(projection.step(), Step::Read { after: 6 }, "{wake:?}");
            projection.read(&[]).unwrap();
        }
        projection.notice(None).unwrap();
        assert_eq!(projection.step(), Step::Read { after: 6 }, "a lagging receiver");
    }

    #[test]
    fn events_pruned_from_under_it_start_every_feed_anew_from_a_snapshot() {
        let (mut projection, mut state) = caught_up();
        let (mut ana, mut sue) = (follow(&mut projection, "ana", Some(3)), follow(&mut projection, "sue", Some(3)));
        projection.notice(None).unwrap();
        let events = stored(&mut state, 3, &[&sign_in("ana", 1000), &sign_in("bob", 1100)]);
        assert_eq!(projection.read(&events[1..]), Ok(Page::Pruned), "event 4 is gone");
        assert_eq!((drained(&mut ana), drained(&mut sue)), (vec![], vec![]), "nothing of the page was taken");
        projection.reload(5, state.clone());
        for (who, feed) in [("ana", &mut ana), ("sue", &mut sue)] {
            let seen = to_json(&agentstate_core::seen_by(&state, &actor(who)));
            let data = Arc::from(format!(r#"{{"seq":5,"state":{seen}}}"#));
            assert_eq!(drained(feed), [Message::Snapshot { seq: 5, data }], "{who}");
        }
        assert_eq!(projection.step(), Step::Read { after: 5 });
    }

    #[test]
    fn counts_are_sent_when_a_person_joins_and_when_their_channels_counts_change() {
        let (mut projection, mut state) = caught_up();
        let mut ana = follow(&mut projection, "ana", Some(3));
        let counts = |messages: Vec<Message>| messages.into_iter().filter(|m| matches!(m, Message::Counts(_))).count();
        projection.count(5_000);
        assert_eq!(counts(drained(&mut ana)), 1, "her first counts");
        projection.count(6_000);
        assert_eq!(counts(drained(&mut ana)), 0, "nothing changed");
        let page = stored(&mut state, 3, &[&sign_in("bob", 6_500)]);
        projection.read(&page).unwrap();
        assert_eq!(drained(&mut ana), [], "Bob's sign-in is not hers ...");
        projection.count(7_000);
        let sent = drained(&mut ana);
        let [Message::Counts(data)] = sent.as_slice() else { panic!("{sent:?}") };
        assert!(data.contains(r#""available":1"#), "... but her team's counts are: {data}");
    }

    #[test]
    fn a_burst_larger_than_a_queue_ends_in_a_snapshot_not_a_gap_or_a_disconnect() {
        let (mut projection, mut state) = caught_up();
        let (to, mut slow) = mpsc::channel(2);
        projection.admit(actor("sue"), Some(3), to);
        let mut ana = follow(&mut projection, "ana", Some(3));
        let page = stored(&mut state, 3, &[&sign_in("ana", 1000), &sign_out("ana", 1100), &sign_in("ana", 1200)]);
        projection.read(&page).unwrap();
        let seqs = |messages: &[Message]| {
            messages.iter().map(|m| if let Message::Event { seq, .. } = m { *seq } else { 0 }).collect::<Vec<_>>()
        };
        assert_eq!(seqs(&drained(&mut slow)), [4, 5], "her queue held two");
        assert_eq!(drained(&mut ana).len(), 3);
        projection.read(&[]).unwrap();
        let seen = to_json(&agentstate_core::seen_by(&state, &actor("sue")));
        let data = Arc::from(format!(r#"{{"seq":6,"state":{seen}}}"#));
        assert_eq!(drained(&mut slow), [Message::Snapshot { seq: 6, data }], "what she missed, as a snapshot");
        let next = stored(&mut state, 6, &[&sign_in("bob", 1300)]);
        projection.read(&next).unwrap();
        assert_eq!(seqs(&drained(&mut slow)), [7], "then events again");
        assert!(projection.followed());
    }

    #[test]
    fn a_feed_that_makes_no_room_is_let_go_a_closed_one_at_once_and_an_unreadable_event_ends_all() {
        let (mut projection, mut state) = caught_up();
        let (to, mut stuck) = mpsc::channel(1);
        projection.admit(actor("sue"), Some(3), to);
        let page = stored(&mut state, 3, &[&sign_in("ana", 1000), &sign_out("ana", 1100)]);
        projection.read(&page).unwrap();
        for second in 0..OVERFLOW_TICKS {
            projection.count(10_000 + u64::from(second) * 1000);
        }
        assert!(projection.followed(), "half a minute to make room");
        projection.count(99_000);
        assert!(!projection.followed(), "then let go");
        assert_eq!(drained(&mut stuck).len(), 1);
        assert!(matches!(stuck.try_recv(), Err(mpsc::error::TryRecvError::Disconnected)), "its feed ends");

        let ana = follow(&mut projection, "ana", Some(5));
        drop(ana);
        assert!(!projection.followed(), "a closed feed is forgotten");

        let mut sue = follow(&mut projection, "sue", None);
        drained(&mut sue);
        assert_eq!(projection.read(&[(6, "not an event".to_owned())]), Err("unreadable_event"));
        projection.end("unreadable_event");
        assert_eq!(drained(&mut sue), [Message::Error("unreadable_event")]);
        assert!(!projection.followed());
    }

    #[test]
    fn counts_follow_a_change_of_the_persons_channels_even_when_no_number_changes() {
        let (mut projection, mut state) = caught_up();
        let mut ana = follow(&mut projection, "ana", Some(3));
        let counted = |messages: Vec<Message>| match messages.as_slice() {
            [Message::Counts(data)] => data.to_string(),
            other => panic!("{other:?}"),
        };
        projection.count(5_000);
        assert!(counted(drained(&mut ana)).contains(r#""channel":"chat""#));
        let unassigned = r#"{"type":"unassign","actor":"sue","at":5500,"user":"ana","channel":"chat"}"#;
        projection.read(&stored(&mut state, 3, &[unassigned])).unwrap();
        drained(&mut ana);
        projection.count(6_000);
        let now = counted(drained(&mut ana));
        assert!(!now.contains(r#""channel":"chat""#) && now.contains(r#""channel":"sales""#), "{now}");
    }
}
