//! The agent's own dashboard: their channels and state on each, lingering unassigned
//! sign-ins marked, their call with the supervisor they hear (not one silently listening),
//! their wrap-up and devices.

use agentstate_core::views::{AgentState, agent_dashboard};
use agentstate_core::wire::{Outcome, handle_json};
use agentstate_core::{Millis, MonitorMode, State, TenantSeed};

fn ms(n: u64) -> Millis {
    Millis::new(n).expect("a time")
}

fn tenant(commands: &[&str]) -> State {
    let seed: TenantSeed = serde_json::from_str(
        r#"{"plan": "complete", "pause_reasons": ["lunch"],
            "users": [{"id": "ana", "name": "Ana", "roles": ["agent"]},
                      {"id": "sue", "name": "Sue", "roles": ["supervisor", "admin"]}],
            "channels": [{"id": "sales", "kind": "queue", "name": "Sales", "wrap_up_secs": 30, "agents": ["ana"], "supervisors": ["sue"]},
                         {"id": "chat", "kind": "chat", "name": "Chat", "agents": ["ana"], "supervisors": ["sue"]},
                         {"id": "billing", "kind": "queue", "name": "Billing", "supervisors": ["sue"]},
                         {"id": "outbound", "kind": "campaign", "name": "Outbound"}]}"#,
    )
    .expect("a tenant");
    let mut state = State::from_events(&seed.events().expect("events"));
    for command in commands {
        let outcome = handle_json(&mut state, command);
        assert!(matches!(outcome, Outcome::Accepted { .. }), "{command}: {outcome:?}");
    }
    state
}

#[test]
fn an_agent_sees_their_channels_call_wrap_up_and_devices() {
    let mut commands = vec![
        r#"{"type":"sign_in","actor":"ana","at":1000,"user":"ana","channel":"sales"}"#,
        r#"{"type":"sign_in","actor":"sue","at":1100,"user":"ana","channel":"billing"}"#,
        r#"{"type":"set_setting","actor":"sue","at":1200,"setting":"unassigned_sign_in","value":false}"#,
        r#"{"type":"device_registered","actor":"system","at":1300,"user":"ana","device":"d1","kind":"softphone","label":"Laptop"}"#,
        r#"{"type":"device_activity","actor":"system","at":1400,"device":"d1","active":true}"#,
        r#"{"type":"interaction_started","actor":"system","at":2000,"user":"ana","channel":"sales","interaction":"c1"}"#,
        r#"{"type":"monitor","actor":"sue","at":2100,"user":"ana","mode":"listen"}"#,
    ];
    let state = tenant(&commands);
    let me = agent_dashboard(&state, "ana", ms(3000)).expect("ana");
    let names: Vec<&str> = me.channels.iter().map(|c| c.channel.as_str()).collect();
    assert_eq!(names, ["billing", "chat", "sales"], "assigned or signed in, by name; not Outbound");
    let billing = &me.channels[0];
    assert!(billing.signed_in && !billing.assigned && billing.unassigned_sign_in && billing.flagged);
    assert_eq!((me.channels[1].now.state, me.channels[1].signed_in), (AgentState::SignedOut, false));
    assert_eq!(me.channels[2].now.state, AgentState::OnInteraction);
    let call = me.interaction.as_ref().expect("on a call");
    assert_eq!((call.channel.as_str(), call.since), ("sales", ms(2000)));
    assert!(call.heard_supervisor.is_none(), "silent listening is not shown to the agent");
    assert_eq!(me.devices.iter().map(|d| (d.device.as_str(), d.active)).collect::<Vec<_>>(), [("d1", true)]);

    commands.push(r#"{"type":"monitor","actor":"sue","at":2200,"user":"ana","mode":"whisper"}"#);
    let state = tenant(&commands);
    let heard =
        agent_dashboard(&state, "ana", ms(3000)).and_then(|me| me.interaction?.heard_supervisor).expect("whisper");
    assert_eq!((heard.name.as_str(), heard.mode), ("Sue", MonitorMode::Whisper));

    commands.push(r#"{"type":"interaction_ended","actor":"system","at":4000,"interaction":"c1"}"#);
    let state = tenant(&commands);
    let me = agent_dashboard(&state, "ana", ms(5000)).expect("ana");
    assert!(me.interaction.is_none());
    let wrap_up = me.wrap_up.expect("in wrap-up");
    assert_eq!((wrap_up.until, wrap_up.remaining_ms), (ms(34_000), 29_000));
    assert!(agent_dashboard(&state, "ana", ms(40_000)).expect("ana").wrap_up.is_none(), "over at its deadline");
    assert!(agent_dashboard(&state, "nobody", ms(0)).is_none());
}
