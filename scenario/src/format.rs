use std::fmt;
use std::path::Path;

use agentstate_core::{RejectionCode, TenantSeed};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_saphyr::Spanned;

/// A rule suite, parsed and checked.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub tenant: TenantSeed,
    pub steps: Vec<Step>,
}

/// One step: the command exactly as written (a step that is not a valid command is
/// still a step — the engine rejects it as `invalid_command`), and what it should do.
#[derive(Clone, Debug)]
pub struct Step {
    /// 1-based position in `steps`.
    pub number: usize,
    /// Line of the step in the file.
    pub line: u64,
    pub command: Value,
    pub expect: Option<Expect>,
    /// The events the step should produce, in order: each one's fields as written must be
    /// the event's (fields left out, such as `at` and `by`, are not compared).
    pub then: Option<Vec<Value>>,
}

/// What a step is expected to do.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Expect {
    Accepted,
    Rejected(RejectionCode),
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Accepted => f.write_str("accepted"),
            Expect::Rejected(code) => write!(f, "rejected {code}"),
        }
    }
}

/// A file that is not a scenario: not YAML, no `tenant` or `steps`, an invalid tenant,
/// or a malformed `expect`.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("{message}")]
pub struct ScenarioError {
    /// Where in the file, when known.
    pub line: Option<u64>,
    /// What is wrong, naming the line (YAML errors come with a snippet of the file).
    pub message: String,
}

impl ScenarioError {
    fn at(line: u64, message: impl std::fmt::Display) -> ScenarioError {
        ScenarioError { line: (line > 0).then_some(line), message: format!("line {line}: {message}") }
    }
}

/// The folder beside a suite that holds the tenants suites name with `given:`.
pub const TENANTS_DIR: &str = "tenants";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: String,
    /// The starting tenant, written out…
    #[serde(default)]
    tenant: Option<Spanned<TenantSeed>>,
    /// …or named: `tenants/<given>.yaml` beside the suite, shared by the suites that name it.
    #[serde(default)]
    given: Option<Spanned<String>>,
    steps: Vec<Spanned<Value>>,
}

impl Scenario {
    /// Reads a scenario from YAML or JSON text that writes its tenant out.
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse_in(text, None)
    }

    /// Reads a scenario from YAML or JSON text; a tenant named with `given:` is read from
    /// `dir`'s `tenants/` folder.
    pub fn parse_in(text: &str, dir: Option<&Path>) -> Result<Scenario, ScenarioError> {
        let raw: RawScenario = serde_saphyr::from_str(text).map_err(yaml_error)?;
        let tenant = match (raw.tenant, raw.given) {
            (Some(tenant), None) => {
                check_tenant(&tenant, "tenant.")?;
                tenant.value
            }
            (None, Some(name)) => named_tenant(&name, dir)?,
            (Some(tenant), Some(_)) => {
                return Err(ScenarioError::at(
                    tenant.referenced.line(),
                    "write the tenant out or name it with `given:`, not both",
                ));
            }
            (None, None) => return Err(ScenarioError::at(1, "a suite needs a `tenant:` or a `given:` naming one")),
        };
        let steps = raw
            .steps
            .into_iter()
            .enumerate()
            .map(|(i, spanned)| step(i + 1, spanned.referenced.line(), spanned.value))
            .collect::<Result<_, _>>()?;
        Ok(Scenario { name: raw.name, tenant, steps })
    }

    /// Reads a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ScenarioError { line: None, message: format!("cannot read: {e}") })?;
        Scenario::parse_in(&text, path.parent())
    }
}

/// The tenant `given:` names, from the suite folder's `tenants/`.
fn named_tenant(name: &Spanned<String>, dir: Option<&Path>) -> Result<TenantSeed, ScenarioError> {
    let line = name.referenced.line();
    let simple =
        !name.value.is_empty() && name.value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !simple {
        return Err(ScenarioError::at(
            line,
            format!("given: `{}` is not a tenant's name (letters, digits, _ and -)", name.value),
        ));
    }
    let Some(dir) = dir else {
        return Err(ScenarioError::at(
            line,
            format!("given: `{}` names a tenant file, but this suite has no folder", name.value),
        ));
    };
    let path = dir.join(TENANTS_DIR).join(format!("{}.yaml", name.value));
    let text = std::fs::read_to_string(&path)
        .map_err(|e| ScenarioError::at(line, format!("given: cannot read {}: {e}", path.display())))?;
    parse_tenant(&text).map_err(|e| ScenarioError::at(line, format!("given: {}: {}", path.display(), e.message)))
}

/// Reads a tenant description alone (YAML or JSON), as `agentstate apply --tenant` takes it.
pub fn parse_tenant(text: &str) -> Result<TenantSeed, ScenarioError> {
    let seed: Spanned<TenantSeed> = serde_saphyr::from_str(text).map_err(yaml_error)?;
    check_tenant(&seed, "")?;
    Ok(seed.value)
}

/// A YAML error, located; its message already names the line and shows the text.
fn yaml_error(e: serde_saphyr::Error) -> ScenarioError {
    ScenarioError { line: e.location().map(|l| l.line()).filter(|l| *l > 0), message: e.to_string() }
}

/// A tenant description that parses but cannot be a tenant, located at its first line.
fn check_tenant(tenant: &Spanned<TenantSeed>, path: &str) -> Result<(), ScenarioError> {
    tenant.value.events().map(drop).map_err(|e| ScenarioError::at(tenant.referenced.line(), format!("{path}{e}")))
}

fn step(number: usize, line: u64, mut command: Value) -> Result<Step, ScenarioError> {
    let then = match command.as_object_mut().and_then(|m| m.remove("then")) {
        None | Some(Value::Null) => None,
        Some(Value::Array(events)) if events.iter().all(Value::is_object) => Some(events),
        Some(_) => {
            return Err(ScenarioError::at(
                line,
                format!("steps[{}].then: write the expected events as a list of objects", number - 1),
            ));
        }
    };
    let expect = match command.as_object_mut().and_then(|m| m.remove("expect")) {
        None | Some(Value::Null) => None,
        Some(value) => Some(serde_json::from_value(value).map_err(|e| {
            ScenarioError::at(
                line,
                format!("steps[{}].expect: {e}; write `accepted` or `{{rejected: CODE}}`", number - 1),
            )
        })?),
    };
    if then.is_some() && matches!(expect, Some(Expect::Rejected(_))) {
        return Err(ScenarioError::at(line, format!("steps[{}]: a rejected step has no events to expect", number - 1)));
    }
    Ok(Step { number, line, command, expect, then })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = "name: n\ntenant:\n  plan: basic\n  users: [{id: ana, name: Ana, roles: [agent]}]\nsteps:\n  - {at: 1, actor: ana, type: sign_out_all, user: ana, expect: {rejected: nothing_to_do}}\n  - {at: 2, actor: ana, type: sign_out_all, user: ana}\n";

    #[test]
    fn steps_keep_their_line_and_expectation() {
        let s = Scenario::parse(OK).unwrap();
        assert_eq!(s.steps.len(), 2);
        assert_eq!((s.steps[0].line, s.steps[1].line), (6, 7));
        assert_eq!(s.steps[0].expect, Some(Expect::Rejected(RejectionCode::NothingToDo)));
        assert_eq!(s.steps[1].expect, None);
        assert!(s.steps[0].command.get("expect").is_none());
        assert_eq!(s.steps[0].command["at"], 1);
    }

    #[test]
    fn json_is_accepted() {
        let json = r#"{"name":"j","tenant":{"plan":"complete"},"steps":[{"at":1,"actor":"system","type":"set_plan","plan":"basic","expect":"accepted"}]}"#;
        assert_eq!(Scenario::parse(json).unwrap().steps[0].expect, Some(Expect::Accepted));
    }

    #[test]
    fn files_that_are_not_scenarios_are_located() {
        let e = Scenario::parse("name: n\ntenant: {plan: basic}\nsteps: [\n").unwrap_err();
        assert!(e.line.is_some(), "{e}");
        let e = Scenario::parse("name: n\nsteps: []\n").unwrap_err();
        assert!(e.message.contains("tenant"), "{e}");
        let e = Scenario::parse(&OK.replace("plan: basic", "plan: gold")).unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        let e = Scenario::parse(&OK.replace("users: [{id: ana", "users: [{id: system")).unwrap_err();
        assert!(e.message.contains("tenant.users[0].id"), "{e}");
        let e = Scenario::parse(&OK.replace("nothing_to_do", "nothing_to_see")).unwrap_err();
        assert_eq!(e.line, Some(6), "{e}");
        let e = Scenario::parse(&OK.replace("expect: {rejected: nothing_to_do}", "then: [x]")).unwrap_err();
        assert!(e.message.contains("steps[0].then"), "{e}");
        let e = Scenario::parse(
            &OK.replace("expect: {rejected: nothing_to_do}", "expect: {rejected: nothing_to_do}, then: []"),
        )
        .unwrap_err();
        assert!(e.message.contains("a rejected step"), "{e}");
    }

    #[test]
    fn a_named_tenant_comes_from_the_suite_folders_tenants() {
        let dir = std::env::temp_dir().join(format!("agentstate-given-{}", std::process::id()));
        std::fs::create_dir_all(dir.join(TENANTS_DIR)).unwrap();
        std::fs::write(
            dir.join(TENANTS_DIR).join("small.yaml"),
            "plan: basic\nusers: [{id: ana, name: Ana, roles: [agent]}]\n",
        )
        .unwrap();
        let suite = "name: n\ngiven: small\nsteps:\n  - {at: 1, actor: ana, type: sign_out_all, user: ana}\n";
        std::fs::write(dir.join("s.yaml"), suite).unwrap();
        let s = Scenario::load(&dir.join("s.yaml")).unwrap();
        assert_eq!(s.tenant.users[0].id.as_str(), "ana");
        let e = Scenario::parse(suite).unwrap_err();
        assert!(e.message.contains("no folder"), "{e}");
        std::fs::write(dir.join("s.yaml"), suite.replace("small", "large")).unwrap();
        let e = Scenario::load(&dir.join("s.yaml")).unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        let e = Scenario::parse(&suite.replace("small", "../x")).unwrap_err();
        assert!(e.message.contains("not a tenant's name"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
