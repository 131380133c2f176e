//! The agentstate plugin module (see `wasm/ABI.md`) inside wasmtime.
//!
//! One [`Runtime`] per process: one `Engine` with the pooling allocator, the module
//! compiled once (and cached on disk, keyed by module hash and wasmtime version), and an
//! `InstancePre`. One [`WasmTenant`] per tenant: its own store and linear memory, typed
//! exports resolved once, a memory cap, and a time budget per call (an epoch deadline:
//! measured 29 % cheaper than fuel metering on the command workload). A call that traps,
//! overruns its budget or hits the memory cap is reported as a [`HostError`]; the instance
//! is thrown away and rebuilt from its last good state, so the tenant keeps serving.

pub mod module;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;
use wasmtime::{
    Cache, CacheConfig, Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Memory, Module,
    PoolingAllocationConfig, ResourceLimiter, Store, Trap, TypedFunc,
};

pub use agentstate_abi::{ABI_VERSION, Call, Status};
use agentstate_abi::{ALLOC_EXPORT, FREE_EXPORT, MEMORY_EXPORT, VERSION_EXPORT};

/// Limits every instance runs under.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most linear memory one tenant may use.
    pub memory_bytes: usize,
    /// Longest one call may run (rounded up to whole epoch ticks of [`TICK`]).
    pub time_per_call: Duration,
    /// Most instances alive at once (pooling allocator slots).
    pub instances: u32,
}

impl Default for Limits {
    fn default() -> Self {
        // A 10,000-user tenant needs about 16 MiB; a batch of 1,000 commands takes about
        // 3 ms, restoring that tenant from a snapshot about 100 ms.
        Limits { memory_bytes: 256 << 20, time_per_call: Duration::from_secs(2), instances: 256 }
    }
}

/// How often the epoch advances: the granularity of [`Limits::time_per_call`]. Ten
/// milliseconds against a limit of seconds; every tick wakes a thread in every host,
/// loaded or idle (at 1 ms that was about 0.5 % of a core per host).
pub const TICK: Duration = Duration::from_millis(10);

/// Why a call into the module did not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("the module could not be set up: {0}")]
    Setup(String),
    #[error("the module speaks ABI version {found}, this host {expected}")]
    AbiVersion { found: u32, expected: u32 },
    #[error("the module trapped during {call}: {trap}")]
    Trap { call: &'static str, trap: String },
    #[error("{call} ran longer than its time budget")]
    OutOfTime { call: &'static str },
    #[error("{call} hit the memory cap of {cap} bytes")]
    MemoryCap { call: &'static str, cap: usize },
    #[error("the module answered {call} with malformed bytes: {problem}")]
    Malformed { call: &'static str, problem: String },
    #[error("the module refused {call}: {message}")]
    Refused { call: &'static str, message: String },
    #[error("rebuilding the instance after a failure failed: {0}")]
    Rebuild(String),
}

/// What the store knows besides the instance: the memory cap, and whether it was hit.
struct Guard {
    cap: usize,
    denied: bool,
}

impl ResourceLimiter for Guard {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allow = desired <= self.cap;
        self.denied |= !allow;
        Ok(allow)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The compiled module, shared by every tenant of the process.
pub struct Runtime {
    engine: Engine,
    pre: InstancePre<Guard>,
    limits: Limits,
    /// Stops the epoch ticker when the runtime goes.
    ticking: Arc<AtomicBool>,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticking.store(false, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("limits", &self.limits).finish_non_exhaustive()
    }
}

fn setup(e: impl std::fmt::Display) -> HostError {
    HostError::Setup(e.to_string())
}

impl Runtime {
    /// Compiles `module` (or loads it from `cache_dir`, when given and warm).
    pub fn new(module: &[u8], cache_dir: Option<&Path>, limits: Limits) -> Result<Arc<Runtime>, HostError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        let mut pooling = PoolingAllocationConfig::default();
        pooling
            .total_core_instances(limits.instances)
            .total_memories(limits.instances)
            .max_memory_size(limits.memory_bytes);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
        if let Some(dir) = cache_dir {
            let mut cache = CacheConfig::new();
            cache.with_directory(dir);
            config.cache(Some(Cache::new(cache).map_err(setup)?));
        }
        let engine = Engine::new(&config).map_err(setup)?;
        let module = Module::new(&engine, module).map_err(setup)?;
        let pre = Linker::new(&engine).instantiate_pre(&module).map_err(setup)?;
        let ticking = Arc::new(AtomicBool::new(true));
        let ticker = (engine.clone(), ticking.clone());
        std::thread::Builder::new()
            .name("agentstate-epoch".into())
            .spawn(move || {
                while ticker.1.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    ticker.0.increment_epoch();
                }
            })
            .map_err(setup)?;
        Ok(Arc::new(Runtime { engine, pre, limits, ticking }))
    }

    /// Reads and compiles the module at `path`.
    pub fn from_file(path: &Path, cache_dir: Option<&Path>, limits: Limits) -> Result<Arc<Runtime>, HostError> {
        let bytes =
            std::fs::read(path).map_err(|e| HostError::Setup(format!("cannot read {}: {e}", path.display())))?;
        Runtime::new(&bytes, cache_dir, limits)
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    fn deadline_ticks(&self) -> u64 {
        (self.limits.time_per_call.as_micros().div_ceil(TICK.as_micros())).max(1) as u64
    }
}

/// The exports, resolved once per instance.
struct Exports {
    alloc: TypedFunc<u32, u32>,
    free: TypedFunc<(u32, u32), ()>,
    start: TypedFunc<(u32, u32), u64>,
    restore: TypedFunc<(u32, u32), u64>,
    apply: TypedFunc<(u32, u32), u64>,
    handle: TypedFunc<(u32, u32), u64>,
    handle_batch: TypedFunc<(u32, u32), u64>,
    query: TypedFunc<(u32, u32), u64>,
    snapshot: TypedFunc<(), u64>,
}

struct Live {
    store: Store<Guard>,
    memory: Memory,
    exports: Exports,
    /// The host's input buffer inside the instance: address and size.
    input: (u32, u32),
}

impl Live {
    fn new(runtime: &Runtime) -> Result<Live, HostError> {
        let guard = Guard { cap: runtime.limits.memory_bytes, denied: false };
        let mut store = Store::new(&runtime.engine, guard);
        store.limiter(|guard| guard);
        store.set_epoch_deadline(runtime.deadline_ticks());
        let instance = runtime.pre.instantiate(&mut store).map_err(setup)?;
        let memory = instance.get_memory(&mut store, MEMORY_EXPORT).ok_or_else(|| setup("no exported memory"))?;
        let version: TypedFunc<(), u32> = instance.get_typed_func(&mut store, VERSION_EXPORT).map_err(setup)?;
        let found = version.call(&mut store, ()).map_err(setup)?;
        if found != ABI_VERSION {
            return Err(HostError::AbiVersion { found, expected: ABI_VERSION });
        }
        macro_rules! export {
            ($name:expr) => {
                instance.get_typed_func(&mut store, $name).map_err(setup)?
            };
        }
        let exports = Exports {
            alloc: export!(ALLOC_EXPORT),
            free: export!(FREE_EXPORT),
            start: export!(Call::Start.export()),
            restore: export!(Call::Restore.export()),
            apply: export!(Call::Apply.export()),
            handle: export!(Call::Handle.export()),
            handle_batch: export!(Call::HandleBatch.export()),
            query: export!(Call::Query.export()),
            snapshot: export!(Call::Snapshot.export()),
        };
        Ok(Live { store, memory, exports, input: (0, 0) })
    }
}

/// How to rebuild a tenant: where it started, and the events since.
#[derive(Clone, Default)]
struct Recovery {
    base: Base,
    tail: Vec<Box<RawValue>>,
    /// Counts the bases this tenant has had, so a [`Mark`] taken on another base is known
    /// to be out of reach.
    generation: u64,
}

/// A point a tenant can be rolled back to (see [`WasmTenant::rollback`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    generation: u64,
    tail: usize,
}

#[derive(Clone, Default)]
enum Base {
    #[default]
    Empty,
    Seed(String),
    Snapshot(String),
}

/// After this many events in the tail, a snapshot becomes the new base.
const TAIL_LIMIT: usize = 50_000;

/// One tenant inside its own instance.
pub struct WasmTenant {
    runtime: Arc<Runtime>,
    live: Live,
    recovery: Recovery,
    /// Set while the instance does not hold the last good state (a rebuild failed): every
    /// call first tries to rebuild, and fails rather than answer from a wrong state.
    broken: bool,
}

impl std::fmt::Debug for WasmTenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmTenant").field("tail", &self.recovery.tail.len()).finish_non_exhaustive()
    }
}

/// What one command gave.
#[derive(Debug)]
pub struct Decision {
    /// The outcome as the module answered it (JSON).
    pub outcome: String,
    pub accepted: bool,
    /// The events of an accepted command, when asked for.
    pub events: Vec<Box<RawValue>>,
}

/// The events of an accepted command's outcome.
#[derive(Deserialize)]
struct OutcomeEvents {
    #[serde(default)]
    events: Vec<Box<RawValue>>,
}

impl WasmTenant {
    /// A new instance holding an empty tenant.
    pub fn new(runtime: Arc<Runtime>) -> Result<WasmTenant, HostError> {
        let live = Live::new(&runtime)?;
        Ok(WasmTenant { runtime, live, recovery: Recovery::default(), broken: false })
    }

    /// Starts a fresh tenant from the JSON of a tenant description.
    pub fn start(&mut self, seed: &str) -> Result<(), HostError> {
        self.control(Call::Start, seed.as_bytes())?;
        self.rebase(Base::Seed(seed.to_owned()));
        Ok(())
    }

    /// Restores the tenant from a snapshot.
    pub fn restore(&mut self, snapshot: &str) -> Result<(), HostError> {
        self.control(Call::Restore, snapshot.as_bytes())?;
        self.rebase(Base::Snapshot(snapshot.to_owned()));
        Ok(())
    }

    /// Folds a JSON array of events into the tenant.
    pub fn apply(&mut self, events: &str) -> Result<(), HostError> {
        self.control(Call::Apply, events.as_bytes())?;
        let parsed: Vec<Box<RawValue>> =
            serde_json::from_str(events).map_err(|e| HostError::Malformed { call: "apply", problem: e.to_string() })?;
        self.remember(parsed)
    }

    /// Decides and applies one command; the outcome as JSON.
    pub fn handle(&mut self, command: &str) -> Result<String, HostError> {
        self.handle_bytes(command.as_bytes(), false).map(|decision| decision.outcome)
    }

    /// Like [`WasmTenant::handle`], also giving the accepted command's events, read from
    /// the same parse the tenant's recovery needs (a caller storing them parses nothing).
    pub fn handle_with_events(&mut self, command: &str) -> Result<Decision, HostError> {
        self.handle_bytes(command.as_bytes(), true)
    }

    /// Decides and applies one command given as bytes, as the ABI takes it: bytes that are
    /// not UTF-8 are an `invalid_command` saying so.
    pub fn handle_bytes(&mut self, command: &[u8], keep_events: bool) -> Result<Decision, HostError> {
        let (status, outcome) = self.call(Call::Handle, command)?;
        match status {
            Status::Rejected => Ok(Decision { outcome, accepted: false, events: Vec::new() }),
            Status::Ok => match serde_json::from_str::<OutcomeEvents>(&outcome) {
                Ok(parsed) => {
                    let events = if keep_events { parsed.events.clone() } else { Vec::new() };
                    self.remember(parsed.events)?;
                    Ok(Decision { outcome, accepted: true, events })
                }
                // The instance applied what cannot be recorded: start over from the last
                // good state.
                Err(e) => Err(self.failed(HostError::Malformed { call: "handle", problem: e.to_string() })),
            },
            Status::Error => Err(self.failed(HostError::Malformed { call: "handle", problem: outcome })),
        }
    }

    /// Decides and applies a JSON array of commands; the JSON array of outcomes.
    pub fn handle_batch(&mut self, commands: &str) -> Result<String, HostError> {
        let outcomes = self.answer(Call::HandleBatch, commands.as_bytes())?;
        match serde_json::from_str::<Vec<OutcomeEvents>>(&outcomes) {
            Ok(parsed) => {
                // A rejected outcome carries no events.
                self.remember(parsed.into_iter().flat_map(|o| o.events).collect())?;
                Ok(outcomes)
            }
            Err(e) => Err(self.failed(HostError::Malformed { call: "handle_batch", problem: e.to_string() })),
        }
    }

    /// Answers a view query (JSON); the view as JSON.
    pub fn query(&mut self, query: &str) -> Result<String, HostError> {
        self.answer(Call::Query, query.as_bytes())
    }

    /// The tenant's snapshot (JSON).
    pub fn snapshot(&mut self) -> Result<String, HostError> {
        self.answer(Call::Snapshot, b"")
    }

    /// Any export on any bytes, as a host forwarding what it received would call it: the
    /// answer's status and text, with the bookkeeping of the typed methods above. Bytes
    /// that are not UTF-8 reach the module, which says so and changes nothing.
    pub fn call_bytes(&mut self, call: Call, input: &[u8]) -> Result<(Status, String), HostError> {
        let text = match (call, std::str::from_utf8(input)) {
            (Call::Handle, _) => {
                let decision = self.handle_bytes(input, false)?;
                return Ok((if decision.accepted { Status::Ok } else { Status::Rejected }, decision.outcome));
            }
            (_, Ok(text)) => text,
            (_, Err(_)) => return self.call(call, input),
        };
        let answered = match call {
            Call::Start => self.start(text).map(|()| String::new()),
            Call::Restore => self.restore(text).map(|()| String::new()),
            Call::Apply => self.apply(text).map(|()| String::new()),
            Call::HandleBatch => self.handle_batch(text),
            Call::Query => self.query(text),
            Call::Handle | Call::Snapshot => self.snapshot(),
        };
        match answered {
            Ok(answer) => Ok((Status::Ok, answer)),
            Err(HostError::Refused { message, .. }) => Ok((Status::Error, message)),
            Err(e) => Err(e),
        }
    }

    /// The instance's linear memory, in bytes (it grows in 64 KiB pages and never shrinks).
    pub fn memory_bytes(&self) -> usize {
        self.live.memory.data_size(&self.live.store)
    }

    /// Fault injection, for tests of the sandbox: calls `agentstate_handle` on a region the
    /// host never wrote, as a broken host would. Fails and rebuilds like any other call.
    #[doc(hidden)]
    pub fn handle_foreign_region(&mut self, ptr: u32, len: u32) -> Result<String, HostError> {
        let cap = self.runtime.limits.memory_bytes;
        let ticks = self.runtime.deadline_ticks();
        let live = &mut self.live;
        live.store.set_epoch_deadline(ticks);
        let result =
            live.exports.handle.call(&mut live.store, (ptr, len)).map_err(|e| classify("handle", live, cap, e));
        result.map(|_| String::new()).map_err(|failure| self.failed(failure))
    }

    fn control(&mut self, export: Call, input: &[u8]) -> Result<(), HostError> {
        self.answer(export, input).map(drop)
    }

    /// A call's result when the module did what it was asked; its message when it refused.
    fn answer(&mut self, export: Call, input: &[u8]) -> Result<String, HostError> {
        let answer = self.call(export, input)?;
        confirmed(export.name(), answer)
    }

    fn remember(&mut self, events: Vec<Box<RawValue>>) -> Result<(), HostError> {
        self.recovery.tail.extend(events);
        if self.recovery.tail.len() > TAIL_LIMIT {
            let snapshot = self.answer(Call::Snapshot, b"")?;
            self.rebase(Base::Snapshot(snapshot));
        }
        Ok(())
    }

    fn rebase(&mut self, base: Base) {
        let generation = self.recovery.generation + 1;
        self.recovery = Recovery { base, tail: Vec::new(), generation };
    }

    /// Where the tenant stands now, to roll back to.
    pub fn mark(&self) -> Mark {
        Mark { generation: self.recovery.generation, tail: self.recovery.tail.len() }
    }

    /// Forgets every event folded since `mark` — decisions the store refused — by
    /// rebuilding the instance from its base and the events before the mark. Refused
    /// (nothing changes) when the tenant was re-based since: the caller reloads it instead.
    pub fn rollback(&mut self, mark: Mark) -> Result<(), HostError> {
        if mark.generation != self.recovery.generation || mark.tail > self.recovery.tail.len() {
            return Err(HostError::Rebuild("the tenant was re-based since the mark".into()));
        }
        if mark.tail == self.recovery.tail.len() && !self.broken {
            return Ok(());
        }
        self.recovery.tail.truncate(mark.tail);
        self.rebuild()
    }

    /// One call into the module. On any failure the instance is replaced by one rebuilt
    /// from the last good state, and the failure is reported.
    fn call(&mut self, export: Call, input: &[u8]) -> Result<(Status, String), HostError> {
        if self.broken {
            self.rebuild()?;
        }
        self.try_call(export, input).map_err(|failure| self.failed(failure))
    }

    /// Rebuilds after `failure`, which is reported either way; a failed rebuild leaves the
    /// tenant marked broken.
    fn failed(&mut self, failure: HostError) -> HostError {
        match self.rebuild() {
            Ok(()) => failure,
            Err(rebuild) => HostError::Rebuild(format!("{rebuild}, after: {failure}")),
        }
    }

    fn try_call(&mut self, export: Call, input: &[u8]) -> Result<(Status, String), HostError> {
        let call = export.name();
        let cap = self.runtime.limits.memory_bytes;
        let ticks = self.runtime.deadline_ticks();
        let live = &mut self.live;
        live.store.set_epoch_deadline(ticks);
        live.store.data_mut().denied = false;
        let len = u32::try_from(input.len())
            .map_err(|_| HostError::Refused { call, message: format!("{} bytes of input is too much", input.len()) })?;
        let classify = |live: &Live, e: wasmtime::Error| classify(call, live, cap, e);
        if live.input.1 < len {
            let (old, old_len) = live.input;
            if old_len > 0 {
                live.exports.free.call(&mut live.store, (old, old_len)).map_err(|e| classify(live, e))?;
            }
            live.input = (0, 0);
            let size = len.next_power_of_two().max(4096);
            let ptr = live.exports.alloc.call(&mut live.store, size).map_err(|e| classify(live, e))?;
            live.input = (ptr, size);
        }
        let (ptr, _) = live.input;
        live.memory
            .write(&mut live.store, ptr as usize, input)
            .map_err(|e| HostError::Malformed { call, problem: format!("input buffer outside memory: {e}") })?;
        let args = (ptr, len);
        let exports = &live.exports;
        let packed = match export {
            Call::Start => exports.start.call(&mut live.store, args),
            Call::Restore => exports.restore.call(&mut live.store, args),
            Call::Apply => exports.apply.call(&mut live.store, args),
            Call::Handle => exports.handle.call(&mut live.store, args),
            Call::HandleBatch => exports.handle_batch.call(&mut live.store, args),
            Call::Query => exports.query.call(&mut live.store, args),
            Call::Snapshot => exports.snapshot.call(&mut live.store, ()),
        }
        .map_err(|e| classify(live, e))?;
        let (out_ptr, out_len) = ((packed >> 32) as usize, (packed & 0xffff_ffff) as usize);
        let bytes = live.memory.data(&live.store).get(out_ptr..out_ptr.saturating_add(out_len)).ok_or_else(|| {
            HostError::Malformed { call, problem: format!("answer at {out_ptr}+{out_len} is outside memory") }
        })?;
        let Some((&first, rest)) = bytes.split_first() else {
            return Err(HostError::Malformed { call, problem: "an empty answer".into() });
        };
        let status = Status::from_byte(first)
            .ok_or_else(|| HostError::Malformed { call, problem: format!("status byte {first}") })?;
        let text =
            String::from_utf8(rest.to_vec()).map_err(|e| HostError::Malformed { call, problem: e.to_string() })?;
        Ok((status, text))
    }

    /// Replaces the instance with a fresh one holding the last good state.
    fn rebuild(&mut self) -> Result<(), HostError> {
        self.broken = true;
        self.live = Live::new(&self.runtime).map_err(|e| HostError::Rebuild(e.to_string()))?;
        let recovery = std::mem::take(&mut self.recovery);
        // Straight calls: a failure while replaying must not start another rebuild.
        let replay = |this: &mut WasmTenant| -> Result<(), HostError> {
            match &recovery.base {
                Base::Empty => {}
                Base::Seed(seed) => drop(confirmed("start", this.try_call(Call::Start, seed.as_bytes())?)?),
                Base::Snapshot(snapshot) => {
                    drop(confirmed("restore", this.try_call(Call::Restore, snapshot.as_bytes())?)?)
                }
            }
            if !recovery.tail.is_empty() {
                let events = format!("[{}]", recovery.tail.iter().map(|e| e.get()).collect::<Vec<_>>().join(","));
                confirmed("apply", this.try_call(Call::Apply, events.as_bytes())?)?;
            }
            Ok(())
        };
        let result = replay(self).map_err(|e| HostError::Rebuild(e.to_string()));
        self.recovery = recovery;
        self.broken = result.is_err();
        result
    }
}

/// The answer of a call that succeeds or fails, never rejects: its text, or the module's
/// reason as a [`HostError::Refused`].
fn confirmed(call: &'static str, (status, answer): (Status, String)) -> Result<String, HostError> {
    match status {
        Status::Ok => Ok(answer),
        Status::Error => Err(HostError::Refused { call, message: answer }),
        Status::Rejected => Err(HostError::Malformed { call, problem: format!("a rejection: {answer}") }),
    }
}

fn classify(call: &'static str, live: &Live, cap: usize, e: wasmtime::Error) -> HostError {
    if live.store.data().denied {
        return HostError::MemoryCap { call, cap };
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => HostError::OutOfTime { call },
        Some(trap) => HostError::Trap { call, trap: trap.to_string() },
        None => HostError::Trap { call, trap: format!("{e:#}") },
    }
}
