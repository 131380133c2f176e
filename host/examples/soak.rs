//! A soak: `agentstate serve` (release, SQLite) under a steady load for MINUTES, with live
//! feeds following, printing one line a minute — commands, latency percentiles of that
//! minute, the server's resident memory, events the feeds received — so that growing
//! memory or a creeping p99 shows.
//!
//!   cargo run --release -p agentstate-host --example soak -- [MINUTES] [RATE] [FOLLOWERS]
//!
//! RATE commands per second in all (default 400) from 8 clients, each on its own agents;
//! FOLLOWERS live feeds (default 4).

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CLIENTS: usize = 8;
const AGENTS_PER_CLIENT: usize = 25;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default().as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let minutes: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(30);
    let rate: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(400);
    let followers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);
    let binary = agentstate_testkit::release_server().expect("the server");
    let data = tempfile::tempdir().expect("tempdir");
    let agentstate = |args: &[&str]| {
        let out = Command::new(&binary).args(args).env("AGENTSTATE_DATA", data.path()).output().expect("runs");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let agents: Vec<String> = (0..CLIENTS * AGENTS_PER_CLIENT).map(|a| format!("a{a}")).collect();
    let mut yaml = String::from("plan: complete\nusers:\n  - { id: ada, name: Ada, roles: [admin] }\n");
    for a in &agents {
        yaml.push_str(&format!("  - {{ id: {a}, name: Agent {a}, roles: [agent] }}\n"));
    }
    yaml.push_str(&format!("channels:\n  - {{ id: q, kind: queue, name: Q, agents: [{}] }}\n", agents.join(", ")));
    let description = data.path().join("soak.yaml");
    std::fs::write(&description, yaml).expect("writes");
    agentstate(&["tenant", "create", "soak", description.to_str().expect("utf-8")]);
    let token = agentstate(&["token", "create", "--tenant", "soak", "--user", "ada"]);
    let mut command = agentstate_testkit::ServerProcess::load_run(&binary);
    command.env("AGENTSTATE_DATA", data.path()).env("RUST_LOG", "warn");
    let server = agentstate_testkit::ServerProcess::start(&mut command).expect("starts");
    let pid = server.child.id();
    let url = format!("{}/api/tenants/soak/commands", server.base);

    let latencies = Arc::new(Mutex::new(Vec::<Duration>::new()));
    let received = Arc::new(std::sync::atomic::AtomicU64::new(0));
    for _ in 0..followers {
        let (feed, token, received) =
            (format!("{}/api/tenants/soak/events", server.base), token.clone(), received.clone());
        tokio::spawn(async move {
            use futures_util::StreamExt;
            let Ok(response) = reqwest::Client::new().get(feed).bearer_auth(token).send().await else { return };
            let mut stream = response.bytes_stream();
            while let Some(Ok(chunk)) = stream.next().await {
                let events = chunk.windows(6).filter(|w| w == b"data: ").count() as u64;
                received.fetch_add(events, std::sync::atomic::Ordering::Relaxed);
            }
        });
    }
    let end = Instant::now() + Duration::from_secs(minutes * 60);
    for c in 0..CLIENTS {
        let (url, token, latencies) = (url.clone(), token.clone(), latencies.clone());
        let every = Duration::from_secs_f64(CLIENTS as f64 / rate as f64);
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            for n in 0u64.. {
                tick.tick().await;
                if Instant::now() >= end {
                    break;
                }
                let agent = c * AGENTS_PER_CLIENT + (n as usize / 2) % AGENTS_PER_CLIENT;
                let kind = if n % 2 == 0 { "sign_in" } else { "sign_out" };
                let body = serde_json::json!({"type": kind, "user": format!("a{agent}"), "channel": "q"});
                let sent = Instant::now();
                if let Ok(response) = client.post(&url).bearer_auth(&token).json(&body).send().await {
                    let _ = response.bytes().await;
                    latencies.lock().expect("latencies").push(sent.elapsed());
                }
            }
        });
    }
    println!("minute | commands | p50 ms | p99 ms | max ms | server RSS MiB | feed events");
    for minute in 1..=minutes {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let mut these = std::mem::take(&mut *latencies.lock().expect("latencies"));
        these.sort();
        println!(
            "{minute:>6} | {:>8} | {:>6.2} | {:>6.2} | {:>6.1} | {:>14.1} | {:>11}",
            these.len(),
            percentile(&these, 0.5),
            percentile(&these, 0.99),
            these.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
            agentstate_testkit::memory_kib(pid, "VmRSS:") as f64 / 1024.0,
            received.swap(0, std::sync::atomic::Ordering::Relaxed)
        );
    }
    drop(server);
}
