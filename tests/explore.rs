//! An exhaustive check of a small tenant: every state reachable from its description by
//! every command with every argument (and three steps of time: none, a wrap-up, a day),
//! breadth first, to a depth
//! where the state space closes or a bound, checking the invariants of `docs/rules.md` in every state and
//! on every transition. A violation comes with the shortest command sequence reaching it.
//!
//! States are told apart by what the rules can see: times are kept only as far as they
//! decide something (whether a wrap-up still runs, or an ended interaction's id is still
//! taken, at the next step), so the search closes.

use std::collections::{HashSet, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};

use agentstate_core::views::allowed_actions;
use agentstate_core::wire::decode_command;
use agentstate_core::{
    Actor, Change, ChannelId, Command, Event, Millis, REMEMBERED_MS, State, TenantSeed, UserId, decide, evolve,
};
use serde_json::Value;

/// 4 users of different roles (one without any), a queue with 1 s of wrap-up and a chat without, one pause
/// reason; settings and plan change through commands.
pub const TENANT: &str = r#"{"plan": "complete", "pause_reasons": ["lunch"],
  "users": [{"id": "ana", "name": "Ana", "roles": ["agent"]},
            {"id": "sam", "name": "Sam", "roles": ["agent", "supervisor"]},
            {"id": "ada", "name": "Ada", "roles": ["admin"]},
            {"id": "rob", "name": "Rob", "roles": []}],
  "channels": [{"id": "q", "kind": "queue", "name": "Q", "wrap_up_secs": 1, "agents": ["ana", "rob"], "supervisors": ["sam"]},
               {"id": "c", "kind": "chat", "name": "C", "agents": ["sam"]}]}"#;

const USERS: [&str; 4] = ["ana", "sam", "ada", "rob"];
const ACTORS: [&str; 5] = ["ana", "sam", "ada", "rob", "system"];
/// What commands name: the tenant's users and channels and one of each that does not
/// exist, so that law 3 compares a person or channel out of sight with nobody.
const NAMED_USERS: [&str; 5] = ["ana", "sam", "ada", "rob", "zed"];
const NAMED_CHANNELS: [&str; 3] = ["q", "c", "x"];
/// Time between one command and the next: none, the queue's whole wrap-up, or the day for
/// which an ended interaction's id stays taken (the boundary itself: exactly a day later
/// the id is free).
pub const STEPS_MS: [u64; 3] = [0, 1000, REMEMBERED_MS];

/// What the search found.
#[derive(Debug, Default)]
pub struct Report {
    pub depth: usize,
    /// Whether every state at the last depth led only to states seen before.
    pub closed: bool,
    pub states: usize,
    pub transitions: u64,
    pub accepted: u64,
    /// Accepted `interaction_started` commands whose id had ended before (a day or more).
    pub reused_ids: u64,
    pub checks: u64,
    /// The first violation: what, and the commands that reach it.
    pub violation: Option<(String, Vec<String>)>,
}

/// Every command the search tries, `at` to be set.
pub fn commands() -> Vec<Command> {
    let mut all = Vec::new();
    for actor in ACTORS {
        let mut json = Vec::new();
        for user in NAMED_USERS {
            for channel in NAMED_CHANNELS {
                json.push(format!(r#""type":"sign_in","user":"{user}","channel":"{channel}""#));
                json.push(format!(r#""type":"sign_out","user":"{user}","channel":"{channel}""#));
                json.push(format!(r#""type":"pause","user":"{user}","channel":"{channel}","reason":"lunch""#));
                json.push(format!(r#""type":"resume","user":"{user}","channel":"{channel}""#));
                json.push(format!(r#""type":"assign","user":"{user}","channel":"{channel}","as":"agent""#));
                json.push(format!(r#""type":"assign","user":"{user}","channel":"{channel}","as":"supervisor""#));
                json.push(format!(r#""type":"unassign","user":"{user}","channel":"{channel}""#));
            }
            for kind in
                ["sign_in_assigned", "sign_out_all", "sign_out_unassigned", "end_wrap_up", "stop_monitor", "resume"]
            {
                json.push(format!(r#""type":"{kind}","user":"{user}""#));
            }
            json.push(format!(r#""type":"pause","user":"{user}","reason":"lunch""#));
            json.push(format!(r#""type":"pause","user":"{user}","reason":"coffee""#));
            for mode in ["listen", "whisper", "barge"] {
                json.push(format!(r#""type":"monitor","user":"{user}","mode":"{mode}""#));
            }
        }
        json.push(r#""type":"sign_out_unassigned""#.to_owned());
        for setting in ["unassigned_sign_in", "supervisor_wrap_up_end", "supervisors_limited_to_assigned"] {
            for value in [true, false] {
                json.push(format!(r#""type":"set_setting","setting":"{setting}","value":{value}"#));
            }
        }
        json.push(r#""type":"set_pause_reasons","reasons":[]"#.to_owned());
        json.push(r#""type":"set_pause_reasons","reasons":["lunch"]"#.to_owned());
        for plan in ["basic", "complete"] {
            json.push(format!(r#""type":"set_plan","plan":"{plan}""#));
        }
        for (user, channel) in [("ana", "q"), ("sam", "c"), ("sam", "q"), ("zed", "x")] {
            json.push(format!(
                r#""type":"interaction_started","user":"{user}","channel":"{channel}","interaction":"{user}-{channel}""#
            ));
            json.push(format!(r#""type":"interaction_ended","interaction":"{user}-{channel}""#));
        }
        let mut own: Vec<String> =
            json.into_iter().map(|fields| format!(r#"{{"actor":"{actor}","at":0,{fields}}}"#)).collect();
        own.sort();
        own.dedup();
        all.extend(own);
    }
    let mut decoded = Vec::new();
    for text in &all {
        decoded
            .push(decode_command(text).unwrap_or_else(|e| panic!("the explorer's own command {text} is bad: {e:?}")));
    }
    decoded
}

/// What the rules can see of a state: times only relative to the clock and only where they
/// decide something (a wrap-up's deadline, when an ended id is free again); when things
/// began is history, not state.
fn key(state: &State) -> String {
    fn strip(value: &mut Value, clock: i64) {
        match value {
            Value::Object(map) => {
                for (name, field) in map.iter_mut() {
                    match name.as_str() {
                        // Whether the id is free after the next step: a wrap-up's step of
                        // time keeps it taken, a day's frees it.
                        "ended_interactions" => {
                            if let Value::Object(ended) = field {
                                for at in ended.values_mut() {
                                    let left = at.as_i64().unwrap_or(0) + REMEMBERED_MS as i64 - clock;
                                    *at = Value::from(left.clamp(0, 1001));
                                }
                            }
                        }
                        "until" => {
                            let left = field.as_i64().unwrap_or(0) - clock;
                            *field = Value::from(left.clamp(-1, 1001));
                        }
                        "since" | "resumed" | "work_ended" | "clock" | "signed_out" => *field = Value::Null,
                        _ => strip(field, clock),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| strip(item, clock)),
            _ => {}
        }
    }
    let clock = state.clock().map_or(0, |c| Millis::ZERO.until(c) as i64);
    let mut value = serde_json::to_value(state).unwrap_or(Value::Null);
    strip(&mut value, clock);
    value.to_string()
}

struct Node {
    parent: usize,
    command: Option<Command>,
}

/// The commands from the description to node `at`.
fn path(nodes: &[Node], mut at: usize) -> Vec<String> {
    let mut commands = Vec::new();
    while let Some(command) = &nodes[at].command {
        commands.push(serde_json::to_string(command).unwrap_or_default());
        at = nodes[at].parent;
    }
    commands.reverse();
    commands
}

fn signed_in(state: &State) -> HashSet<(UserId, ChannelId)> {
    state.users().flat_map(|(id, u)| u.sign_ins.keys().map(move |c| (id.clone(), c.clone()))).collect()
}

/// The invariants of one accepted transition; the first that fails, if any.
pub(crate) fn check_transition(
    before: &State,
    command: &Command,
    events: &[Event],
    after: &State,
    checks: &mut u64,
) -> Option<String> {
    *checks += 6;
    if events.is_empty() {
        return Some("an accepted command produced no event (R6)".into());
    }
    if let Some(e) = events.iter().find(|e| e.at != command.at || e.by != command.actor) {
        return Some(format!("an event does not record who and when (R8): {e:?}"));
    }
    let kind = serde_json::to_value(&command.action)
        .ok()
        .and_then(|v| v["type"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let status = kind.starts_with("sign_");
    if status
        && events
            .iter()
            .any(|e| matches!(e.change, Change::Assigned { .. } | Change::Unassigned { .. } | Change::RolesSet { .. }))
    {
        return Some("a sign-in or sign-out changed an assignment or a role (R1)".into());
    }
    for (user, channel) in signed_in(before).difference(&signed_in(after)) {
        let signed_out = events
            .iter()
            .any(|e| matches!(&e.change, Change::SignedOut { user: u, channel: c } if u == user && c == channel));
        if !signed_out {
            return Some(format!("{user}'s sign-in to {channel} ended without a sign-out (R4)"));
        }
    }
    // An interaction id is taken while it runs and for a day after it ended (§7).
    if let agentstate_core::Action::InteractionStarted { interaction, .. } = &command.action
        && let Some(ended) = before.ended_interactions().ended_at(interaction)
        && command.at.get() < ended.get() + REMEMBERED_MS
    {
        return Some(format!("{interaction} started again less than a day after it ended at {ended}"));
    }
    if let Actor::User(actor) = &command.actor {
        for e in events {
            if let Change::SignedIn { user, channel } = &e.change
                && user == actor
                && !before.user(user).is_some_and(|u| u.is_assigned_agent(channel))
                && !before.settings().unassigned_sign_in
            {
                return Some(format!("{user} signed themselves in to unassigned {channel} while that is off (R3)"));
            }
            if let Change::WrapUpEnded { user, .. } = &e.change
                && user != actor
                && !before.settings().supervisor_wrap_up_end
            {
                return Some(format!("{actor} ended {user}'s wrap-up while that is off (R5)"));
            }
        }
    }
    for observer in ACTORS {
        *checks += 1;
        let observer = Actor::from(UserId::new(observer).ok()?);
        if let Some(problem) = crate::sight_laws::check_projection(before, events, &observer) {
            return Some(problem);
        }
    }
    let restored: Option<State> = serde_json::to_string(after).ok().and_then(|s| serde_json::from_str(&s).ok());
    if restored.as_ref() != Some(after) {
        return Some("the state does not survive its snapshot".into());
    }
    None
}

/// Laws 2 and 3 of sight: each actor's commands are decided alike on what they see and on
/// the whole state, and every command of theirs gets the same verdict on what they know.
pub(crate) fn check_sight(state: &State, commands: &[Command], at: Millis, checks: &mut u64) -> Option<String> {
    let mut seen: Option<(Actor, State, State)> = None;
    for template in commands {
        let command = Command { at, ..template.clone() };
        if seen.as_ref().is_none_or(|(observer, _, _)| *observer != command.actor) {
            let projection = agentstate_core::seen_by(state, &command.actor);
            let known = agentstate_core::known_to(state, &command.actor);
            seen = Some((command.actor.clone(), projection, known));
        }
        let Some((_, projection, known)) = &seen else { continue };
        *checks += 2;
        if let Some(problem) = crate::sight_laws::check_decision(state, projection, &command)
            .or_else(|| crate::sight_laws::check_verdict(state, known, &command))
        {
            return Some(problem);
        }
    }
    None
}

/// `allowed_actions` says what `decide` says, for every actor, user and channel.
pub(crate) fn check_state(state: &State, at: Millis, checks: &mut u64) -> Option<String> {
    for actor in ACTORS {
        let actor = Actor::from(UserId::new(actor).ok()?);
        for user in USERS {
            let user = UserId::new(user).ok()?;
            for channel in [None, Some("q"), Some("c")] {
                let channel = channel.and_then(|c| ChannelId::new(c).ok());
                let verdicts = allowed_actions(state, &actor, &user, channel.as_ref(), at);
                let judged = serde_json::to_value(&verdicts).ok()?;
                *checks += 1;
                // Each verdict of the view is decide's: recompute them through decide.
                for (name, verdict) in judged.as_object()?.iter() {
                    let Some(allowed) = verdict.get("allowed").and_then(Value::as_bool) else { continue };
                    let mut fields = serde_json::json!({"type": name, "actor": actor.as_str(), "at": Millis::ZERO.until(at), "user": user.as_str()});
                    if matches!(name.as_str(), "sign_in" | "sign_out" | "pause" | "resume")
                        && let Some(c) = &channel
                    {
                        fields["channel"] = Value::from(c.as_str());
                    }
                    if name == "pause" {
                        fields["reason"] =
                            Value::from(state.pause_reasons().as_slice().first().map_or("break", |r| r.as_str()));
                    }
                    if name == "sign_out_unassigned"
                        || name == "sign_in_assigned"
                        || name == "sign_out_all"
                        || name == "end_wrap_up"
                        || name == "stop_monitor"
                    {
                        fields.as_object_mut()?.remove("channel");
                    }
                    let Ok(command) = decode_command(&fields.to_string()) else { continue };
                    *checks += 1;
                    if decide(state, &command).is_ok() != allowed {
                        return Some(format!(
                            "allowed_actions says {name} is {allowed} for {} on {user}, decide disagrees",
                            actor.as_str()
                        ));
                    }
                }
            }
        }
    }
    None
}

/// Breadth first from the description, to `max_depth` commands.
pub fn explore(max_depth: usize) -> Report {
    explore_after(&[], max_depth)
}

/// Breadth first from the description after `prefix` (commands in wire form, each decided
/// in turn at its `at`, all accepted), to `max_depth` commands more.
pub fn explore_after(prefix: &[&str], max_depth: usize) -> Report {
    let seed: TenantSeed = serde_json::from_str(TENANT).expect("the explorer's tenant");
    let mut start = State::from_events(&seed.events().expect("its events"));
    for json in prefix {
        let command = decode_command(json).unwrap_or_else(|e| panic!("{json}: {e:?}"));
        for event in decide(&start, &command).unwrap_or_else(|e| panic!("{json}: {e:?}")) {
            evolve(&mut start, &event);
        }
    }
    let commands = commands();
    let mut report = Report::default();
    let mut nodes = vec![Node { parent: 0, command: None }];
    let mut seen = HashSet::from([key(&start)]);
    let mut frontier = VecDeque::from([(0usize, start, 0usize)]);
    report.closed = true;
    while let Some((node, state, depth)) = frontier.pop_front() {
        report.states += 1;
        report.depth = report.depth.max(depth);
        let now = state.clock().unwrap_or(Millis::ZERO);
        if let Some(problem) = check_state(&state, now, &mut report.checks)
            .or_else(|| check_sight(&state, &commands, now, &mut report.checks))
        {
            report.violation = Some((problem, path(&nodes, node)));
            return report;
        }
        if depth == max_depth {
            report.closed = false;
            continue;
        }
        for template in &commands {
            for step in STEPS_MS {
                let Some(at) = Millis::new(Millis::ZERO.until(now) + step) else { continue };
                let command = Command { at, ..template.clone() };
                report.transitions += 1;
                let decided = catch_unwind(AssertUnwindSafe(|| decide(&state, &command)));
                let events = match decided {
                    Err(_) => {
                        nodes.push(Node { parent: node, command: Some(command) });
                        report.violation = Some(("decide panicked".into(), path(&nodes, nodes.len() - 1)));
                        return report;
                    }
                    Ok(Err(_)) => continue,
                    Ok(Ok(events)) => events,
                };
                report.accepted += 1;
                if let agentstate_core::Action::InteractionStarted { interaction, .. } = &command.action
                    && state.ended_interactions().ended_at(interaction).is_some()
                {
                    report.reused_ids += 1;
                }
                let mut after = state.clone();
                for event in &events {
                    evolve(&mut after, event);
                }
                if let Some(problem) = check_transition(&state, &command, &events, &after, &mut report.checks) {
                    nodes.push(Node { parent: node, command: Some(command) });
                    report.violation = Some((problem, path(&nodes, nodes.len() - 1)));
                    return report;
                }
                if seen.insert(key(&after)) {
                    nodes.push(Node { parent: node, command: Some(command) });
                    frontier.push_back((nodes.len() - 1, after, depth + 1));
                }
            }
        }
    }
    report
}
