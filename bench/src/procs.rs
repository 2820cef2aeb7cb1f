//! Processes the benchmark starts (killed on drop) and what it reads of them from /proc.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;

pub const SITE_ORIGIN: &str = "https://bench.example";
pub const AGENT_TOKEN: &str = "bench-agent-token-0123456789abcdef";

pub struct Proc {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

async fn wait_port(port: u16) -> anyhow::Result<()> {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("nothing listens on port {port}")
}

/// How to start a relay: its binary and any extra arguments.
pub struct RelayCmd {
    pub bin: PathBuf,
    pub args: Vec<String>,
}

/// A relay serving the `bench` site, on the embedded store or on `redis`.
pub async fn relay(relay: &RelayCmd, redis: Option<&str>) -> anyhow::Result<Proc> {
    relay_with(relay, redis, "", "").await
}

/// The same, with more keys for the `bench` site's table and more tables after it (a bot).
pub async fn relay_with(
    relay: &RelayCmd,
    redis: Option<&str>,
    site_keys: &str,
    tables: &str,
) -> anyhow::Result<Proc> {
    let bin = &relay.bin;
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("relay.toml");
    std::fs::write(
        &config,
        format!(
            "[[sites]]\nkey = \"bench\"\nallowed_origins = [\"{SITE_ORIGIN}\"]\n{site_keys}\n[[agents]]\nid = \"bench\"\nname = \"Bench\"\ntoken = \"{AGENT_TOKEN}\"\n{tables}"
        ),
    )?;
    let port = free_port();
    let mut cmd = Command::new(bin);
    cmd.args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        // Every generated client comes from 127.0.0.1 and streams faster than people type.
        .args(["--rate-limits", "false"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null());
    if let Some(url) = redis {
        cmd.args(["--redis-url", url]);
    }
    cmd.args(&relay.args);
    let child = cmd
        .spawn()
        .with_context(|| format!("starting {} (build it with --release)", bin.display()))?;
    let proc = Proc {
        child,
        port,
        _dir: dir,
    };
    wait_port(port).await?;
    Ok(proc)
}

/// A redis-server of our own, with the persistence a production relay would use.
pub async fn redis() -> anyhow::Result<Proc> {
    let dir = tempfile::tempdir()?;
    let port = free_port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--appendonly", "yes", "--appendfsync", "everysec"])
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .spawn()
        .context("starting redis-server")?;
    let proc = Proc {
        child,
        port,
        _dir: dir,
    };
    wait_port(port).await?;
    Ok(proc)
}

impl Proc {
    /// For a redis-server: the commands it has processed so far (`INFO stats`), so a run can
    /// say how many Redis round trips each visitor message costs.
    pub async fn redis_commands(&self) -> anyhow::Result<u64> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        let info: String = redis::cmd("INFO")
            .arg("stats")
            .query_async(&mut conn)
            .await?;
        info.lines()
            .find_map(|l| l.strip_prefix("total_commands_processed:"))
            .and_then(|v| v.trim().parse().ok())
            .context("INFO stats without total_commands_processed")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident set size in bytes.
    pub fn rss(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    }

    /// User + system CPU time, in microseconds.
    pub fn cpu_us(&self) -> u64 {
        cpu_us(&format!("/proc/{}/stat", self.pid()))
    }
}

/// User + system CPU time of this process (the load generator), in microseconds.
pub fn self_cpu_us() -> u64 {
    cpu_us("/proc/self/stat")
}

/// User + system CPU time of the calling thread, in microseconds.
pub fn thread_cpu_us() -> u64 {
    cpu_us("/proc/thread-self/stat")
}

/// User + system CPU time from a `/proc/.../stat` file, in microseconds.
fn cpu_us(path: &str) -> u64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of /proc/PID/stat; here indices 11 and 12.
    (ticks(11) + ticks(12)) * 1_000_000 / clock_ticks()
}

fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100)
}
