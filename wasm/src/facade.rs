//! The core's JSON edge: a tenant started, restored, fed, asked and commanded in JSON text,
//! as the plugin ABI ([`crate::plugin`]), the browser binding and the native engine of the
//! rule suites take it — one code for all three, so that a suite run natively and the same
//! run on the module in wasmtime or Node compare the same bytes. The core itself speaks in
//! types (`Tenant::from_seed`, `answer`, `query`, `apply`); only a command's text is read
//! there, since an unreadable command is a rejection of the rules (`invalid_command`).

use agentstate_core::wire::{self, answer_json};
use agentstate_core::{Event, Query, Tenant, TenantSeed};
use serde_json::value::RawValue;

/// Text that is not what the call takes. Its message is the plugin ABI's error text
/// (`Status::Error`), the same in every runtime.
#[derive(Debug, thiserror::Error)]
pub enum Unreadable {
    #[error("not a tenant: {0}")]
    Tenant(String),
    #[error("not a snapshot: {0}")]
    Snapshot(serde_json::Error),
    #[error("not a JSON array of events: {0}")]
    Events(serde_json::Error),
    #[error("not a JSON array of commands: {0}")]
    Commands(serde_json::Error),
    #[error("not a view query: {0}")]
    Query(serde_json::Error),
}

/// A new tenant from the JSON of its description ([`TenantSeed`]).
pub fn start(json: &str) -> Result<Tenant, Unreadable> {
    let seed: TenantSeed = serde_json::from_str(json).map_err(|e| Unreadable::Tenant(e.to_string()))?;
    Tenant::from_seed(&seed).map_err(|e| Unreadable::Tenant(e.to_string()))
}

/// A tenant from the JSON of a snapshot; its journal starts empty.
pub fn restore(json: &str) -> Result<Tenant, Unreadable> {
    serde_json::from_str(json).map(Tenant::from_state).map_err(Unreadable::Snapshot)
}

/// Folds a JSON array of events into the tenant, all or nothing: a malformed array
/// changes nothing.
pub fn apply(tenant: &mut Tenant, json: &str) -> Result<(), Unreadable> {
    let events: Vec<Event> = serde_json::from_str(json).map_err(Unreadable::Events)?;
    tenant.apply(events);
    Ok(())
}

/// Decides and applies one JSON command; its outcome as JSON (bad input is an
/// `invalid_command` outcome, like any other rejection).
pub fn handle(tenant: &mut Tenant, command: &str) -> String {
    wire::to_json(&tenant.answer(command))
}

/// A JSON array of commands, each decided in turn (a rejected one does not stop the rest),
/// their outcomes appended to `out` as a JSON array.
pub fn handle_batch(tenant: &mut Tenant, commands: &str, out: &mut Vec<u8>) -> Result<(), Unreadable> {
    let commands: Vec<&RawValue> = serde_json::from_str(commands).map_err(Unreadable::Commands)?;
    out.reserve(commands.len() * 160 + 2);
    out.push(b'[');
    for (i, command) in commands.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        wire::write_json(out, &tenant.answer(command.get()));
    }
    out.push(b']');
    Ok(())
}

/// Answers a view query given as JSON; the view as JSON (its objects' keys sorted).
pub fn query(tenant: &Tenant, query: &str) -> Result<String, Unreadable> {
    let query: Query = serde_json::from_str(query).map_err(Unreadable::Query)?;
    Ok(answer_json(&tenant.query(&query)))
}

/// The tenant's state as JSON: what [`restore`] takes.
pub fn snapshot(tenant: &Tenant) -> String {
    wire::to_json(tenant.state())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = r#"{"plan": "complete", "users": [{"id": "ana", "name": "Ana", "roles": ["agent"]}],
        "channels": [{"id": "sales", "kind": "queue", "name": "Sales", "agents": ["ana"]}]}"#;
    const SIGN_IN: &str = r#"{"type":"sign_in","actor":"ana","at":1000,"user":"ana","channel":"sales"}"#;

    #[test]
    fn unreadable_text_is_named_by_what_the_call_takes_and_changes_nothing() {
        assert!(start("{").unwrap_err().to_string().starts_with("not a tenant: "));
        assert!(restore("[]").unwrap_err().to_string().starts_with("not a snapshot: "));
        let mut tenant = start(SEED).expect("a tenant");
        let before = snapshot(&tenant);
        let refused = apply(&mut tenant, r#"[{"type":"signed_in"}, 7]"#).unwrap_err();
        assert!(refused.to_string().starts_with("not a JSON array of events: "), "{refused}");
        assert_eq!(snapshot(&tenant), before, "all or nothing");
        let mut out = Vec::new();
        let refused = handle_batch(&mut tenant, "{}", &mut out).unwrap_err();
        assert!(refused.to_string().starts_with("not a JSON array of commands: "), "{refused}");
        assert!(query(&tenant, r#"{"view":"nothing"}"#).unwrap_err().to_string().starts_with("not a view query: "));
        assert_eq!((out.len(), snapshot(&tenant)), (0, before));
    }

    #[test]
    fn a_batch_answers_each_command_as_one_at_a_time_would() {
        let mut one_by_one = start(SEED).expect("a tenant");
        let bad = r#"{"type":"pause"}"#;
        let expected = format!("[{},{}]", handle(&mut one_by_one, SIGN_IN), handle(&mut one_by_one, bad));
        let mut batched = start(SEED).expect("a tenant");
        let mut out = Vec::new();
        handle_batch(&mut batched, &format!("[{SIGN_IN},{bad}]"), &mut out).expect("an array");
        assert_eq!(String::from_utf8(out).expect("UTF-8"), expected);
        assert_eq!(snapshot(&batched), snapshot(&one_by_one));
        let mut restored = restore(&snapshot(&batched)).expect("a snapshot");
        assert_eq!(snapshot(&restored), snapshot(&batched), "a snapshot restores what it holds");
        assert!(handle(&mut restored, SIGN_IN).contains("rejected"), "Ana is signed in already");
    }
}
