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
    "switchboard-orderbot",
    "-p",
    "switchboard-botclient",
    "-p",
    "switchboard-aibot",
    "-p",
    "switchboard-model-standin",
    "-p",
    "switchboard-bench",
    "-p",
    "xtask",
];
/// Executions per fuzz target in CI: enough to exercise every seed's neighbourhood, seconds.
const FUZZ_SMOKE_RUNS: u64 = 200_000;
const BROWSER: &[&str] = &["-p", "switchboard-widget", "-p", "switchboard-console"];

pub fn run() -> anyhow::Result<()> {
    tools::ensure_wasm_target()?;
    tools::ensure_wasm_bindgen()?;
    tools::ensure_chromium()?;
    tools::ensure_redis()?;
    tools::ensure_axe()?;
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

    step("building the relay and order-status bot binaries the end-to-end tests start, and the load generator");
    tools::cargo(&[
        "build",
        "-p",
        "switchboard-relay",
        "-p",
        "switchboard-orderbot",
        "-p",
        "switchboard-bench",
    ])?;

    let mut tally = Tally::default();
    step("widget and console component tests in headless Chromium (wasm-bindgen-test)");
    tally.run(
        Command::new(tools::cargo_bin())
            .current_dir(root())
            .args([
                "test",
                "-p",
                "switchboard-widget",
                "-p",
                "switchboard-console",
                "--target",
                "wasm32-unknown-unknown",
            ])
            .env(
                "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
                "wasm-bindgen-test-runner",
            )
            .env("CHROMEDRIVER", tools::chromedriver()),
    )?;

    step(
        "native tests: protocol, relay, broker conformance, delivery, cluster, browser end-to-end",
    );
    tally.run(
        Command::new(tools::cargo_bin())
            .current_dir(root())
            .args([&["test"], NATIVE].concat())
            .env(
                "SWITCHBOARD_RELAY_BIN",
                root().join("target/debug/switchboard-relay"),
            )
            .env(
                "SWITCHBOARD_ORDERBOT_BIN",
                root().join("target/debug/switchboard-orderbot"),
            )
            .env("SWITCHBOARD_DIST", root().join("dist"))
            .env("CHROMIUM", tools::chromium())
            .env("CHROMEDRIVER", tools::chromedriver()),
    )?;
    step("the Python FAQ bot's unit tests");
    tally.run_python(Command::new("python3").current_dir(root()).args([
        "-m",
        "unittest",
        "discover",
        "-s",
        "bots/faq-python",
        "-v",
    ]))?;
    // A short smoke of every fuzz target (the long runs are `cargo xtask fuzz --runs …`):
    // a crash fails CI like a failed test.
    crate::fuzz::run(FUZZ_SMOKE_RUNS, &[])?;
    // A short smoke of each benchmark (the real runs are `cargo xtask bench …` and
    // `cargo xtask hostcost`): they must still run end to end, and the load generator fails
    // when a message is lost, duplicated or out of order.
    step(
        "benchmark smokes: knee, the AI bot and streamed pieces on a debug relay, KPI reports, hostcost in Chromium",
    );
    let bench = |args: &[&str]| {
        tools::run(
            Command::new(root().join("target/debug/switchboard-bench"))
                .current_dir(root())
                .arg("--relay-bin")
                .arg(root().join("target/debug/switchboard-relay"))
                .args(args),
        )
    };
    bench(&[
        "knee",
        "--visitors",
        "50",
        "--agents",
        "2",
        "--rates",
        "100,200",
        "--step-seconds",
        "2",
    ])?;
    bench(&["ai", "--questions", "5"])?;
    bench(&["ai", "--questions", "5", "--stream", "--model-ms", "100"])?;
    bench(&[
        "stream",
        "--conversations",
        "5",
        "--pieces",
        "20",
        "--rate",
        "500",
    ])?;
    // The KPI report bench on 20,000 conversations (debug: ~3 s; the real run is a million
    // in release, `cargo bench -p switchboard-relay --bench kpi`).
    tools::cargo(&[
        "test",
        "-p",
        "switchboard-relay",
        "--bench",
        "kpi",
        "--",
        "--conversations",
        "20000",
    ])?;
    crate::hostcost(&["--smoke".to_owned()])?;
    step("done");
    // One closing line for all of it: the last test binary cargo runs may be an empty one.
    println!("tests: {} passed, {} failed", tally.passed, tally.failed);
    anyhow::ensure!(tally.passed > 0, "no test ran");
    Ok(())
}

/// Adds up the `test result:` lines of test runs while passing their output through.
#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
}

impl Tally {
    /// Runs Python's unittest, which reports on stderr: `Ran N tests` then `OK` or
    /// `FAILED (failures=F, errors=E)`.
    fn run_python(&mut self, cmd: &mut Command) -> anyhow::Result<()> {
        eprintln!("    $ {cmd:?}");
        let out = cmd.output()?;
        let text = String::from_utf8_lossy(&out.stderr);
        eprint!("{text}");
        let ran = text
            .lines()
            .find_map(|l| {
                l.strip_prefix("Ran ")?
                    .split_whitespace()
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(0);
        let failed: u64 = text
            .lines()
            .filter(|l| l.starts_with("FAILED ("))
            .flat_map(|l| l.split(|c: char| !c.is_ascii_digit()))
            .filter_map(|n| n.parse::<u64>().ok())
            .sum();
        self.passed += ran.saturating_sub(failed);
        self.failed += failed;
        anyhow::ensure!(out.status.success(), "python tests failed ({})", out.status);
        Ok(())
    }

    fn run(&mut self, cmd: &mut Command) -> anyhow::Result<()> {
        use std::io::{BufRead, BufReader};
        eprintln!("    $ {cmd:?}");
        let mut child = cmd.stdout(std::process::Stdio::piped()).spawn()?;
        let out = child.stdout.take().expect("stdout is piped");
        for line in BufReader::new(out).lines() {
            let line = line?;
            println!("{line}");
            if let Some(rest) = line.strip_prefix("test result: ") {
                for part in rest.split(';') {
                    let part = part
                        .trim()
                        .trim_start_matches("ok. ")
                        .trim_start_matches("FAILED. ");
                    let mut words = part.split_whitespace();
                    let n = words
                        .next()
                        .and_then(|n| n.parse::<u64>().ok())
                        .unwrap_or(0);
                    match words.next() {
                        Some("passed") => self.passed += n,
                        Some("failed") => self.failed += n,
                        _ => {}
                    }
                }
            }
        }
        let status = child.wait()?;
        anyhow::ensure!(status.success(), "tests failed ({status})");
        Ok(())
    }
}
