//! Load on the API from a second process over loopback: builds and starts `agentstate
//! serve` (the release binary beside this example; `AGENTSTATE_BIN` names another) on a
//! fresh store with tenants of 20 agents per client, then N clients, each with its own
//! admin token, send sign-in/sign-out commands one request at a time. Prints throughput,
//! latency percentiles, each host's peak resident memory and, on PostgreSQL, how often an
//! append lost the race to another host (conflicts, each followed by a re-decide).
//!
//!   cargo run --release -p agentstate-host --example api_load -- [CLIENTS] [COMMANDS] [FOLLOWERS]
//!       [--store sqlite|postgres] [--hosts H] [--tenants T] [--through haproxy]
//!
//! `--store postgres` starts a private PostgreSQL cluster (Debian's postgresql); `--hosts`
//! runs H servers on it, and client c sends its n-th request to host (c + n) mod H — no
//! sticky routing. `--through haproxy` (with `--hosts 3`) puts HAProxy in front of the
//! hosts with `deploy/haproxy.cfg` — routing by tenant — and every client talks to it
//! alone. `--tenants` spreads the clients over T tenants (client c on tenant c mod T). FOLLOWERS live feeds (SSE, as dashboards hold them) follow the first tenant
//! on the first host meanwhile; each must receive every event of it.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const AGENTS_PER_CLIENT: usize = 20;
const CHANNELS: usize = 20;

fn cli(binary: &Path, args: &[&str], data: &Path, database: Option<&str>) -> String {
    let mut command = Command::new(binary);
    if let Some(url) = database {
        command.env("AGENTSTATE_DATABASE_URL", url);
    }
    let out = command.args(args).arg("--data").arg(data).output().expect("runs agentstate");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn tenant(clients: usize) -> String {
    let mut yaml = String::from("plan: complete\nusers:\n");
    for c in 0..clients {
        yaml.push_str(&format!("  - {{ id: admin{c}, name: Admin {c}, roles: [admin] }}\n"));
    }
    let agents = clients * AGENTS_PER_CLIENT;
    for a in 0..agents {
        yaml.push_str(&format!("  - {{ id: agent{a}, name: Agent {a}, roles: [agent] }}\n"));
    }
    yaml.push_str("channels:\n");
    for q in 0..CHANNELS {
        let members: Vec<String> = (0..agents).filter(|a| a % CHANNELS == q).map(|a| format!("agent{a}")).collect();
        yaml.push_str(&format!(
            "  - {{ id: q{q}, kind: queue, name: Queue {q}, wrap_up_secs: 30, agents: [{}] }}\n",
            members.join(", ")
        ));
    }
    yaml
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

/// `--name value` options after the positional arguments.
fn option(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

#[tokio::main]
async fn main() {
    let all: Vec<String> = std::env::args().skip(1).collect();
    let mut args = all.iter().take_while(|a| !a.starts_with("--"));
    let clients: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(50);
    let commands: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let followers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(0);
    let hosts: usize = option(&all, "--hosts").and_then(|h| h.parse().ok()).unwrap_or(1).max(1);
    let tenants: usize = option(&all, "--tenants").and_then(|t| t.parse().ok()).unwrap_or(1).clamp(1, clients);
    let postgres = option(&all, "--store").as_deref() == Some("postgres");
    assert!(postgres || hosts == 1, "SQLite is one host's store: --store postgres for several hosts");
    let through = option(&all, "--through");
    assert!(
        through.is_none() || (through.as_deref() == Some("haproxy") && hosts == 3),
        "--through haproxy, with --hosts 3 (as deploy/haproxy.cfg has)"
    );
    let binary = agentstate_testkit::release_server().expect("the server");
    let data = tempfile::tempdir().expect("tempdir");
    let cluster = postgres.then(|| agentstate_testkit::PgCluster::start().expect("a PostgreSQL cluster"));
    let database = cluster.as_ref().map(|c| c.database("load").expect("a database"));
    let database = database.as_deref();
    let description = data.path().join("tenant.yaml");
    std::fs::write(&description, tenant(clients)).expect("writes");
    for t in 0..tenants {
        cli(
            &binary,
            &["tenant", "create", &format!("load{t}"), description.to_str().expect("utf-8")],
            data.path(),
            database,
        );
    }
    let tokens: Vec<String> = (0..clients)
        .map(|c| {
            let tenant = format!("load{}", c % tenants);
            cli(
                &binary,
                &["token", "create", "--tenant", &tenant, "--user", &format!("admin{c}")],
                data.path(),
                database,
            )
        })
        .collect();

    let mut servers = Vec::new();
    let mut bases: Vec<String> = Vec::new();
    for _ in 0..hosts {
        let mut command = agentstate_testkit::ServerProcess::load_run(&binary);
        if let Some(url) = database {
            command.env("AGENTSTATE_DATABASE_URL", url);
        }
        command
            .arg("--data")
            .arg(data.path())
            // The server's own log level: RUST_LOG as given (warn unless set).
            .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()));
        let server = agentstate_testkit::ServerProcess::start(&mut command).expect("starts the server");
        bases.push(server.base.clone());
        servers.push(server);
    }
    let balancer =
        through.map(|_| agentstate_testkit::Haproxy::start(&[&bases[0], &bases[1], &bases[2]], None).expect("HAProxy"));
    let host_bases = bases.clone();
    if let Some(balancer) = &balancer {
        bases = vec![balancer.base.clone()];
    }
    let base = bases[0].clone();
    let rss_idle: Vec<u64> = servers.iter().map(|s| agentstate_testkit::memory_kib(s.child.id(), "VmRSS:")).collect();

    let per_client = commands / clients;
    let expected = (per_client * clients.div_ceil(tenants)) as u64;
    let feeds: Vec<_> = (0..followers)
        .map(|_| {
            let (url, token) = (format!("{base}/api/tenants/load0/events"), tokens[0].clone());
            tokio::spawn(async move { follow(&url, &token, expected).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let cpu_before: Vec<f64> = servers.iter().map(|s| agentstate_testkit::cpu_seconds(s.child.id())).collect();
    let balancer_before = balancer.as_ref().map_or(0.0, |b| agentstate_testkit::cpu_seconds(b.pid()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (c, token) in tokens.into_iter().enumerate() {
        let urls: Vec<String> =
            bases.iter().map(|base| format!("{base}/api/tenants/load{}/commands", c % tenants)).collect();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut latencies = Vec::with_capacity(per_client);
            let mut accepted = 0;
            let mut refused = std::collections::BTreeMap::<String, usize>::new();
            for n in 0..per_client {
                let agent = c * AGENTS_PER_CLIENT + (n / 2) % AGENTS_PER_CLIENT;
                let kind = if n % 2 == 0 { "sign_in" } else { "sign_out" };
                let body = serde_json::json!({"id": format!("c{c}-{n}"), "type": kind,
                    "user": format!("agent{agent}"), "channel": format!("q{}", agent % CHANNELS)});
                let sent = Instant::now();
                let url = &urls[(c + n) % urls.len()];
                let response = client.post(url).bearer_auth(&token).json(&body).send().await.expect("posts");
                let answer: serde_json::Value = response.json().await.expect("json");
                latencies.push(sent.elapsed());
                if answer["outcome"] == "accepted" {
                    accepted += 1;
                } else {
                    let code = answer["rejection"]["code"].as_str().or(answer["error"]["code"].as_str());
                    *refused.entry(code.unwrap_or("?").to_owned()).or_default() += 1;
                }
            }
            (latencies, accepted, refused)
        }));
    }
    let mut latencies = Vec::new();
    let mut accepted = 0;
    let mut refused = std::collections::BTreeMap::<String, usize>::new();
    for task in tasks {
        let (l, a, r) = task.await.expect("client");
        latencies.extend(l);
        accepted += a;
        for (code, n) in r {
            *refused.entry(code).or_default() += n;
        }
    }
    let wall = started.elapsed();
    let cpu_each: Vec<f64> = servers
        .iter()
        .zip(&cpu_before)
        .map(|(s, before)| agentstate_testkit::cpu_seconds(s.child.id()) - before)
        .collect();
    let cpu: f64 = cpu_each.iter().sum();
    let balancer_cpu = balancer.as_ref().map_or(0.0, |b| agentstate_testkit::cpu_seconds(b.pid()) - balancer_before);
    let mut received = Vec::new();
    for feed in feeds {
        received.push(feed.await.expect("feed"));
    }
    let peaks: Vec<u64> = servers.iter().map(|s| agentstate_testkit::memory_kib(s.child.id(), "VmHWM:")).collect();
    let (mut conflicts, mut redecides) = (0.0, 0.0);
    for base in &host_bases {
        let text = reqwest::get(format!("{base}/metrics")).await.expect("metrics").text().await.expect("text");
        conflicts += agentstate_testkit::metric_sum(&text, "agentstate_append_conflicts_total");
        redecides += agentstate_testkit::metric_sum(&text, "agentstate_redecides_total");
    }
    latencies.sort();
    for server in &mut servers {
        let _ = Command::new("kill").arg("-TERM").arg(server.child.id().to_string()).status();
        let _ = server.child.wait();
    }
    drop(balancer);
    drop(cluster);

    let total = latencies.len();
    let store = if postgres { "PostgreSQL" } else { "SQLite" };
    let routing = if balancer_cpu > 0.0 { ", behind HAProxy (routing by tenant)" } else { "" };
    println!("{store}, {hosts} host(s){routing}, {tenants} tenant(s)");
    println!("{clients} clients, {total} commands ({accepted} accepted) in {:.2} s", wall.as_secs_f64());
    if !refused.is_empty() {
        println!("not accepted: {refused:?}");
    }
    println!("throughput: {:.0} commands/s", total as f64 / wall.as_secs_f64());
    println!(
        "server CPU: {cpu:.2} s, {:.1} µs per command ({:.1} µs per accepted command)",
        cpu * 1e6 / total.max(1) as f64,
        cpu * 1e6 / accepted.max(1) as f64
    );
    if cpu_each.len() > 1 {
        let each: Vec<String> = cpu_each.iter().map(|c| format!("{c:.2} s")).collect();
        println!("server CPU by host: {}", each.join(", "));
    }
    if balancer_cpu > 0.0 {
        println!("HAProxy CPU: {balancer_cpu:.2} s, {:.1} µs per command", balancer_cpu * 1e6 / total.max(1) as f64);
    }
    println!(
        "latency: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.90).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    for (host, (idle, peak)) in rss_idle.iter().zip(&peaks).enumerate() {
        println!(
            "host {host} memory: {:.1} MiB idle, {:.1} MiB peak (VmHWM)",
            *idle as f64 / 1024.0,
            *peak as f64 / 1024.0
        );
    }
    println!(
        "append conflicts: {conflicts} ({:.2} % of commands), re-decided groups: {redecides}",
        conflicts * 100.0 / total.max(1) as f64
    );
    if followers > 0 {
        let complete = received.iter().filter(|(events, _)| *events == expected).count();
        let last = received.iter().map(|(_, at)| *at).max().unwrap_or_default();
        println!(
            "{followers} live feeds: {complete} received all {expected} events; the last one {:.0} ms after the last acknowledgement",
            last.saturating_sub(wall).as_secs_f64() * 1e3
        );
    }
}

/// Follows the feed until `expected` events arrived (or 60 s passed); how many, and when
/// the last came, from the start of the load.
async fn follow(url: &str, token: &str, expected: u64) -> (u64, Duration) {
    use futures_util::StreamExt;
    let began = Instant::now();
    let Ok(response) = reqwest::Client::new().get(url).bearer_auth(token).send().await else {
        return (0, Duration::ZERO);
    };
    let mut stream = response.bytes_stream();
    let (mut seen, mut last, mut text) = (0u64, Duration::ZERO, String::new());
    while seen < expected {
        match tokio::time::timeout(Duration::from_secs(60), stream.next()).await {
            Ok(Some(Ok(chunk))) => {
                text.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = text.find("\n\n") {
                    if text[..end].lines().any(|l| l.starts_with("data: ")) {
                        seen += 1;
                        last = began.elapsed().saturating_sub(Duration::from_millis(200));
                    }
                    text.drain(..end + 2);
                }
            }
            _ => break,
        }
    }
    (seen, last)
}
