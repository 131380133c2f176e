//! The three laws of sight (`agentstate_core::sight`), as checks shared by the exhaustive
//! check and the property tests.
//!
//! 1. Folding what an observer is sent of the events gives what they may see of the
//!    folded state (their mirror stays exact), up to the clock, which in their mirror
//!    stands at the last event they were sent.
//! 2. For a command whose ids the observer can see, `decide` on what they see equals
//!    `decide` on the whole state.
//! 3. For every command of an actor, the verdict (accepted, or the rejection whole: code,
//!    ids, message) on the whole state equals the verdict on what they know of it
//!    (`known_to`): a refusal tells no more than a read.

use agentstate_core::{Actor, Command, Event, Rejection, State, decide, evolve, project, seen_by};

/// Law 1 for one accepted command: `before` is the whole state, `events` what the command
/// caused; `None` when the observer's mirror equals their projection of the state after.
pub fn check_projection(before: &State, events: &[Event], observer: &Actor) -> Option<String> {
    let mut mirror = seen_by(before, observer);
    let mut whole = before.clone();
    let mut sent = Vec::new();
    for event in events {
        sent.extend(project(&mut whole, event, observer));
    }
    for event in &sent {
        evolve(&mut mirror, event);
    }
    let expected = seen_by(&whole, observer);
    if let Some(problem) = differs(&mirror, &expected) {
        return Some(format!(
            "law 1 for {}: folding what they were sent ({}) gives a mirror that differs from what they see: {problem}",
            observer.as_str(),
            serde_json::to_string(&sent).unwrap_or_default()
        ));
    }
    None
}

/// Where two projections differ, but for the clock (law 1's one exception: a mirror's
/// clock is the last event its observer saw, never ahead of the tenant's).
pub fn differs(mirror: &State, expected: &State) -> Option<String> {
    let text = |s: &State| {
        let mut v = serde_json::to_value(s).unwrap_or_default();
        let clock = v.as_object_mut().and_then(|o| o.remove("clock"));
        (v, clock)
    };
    let ((m, mirror_clock), (e, expected_clock)) = (text(mirror), text(expected));
    let ahead =
        mirror_clock.and_then(|c| c.as_u64()).unwrap_or(0) > expected_clock.and_then(|c| c.as_u64()).unwrap_or(0);
    if ahead {
        return Some("the mirror's clock is ahead of the tenant's".into());
    }
    (m != e).then(|| format!("mirror {m}\n   expected {e}"))
}

/// Whether the command names only ids the observer can see (law 2's domain).
pub fn names_only_seen(state: &State, observer: &Actor, command: &Command) -> bool {
    let sight = agentstate_core::Sight::of(state, observer);
    if sight.sees_everything() {
        return true;
    }
    let value = serde_json::to_value(&command.action).unwrap_or_default();
    let user_ok = value.get("user").and_then(|u| u.as_str()).is_none_or(|u| sight.sees(state, u));
    let channel_ok = value.get("channel").and_then(|c| c.as_str()).is_none_or(|c| sight.channel(state, c).is_some());
    let other_ids = ["interaction", "device"].iter().all(|k| value.get(*k).is_none());
    user_ok && channel_ok && other_ids
}

/// Law 2 for one command of the observer's own: `decide` on what they see (`seen`, their
/// projection of `state`) gives what it gives on the whole state — the same events, or
/// the same rejection.
pub fn check_decision(state: &State, seen: &State, command: &Command) -> Option<String> {
    let observer = &command.actor;
    if !names_only_seen(state, observer, command) {
        return None;
    }
    let (on_whole, on_seen) = (decide(state, command), decide(seen, command));
    (on_whole != on_seen).then(|| {
        format!(
            "law 2 for {}: {} is decided {:?} on the whole state but {:?} on what they see",
            observer.as_str(),
            serde_json::to_string(command).unwrap_or_default(),
            on_whole.map_err(|r| r.code().as_str()).map(|e| e.len()),
            on_seen.map_err(|r| r.code().as_str()).map(|e| e.len()),
        )
    })
}

/// Law 3 for one command, any ids at all: `known` is what its actor knows of `state`
/// (`known_to`, which keeps the tenant's clock).
pub fn check_verdict(state: &State, known: &State, command: &Command) -> Option<String> {
    let verdict = |s: &State| decide(s, command).map(drop);
    let (on_whole, on_known): (Result<(), Rejection>, Result<(), Rejection>) = (verdict(state), verdict(known));
    (on_whole != on_known).then(|| {
        format!(
            "law 3 for {}: {} is decided {} on the whole state but {} on what they know",
            command.actor.as_str(),
            serde_json::to_string(command).unwrap_or_default(),
            shown(&on_whole),
            shown(&on_known),
        )
    })
}

fn shown(verdict: &Result<(), Rejection>) -> String {
    match verdict {
        Ok(()) => "accepted".into(),
        Err(r) => serde_json::to_string(r).unwrap_or_default(),
    }
}
