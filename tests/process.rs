//! The relay binary as a child process, for tests that kill, stop or restart it, or measure
//! its memory. Demo mode on fixed ports, so a restart keeps every URL; killed on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::util::{eventually, free_port, workspace, OPERATOR_TOKEN};

pub const AGENT_TOKEN: &str = "e2e-agent-token-0123456789";
/// The demo agent's console password in tests (`--demo-agent-password`).
pub const AGENT_PASSWORD: &str = "e2e-demo-password";

fn env_path(var: &str, default: PathBuf) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or(default)
}

pub struct RelayProcess {
    child: Option<Child>,
    pub port: u16,
    pub demo_port: u16,
    extra: Vec<String>,
    data: tempfile::TempDir,
    /// `RUST_LOG` and the relay's stdout kept in a file (see [`RelayProcess::logs`]).
    logged: Option<String>,
}

impl RelayProcess {
    pub async fn start() -> RelayProcess {
        RelayProcess::start_with(&[]).await
    }

    /// Starts with extra flags (e.g. `--ping-interval-ms`).
    pub async fn start_with(extra: &[&str]) -> RelayProcess {
        RelayProcess::start_on(free_port(), free_port(), extra).await
    }

    /// Starts on given ports, for tests that must know a relay's addresses before it runs.
    pub async fn start_on(port: u16, demo_port: u16, extra: &[&str]) -> RelayProcess {
        let mut relay = RelayProcess {
            child: None,
            port,
            demo_port,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            data: tempfile::tempdir().unwrap(),
            logged: None,
        };
        relay.spawn().await;
        relay
    }

    /// Starts with `RUST_LOG=rust_log`, its log lines (stdout) kept for [`RelayProcess::logs`].
    pub async fn start_logged(extra: &[&str], rust_log: &str) -> RelayProcess {
        let mut relay = RelayProcess {
            child: None,
            port: free_port(),
            demo_port: free_port(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            data: tempfile::tempdir().unwrap(),
            logged: Some(rust_log.to_owned()),
        };
        relay.spawn().await;
        relay
    }

    /// What the relay logged so far (with [`RelayProcess::start_logged`]).
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.data.path().join("relay.log")).unwrap_or_default()
    }

    async fn spawn(&mut self) {
        let bin = relay_bin();
        assert!(
            bin.exists(),
            "{} missing: run `cargo xtask test` (it builds the relay first)",
            bin.display()
        );
        let child = Command::new(bin)
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .arg("--data-dir")
            .arg(self.data.path())
            .arg("--assets-dir")
            .arg(dist())
            .args([
                "--demo",
                "--demo-listen",
                &format!("127.0.0.1:{}", self.demo_port),
            ])
            .arg("--demo-dir")
            .arg(workspace().join("demo-site"))
            .args(["--demo-agent-token", AGENT_TOKEN])
            .args(["--demo-agent-password", AGENT_PASSWORD])
            .args(["--operator-token", OPERATOR_TOKEN])
            // Test clients share 127.0.0.1 and stream faster than people type; a test that
            // wants the limits passes `--rate-limits true`, which comes later and wins.
            .args(["--rate-limits", "false"])
            .args(&self.extra)
            .env("RUST_LOG", self.logged.as_deref().unwrap_or("warn"))
            .stdout(match &self.logged {
                Some(_) => std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.data.path().join("relay.log"))
                    .unwrap()
                    .into(),
                None => Stdio::null(),
            })
            .spawn()
            .expect("starting the relay");
        self.child = Some(child);
        let port = self.port;
        eventually(
            "the relay's /healthz",
            Duration::from_secs(20),
            || async move {
                healthz(port)
                    .await
                    .filter(|h| h["status"] == "ok")
                    .map(drop)
            },
        )
        .await;
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends SIGTERM and waits for the exit; returns how long the exit took.
    pub async fn stop(&mut self) -> Duration {
        let mut child = self.child.take().expect("running");
        let start = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        while child.try_wait().unwrap().is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "relay did not exit after SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        start.elapsed()
    }

    /// SIGKILL: no shutdown path at all, as in a crash or an OOM kill.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Starts again on the same ports and data directory.
    pub async fn start_again(&mut self) {
        assert!(self.child.is_none(), "stop or kill it first");
        self.spawn().await;
    }

    /// SIGTERM, then start again.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.spawn().await;
    }

    /// Resident memory of the relay process, in bytes.
    pub fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
            * 1024
    }

    pub fn ws(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}{path}", self.port)
    }

    /// The origin the demo site is allowed from.
    pub fn shop_origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.demo_port)
    }

    pub fn shop(&self, page: &str) -> String {
        format!("http://127.0.0.1:{}/{page}", self.demo_port)
    }

    pub fn console(&self) -> String {
        format!("http://127.0.0.1:{}/console/", self.port)
    }

    pub async fn health(&self) -> serde_json::Value {
        healthz(self.port).await.unwrap_or_default()
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The relay binary tests run (`target/debug` unless `SWITCHBOARD_RELAY_BIN` says otherwise).
pub fn relay_bin() -> PathBuf {
    env_path(
        "SWITCHBOARD_RELAY_BIN",
        workspace().join("target/debug/switchboard-relay"),
    )
}

pub fn dist() -> PathBuf {
    env_path("SWITCHBOARD_DIST", workspace().join("dist"))
}

/// `GET /healthz` over a plain socket (no HTTP client needed for one request).
pub async fn healthz(port: u16) -> Option<serde_json::Value> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let request = format!(
        "GET /healthz HTTP/1.0\r\nHost: localhost\r\nAuthorization: Bearer {OPERATOR_TOKEN}\r\n\r\n"
    );
    s.write_all(request.as_bytes()).await.ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.ok()?;
    let text = String::from_utf8_lossy(&buf);
    let body = text.split("\r\n\r\n").nth(1)?;
    serde_json::from_str(body).ok()
}

/// The demo bot's token in tests (`--demo-bot-token`).
pub const BOT_TOKEN: &str = "e2e-bot-token-0123456789";

/// A helper process (a bot) killed on drop.
pub struct Helper(Child);

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Helper {
    pub fn spawn(cmd: &mut Command) -> Helper {
        Helper(
            cmd.spawn()
                .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}")),
        )
    }
}

/// The example order-status bot (`bots/order-status`) attached to a relay over WebSocket.
pub fn orderbot(relay_port: u16) -> Helper {
    let bin = env_path(
        "SWITCHBOARD_ORDERBOT_BIN",
        workspace().join("target/debug/switchboard-orderbot"),
    );
    assert!(
        bin.exists(),
        "{} missing: run `cargo xtask test` (it builds the bot first)",
        bin.display()
    );
    Helper::spawn(
        Command::new(bin)
            .args(["--relay", &format!("ws://127.0.0.1:{relay_port}/v1/bot")])
            .args(["--token", BOT_TOKEN])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null()),
    )
}
