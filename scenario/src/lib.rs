//! Rule suites (rules.md §6): a tenant and a list of steps, each a command with an optional
//! expectation. [`Scenario::parse`] reads YAML (JSON is YAML too); [`run`] feeds the
//! steps to any [`Engine`] — the native core, the module in wasmtime, the browser build
//! — and reports every step's outcome.

mod engine;
mod format;
mod runner;

pub use engine::{Engine, EngineError, NativeEngine};
pub use format::{Expect, Scenario, ScenarioError, Step, parse_tenant};
pub use runner::{StepReport, SuiteReport, run};
