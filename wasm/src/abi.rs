//! The plugin ABI (see `ABI.md`). Each export takes JSON bytes the host wrote into its
//! input buffer and returns `ptr << 32 | len` of the answer (a status byte, then the
//! result), which the instance keeps until the next call. What the answer is lives in
//! `plugin.rs`; the only `unsafe` of the project lives here, at the boundary.

#![allow(unsafe_code)]

use std::cell::RefCell;

use crate::plugin::{ABI_VERSION, Call, Plugin};

thread_local! {
    static PLUGIN: RefCell<Plugin> = RefCell::new(Plugin::default());
}

/// Answers `call` on the `len` bytes at `ptr`; returns where the answer is.
fn answer(call: Call, ptr: u32, len: u32) -> u64 {
    let input: &[u8] = if len == 0 {
        &[]
    } else {
        // SAFETY: the host passes a region it obtained from `agentstate_alloc` (so inside
        // this instance's memory and at least `len` bytes long) and does not touch it during
        // the call. Out-of-range values can only come from a broken host; wasm bounds checks
        // turn them into a trap, never into a read outside the sandbox.
        unsafe { std::slice::from_raw_parts(ptr as usize as *const u8, len as usize) }
    };
    PLUGIN.with_borrow_mut(|plugin| {
        let answer = plugin.call(call, input);
        ((answer.as_ptr() as u64) << 32) | answer.len() as u64
    })
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

/// Starts a fresh tenant from the JSON of a tenant description.
#[unsafe(no_mangle)]
pub extern "C" fn agentstate_start(ptr: u32, len: u32) -> u64 {
    answer(Call::Start, ptr, len)
}

/// Replaces the tenant with one restored from a snapshot (JSON of the state).
#[unsafe(no_mangle)]
pub extern "C" fn agentstate_restore(ptr: u32, len: u32) -> u64 {
    answer(Call::Restore, ptr, len)
}

/// Folds a JSON array of events into the tenant (a log's tail after a snapshot).
#[unsafe(no_mangle)]
pub extern "C" fn agentstate_apply(ptr: u32, len: u32) -> u64 {
    answer(Call::Apply, ptr, len)
}

/// Decides and applies one command; answers its outcome.
#[unsafe(no_mangle)]
pub extern "C" fn agentstate_handle(ptr: u32, len: u32) -> u64 {
    answer(Call::Handle, ptr, len)
}

/// Decides and applies a JSON array of commands in turn; answers the array of outcomes.
#[unsafe(no_mangle)]
pub extern "C" fn agentstate_handle_batch(ptr: u32, len: u32) -> u64 {
    answer(Call::HandleBatch, ptr, len)
}

/// Answers a view query.
#[unsafe(no_mangle)]
pub extern "C" fn agentstate_query(ptr: u32, len: u32) -> u64 {
    answer(Call::Query, ptr, len)
}

/// Answers the tenant's snapshot.
#[unsafe(no_mangle)]
pub extern "C" fn agentstate_snapshot() -> u64 {
    answer(Call::Snapshot, 0, 0)
}
