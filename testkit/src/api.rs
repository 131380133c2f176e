//! What the API tests share: a store with two tenants and their tokens, a server on it,
//! and requests — a command posted with a token, a JSON view read with one.

use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::StatusCode;
use serde_json::Value;

use crate::{ServerProcess, run};

/// Posts `body` to `tenant`'s commands as `token`; the status and the JSON answer (`null`
/// when the answer is not JSON).
pub async fn post(
    client: &reqwest::Client,
    server: &ServerProcess,
    tenant: &str,
    token: &str,
    body: Value,
) -> (StatusCode, Value) {
    let request = client.post(server.url(&format!("/api/tenants/{tenant}/commands"))).bearer_auth(token).json(&body);
    let response = request.send().await.expect("posts");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Reads `path` as `token`; the status and the JSON answer (`null` when it is not JSON).
pub async fn get(client: &reqwest::Client, server: &ServerProcess, path: &str, token: &str) -> (StatusCode, Value) {
    let response = client.get(server.url(path)).bearer_auth(token).send().await.expect("gets");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub const TENANT: &str = "
plan: complete
users:
  - { id: ana, name: Ana Agent, roles: [agent] }
  - { id: ben, name: Ben Agent, roles: [agent] }
  - { id: sam, name: Sam Supervisor, roles: [supervisor] }
channels:
  - { id: support, kind: queue, name: Support, wrap_up_secs: 30, agents: [ana, ben], supervisors: [sam] }
";

/// A store with tenants `acme` and `globex`, and tokens: a data folder (SQLite), or — when
/// `AGENTSTATE_TEST_POSTGRES` names a PostgreSQL server, as `cargo xtask test` does for
/// its second run of this suite — a new database on it.
#[derive(Debug)]
pub struct Data {
    /// The `agentstate` binary under test.
    bin: PathBuf,
    dir: tempfile::TempDir,
    database_url: Option<String>,
}

impl Data {
    pub fn new(bin: &Path) -> Data {
        Data::in_folder(bin, tempfile::tempdir().expect("tempdir"))
    }

    /// As [`Data::new`], with the embedded store in memory (`/dev/shm`, where there is
    /// one): for a test of what competes for the CPU and the writer thread, whose figures
    /// must not be those of a disk that other work keeps busy (`fsync` waits behind the
    /// writeback of whatever else was written).
    pub fn in_memory(bin: &Path) -> Data {
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() };
        Data::in_folder(bin, dir.expect("tempdir"))
    }

    fn in_folder(bin: &Path, dir: tempfile::TempDir) -> Data {
        let database_url = std::env::var("AGENTSTATE_TEST_POSTGRES").ok().map(|server| {
            static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let name =
                format!("api_{}_{}", std::process::id(), COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            crate::create_database(&server, &name).expect("creates a database")
        });
        let data = Data { bin: bin.to_path_buf(), dir, database_url };
        let description = data.path().join("tenant.yaml");
        std::fs::write(&description, TENANT).expect("writes");
        for tenant in ["acme", "globex"] {
            run(data.agentstate().args(["tenant", "create", tenant]).arg(&description));
        }
        data
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The CLI on this store.
    pub fn agentstate(&self) -> Command {
        let mut command = Command::new(&self.bin);
        command.env_remove("AGENTSTATE_DATABASE_URL").env("AGENTSTATE_DATA", self.path());
        if let Some(url) = &self.database_url {
            command.env("AGENTSTATE_DATABASE_URL", url);
        }
        command
    }

    pub fn token(&self, tenant: &str, user: &str) -> String {
        run(self.agentstate().args(["token", "create", "--tenant", tenant, "--user", user]))
    }
}

/// A server on `data`'s store, with `extra` arguments.
pub fn start(data: &Data, extra: &[&str]) -> ServerProcess {
    let mut command = data.agentstate();
    command.args(["serve", "--no-demo-tenant", "--addr", "127.0.0.1:0"]).args(extra).env("RUST_LOG", "warn");
    ServerProcess::start(&mut command).expect("starts the server")
}
