//! A private, throw-away PostgreSQL cluster for tests: Debian's `postgresql` binaries,
//! `initdb` into a temporary folder (as the `postgres` user when run as root, since
//! initdb refuses root), a free port on loopback, stopped and deleted when dropped.

pub mod api;
mod haproxy;

pub use haproxy::{Haproxy, haproxy_binary};

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// The release `agentstate` binary a load run measures: `AGENTSTATE_BIN`, or the one beside
/// the running example, built first — `cargo run --example` does not build the package's
/// binaries, and a server left from an older build would be measured instead of the code
/// in front of you.
pub fn release_server() -> Result<PathBuf, String> {
    if let Some(bin) = std::env::var_os("AGENTSTATE_BIN") {
        return Ok(bin.into());
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "-p", "agentstate-host", "--bin", "agentstate"])
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("building the server failed".into());
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = exe.parent().and_then(Path::parent).ok_or("no target/<profile> above this program")?;
    Ok(dir.join("agentstate"))
}

/// A field of `/proc/PID/status` in KiB (`VmRSS:`, `VmHWM:`), 0 when it cannot be read:
/// what the load tools report of a server's memory.
pub fn memory_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or_default()
}

/// CPU time a process has used (user + system), from `/proc/PID/stat` (in the kernel's
/// USER_HZ ticks, 100 a second on Linux).
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat.rsplit_once(')').map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or_default();
    (ticks(11) + ticks(12)) / 100.0
}

/// One agent on one queue: the tenant of tests that need any tenant at all.
pub const ONE_AGENT_TENANT: &str = "
plan: complete
users:
  - { id: ana, name: Ana Agent, roles: [agent] }
channels:
  - { id: support, kind: queue, name: Support, agents: [ana] }
";

/// The `agentstate` binary `bin` on the SQLite store in `data` (never a PostgreSQL URL from
/// the environment), logging at `log`.
pub fn on_sqlite(bin: &str, data: &Path, log: &str) -> Command {
    let mut command = Command::new(bin);
    command.env_remove("AGENTSTATE_DATABASE_URL").env("AGENTSTATE_DATA", data).env("RUST_LOG", log);
    command
}

/// Runs a command that must succeed (an `agentstate` CLI call) and returns what it printed,
/// trimmed.
pub fn run(command: &mut Command) -> String {
    let out = command.output().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(out.status.success(), "{:?}: {}", command, String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// An `agentstate serve` process of a test or a load run, killed when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    pub child: Child,
    /// `http://127.0.0.1:PORT`, as the server printed it.
    pub base: String,
}

impl ServerProcess {
    /// `binary serve` for a load run: no demo tenant, a free loopback port, and the
    /// per-token limits lifted (one token stands for many clients and feeds there). The
    /// caller adds the store and the environment.
    pub fn load_run(binary: &std::path::Path) -> Command {
        let mut command = Command::new(binary);
        command.args(["serve", "--no-demo-tenant", "--addr", "127.0.0.1:0"]);
        command.args(["--rate-limit", "1000000", "--feeds-per-token", "1000000"]);
        command
    }

    /// Starts `serve` (the command as the caller set it up: binary, arguments, environment)
    /// and waits for the line that says where it listens.
    pub fn start(command: &mut Command) -> Result<ServerProcess, String> {
        let mut child = command.stdout(Stdio::piped()).spawn().map_err(|e| format!("cannot start {command:?}: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map_err(|e| format!("cannot read the server's address: {e}"))?;
        let Some(base) = line.trim().strip_prefix("agentstate: serving ") else {
            let _ = child.kill();
            return Err(format!("the server did not say where it listens: {line:?}"));
        };
        Ok(ServerProcess { base: base.trim_end_matches('/').to_owned(), child })
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The sum of a metric's series in Prometheus' text format (what a host's `/metrics`
/// says), for tests and load runs that check what hosts counted.
pub fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Creates database `db` on the PostgreSQL server at `server_url` (a URL without a
/// database) and returns the database's URL. Callable from async code: the blocking
/// client runs a runtime of its own, so it runs on a thread of its own.
pub fn create_database(server_url: &str, db: &str) -> Result<String, String> {
    let server = server_url.trim_end_matches('/').to_owned();
    let create = format!("CREATE DATABASE \"{db}\"");
    let admin = format!("{server}/postgres");
    std::thread::spawn(move || -> Result<(), String> {
        let mut client = postgres::Client::connect(&admin, postgres::NoTls).map_err(|e| e.to_string())?;
        client.batch_execute(&create).map_err(|e| e.to_string())
    })
    .join()
    .map_err(|_| "creating the database panicked".to_owned())??;
    Ok(format!("{server}/{db}"))
}

/// A running cluster of our own.
#[derive(Debug)]
pub struct PgCluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

/// Where Debian keeps the server binaries (`/usr/lib/postgresql/15/bin`), newest first;
/// else whatever `pg_ctl` is on the PATH.
pub fn server_binaries() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    if let Some(bin) = versions.pop() {
        return Some(bin);
    }
    let found = Command::new("sh").args(["-c", "command -v pg_ctl"]).output().ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&found.stdout).trim());
    path.parent().filter(|_| found.status.success()).map(Path::to_path_buf)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

impl PgCluster {
    /// Creates and starts a cluster; fails with what to install when PostgreSQL is missing.
    pub fn start() -> Result<PgCluster, String> {
        let mut cluster = PgCluster::create()?;
        cluster.start_server()?;
        // The port was free a moment ago; another process may have taken it since.
        Ok(cluster)
    }

    /// Creates and starts a cluster that speaks TLS with this certificate (PEM, the chain
    /// the server sends) and key; with `ssl_only`, its `pg_hba.conf` lets clients in over
    /// TCP only with TLS (`hostssl`), so a plain connection is refused.
    pub fn start_tls(cert_pem: &str, key_pem: &str, ssl_only: bool) -> Result<PgCluster, String> {
        let mut cluster = PgCluster::create()?;
        let data = cluster.dir.join("data");
        let write = |name: &str, text: &str| {
            std::fs::write(data.join(name), text).map_err(|e| format!("cannot write {name}: {e}"))
        };
        write("server.crt", cert_pem)?;
        write("server.key", key_pem)?;
        let mut conf = std::fs::read_to_string(data.join("postgresql.conf")).map_err(|e| e.to_string())?;
        conf.push_str("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        write("postgresql.conf", &conf)?;
        if ssl_only {
            write("pg_hba.conf", "local all all trust\nhostssl all all 127.0.0.1/32 trust\n")?;
        }
        // PostgreSQL refuses a key others may read.
        cluster.run(Command::new("chmod").arg("600").arg(data.join("server.key")))?;
        if cluster.as_postgres {
            cluster.run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&data))?;
        }
        cluster.start_server()?;
        Ok(cluster)
    }

    /// A cluster initialised in a new temporary folder, not started.
    fn create() -> Result<PgCluster, String> {
        let cluster = PgCluster::folder()?;
        let data = cluster.data();
        cluster.pg(
            "initdb",
            &["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"],
        )?;
        Ok(cluster)
    }

    /// A new temporary folder (owned by `postgres` when we are root) and a free port for a
    /// cluster, nothing in it yet.
    fn folder() -> Result<PgCluster, String> {
        let bin =
            server_binaries().ok_or("PostgreSQL is not installed (`cargo xtask test` installs Debian's postgresql)")?;
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "agentstate-pg-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let as_postgres = is_root();
        let cluster = PgCluster { dir, bin, port: free_port()?, as_postgres };
        if as_postgres {
            cluster.run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&cluster.dir))?;
        }
        Ok(cluster)
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn run(&self, command: &mut Command) -> Result<(), String> {
        let out = command.stdin(Stdio::null()).output().map_err(|e| format!("cannot run {command:?}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{command:?} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// Runs one of the server binaries, as `postgres` when we are root.
    fn pg(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        };
        command.args(args).current_dir(&self.dir);
        self.run(&mut command)
    }

    fn start_server(&mut self) -> Result<(), String> {
        let options = format!("-c listen_addresses=127.0.0.1 -p {} -k {}", self.port, self.dir.display());
        let log = self.dir.join("server.log").display().to_string();
        let data = self.data();
        let started = self.pg("pg_ctl", &["-D", &data, "-l", &log, "-o", &options, "-w", "-t", "60", "start"]);
        started.map_err(|e| format!("{e}\n{}", std::fs::read_to_string(&log).unwrap_or_default()))
    }

    /// The URL of database `db` (`postgres` exists from the start).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Database `db` through the cluster's Unix socket (in its folder), which `pg_hba.conf`
    /// always lets in: for checking a cluster whose TCP clients must speak TLS.
    pub fn socket_url(&self, db: &str) -> String {
        format!("host={} port={} user=postgres dbname={db}", self.dir.display(), self.port)
    }

    /// The server's URL without a database (tests add one of their own).
    pub fn server_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates an empty database and returns its URL.
    pub fn database(&self, db: &str) -> Result<String, String> {
        create_database(&self.server_url(), db)
    }

    /// Stops the server at once, as a crash would (`immediate`: no checkpoint; committed
    /// transactions are in the WAL).
    pub fn stop(&self) -> Result<(), String> {
        self.pg("pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"])
    }

    /// Starts the server again on the same port.
    pub fn restart(&mut self) -> Result<(), String> {
        self.start_server()
    }

    /// A primary configured for one synchronous standby (`deploy/postgresql-primary.conf`,
    /// included as a deployment includes it): no commit returns until a standby named
    /// `standby` has it. Start [`PgCluster::start_standby`] next, or commits wait.
    pub fn start_primary() -> Result<PgCluster, String> {
        let mut cluster = PgCluster::create()?;
        cluster.include(&deploy_file("postgresql-primary.conf"))?;
        cluster.start_server()?;
        Ok(cluster)
    }

    /// The synchronous standby of `primary`: a base backup of it streaming its WAL
    /// (`standby.signal`, `primary_conninfo` with `application_name=standby`), with
    /// `deploy/postgresql-standby.conf` included; returns once the primary reports it
    /// synchronous.
    pub fn start_standby(primary: &PgCluster) -> Result<PgCluster, String> {
        let mut standby = PgCluster::folder()?;
        let (data, port) = (standby.data(), primary.port.to_string());
        standby.pg(
            "pg_basebackup",
            &["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-D", &data, "-X", "stream", "-c", "fast", "--no-sync"],
        )?;
        let signal = standby.dir.join("data/standby.signal");
        std::fs::write(&signal, "").map_err(|e| format!("cannot write {}: {e}", signal.display()))?;
        let auto = standby.dir.join("data/postgresql.auto.conf");
        let mut text = std::fs::read_to_string(&auto).unwrap_or_default();
        text.push_str(&format!(
            "primary_conninfo = 'host=127.0.0.1 port={port} user=postgres application_name=standby'\n"
        ));
        std::fs::write(&auto, text).map_err(|e| format!("cannot write {}: {e}", auto.display()))?;
        standby.include(&deploy_file("postgresql-standby.conf"))?;
        if standby.as_postgres {
            standby.run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&standby.dir))?;
        }
        standby.start_server()?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let state = primary.query_one(
                "SELECT coalesce(string_agg(sync_state, ','), '') FROM pg_stat_replication \
                 WHERE application_name = 'standby'",
            )?;
            if state == "sync" {
                return Ok(standby);
            }
            if std::time::Instant::now() > deadline {
                return Err(format!("the standby is not synchronous after 30 s (state {state:?})"));
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// Kills the cluster as a machine's crash would: SIGKILL to the postmaster and every
    /// process it started, at once — no shutdown, no goodbye to clients or standbys.
    pub fn kill(&self) -> Result<(), String> {
        let pid_file = self.dir.join("data/postmaster.pid");
        let text = std::fs::read_to_string(&pid_file).map_err(|e| format!("no {}: {e}", pid_file.display()))?;
        let postmaster = text.lines().next().unwrap_or_default().trim().to_owned();
        let mut pids = vec![postmaster.clone()];
        for entry in std::fs::read_dir("/proc").map_err(|e| e.to_string())?.flatten() {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // The parent's pid is the second field after the command name in parentheses.
            let parent = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1));
            if parent == Some(postmaster.as_str()) {
                pids.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        self.run(Command::new("kill").arg("-KILL").args(&pids))
    }

    /// Makes a standby the primary (`pg_ctl promote`) and waits until it takes writes.
    pub fn promote(&self) -> Result<(), String> {
        self.pg("pg_ctl", &["-D", &self.data(), "-w", "-t", "60", "promote"])
    }

    /// The one value (as text) a query of the `postgres` database answers.
    pub fn query_one(&self, sql: &str) -> Result<String, String> {
        let (url, sql) = (self.url("postgres"), sql.to_owned());
        std::thread::spawn(move || -> Result<String, String> {
            let mut client = postgres::Client::connect(&url, postgres::NoTls).map_err(|e| e.to_string())?;
            let row = client.query_one(&sql, &[]).map_err(|e| e.to_string())?;
            row.try_get::<_, String>(0).map_err(|e| e.to_string())
        })
        .join()
        .map_err(|_| "the query panicked".to_owned())?
    }

    /// Adds `include 'FILE'` to the cluster's `postgresql.conf`: later settings win.
    fn include(&self, file: &Path) -> Result<(), String> {
        let conf = self.dir.join("data/postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).map_err(|e| format!("cannot read {}: {e}", conf.display()))?;
        text.push_str(&format!("\ninclude '{}'\n", file.display()));
        std::fs::write(&conf, text).map_err(|e| format!("cannot write {}: {e}", conf.display()))
    }
}

/// A file of the repository's `deploy/` folder: the configuration a deployment uses,
/// which the tests and `cargo xtask cluster` use as they are.
pub fn deploy_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy").join(name)
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
