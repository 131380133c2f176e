//! A generated contact center and a simulated shift: the workload of the benchmarks.
//! Deterministic (a fixed xorshift seed) so runs compare.

#![allow(dead_code)]

use agentstate_core::{
    Action, Actor, ChannelId, ChannelKind, ChannelSeed, Command, DeviceId, DeviceKind, Event, InteractionId, Label,
    Millis, MonitorMode, Name, PauseReason, PauseReasons, Plan, Role, Setting, Settings, State, TenantSeed, UserId,
    UserSeed, WrapUpSecs, handle,
};

pub const USERS: usize = 10_000;
pub const CHANNELS: usize = 500;
const SUPERVISORS: usize = 400;
const ADMINS: usize = 100;

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn user_id(i: usize) -> UserId {
    UserId::new(&format!("u{i:05}")).unwrap()
}

fn channel_id(i: usize) -> ChannelId {
    ChannelId::new(&format!("ch{i:03}")).unwrap()
}

/// 10,000 users (9,500 agents on 3 channels each, 400 supervisors of 10 channels each,
/// 100 admins) and 500 channels (300 queues, 100 chats, 100 campaigns).
pub fn tenant() -> TenantSeed {
    let agents = USERS - SUPERVISORS - ADMINS;
    let users = (0..USERS)
        .map(|i| {
            let role = if i < agents {
                Role::Agent
            } else if i < agents + SUPERVISORS {
                Role::Supervisor
            } else {
                Role::Admin
            };
            UserSeed {
                id: user_id(i),
                name: Name::new(&format!("User {i}")).unwrap(),
                roles: [role].into_iter().collect(),
            }
        })
        .collect();
    let channels = (0..CHANNELS)
        .map(|c| ChannelSeed {
            id: channel_id(c),
            kind: match c % 5 {
                3 => ChannelKind::Chat,
                4 => ChannelKind::Campaign,
                _ => ChannelKind::Queue,
            },
            name: Name::new(&format!("Channel {c}")).unwrap(),
            wrap_up_secs: WrapUpSecs::new([0, 15, 30, 60][c % 4]).unwrap(),
            agents: (0..agents)
                .filter(|a| (a * 7) % CHANNELS <= c && c < (a * 7) % CHANNELS + 3)
                .map(user_id)
                .collect(),
            supervisors: (0..SUPERVISORS)
                .filter(|s| (s * 10) % CHANNELS <= c && c < (s * 10) % CHANNELS + 10)
                .map(|s| user_id(agents + s))
                .collect(),
        })
        .collect();
    TenantSeed {
        plan: Plan::Complete,
        settings: Settings { supervisor_wrap_up_end: true, ..Settings::default() },
        pause_reasons: PauseReasons::new(
            ["lunch", "break", "training"].iter().map(|r| PauseReason::new(r).unwrap()).collect(),
        )
        .unwrap(),
        users,
        channels,
    }
}

/// A shift in progress: the state once most agents signed in, and the commands that
/// follow (decided against it, so the mix of accepted and rejected is realistic).
pub struct Shift {
    pub seed_events: Vec<Event>,
    pub start: State,
    pub commands: Vec<Command>,
    /// Every event from the seed to the end of the commands.
    pub log: Vec<Event>,
    pub accepted: usize,
}

pub fn shift(commands: usize) -> Shift {
    shift_until(commands, usize::MAX)
}

/// Simulates until `commands` commands or `events` events, whichever comes first.
pub fn shift_until(commands: usize, events: usize) -> Shift {
    let seed = tenant();
    let seed_events = seed.events().unwrap();
    let mut state = State::from_events(&seed_events);
    let mut log = seed_events.clone();
    let mut sim = Sim { rng: Rng::new(0x5eed), at: 1_000_000, next_interaction: 0, next_device: 0 };
    let agents = USERS - SUPERVISORS - ADMINS;
    for a in 0..agents {
        if a % 5 != 0 {
            let command = sim.command(Actor::User(user_id(a)), Action::SignInAssigned { user: user_id(a) });
            if let Ok(e) = handle(&mut state, &command) {
                log.extend(e);
            }
        }
    }
    let start = state.clone();
    let mut stream = Vec::with_capacity(commands.min(4_000_000));
    let mut accepted = 0;
    while stream.len() < commands && log.len() < events {
        let command = sim.next(&state);
        if let Ok(e) = handle(&mut state, &command) {
            accepted += 1;
            log.extend(e);
        }
        stream.push(command);
    }
    Shift { seed_events, start, commands: stream, log, accepted }
}

struct Sim {
    rng: Rng,
    at: u64,
    next_interaction: u64,
    next_device: u64,
}

impl Sim {
    fn command(&mut self, actor: Actor, action: Action) -> Command {
        self.at += self.rng.next() % 4;
        Command { actor, at: Millis::new(self.at).unwrap(), id: None, action }
    }

    /// One plausible command of a busy contact center.
    fn next(&mut self, state: &State) -> Command {
        let agents = USERS - SUPERVISORS - ADMINS;
        let a = self.rng.below(agents);
        let agent = user_id(a);
        let me = Actor::User(agent.clone());
        let u = state.user(&agent).unwrap();
        let signed_in: Vec<&ChannelId> = u.sign_ins.keys().collect();
        let some_channel = |rng: &mut Rng| signed_in.get(rng.below(signed_in.len().max(1))).map(|c| (*c).clone());
        let reason = PauseReason::new(["lunch", "break", "training"][self.rng.below(3)]).unwrap();
        let roll = self.rng.below(100);
        let (actor, action) = match roll {
            0..=29 => match (u.interaction.clone(), some_channel(&mut self.rng)) {
                (Some(interaction), _) => (Actor::System, Action::InteractionEnded { interaction }),
                (None, Some(channel)) => {
                    self.next_interaction += 1;
                    let interaction = InteractionId::new(&format!("c{}", self.next_interaction)).unwrap();
                    (Actor::System, Action::InteractionStarted { user: agent, channel, interaction })
                }
                (None, None) => (me, Action::SignInAssigned { user: agent }),
            },
            30..=44 => match u.interaction.clone() {
                Some(interaction) => (Actor::System, Action::InteractionEnded { interaction }),
                None => (me, Action::EndWrapUp { user: agent }),
            },
            45..=54 => (me, Action::SignInAssigned { user: agent }),
            55..=59 => match some_channel(&mut self.rng) {
                Some(channel) => (me, Action::SignOut { user: agent, channel }),
                None => (me, Action::SignOutAll { user: agent }),
            },
            60..=69 => (me, Action::Pause { user: agent, reason, channel: some_channel(&mut self.rng) }),
            70..=79 => (me, Action::Resume { user: agent, channel: None }),
            80..=84 => (me, Action::EndWrapUp { user: agent }),
            85..=91 => {
                let supervisor = user_id(agents + self.rng.below(SUPERVISORS));
                let mode = MonitorMode::ALL[self.rng.below(3)];
                let action =
                    if roll < 89 { Action::Monitor { user: agent, mode } } else { Action::StopMonitor { user: agent } };
                (Actor::User(supervisor), action)
            }
            92..=94 => {
                let supervisor = user_id(agents + self.rng.below(SUPERVISORS));
                (Actor::User(supervisor), Action::SignOutUnassigned { user: Some(agent) })
            }
            95..=97 => {
                self.next_device += 1;
                let device = DeviceId::new(&format!("d{}", self.next_device)).unwrap();
                if roll == 95 {
                    let label = Label::new("Softphone").unwrap();
                    (
                        Actor::System,
                        Action::DeviceRegistered { user: agent, device, kind: DeviceKind::Softphone, label },
                    )
                } else {
                    let device = DeviceId::new(&format!("d{}", self.rng.below(self.next_device as usize) + 1)).unwrap();
                    (Actor::System, Action::DeviceActivity { device, active: true })
                }
            }
            _ => {
                let admin = user_id(USERS - 1 - self.rng.below(ADMINS));
                let value = self.rng.below(2) == 0;
                (Actor::User(admin), Action::SetSetting { setting: Setting::UnassignedSignIn, value })
            }
        };
        self.command(actor, action)
    }
}
