//! `cargo xtask fuzz [--runs N] [TARGET…]`: the fuzz targets in `fuzz/` (cargo-fuzz, libFuzzer
//! with coverage instrumentation, no sanitizer so it builds on the stable toolchain), each for
//! a fixed number of executions from the committed seeds. CI runs a short smoke; the long runs
//! whose figures SECURITY.md records use `--runs 10000000`.

use std::fs;
use std::process::Command;

use crate::tools::{self, root, step};

/// Every target in `fuzz/Cargo.toml`.
pub const TARGETS: &[&str] = &[
    "client_frame",
    "context_and_rich",
    "webhook_signature",
    "jwt",
];
/// cargo-fuzz at a version known to build its targets on stable.
const CARGO_FUZZ: &str = "0.13.2";

pub fn run(runs: u64, targets: &[String]) -> anyhow::Result<()> {
    ensure_cargo_fuzz()?;
    let targets: Vec<&str> = if targets.is_empty() {
        TARGETS.to_vec()
    } else {
        targets.iter().map(String::as_str).collect()
    };
    let fuzz = root().join("fuzz");
    for target in targets {
        anyhow::ensure!(TARGETS.contains(&target), "unknown fuzz target {target}");
        // Work on a copy of the seeds: libFuzzer adds what it finds to its corpus directory,
        // which is not committed.
        let corpus = fuzz.join("corpus").join(target);
        fs::create_dir_all(&corpus)?;
        for seed in fs::read_dir(fuzz.join("seeds").join(target))? {
            let seed = seed?;
            fs::copy(seed.path(), corpus.join(seed.file_name()))?;
        }
        step(&format!("fuzzing {target} for {runs} executions"));
        tools::run(
            Command::new(tools::cargo_bin())
                .current_dir(&fuzz)
                .args(["fuzz", "run", "--sanitizer", "none", "--release", target])
                .arg(&corpus)
                .args([
                    "--",
                    &format!("-runs={runs}"),
                    "-max_len=4096",
                    "-print_final_stats=1",
                ]),
        )?;
    }
    Ok(())
}

fn ensure_cargo_fuzz() -> anyhow::Result<()> {
    let have = tools::output(&tools::cargo_bin(), &["fuzz", "--version"]).unwrap_or_default();
    if have.split_whitespace().nth(1) == Some(CARGO_FUZZ) {
        return Ok(());
    }
    step(&format!(
        "installing cargo-fuzz {CARGO_FUZZ} (about 2 minutes once)"
    ));
    tools::run(Command::new(tools::cargo_bin()).args([
        "install",
        "cargo-fuzz",
        "--version",
        CARGO_FUZZ,
        "--locked",
    ]))
}
