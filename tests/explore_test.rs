//! The exhaustive check of a small tenant, at a depth that fits every test run (`cargo
//! xtask explore --depth N` goes further).

#[test]
fn every_state_of_a_small_tenant_keeps_the_rules() {
    let report = agentstate_tests::explore::explore(3);
    if let Some((problem, commands)) = &report.violation {
        panic!("{problem}, after:\n{}", commands.join("\n"));
    }
    assert!(report.states > 100 && report.accepted > 100, "the search went nowhere: {report:?}");
}

/// The day boundary: from a call that just ended, every state two commands on — among them
/// the same id started again a day later (the rule suite `interaction_ids` holds the
/// millisecond before).
#[test]
fn an_ended_call_id_is_free_exactly_a_day_later_in_every_state() {
    let report = agentstate_tests::explore::explore_after(
        &[
            r#"{"actor":"ana","at":0,"type":"sign_in","user":"ana","channel":"q"}"#,
            r#"{"actor":"system","at":0,"type":"interaction_started","user":"ana","channel":"q","interaction":"ana-q"}"#,
            r#"{"actor":"system","at":0,"type":"interaction_ended","interaction":"ana-q"}"#,
        ],
        2,
    );
    if let Some((problem, commands)) = &report.violation {
        panic!("{problem}, after:\n{}", commands.join("\n"));
    }
    assert!(report.reused_ids > 0, "no id was started again a day after its end: {report:?}");
}

/// The search tries every command there is but five, named here: devices, new users and
/// channels, and roles (each would multiply the states the search must visit; the rule
/// suites and the properties try them). A new command fails here until the search tries
/// it or it is named.
#[test]
fn the_search_tries_every_command() {
    const NOT_TRIED: &[&str] = &["device_registered", "device_activity", "create_user", "set_roles", "create_channel"];
    let tried: std::collections::BTreeSet<&str> =
        agentstate_tests::explore::commands().iter().map(|c| c.action.type_name()).collect();
    for kind in agentstate_core::Action::TYPES {
        assert!(tried.contains(kind) != NOT_TRIED.contains(kind), "{kind}: tried or named as not tried?");
    }
}
