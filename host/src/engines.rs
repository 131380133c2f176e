//! The runtimes `agentstate check` can run rule suites on.

use std::sync::Arc;

use agentstate_scenario::{Engine, EngineError};

use agentstate_runtime::{Runtime, WasmTenant};

/// The plugin module in wasmtime, a fresh instance per suite.
#[derive(Debug)]
pub struct WasmEngine {
    runtime: Arc<Runtime>,
    tenant: Option<WasmTenant>,
}

impl WasmEngine {
    pub fn new(runtime: Arc<Runtime>) -> WasmEngine {
        WasmEngine { runtime, tenant: None }
    }

    fn tenant(&mut self) -> Result<&mut WasmTenant, EngineError> {
        self.tenant.as_mut().ok_or_else(|| EngineError("no tenant started".into()))
    }
}

fn engine_error(e: impl std::fmt::Display) -> EngineError {
    EngineError(e.to_string())
}

impl Engine for WasmEngine {
    fn start(&mut self, tenant_json: &str) -> Result<(), EngineError> {
        let mut tenant = WasmTenant::new(self.runtime.clone()).map_err(engine_error)?;
        tenant.start(tenant_json).map_err(engine_error)?;
        self.tenant = Some(tenant);
        Ok(())
    }

    fn handle(&mut self, command_json: &str) -> Result<String, EngineError> {
        self.tenant()?.handle(command_json).map_err(engine_error)
    }

    fn query(&mut self, query_json: &str) -> Result<String, EngineError> {
        self.tenant()?.query(query_json).map_err(engine_error)
    }

    fn restore(&mut self, snapshot_json: &str) -> Result<(), EngineError> {
        let mut tenant = WasmTenant::new(self.runtime.clone()).map_err(engine_error)?;
        tenant.restore(snapshot_json).map_err(engine_error)?;
        self.tenant = Some(tenant);
        Ok(())
    }

    fn apply_events(&mut self, events_json: &str) -> Result<(), EngineError> {
        if self.tenant.is_none() {
            self.tenant = Some(WasmTenant::new(self.runtime.clone()).map_err(engine_error)?);
        }
        self.tenant()?.apply(events_json).map_err(engine_error)
    }
}
