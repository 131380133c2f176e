//! `GET /api/tenants/{tenant}/events` — the tenant's log as Server-Sent Events, each with
//! its sequence number as the SSE `id`. A client resumes where it stopped with
//! `?after=N` or the standard `Last-Event-ID` header; it first gets everything stored
//! after that, then live events as they are stored — by this host or, on a shared store,
//! by any other (their notices say where the log ends; the events are read from the store,
//! so each is sent once and in order). Feeds end at shutdown, and when their token is
//! revoked (asked about once a second, also while nothing is sent, and before an event is).
//!
//! A person's feed is a subscription to the tenant's one projector on this host
//! (`service::projector`): it holds its queue of messages, not a copy of the tenant.
//! `system` follows the log as it is stored.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, KeepAliveStream, Sse};
use futures_util::stream::{BoxStream, StreamExt};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc, watch};

use agentstate_core::Actor;

use super::App;
use super::auth::Caller;
use super::errors::ApiError;
use super::feed_slots::FeedSlot;
use super::query::{Path, Query};
use crate::service::log_feed::{LogFeed, Page, Step};
use crate::service::projector::Message;
use crate::service::writer::Notice;
use crate::store::{FollowedTenant, Seq};

/// Events read from the store per round.
const PAGE: usize = 512;
/// How often a feed asks whether its token still stands (the answer is cached for a while).
const RECHECK: Duration = Duration::from_secs(1);
/// How often a feed that sends nothing asks (the grants are cached about as long): a
/// revoked token's quiet feed ends within seconds, without a wake-up per feed per second.
const QUIET_RECHECK: Duration = Duration::from_secs(5);

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AfterParam {
    /// Events after this sequence number, unless `Last-Event-ID` says where the client
    /// stands (a reconnecting `EventSource` sends both); else all.
    #[param(value_type = Option<u64>)]
    after: Option<Seq>,
}

/// `system`'s feed: the log as it is stored ([`LogFeed`]), with what it reads and waits on.
struct LogFollower {
    feed: LogFeed,
    notices: broadcast::Receiver<Notice>,
    shutdown: watch::Receiver<bool>,
    held: Held,
    /// The host hears of other hosts' appends to the tenant while it lives.
    _heard: FollowedTenant,
}

/// What every live feed holds: its caller's access, checked again now and then, and its
/// place among the host's feeds.
struct Held {
    app: App,
    caller: Caller,
    /// When the token was last found valid.
    checked: Instant,
    /// Asks again while nothing is sent: a quiet feed of a revoked token ends too.
    recheck: tokio::time::Interval,
    _counted: Following,
    /// Its place among the token's and the host's feeds.
    _slot: FeedSlot,
}

impl Held {
    fn new(app: App, caller: Caller, slot: FeedSlot) -> Held {
        let mut recheck = tokio::time::interval_at(tokio::time::Instant::now() + QUIET_RECHECK, QUIET_RECHECK);
        recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Held { app, caller, checked: Instant::now(), recheck, _counted: Following::start(), _slot: slot }
    }

    /// Whether the token still stands; asks the server's grants at most once a second.
    async fn still_allowed(&mut self) -> bool {
        if self.checked.elapsed() < RECHECK {
            return true;
        }
        match self.app.grant(&self.caller.credential, self.caller.client).await {
            Ok(Some(_)) => {
                self.checked = Instant::now();
                true
            }
            _ => false,
        }
    }
}

/// Counts the live followers of this host (`agentstate_live_followers`) while it lives.
struct Following;

impl Following {
    fn start() -> Following {
        metrics::gauge!("agentstate_live_followers").increment(1.0);
        Following
    }
}

impl Drop for Following {
    fn drop(&mut self) {
        metrics::gauge!("agentstate_live_followers").decrement(1.0);
    }
}

/// A person's feed: the messages their tenant's projector hands them.
struct Person {
    messages: mpsc::Receiver<Message>,
    shutdown: watch::Receiver<bool>,
    held: Held,
}

impl Person {
    /// The next message to send; `None` ends the feed.
    async fn next(&mut self) -> Option<Event> {
        let message = loop {
            tokio::select! {
                message = self.messages.recv() => break message?,
                _ = self.shutdown.changed() => return None,
                _ = self.held.recheck.tick() => if !self.held.still_allowed().await {
                    return None;
                },
            }
        };
        if *self.shutdown.borrow() || !self.held.still_allowed().await {
            return None;
        }
        Some(match message {
            Message::Snapshot { seq, data } => Event::default().id(seq.to_string()).event("snapshot").data(&*data),
            Message::Event { seq, data, several } => {
                Event::default().id(seq.to_string()).event(if several { "events" } else { "event" }).data(&*data)
            }
            // No id: counts are no place in the log, and a reconnect gets them anew.
            Message::Counts(data) => Event::default().event("counts").data(&*data),
            Message::Error(reason) => Event::default().event("error").data(reason),
        })
    }
}

impl LogFollower {
    /// The next message to send; `None` ends the feed.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if *self.shutdown.borrow() {
                return None;
            }
            match self.feed.step() {
                Step::Send(seq, event) => {
                    if !self.held.still_allowed().await {
                        return None;
                    }
                    return Some(Event::default().id(seq.to_string()).event("event").data(event));
                }
                Step::Read { after } => {
                    let reads = &self.held.app.shared.reads;
                    let page = reads.events_after(self.feed.tenant(), after, self.feed.page()).await.ok()?;
                    if self.feed.read(page) == Page::Pruned {
                        // The client starts anew from a snapshot rather than silently
                        // missing what retention pruned.
                        let whole = reads.state(self.feed.tenant()).await.ok()?;
                        let (seq, state) = (whole.0, &whole.1);
                        self.feed.restart(seq);
                        let data = format!(r#"{{"seq":{seq},"state":{}}}"#, agentstate_core::wire::to_json(state));
                        return Some(Event::default().id(seq.to_string()).event("snapshot").data(data));
                    }
                }
                Step::Wait => tokio::select! {
                    notice = self.notices.recv() => match notice {
                        Ok(notice) => self.feed.notice(Some(&notice)),
                        Err(RecvError::Lagged(_)) => self.feed.notice(None),
                        Err(RecvError::Closed) => return None,
                    },
                    _ = self.shutdown.changed() => return None,
                    _ = self.held.recheck.tick() => if !self.held.still_allowed().await {
                        return None;
                    },
                },
            }
        }
    }
}

/// Where a client stands: `Last-Event-ID` (a reconnecting EventSource sends the page's
/// `?after=` again and, newer, the id of the last event it got: that one says), else
/// `after`, else the beginning.
fn cursor_of(headers: &HeaderMap, param: &AfterParam) -> Result<Seq, ApiError> {
    let resume = match headers.get("last-event-id") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<Seq>().ok())
                .ok_or_else(|| ApiError::InvalidQuery("Last-Event-ID: not a sequence number".to_owned()))?,
        ),
    };
    let cursor = resume.or(param.after).unwrap_or(0);
    // A sequence number is stored as a signed 64-bit integer: anything beyond is no
    // position in any log (and must not wrap around to the beginning).
    if cursor > i64::MAX as u64 {
        return Err(ApiError::InvalidQuery(format!("after={cursor} is beyond any sequence number")));
    }
    Ok(cursor)
}

fn stream_of<F>(source: F) -> Sse<KeepAliveStream<BoxStream<'static, Result<Event, Infallible>>>>
where
    F: futures_util::Stream<Item = Event> + Send + 'static,
{
    Sse::new(source.map(Ok).boxed()).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// The tenant's events as server-sent events: `id:` the sequence number, `data:` one
/// event. Everything stored after the cursor first, then each event as it is stored.
#[utoipa::path(get, path = "/tenants/{tenant}/events", tag = "views",
    params(super::openapi::TenantPath, AfterParam,
        ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this sequence number")),
    responses(
        (status = 200, description = "A stream of events until the access ends or the server stops",
            content_type = "text/event-stream", body = super::answers::FeedMessage),
        (status = 400, description = "`after` (or `Last-Event-ID`, which comes first) not a sequence number, or for `system` beyond the log's end (`invalid_query`)", body = super::answers::ErrorBody),
        (status = 401, description = "No valid token or session", body = super::answers::ErrorBody),
        (status = 404, description = "Not this token's tenant", body = super::answers::ErrorBody),
        (status = 429, description = "The token holds as many live feeds as it may, 20 by default (`too_many_feeds`), or too many requests (`rate_limited`)", body = super::answers::ErrorBody),
        (status = 503, description = "The server holds as many live feeds as it may (`too_many_feeds`)", body = super::answers::ErrorBody),
    ))]
pub async fn events(
    State(app): State<App>,
    Path(super::openapi::TenantPath { tenant }): Path<super::openapi::TenantPath>,
    Query(param): Query<AfterParam>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<Sse<KeepAliveStream<BoxStream<'static, Result<Event, Infallible>>>>, ApiError> {
    let cursor = cursor_of(&headers, &param)?;
    let slot = app.shared.feeds.take(&caller.token)?;
    let observer = caller.actor.clone();
    if observer != Actor::System {
        // A person follows the tenant's projector on this host from where their client
        // stands; a client that is not exactly there (behind, ahead on another host, or
        // new) first gets what they may see, as a `snapshot` message.
        // A client at 0 holds nothing (a tenant's description is no event of its log): it
        // gets a snapshot even of a tenant that has no events yet.
        let messages = app.shared.projectors.subscribe(&tenant, observer, (cursor > 0).then_some(cursor));
        let person = Person { shutdown: app.shared.shutdown.clone(), messages, held: Held::new(app, caller, slot) };
        return Ok(stream_of(futures_util::stream::unfold(person, |mut person| async move {
            person.next().await.map(|event| (event, person))
        })));
    }
    // Subscribed before the first read, so nothing stored in between is missed. (Other
    // hosts' appends are heard once the store listens for the tenant, which says so with
    // a `Missed` notice of the tenant: the feed then reads the store again.)
    let notices = app.shared.notices.subscribe();
    let heard = app.shared.followed.follow(&tenant);
    let last = app.shared.writer.last_seq(tenant.clone()).await?;
    // `system` follows the log as it is, resumable by sequence number; a cursor past the
    // log's end would silently skip what is stored next.
    if cursor > last {
        return Err(ApiError::InvalidQuery(format!("after={cursor} is beyond the log's end ({last})")));
    }
    let follower = LogFollower {
        feed: LogFeed::new(tenant, cursor, PAGE),
        notices,
        shutdown: app.shared.shutdown.clone(),
        held: Held::new(app, caller, slot),
        _heard: heard,
    };
    Ok(stream_of(futures_util::stream::unfold(follower, |mut follower| async move {
        follower.next().await.map(|event| (event, follower))
    })))
}
