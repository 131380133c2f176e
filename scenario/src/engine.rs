use agentstate_core::Tenant;
use agentstate_wasm::facade;

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

impl From<facade::Unreadable> for EngineError {
    fn from(unreadable: facade::Unreadable) -> EngineError {
        EngineError(unreadable.to_string())
    }
}

/// The core, called directly through the JSON edge the module's exports take too.
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
        self.tenant = facade::start(tenant_json)?;
        Ok(())
    }

    fn handle(&mut self, command_json: &str) -> Result<String, EngineError> {
        Ok(facade::handle(&mut self.tenant, command_json))
    }

    fn query(&mut self, query_json: &str) -> Result<String, EngineError> {
        Ok(facade::query(&self.tenant, query_json)?)
    }

    fn restore(&mut self, snapshot_json: &str) -> Result<(), EngineError> {
        self.tenant = facade::restore(snapshot_json)?;
        Ok(())
    }

    fn apply_events(&mut self, events_json: &str) -> Result<(), EngineError> {
        Ok(facade::apply(&mut self.tenant, events_json)?)
    }
}
