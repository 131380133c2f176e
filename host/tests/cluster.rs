//! The cluster as operators run it (`deploy/`): three hosts behind HAProxy, which routes
//! each tenant to one host by consistent hashing and health-checks `/healthz`; PostgreSQL
//! with a synchronous standby. Clients resend a command with its `id` until it is
//! answered, as the API asks. Two faults, each followed by a full count of every
//! tenant's log against what the clients were told:
//!
//! 1. a host is SIGKILLed: its tenants move to the other two;
//! 2. the primary is SIGKILLed and the standby promoted (`pg_ctl promote`): the hosts
//!    find the new primary on their own (`target_session_attrs=read-write`).
//!
//! Each prints what it measured: commands acknowledged, lost, doubled, and the longest
//! time a client waited for an answer across the fault.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use agentstate_testkit::{Haproxy, PgCluster, ServerProcess, run};
use reqwest::StatusCode;
use serde_json::{Value, json};

const TENANT: &str = "
plan: complete
users:
  - { id: ada, name: Ada Admin, roles: [admin, supervisor] }
  - { id: a0, name: Agent 0, roles: [agent] }
  - { id: a1, name: Agent 1, roles: [agent] }
channels:
  - { id: support, kind: queue, name: Support, agents: [a0, a1], supervisors: [ada] }
";

fn agentstate(url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_agentstate"));
    command.env("AGENTSTATE_DATABASE_URL", url).env("RUST_LOG", "warn");
    command
}

fn host(url: &str, data: &Path) -> ServerProcess {
    let mut command = agentstate(url);
    command.args(["serve", "--no-demo-tenant", "--addr", "127.0.0.1:0", "--rate-limit", "100000", "--data"]);
    ServerProcess::start(command.arg(data)).expect("starts a host")
}

/// `tenants` tenants `t0…` on the database at `url`, each with its admin's token.
fn tenants(url: &str, dir: &Path, tenants: usize) -> Vec<String> {
    let file = dir.join("tenant.yaml");
    std::fs::write(&file, TENANT).expect("writes");
    (0..tenants)
        .map(|t| {
            run(agentstate(url).args(["tenant", "create", &format!("t{t}")]).arg(&file));
            run(agentstate(url).args(["token", "create", "--tenant", &format!("t{t}"), "--user", "ada"]))
        })
        .collect()
}

/// The `n`th command of a client: its agent signs in and out, every command accepted.
fn command(client: usize, n: usize) -> Value {
    let kind = if n.is_multiple_of(2) { "sign_in" } else { "sign_out" };
    json!({"type": kind, "user": "a0", "channel": "support", "id": format!("c{client}-{n}")})
}

/// What a client was told, and when.
#[derive(Debug)]
struct Ack {
    body: Value,
    at: Instant,
}

/// Sends `body` through the load balancer until it is answered: a lost connection, a
/// `502`/`503`/`504` (a host that died with the request, or no host that can commit) means
/// "send it again", with the same `id`.
async fn send(http: &reqwest::Client, base: &str, tenant: &str, token: &str, body: &Value) -> Ack {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let url = format!("{base}/api/tenants/{tenant}/commands");
        let answer = http.post(&url).bearer_auth(token).json(body).timeout(Duration::from_secs(10)).send().await;
        if let Ok(response) = answer {
            let status = response.status();
            if status.is_success() {
                let reply: Value = response.json().await.expect("an answer");
                assert_eq!(reply["outcome"], "accepted", "{reply}");
                return Ack { body: reply, at: Instant::now() };
            }
            assert!(
                [StatusCode::BAD_GATEWAY, StatusCode::SERVICE_UNAVAILABLE, StatusCode::GATEWAY_TIMEOUT]
                    .contains(&status),
                "{status}: {}",
                response.text().await.unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "nothing answered {body} in 120 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Clients `0..clients`, client c on tenant `t{c}`, each sending `commands` commands one
/// after the other through `base`; `progress` counts the answers.
fn clients(
    base: &str,
    tokens: &[String],
    commands: usize,
    progress: &Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<Vec<Ack>>> {
    let http = reqwest::Client::new();
    (0..tokens.len())
        .map(|client| {
            let (http, base, token, progress) =
                (http.clone(), base.to_owned(), tokens[client].clone(), progress.clone());
            tokio::spawn(async move {
                let mut acks = Vec::new();
                for n in 0..commands {
                    acks.push(send(&http, &base, &format!("t{client}"), &token, &command(client, n)).await);
                    progress.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                acks
            })
        })
        .collect()
}

/// Three hosts on the database at `url`, HAProxy in front of them with `deploy/haproxy.cfg`,
/// `clients` tenants and clients sending `commands` commands each through it — returned a
/// third of the way through.
struct Deployed {
    hosts: Vec<ServerProcess>,
    balancer: Haproxy,
    running: Vec<tokio::task::JoinHandle<Vec<Ack>>>,
    progress: Arc<AtomicUsize>,
}

async fn deploy(url: &str, dir: &Path, clients_count: usize, commands: usize) -> Deployed {
    let tokens = tokio::task::block_in_place(|| tenants(url, dir, clients_count));
    let hosts: Vec<ServerProcess> = (0..3).map(|_| host(url, dir)).collect();
    let bases: Vec<&str> = hosts.iter().map(|h| h.base.as_str()).collect();
    let balancer = tokio::task::block_in_place(|| Haproxy::start(&[bases[0], bases[1], bases[2]], None))
        .expect("HAProxy in front of the hosts");
    let progress = Arc::new(AtomicUsize::new(0));
    let running = clients(&balancer.base, &tokens, commands, &progress);
    wait_for(&progress, clients_count * commands / 3).await;
    Deployed { hosts, balancer, running, progress }
}

async fn wait_for(progress: &AtomicUsize, count: usize) {
    while progress.load(Ordering::Relaxed) < count {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What the count of the logs against the answers found.
#[derive(Debug, Default)]
struct Count {
    acknowledged: usize,
    /// Answered as a repeat of an earlier try that was stored but not answered.
    retried: usize,
    /// Acknowledged events the log does not hold where the answer said.
    lost: usize,
    /// Events the log holds that no answer accounts for, or that two answers claim.
    doubled: usize,
    /// The longest a client waited between two answers.
    longest_wait: Duration,
}

/// Counts tenant `t{c}`'s log (read at `url`) against client c's answers: each answer's
/// events stand where it said, and together they are the whole log, 1..N, each once.
fn count(url: &str, answers: &[Vec<Ack>]) -> Count {
    let mut db = postgres::Client::connect(url, postgres::NoTls).expect("connects");
    let mut count = Count::default();
    for (client, acks) in answers.iter().enumerate() {
        let log: Vec<(i64, String)> = db
            .query("SELECT seq, event FROM events WHERE tenant = $1 ORDER BY seq", &[&format!("t{client}")])
            .expect("reads")
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert!(log.iter().enumerate().all(|(i, (seq, _))| *seq == i as i64 + 1), "t{client}: a gap or a fork");
        let mut owners = vec![0usize; log.len()];
        for ack in acks {
            count.acknowledged += 1;
            count.retried += usize::from(ack.body["retried"] == true);
            let events = ack.body["events"].as_array().cloned().unwrap_or_default();
            let last = ack.body["seq"].as_u64().expect("seq") as usize;
            for (k, event) in events.iter().enumerate() {
                let at = (last + k + 1).checked_sub(events.len() + 1);
                match at.and_then(|at| log.get(at).map(|(_, e)| (at, e))) {
                    Some((at, stored)) if serde_json::from_str::<Value>(stored).ok().as_ref() == Some(event) => {
                        owners[at] += 1;
                    }
                    _ => count.lost += 1,
                }
            }
        }
        count.doubled += owners.iter().filter(|n| **n != 1).count();
        for pair in acks.windows(2) {
            count.longest_wait = count.longest_wait.max(pair[1].at - pair[0].at);
        }
    }
    count
}

fn report(what: &str, count: &Count) {
    eprintln!(
        "{what}: {} commands acknowledged ({} as retried), lost: {}, doubled: {}, \
         longest a client waited for an answer: {:.2} s",
        count.acknowledged,
        count.retried,
        count.lost,
        count.doubled,
        count.longest_wait.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_haproxy_a_killed_hosts_tenants_move_to_the_others_and_nothing_is_lost_or_doubled() {
    const CLIENTS: usize = 30;
    const COMMANDS: usize = 40;
    let (cluster, dir) = (PgCluster::start().expect("PostgreSQL"), tempfile::tempdir().expect("tempdir"));
    let url = cluster.database("agentstate").expect("a database");
    let Deployed { mut hosts, balancer: _balancer, running, progress: _ } =
        deploy(&url, dir.path(), CLIENTS, COMMANDS).await;
    let killed = hosts.remove(1);
    let served_by_killed = host_commands(&killed.base).await;
    drop(killed);
    let mut answers = Vec::new();
    for client in running {
        answers.push(client.await.expect("a client"));
    }
    // The two hosts left served every tenant after the kill, the killed one's included.
    let after: f64 = futures_util::future::join_all(hosts.iter().map(|h| host_commands(&h.base))).await.iter().sum();
    let counted = tokio::task::block_in_place(|| count(&url, &answers));
    report("a host SIGKILLed behind HAProxy", &counted);
    eprintln!("the killed host had answered {served_by_killed} commands; the two left, {after} in all");
    assert!(served_by_killed > 0.0, "the killed host held tenants");
    assert_eq!(counted.acknowledged, CLIENTS * COMMANDS);
    assert_eq!((counted.lost, counted.doubled), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_primary_killed_and_the_standby_promoted_every_acknowledged_command_is_there_once() {
    const CLIENTS: usize = 9;
    const COMMANDS: usize = 60;
    let primary = PgCluster::start_primary().expect("a primary");
    let standby = PgCluster::start_standby(&primary).expect("its synchronous standby");
    primary.database("agentstate").expect("a database");
    // Both machines in the URL: a host connects to whichever takes writes.
    let url = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/agentstate?target_session_attrs=read-write",
        primary.port(),
        standby.port()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let Deployed { hosts, balancer: _balancer, running, progress } = deploy(&url, dir.path(), CLIENTS, COMMANDS).await;
    tokio::task::block_in_place(|| primary.kill()).expect("kills the primary");
    let (killed_at, at_kill) = (Instant::now(), progress.load(Ordering::Relaxed));
    // What a failover manager takes to decide: the primary is gone for a second.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before_promotion = progress.load(Ordering::Relaxed);
    tokio::task::block_in_place(|| standby.promote()).expect("promotes the standby");
    let promoted_after = killed_at.elapsed();
    let mut answers = Vec::new();
    for client in running {
        answers.push(client.await.expect("a client"));
    }
    let first_after = answers
        .iter()
        .flatten()
        .filter(|a| a.at > killed_at + promoted_after)
        .map(|a| a.at)
        .min()
        .expect("answers after the promotion");
    let counted = tokio::task::block_in_place(|| count(&standby.url("agentstate"), &answers));
    report("the primary SIGKILLed, the standby promoted", &counted);
    eprintln!(
        "promoted {:.2} s after the kill; first answer {:.2} s after the kill ({:.2} s after the promotion); \
         {} answers came between the kill and the promotion (commits under way when it died)",
        promoted_after.as_secs_f64(),
        (first_after - killed_at).as_secs_f64(),
        (first_after - killed_at - promoted_after).as_secs_f64(),
        before_promotion - at_kill,
    );
    assert_eq!(counted.acknowledged, CLIENTS * COMMANDS);
    assert_eq!((counted.lost, counted.doubled), (0, 0));
    for base in hosts.iter().map(|h| &h.base) {
        let health = reqwest::get(format!("{base}/healthz")).await.expect("healthz");
        assert_eq!(health.status(), StatusCode::OK, "{base} recovered by itself");
    }
}

/// How many commands a host has answered, from its `/metrics`.
async fn host_commands(base: &str) -> f64 {
    let text = reqwest::get(format!("{base}/metrics")).await.expect("metrics").text().await.expect("text");
    agentstate_testkit::metric_sum(&text, "agentstate_commands_total")
}
