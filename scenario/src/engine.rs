use agentstate_core::{State, TenantSeed, wire};

/// Something that decides commands: the native core here; the wasm module in wasmtime
/// and the browser build elsewhere. Both sides speak JSON so every runtime is compared
/// on the same bytes.
pub trait Engine {
    /// Starts a fresh tenant from its description (JSON of a [`TenantSeed`]).
    fn start(&mut self, tenant_json: &str) -> Result<(), EngineError>;
    /// Decides and applies one command (JSON), returning the outcome (JSON).
    fn handle(&mut self, command_json: &str) -> Result<String, EngineError>;
}

/// The engine itself failed — distinct from a rejected command, which is an outcome.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EngineError(pub String);

/// The core, called directly.
#[derive(Debug, Default)]
pub struct NativeEngine {
    state: State,
}

impl NativeEngine {
    pub fn state(&self) -> &State {
        &self.state
    }
}

impl Engine for NativeEngine {
    fn start(&mut self, tenant_json: &str) -> Result<(), EngineError> {
        let seed: TenantSeed = serde_json::from_str(tenant_json).map_err(|e| EngineError(e.to_string()))?;
        self.state = seed.state().map_err(|e| EngineError(e.to_string()))?;
        Ok(())
    }

    fn handle(&mut self, command_json: &str) -> Result<String, EngineError> {
        Ok(wire::to_json(&wire::handle_json(&mut self.state, command_json)))
    }
}
