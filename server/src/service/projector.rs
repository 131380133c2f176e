//! One projector per tenant on a host, shared by every person's live feed of that tenant:
//! the task that drives the tenant's [`Projection`] with what it waits on — the feeds'
//! wishes to follow, the host's notices, the store's reads, the clock for the counts.
//!
//! A feed used to hold its own copy of the whole tenant and parse every stored event
//! itself: a center where every agent keeps the dashboard open held thousands of copies of
//! the tenant and parsed each event thousands of times. Now one task per followed tenant
//! holds the tenant once and parses each stored event once; a feed holds its queue of
//! messages, nothing of the tenant.
//!
//! Subscribing and events go through the same task in order, so a feed starts exactly
//! where the projector stands: with a `snapshot` of what its person sees unless the client
//! is there already, then every later message — no gap, no duplicate. A feed that does not
//! keep up (its queue full) is dropped: its client reconnects with `Last-Event-ID` and
//! starts again from a snapshot.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use agentstate_core::{Actor, State};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc, watch};

pub use super::projection::Message;
use super::projection::{Page, Projection, Step};
use crate::service::Reads;
use crate::service::writer::Notice;
use crate::store::{Followed, Seq};

/// Events read from the store per page.
const PAGE: usize = 512;
/// How often the team counts are refreshed: colleagues' changes reach an agent as counts,
/// coalesced to one message a second at most (their own changes are sent at once).
pub const COUNTS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// Messages a subscriber may have waiting before it is dropped (and reconnects).
pub const QUEUE: usize = 1024;

/// A feed's wish to follow: who, and where its client stands.
struct Subscribe {
    observer: Actor,
    at: Option<Seq>,
    to: mpsc::Sender<Message>,
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
        let task = Projector { number, tenant: tenant.to_owned(), projectors: self.clone() };
        tokio::spawn(task.run(wishes));
        from
    }

    /// How many tenants have a projector running (for metrics and tests).
    pub fn running(&self) -> usize {
        self.running.lock().map(|r| r.len()).unwrap_or_default()
    }
}

/// One tenant's projector task.
struct Projector {
    number: u64,
    tenant: String,
    projectors: Projectors,
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
    async fn run(self, mut wishes: mpsc::UnboundedReceiver<Subscribe>) {
        metrics::gauge!("agentstate_projectors").increment(1.0);
        // Subscribed before the tenant is read, so nothing stored in between is missed.
        let mut notices = self.projectors.notices.subscribe();
        let _heard = self.projectors.followed.follow(&self.tenant);
        // A tenant that cannot be loaded ends the feeds waiting to follow it (their wishes
        // are dropped with this task).
        if let Ok((seq, state)) = self.load().await {
            let mut projection = Projection::new(self.tenant.clone(), seq, state, PAGE);
            if let Err(reason) = self.drive(&mut projection, &mut wishes, &mut notices).await {
                projection.end(reason);
            }
        }
        self.stopped();
    }

    /// Feeds the projection what it waits on until the host shuts down, nobody follows, or
    /// the feeds cannot go on (the reason they are told).
    async fn drive(
        &self,
        projection: &mut Projection,
        wishes: &mut mpsc::UnboundedReceiver<Subscribe>,
        notices: &mut broadcast::Receiver<Notice>,
    ) -> Result<(), &'static str> {
        let mut shutdown = self.projectors.shutdown.clone();
        let mut tick = tokio::time::interval(COUNTS_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            self.catch_up(projection).await?;
            if !projection.followed() && self.stop_if_idle(projection, wishes) {
                return Ok(());
            }
            let wake = tokio::select! {
                wish = wishes.recv() => wish.map_or(Wake::Stop, Wake::Wish),
                notice = notices.recv() => Wake::Notice(notice),
                _ = shutdown.changed() => Wake::Stop,
                _ = tick.tick() => Wake::Tick,
            };
            match wake {
                Wake::Wish(wish) => projection.admit(wish.observer, wish.at, wish.to),
                Wake::Notice(Ok(notice)) => projection.notice(Some(&notice))?,
                Wake::Notice(Err(RecvError::Lagged(_))) => projection.notice(None)?,
                Wake::Tick => projection.count(crate::clock::now_ms()),
                Wake::Notice(Err(RecvError::Closed)) | Wake::Stop => return Ok(()),
            }
        }
    }

    /// Reads what the projection asks for until it waits. Events pruned from under it
    /// (retention) load the tenant again.
    async fn catch_up(&self, projection: &mut Projection) -> Result<(), &'static str> {
        while let Step::Read { after } = projection.step() {
            let page = self.projectors.reads.events_after(&self.tenant, after, PAGE).await;
            if projection.read(&page.map_err(|_| "store_unavailable")?)? == Page::Pruned {
                let (seq, state) = self.load().await.map_err(|_| "unreadable_tenant")?;
                projection.reload(seq, state);
            }
        }
        Ok(())
    }

    /// The tenant as it stands (newest snapshot and the log after it).
    async fn load(&self) -> Result<(Seq, State), crate::service::ServiceError> {
        let whole = self.projectors.reads.state(&self.tenant).await?;
        Ok((whole.0, whole.1.clone()))
    }

    /// Stops when nobody follows and no wish waits; a wish that came meanwhile is admitted.
    fn stop_if_idle(&self, projection: &mut Projection, wishes: &mut mpsc::UnboundedReceiver<Subscribe>) -> bool {
        let Ok(mut running) = self.projectors.running.lock() else { return true };
        match wishes.try_recv() {
            Ok(wish) => {
                drop(running);
                projection.admit(wish.observer, wish.at, wish.to);
                false
            }
            Err(_) => {
                // Under the lock: a feed that subscribes from now on starts a new projector.
                running.remove(&self.tenant);
                true
            }
        }
    }

    fn stopped(self) {
        metrics::gauge!("agentstate_projectors").decrement(1.0);
        if let Ok(mut running) = self.projectors.running.lock()
            && running.get(&self.tenant).is_some_and(|(number, _)| *number == self.number)
        {
            running.remove(&self.tenant);
        }
    }
}
