//! The plugin ABI (see `ABI.md`). Each export takes JSON bytes the host wrote into its
//! input buffer and returns `ptr << 32 | len` of the answer, which the instance keeps
//! until the next call. The only `unsafe` of the project lives here, at the boundary.

#![allow(unsafe_code)]

use std::cell::RefCell;

use agentstate_core::Tenant;

/// Bumped on any incompatible change to the exports or their byte formats.
pub const ABI_VERSION: u32 = 1;

struct Instance {
    tenant: Tenant,
    output: Vec<u8>,
}

thread_local! {
    static INSTANCE: RefCell<Instance> = RefCell::new(Instance { tenant: Tenant::default(), output: Vec::new() });
}

/// Keeps `answer` as the instance's output and returns where it is.
fn respond(answer: impl FnOnce(&mut Tenant) -> String) -> u64 {
    INSTANCE.with_borrow_mut(|instance| {
        instance.output = answer(&mut instance.tenant).into_bytes();
        ((instance.output.as_ptr() as u64) << 32) | instance.output.len() as u64
    })
}

/// Runs `f` on the input text, or answers `{"error": …}` when it is not UTF-8.
fn with_input(ptr: u32, len: u32, f: impl FnOnce(&mut Tenant, &str) -> String) -> u64 {
    // SAFETY: the host passes a region it obtained from `agentstate_alloc` (so inside this
    // instance's memory and at least `len` bytes long) and does not touch it during the
    // call. Out-of-range values can only come from a broken host; wasm bounds checks turn
    // them into a trap, never into a read outside the sandbox.
    let bytes = unsafe { std::slice::from_raw_parts(ptr as usize as *const u8, len as usize) };
    match std::str::from_utf8(bytes) {
        Ok(text) => respond(|tenant| f(tenant, text)),
        Err(e) => respond(|_| error(&format!("the input is not UTF-8: {e}"))),
    }
}

fn error(message: &str) -> String {
    serde_json::json!({ "error": message }).to_string()
}

fn ok() -> String {
    String::from("{\"ok\":true}")
}

#[unsafe(no_mangle)]
pub extern "C" fn agentstate_abi_version() -> u32 {
    ABI_VERSION
}

/// Reserves `len` bytes for the host to write input into; returns their address.
#[unsafe(no_mangle)]
pub extern "C" fn agentstate_alloc(len: u32) -> u32 {
    let buffer = vec![0u8; len as usize].into_boxed_slice();
    Box::into_raw(buffer) as *mut u8 as usize as u32
}

/// Releases a region from [`agentstate_alloc`].
#[unsafe(no_mangle)]
pub extern "C" fn agentstate_free(ptr: u32, len: u32) {
    let region = std::ptr::slice_from_raw_parts_mut(ptr as usize as *mut u8, len as usize);
    // SAFETY: `ptr` and `len` are exactly what `agentstate_alloc(len)` returned, and the
    // host frees each region once; the box is rebuilt with the layout it was made with.
    drop(unsafe { Box::from_raw(region) });
}

/// Replaces the tenant with the one `make` builds from the input, if it can.
fn replace(ptr: u32, len: u32, make: fn(&str) -> Result<Tenant, String>) -> u64 {
    with_input(ptr, len, |tenant, json| match make(json) {
        Ok(new) => {
            *tenant = new;
            ok()
        }
        Err(e) => error(&e),
    })
}

/// Starts a fresh tenant from the JSON of a tenant description.
#[unsafe(no_mangle)]
pub extern "C" fn agentstate_start(ptr: u32, len: u32) -> u64 {
    replace(ptr, len, Tenant::from_seed_json)
}

/// Replaces the tenant with one restored from a snapshot (JSON of the state).
#[unsafe(no_mangle)]
pub extern "C" fn agentstate_restore(ptr: u32, len: u32) -> u64 {
    replace(ptr, len, Tenant::from_snapshot_json)
}

/// Folds a JSON array of events into the tenant (a log's tail after a snapshot).
#[unsafe(no_mangle)]
pub extern "C" fn agentstate_apply(ptr: u32, len: u32) -> u64 {
    with_input(ptr, len, |tenant, json| match tenant.apply_json(json) {
        Ok(()) => ok(),
        Err(e) => error(&e),
    })
}

/// Decides and applies one command; answers its outcome.
#[unsafe(no_mangle)]
pub extern "C" fn agentstate_handle(ptr: u32, len: u32) -> u64 {
    with_input(ptr, len, |tenant, json| tenant.handle_json(json))
}

/// Decides and applies a JSON array of commands in turn; answers the array of outcomes.
#[unsafe(no_mangle)]
pub extern "C" fn agentstate_handle_batch(ptr: u32, len: u32) -> u64 {
    with_input(ptr, len, |tenant, json| tenant.handle_batch_json(json))
}

/// Answers a view query.
#[unsafe(no_mangle)]
pub extern "C" fn agentstate_query(ptr: u32, len: u32) -> u64 {
    with_input(ptr, len, |tenant, json| tenant.query_json(json))
}

/// Answers the tenant's snapshot.
#[unsafe(no_mangle)]
pub extern "C" fn agentstate_snapshot() -> u64 {
    respond(|tenant| tenant.snapshot_json())
}
