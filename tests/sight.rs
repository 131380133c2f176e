//! The three laws of sight as property tests: random command sequences on the exhaustive
//! check's small tenant, and the 10,000-user shift of the benchmarks with an admin
//! reshaping a supervisor's reach as it runs.

#[path = "../core/benches/shift/mod.rs"]
mod shift;

use agentstate_core::{
    Action, Actor, AssignAs, ChannelId, Command, Event, Millis, MonitorMode, PauseReason, Setting, State, TenantSeed,
    UserId, evolve, handle, known_to, project, seen_by,
};
use agentstate_tests::explore::{STEPS_MS, TENANT, commands};
use agentstate_tests::sight_laws::{check_decision, check_projection, check_verdict, differs};
use proptest::prelude::*;

const OBSERVERS: [&str; 5] = ["ana", "sam", "ada", "rob", "system"];

fn actor(id: &str) -> Actor {
    Actor::from(UserId::new(id).expect("an id"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn every_observers_mirror_stays_exact_and_decides_as_the_server(
        picks in proptest::collection::vec((any::<prop::sample::Index>(), 0..STEPS_MS.len()), 1..40),
    ) {
        let seed: TenantSeed = serde_json::from_str(TENANT).expect("the tenant");
        let mut state = State::from_events(&seed.events().expect("its events"));
        let templates = commands();
        for (pick, step) in picks {
            let now = state.clock().map_or(0, |c| Millis::ZERO.until(c));
            let at = Millis::new(now + STEPS_MS[step]).expect("a time");
            let command = Command { at, ..pick.get(&templates).clone() };
            let seen = seen_by(&state, &command.actor);
            if let Some(problem) = check_decision(&state, &seen, &command)
                .or_else(|| check_verdict(&state, &known_to(&state, &command.actor), &command))
            {
                prop_assert!(false, "{problem}");
            }
            let before = state.clone();
            if let Ok(events) = handle(&mut state, &command) {
                for observer in OBSERVERS {
                    if let Some(problem) = check_projection(&before, &events, &actor(observer)) {
                        prop_assert!(false, "{problem}");
                    }
                }
            }
        }
    }
}

/// A mirror kept by folding what one observer is sent, as a dashboard keeps it, beside the
/// whole tenant the server projects against (each mirror its own copy: `project` advances it).
struct Mirror {
    observer: Actor,
    whole: State,
    state: State,
    sent: usize,
}

impl Mirror {
    fn follow(&mut self, event: &Event) {
        for e in project(&mut self.whole, event, &self.observer) {
            self.sent += 1;
            evolve(&mut self.state, &e);
        }
    }
}

fn uid(i: usize) -> UserId {
    UserId::new(&format!("u{i:05}")).expect("an id")
}

fn cid(i: usize) -> ChannelId {
    ChannelId::new(&format!("ch{i:03}")).expect("an id")
}

#[test]
fn the_laws_hold_over_a_shift_of_ten_thousand_users() {
    let run = shift::shift(if cfg!(debug_assertions) { 3_000 } else { 30_000 });
    let agents = shift::USERS - 400 - 100;
    let (agent, supervisor, admin) = (uid(7), uid(agents + 3), uid(shift::USERS - 1));
    let mut state = run.start.clone();
    let mut mirrors: Vec<Mirror> = [agent.clone(), supervisor.clone(), admin.clone()]
        .into_iter()
        .map(|u| {
            let observer = Actor::User(u);
            Mirror { state: seen_by(&state, &observer), whole: state.clone(), observer, sent: 0 }
        })
        .collect();
    let mut events = 0usize;
    for (i, command) in run.commands.iter().enumerate() {
        // Now and then an admin reshapes the supervisor's reach: a channel more or less,
        // the reach setting off and on.
        let mut commands = vec![command.clone()];
        if i % 500 == 250 {
            let admin = Actor::User(admin.clone());
            let at = command.at;
            let channel = cid(i / 500 % shift::CHANNELS);
            let action = match i / 500 % 3 {
                0 => Action::Assign { user: supervisor.clone(), channel, r#as: AssignAs::Supervisor },
                1 => Action::Unassign { user: supervisor.clone(), channel },
                _ => Action::SetSetting {
                    setting: Setting::SupervisorsLimitedToAssigned,
                    value: !state.settings().supervisors_limited_to_assigned,
                },
            };
            commands.push(Command { actor: admin, at, id: None, action });
        }
        for command in commands {
            let Ok(caused) = agentstate_core::decide(&state, &command) else { continue };
            for event in &caused {
                for mirror in &mut mirrors {
                    mirror.follow(event);
                }
                evolve(&mut state, event);
                events += 1;
            }
        }
        if i % 1_000 == 999 {
            for mirror in &mirrors {
                let expected = seen_by(&state, &mirror.observer);
                if let Some(problem) = differs(&mirror.state, &expected) {
                    panic!("law 1 for {} after {events} events: {problem:.2000}", mirror.observer);
                }
                // Law 2: the observer's commands on people they see, decided on their mirror
                // (with the tenant's clock) and on the whole tenant.
                let seen = expected;
                for (target, _) in seen.users().take(40).collect::<Vec<_>>() {
                    for action in [
                        Action::SignOutAll { user: target.clone() },
                        Action::Pause {
                            user: target.clone(),
                            reason: PauseReason::new("break").expect("a reason"),
                            channel: None,
                        },
                        Action::Resume { user: target.clone(), channel: None },
                        Action::EndWrapUp { user: target.clone() },
                        Action::SignInAssigned { user: target.clone() },
                    ] {
                        let at = state.clock().unwrap_or(Millis::ZERO);
                        let command = Command { actor: mirror.observer.clone(), at, id: None, action };
                        if let Some(problem) = check_decision(&state, &seen, &command) {
                            panic!("{problem}");
                        }
                    }
                }
                // Law 3: every command of theirs, on anyone — people out of sight on a
                // call, paused or in wrap-up, and an id that does not exist — gets the
                // same verdict on what they know as on the whole tenant.
                let known = known_to(&state, &mirror.observer);
                let nobody = UserId::new("nobody").expect("an id");
                let targets = (0..shift::USERS).step_by(97).map(uid).chain([nobody]);
                for target in targets {
                    let at = state.clock().unwrap_or(Millis::ZERO);
                    for action in every_action_on(&target, &state) {
                        let command = Command { actor: mirror.observer.clone(), at, id: None, action };
                        if let Some(problem) = check_verdict(&state, &known, &command) {
                            panic!("{problem}");
                        }
                    }
                }
            }
        }
    }
    let agent_sent = mirrors.first().map_or(0, |m| m.sent);
    assert!(events > 1_000, "the shift went nowhere");
    assert!(agent_sent * 20 < events, "an agent was sent {agent_sent} of {events} events: far more than their own");
}

/// Every agent-status command on `target`: on a channel the target is signed in on (or
/// the first), everywhere, and each monitoring mode.
fn every_action_on(target: &UserId, state: &State) -> Vec<Action> {
    let channel = state.user(target).and_then(|u| u.sign_ins.keys().next().cloned()).unwrap_or_else(|| cid(0));
    let user = || target.clone();
    let reason = || PauseReason::new("break").expect("a reason");
    let mut actions = vec![
        Action::SignIn { user: user(), channel: channel.clone() },
        Action::SignIn { user: user(), channel: cid(1) },
        Action::SignOut { user: user(), channel: channel.clone() },
        Action::SignInAssigned { user: user() },
        Action::SignOutAll { user: user() },
        Action::SignOutUnassigned { user: Some(user()) },
        Action::Pause { user: user(), reason: reason(), channel: Some(channel.clone()) },
        Action::Pause { user: user(), reason: reason(), channel: None },
        Action::Resume { user: user(), channel: Some(channel) },
        Action::Resume { user: user(), channel: None },
        Action::EndWrapUp { user: user() },
        Action::StopMonitor { user: user() },
        Action::SignOutUnassigned { user: None },
    ];
    for mode in [MonitorMode::Listen, MonitorMode::Barge] {
        actions.push(Action::Monitor { user: user(), mode });
    }
    actions
}
