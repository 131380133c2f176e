//! The cost of reads on a long log: a tenant of 1,000 agents with 10,000,000 events (about
//! 100 days at 100,000 a day; `--events N` for another length), written through the
//! store's append into a SQLite store, then timed: a history page, a one-day report, a
//! host's first request for the tenant (snapshot plus tail into a fresh instance), and the
//! store's size on disk.
//!
//!     cargo run --release -p agentstate-server --example long_log -- [--events N] [--dir PATH]
//!         [--snapshot-every N]
//!
//! With `--dir` an existing store there is reused (the log is written once). A snapshot
//! is stored every 10,000 events unless `--snapshot-every` says otherwise. The state keeps
//! a day of ended interaction ids (rules §4.2), so a snapshot is the same size at any
//! length of the log; `--agents` and `--channels` change the center's size.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use agentstate_core::{Actor, ChannelId, Millis, Query};
use agentstate_runtime::{Limits, Runtime, module};
use agentstate_server::long_log::{self, Shape};
use agentstate_server::service::{self, TenantService};
use agentstate_server::store::{DB_FILE, EventLog, SqliteStore};

const TENANT: &str = "long";

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let mut events: u64 = 10_000_000;
    let mut dir: Option<PathBuf> = None;
    let mut shape = Shape::CONTACT_CENTER;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--events" => events = args.next().and_then(|n| n.parse().ok()).ok_or("--events N")?,
            "--dir" => dir = Some(args.next().ok_or("--dir PATH")?.into()),
            "--agents" => {
                shape.agents = args.next().and_then(|n| n.parse().ok()).ok_or("--agents N")?;
                shape.events_per_day = shape.agents as u64 * 100;
            }
            "--channels" => shape.channels = args.next().and_then(|n| n.parse().ok()).ok_or("--channels N")?,
            "--snapshot-every" => {
                shape.snapshot_every = args.next().and_then(|n| n.parse().ok()).ok_or("--snapshot-every N")?
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let temp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dir = dir.unwrap_or_else(|| temp.path().to_owned());
    let start_at = 1_700_000_000_000;
    let mut store = SqliteStore::open_in(&dir)?;
    let last_at = match store.last_seq(TENANT) {
        Ok(seq) if seq >= events => {
            println!("reusing the log of {seq} events in {}", dir.display());
            let (_, last) =
                store.events_after(TENANT, seq - 1, 1).map_err(|e| e.to_string())?.pop().ok_or("an empty log")?;
            at_of(&last)
        }
        _ => {
            let started = Instant::now();
            let written = long_log::write(&mut store, TENANT, shape, events, start_at)?;
            println!(
                "wrote {} events ({} snapshots) in {:.1} s: {:.0} events/s",
                written.events,
                written.snapshots,
                started.elapsed().as_secs_f64(),
                written.events as f64 / started.elapsed().as_secs_f64()
            );
            written.last_at
        }
    };
    let size = ["", "-wal"]
        .iter()
        .filter_map(|s| std::fs::metadata(dir.join(format!("{DB_FILE}{s}"))).ok())
        .map(|m| m.len())
        .sum::<u64>();
    println!("store size: {:.2} GB ({size} bytes)", size as f64 / 1e9);

    let agent = long_log::agent(7);
    println!(
        "history page sizes: the newest {} events",
        service::reads::history(&store, TENANT, &agent, None, 100)?.events.len()
    );
    let page = median(9, || {
        let page = service::reads::history(&store, TENANT, &agent, None, service::HISTORY_DEFAULT)?;
        Ok(page.events.len())
    })?;
    println!("history page (100 events, newest): {}", show(page));
    let deep = median(9, || {
        let page = service::reads::history(&store, TENANT, &agent, Some(events / 2), service::HISTORY_DEFAULT)?;
        Ok(page.events.len())
    })?;
    println!("history page (100 events, from the middle of the log): {}", show(deep));
    // The last whole day of the log.
    let day_end = last_at - last_at % 86_400_000;
    let (from, to) = (day_end - 86_400_000, day_end);
    let report = median(5, || Ok(service::reads::activity(&store, TENANT, from, to)?.rows.len()))?;
    println!("one-day report ({} rows): {}", report.1, show(report));

    let module = module::locate()?;
    let runtime = Runtime::from_file(&module, Some(&module::cache_dir(&module)), Limits::default())?;
    // What loading costs: the newest snapshot and the tail after it.
    if let Some((seq, snapshot)) = store.latest_snapshot(TENANT)? {
        let parsed = median(3, || Ok(serde_json::from_str::<agentstate_core::State>(&snapshot)?.users().count()))?;
        println!(
            "newest snapshot: as of event {seq}, {:.1} MB; parsed natively in {}",
            snapshot.len() as f64 / 1e6,
            show(parsed)
        );
    }
    let first = median(5, || {
        let store = SqliteStore::open_in(&dir)?;
        let bounds = service::Bounds::for_runtime(&runtime, shape.snapshot_every);
        let mut host = TenantService::with_bounds(Box::new(store), runtime.clone(), bounds);
        let roster = Query::Roster {
            actor: Actor::System,
            channel: ChannelId::new(&long_log::channel(0))?,
            at: Millis::new(last_at).ok_or("a time")?,
        };
        Ok(host.query(TENANT, &roster)?.len())
    });
    match first {
        Ok(first) => println!("a host's first request for the tenant (roster of a queue): {}", show(first)),
        Err(e) => return Err(format!("a host's first request for the tenant fails: {e}").into()),
    }
    // What the loaded tenant holds: its instance's linear memory, and the state's ledger.
    let store = SqliteStore::open_in(&dir)?;
    let mut host = TenantService::open(Box::new(store), runtime.clone(), shape.snapshot_every)?;
    let (_, snapshot) = host.snapshot(TENANT)?;
    let state: agentstate_core::State = serde_json::from_str(&snapshot)?;
    println!(
        "loaded tenant: instance memory {:.1} MiB; state {:.2} MB as JSON, {} ended interaction ids remembered",
        host.instance_memory(TENANT).unwrap_or_default() as f64 / (1 << 20) as f64,
        snapshot.len() as f64 / 1e6,
        state.ended_interactions().len()
    );
    Ok(())
}

/// The median time of `runs` runs of `work`, with what the last one gave.
fn median<T>(runs: usize, mut work: impl FnMut() -> Result<T, Error>) -> Result<(Duration, T), Error> {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let started = Instant::now();
        last = Some(work()?);
        times.push(started.elapsed());
    }
    times.sort();
    Ok((times[runs / 2], last.ok_or("no run")?))
}

fn show<T>((time, _): (Duration, T)) -> String {
    format!("{:.2} ms (median)", time.as_secs_f64() * 1e3)
}

fn at_of(event: &str) -> u64 {
    serde_json::from_str::<serde_json::Value>(event).ok().and_then(|v| v["at"].as_u64()).unwrap_or(0)
}
