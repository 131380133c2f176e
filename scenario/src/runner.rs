use serde::Serialize;
use serde_json::Value;

use crate::engine::{Engine, EngineError};
use crate::format::{Expect, Scenario};

/// Every step's outcome of one suite.
#[derive(Clone, Debug, Serialize)]
pub struct SuiteReport {
    pub name: String,
    pub steps: Vec<StepReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct StepReport {
    pub step: usize,
    pub line: u64,
    pub command: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
    /// The events expected (`then:`), as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub then: Option<Vec<Value>>,
    /// The engine's outcome, as the canonical JSON every runtime must agree on.
    pub outcome: Value,
}

impl StepReport {
    /// What actually happened, in the terms of an expectation.
    pub fn actual(&self) -> Option<Expect> {
        match self.outcome.get("outcome")?.as_str()? {
            "accepted" => Some(Expect::Accepted),
            "rejected" => {
                let code = self.outcome.get("rejection")?.get("code")?.as_str()?;
                agentstate_core::RejectionCode::parse(code).map(Expect::Rejected)
            }
            _ => None,
        }
    }

    /// True when there is no expectation or it holds.
    pub fn holds(&self) -> bool {
        (self.expect.is_none() || self.expect == self.actual()) && self.events_hold()
    }

    /// True when there are no expected events, or the step produced exactly them: as many,
    /// in order, each with every field written in `then:`.
    pub fn events_hold(&self) -> bool {
        let Some(expected) = &self.then else { return true };
        let produced = self.events();
        produced.len() == expected.len()
            && produced.iter().zip(expected).all(|(event, want)| {
                want.as_object().is_some_and(|fields| fields.iter().all(|(name, value)| event.get(name) == Some(value)))
            })
    }

    /// The events the step produced (none when rejected).
    pub fn events(&self) -> &[Value] {
        self.outcome.get("events").and_then(Value::as_array).map_or(&[], Vec::as_slice)
    }

    /// The rejection's English message, if rejected.
    pub fn message(&self) -> Option<&str> {
        self.outcome.get("rejection")?.get("message")?.get("en")?.as_str()
    }
}

impl SuiteReport {
    pub fn passed(&self) -> bool {
        self.steps.iter().all(StepReport::holds)
    }

    pub fn failures(&self) -> impl Iterator<Item = &StepReport> {
        self.steps.iter().filter(|s| !s.holds())
    }
}

/// Runs every step of `scenario` on a fresh tenant of `engine`.
pub fn run(scenario: &Scenario, engine: &mut dyn Engine) -> Result<SuiteReport, EngineError> {
    let tenant = serde_json::to_string(&scenario.tenant).map_err(|e| EngineError(e.to_string()))?;
    engine.start(&tenant)?;
    let mut steps = Vec::with_capacity(scenario.steps.len());
    for step in &scenario.steps {
        let command = serde_json::to_string(&step.command).map_err(|e| EngineError(e.to_string()))?;
        let outcome = engine.handle(&command)?;
        let outcome: Value = serde_json::from_str(&outcome)
            .map_err(|e| EngineError(format!("step {}: the engine answered malformed JSON: {e}", step.number)))?;
        steps.push(StepReport {
            step: step.number,
            line: step.line,
            command: step.command.clone(),
            expect: step.expect,
            then: step.then.clone(),
            outcome,
        });
    }
    Ok(SuiteReport { name: scenario.name.clone(), steps })
}
