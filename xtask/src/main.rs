//! `cargo xtask`: the project's entry points, in Rust so they run the same everywhere.
//!
//! - `dist`: build the widget and console for the browser into `dist/` (hashed, precompressed);
//! - `demo`: `dist`, then run the relay in demo mode (shop, console, printed token);
//! - `test`: install what is missing, then every check and test (what CI runs);
//! - `sizes`: what a visitor's browser downloads, raw / gzip / brotli.
//!
//! Each task lives in its own module; [`tools`] installs and finds external programs.

mod dist;
mod sizes;
mod test;
mod tools;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Switchboard build tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Build the widget and console into dist/ (wasm32, wasm-bindgen, hashed names, .br/.gz).
    Dist,
    /// Build everything and run the relay in demo mode: shop, widget, console.
    Demo {
        /// Agent token to sign into the console with (default: `demo-agent-token`).
        #[arg(long, default_value = "demo-agent-token")]
        token: String,
    },
    /// Install what is missing, then run every check and test. This is what CI runs.
    Test,
    /// Print the download sizes of the widget (after `dist`).
    Sizes,
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.task {
        Task::Dist => dist::run(),
        Task::Demo { token } => dist::run().and_then(|()| demo(&token)),
        Task::Test => test::run(),
        Task::Sizes => sizes::run().map(drop),
    };
    if let Err(e) = result {
        eprintln!("xtask: {e:#}");
        std::process::exit(1);
    }
}

fn demo(token: &str) -> anyhow::Result<()> {
    tools::step("building the relay (release)");
    tools::cargo(&["build", "--release", "-p", "switchboard-relay"])?;
    tools::step("starting the relay in demo mode (Ctrl-C stops it)");
    let root = tools::root();
    let status = std::process::Command::new(root.join("target/release/switchboard-relay"))
        .current_dir(&root)
        .args([
            "--demo",
            "--data-dir",
            "data/demo",
            "--demo-agent-token",
            token,
        ])
        .status()?;
    anyhow::ensure!(status.success(), "relay exited with {status}");
    Ok(())
}
