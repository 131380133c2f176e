//! Rule suites (rules.md §6), read as given / when / then: a tenant (written out, or named
//! with `given:` and shared through the suite folder's `tenants/`), then steps, each a
//! command with an optional expected outcome (`expect:`) and expected events (`then:`).
//! [`Scenario::load`] reads YAML (JSON is YAML too); [`run`] feeds the
//! steps to any [`Engine`] — the native core, the module in wasmtime, the browser build
//! — and reports every step's outcome.

mod engine;
mod format;
mod runner;

pub use engine::{Engine, EngineError, NativeEngine};
pub use format::{Expect, Scenario, ScenarioError, Step, TENANTS_DIR, parse_tenant};
pub use runner::{StepReport, SuiteReport, run};
