//! Helpers shared by the rule-suite tests: where the suites are, and how a suite's
//! outcomes are written down for review.

pub mod explore;
pub mod fuzzing;
pub mod sight_laws;

use std::fmt::Write;
use std::path::{Path, PathBuf};

use agentstate_core::{Actor, ChannelId, Millis, Query, Role, RoleSet, UserId};
use agentstate_scenario::SuiteReport;
use serde_json::Value;

/// Every rule suite under `tests/suites`, sorted.
pub fn suite_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("suites");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "json"))
        .collect();
    files.sort();
    files
}

/// The view queries that pin down a tenant after a suite, asked by every user and by
/// `system`: every roster and its time in state (and a minute later, past short wrap-ups),
/// the lingering sign-ins, searches, the allowed actions on every user (with and without a
/// channel), every history and dashboard, the counts, the sight and the snapshot.
pub fn view_queries(scenario: &agentstate_scenario::Scenario) -> Vec<Query> {
    let at = scenario.steps.iter().filter_map(|s| s.command.get("at")?.as_u64()).max().unwrap_or(0);
    let at = Millis::new(at.min((1 << 53) - 1)).expect("a time");
    let later = Millis::new((at.get() + 60_000).min((1 << 53) - 1)).expect("a time");
    let users: Vec<UserId> = scenario.tenant.users.iter().map(|u| u.id.clone()).collect();
    let channels: Vec<ChannelId> = scenario.tenant.channels.iter().map(|c| c.id.clone()).collect();
    // Every view as each user sees it, and as `system` (everything).
    let mut queries = vec![Query::RoutingBoard { actor: Actor::System, at }];
    for actor in users.iter().map(|u| Actor::from(u.clone())).chain([Actor::System]) {
        queries.push(Query::LingeringUnassigned { actor: actor.clone() });
        queries.push(Query::SearchUsers { actor: actor.clone(), text: String::new(), roles: RoleSet::default() });
        queries.push(Query::SearchUsers {
            actor: actor.clone(),
            text: "a".into(),
            roles: RoleSet::NONE.with(Role::Agent),
        });
        queries.push(Query::Snapshot { actor: actor.clone() });
        queries.push(Query::Sight { actor: actor.clone() });
        queries.push(Query::ChannelCounts { actor: actor.clone(), at });
        for channel in &channels {
            queries.push(Query::Roster { actor: actor.clone(), channel: channel.clone(), at });
            queries.push(Query::ChannelStates { actor: actor.clone(), channel: channel.clone(), at });
        }
        for user in &users {
            queries.push(Query::History { actor: actor.clone(), user: user.clone(), events: None });
            queries.push(Query::AgentDashboard { actor: actor.clone(), user: user.clone(), at });
            queries.push(Query::AllowedActions { actor: actor.clone(), user: user.clone(), channel: None, at });
            if let Some(channel) = channels.first() {
                let channel = Some(channel.clone());
                queries.push(Query::AllowedActions { actor: actor.clone(), user: user.clone(), channel, at });
            }
        }
    }
    for channel in &channels {
        queries.push(Query::ChannelStates { actor: Actor::System, channel: channel.clone(), at: later });
    }
    queries
}

/// A suite's outcomes as reviewable text: each step's command, then either its events
/// (one canonical JSON line each) or its rejection with both messages.
pub fn render(report: &SuiteReport) -> String {
    let mut out = format!("# {}\n", report.name);
    for step in &report.steps {
        let mut fields = step.command.clone();
        let header = match fields.as_object_mut() {
            Some(map) => {
                let at = map.remove("at").unwrap_or(Value::Null);
                let actor = map.remove("actor").unwrap_or(Value::Null);
                let kind = map.remove("type").unwrap_or(Value::Null);
                format!("@{at} {}: {} {fields}", text(&actor), text(&kind))
            }
            None => format!("not an object: {fields}"),
        };
        let _ = writeln!(out, "{:>2} {header}", step.step);
        let outcome = &step.outcome;
        match outcome.get("outcome").and_then(Value::as_str) {
            Some("accepted") => {
                let _ = writeln!(out, "   accepted");
                for event in outcome["events"].as_array().into_iter().flatten() {
                    let _ = writeln!(out, "   + {event}");
                }
            }
            _ => {
                let mut rejection = outcome["rejection"].clone();
                let message = rejection.as_object_mut().and_then(|r| r.remove("message")).unwrap_or(Value::Null);
                let _ = writeln!(out, "   rejected {rejection}");
                let _ = writeln!(out, "   en: {}", text(&message["en"]));
                let _ = writeln!(out, "   de: {}", text(&message["de"]));
            }
        }
    }
    out
}

fn text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}
