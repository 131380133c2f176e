//! Native core vs the plugin module in wasmtime, like with like: both take command bytes
//! and return outcome bytes, on the 10,000-user, 500-channel tenant of the core's
//! benchmarks. Also: creating a tenant instance, and cold start with and without the
//! compile cache.
//!
//! `cargo bench -p agentstate-host --bench runtimes` (after `cargo xtask wasm`)

#[path = "../../core/benches/shift/mod.rs"]
mod shift;

use std::hint::black_box;
use std::time::{Duration, Instant};

use agentstate_core::wire::to_json;
use agentstate_runtime::module;
use agentstate_runtime::{Limits, Runtime, WasmTenant};
use agentstate_wasm::facade;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const COMMANDS: usize = 20_000;

fn runtimes(c: &mut Criterion) {
    let shift = shift::shift(COMMANDS);
    let start = to_json(&shift.start);
    let commands: Vec<String> = shift.commands.iter().map(to_json).collect();
    let batches: Vec<String> = commands.chunks(1000).map(|b| format!("[{}]", b.join(","))).collect();
    let path = module::locate().unwrap_or_else(|e| panic!("{e}"));
    let cache = module::cache_dir(&path);
    let runtime = Runtime::from_file(&path, Some(&cache), Limits::default()).unwrap_or_else(|e| panic!("{e}"));

    let native = || facade::restore(&start).expect("restores");
    let wasm = || {
        let mut t = WasmTenant::new(runtime.clone()).expect("instance");
        t.restore(&start).expect("restores");
        t
    };

    let mut group = c.benchmark_group("one command, bytes in, bytes out");
    group.throughput(Throughput::Elements(COMMANDS as u64));
    group.sample_size(10);
    group.bench_function("native", |b| {
        b.iter_custom(|iters| {
            timed(iters, native, |t| commands.iter().for_each(|c| drop(black_box(facade::handle(t, c)))))
        })
    });
    group.bench_function("wasmtime", |b| {
        b.iter_custom(|iters| timed(iters, wasm, |t| commands.iter().for_each(|c| drop(black_box(t.handle(c))))))
    });
    group.finish();

    let mut group = c.benchmark_group("batches of 1,000 commands");
    group.throughput(Throughput::Elements(COMMANDS as u64));
    group.sample_size(10);
    group.bench_function("native", |b| {
        b.iter_custom(|iters| {
            timed(iters, native, |t| {
                batches.iter().for_each(|c| {
                    let mut out = Vec::new();
                    facade::handle_batch(t, c, &mut out).expect("a batch");
                    drop(black_box(out))
                })
            })
        })
    });
    group.bench_function("wasmtime", |b| {
        b.iter_custom(|iters| timed(iters, wasm, |t| batches.iter().for_each(|c| drop(black_box(t.handle_batch(c))))))
    });
    group.finish();

    let mut group = c.benchmark_group("instances");
    group.bench_function("new empty tenant instance", |b| {
        b.iter(|| black_box(WasmTenant::new(runtime.clone()).expect("instance")))
    });
    group.sample_size(10);
    group.bench_function("cold start, warm compile cache", |b| {
        b.iter(|| black_box(Runtime::from_file(&path, Some(&cache), Limits::default()).expect("loads")))
    });
    group.bench_function("cold start, no cache (compile)", |b| {
        b.iter(|| black_box(Runtime::from_file(&path, None, Limits::default()).expect("compiles")))
    });
    group.finish();
}

/// Runs `work` `iters` times on fresh state from `setup`, timing only the work.
fn timed<T>(iters: u64, setup: impl Fn() -> T, work: impl Fn(&mut T)) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let mut state = setup();
        let started = Instant::now();
        work(&mut state);
        total += started.elapsed();
    }
    total
}

criterion_group!(benches, runtimes);
criterion_main!(benches);
