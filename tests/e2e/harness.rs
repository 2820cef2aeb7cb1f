//! Processes for browser tests: the relay binary and chromedriver, each killed on drop, and
//! browser sessions that are closed even when a test panics (an unclosed session leaves an
//! orphaned Chromium behind).

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
use futures_util::FutureExt;

pub use crate::process::{RelayProcess, AGENT_TOKEN};
use crate::util::{eventually, free_port, workspace};

/// One chromedriver for the test; it can host several browser sessions.
pub struct Chromedriver {
    child: Child,
    port: u16,
}

impl Chromedriver {
    pub async fn start() -> Chromedriver {
        let dist = crate::process::dist();
        assert!(
            dist.join("widget.js").exists(),
            "{} has no widget.js: run `cargo xtask dist`",
            dist.display()
        );
        let bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let port = free_port();
        let child = Command::new(&bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {bin}: {e} (cargo xtask test installs it)"));
        let driver = Chromedriver { child, port };
        eventually("chromedriver", Duration::from_secs(20), || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()
                .map(drop)
        })
        .await;
        driver
    }

    /// A new headless Chromium with a fresh profile (the flags this machine needs).
    pub async fn browser(&self) -> (Client, tempfile::TempDir) {
        self.browser_with(&[]).await
    }

    /// A browser whose DevTools protocol a test can attach to as well (see `cdp`); returns
    /// the debugging port.
    pub async fn browser_with_cdp(&self) -> (Client, tempfile::TempDir, u16) {
        let port = free_port();
        let (client, profile) = self
            .browser_with(&[&format!("--remote-debugging-port={port}")])
            .await;
        (client, profile, port)
    }

    /// A browser whose `navigator.language` is `lang` (e.g. `de-DE`): on Linux `--lang` alone
    /// does not set it, the profile's accept-languages preference does.
    pub async fn browser_in(&self, lang: &str) -> (Client, tempfile::TempDir) {
        let prefs = serde_json::json!({ "intl": { "accept_languages": lang } });
        self.browser_configured(&[&format!("--lang={lang}")], Some(prefs))
            .await
    }

    /// A browser that blocks every site's data, as a visitor with cookies blocked has it:
    /// storage access throws and `navigator.locks` refuses (`SecurityError`).
    pub async fn browser_blocking_site_data(&self) -> (Client, tempfile::TempDir) {
        let prefs = serde_json::json!({ "profile": { "default_content_setting_values": { "cookies": 2 } } });
        self.browser_configured(&[], Some(prefs)).await
    }

    /// [`Chromedriver::browser`] with extra Chromium flags.
    pub async fn browser_with(&self, extra: &[&str]) -> (Client, tempfile::TempDir) {
        self.browser_configured(extra, None).await
    }

    async fn browser_configured(
        &self,
        extra: &[&str],
        prefs: Option<serde_json::Value>,
    ) -> (Client, tempfile::TempDir) {
        let profile = tempfile::tempdir().unwrap();
        let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let mut args: Vec<String> = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
        ]
        .map(String::from)
        .into();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let caps = serde_json::json!({
            "goog:chromeOptions": { "binary": binary, "args": args }
        });
        let mut caps = caps;
        let args = caps["goog:chromeOptions"]["args"].as_array_mut().unwrap();
        args.extend(extra.iter().map(|a| serde_json::Value::from(*a)));
        if let Some(prefs) = prefs {
            caps["goog:chromeOptions"]["prefs"] = prefs;
        }
        let caps = caps.as_object().unwrap().clone().into_iter().collect();
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a WebDriver session");
        (client, profile)
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `body`, then closes every session whether it passed or panicked, then re-raises.
pub async fn with_browsers<F>(clients: Vec<Client>, body: F)
where
    F: std::future::Future<Output = ()>,
{
    let result = AssertUnwindSafe(body).catch_unwind().await;
    for c in clients {
        let _ = c.close().await;
    }
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// Where tests put screenshots for people to look at (`artifacts/` at the workspace root).
pub fn artifact(name: &str) -> PathBuf {
    let dir = workspace().join("artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}
