//! The disk fills up under a running server (SQLite on a tiny tmpfs): commands are
//! answered 503 while it is full, nothing is half-written, and serving resumes by itself
//! when space returns — with every acknowledged event in the log, in order, once.
//!
//! Mounting needs root (as CI runs); elsewhere the test says so and does nothing.

use std::path::Path;
use std::process::Command;

mod common;

use agentstate_testkit::{ONE_AGENT_TENANT as TENANT, ServerProcess, on_sqlite, run};
use common::{get, post};
use reqwest::StatusCode;
use serde_json::json;

/// A tmpfs of `size` at a new folder, unmounted on drop.
struct Tiny {
    dir: tempfile::TempDir,
}

impl Tiny {
    fn mount(size: &str) -> Option<Tiny> {
        let dir = tempfile::tempdir().expect("tempdir");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(Tiny { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.path())
            .status()
            .expect("runs mount");
        assert!(status.success(), "remounting with {size}");
    }
}

impl Drop for Tiny {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

fn agentstate(data: &Path) -> Command {
    on_sqlite(env!("CARGO_BIN_EXE_agentstate"), data, "error")
}

#[tokio::test]
async fn a_full_disk_refuses_commands_loses_nothing_and_serving_resumes() {
    let Some(disk) = Tiny::mount("2m") else {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    let description = tempfile::NamedTempFile::new().expect("a file");
    std::fs::write(description.path(), TENANT).expect("writes");
    run(agentstate(disk.path()).args(["tenant", "create", "acme"]).arg(description.path()));
    let token = run(agentstate(disk.path()).args(["token", "create", "--tenant", "acme", "--user", "ana"]));
    let mut serve = agentstate(disk.path());
    serve.args([
        "serve",
        "--no-demo-tenant",
        "--addr",
        "127.0.0.1:0",
        "--snapshot-every",
        "1000000",
        "--rate-limit",
        "100000",
    ]);
    let server = ServerProcess::start(&mut serve).expect("starts");
    let client = reqwest::Client::new();

    // Sign in and out until the disk is full; every acknowledged command has its seq.
    let mut acknowledged = Vec::new();
    let mut refused = None;
    for i in 0..200_000u64 {
        let kind = if i % 2 == 0 { "sign_in" } else { "sign_out" };
        let (status, body) = post(
            &client,
            &server,
            "acme",
            &token,
            json!({"type": kind, "user": "ana", "channel": "support", "id": format!("c{i}")}),
        )
        .await;
        if status == StatusCode::OK {
            acknowledged.push(body["seq"].as_u64().expect("a seq"));
            continue;
        }
        refused = Some((i, status, body));
        break;
    }
    let (first_refused, status, body) = refused.expect("the disk filled up");
    eprintln!("the disk held {} commands, then: {status} {body}", acknowledged.len());
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "storage_failed", "{body}");
    // What failed inside is the operator's to read in the log; the client gets its id.
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("the store failed (error ") && !message.contains("full"), "{body}");
    assert!(acknowledged.len() > 10, "the disk held some commands: {}", acknowledged.len());
    // Still full: still refused, still nothing half-written.
    let kind = if first_refused % 2 == 0 { "sign_in" } else { "sign_out" };
    let retry = json!({"type": kind, "user": "ana", "channel": "support", "id": format!("c{first_refused}")});
    assert_eq!(post(&client, &server, "acme", &token, retry.clone()).await.0, StatusCode::SERVICE_UNAVAILABLE);

    // Space returns: the same command (same id) is accepted now, once.
    disk.resize("64m");
    let (status, body) = post(&client, &server, "acme", &token, retry.clone()).await;
    assert_eq!(status, StatusCode::OK, "serving resumes: {body}");
    assert_eq!(body["outcome"], "accepted", "{body}");
    let resumed = body["seq"].as_u64().expect("a seq");
    let (_, again) = post(&client, &server, "acme", &token, retry).await;
    assert_eq!((again["retried"].as_bool(), again["seq"].as_u64()), (Some(true), Some(resumed)), "{again}");

    // The log is 1..N with every acknowledged event once, in order; a restart reads it back.
    let mut seen: Vec<u64> = acknowledged.clone();
    seen.push(resumed);
    assert_eq!(seen.first(), Some(&1));
    assert!(seen.windows(2).all(|w| w[1] == w[0] + 1), "acknowledged events are 1..N without a gap: {seen:?}");
    drop(server);
    let server = ServerProcess::start(&mut serve).expect("starts again");
    let (_, snapshot) = get(&client, &server, "/api/tenants/acme/snapshot", &token).await;
    assert_eq!(snapshot["seq"].as_u64(), Some(resumed), "the log ends at the last acknowledged event");
    let signed_in = snapshot["state"]["users"]["ana"]["sign_ins"].get("support").is_some();
    assert_eq!(signed_in, first_refused % 2 == 0, "the state is the fold of exactly the acknowledged commands");
}
