//! `switchboard-relay`: parse configuration, start, stop cleanly on SIGTERM or Ctrl-C.

use clap::Parser;
use switchboard_relay::config::{Args, Config};

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
    let config = Config::load(Args::parse())?;
    let demo = config.demo.clone();
    let running = switchboard_relay::start(config).await?;
    let url = &running.state.config.public_url;
    println!("switchboard-relay listening on {}", running.addr);
    println!("  widget loader: {url}widget.js");
    println!("  agent console: {url}console/");
    if let (Some(demo), Some(addr)) = (demo, running.demo_addr) {
        println!("  demo shop:     http://{addr}/");
        println!("  demo agent token: {}", demo.agent_token);
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
