//! Every rule suite runs on the native core: its expectations hold, and its outcomes
//! and events match the reviewed snapshot. The suites together must produce every
//! rejection code and name every rule R1–R8.

use std::collections::BTreeSet;

use agentstate_core::{Action, RejectionCode};
use agentstate_scenario::{Expect, NativeEngine, Scenario, SuiteReport, run};
use agentstate_tests::{render, suite_files};

fn run_all() -> Vec<(String, SuiteReport)> {
    suite_files()
        .iter()
        .map(|file| {
            let scenario = Scenario::load(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let report = run(&scenario, &mut NativeEngine::default()).expect("the native engine does not fail");
            let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
            (stem, report)
        })
        .collect()
}

#[test]
fn every_suite_holds_its_expectations() {
    let mut failures = Vec::new();
    for (stem, report) in run_all() {
        for step in report.failures() {
            let failure = if step.events_hold() {
                format!("expected {}, got {:?}", step.expect.map(|e| e.to_string()).unwrap_or_default(), step.actual())
            } else {
                format!("expected the events {:?}, got {:?}", step.then, step.events())
            };
            failures.push(format!("{stem}.yaml step {} (line {}): {failure}", step.step, step.line));
        }
    }
    assert!(failures.is_empty(), "expectations that do not hold:\n{}", failures.join("\n"));
}

#[test]
fn every_suite_matches_its_snapshot() {
    for (stem, report) in run_all() {
        insta::assert_snapshot!(stem, render(&report));
    }
}

#[test]
fn every_rejection_code_is_produced_by_some_suite() {
    let produced: BTreeSet<RejectionCode> = run_all()
        .iter()
        .flat_map(|(_, r)| r.steps.iter().filter_map(|s| s.actual()))
        .filter_map(|a| match a {
            Expect::Rejected(code) => Some(code),
            Expect::Accepted => None,
        })
        .collect();
    let missing: Vec<&str> = RejectionCode::ALL.iter().filter(|c| !produced.contains(c)).map(|c| c.as_str()).collect();
    assert!(missing.is_empty(), "no suite step produces: {missing:?}");
}

#[test]
fn every_rule_has_a_suite_named_after_it() {
    let suites = run_all();
    for rule in 1..=8 {
        let named = suites
            .iter()
            .any(|(stem, r)| stem.starts_with(&format!("r{rule}_")) && r.name.starts_with(&format!("R{rule} ")));
        assert!(named, "no suite file r{rule}_*.yaml named \"R{rule} …\"");
    }
}

/// A new command is the suites' too: every command type is accepted in some step of some
/// suite (a step the engine really accepted, not one only expected to be).
#[test]
fn every_command_is_accepted_by_some_suite() {
    let accepted: BTreeSet<String> = run_all()
        .iter()
        .flat_map(|(_, r)| r.steps.iter())
        .filter(|step| matches!(step.actual(), Some(Expect::Accepted)))
        .filter_map(|step| step.command.get("type")?.as_str().map(str::to_owned))
        .collect();
    let missing: Vec<&str> = Action::TYPES.iter().copied().filter(|t| !accepted.contains(*t)).collect();
    assert!(missing.is_empty(), "no suite step has these commands accepted: {missing:?}");
}
