//! The day at a glance: each agent's states per channel over a time range, folded from
//! the event log — intervals that cover the range, and totals that add up to it.

use agentstate_core::views::{ActivityReport, AgentState, StateInterval, activity};
use agentstate_core::wire::{Outcome, handle_json};
use agentstate_core::{Actor, ChannelId, Event, Millis, State, TenantSeed, UserId};
use agentstate_core::{Change, InteractionId, PauseReason};
use proptest::prelude::*;

fn ms(n: u64) -> Millis {
    Millis::new(n).expect("a time")
}

/// A tenant, then `commands` (all accepted), as one event log.
fn day(commands: &[&str]) -> Vec<Event> {
    let seed: TenantSeed = serde_json::from_str(
        r#"{"plan": "complete", "pause_reasons": ["lunch", "training"],
            "users": [{"id": "ana", "name": "Ana", "roles": ["agent"]},
                      {"id": "ben", "name": "Ben", "roles": ["agent", "supervisor"]},
                      {"id": "ida", "name": "Ida", "roles": ["admin"]}],
            "channels": [{"id": "sales", "kind": "queue", "name": "Sales", "wrap_up_secs": 30, "agents": ["ana", "ben"]},
                         {"id": "chat", "kind": "chat", "name": "Chat", "agents": ["ana"]}]}"#,
    )
    .expect("a tenant");
    let mut log = seed.events().expect("events");
    let mut state = State::from_events(&log);
    for command in commands {
        match handle_json(&mut state, command) {
            Outcome::Accepted { events } => log.extend(events),
            other => panic!("{command} was not accepted: {other:?}"),
        }
    }
    log
}

fn interval(state: AgentState, from: u64, to: u64, reason: Option<&str>) -> StateInterval {
    StateInterval { state, from: ms(from), to: ms(to), reason: reason.map(|r| PauseReason::new(r).expect("a reason")) }
}

#[test]
fn a_day_shows_each_state_with_its_times_and_the_pause_with_its_reason() {
    let log = day(&[
        r#"{"type":"sign_in","actor":"ana","at":1000,"user":"ana","channel":"sales"}"#,
        r#"{"type":"pause","actor":"ana","at":2000,"user":"ana","channel":"sales","reason":"lunch"}"#,
        r#"{"type":"resume","actor":"ana","at":5000,"user":"ana","channel":"sales"}"#,
        r#"{"type":"interaction_started","actor":"system","at":6000,"user":"ana","channel":"sales","interaction":"c1"}"#,
        r#"{"type":"interaction_ended","actor":"system","at":9000,"interaction":"c1"}"#,
        r#"{"type":"sign_in","actor":"ben","at":70000,"user":"ben","channel":"sales"}"#,
    ]);
    let report = activity(&log, ms(0), ms(60_000));
    let rows: Vec<(&str, &str)> = report.rows.iter().map(|r| (r.user.as_str(), r.channel.as_str())).collect();
    // Ana never signed in on chat and Ben only after the range: both were assigned, so
    // both show, signed out throughout.
    assert_eq!(rows, [("ana", "chat"), ("ana", "sales"), ("ben", "sales")], "{report:?}");
    for absent in [&report.rows[0], &report.rows[2]] {
        assert_eq!(absent.intervals, [interval(AgentState::SignedOut, 0, 60_000, None)]);
        assert_eq!((absent.totals.signed_out_ms, absent.totals.signed_in_ms), (60_000, 0));
    }
    let ana = &report.rows[1];
    assert_eq!((ana.user.as_str(), ana.channel.as_str()), ("ana", "sales"));
    assert_eq!(
        ana.intervals,
        [
            interval(AgentState::SignedOut, 0, 1000, None),
            interval(AgentState::Available, 1000, 2000, None),
            interval(AgentState::Paused, 2000, 5000, Some("lunch")),
            interval(AgentState::Available, 5000, 6000, None),
            interval(AgentState::OnInteraction, 6000, 9000, None),
            // 30 s of wrap-up, ended by its deadline: no event marks it.
            interval(AgentState::WrapUp, 9000, 39_000, None),
            interval(AgentState::Available, 39_000, 60_000, None),
        ]
    );
    let totals = &ana.totals;
    assert_eq!(totals.signed_in_ms, 59_000);
    assert_eq!(totals.paused_ms, 3000);
    assert_eq!(totals.paused_by_reason.get("lunch"), Some(&3000));
    assert_eq!(totals.wrap_up_ms, 30_000);
    assert_eq!(totals.on_interaction_ms, 3000);
    assert_eq!(totals.interactions_handled, 1);
}

#[test]
fn an_agent_shows_when_their_assignment_overlaps_the_range_and_not_otherwise() {
    // Ben leaves sales at 10 s and is assigned to chat at 50 s; a supervisor is no agent.
    let log = day(&[
        r#"{"type":"unassign","actor":"ida","at":10000,"user":"ben","channel":"sales"}"#,
        r#"{"type":"assign","actor":"ida","at":50000,"user":"ben","channel":"chat","as":"agent"}"#,
        r#"{"type":"assign","actor":"ida","at":50000,"user":"ben","channel":"sales","as":"supervisor"}"#,
    ]);
    let rows = |from: u64, to: u64| -> Vec<(String, String)> {
        activity(&log, ms(from), ms(to))
            .rows
            .into_iter()
            .filter(|r| r.user.as_str() == "ben")
            .map(|r| (r.user.to_string(), r.channel.to_string()))
            .collect()
    };
    let ben = |channels: &[&str]| -> Vec<(String, String)> {
        channels.iter().map(|c| ("ben".to_owned(), (*c).to_owned())).collect()
    };
    assert_eq!(rows(0, 10_000), ben(&["sales"]), "assigned until the range ends");
    assert_eq!(rows(10_000, 50_000), ben(&[]), "unassigned as the range begins, assigned as it ends");
    assert_eq!(rows(9_999, 50_001), ben(&["chat", "sales"]));
    assert_eq!(rows(60_000, 70_000), ben(&["chat"]), "a supervisor assignment is no row");
}

#[test]
fn a_range_starts_from_the_state_before_it_and_a_call_keeps_every_channel_busy() {
    let log = day(&[
        r#"{"type":"sign_in","actor":"ana","at":1000,"user":"ana","channel":"sales"}"#,
        r#"{"type":"sign_in","actor":"ana","at":1000,"user":"ana","channel":"chat"}"#,
        r#"{"type":"pause","actor":"ana","at":2000,"user":"ana","channel":"chat","reason":"training"}"#,
        r#"{"type":"interaction_started","actor":"system","at":3000,"user":"ana","channel":"sales","interaction":"c1"}"#,
        r#"{"type":"interaction_ended","actor":"system","at":4000,"interaction":"c1"}"#,
        r#"{"type":"end_wrap_up","actor":"ana","at":4500,"user":"ana"}"#,
    ]);
    let report = activity(&log, ms(2500), ms(5000));
    let chat = report.rows.iter().find(|r| r.channel.as_str() == "chat").expect("chat");
    assert_eq!(
        chat.intervals,
        [
            interval(AgentState::Paused, 2500, 3000, Some("training")),
            interval(AgentState::OnInteraction, 3000, 4000, None),
            interval(AgentState::WrapUp, 4000, 4500, None),
            interval(AgentState::Paused, 4500, 5000, Some("training")),
        ]
    );
    assert_eq!(chat.totals.interactions_handled, 0, "the call was on sales");
    let sales = report.rows.iter().find(|r| r.channel.as_str() == "sales").expect("sales");
    assert_eq!(sales.totals.interactions_handled, 1);
    assert_eq!(sales.totals.wrap_up_ms, 500, "ended early by end_wrap_up");
    assert!(activity(&log, ms(5000), ms(5000)).rows.is_empty(), "an empty range");
}

/// Any log of sign-ins, pauses and interactions, in time order.
fn arbitrary_log() -> impl Strategy<Value = Vec<Event>> {
    let step = (0u64..5_000, 0usize..2, 0usize..2, 0usize..2, 0u8..7, proptest::option::of(1u64..60_000));
    proptest::collection::vec(step, 0..80).prop_map(|steps| {
        let users = [UserId::new("ana").unwrap(), UserId::new("ben").unwrap()];
        let channels = [ChannelId::new("sales").unwrap(), ChannelId::new("chat").unwrap()];
        let reasons = [PauseReason::new("lunch").unwrap(), PauseReason::new("training").unwrap()];
        let mut at = 0;
        let mut log = Vec::new();
        for (n, (delta, u, c, r, kind, wrap_up)) in steps.into_iter().enumerate() {
            at += delta;
            let (user, channel) = (users[u].clone(), channels[c].clone());
            let interaction = InteractionId::new(&format!("i{n}")).unwrap();
            let change = match kind {
                0 => Change::SignedIn { user, channel },
                1 => Change::SignedOut { user, channel },
                2 => Change::Paused { user, channel, reason: reasons[r].clone() },
                3 => Change::Resumed { user, channel },
                4 => Change::InteractionStarted { user, channel, interaction },
                5 => {
                    Change::InteractionEnded { user, channel, interaction, wrap_up_until: wrap_up.map(|w| ms(at + w)) }
                }
                _ => Change::WrapUpEnded { user, channel },
            };
            log.push(Event { at: ms(at), by: Actor::System, change });
        }
        log
    })
}

fn check(report: &ActivityReport) -> Result<(), TestCaseError> {
    let length = report.from.until(report.to);
    for row in &report.rows {
        prop_assert_eq!(row.intervals.first().map(|i| i.from), Some(report.from));
        prop_assert_eq!(row.intervals.last().map(|i| i.to), Some(report.to));
        for pair in row.intervals.windows(2) {
            prop_assert_eq!(pair[0].to, pair[1].from, "adjacent");
            prop_assert!(pair[0].state != pair[1].state || pair[0].reason != pair[1].reason, "merged");
        }
        prop_assert!(row.intervals.iter().all(|i| i.to > i.from));
        let t = &row.totals;
        prop_assert_eq!(t.signed_out_ms + t.available_ms + t.on_interaction_ms + t.wrap_up_ms + t.paused_ms, length);
        prop_assert_eq!(t.signed_in_ms + t.signed_out_ms, length);
        prop_assert_eq!(t.paused_by_reason.values().sum::<u64>(), t.paused_ms);
    }
    Ok(())
}

proptest! {
    #[test]
    fn totals_per_agent_and_channel_add_up_to_the_range(
        log in arbitrary_log(),
        from in 0u64..200_000,
        length in 0u64..200_000,
    ) {
        let report = activity(&log, ms(from), ms(from + length));
        check(&report)?;
        // A range split in two gives the same time in each state as the whole.
        let middle = from + length / 2;
        let (first, second) = (activity(&log, ms(from), ms(middle)), activity(&log, ms(middle), ms(from + length)));
        for row in &report.rows {
            let part = |half: &ActivityReport| {
                half.rows.iter().find(|r| r.user == row.user && r.channel == row.channel).map_or(0, |r| r.totals.signed_in_ms)
            };
            prop_assert_eq!(part(&first) + part(&second), row.totals.signed_in_ms);
        }
    }
}

/// A day decided by the rules (only accepted commands make events), so every prefix folds
/// to a state the tenant could really be in: what a base snapshot is.
fn arbitrary_day() -> impl Strategy<Value = Vec<Event>> {
    let step = (1u64..5_000, 0usize..2, 0usize..2, 0u8..7, 0usize..2);
    proptest::collection::vec(step, 0..60).prop_map(|steps| {
        let (users, channels, reasons) = (["ana", "ben"], ["sales", "chat"], ["lunch", "training"]);
        let mut log = day(&[]);
        let mut state = State::from_events(&log);
        let mut running: [Option<String>; 2] = [None, None];
        let mut at = 0;
        for (n, (delta, u, c, kind, r)) in steps.into_iter().enumerate() {
            at += delta;
            let (user, channel) = (users[u], channels[c]);
            let command = match kind {
                0 | 1 => format!(r#"{{"type":"sign_in","actor":"{user}","at":{at},"user":"{user}","channel":"{channel}"}}"#),
                2 => format!(r#"{{"type":"sign_out","actor":"{user}","at":{at},"user":"{user}","channel":"{channel}"}}"#),
                3 => format!(
                    r#"{{"type":"pause","actor":"{user}","at":{at},"user":"{user}","channel":"{channel}","reason":"{}"}}"#,
                    reasons[r]
                ),
                4 => format!(r#"{{"type":"resume","actor":"{user}","at":{at},"user":"{user}","channel":"{channel}"}}"#),
                5 => {
                    let id = format!("i{n}");
                    running[u] = Some(id.clone());
                    format!(
                        r#"{{"type":"interaction_started","actor":"system","at":{at},"user":"{user}","channel":"{channel}","interaction":"{id}"}}"#
                    )
                }
                _ => match running[u].take() {
                    Some(id) => format!(r#"{{"type":"interaction_ended","actor":"system","at":{at},"interaction":"{id}"}}"#),
                    None => format!(r#"{{"type":"end_wrap_up","actor":"{user}","at":{at},"user":"{user}"}}"#),
                },
            };
            if let Outcome::Accepted { events } = handle_json(&mut state, &command) {
                log.extend(events);
            }
        }
        log
    })
}

proptest! {
    /// Retention folds the oldest events into a base snapshot: the report folded on from
    /// that state over the rest of the log is the whole log's, for any range from the
    /// base's time on; a range reaching back before it still covers itself.
    #[test]
    fn a_report_from_a_base_state_is_the_whole_logs_from_its_time_on(
        log in arbitrary_day(),
        cut in any::<prop::sample::Index>(),
        offset in 0u64..100_000,
        length in 0u64..100_000,
        before in 1u64..50_000,
    ) {
        let cut = cut.index(log.len() + 1);
        let base = State::from_events(&log[..cut]);
        let since = base.clock().map_or(0, Millis::get);
        let (from, to) = (ms(since + offset), ms(since + offset + length));
        prop_assert_eq!(
            agentstate_core::views::activity_from(&base, &log[cut..], from, to),
            activity(&log, from, to)
        );
        let early = activity_from_base(&base, &log[cut..], since.saturating_sub(before), since + length);
        check(&early)?;
    }
}

fn activity_from_base(base: &State, log: &[Event], from: u64, to: u64) -> ActivityReport {
    agentstate_core::views::activity_from(base, log, ms(from), ms(to))
}
