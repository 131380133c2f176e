use agentstate_core::Tenant;

/// Something that decides commands: the native core here; the wasm module in wasmtime
/// and the browser build elsewhere. Every side speaks JSON, so runtimes are compared on
/// the same bytes.
pub trait Engine {
    /// Starts a fresh tenant from its description (JSON of a `TenantSeed`).
    fn start(&mut self, tenant_json: &str) -> Result<(), EngineError>;
    /// Decides and applies one command (JSON), returning the outcome (JSON).
    fn handle(&mut self, command_json: &str) -> Result<String, EngineError>;
    /// Answers a view query (JSON of a `Query`), returning the view (JSON).
    fn query(&mut self, query_json: &str) -> Result<String, EngineError>;
    /// Replaces the tenant with one restored from a snapshot (JSON).
    fn restore(&mut self, snapshot_json: &str) -> Result<(), EngineError>;
    /// Folds a JSON array of events into the tenant.
    fn apply_events(&mut self, events_json: &str) -> Result<(), EngineError>;
}

/// The engine itself failed — distinct from a rejected command, which is an outcome.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EngineError(pub String);

/// The core, called directly.
#[derive(Debug, Default)]
pub struct NativeEngine {
    tenant: Tenant,
}

impl NativeEngine {
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }
}

impl Engine for NativeEngine {
    fn start(&mut self, tenant_json: &str) -> Result<(), EngineError> {
        self.tenant = Tenant::from_seed_json(tenant_json).map_err(EngineError)?;
        Ok(())
    }

    fn handle(&mut self, command_json: &str) -> Result<String, EngineError> {
        Ok(self.tenant.handle_json(command_json))
    }

    fn query(&mut self, query_json: &str) -> Result<String, EngineError> {
        self.tenant.query_json(query_json).map_err(EngineError)
    }

    fn restore(&mut self, snapshot_json: &str) -> Result<(), EngineError> {
        self.tenant = Tenant::from_snapshot_json(snapshot_json).map_err(EngineError)?;
        Ok(())
    }

    fn apply_events(&mut self, events_json: &str) -> Result<(), EngineError> {
        self.tenant.apply_json(events_json).map_err(EngineError)
    }
}
