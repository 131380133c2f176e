//! Every agent live: a center's agents and supervisors each hold the dashboard's live feed
//! while the agents change their state, and every delivered message is timed.
//!
//!   cargo run --release -p agentstate-host --example feed_load -- [--agents 5000]
//!       [--channels 50] [--rate 200] [--seconds 300] [--no-feeds]
//!       [--hosts 3 [--restart-at SECONDS]]
//!
//! `--hosts 3` runs three hosts on a private PostgreSQL cluster behind HAProxy
//! (`deploy/haproxy.cfg`, routing by tenant), and every client talks to HAProxy alone;
//! `--restart-at` SIGKILLs the host that serves the tenant that many seconds into the load
//! and starts it again on its port. Feeds reconnect as the dashboard does (after a second,
//! with `Last-Event-ID`), and the time from a feed's end to its first message again is
//! reported: the reconnect storm.
//!
//! Builds and starts `agentstate serve` (the release binary; `AGENTSTATE_BIN` names
//! another) on a fresh SQLite store with a generated tenant (`tenant generate --agents
//! --channels`: one supervisor per queue), opens one feed per agent and per supervisor with
//! their own tokens, then the agents sign in, pause, resume and sign out in turn at
//! `--rate` commands a second (self-service, each with their own token). Reports the
//! host's memory, its CPU per command (run with `--no-feeds` for the same load without
//! feeds), and for every message a feed should get the time from the command's
//! acknowledgement to its arrival: the agent's own change on their feed, every change on
//! the feeds of the queue's supervisor, and on the other agents of the queue the first
//! `counts` message after it. Gaps (a message a feed should have had and never got) and
//! duplicates (a sequence number twice, or out of order) are counted.
//!
//! Needs file descriptors for two ends of every feed: `ulimit -n 65536` first.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

fn option(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

fn number(args: &[String], name: &str, default: u64) -> u64 {
    option(args, name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn cli(binary: &Path, args: &[String], data: &Path, database: Option<&str>) -> String {
    let mut command = Command::new(binary);
    if let Some(url) = database {
        command.env("AGENTSTATE_DATABASE_URL", url);
    }
    let out = command.args(args).arg("--data").arg(data).output().expect("runs agentstate");
    assert!(out.status.success(), "{:?}: {}", &args[..3.min(args.len())], String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What one feed received: each event message's sequence number and arrival, when each
/// `counts` message came, the sequence numbers of its snapshots, and how long each
/// reconnect took (from the feed's end to its first message again).
#[derive(Default)]
struct Received {
    events: Vec<(u64, Instant)>,
    counts: Vec<Instant>,
    snapshots: Vec<u64>,
    reconnects: Vec<Duration>,
}

/// Follows a feed until `stop`, reconnecting as the dashboard does: a second after it
/// ends, with the last sequence number it saw as `Last-Event-ID`.
async fn follow(url: String, token: String, into: Arc<Mutex<Received>>, stop: Instant) {
    let client = reqwest::Client::new();
    let (mut last, mut ended): (Option<u64>, Option<Instant>) = (None, None);
    while Instant::now() < stop {
        let mut request = client.get(&url).bearer_auth(&token);
        if let Some(last) = last {
            request = request.header("last-event-id", last.to_string());
        }
        let mut stream = match request.send().await {
            Ok(response) if response.status().is_success() => response.bytes_stream(),
            _ => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let mut text = String::new();
        while let Ok(Some(Ok(chunk))) =
            tokio::time::timeout(stop.saturating_duration_since(Instant::now()), stream.next()).await
        {
            let now = Instant::now();
            text.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = text.find("\n\n") {
                let block: String = text.drain(..end + 2).collect();
                let field = |name: &str| block.lines().find_map(|l| l.strip_prefix(name));
                let Ok(mut got) = into.lock() else { return };
                if let Some(down) = ended.take() {
                    got.reconnects.push(now - down);
                }
                let id = field("id: ").and_then(|v| v.parse::<u64>().ok());
                last = id.or(last);
                match (field("event: "), id) {
                    (Some("event" | "events"), Some(seq)) => got.events.push((seq, now)),
                    (Some("snapshot"), Some(seq)) => got.snapshots.push(seq),
                    (Some("counts"), _) => got.counts.push(now),
                    _ => {}
                }
            }
        }
        ended = Some(Instant::now());
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn percentiles(mut ms: Vec<f64>) -> String {
    if ms.is_empty() {
        return "none".into();
    }
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    format!("p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} messages)", at(0.5), at(0.99), at(1.0), ms.len())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let agents = number(&args, "--agents", 5000) as usize;
    let channels = number(&args, "--channels", 50) as usize;
    let rate = number(&args, "--rate", 200).max(1);
    let seconds = number(&args, "--seconds", 300);
    let feeds = !args.iter().any(|a| a == "--no-feeds");

    let hosts = number(&args, "--hosts", 1).max(1) as usize;
    assert!(hosts == 1 || hosts == 3, "--hosts 3 (as deploy/haproxy.cfg has), or one");
    let restart_at = option(&args, "--restart-at").and_then(|v| v.parse::<u64>().ok());
    let binary = agentstate_testkit::release_server().expect("the server");
    let data = tempfile::tempdir().expect("tempdir");
    let cluster = (hosts > 1).then(|| agentstate_testkit::PgCluster::start().expect("a PostgreSQL cluster"));
    let database = cluster.as_ref().map(|c| c.database("load").expect("a database"));
    let generate = ["tenant", "generate", "center", "--events", "0", "--agents", &agents.to_string(), "--channels"];
    let mut generate: Vec<String> = generate.iter().map(|s| s.to_string()).collect();
    generate.push(channels.to_string());
    cli(&binary, &generate, data.path(), database.as_deref());
    let agent = |a: usize| format!("a{a:04}");
    let supervisor = |c: usize| format!("s{c:02}");
    let mut users: Vec<String> = (0..agents).map(agent).collect();
    users.extend((0..channels).map(supervisor));
    let mut tokens = Vec::new();
    for chunk in users.chunks(1000) {
        let mut create: Vec<String> = ["token", "create", "--tenant", "center"].iter().map(|s| s.to_string()).collect();
        for user in chunk {
            create.extend(["--user".to_string(), user.clone()]);
        }
        tokens.extend(cli(&binary, &create, data.path(), database.as_deref()).lines().map(str::to_owned));
    }
    assert_eq!(tokens.len(), users.len());

    let max_feeds = (users.len() + 100).to_string();
    let serve = |addr: &str| {
        // As `ServerProcess::load_run`, on a given address (a restarted host takes its port
        // again, where HAProxy looks for it).
        let mut command = Command::new(&binary);
        command.args(["serve", "--no-demo-tenant", "--rate-limit", "1000000", "--feeds-per-token", "1000000"]);
        if let Some(url) = &database {
            command.env("AGENTSTATE_DATABASE_URL", url);
        }
        command
            .arg("--data")
            .arg(data.path())
            .args(["--max-feeds", &max_feeds, "--addr", addr])
            .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()));
        agentstate_testkit::ServerProcess::start(&mut command).expect("starts the server")
    };
    let mut servers: Vec<_> = (0..hosts).map(|_| serve("127.0.0.1:0")).collect();
    let host_bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
    let balancer = (hosts == 3).then(|| {
        agentstate_testkit::Haproxy::start(&[&host_bases[0], &host_bases[1], &host_bases[2]], None).expect("HAProxy")
    });
    let base = balancer.as_ref().map_or_else(|| host_bases[0].clone(), |b| b.base.clone());
    let pids = |servers: &[agentstate_testkit::ServerProcess]| servers.iter().map(|s| s.child.id()).collect::<Vec<_>>();
    let rss = |pids: &[u32], field: &str| pids.iter().map(|p| agentstate_testkit::memory_kib(*p, field)).sum::<u64>();
    let rss_idle = rss(&pids(&servers), "VmRSS:");

    let stop = Instant::now() + Duration::from_secs(seconds + 30);
    let received: Vec<Arc<Mutex<Received>>> = users.iter().map(|_| Arc::default()).collect();
    let opened = Instant::now();
    if feeds {
        for (token, into) in tokens.iter().zip(&received) {
            let url = format!("{base}/api/tenants/center/events");
            tokio::spawn(follow(url, token.clone(), into.clone(), stop));
        }
        // Every feed has its first `counts` message: it is subscribed.
        while received[..agents].iter().any(|r| r.lock().map(|r| r.counts.is_empty()).unwrap_or(true)) {
            assert!(opened.elapsed() < Duration::from_secs(120), "the feeds did not open");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let rss_open = rss(&pids(&servers), "VmRSS:");
    let opening = opened.elapsed();

    // The agents change their state in turn: sign in, pause, resume, sign out.
    let acks: Arc<Mutex<Vec<(usize, u64, Instant)>>> = Arc::default();
    let cpu_of = |pids: &[u32]| pids.iter().map(|p| agentstate_testkit::cpu_seconds(*p)).sum::<f64>();
    let mut cpu_before = cpu_of(&pids(&servers));
    let mut restarted = None;
    let started = Instant::now();
    let total = rate * seconds;
    let client = reqwest::Client::new();
    let mut pacing = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    let mut sent = Vec::new();
    let steps = ["sign_in", "pause", "resume", "sign_out"];
    for n in 0..total as usize {
        pacing.tick().await;
        // The host that serves the tenant (the one with its projector) dies and comes back.
        if restart_at.is_some_and(|at| restarted.is_none() && started.elapsed() >= Duration::from_secs(at)) {
            let mut serving = 0;
            for (i, host) in host_bases.iter().enumerate() {
                let text = reqwest::get(format!("{host}/metrics")).await.expect("metrics").text().await.expect("text");
                if agentstate_testkit::metric_sum(&text, "agentstate_projectors") > 0.0 {
                    serving = i;
                }
            }
            cpu_before -= agentstate_testkit::cpu_seconds(servers[serving].child.id());
            let _ = servers[serving].child.kill();
            let _ = servers[serving].child.wait();
            let addr = host_bases[serving].trim_start_matches("http://").to_owned();
            servers[serving] = serve(&addr);
            cpu_before += agentstate_testkit::cpu_seconds(servers[serving].child.id());
            restarted = Some((serving, Instant::now()));
        }
        let a = n % agents;
        let step = steps[(n / agents) % steps.len()];
        let (user, queue) = (agent(a), format!("q{:02}", a % channels));
        let mut body = serde_json::json!({"type": step, "user": user, "channel": queue});
        if step == "pause" {
            body["reason"] = "lunch".into();
        }
        let (client, url, token, acks) =
            (client.clone(), format!("{base}/api/tenants/center/commands"), tokens[a].clone(), acks.clone());
        sent.push(tokio::spawn(async move {
            let Ok(response) = client.post(&url).bearer_auth(&token).json(&body).send().await else { return };
            let answer: serde_json::Value = response.json().await.unwrap_or_default();
            let now = Instant::now();
            if answer["outcome"] == "accepted"
                && let Some(seq) = answer["seq"].as_u64()
                && let Ok(mut acks) = acks.lock()
            {
                acks.push((a, seq, now));
            }
        }));
    }
    for task in sent {
        let _ = task.await;
    }
    let wall = started.elapsed();
    let cpu = cpu_of(&pids(&servers)) - cpu_before;
    // Let the last messages arrive.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_end = rss(&pids(&servers), "VmRSS:");
    let peak = rss(&pids(&servers), "VmHWM:");
    let acks = acks.lock().map(|a| a.clone()).unwrap_or_default();

    println!(
        "{agents} agents on {channels} queues, {} supervisors; feeds: {}",
        channels,
        if feeds { users.len() } else { 0 }
    );
    println!(
        "{} commands in {:.1} s ({:.0}/s), {} accepted",
        total,
        wall.as_secs_f64(),
        total as f64 / wall.as_secs_f64(),
        acks.len()
    );
    println!("server CPU: {cpu:.2} s, {:.1} µs per command", cpu * 1e6 / total.max(1) as f64);
    println!(
        "host memory (all hosts): {:.1} MiB idle, {:.1} MiB with the feeds open ({:.1} s to open), {:.1} MiB at the end, peak {:.1} MiB",
        rss_idle as f64 / 1024.0,
        rss_open as f64 / 1024.0,
        opening.as_secs_f64(),
        rss_end as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    if !feeds {
        return;
    }
    if feeds && agents > 0 {
        println!("each feed adds {:.1} KiB", (rss_open.saturating_sub(rss_idle)) as f64 / users.len() as f64);
    }

    let got: Vec<Received> = received.iter().map(|r| std::mem::take(&mut *r.lock().expect("not poisoned"))).collect();
    let (mut own, mut watched, mut counted) = (Vec::new(), Vec::new(), Vec::new());
    let (mut gaps, mut duplicates) = (0usize, 0usize);
    let arrival = |feed: &Received| feed.events.iter().copied().collect::<HashMap<u64, Instant>>();
    let arrivals: Vec<HashMap<u64, Instant>> = got.iter().map(arrival).collect();
    for feed in &got {
        duplicates += feed.events.windows(2).filter(|w| w[0].0 >= w[1].0).count();
    }
    let by_queue: BTreeMap<usize, Vec<usize>> = (0..agents).fold(BTreeMap::new(), |mut m, a| {
        m.entry(a % channels).or_default().push(a);
        m
    });
    let ms = |from: Instant, to: Instant| to.saturating_duration_since(from).as_secs_f64() * 1e3;
    // A change a feed did not get as a message is no gap when a snapshot it started again
    // from holds it (a reconnect behind the log's end, on another host).
    let mut covered = 0usize;
    let mut received_or_covered =
        |feed: usize, seq: u64, acked: Instant, into: &mut Vec<f64>| match arrivals[feed].get(&seq) {
            Some(at) => into.push(ms(acked, *at)),
            None if got[feed].snapshots.iter().any(|s| *s >= seq) => covered += 1,
            None => gaps += 1,
        };
    for (a, seq, acked) in &acks {
        received_or_covered(*a, *seq, *acked, &mut own);
        received_or_covered(agents + a % channels, *seq, *acked, &mut watched);
        // Colleagues on the queue: the first counts message after the acknowledgement (a
        // sample of eight, so that the figure costs little to compute).
        for colleague in by_queue[&(a % channels)].iter().filter(|c| *c != a).take(8) {
            if let Some(at) = got[*colleague].counts.iter().find(|t| **t >= *acked) {
                counted.push(ms(*acked, *at));
            }
        }
    }
    println!("own change on the agent's feed: {}", percentiles(own));
    println!("change on the supervisor's feed: {}", percentiles(watched));
    println!("counts on colleagues' feeds (first after the change): {}", percentiles(counted));
    let snapshots: usize = got.iter().map(|r| r.snapshots.len()).sum();
    println!(
        "gaps: {gaps}, duplicates: {duplicates}, snapshot messages: {snapshots}, changes held by a snapshot: {covered}"
    );
    let storm: Vec<f64> = got.iter().flat_map(|r| r.reconnects.iter().map(|d| d.as_secs_f64() * 1e3)).collect();
    if !storm.is_empty() {
        println!("reconnects: {} feeds, end to first message again: {}", storm.len(), percentiles(storm));
    }
    println!("commands not acknowledged: {}", total as usize - acks.len());
    drop(servers);
    drop(balancer);
    drop(cluster);
    if gaps + duplicates > 0 {
        eprintln!("feed_load: feeds missed or doubled messages");
        std::process::exit(1);
    }
}
