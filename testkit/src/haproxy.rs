//! HAProxy in front of three hosts, with the repository's `deploy/haproxy.cfg` as it is:
//! routing by tenant with consistent hashing, health checks on `/healthz`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{deploy_file, free_port};

/// Debian's `haproxy` (`/usr/sbin/haproxy`), or one on the PATH.
pub fn haproxy_binary() -> Option<PathBuf> {
    let debian = PathBuf::from("/usr/sbin/haproxy");
    if debian.is_file() {
        return Some(debian);
    }
    let found = Command::new("sh").args(["-c", "command -v haproxy"]).output().ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&found.stdout).trim());
    found.status.success().then_some(path)
}

/// A running HAProxy, stopped when dropped.
#[derive(Debug)]
pub struct Haproxy {
    child: Child,
    /// `http://127.0.0.1:PORT`: the one address clients use.
    pub base: String,
}

impl Haproxy {
    /// Starts HAProxy on a free loopback port (or `listen`) in front of `hosts` (their
    /// `http://ADDR` bases, three as the configuration has), and waits until it answers
    /// `/healthz` through a host.
    pub fn start(hosts: &[&str; 3], listen: Option<&str>) -> Result<Haproxy, String> {
        let binary =
            haproxy_binary().ok_or("HAProxy is not installed (`cargo xtask test` installs Debian's haproxy)")?;
        let listen = match listen {
            Some(addr) => addr.to_owned(),
            None => format!("127.0.0.1:{}", free_port()?),
        };
        let mut command = Command::new(binary);
        // `-db`: one process in the foreground, not a daemon, so that dropping it stops it.
        command.arg("-db").arg("-f").arg(deploy_file("haproxy.cfg")).env("AGENTSTATE_LISTEN", &listen);
        for (n, host) in hosts.iter().enumerate() {
            command.env(format!("AGENTSTATE_HOST{}", n + 1), host.trim_start_matches("http://"));
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start haproxy: {e}"))?;
        let mut haproxy = Haproxy { child, base: format!("http://{listen}") };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = haproxy.child.try_wait().map_err(|e| e.to_string())? {
                return Err(format!("haproxy exited at start ({status})"));
            }
            if status_of(&listen, "/healthz") == Some(200) {
                return Ok(haproxy);
            }
            if Instant::now() > deadline {
                let _ = haproxy.child.kill();
                return Err(format!("haproxy did not serve {listen}/healthz within 20 s"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Haproxy {
    /// Its process id (for what it costs: `/proc/PID/stat`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status code of `GET path` at `addr` (HTTP/1.0, a second's patience), or none.
fn status_of(addr: &str, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}
