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
