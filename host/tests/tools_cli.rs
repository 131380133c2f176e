//! `agentstate apply` and `agentstate replay` as a user runs them.

use std::process::Command;

use agentstate_core::Tenant;

const TENANT: &str = "plan: complete\nusers:\n  - { id: ana, name: Ana, roles: [agent] }\n  - { id: sam, name: Sam, roles: [supervisor] }\nchannels:\n  - { id: support, kind: queue, name: Support, supervisors: [sam] }\n";
const COMMANDS: [&str; 3] = [
    r#"{"actor":"ana","at":1,"type":"sign_in","user":"ana","channel":"support"}"#,
    r#"{"actor":"sam","at":2,"type":"sign_in","user":"ana","channel":"support"}"#,
    r#"{"actor":"ana","at":3,"type":"pause","user":"ana","reason":"lunch"}"#,
];

fn agentstate(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_agentstate")).args(args).output().expect("runs");
    assert!(out.stderr.is_empty(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    (out.status.code().expect("exit code"), String::from_utf8(out.stdout).expect("utf-8"))
}

#[test]
fn apply_prints_outcomes_and_replay_rebuilds_the_same_state_on_both_engines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tenant = dir.path().join("tenant.yaml");
    let commands = dir.path().join("commands.jsonl");
    std::fs::write(&tenant, TENANT).expect("writes");
    std::fs::write(&commands, COMMANDS.join("\n")).expect("writes");
    let (t, c) = (tenant.to_str().expect("utf-8"), commands.to_str().expect("utf-8"));

    let (code, wasm) = agentstate(&["apply", "--tenant", t, c]);
    assert_eq!(code, 1, "a command was rejected: {wasm}");
    let (_, native) = agentstate(&["apply", "--engine", "native", "--tenant", t, c]);
    assert_eq!(wasm, native);
    let outcomes: Vec<serde_json::Value> = wasm.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    assert_eq!(outcomes.len(), 3);
    assert_eq!(outcomes[1]["rejection"]["code"], "already_signed_in");

    let events: Vec<String> = outcomes
        .iter()
        .flat_map(|o| o["events"].as_array().cloned().unwrap_or_default())
        .map(|e| e.to_string())
        .collect();
    let log = dir.path().join("events.jsonl");
    std::fs::write(&log, events.join("\n")).expect("writes");
    let (code, replayed) = agentstate(&["replay", "--tenant", t, log.to_str().expect("utf-8")]);
    assert_eq!(code, 0);

    let mut expected = Tenant::from_seed(&agentstate_scenario::parse_tenant(TENANT).expect("a tenant")).expect("valid");
    for command in COMMANDS {
        expected.answer(command);
    }
    let snapshot: serde_json::Value = serde_json::from_str(&replayed).expect("JSON");
    let expected: serde_json::Value = serde_json::to_value(expected.state()).expect("JSON");
    assert_eq!(snapshot, expected, "replaying apply's events rebuilds the state apply left");

    let (_, view) = agentstate(&[
        "replay",
        "--tenant",
        t,
        log.to_str().expect("utf-8"),
        "--view",
        r#"{"view":"lingering_unassigned","actor":"system"}"#,
    ]);
    assert!(view.contains(r#""channel":"support""#), "{view}");

    // The day at a glance, on both engines, byte for byte.
    let activity = r#"{"view":"activity","actor":"system","from":0,"to":10}"#;
    let replay_view = |engine: &str| {
        agentstate(&["replay", "--engine", engine, "--tenant", t, log.to_str().expect("utf-8"), "--view", activity])
    };
    let ((_, wasm), (_, native)) = (replay_view("wasm"), replay_view("native"));
    assert_eq!(wasm, native);
    let report: serde_json::Value = serde_json::from_str(&wasm).expect("JSON");
    let intervals = &report["rows"][0]["intervals"];
    assert_eq!(intervals[2], serde_json::json!({"state": "paused", "from": 3, "to": 10, "reason": "lunch"}), "{wasm}");
    assert_eq!(report["rows"][0]["totals"]["paused_by_reason"]["lunch"], 7);
}
