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
