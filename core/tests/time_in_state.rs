//! Time in state: each agent's state on a channel now and since when, with the channel's
//! counts per state — and the same story the day at a glance tells of the log.

use agentstate_core::views::{AgentState, activity, channel_states};
use agentstate_core::wire::{Outcome, handle_json};
use agentstate_core::{Event, Millis, State, TenantSeed};
use proptest::prelude::*;

fn ms(n: u64) -> Millis {
    Millis::new(n).expect("a time")
}

const SEED: &str = r#"{"plan": "complete", "pause_reasons": ["lunch", "training"],
    "settings": {"supervisor_wrap_up_end": true},
    "users": [{"id": "ana", "name": "Ana", "roles": ["agent"]},
              {"id": "ben", "name": "Ben", "roles": ["agent"]},
              {"id": "sue", "name": "Sue", "roles": ["supervisor"]}],
    "channels": [{"id": "sales", "kind": "queue", "name": "Sales", "wrap_up_secs": 30,
                  "agents": ["ana", "ben"], "supervisors": ["sue"]},
                 {"id": "chat", "kind": "chat", "name": "Chat", "wrap_up_secs": 10,
                  "agents": ["ana"], "supervisors": ["sue"]}]}"#;

/// The tenant's log after `commands`, and the state; rejected commands leave nothing.
fn run(commands: &[String]) -> (Vec<Event>, State) {
    let seed: TenantSeed = serde_json::from_str(SEED).expect("a tenant");
    let mut log = seed.events().expect("events");
    let mut state = State::from_events(&log);
    for command in commands {
        if let Outcome::Accepted { events } = handle_json(&mut state, command) {
            log.extend(events);
        }
    }
    (log, state)
}

fn now<'s>(states: &'s agentstate_core::views::ChannelStates, user: &str) -> &'s agentstate_core::views::AgentNow {
    states.agents.iter().find(|a| a.user.as_str() == user).expect("on the board")
}

#[test]
fn each_state_shows_since_when_and_the_counts_follow() {
    let commands: Vec<String> = [
        r#"{"type":"sign_in","actor":"ana","at":1000,"user":"ana","channel":"sales"}"#,
        r#"{"type":"sign_in","actor":"ben","at":1500,"user":"ben","channel":"sales"}"#,
        r#"{"type":"pause","actor":"ben","at":2000,"user":"ben","channel":"sales","reason":"lunch"}"#,
        r#"{"type":"interaction_started","actor":"system","at":3000,"user":"ana","channel":"sales","interaction":"c1"}"#,
    ]
    .map(String::from)
    .to_vec();
    let (_, state) = run(&commands);
    let board = channel_states(&state, "sales", ms(10_000)).expect("a channel");
    let (ana, ben) = (now(&board, "ana"), now(&board, "ben"));
    assert_eq!((ana.state, ana.since, ana.duration_ms), (AgentState::OnInteraction, Some(ms(3000)), Some(7000)));
    assert_eq!((ben.state, ben.since, ben.duration_ms), (AgentState::Paused, Some(ms(2000)), Some(8000)));
    assert_eq!(ben.reason.as_ref().map(|r| r.as_str()), Some("lunch"));
    assert_eq!((board.counts.on_interaction, board.counts.paused, board.counts.available), (1, 1, 0));

    // The call ends: 30 s of wrap-up with its deadline, then available from the deadline.
    let mut more = commands.clone();
    more.push(r#"{"type":"interaction_ended","actor":"system","at":12000,"interaction":"c1"}"#.into());
    more.push(r#"{"type":"resume","actor":"ben","at":13000,"user":"ben","channel":"sales"}"#.into());
    let (_, state) = run(&more);
    let board = channel_states(&state, "sales", ms(20_000)).expect("a channel");
    let ana = now(&board, "ana");
    assert_eq!((ana.state, ana.since, ana.until), (AgentState::WrapUp, Some(ms(12_000)), Some(ms(42_000))));
    assert_eq!((now(&board, "ben").state, now(&board, "ben").since), (AgentState::Available, Some(ms(13_000))));
    assert_eq!((board.counts.wrap_up, board.counts.available, board.counts.paused), (1, 1, 0));
    let later = channel_states(&state, "sales", ms(50_000)).expect("a channel");
    assert_eq!((now(&later, "ana").state, now(&later, "ana").since), (AgentState::Available, Some(ms(42_000))));
    assert_eq!(later.counts.available, 2);

    // Ana was never signed in to chat: signed out, since no known time. Signing out of
    // sales starts "signed out" there.
    let chat = channel_states(&state, "chat", ms(50_000)).expect("a channel");
    assert_eq!((now(&chat, "ana").state, now(&chat, "ana").since), (AgentState::SignedOut, None));
    more.push(r#"{"type":"sign_out","actor":"ben","at":60000,"user":"ben","channel":"sales"}"#.into());
    let (_, state) = run(&more);
    let board = channel_states(&state, "sales", ms(61_000)).expect("a channel");
    assert_eq!((now(&board, "ben").state, now(&board, "ben").duration_ms), (AgentState::SignedOut, Some(1000)));
    assert_eq!(board.counts.signed_out, 1);
    assert!(channel_states(&state, "nowhere", ms(0)).is_none());
}

/// Random commands of agents, their supervisor and the routing system, one second or more
/// apart; many are rejected, which is part of the point.
fn arbitrary_day() -> impl Strategy<Value = Vec<String>> {
    let step = (1u64..40_000, 0usize..2, 0usize..2, 0usize..2, 0u8..8);
    proptest::collection::vec(step, 0..120).prop_map(|steps| {
        let (users, channels, reasons) = (["ana", "ben"], ["sales", "chat"], ["lunch", "training"]);
        let mut at = 1_000;
        let mut out = Vec::new();
        for (n, (delta, u, c, r, kind)) in steps.into_iter().enumerate() {
            at += delta;
            let (user, channel) = (users[u], channels[c]);
            let c = match kind {
                0 | 1 => format!(r#"{{"type":"sign_in","actor":"sue","at":{at},"user":"{user}","channel":"{channel}"}}"#),
                2 => format!(r#"{{"type":"sign_out","actor":"sue","at":{at},"user":"{user}","channel":"{channel}"}}"#),
                3 => format!(
                    r#"{{"type":"pause","actor":"{user}","at":{at},"user":"{user}","channel":"{channel}","reason":"{}"}}"#,
                    reasons[r]
                ),
                4 => format!(r#"{{"type":"resume","actor":"{user}","at":{at},"user":"{user}","channel":"{channel}"}}"#),
                5 => format!(
                    r#"{{"type":"interaction_started","actor":"system","at":{at},"user":"{user}","channel":"{channel}","interaction":"i{n}"}}"#
                ),
                6 => format!(r#"{{"type":"interaction_ended","actor":"system","at":{at},"interaction":"i{}"}}"#, n - n % 4),
                _ => format!(r#"{{"type":"end_wrap_up","actor":"sue","at":{at},"user":"{user}"}}"#),
            };
            out.push(c);
        }
        out
    })
}

proptest! {
    /// The board at `at` agrees with the day at a glance up to `at`: the same state, and
    /// `since` is where the report's last interval begins.
    #[test]
    fn the_board_tells_what_the_report_tells(commands in arbitrary_day(), later in 1u64..100_000) {
        let (log, state) = run(&commands);
        let at = ms(state.clock().map_or(0, |c| ms(0).until(c)) + later);
        let report = activity(&log, ms(0), at);
        for channel in ["sales", "chat"] {
            let board = channel_states(&state, channel, at).expect("a channel");
            let mut counted = [0u32; 5];
            for agent in &board.agents {
                counted[agent.state as usize] += 1;
                // An agent assigned but never signed in has a row too, signed out throughout.
                let row = report
                    .rows
                    .iter()
                    .find(|r| r.user == agent.user && r.channel.as_str() == channel && r.totals.signed_in_ms > 0);
                let Some(last) = row.and_then(|r| r.intervals.last()) else {
                    prop_assert_eq!(agent.state, AgentState::SignedOut, "never signed in: {:?}", agent);
                    continue;
                };
                prop_assert_eq!(agent.state, last.state, "{} on {}", agent.user, channel);
                prop_assert_eq!(&agent.reason, &last.reason);
                prop_assert_eq!(agent.since, Some(last.from), "{} on {}: {:?}", agent.user, channel, row);
                prop_assert_eq!(agent.duration_ms, Some(last.from.until(at)));
            }
            let c = &board.counts;
            prop_assert_eq!(counted, [c.signed_out, c.available, c.on_interaction, c.wrap_up, c.paused]);
        }
    }
}
