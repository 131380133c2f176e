//! The agentstate server: tenants served durably (`service`) on a store (`store`: SQLite
//! embedded, PostgreSQL shared by many hosts), the HTTP API with its live feed and metrics
//! (`http`), access tokens (`tokens`) and the demo tenant (`demo`). It knows the rules
//! only through the plugin module, run by `agentstate-runtime`.

pub mod clock;
pub mod demo;
pub mod http;
pub mod long_log;
pub mod reports;
pub mod service;
pub mod sessions;
pub mod sso;
pub mod store;
pub mod tokens;

/// A tenant description (YAML or JSON, as the `tenant:` of a rule suite) as the JSON a
/// module's `start` takes.
pub fn description_json(text: &str) -> Result<String, DescriptionError> {
    let seed = agentstate_scenario::parse_tenant(text)?;
    Ok(serde_json::to_string(&seed)?)
}

/// Why a tenant description cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DescriptionError {
    /// Not a tenant description: where and why (line and column for YAML).
    #[error(transparent)]
    Unreadable(#[from] agentstate_scenario::ScenarioError),
    #[error("cannot write the description as JSON: {0}")]
    Json(#[from] serde_json::Error),
}
