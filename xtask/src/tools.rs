//! Finding and installing external tools, and running commands with a visible log.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

/// Prints a step header so a newcomer sees what is happening.
/// Prints a step's heading with the time since the first step, so a CI log shows where its
/// minutes went (CI must stay under ~30 minutes on two cores).
pub fn step(what: &str) {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let t = START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs();
    eprintln!("\n==> [{:02}:{:02}] {what}", t / 60, t % 60);
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

pub fn run(cmd: &mut Command) -> anyhow::Result<()> {
    eprintln!("    $ {}", show(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("starting {}", show(cmd)))?;
    if !status.success() {
        bail!("`{}` failed ({status})", show(cmd));
    }
    Ok(())
}

pub fn cargo(args: &[&str]) -> anyhow::Result<()> {
    run(Command::new(cargo_bin()).current_dir(root()).args(args))
}

pub fn cargo_bin() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

pub fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The rustup target the browser bundles build for.
pub fn ensure_wasm_target() -> anyhow::Result<()> {
    let installed = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if installed
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        return Ok(());
    }
    step("installing the wasm32-unknown-unknown target");
    run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))
}

/// The wasm-bindgen version in Cargo.lock; the CLI must match it exactly.
pub fn wasm_bindgen_version() -> anyhow::Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).context("reading Cargo.lock")?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\"" {
            if let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = \"")) {
                return Ok(v.trim_end_matches('"').to_owned());
            }
        }
    }
    bail!("wasm-bindgen is not in Cargo.lock")
}

/// Installs wasm-bindgen-cli at the locked version unless that version is on PATH.
pub fn ensure_wasm_bindgen() -> anyhow::Result<()> {
    let want = wasm_bindgen_version()?;
    let have = output("wasm-bindgen", &["--version"]).unwrap_or_default();
    if have.split_whitespace().nth(1) == Some(want.as_str()) {
        return Ok(());
    }
    step(&format!(
        "installing wasm-bindgen-cli {want} (matches Cargo.lock; takes 2-3 minutes once)"
    ));
    // No --locked: the crate's own lockfile names a webpki-roots the registry here lacks
    // (../shared/toolchain.md, P2).
    run(Command::new(cargo_bin()).args(["install", "wasm-bindgen-cli", "--version", &want]))
}

/// Debian's Chromium and its WebDriver, for the browser tests.
pub fn ensure_chromium() -> anyhow::Result<()> {
    if Path::new(&chromium()).exists() && Path::new(&chromedriver()).exists() {
        return Ok(());
    }
    // Debian's chromium package can lag the driver; install both together.
    apt_install(
        &["chromium", "chromium-driver"],
        "Chromium and ChromeDriver for the browser tests",
    )
}

/// axe-core for the browser tests' accessibility checks, pinned by `tools/package-lock.json`.
pub fn ensure_axe() -> anyhow::Result<()> {
    if root()
        .join("tools/node_modules/axe-core/axe.min.js")
        .exists()
    {
        return Ok(());
    }
    if output("npm", &["--version"]).is_none() {
        apt_install(
            &["nodejs", "npm"],
            "npm, to install axe-core for the accessibility checks",
        )?;
    }
    step("npm ci --prefix tools (axe-core for the browser tests)");
    run(Command::new("npm").current_dir(root()).args([
        "ci",
        "--prefix",
        "tools",
        "--no-audit",
        "--no-fund",
    ]))
}

/// Where Debian's `redis-redisearch` puts the RediSearch module (the tests' default too;
/// `REDISEARCH_MODULE` names another).
pub const REDISEARCH_MODULE: &str = "/usr/lib/redis/modules/redisearch.so";

/// A `redis-server` binary (the Redis-mode tests start their own on free ports) and the
/// RediSearch module the Redis deployment's search runs on.
pub fn ensure_redis() -> anyhow::Result<()> {
    let module = std::env::var("REDISEARCH_MODULE").unwrap_or_else(|_| REDISEARCH_MODULE.into());
    let mut missing = Vec::new();
    if output("redis-server", &["--version"]).is_none() {
        missing.push("redis-server");
    }
    if !std::path::Path::new(&module).exists() {
        missing.push("redis-redisearch");
    }
    if missing.is_empty() {
        return Ok(());
    }
    apt_install(
        &missing,
        "redis-server and its search module for the Redis scale-out tests",
    )
}

pub fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

pub fn chromedriver() -> String {
    std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into())
}

fn apt_install(packages: &[&str], why: &str) -> anyhow::Result<()> {
    let root_user = output("id", &["-u"]).is_some_and(|u| u.trim() == "0");
    if !root_user {
        bail!(
            "{why} are missing. Install them, then run this again:\n    sudo apt-get install -y {}",
            packages.join(" ")
        );
    }
    step(&format!("installing {} ({why})", packages.join(" ")));
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}
