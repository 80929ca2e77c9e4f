//! The server under test as a process: its CPU time and memory (through
//! [`crate::procfs`]), and, for Sori, a server the bench starts itself.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::process::{Child, Command};

use crate::procfs;

/// Reads a server process's counters; every reading is `None` when the
/// process is not known or not readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// The server's pid, if found.
    pub pid: Option<u32>,
}

impl Probe {
    /// The process given by `pid`, or else the one listening on `addr`'s
    /// port (looked up only for loopback addresses: anything else is not on
    /// this machine).
    pub fn find(pid: Option<u32>, addr: SocketAddr) -> Probe {
        let pid = pid.or_else(|| {
            addr.ip()
                .is_loopback()
                .then(|| procfs::pid_listening_on(addr.port()))
                .flatten()
        });
        Probe { pid }
    }

    /// CPU seconds used so far.
    pub fn cpu_seconds(&self) -> Option<f64> {
        procfs::cpu_seconds(self.pid?).ok()
    }

    /// Resident memory now, in bytes.
    pub fn rss_bytes(&self) -> Option<u64> {
        procfs::rss_bytes(self.pid?).ok()
    }
}

/// A `sori-server` started by the bench: a fresh temporary database, cheap
/// password hashing (thousands of bench accounts log in; the default Argon2
/// cost is about 30 ms a login), no status line, room for 19,000 sessions (the open-file limit is 20,000).
/// Killed when dropped.
#[derive(Debug)]
pub struct SpawnedServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Where it serves Prometheus metrics.
    pub metrics_addr: SocketAddr,
    child: Child,
    // Removed on drop, after the server.
    _dir: tempfile::TempDir,
}

impl SpawnedServer {
    /// Starts `binary` on a free loopback port and waits until it accepts.
    pub async fn start(binary: &Path, extra_args: &[String]) -> anyhow::Result<SpawnedServer> {
        let dir = tempfile::tempdir().context("creating a temporary directory")?;
        // Ask the system for a free port, then hand it to the server.
        let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let metrics_addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let mut command = Command::new(binary);
        // The bench speaks TCP only, and the WebSocket listener's fixed
        // default port may be taken by another server on this machine.
        if !extra_args.iter().any(|arg| arg.starts_with("--ws-listen")) {
            command.args(["--ws-listen", "off"]);
        }
        let child = command
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--metrics-listen")
            .arg(metrics_addr.to_string())
            .arg("--database")
            .arg(dir.path().join("bench.db"))
            .args(["--hash-memory-kib", "64", "--hash-iterations", "1"])
            .args(["--status-interval", "0s", "--max-sessions", "19000"])
            // A load test sends faster, and from fewer addresses, than the
            // per-session and per-address limits allow real clients.
            .args(["--messages-per-sec", "1e9", "--messages-burst", "1e9"])
            .args(["--bytes-per-sec", "1e12", "--bytes-burst", "1e12"])
            .args(["--max-connections-per-ip", "100000"])
            .args([
                "--new-connections-per-ip-per-sec",
                "1e9",
                "--new-connections-per-ip-burst",
                "1e9",
            ])
            .args(extra_args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            // Its log goes to stderr with the progress bars: stdout is for
            // the report (`--json`).
            .stdout(Stdio::from(std::io::stderr()))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let server = SpawnedServer {
            addr,
            metrics_addr,
            child,
            _dir: dir,
        };
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(server);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!(
            "{} did not start listening on {addr} within 10 s",
            binary.display()
        )
    }

    /// Its process.
    pub fn probe(&self) -> Probe {
        Probe {
            pid: self.child.id(),
        }
    }
}

/// Reads one metric from a Sori server's Prometheus endpoint.
pub async fn read_metric(metrics: SocketAddr, name: &str) -> anyhow::Result<f64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(metrics).await?;
    conn.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").await?;
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(5), conn.read_to_string(&mut text)).await??;
    text.lines()
        .find_map(|line| {
            line.strip_prefix(name)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .with_context(|| format!("{name} not in the metrics at {metrics}"))
}
