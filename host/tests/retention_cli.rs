//! `agentstate serve --retain-days` prunes a tenant's old events at start, and the
//! operator's `report activity` of a range inside the window prints what it printed
//! before, now folded from the base snapshot, and says where the kept log begins.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use agentstate_runtime::{Limits, Runtime, module};
use agentstate_server::service::TenantService;
use agentstate_server::store::{EventLog, SqliteStore};
use agentstate_testkit::{ServerProcess, on_sqlite};

const DAY: u64 = 86_400_000;

const TENANT: &str = r#"{"plan":"complete","pause_reasons":["lunch"],
  "users":[{"id":"ana","name":"Ana","roles":["agent"]},{"id":"ben","name":"Ben","roles":["agent"]}],
  "channels":[{"id":"support","kind":"queue","name":"Support","agents":["ana","ben"]}]}"#;

fn agentstate(data: &Path) -> Command {
    on_sqlite(env!("CARGO_BIN_EXE_agentstate"), data, "warn")
}

fn now_ms() -> u64 {
    agentstate_server::clock::now_ms()
}

/// `report activity` of `range`: what it printed, and what it said on stderr.
fn report(data: &Path, (from, to): (u64, u64), csv: bool) -> (String, String) {
    let mut command = agentstate(data);
    command.args(["report", "activity", "--tenant", "acme", "--from", &from.to_string(), "--to", &to.to_string()]);
    if csv {
        command.arg("--csv");
    }
    let out = command.output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn serve_prunes_old_events_at_start_and_reports_read_from_the_base() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path();
    let now = now_ms();
    // Two days ago Ana signed in and paused, Ben signed in; an hour ago Ana resumed.
    let (old, recent) = (now - 2 * DAY, now - 3_600_000);
    {
        let module = module::locate().unwrap_or_else(|e| panic!("{e}"));
        let runtime =
            Runtime::from_file(&module, Some(&module::cache_dir(&module)), Limits::default()).expect("runtime");
        let store = SqliteStore::open_in(data).expect("store");
        let mut service = TenantService::open(Box::new(store), runtime, 10_000).expect("service");
        service.create_tenant("acme", TENANT).expect("creates");
        for command in [
            format!(r#"{{"at":{old},"type":"sign_in","actor":"ana","user":"ana","channel":"support"}}"#),
            format!(
                r#"{{"at":{},"type":"pause","actor":"ana","user":"ana","channel":"support","reason":"lunch"}}"#,
                old + 1
            ),
            format!(r#"{{"at":{},"type":"sign_in","actor":"ben","user":"ben","channel":"support"}}"#, old + 2),
            format!(r#"{{"at":{recent},"type":"resume","actor":"ana","user":"ana","channel":"support"}}"#),
        ] {
            let submitted = service.submit("acme", &command).expect("submits");
            assert!(submitted.outcome.contains("accepted"), "{}", submitted.outcome);
        }
    }
    let window = (now - DAY / 2, now);
    let (json_before, said) = report(data, window, false);
    let (csv_before, _) = report(data, window, true);
    assert!(json_before.contains("\"ben\"") && json_before.contains("\"available\""), "{json_before}");
    assert!(!said.contains("kept log"), "nothing pruned yet: {said}");

    let server = ServerProcess::start(agentstate(data).args([
        "serve",
        "--no-demo-tenant",
        "--addr",
        "127.0.0.1:0",
        "--retain-days",
        "1",
    ]))
    .expect("starts");
    let store = SqliteStore::open_in(data).expect("store");
    let started = Instant::now();
    let base = loop {
        if let Some(base) = store.log_base("acme").expect("reads") {
            break base;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the server pruned nothing at start");
        std::thread::sleep(Duration::from_millis(100));
    };
    // Over HTTP: history and reports say where the kept log begins, and a feed that would
    // resume before it starts anew from a snapshot instead of silently missing events.
    let token = |user: &str| {
        let out =
            agentstate(data).args(["token", "create", "--tenant", "acme", "--user", user]).output().expect("runs");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let (system, ana) = (token("system"), token("ana"));
    tokio::runtime::Runtime::new().expect("a runtime").block_on(async {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().expect("a client");
        for path in
            ["/api/tenants/acme/users/ana/history", "/api/tenants/acme/reports/activity?from=0&to=10&format=csv"]
        {
            let response = client.get(server.url(path)).bearer_auth(&ana).send().await.expect("gets");
            assert_eq!(response.status(), reqwest::StatusCode::OK, "{path}");
            let begins = response.headers().get("log-begins").and_then(|v| v.to_str().ok()).map(str::to_owned);
            assert!(begins.as_deref().is_some_and(|b| b.starts_with("seq=4, at=")), "{path}: {begins:?}");
        }
        for who in [&system, &ana] {
            let mut response = client
                .get(server.url("/api/tenants/acme/events?after=1"))
                .bearer_auth(who)
                .send()
                .await
                .expect("opens");
            let first = response.chunk().await.ok().flatten().unwrap_or_default();
            let first = String::from_utf8_lossy(&first);
            assert!(first.contains("event: snapshot") && first.contains("\"seq\":4"), "{first}");
        }
    });
    drop(server);
    assert_eq!(base.seq, 3, "the three old events went");
    assert_eq!(store.events_after("acme", 0, 10).expect("reads").len(), 1, "the recent one stayed");
    drop(store);

    let (json_after, said) = report(data, window, false);
    assert_eq!(json_after, json_before, "the report inside the window, folded from the base");
    assert_eq!(report(data, window, true).0, csv_before);
    assert!(said.contains("begins at event 4"), "{said}");
}
