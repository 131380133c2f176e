//! The one thread that owns the tenants and the store. Requests queue on a channel;
//! commands that arrive together are decided in turn and stored in one transaction
//! (group commit), so concurrent clients share a sync to disk instead of queueing for
//! one each. The thread also reads the server's clock for the service, which stamps every
//! command's `at` with it, never behind the tenant's last stored event.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, oneshot, watch};

use agentstate_core::{Millis, Query};

use crate::clock::now_ms;
pub use crate::service::Incoming;
use crate::service::{ServiceError, Step, Submitted, TenantService};
use crate::sessions::{Credential, Opened};
use crate::store::Heard;
use crate::store::{Seq, SsoProvider, SsoSignIn, TokenGrant};
use crate::tokens::TokenError;

/// A tenant's log grew, for every live feed.
#[derive(Clone, Debug)]
pub enum Notice {
    /// This host stored these events, in order (read once for every feed).
    Stored { tenant: String, events: Arc<[(Seq, String)]> },
    /// What the store told of other hosts: an append, or notices missed.
    Heard(Heard),
}

/// The tenants, as the writer thread holds them.
pub struct Desk {
    pub service: TenantService,
}

impl std::fmt::Debug for Desk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desk").field("service", &self.service).finish_non_exhaustive()
    }
}

impl Desk {
    /// Now for `tenant`, never before its last event: the `at` a view is asked at.
    pub fn now(&mut self, tenant: &str) -> Result<agentstate_core::Millis, ServiceError> {
        let now = self.service.now(tenant, now_ms())?;
        Ok(agentstate_core::Millis::new(now).unwrap_or(agentstate_core::Millis::ZERO))
    }
}

type Work = Box<dyn FnOnce(&mut Desk) + Send>;

enum Job {
    Submit { tenant: String, commands: Vec<Incoming>, reply: oneshot::Sender<Vec<Result<Submitted, ServiceError>>> },
    Run(Work),
}

/// Most commands decided and stored in one transaction.
const GROUP: usize = 1024;

/// A handle on the writer thread.
#[derive(Clone, Debug)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

#[derive(Debug, thiserror::Error)]
#[error("the server is shutting down")]
pub struct Gone;

impl Writer {
    /// Starts the thread; it ends once every `Writer` is dropped and the queue is drained.
    /// Should the thread fail (a defect: it panicked), it sets `failed`, so the server
    /// stops instead of answering 503 to every request from then on.
    pub fn start(
        service: TenantService,
        notices: broadcast::Sender<Notice>,
        failed: Arc<watch::Sender<bool>>,
    ) -> Result<(Writer, std::thread::JoinHandle<()>), std::io::Error> {
        let (jobs, queue) = mpsc::channel(4096);
        let desk = Desk { service };
        let thread = std::thread::Builder::new().name("agentstate-writer".into()).spawn(move || {
            let served = std::panic::catch_unwind(AssertUnwindSafe(|| serve_jobs(desk, queue, &notices)));
            if served.is_err() {
                tracing::error!("the writer thread failed; stopping the server");
                failed.send_replace(true);
            }
        })?;
        Ok((Writer { jobs }, thread))
    }

    /// Decides `commands` for `tenant`, stamped with the server's time, and stores them.
    pub async fn submit(
        &self,
        tenant: String,
        commands: Vec<Incoming>,
    ) -> Result<Vec<Result<Submitted, ServiceError>>, Gone> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job::Submit { tenant, commands, reply }).await.map_err(|_| Gone)?;
        answer.await.map_err(|_| Gone)
    }

    /// Runs `work` on the writer thread and returns what it gives.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Desk) -> T + Send + 'static,
    ) -> Result<T, Gone> {
        let (reply, answer) = oneshot::channel();
        let job: Work = Box::new(move |desk| {
            let _ = reply.send(work(desk));
        });
        self.jobs.send(Job::Run(job)).await.map_err(|_| Gone)?;
        answer.await.map_err(|_| Gone)
    }

    /// Runs `work` on the service, its refusal and the writer's absence one error.
    async fn ask<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Desk) -> Result<T, ServiceError> + Send + 'static,
    ) -> Result<T, Asked> {
        Ok(self.run(work).await??)
    }

    /// Answers the view `query` builds for the server's time (never before the tenant's
    /// last event), as the module's JSON.
    pub async fn view(
        &self,
        tenant: String,
        query: impl FnOnce(Millis) -> Query + Send + 'static,
    ) -> Result<String, Asked> {
        self.ask(move |desk| {
            let at = desk.now(&tenant)?;
            desk.service.query(&tenant, &query(at))
        })
        .await
    }

    /// Whom the access token with this hash speaks for.
    pub async fn token(&self, hash: String) -> Result<Option<TokenGrant>, Asked> {
        self.ask(move |desk| desk.service.token(&hash)).await
    }

    /// Whom the browser session with this hash speaks for, and its token's hash.
    pub async fn session(&self, hash: String) -> Result<Option<(TokenGrant, String)>, Asked> {
        self.ask(move |desk| desk.service.session(&hash)).await
    }

    /// Opens a browser session with an access token, or by using a sign-in link up.
    pub async fn open_session(&self, credential: Credential) -> Result<Option<Opened>, OpenError> {
        let opened = self.run(move |desk| desk.service.open_session(&credential));
        Ok(opened.await??)
    }

    /// Ends the session with this hash; whether there was one.
    pub async fn end_session(&self, hash: String) -> Result<bool, Asked> {
        self.ask(move |desk| desk.service.end_session(&hash)).await
    }

    /// The tenant's identity provider for single sign-on, if it has one.
    pub async fn sso_provider(&self, tenant: String) -> Result<Option<SsoProvider>, Asked> {
        self.ask(move |desk| desk.service.sso_provider(&tenant)).await
    }

    /// Records a single sign-on under way by the hash of its state (false: too many are).
    pub async fn begin_sso(&self, state: String, sign_in: SsoSignIn) -> Result<bool, Asked> {
        self.ask(move |desk| desk.service.begin_sso(&state, &sign_in)).await
    }

    /// Uses the single sign-on under way with this state hash up.
    pub async fn take_sso(&self, state: String) -> Result<Option<SsoSignIn>, Asked> {
        self.ask(move |desk| desk.service.take_sso(&state)).await
    }

    /// Where the tenant's log ends.
    pub async fn last_seq(&self, tenant: String) -> Result<Seq, Asked> {
        self.ask(move |desk| desk.service.last_seq(&tenant)).await
    }

    /// Whether the store answers, and how many tenants are loaded.
    pub async fn health(&self) -> Result<Health, Gone> {
        self.run(|desk| Health { store: desk.service.ping(), loaded: desk.service.loaded().len() }).await
    }

    /// Every tenant of the store.
    pub async fn tenant_ids(&self) -> Result<Vec<String>, Asked> {
        self.ask(|desk| desk.service.tenant_ids()).await
    }

    /// One step (one transaction) of pruning `tenant`'s events before `cutoff`.
    pub async fn prune_step(&self, tenant: String, cutoff: u64) -> Result<Step, Asked> {
        self.ask(move |desk| desk.service.prune_step(&tenant, cutoff)).await
    }
}

/// Why the writer gave no answer: the server shuts down, or the service refused.
#[derive(Debug, thiserror::Error)]
pub enum Asked {
    #[error(transparent)]
    Gone(#[from] Gone),
    #[error(transparent)]
    Refused(#[from] ServiceError),
}

/// Why no session was opened: the server shuts down, or the store failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Gone(#[from] Gone),
    #[error(transparent)]
    Failed(#[from] TokenError),
}

/// The host's health, as the writer sees it.
#[derive(Debug)]
pub struct Health {
    pub store: Result<(), ServiceError>,
    pub loaded: usize,
}

fn serve_jobs(mut desk: Desk, mut queue: mpsc::Receiver<Job>, notices: &broadcast::Sender<Notice>) {
    let mut held: Option<Job> = None;
    loop {
        let Some(job) = held.take().or_else(|| queue.blocking_recv()) else { return };
        match job {
            Job::Run(work) => work(&mut desk),
            Job::Submit { tenant, commands, reply } => {
                #[cfg(feature = "fault-injection")]
                if tenant == "fault-writer-panics" {
                    panic!("fault injection: the writer thread fails");
                }
                let mut group = vec![(tenant, commands, reply)];
                let mut size = group.iter().map(|g| g.1.len()).sum::<usize>();
                while size < GROUP {
                    match queue.try_recv() {
                        Ok(Job::Submit { tenant, commands, reply }) => {
                            size += commands.len();
                            group.push((tenant, commands, reply));
                        }
                        Ok(other) => {
                            held = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                decide_group(&mut desk, group, notices);
            }
        }
    }
}

type Pending = (String, Vec<Incoming>, oneshot::Sender<Vec<Result<Submitted, ServiceError>>>);

fn decide_group(desk: &mut Desk, group: Vec<Pending>, notices: &broadcast::Sender<Notice>) {
    let mut tenants = Vec::with_capacity(group.len());
    let mut batches = Vec::with_capacity(group.len());
    let mut replies = Vec::with_capacity(group.len());
    for (tenant, commands, reply) in group {
        replies.push((commands.len(), reply));
        tenants.push(tenant);
        batches.push(commands);
    }
    let pairs: Vec<(&str, Incoming)> = tenants
        .iter()
        .zip(batches)
        .flat_map(|(tenant, commands)| commands.into_iter().map(move |command| (tenant.as_str(), command)))
        .collect();
    let mut results = desk.service.submit_incoming(&pairs, now_ms());
    // What each tenant's log grew by, in order, taken from what was just stored.
    let mut grown: Vec<(&str, Vec<(Seq, String)>)> = Vec::new();
    if notices.receiver_count() > 0 {
        for ((tenant, _), result) in pairs.iter().zip(results.iter_mut()) {
            let Ok(submitted) = result else { continue };
            if submitted.stored.is_empty() {
                continue;
            }
            let events = std::mem::take(&mut submitted.stored);
            match grown.iter_mut().find(|(t, _)| t == tenant) {
                Some((_, all)) => all.extend(events),
                None => grown.push((tenant, events)),
            }
        }
    }
    let mut results = results.into_iter();
    for (count, reply) in replies {
        let _ = reply.send(results.by_ref().take(count).collect());
    }
    for (tenant, events) in grown {
        let _ = notices.send(Notice::Stored { tenant: tenant.to_owned(), events: events.into() });
    }
}
