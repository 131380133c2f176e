//! One projector per tenant on a host, shared by every person's live feed of that tenant.
//!
//! A feed used to hold its own copy of the whole tenant and parse every stored event
//! itself: a center where every agent keeps the dashboard open held thousands of copies of
//! the tenant and parsed each event thousands of times. Now one task per followed tenant
//! holds the tenant once, parses each stored event once, asks only the observers it may
//! concern (`agentstate_core::sees_only_self`: an agent is asked about events that name
//! them or no one) and hands each subscriber what they may see. A subscriber holds its
//! queue of messages, nothing of the tenant.
//!
//! Subscribing and events go through the same task in order, so a feed starts exactly
//! where the projector stands: with a `snapshot` of what its person sees unless the client
//! is there already, then every later message — no gap, no duplicate. A subscriber that
//! does not keep up (its queue full) is dropped: its client reconnects with
//! `Last-Event-ID` and starts again from a snapshot.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use agentstate_core::views::StateCounts;
use agentstate_core::wire::to_json;
use agentstate_core::{Actor, ChannelId, Event, Millis, State};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc, watch};

use crate::service::Reads;
use crate::service::writer::Notice;
use crate::store::{Followed, Heard, Seq};

/// Events read from the store per page.
const PAGE: usize = 512;
/// How often the team counts are refreshed: colleagues' changes reach an agent as counts,
/// coalesced to one message a second at most (their own changes are sent at once).
pub const COUNTS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// Messages a subscriber may have waiting before it is dropped (and reconnects).
pub const QUEUE: usize = 1024;

/// What a person's feed is sent, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// What the person sees of the tenant as of `seq`: `{"seq":N,"state":{…}}`.
    Snapshot { seq: Seq, data: Arc<str> },
    /// One event (`event`) or several to apply together (`events`), stored as `seq`.
    Event { seq: Seq, data: Arc<str>, several: bool },
    /// The person's channels with the counts per state (`channel_counts`'s answer): sent
    /// when they join and whenever a count changes, at most once per [`COUNTS_EVERY`].
    Counts(Arc<str>),
    /// The feed cannot go on (an unreadable stored event, the store gone).
    Error(&'static str),
}

/// A feed's wish to follow: who, and where its client stands.
struct Subscribe {
    observer: Actor,
    at: Option<Seq>,
    to: mpsc::Sender<Message>,
}

struct Subscriber {
    observer: Actor,
    to: mpsc::Sender<Message>,
    /// The counts last sent (none yet for a new subscriber).
    counted: Option<Arc<str>>,
}

/// A running projector's way in, with its number (a stopped one removes only its own).
type Running = (u64, mpsc::UnboundedSender<Subscribe>);

/// The projectors of this host, by tenant: each runs while a feed follows its tenant.
#[derive(Clone)]
pub struct Projectors {
    /// Each running projector's way in, by tenant.
    running: Arc<Mutex<HashMap<String, Running>>>,
    started: Arc<std::sync::atomic::AtomicU64>,
    reads: Arc<Reads>,
    notices: broadcast::Sender<Notice>,
    followed: Followed,
    shutdown: watch::Receiver<bool>,
}

impl std::fmt::Debug for Projectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let running = self.running.lock().map(|r| r.len()).unwrap_or_default();
        f.debug_struct("Projectors").field("running", &running).finish_non_exhaustive()
    }
}

impl Projectors {
    pub fn new(
        reads: Arc<Reads>,
        notices: broadcast::Sender<Notice>,
        followed: Followed,
        shutdown: watch::Receiver<bool>,
    ) -> Projectors {
        Projectors { running: Arc::default(), started: Arc::default(), reads, notices, followed, shutdown }
    }

    /// Follows `tenant` as `observer` from `at` (where the client stands, if it says): the
    /// messages come on the returned queue, which ends when the projector stops.
    pub fn subscribe(&self, tenant: &str, observer: Actor, at: Option<Seq>) -> mpsc::Receiver<Message> {
        let (to, from) = mpsc::channel(QUEUE);
        let mut wish = Subscribe { observer, at, to };
        let Ok(mut running) = self.running.lock() else { return from };
        if let Some((_, projector)) = running.get(tenant) {
            match projector.send(wish) {
                Ok(()) => return from,
                // It just stopped: a new one starts below.
                Err(mpsc::error::SendError(back)) => wish = back,
            }
        }
        let (tell, wishes) = mpsc::unbounded_channel();
        let _ = tell.send(wish);
        let number = self.started.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        running.insert(tenant.to_owned(), (number, tell));
        let task = Projector {
            number,
            tenant: tenant.to_owned(),
            projectors: self.clone(),
            state: State::new(),
            seq: 0,
            loaded: false,
            subscribers: Vec::new(),
            counts: BTreeMap::new(),
        };
        tokio::spawn(task.run(wishes));
        from
    }

    /// How many tenants have a projector running (for metrics and tests).
    pub fn running(&self) -> usize {
        self.running.lock().map(|r| r.len()).unwrap_or_default()
    }
}

/// One tenant's projector: the tenant as of `seq`, and who follows it.
struct Projector {
    number: u64,
    tenant: String,
    projectors: Projectors,
    state: State,
    seq: Seq,
    loaded: bool,
    subscribers: Vec<Subscriber>,
    /// Every channel's counts as last refreshed.
    counts: BTreeMap<ChannelId, StateCounts>,
}

/// What woke the projector.
enum Wake {
    Wish(Subscribe),
    Notice(Result<Notice, RecvError>),
    /// Time to refresh the counts, and to look whether its feeds are still there.
    Tick,
    Stop,
}

impl Projector {
    async fn run(mut self, mut wishes: mpsc::UnboundedReceiver<Subscribe>) {
        let mut notices = self.projectors.notices.subscribe();
        let _heard = self.projectors.followed.follow(&self.tenant);
        let mut shutdown = self.projectors.shutdown.clone();
        let mut tick = tokio::time::interval(COUNTS_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        metrics::gauge!("agentstate_projectors").increment(1.0);
        // Whether the store may hold events past `seq` that are not in hand.
        let mut behind = true;
        loop {
            if *shutdown.borrow() {
                break;
            }
            if !self.loaded && self.load().await.is_err() {
                self.fail_all("unreadable_tenant");
                break;
            }
            if behind {
                match self.catch_up().await {
                    Ok(()) => behind = false,
                    Err(reason) => {
                        self.fail_all(reason);
                        break;
                    }
                }
            }
            self.subscribers.retain(|s| !s.to.is_closed());
            if self.subscribers.is_empty() && self.stop_if_idle(&mut wishes) {
                break;
            }
            let wake = tokio::select! {
                wish = wishes.recv() => wish.map_or(Wake::Stop, Wake::Wish),
                notice = notices.recv() => Wake::Notice(notice),
                _ = shutdown.changed() => Wake::Stop,
                _ = tick.tick() => Wake::Tick,
            };
            match wake {
                Wake::Wish(wish) => self.admit(wish),
                Wake::Notice(Ok(Notice::Stored { tenant, events })) if tenant == self.tenant => {
                    // This host's events, in order; after a gap the store is read again.
                    for (seq, text) in events.iter() {
                        if *seq <= self.seq {
                            continue;
                        }
                        if *seq != self.seq + 1 {
                            behind = true;
                            break;
                        }
                        if let Err(reason) = self.apply(*seq, text) {
                            self.fail_all(reason);
                            return self.stopped();
                        }
                    }
                }
                Wake::Notice(Ok(Notice::Heard(Heard::Appended { tenant, seq })))
                    if tenant == self.tenant && seq > self.seq =>
                {
                    behind = true;
                }
                Wake::Notice(Ok(Notice::Heard(Heard::Missed { tenant })))
                    if tenant.as_ref().is_none_or(|t| *t == self.tenant) =>
                {
                    behind = true;
                }
                Wake::Tick => self.count(),
                Wake::Notice(Ok(_)) => {}
                Wake::Notice(Err(RecvError::Lagged(_))) => behind = true,
                Wake::Notice(Err(RecvError::Closed)) | Wake::Stop => break,
            }
        }
        self.stopped();
    }

    fn stopped(self) {
        metrics::gauge!("agentstate_projectors").decrement(1.0);
        if let Ok(mut running) = self.projectors.running.lock()
            && running.get(&self.tenant).is_some_and(|(number, _)| *number == self.number)
        {
            running.remove(&self.tenant);
        }
    }

    /// Stops when nobody follows and no wish waits; a wish that came meanwhile is admitted.
    fn stop_if_idle(&mut self, wishes: &mut mpsc::UnboundedReceiver<Subscribe>) -> bool {
        let Ok(mut running) = self.projectors.running.lock() else { return true };
        match wishes.try_recv() {
            Ok(wish) => {
                drop(running);
                self.admit(wish);
                false
            }
            Err(_) => {
                // Under the lock: a feed that subscribes from now on starts a new projector.
                running.remove(&self.tenant);
                true
            }
        }
    }

    /// The tenant as it stands (newest snapshot and the log after it).
    async fn load(&mut self) -> Result<(), crate::service::ServiceError> {
        let whole = self.projectors.reads.state(&self.tenant).await?;
        self.seq = whole.0;
        self.state = whole.1.clone();
        self.loaded = true;
        Ok(())
    }

    /// Applies what the store holds after `seq`. Events pruned from under the projector
    /// (retention) load the tenant again, and everyone starts anew from a snapshot.
    async fn catch_up(&mut self) -> Result<(), &'static str> {
        loop {
            let after = self.seq;
            let page = self.projectors.reads.events_after(&self.tenant, after, PAGE).await;
            let page = page.map_err(|_| "store_unavailable")?;
            if page.first().is_some_and(|(seq, _)| *seq > after + 1) {
                self.load().await.map_err(|_| "unreadable_tenant")?;
                for s in &self.subscribers {
                    let _ = s.to.try_send(snapshot(&self.state, self.seq, &s.observer));
                }
                continue;
            }
            let full = page.len() == PAGE;
            for (seq, text) in &page {
                self.apply(*seq, text)?;
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// A feed joins where the projector stands: a snapshot first unless its client is
    /// exactly there.
    fn admit(&mut self, wish: Subscribe) {
        if wish.at != Some(self.seq) && wish.to.try_send(snapshot(&self.state, self.seq, &wish.observer)).is_err() {
            return;
        }
        self.subscribers.push(Subscriber { observer: wish.observer, to: wish.to, counted: None });
    }

    /// Refreshes every channel's counts as of now and sends each subscriber theirs when
    /// they changed (or were never sent): one pass over the people, and per subscriber
    /// only a look at their own channels unless one of them changed.
    fn count(&mut self) {
        if self.subscribers.is_empty() {
            return;
        }
        let clock = self.state.clock().map_or(0, |c| c.get());
        let at = Millis::new(crate::clock::now_ms().max(clock)).unwrap_or(Millis::MAX);
        let counts = agentstate_core::views::counts_by_channel(&self.state, at);
        let changed: BTreeSet<&ChannelId> =
            counts.iter().filter(|(c, n)| self.counts.get(*c) != Some(*n)).map(|(c, _)| c).collect();
        let state = &self.state;
        self.subscribers.retain_mut(|s| {
            let mine = |c: &ChannelId| changed.contains(c);
            let theirs = state.user(s.observer.as_str()).is_some_and(|u| u.assignments.keys().any(mine));
            if s.counted.is_some() && !theirs {
                return true;
            }
            let data: Arc<str> = Arc::from(to_json(&agentstate_core::channel_counts_from(state, &s.observer, &counts)));
            if s.counted.as_ref() == Some(&data) {
                return true;
            }
            s.counted = Some(data.clone());
            s.to.try_send(Message::Counts(data)).is_ok()
        });
        self.counts = counts;
    }

    /// Folds stored event `seq` and hands each subscriber what they may see of it.
    fn apply(&mut self, seq: Seq, text: &str) -> Result<(), &'static str> {
        let event: Event = serde_json::from_str(text).map_err(|_| {
            tracing::error!(tenant = %self.tenant, seq, "an unreadable stored event: the feeds end");
            "unreadable_event"
        })?;
        let named = event.change.users();
        let everyone = named == [None, None];
        // The observers this event may concern, each once (one person may have several
        // feeds open): everyone who sees more than themselves, and those it names. Each
        // subscriber keeps the place of its observer among them: a look-up, not a search.
        let mut asked: Vec<Actor> = Vec::new();
        let mut place: HashMap<&Actor, usize> = HashMap::new();
        let mut places: Vec<Option<usize>> = Vec::with_capacity(self.subscribers.len());
        for s in &self.subscribers {
            let concerned = everyone
                || !agentstate_core::sees_only_self(&self.state, &s.observer)
                || named.iter().flatten().any(|u| s.observer.is(u));
            places.push(concerned.then(|| {
                *place.entry(&s.observer).or_insert_with(|| {
                    asked.push(s.observer.clone());
                    asked.len() - 1
                })
            }));
        }
        drop(place);
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
        self.subscribers.retain(|s| {
            let Some(Some(message)) = places.next().flatten().map(|i| &written[i]) else { return true };
            // A feed that does not keep up is dropped; its client resumes from a snapshot.
            s.to.try_send(message.clone()).is_ok()
        });
        Ok(())
    }

    fn fail_all(&mut self, reason: &'static str) {
        for s in self.subscribers.drain(..) {
            let _ = s.to.try_send(Message::Error(reason));
        }
    }
}

/// What `observer` sees of `state` as of `seq`, as the feed's first message.
fn snapshot(state: &State, seq: Seq, observer: &Actor) -> Message {
    let seen = to_json(&agentstate_core::seen_by(state, observer));
    Message::Snapshot { seq, data: Arc::from(format!(r#"{{"seq":{seq},"state":{seen}}}"#)) }
}
