//! `switchboard-relay`: parse configuration, start, stop cleanly on SIGTERM or Ctrl-C; or,
//! with `hash-password`, print the argon2id hash of a password read from stdin.

use std::io::BufRead;

use clap::Parser;
use switchboard_relay::config::{Args, Command, Config};
use switchboard_relay::password;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    if let Err(e) = run().await {
        eprintln!("switchboard-relay: {e:#}");
        std::process::exit(1);
    }
}

async fn run() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(Command::HashPassword) = args.command {
        return hash_password();
    }
    let config = Config::load(args)?;
    let demo = config.demo.clone();
    let running = switchboard_relay::start(config).await?;
    let url = &running.state.config.public_url;
    println!("switchboard-relay listening on {}", running.addr);
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
    let shutdown = running.shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: telling clients to reconnect");
        shutdown.cancel();
    });
    running.wait().await;
    Ok(())
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
