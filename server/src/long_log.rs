//! A long, realistic log for benchmarks and load tests: a contact center's agents signing
//! in, taking calls, pausing and signing out, day after day — decided by the core's rules
//! and stored through the store's own append, with a snapshot every so many events as a
//! server stores them. Never hand-written SQL: what is stored is what a server would store.

use agentstate_core::wire::{Outcome, handle_json, to_json};
use agentstate_core::{State, TenantSeed};

use crate::store::{Append, EventLog, Seq};

/// What the contact center looks like.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub agents: usize,
    pub channels: usize,
    /// Events a day: the log's density in time (a day report reads about this many).
    pub events_per_day: u64,
    /// A snapshot is stored every this many events (as `serve --snapshot-every`).
    pub snapshot_every: u64,
}

impl Shape {
    /// 1,000 agents on 20 queues, 100,000 events a day (about 100 an agent), a snapshot
    /// every 10,000 events (the server's default).
    pub const CONTACT_CENTER: Shape =
        Shape { agents: 1000, channels: 20, events_per_day: 100_000, snapshot_every: 10_000 };

    /// The tenant's description: agents `a0000`…, one supervisor per queue `s00`…, the
    /// admin `admin`; each agent assigned to one queue.
    pub fn description(&self) -> String {
        let mut users = vec![serde_json::json!({"id": "admin", "name": "Admin", "roles": ["admin"]})];
        users.extend((0..self.channels).map(
            |c| serde_json::json!({"id": supervisor(c), "name": format!("Supervisor {c}"), "roles": ["supervisor"]}),
        ));
        users.extend(
            (0..self.agents)
                .map(|a| serde_json::json!({"id": agent(a), "name": format!("Agent {a}"), "roles": ["agent"]})),
        );
        let channels: Vec<_> = (0..self.channels)
            .map(|c| {
                let agents: Vec<String> = (0..self.agents).filter(|a| a % self.channels == c).map(agent).collect();
                serde_json::json!({"id": channel(c), "kind": "queue", "name": format!("Queue {c}"),
                    "agents": agents, "supervisors": [supervisor(c)]})
            })
            .collect();
        serde_json::json!({"plan": "complete", "pause_reasons": ["lunch", "training"],
            "users": users, "channels": channels})
        .to_string()
    }
}

pub fn agent(a: usize) -> String {
    format!("a{a:04}")
}

pub fn supervisor(c: usize) -> String {
    format!("s{c:02}")
}

pub fn channel(c: usize) -> String {
    format!("q{c:02}")
}

/// What was written.
#[derive(Clone, Copy, Debug)]
pub struct Written {
    pub events: Seq,
    pub snapshots: u64,
    /// The time of the first and the last event (Unix ms).
    pub first_at: u64,
    pub last_at: u64,
}

#[derive(Clone, Copy)]
enum Phase {
    Out,
    Available,
    OnCall(u64),
    Paused,
}

/// Why a long log could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the shape's description: {0}")]
    Description(#[from] serde_json::Error),
    #[error("the shape's tenant: {0}")]
    Seed(#[from] agentstate_core::SeedError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The generator wrote a command the rules refuse (a defect of the generator).
    #[error("{command} was rejected: {rejection}")]
    Rejected { command: String, rejection: Box<agentstate_core::Rejection> },
}

/// Events appended in one transaction.
const BATCH: usize = 20_000;

/// Creates `tenant` with `shape`'s description and appends `events` events (a few more:
/// a command's events stay together), from `start_at` on, through `log`'s append.
pub fn write(
    log: &mut dyn EventLog,
    tenant: &str,
    shape: Shape,
    events: u64,
    start_at: u64,
) -> Result<Written, WriteError> {
    let description = shape.description();
    let seed: TenantSeed = serde_json::from_str(&description)?;
    let mut state: State = seed.state()?;
    log.create_tenant(tenant, &description)?;
    let step_ms = (86_400_000 / shape.events_per_day.max(1)).max(1);
    let mut phases = vec![Phase::Out; shape.agents];
    let mut turns = vec![0u64; shape.agents];
    let (mut seq, mut stored, mut snapshots, mut since_snapshot) = (0, 0, 0, 0);
    let mut at = start_at;
    let mut batch: Vec<String> = Vec::with_capacity(BATCH + 8);
    let mut step = 0usize;
    while seq < events {
        let a = step % shape.agents;
        step += 1;
        let (user, queue) = (agent(a), channel(a % shape.channels));
        turns[a] += 1;
        let (actor, command, next) = match phases[a] {
            Phase::Out => {
                (user.clone(), format!(r#""type":"sign_in","user":"{user}","channel":"{queue}""#), Phase::Available)
            }
            Phase::Available if turns[a].is_multiple_of(40) => {
                (user.clone(), format!(r#""type":"sign_out","user":"{user}","channel":"{queue}""#), Phase::Out)
            }
            Phase::Available if turns[a] % 10 == 5 => (
                user.clone(),
                format!(r#""type":"pause","user":"{user}","channel":"{queue}","reason":"lunch""#),
                Phase::Paused,
            ),
            Phase::Available => (
                "system".to_owned(),
                format!(r#""type":"interaction_started","user":"{user}","channel":"{queue}","interaction":"i{step}""#),
                Phase::OnCall(step as u64),
            ),
            Phase::OnCall(call) => (
                "system".to_owned(),
                format!(r#""type":"interaction_ended","interaction":"i{call}""#),
                Phase::Available,
            ),
            Phase::Paused => {
                (user.clone(), format!(r#""type":"resume","user":"{user}","channel":"{queue}""#), Phase::Available)
            }
        };
        let json = format!(r#"{{"actor":"{actor}","at":{at},{command}}}"#);
        match handle_json(&mut state, &json) {
            Outcome::Accepted { events } => {
                seq += events.len() as Seq;
                since_snapshot += events.len() as u64;
                batch.extend(events.iter().map(to_json));
            }
            Outcome::Rejected { rejection } => {
                return Err(WriteError::Rejected { command: json, rejection: Box::new(rejection.rejection) });
            }
        }
        phases[a] = next;
        at += step_ms;
        let snapshot_due = since_snapshot >= shape.snapshot_every;
        if batch.len() >= BATCH || snapshot_due || seq >= events {
            let append = Append { tenant, expected: stored, command_id: None, actor: "", outcome: "", events: &batch };
            log.append_all(&[append])?;
            stored = seq;
            batch.clear();
        }
        if snapshot_due {
            log.put_snapshot(tenant, seq, &to_json(&state))?;
            snapshots += 1;
            since_snapshot = 0;
        }
    }
    log.settle()?;
    Ok(Written { events: seq, snapshots, first_at: start_at, last_at: at - step_ms })
}
