//! A `redis-server` of the test's own on a free port, with AOF persistence and
//! `appendfsync always` (what "acknowledged means stored" relies on in Redis mode), so tests can
//! kill and restart it without touching any other Redis on the machine. Killed on drop.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::util::{eventually, free_port};

pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
    /// A module loaded at start (`--loadmodule`).
    module: Option<String>,
}

/// Where Debian's `redis-redisearch` puts RediSearch (`REDISEARCH_MODULE` names another).
pub fn redisearch_module() -> String {
    std::env::var("REDISEARCH_MODULE")
        .unwrap_or_else(|_| "/usr/lib/redis/modules/redisearch.so".into())
}

impl RedisServer {
    pub async fn start() -> RedisServer {
        Self::start_with(None).await
    }

    /// With the RediSearch module loaded, for the Redis deployment's search. Fails when the
    /// module is missing (`cargo xtask test` installs `redis-redisearch`).
    pub async fn start_with_search() -> RedisServer {
        let module = redisearch_module();
        assert!(
            std::path::Path::new(&module).exists(),
            "{module} is missing: apt-get install redis-redisearch (cargo xtask test does)"
        );
        Self::start_with(Some(module)).await
    }

    async fn start_with(module: Option<String>) -> RedisServer {
        let mut server = RedisServer {
            child: None,
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            module,
        };
        server.spawn().await;
        server
    }

    async fn spawn(&mut self) {
        let bin = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(&bin)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .args(
                self.module
                    .iter()
                    .flat_map(|m| ["--loadmodule", m.as_str()]),
            )
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("starting {bin}: {e} (cargo xtask test installs redis-server)")
            });
        self.child = Some(child);
        let port = self.port;
        eventually(
            "redis-server to answer",
            Duration::from_secs(10),
            || async move {
                let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .ok()?;
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                s.write_all(b"PING\r\n").await.ok()?;
                let mut buf = [0u8; 7];
                s.read_exact(&mut buf).await.ok()?;
                (&buf == b"+PONG\r\n").then_some(())
            },
        )
        .await;
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// SIGKILL: Redis gets no chance to flush anything beyond what it already fsynced.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// Starts again on the same port and data directory (the AOF is replayed).
    pub async fn start_again(&mut self) {
        assert!(self.child.is_none());
        self.spawn().await;
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill9();
    }
}
