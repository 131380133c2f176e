//! A host on a database with many tenants: how long `agentstate serve` takes to start and
//! how much memory it holds, then while it serves more tenants than it keeps loaded.
//! Starts a private PostgreSQL cluster (Debian's postgresql), creates TENANTS tenants of a
//! few users each, starts the release server on it and asks TOUCHED of them for their
//! snapshot, one after another.
//!
//!   cargo run --release -p agentstate-host --example many_tenants -- [TENANTS] [TOUCHED]

use std::process::Command;
use std::time::Instant;

use agentstate_server::store::StoreConfig;

const TENANT: &str = "
plan: complete
users:
  - { id: ana, name: Ana, roles: [agent] }
  - { id: ben, name: Ben, roles: [agent] }
  - { id: sam, name: Sam, roles: [supervisor] }
channels:
  - { id: support, kind: queue, name: Support, agents: [ana, ben], supervisors: [sam] }
  - { id: chat, kind: chat, name: Chat, agents: [ana], supervisors: [sam] }
";

fn main() {
    let mut args = std::env::args().skip(1);
    let tenants: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let touched: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(500);
    let binary = agentstate_testkit::release_server().expect("the server");

    let cluster = agentstate_testkit::PgCluster::start().expect("a PostgreSQL cluster");
    let url = cluster.database("many").expect("a database");
    let description = agentstate_server::description_json(TENANT).expect("a tenant");
    let mut store = StoreConfig::Postgres(url.clone()).open().expect("opens");
    let began = Instant::now();
    for t in 0..tenants {
        store.create_tenant(&format!("t{t}"), &description).expect("creates");
    }
    println!("{tenants} tenants created in {:.1} s", began.elapsed().as_secs_f64());
    let tokens: Vec<String> = (0..touched.min(tenants))
        .map(|t| agentstate_server::tokens::issue(&mut *store, &format!("t{t}"), "sam").expect("a token"))
        .collect();
    drop(store);

    let data = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let mut command = Command::new(&binary);
    command
        .args(["serve", "--no-demo-tenant", "--addr", "127.0.0.1:0", "--rate-limit", "100000", "--data"])
        .arg(data.path())
        .env("AGENTSTATE_DATABASE_URL", &url)
        .env("RUST_LOG", "warn");
    let mut server = agentstate_testkit::ServerProcess::start(&mut command).expect("starts the server");
    let start = started.elapsed();
    let base = server.base.clone();
    let rss_started = agentstate_testkit::memory_kib(server.child.id(), "VmRSS:");
    println!(
        "start with {tenants} tenants in the database: {:.0} ms to listening, RSS {:.1} MiB",
        start.as_secs_f64() * 1e3,
        rss_started as f64 / 1024.0
    );

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let http = reqwest::Client::new();
    let mut loads = Vec::new();
    runtime.block_on(async {
        for (t, token) in tokens.iter().enumerate() {
            let sent = Instant::now();
            let response = http
                .get(format!("{base}/api/tenants/t{t}/snapshot"))
                .bearer_auth(token)
                .send()
                .await
                .expect("snapshot");
            assert!(response.status().is_success(), "{}", response.status());
            loads.push(sent.elapsed());
        }
    });
    loads.sort();
    let metrics = runtime.block_on(async {
        http.get(format!("{base}/metrics")).send().await.expect("metrics").text().await.expect("text")
    });
    let rss = agentstate_testkit::memory_kib(server.child.id(), "VmRSS:");
    let peak = agentstate_testkit::memory_kib(server.child.id(), "VmHWM:");
    println!(
        "{} tenants asked for once each (first request loads): median {:.2} ms, p99 {:.2} ms; \
         loaded now {}, evicted {}; RSS {:.1} MiB, peak {:.1} MiB",
        loads.len(),
        loads.get(loads.len() / 2).copied().unwrap_or_default().as_secs_f64() * 1e3,
        loads.get(loads.len() * 99 / 100).copied().unwrap_or_default().as_secs_f64() * 1e3,
        agentstate_testkit::metric_sum(&metrics, "agentstate_tenants_loaded"),
        agentstate_testkit::metric_sum(&metrics, "agentstate_tenant_evictions_total"),
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    let _ = Command::new("kill").arg("-TERM").arg(server.child.id().to_string()).status();
    let _ = server.child.wait();
}
