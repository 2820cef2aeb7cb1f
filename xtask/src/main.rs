//! `cargo xtask`: the project's entry points, in Rust so they run the same everywhere.
//!
//! - `dist`: build the widget and console for the browser into `dist/` (hashed, precompressed);
//! - `demo`: `dist`, then run the relay in demo mode (shop, console, printed sign-in);
//! - `test`: install what is missing, then every check and test (what CI runs);
//! - `sizes`: what a visitor's browser downloads, raw / gzip / brotli;
//! - `bench`: the load generator (`bench/`) against release relays;
//! - `hostcost`: what the widget costs its host page in headless Chromium (bytes per phase,
//!   long tasks at 1× and 4× CPU, click-to-usable on a slow phone);
//! - `fuzz`: the fuzz targets in `fuzz/` for a number of executions each.
//!
//! Each task lives in its own module; [`tools`] installs and finds external programs.

mod dist;
mod fuzz;
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
        /// The demo agent's console password (default: `demo-password`).
        #[arg(long, default_value = "demo-password")]
        password: String,
    },
    /// Install what is missing, then run every check and test. This is what CI runs.
    Test,
    /// Print the download sizes of the widget (after `dist`); fails over budget or ratchet.
    Sizes,
    /// Run the load generator against release relays (idle memory, latency, CPU per delivery).
    Bench {
        /// Arguments for `switchboard-bench` (default: `all`).
        #[arg(trailing_var_arg = true)]
        args: Vec<String>,
    },
    /// What the widget costs its host page in headless Chromium: bytes per phase, longest
    /// main-thread task and total blocking time at 1x and 4x CPU, click-to-usable on
    /// Lighthouse's mobile profile (tests/examples/hostcost.rs).
    Hostcost {
        /// Arguments for the benchmark: `--runs N`, `--only 1x|4x|mobile`, `--smoke`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run the fuzz targets (cargo-fuzz on the stable toolchain) from their seeds.
    Fuzz {
        /// Executions per target.
        #[arg(long, default_value_t = 1_000_000)]
        runs: u64,
        /// Targets to run (default: all).
        targets: Vec<String>,
    },
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.task {
        Task::Dist => dist::run(),
        Task::Demo { token, password } => dist::run().and_then(|()| demo(&token, &password)),
        Task::Test => test::run(),
        Task::Sizes => sizes::run().and_then(|(loader, total)| sizes::check(&loader, &total)),
        Task::Bench { args } => bench(&args),
        Task::Hostcost { args } => dist::run().and_then(|()| hostcost(&args)),
        Task::Fuzz { runs, targets } => fuzz::run(runs, &targets),
    };
    if let Err(e) = result {
        eprintln!("xtask: {e:#}");
        std::process::exit(1);
    }
}

fn bench(args: &[String]) -> anyhow::Result<()> {
    tools::ensure_redis()?;
    tools::step("building the relay and the load generator (release)");
    tools::cargo(&[
        "build",
        "--release",
        "-p",
        "switchboard-relay",
        "-p",
        "switchboard-bench",
    ])?;
    let args: Vec<&str> = if args.is_empty() {
        vec!["all"]
    } else {
        args.iter().map(String::as_str).collect()
    };
    tools::step(&format!("switchboard-bench {}", args.join(" ")));
    tools::run(
        std::process::Command::new(tools::root().join("target/release/switchboard-bench"))
            .current_dir(tools::root())
            .args(args),
    )
}

fn hostcost(args: &[String]) -> anyhow::Result<()> {
    tools::ensure_chromium()?;
    tools::step("building the relay (debug, as the browser tests run it)");
    tools::cargo(&["build", "-p", "switchboard-relay"])?;
    tools::step("hostcost: the widget in headless Chromium over the DevTools protocol");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    tools::run(
        std::process::Command::new(tools::cargo_bin())
            .current_dir(tools::root())
            .args([
                "run",
                "-q",
                "-p",
                "switchboard-tests",
                "--example",
                "hostcost",
                "--",
            ])
            .args(args)
            .env("CHROMIUM", tools::chromium()),
    )
}

/// The demo order-status bot's token (demo data only, like the demo agent token).
const DEMO_BOT_TOKEN: &str = "demo-bot-token";

fn demo(token: &str, password: &str) -> anyhow::Result<()> {
    // With a model endpoint configured the demo runs the AI bot on it; otherwise the
    // order-status bot, which needs nothing outside this repository.
    let ai = std::env::var("SWITCHBOARD_AI_URL").is_ok_and(|u| !u.is_empty());
    let (package, what) = if ai {
        anyhow::ensure!(
            std::env::var("SWITCHBOARD_AI_MODEL").is_ok_and(|m| !m.is_empty()),
            "SWITCHBOARD_AI_URL is set: set SWITCHBOARD_AI_MODEL to the model's name too"
        );
        ("switchboard-aibot", "the AI bot")
    } else {
        ("switchboard-orderbot", "the order-status bot")
    };
    tools::step(&format!("building the relay and {what} (release)"));
    tools::cargo(&[
        "build",
        "--release",
        "-p",
        "switchboard-relay",
        "-p",
        package,
    ])?;
    tools::step(&format!(
        "starting the relay in demo mode with {what} (Ctrl-C stops both)"
    ));
    let root = tools::root();
    let mut relay = std::process::Command::new(root.join("target/release/switchboard-relay"))
        .current_dir(&root)
        .args([
            "--demo",
            "--data-dir",
            "data/demo",
            "--demo-agent-token",
            token,
            "--demo-agent-password",
            password,
            "--demo-bot-token",
            DEMO_BOT_TOKEN,
        ])
        .spawn()?;
    // The bot would reconnect with backoff anyway; waiting keeps a "connection refused"
    // warning out of the first thing a new user reads.
    for _ in 0..100 {
        if std::net::TcpStream::connect("127.0.0.1:8080").is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let mut bot = std::process::Command::new(root.join("target/release").join(package));
    bot.current_dir(&root).args([
        "--relay",
        "ws://127.0.0.1:8080/v1/bot",
        "--token",
        DEMO_BOT_TOKEN,
    ]);
    if ai {
        // The model's URL, name, key and streaming come from the SWITCHBOARD_AI_* variables.
        bot.args([
            "--kb",
            "bots/ai-agent/kb",
            "--kb-base-url",
            "http://127.0.0.1:8081/",
            "--shop",
            "the demo shop",
        ]);
    }
    let mut bot = bot.spawn()?;
    let status = relay.wait()?;
    let _ = bot.kill();
    let _ = bot.wait();
    anyhow::ensure!(status.success(), "relay exited with {status}");
    Ok(())
}
