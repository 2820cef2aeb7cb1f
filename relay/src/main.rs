//! `switchboard-relay`: parse configuration, start, stop cleanly on SIGTERM or Ctrl-C; or,
//! with `hash-password`, print the argon2id hash of a password read from stdin.

use std::io::BufRead;

use clap::Parser;
use switchboard_relay::config::{Args, Command, Config, LogFormat};
use switchboard_relay::password;

#[tokio::main]
async fn main() {
    let args = Args::parse();
    init_logs(args.log_format);
    if let Err(e) = run(args).await {
        eprintln!("switchboard-relay: {e:#}");
        std::process::exit(1);
    }
}

/// Plain lines for people, or one JSON object per line for a log shipper; either way each
/// line carries the fields of the spans it happened in (a connection's `conn`, the
/// `conversation` a frame is about), so one conversation can be followed through a node.
fn init_logs(format: LogFormat) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Plain => logs.init(),
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .init(),
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    if let Some(Command::HashPassword) = args.command {
        return hash_password();
    }
    let json = args.log_format == LogFormat::Json;
    let config = Config::load(args)?;
    let demo = config.demo.clone();
    let running = switchboard_relay::start(config).await?;
    let url = &running.state.config.public_url;
    if json {
        // Stdout is the log stream: the banner is a log line like the others.
        tracing::info!(
            addr = %running.addr,
            public_url = %url,
            metrics = running.metrics_addr.map(tracing::field::display),
            demo_shop = running.demo_addr.map(tracing::field::display),
            "listening"
        );
    } else {
        banner(&running, demo);
    }
    let shutdown = running.shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: telling clients to reconnect");
        shutdown.cancel();
    });
    running.wait().await;
    Ok(())
}

/// What a person starting the relay by hand wants to know (and the demo's sign-in).
fn banner(running: &switchboard_relay::Running, demo: Option<switchboard_relay::config::Demo>) {
    let url = &running.state.config.public_url;
    println!("switchboard-relay listening on {}", running.addr);
    if let Some(addr) = running.metrics_addr {
        println!("  metrics:       http://{addr}/metrics");
    }
    println!("  widget loader: {url}widget.js");
    println!("  agent console: {url}console/");
    if let (Some(demo), Some(addr)) = (demo, running.demo_addr) {
        println!("  demo shop:     http://{addr}/");
        println!("  demo agent token: {}", demo.agent_token);
        println!(
            "  demo agent sign-in: demo-agent (or alex@demo.example), password {}",
            demo.agent_password
        );
    }
}

/// Reads one line from stdin (so `echo … |` and a typed line both work; the line break is not
/// part of the password) and prints its PHC string.
fn hash_password() -> anyhow::Result<()> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.chars().count() < password::MIN_PASSWORD_CHARS {
        anyhow::bail!(
            "the password needs at least {} characters",
            password::MIN_PASSWORD_CHARS
        );
    }
    println!("{}", password::hash(password)?);
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
