//! The writer thread fails (as a defect would: it panics) under a running server: the
//! server stops with exit status 2 rather than answer 503 to every request from then on,
//! and what was acknowledged before is in the log. Needs the test-only fault hook:
//! `cargo test -p agentstate-host --features fault-injection --test writer_failure`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use agentstate_testkit::{ONE_AGENT_TENANT as TENANT, ServerProcess, on_sqlite, run};
use common::{get, post};
use serde_json::json;

fn agentstate(data: &Path) -> Command {
    on_sqlite(env!("CARGO_BIN_EXE_agentstate"), data, "off")
}

#[tokio::test]
async fn a_failed_writer_thread_stops_the_server_with_status_2_and_keeps_what_was_acknowledged() {
    let data = tempfile::tempdir().expect("tempdir");
    let description = data.path().join("tenant.yaml");
    std::fs::write(&description, TENANT).expect("writes");
    let mut tokens = Vec::new();
    for tenant in ["acme", "fault-writer-panics"] {
        run(agentstate(data.path()).args(["tenant", "create", tenant]).arg(&description));
        tokens.push(run(agentstate(data.path()).args(["token", "create", "--tenant", tenant, "--user", "ana"])));
    }
    let mut serve = agentstate(data.path());
    serve.args(["serve", "--no-demo-tenant", "--addr", "127.0.0.1:0"]);
    let mut server = ServerProcess::start(&mut serve).expect("starts");
    let client = reqwest::Client::new();
    let sign_in = json!({"type": "sign_in", "user": "ana", "channel": "support"});

    let (status, acknowledged) = post(&client, &server, "acme", &tokens[0], sign_in.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(acknowledged["outcome"], "accepted");

    // The fault: the writer panics on this tenant's command. The request gets no outcome.
    let failed = client
        .post(server.url("/api/tenants/fault-writer-panics/commands"))
        .bearer_auth(&tokens[1])
        .json(&sign_in)
        .send()
        .await;
    assert!(failed.as_ref().map_or(true, |r| r.status() == 503), "{failed:?}");

    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("waits") {
            break status;
        }
        assert!(Instant::now() < deadline, "the server still runs 30 s after its writer failed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(2), "{status}");

    // What was acknowledged is stored: a restarted server serves it.
    let mut serve = agentstate(data.path());
    serve.args(["serve", "--no-demo-tenant", "--addr", "127.0.0.1:0"]);
    let server = ServerProcess::start(&mut serve).expect("starts again");
    let (_, roster) = get(&client, &server, "/api/tenants/acme/channels/support/roster", &tokens[0]).await;
    let ana = roster["entries"].as_array().and_then(|e| e.iter().find(|e| e["user"] == "ana")).cloned();
    assert_eq!(ana.map(|a| a["signed_in"]["by"].clone()), Some(json!("ana")), "{roster}");
}
