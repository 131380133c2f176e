//! Several `agentstate serve` hosts on one PostgreSQL (a private cluster), serving one
//! tenant at once with no sticky routing: concurrent clients round-robin across the hosts
//! and retry on another host. Afterwards the log is 1..N without gaps, every acknowledged
//! command's events are in it exactly once, every host's snapshot is byte-identical, a
//! live feed on every host delivered 1..N in order, and the hosts' metrics add up to what
//! the clients were told. Then the faults: a host SIGKILLed and PostgreSQL restarted
//! mid-stream.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agentstate_testkit::{PgCluster, ServerProcess, run};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::Mutex;

const CLIENTS: usize = 30;
const AGENTS: usize = 10;

fn description() -> String {
    let agents: Vec<String> = (0..AGENTS).map(|i| format!("a{i}")).collect();
    let users: Vec<String> = agents
        .iter()
        .map(|a| format!("  - {{ id: {a}, name: Agent {a}, roles: [agent] }}"))
        .chain(["  - { id: ada, name: Ada Admin, roles: [admin, supervisor] }".to_owned()])
        .collect();
    format!(
        "plan: complete\nusers:\n{}\nchannels:\n  - {{ id: support, kind: queue, name: Support, agents: [{}], supervisors: [ada] }}\n  - {{ id: sales, kind: queue, name: Sales, agents: [{}], supervisors: [ada] }}\n",
        users.join("\n"),
        agents.join(", "),
        agents.join(", ")
    )
}

fn agentstate(url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_agentstate"));
    command.env("AGENTSTATE_DATABASE_URL", url);
    command
}

type Host = ServerProcess;

fn host(url: &str, data: &Path) -> Host {
    let mut command = agentstate(url);
    command.args(["serve", "--no-demo-tenant", "--addr", "127.0.0.1:0", "--rate-limit", "100000", "--data"]);
    command.arg(data).env("RUST_LOG", "warn");
    ServerProcess::start(&mut command).expect("starts a host")
}

/// One PostgreSQL, one tenant, tokens; hosts started by the test.
struct Setup {
    cluster: PgCluster,
    url: String,
    dir: tempfile::TempDir,
    tokens: Vec<String>,
    /// `system`'s token: the feed that follows the log as it is (a person's feed is what
    /// they may see of it, and starts anew from a snapshot after a reconnect).
    follower: String,
}

impl Setup {
    fn new(clients: usize) -> Setup {
        let cluster = PgCluster::start().expect("a private PostgreSQL cluster");
        let url = cluster.database("agentstate").expect("a database");
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("tenant.yaml");
        std::fs::write(&file, description()).expect("writes");
        run(agentstate(&url).args(["tenant", "create", "acme"]).arg(&file));
        let tokens = (0..clients)
            .map(|_| run(agentstate(&url).args(["token", "create", "--tenant", "acme", "--user", "ada"])))
            .collect();
        let follower = run(agentstate(&url).args(["token", "create", "--tenant", "acme", "--user", "system"]));
        Setup { cluster, url, dir, tokens, follower }
    }

    fn hosts(&self, count: usize) -> Vec<Host> {
        (0..count).map(|_| host(&self.url, self.dir.path())).collect()
    }

    /// The log as PostgreSQL holds it.
    fn log(&self) -> Vec<(u64, String)> {
        let mut db = postgres::Client::connect(&self.url, postgres::NoTls).expect("connects");
        db.query("SELECT seq, event FROM events WHERE tenant = 'acme' ORDER BY seq", &[])
            .expect("reads")
            .iter()
            .map(|r| (r.get::<_, i64>(0) as u64, r.get(1)))
            .collect()
    }
}

/// The command a client sends as its `n`th: its agent signs in and out of the two queues
/// (some are rejected: the same agent is shared by three clients).
fn command(client: usize, n: usize) -> Value {
    let agent = format!("a{}", client % AGENTS);
    let channel = if (n / 2).is_multiple_of(2) { "support" } else { "sales" };
    let kind = if n.is_multiple_of(2) { "sign_in" } else { "sign_out" };
    json!({"type": kind, "user": agent, "channel": channel, "id": format!("c{client}-{n}")})
}

#[derive(Debug, Clone)]
struct Ack {
    host: usize,
    body: Value,
}

/// Posts `body` to the hosts from `first` on, moving to the next host after a refused
/// connection or a 503, until one acknowledges (or `patience` runs out).
async fn send(
    http: &reqwest::Client,
    hosts: &[String],
    first: usize,
    token: &str,
    body: &Value,
    patience: Duration,
) -> Ack {
    let deadline = Instant::now() + patience;
    let mut host = first;
    loop {
        let url = format!("{}/api/tenants/acme/commands", hosts[host % hosts.len()]);
        let answer = http.post(&url).bearer_auth(token).json(body).timeout(Duration::from_secs(10)).send().await;
        if let Ok(response) = answer {
            let status = response.status();
            let reply: Value = response.json().await.unwrap_or(Value::Null);
            if status != StatusCode::SERVICE_UNAVAILABLE && !reply.is_null() {
                assert!(status.is_success() || reply.get("outcome").is_some(), "{status}: {reply}");
                return Ack { host: host % hosts.len(), body: reply };
            }
        }
        assert!(Instant::now() < deadline, "no host acknowledged {body} in {patience:?}");
        host += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Follows a host's live feed from the start, collecting (seq, event) until aborted. When
/// the feed ends (the host could not read the store) it reconnects with `Last-Event-ID`,
/// as a dashboard does.
fn follow(
    http: reqwest::Client,
    base: String,
    token: String,
    seen: Arc<Mutex<Vec<(u64, String)>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let last = seen.lock().await.last().map_or(0, |(seq, _)| *seq);
            let request = http
                .get(format!("{base}/api/tenants/acme/events"))
                .header("Last-Event-ID", last.to_string())
                .bearer_auth(&token);
            let response = match request.send().await {
                Ok(response) if response.status() == StatusCode::OK => response,
                _ => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let mut stream = response.bytes_stream();
            let mut buffer = String::new();
            while let Some(Ok(chunk)) = stream.next().await {
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let block: String = buffer.drain(..end + 2).collect();
                    let id = block.lines().find_map(|l| l.strip_prefix("id: ")).and_then(|v| v.parse().ok());
                    let data = block.lines().find_map(|l| l.strip_prefix("data: ")).map(str::to_owned);
                    if let (Some(id), Some(data)) = (id, data) {
                        seen.lock().await.push((id, data));
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

/// Waits (up to 30 s) until the feed has as many events as the log, then checks it
/// delivered exactly the log: 1..N, in order, each once.
async fn assert_feed_delivered(seen: &Mutex<Vec<(u64, String)>>, log: &[(u64, String)]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.lock().await.len() < log.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = seen.lock().await;
    assert_eq!(seen.len(), log.len(), "the feed delivered {} of {}", seen.len(), log.len());
    for ((seq, event), (want_seq, want)) in seen.iter().zip(log) {
        assert_eq!(seq, want_seq);
        assert_eq!(event, want);
    }
}

/// Every acknowledged (not retried) command's events stand in the log exactly at the
/// sequence numbers it was told, and together they are the whole log, 1..N.
fn assert_log_holds_exactly(log: &[(u64, String)], acks: &[Ack]) {
    for (i, (seq, _)) in log.iter().enumerate() {
        assert_eq!(*seq, i as u64 + 1, "the log has a gap or a fork at {}", i + 1);
    }
    let mut owned = vec![0usize; log.len()];
    for ack in acks.iter().filter(|a| a.body["retried"] == false) {
        let events = ack.body["events"].as_array().cloned().unwrap_or_default();
        let last = ack.body["seq"].as_u64().expect("seq") as usize;
        for (k, event) in events.iter().enumerate() {
            let at = last - events.len() + k;
            let stored: Value = serde_json::from_str(&log[at].1).expect("a stored event");
            assert_eq!(&stored, event, "acknowledged event at {} differs from the log", at + 1);
            owned[at] += 1;
        }
    }
    assert!(owned.iter().all(|n| *n == 1), "every event belongs to exactly one acknowledged command");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_hosts_serve_one_tenant_with_no_lost_doubled_or_forked_event() {
    const COMMANDS: usize = 40;
    let setup = tokio::task::block_in_place(|| Setup::new(CLIENTS));
    let hosts = setup.hosts(3);
    let bases: Vec<String> = hosts.iter().map(|h| h.base.clone()).collect();
    let http = reqwest::Client::new();
    let feeds: Vec<_> = bases
        .iter()
        .map(|base| {
            let seen = Arc::new(Mutex::new(Vec::new()));
            (seen.clone(), follow(http.clone(), base.clone(), setup.follower.clone(), seen))
        })
        .collect();

    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (http, bases, token) = (http.clone(), bases.clone(), setup.tokens[client].clone());
        clients.push(tokio::spawn(async move {
            let mut acks = Vec::new();
            for n in 0..COMMANDS {
                let body = command(client, n);
                let first = send(&http, &bases, client + n, &token, &body, Duration::from_secs(30)).await;
                // Every fifth command is sent again to the next host, as a client does that
                // did not see the answer: an accepted command's outcome comes back and
                // nothing is stored; a refused one left no trace and is decided again.
                if n.is_multiple_of(5) {
                    let again = send(&http, &bases, client + n + 1, &token, &body, Duration::from_secs(30)).await;
                    assert_ne!(again.host, first.host);
                    if first.body["outcome"] == "accepted" {
                        assert_eq!(again.body["retried"], true, "{}", again.body);
                        assert_eq!(again.body["outcome"], first.body["outcome"]);
                        assert_eq!(again.body["events"], first.body["events"]);
                    } else {
                        assert_eq!(again.body["retried"], false, "{}", again.body);
                    }
                    acks.push(again);
                }
                acks.push(first);
            }
            acks
        }));
    }
    let mut acks = Vec::new();
    for client in clients {
        acks.extend(client.await.expect("a client"));
    }
    let log = tokio::task::block_in_place(|| setup.log());
    assert_log_holds_exactly(&log, &acks);
    let n = log.len() as u64;
    assert!(n > 0);

    // Every host's snapshot, as of the same N, is the same bytes.
    let mut snapshots = Vec::new();
    for base in &bases {
        let text = http
            .get(format!("{base}/api/tenants/acme/snapshot"))
            .bearer_auth(&setup.tokens[0])
            .send()
            .await
            .expect("snapshot")
            .text()
            .await
            .expect("text");
        snapshots.push(text);
    }
    assert!(
        snapshots.iter().all(|s| s.starts_with(&format!("{{\"seq\":{n},"))),
        "{:?}",
        snapshots.iter().map(|s| &s[..20]).collect::<Vec<_>>()
    );
    assert!(snapshots.windows(2).all(|w| w[0] == w[1]), "every host holds the same state");

    // A feed on each host delivered 1..N, in order, exactly once — the events written
    // through the other hosts included.
    for (seen, task) in feeds {
        assert_feed_delivered(&seen, &log).await;
        task.abort();
    }

    // A dashboard that followed host 0 resumes on host 2 with its Last-Event-ID.
    let resumed_from = log.len() - 5;
    let seen = Arc::new(Mutex::new(vec![log[resumed_from - 1].clone()]));
    let task = follow(http.clone(), bases[2].clone(), setup.follower.clone(), seen.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.lock().await.len() < 6 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    task.abort();
    assert_eq!(seen.lock().await[1..], log[resumed_from..], "resumed after {resumed_from}, on another host");

    // What the hosts counted is what the clients were told.
    let mut counted = 0.0;
    let mut conflicts = 0.0;
    for base in &bases {
        let text = http.get(format!("{base}/metrics")).send().await.expect("metrics").text().await.expect("text");
        counted += agentstate_testkit::metric_sum(&text, "agentstate_commands_total");
        conflicts += agentstate_testkit::metric_sum(&text, "agentstate_append_conflicts_total");
        assert!(text.contains("agentstate_http_request_duration_seconds_bucket"), "latency histograms");
    }
    assert_eq!(counted as usize, acks.len(), "commands counted by the hosts = answers the clients got");
    let accepted = acks.iter().filter(|a| a.body["outcome"] == "accepted" && a.body["retried"] == false).count();
    eprintln!("{} answers, {accepted} accepted, {n} events, {conflicts} append conflicts", acks.len());

    // A tenant created and a token revoked through any one machine take effect on every host.
    let (url, file) = (setup.url.clone(), setup.dir.path().join("tenant.yaml"));
    let globex = tokio::task::block_in_place(|| {
        run(agentstate(&url).args(["tenant", "create", "globex"]).arg(&file));
        run(agentstate(&url).args(["token", "create", "--tenant", "globex", "--user", "ada"]))
    });
    for base in &bases {
        let me =
            http.get(format!("{base}/api/tenants/globex/snapshot")).bearer_auth(&globex).send().await.expect("answers");
        assert_eq!(me.status(), StatusCode::OK, "{base} serves the new tenant");
    }
    tokio::task::block_in_place(|| {
        run(agentstate(&url).args(["token", "revoke", "--tenant", "globex", "--user", "ada"]))
    });
    for base in &bases {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let me = http.get(format!("{base}/api/me")).bearer_auth(&globex).send().await.expect("answers");
            if me.status() == StatusCode::UNAUTHORIZED {
                break;
            }
            assert!(Instant::now() < deadline, "{base} still takes the revoked token");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    drop(hosts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_host_and_a_restarted_database_lose_and_double_nothing() {
    const COMMANDS: usize = 60;
    const FAULT_CLIENTS: usize = 9;
    let mut setup = tokio::task::block_in_place(|| Setup::new(FAULT_CLIENTS));
    let mut hosts = setup.hosts(3);
    let bases: Vec<String> = hosts.iter().map(|h| h.base.clone()).collect();
    let http = reqwest::Client::new();
    // A dashboard on host 0 follows throughout: the database's restart included.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let feed = follow(http.clone(), bases[0].clone(), setup.follower.clone(), seen.clone());
    let progress = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = Vec::new();
    for client in 0..FAULT_CLIENTS {
        let (http, bases, token, progress) =
            (http.clone(), bases.clone(), setup.tokens[client].clone(), progress.clone());
        clients.push(tokio::spawn(async move {
            let mut acks = Vec::new();
            for n in 0..COMMANDS {
                let body = command(client, n);
                acks.push(send(&http, &bases, client + n, &token, &body, Duration::from_secs(60)).await);
                progress.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            acks
        }));
    }
    let wait_for = |count: usize| {
        let progress = progress.clone();
        async move {
            while progress.load(std::sync::atomic::Ordering::Relaxed) < count {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    // A host dies mid-stream; its clients move on to the others.
    wait_for(FAULT_CLIENTS * COMMANDS / 4).await;
    let killed = hosts.remove(1);
    drop(killed);
    // PostgreSQL goes away: the hosts answer 503 and say so on /healthz, then recover.
    wait_for(FAULT_CLIENTS * COMMANDS / 2).await;
    tokio::task::block_in_place(|| setup.cluster.stop()).expect("stops PostgreSQL");
    let health = http.get(format!("{}/healthz", bases[0])).send().await.expect("healthz");
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE, "a host that cannot commit says so");
    let refused = http
        .post(format!("{}/api/tenants/acme/commands", bases[2]))
        .bearer_auth(&setup.tokens[0])
        .json(&json!({"type": "sign_in", "user": "a0", "channel": "support"}))
        .send()
        .await
        .expect("answers");
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    tokio::time::sleep(Duration::from_millis(500)).await;
    tokio::task::block_in_place(|| setup.cluster.restart()).expect("restarts PostgreSQL");

    let mut acks = Vec::new();
    for client in clients {
        acks.extend(client.await.expect("a client"));
    }
    let health = http.get(format!("{}/healthz", bases[0])).send().await.expect("healthz");
    assert_eq!(health.status(), StatusCode::OK, "recovered by itself");
    assert_eq!(acks.len(), FAULT_CLIENTS * COMMANDS, "every command was acknowledged in the end");
    let log = tokio::task::block_in_place(|| setup.log());
    // A command whose first try was stored but not acknowledged (the database went away
    // at its commit) was acknowledged by its retry as `retried`: its events are in the
    // log once, owned by that first try. Count them to the retried answers.
    let fresh: Vec<Ack> = acks.iter().filter(|a| a.body["retried"] == false).cloned().collect();
    let retried_events: usize = acks
        .iter()
        .filter(|a| a.body["retried"] == true)
        .map(|a| a.body["events"].as_array().map_or(0, Vec::len))
        .sum();
    let fresh_events: usize = fresh.iter().map(|a| a.body["events"].as_array().map_or(0, Vec::len)).sum();
    assert_eq!(fresh_events + retried_events, log.len(), "nothing lost, nothing doubled");
    for (i, (seq, _)) in log.iter().enumerate() {
        assert_eq!(*seq, i as u64 + 1, "no gap");
    }
    // Each accepted command id stands once in the log's owners: ids are unique per tenant,
    // and refusals leave no trace.
    let ids: i64 = tokio::task::block_in_place(|| {
        let mut db = postgres::Client::connect(&setup.url, postgres::NoTls).expect("connects");
        db.query_one("SELECT count(*) FROM commands WHERE tenant = 'acme'", &[]).expect("counts").get(0)
    });
    let accepted = acks.iter().filter(|a| a.body["outcome"] == "accepted").count();
    assert_eq!(ids as usize, accepted, "every accepted command id decided once");
    assert_feed_delivered(&seen, &log).await;
    feed.abort();
    let by_host: BTreeMap<usize, usize> = acks.iter().fold(BTreeMap::new(), |mut m, a| {
        *m.entry(a.host).or_default() += 1;
        m
    });
    eprintln!("answers by host: {by_host:?}; {} events", log.len());
}
