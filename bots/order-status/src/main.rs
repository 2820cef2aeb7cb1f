//! `switchboard-orderbot --relay ws://127.0.0.1:8080/v1/bot --token TOKEN`

use clap::Parser;

/// Example Switchboard bot: answers "where is my order?" from the site's order data.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The relay's bot WebSocket endpoint.
    #[arg(
        long,
        env = "SWITCHBOARD_BOT_URL",
        default_value = "ws://127.0.0.1:8080/v1/bot"
    )]
    relay: String,
    /// The bot token configured for this bot in the relay.
    #[arg(long, env = "SWITCHBOARD_BOT_TOKEN")]
    token: String,
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    tokio::select! {
        _ = switchboard_botclient::run(
            &args.relay,
            &args.token,
            std::sync::Arc::new(switchboard_orderbot::brain::OrderBrain),
            switchboard_botclient::Options::default(),
        ) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
