//! What the fuzz targets check, as plain functions of the input bytes: the coverage-guided
//! campaigns (`fuzz/`, `cargo xtask fuzz`) and the corpus regression test (`fuzz_corpus.rs`)
//! call the same code. Each panics when something the project promises does not hold.

use std::sync::{Arc, OnceLock};

use agentstate_core::wire::decode_command;
use agentstate_core::{Event, Millis, State, Tenant, TenantSeed, decide, evolve};
use agentstate_runtime::{Limits, Runtime, WasmTenant, module};
use agentstate_server::http::body::{Commands, MAX_BATCH, commands_of};
use agentstate_server::service::Incoming;
use agentstate_wasm::facade;
use agentstate_wasm::plugin::{Call, Plugin, Status};

use crate::explore;

/// A check of one input.
pub type Target = fn(&[u8]);

/// Every target, by the name `cargo xtask fuzz` takes.
pub const TARGETS: [(&str, Target); 7] = [
    ("command", command),
    ("events", events),
    ("description", description),
    ("scenario", scenario),
    ("rules", rules),
    ("abi", abi),
    ("http_body", http_body),
];

fn seed() -> &'static TenantSeed {
    static SEED: OnceLock<TenantSeed> = OnceLock::new();
    SEED.get_or_init(|| serde_json::from_str(explore::TENANT).expect("the fuzzing tenant"))
}

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Any bytes as a command: decoded with a located error or decided; the outcome is JSON;
/// what was accepted folds from the log to the same state.
pub fn command(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let mut tenant = Tenant::from_seed(seed()).expect("the tenant");
    let before = facade::snapshot(&tenant);
    let answer = facade::handle(&mut tenant, text);
    let outcome: serde_json::Value = serde_json::from_str(&answer).expect("the outcome is JSON");
    match outcome["outcome"].as_str() {
        Some("accepted") => {
            let mut log = seed().events().expect("events");
            log.extend(serde_json::from_value::<Vec<Event>>(outcome["events"].clone()).expect("events"));
            let held: State = serde_json::from_str(&facade::snapshot(&tenant)).expect("a snapshot");
            assert_eq!(State::from_events(&log), held, "the fold law");
        }
        Some("rejected") => assert_eq!(facade::snapshot(&tenant), before, "a rejected command changed the state (R6)"),
        _ => panic!("neither accepted nor rejected: {answer}"),
    }
    if let Ok(command) = decode_command(text) {
        assert_eq!(
            decide(&State::from_events(&seed().events().expect("events")), &command).is_ok(),
            outcome["outcome"] == "accepted"
        );
    }
}

/// Any bytes as a log's tail: folded all or nothing.
pub fn events(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let mut tenant = Tenant::from_seed(seed()).expect("the tenant");
    let before = facade::snapshot(&tenant);
    if facade::apply(&mut tenant, text).is_err() {
        assert_eq!(facade::snapshot(&tenant), before, "a refused log changed the state");
    }
    let _ = facade::snapshot(&tenant);
}

/// Any bytes as a tenant description, YAML or JSON: refused with a reason, or a tenant.
pub fn description(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let from_yaml = agentstate_scenario::parse_tenant(text).ok();
    let from_json = serde_json::from_str::<TenantSeed>(text).ok();
    for seed in from_yaml.iter().chain(from_json.iter()) {
        if let Ok(events) = seed.events() {
            let state = State::from_events(&events);
            let restored: State =
                serde_json::from_str(&serde_json::to_string(&state).expect("JSON")).expect("the snapshot law");
            assert_eq!(restored, state);
        }
    }
}

/// Any bytes as a rule-suite file (YAML or JSON).
pub fn scenario(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let _ = agentstate_scenario::Scenario::parse(text);
}

/// Bytes as a walk through the small tenant of the exhaustive check: each pair picks a
/// command and a time step; every transition keeps the rules, and at the end
/// `allowed_actions` agrees with `decide`.
pub fn rules(data: &[u8]) {
    static COMMANDS: OnceLock<Vec<agentstate_core::Command>> = OnceLock::new();
    let commands = COMMANDS.get_or_init(explore::commands);
    let mut state = State::from_events(&seed().events().expect("events"));
    let mut checks = 0;
    for pair in data.chunks(2).take(64) {
        let pick = usize::from(pair[0]) << 8 | usize::from(*pair.get(1).unwrap_or(&0));
        let template = &commands[pick % commands.len()];
        let step = explore::STEPS_MS[pick / commands.len() % explore::STEPS_MS.len()];
        let now = state.clock().unwrap_or(Millis::ZERO);
        let Some(at) = Millis::new(Millis::ZERO.until(now) + step) else { return };
        let command = agentstate_core::Command { at, ..template.clone() };
        if let Ok(events) = decide(&state, &command) {
            let mut after = state.clone();
            for event in &events {
                evolve(&mut after, event);
            }
            if let Some(problem) = explore::check_transition(&state, &command, &events, &after, &mut checks) {
                panic!("{problem} after {command:?}");
            }
            state = after;
        }
    }
    let at = state.clock().unwrap_or(Millis::ZERO);
    if let Some(problem) = explore::check_state(&state, at, &mut checks) {
        panic!("{problem}");
    }
}

fn runtime() -> &'static Arc<Runtime> {
    static RUNTIME: OnceLock<Arc<Runtime>> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let module = module::locate().expect("the plugin module (cargo xtask wasm)");
        Runtime::from_file(&module, Some(&module::cache_dir(&module)), Limits::default()).expect("the runtime")
    })
}

/// A plugin natively, started on the fuzzing tenant.
fn native_plugin() -> Plugin {
    let mut plugin = Plugin::default();
    assert_eq!(plugin.call(Call::Start, explore::TENANT.as_bytes())[0], Status::Ok as u8);
    plugin
}

/// Bytes as calls into the plugin ABI, natively and in wasmtime, from the same tenant:
/// every call answers the same status and bytes, and the snapshots agree at the end.
/// Calls are separated by a 0 byte (which no JSON text holds); each one's first byte picks
/// the export.
pub fn abi(data: &[u8]) {
    let mut native = native_plugin();
    let mut wasm = WasmTenant::new(runtime().clone()).expect("an instance");
    wasm.start(explore::TENANT).expect("the tenant");
    for part in data.split(|b| *b == 0).take(8) {
        let Some((&pick, input)) = part.split_first() else { continue };
        let call = Call::ALL[usize::from(pick) % Call::ALL.len()];
        let expected = native.call(call, input);
        let (status, answer) =
            wasm.call_bytes(call, input).unwrap_or_else(|e| panic!("wasmtime failed on {}: {e}", call.name()));
        assert_eq!(status as u8, expected[0], "the status of {} differs", call.name());
        assert_eq!(answer.as_bytes(), &expected[1..], "the answer of {} differs", call.name());
    }
    let snapshot = native.call(Call::Snapshot, b"")[1..].to_vec();
    assert_eq!(wasm.snapshot().expect("a snapshot").as_bytes(), snapshot, "the tenants differ");
}

/// Any bytes as the body of `POST /api/tenants/{t}/commands` from `sam`: a client error
/// the API names, or commands that each act as `sam` without a client's `at` — and what
/// the server passes on unstamped, the module refuses as `invalid_command`.
pub fn http_body(data: &[u8]) {
    match commands_of(data, "sam") {
        Err(e) => assert!(
            e.status().is_client_error() && ["batch_too_large", "actor_mismatch", "at_not_allowed"].contains(&e.code()),
            "{e:?}"
        ),
        Ok(Commands { batch, commands }) => {
            assert!(commands.len() <= MAX_BATCH && (batch || commands.len() == 1));
            for command in commands {
                match command {
                    Incoming::Object { text, id } => {
                        // Values as their text: a number out of any float's range is still
                        // JSON, for the module to judge.
                        let fields: std::collections::BTreeMap<String, &serde_json::value::RawValue> =
                            serde_json::from_str(&text).expect("an object");
                        let string =
                            |key: &str| fields.get(key).and_then(|v| serde_json::from_str::<String>(v.get()).ok());
                        assert_eq!(string("actor").as_deref(), Some("sam"), "{text}");
                        assert!(!fields.contains_key("at"), "a client's `at` went through");
                        assert_eq!(id, string("id"));
                    }
                    Incoming::Raw(_) => panic!("a client's body is never taken as the host's own text"),
                    Incoming::Unread(bytes) => {
                        let mut plugin = native_plugin();
                        let answer = plugin.call(Call::Handle, &bytes);
                        assert_eq!(answer[0], Status::Rejected as u8, "an unstamped command was accepted");
                        let outcome: serde_json::Value = serde_json::from_slice(&answer[1..]).expect("JSON");
                        assert_eq!(outcome["rejection"]["code"], "invalid_command", "{outcome}");
                    }
                }
            }
        }
    }
}
