//! `cargo xtask test`: the one command CI runs (`.ci/run`). Installs what is missing, builds
//! the browser bundles, then runs formatting, lints, the native tests (protocol, relay
//! integration, broker conformance on SQLite and Redis, delivery and cluster failure tests,
//! browser end-to-end) and the widget's in-browser component tests.

use std::process::Command;

use crate::tools::{self, root, step};

const NATIVE: &[&str] = &[
    "-p",
    "switchboard-protocol",
    "-p",
    "switchboard-relay",
    "-p",
    "switchboard-tests",
    "-p",
    "xtask",
];
const BROWSER: &[&str] = &["-p", "switchboard-widget", "-p", "switchboard-console"];

pub fn run() -> anyhow::Result<()> {
    tools::ensure_wasm_target()?;
    tools::ensure_wasm_bindgen()?;
    tools::ensure_chromium()?;
    tools::ensure_redis()?;
    crate::dist::run()?;

    step("cargo fmt --check");
    tools::cargo(&["fmt", "--all", "--check"])?;
    step("clippy (native crates, then browser crates on wasm32)");
    tools::cargo(
        &[
            &["clippy", "--all-targets"],
            NATIVE,
            &["--", "-D", "warnings"],
        ]
        .concat(),
    )?;
    tools::cargo(
        &[
            &["clippy", "--target", "wasm32-unknown-unknown"],
            BROWSER,
            &["--", "-D", "warnings"],
        ]
        .concat(),
    )?;

    step("building the relay binary the end-to-end tests start");
    tools::cargo(&["build", "-p", "switchboard-relay"])?;

    step("widget component tests in headless Chromium (wasm-bindgen-test)");
    tools::run(
        Command::new(tools::cargo_bin())
            .current_dir(root())
            .args([
                "test",
                "-p",
                "switchboard-widget",
                "--target",
                "wasm32-unknown-unknown",
            ])
            .env(
                "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
                "wasm-bindgen-test-runner",
            )
            .env("CHROMEDRIVER", tools::chromedriver()),
    )?;

    step("native tests: protocol, relay integration, browser end-to-end");
    tools::run(
        Command::new(tools::cargo_bin())
            .current_dir(root())
            .args([&["test"], NATIVE].concat())
            .env(
                "SWITCHBOARD_RELAY_BIN",
                root().join("target/debug/switchboard-relay"),
            )
            .env("SWITCHBOARD_DIST", root().join("dist"))
            .env("CHROMIUM", tools::chromium())
            .env("CHROMEDRIVER", tools::chromedriver()),
    )?;
    Ok(())
}
