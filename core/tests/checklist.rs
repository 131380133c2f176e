//! The steps of adding a command or a rejection code (`docs/architecture.md`) that no
//! compiler checks: the rules document names every command and every code.

use agentstate_core::{Action, RejectionCode};

fn rules_md() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/rules.md");
    std::fs::read_to_string(path).expect("docs/rules.md")
}

#[test]
fn every_rejection_code_is_in_the_rules() {
    let rules = rules_md();
    let missing: Vec<&str> =
        RejectionCode::ALL.iter().map(|c| c.as_str()).filter(|c| !rules.contains(&format!("`{c}`"))).collect();
    assert_eq!(missing, Vec::<&str>::new(), "codes docs/rules.md does not name");
}

#[test]
fn every_command_is_in_the_rules() {
    let rules = rules_md();
    // §4 names each command as the first cell of a table row, or with its fields
    // (`create_user {user, name, roles}`).
    let named = |t: &str| rules.contains(&format!("| `{t}` |")) || rules.contains(&format!("`{t} {{"));
    let missing: Vec<&str> = Action::TYPES.iter().copied().filter(|t| !named(t)).collect();
    assert_eq!(missing, Vec::<&str>::new(), "commands docs/rules.md's §4 does not list");
}
