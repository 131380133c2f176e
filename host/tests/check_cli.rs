//! `agentstate check` as a user runs it: exit codes 0/1/2 and what it names.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn suites() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/suites")
}

fn check(args: &[&str]) -> (i32, String) {
    let Output { status, stdout, stderr } =
        Command::new(env!("CARGO_BIN_EXE_agentstate")).arg("check").args(args).output().expect("runs");
    assert!(stderr.is_empty(), "stderr: {}", String::from_utf8_lossy(&stderr));
    (status.code().expect("exit code"), String::from_utf8(stdout).expect("utf-8"))
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("writes");
    path.display().to_string()
}

const TENANT: &str = "tenant:\n  plan: complete\n  users:\n    - { id: ana, name: Ana, roles: [agent] }\n  channels:\n    - { id: sales, kind: queue, name: Sales, agents: [ana] }\n";

#[test]
fn the_rule_suites_pass() {
    let (code, out) = check(&[suites().to_str().expect("utf-8 path")]);
    assert_eq!(code, 0, "{out}");
    // Every suite file of the folder (its `tenants/` are descriptions, not suites).
    let files = std::fs::read_dir(suites()).expect("the suites").flatten();
    let count = files.filter(|f| f.path().extension().is_some_and(|e| e == "yaml")).count();
    assert!(count > 20, "only {count} suites");
    assert!(out.ends_with(&format!("suites: {count} passed, 0 failed\n")), "{out}");
}

#[test]
fn a_wrong_expectation_exits_1_naming_step_line_and_both_outcomes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        &dir,
        "wrong.yaml",
        &format!(
            "name: wrong\n{TENANT}steps:\n  - {{ at: 1, actor: ana, type: sign_in, user: ana, channel: sales, expect: accepted }}\n  - {{ at: 2, actor: ana, type: sign_in, user: ana, channel: sales, expect: accepted }}\n"
        ),
    );
    let (code, out) = check(&[&file]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL"), "{out}");
    assert!(out.contains("step 2 (line 10, sign_in): expected accepted, got rejected already_signed_in"), "{out}");
    assert!(!out.contains("step 1"), "passing steps are listed only with --verbose: {out}");
}

#[test]
fn a_file_that_is_not_a_scenario_exits_2_with_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broken = write(&dir, "broken.yaml", "name: broken\ntenant:\n  plan: complete\n  users: [\nsteps: []\n");
    let (code, out) = check(&[&broken]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("broken.yaml") && out.contains("line 5"), "{out}");

    let invalid_tenant = write(
        &dir,
        "dup.yaml",
        "name: dup\ntenant:\n  plan: complete\n  users:\n    - { id: ana, name: Ana }\n    - { id: ana, name: Ana }\nsteps: []\n",
    );
    let (code, out) = check(&[&invalid_tenant]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("line 3: tenant.users[1].id: user ana is listed twice"), "{out}");

    let no_steps = write(&dir, "nosteps.yaml", &format!("name: x\n{TENANT}"));
    assert_eq!(check(&[&no_steps]).0, 2);
    let (code, _) = check(&[&broken, &suites().join("r1_sign_in_is_not_assignment.yaml").display().to_string()]);
    assert_eq!(code, 2, "an invalid file wins over passing ones");
}

#[test]
fn json_output_reports_every_steps_outcome() {
    let file = suites().join("r7_time_is_input.yaml");
    let (code, out) = check(&["--json", file.to_str().expect("utf-8 path")]);
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    let suite = &report[0];
    assert_eq!(suite["passed"], true);
    let steps = suite["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 8);
    assert_eq!(steps[1]["outcome"]["rejection"]["code"], "clock_went_backwards");
    assert_eq!(steps[0]["outcome"]["events"][0]["type"], "signed_in");
    assert_eq!(steps[0]["line"], 5, "the line of the first step in the file");
}

#[test]
fn the_wasm_and_native_engines_print_identical_json_for_every_suite() {
    let dir = suites();
    let dir = dir.to_str().expect("utf-8 path");
    let (wasm_code, wasm) = check(&["--json", "--engine", "wasm", dir]);
    let (native_code, native) = check(&["--json", "--engine", "native", dir]);
    assert_eq!((wasm_code, native_code), (0, 0));
    assert!(wasm.len() > 100_000, "every step's outcome is printed");
    assert!(wasm == native, "the engines disagree");
}
